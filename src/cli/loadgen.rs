//! Raw-TCP load generation for `junction bench`: just enough of the NATS text protocol to push
//! and count messages faster than a full client would, so that the server, not the client, is
//! what gets measured. This is a load generator, not a client library:
//!
//! - publishers write large pre-encoded batches of `PUB subject size\r\npayload\r\n` with one
//!   `write_all` each, then `PING` and wait for the `PONG`, which the server only sends once it
//!   has processed everything before it;
//! - subscribers read into a big buffer and count `MSG`/`HMSG` frames with a minimal scanner
//!   that jumps over each payload by its announced size;
//! - a requester writes one `PUB subject inbox size` at a time and waits for the reply on its
//!   inbox; a replier answers each `MSG` that has a reply subject with a `PUB` to it;
//! - idle connections do the handshake and then only answer the server's `PING`s.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::connect::Credentials;
use super::ConnArgs;

/// Bytes of `PUB` frames written per `write_all`.
const PUB_BATCH_BYTES: usize = 256 * 1024;
/// Read buffer of a counting subscriber.
const SUB_READ_BYTES: usize = 1024 * 1024;
/// Read buffer of a requester or replier.
const REQ_READ_BYTES: usize = 64 * 1024;
/// Longest control line (`MSG ...`, `INFO {...}`) accepted; INFO can be a few KiB.
const MAX_LINE: usize = 64 * 1024;

/// Where and how raw connections connect: host, port and the `CONNECT` line to send.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    host: String,
    port: u16,
    /// `host:port`, for messages.
    addr: String,
    connect_line: Vec<u8>,
    timeout: Duration,
}

impl Target {
    /// Takes the first server URL and the user/password or token of `conn`.
    pub fn new(conn: &ConnArgs) -> Result<Target> {
        let addrs = conn.addrs()?;
        let Some(first) = addrs.first() else {
            bail!("no server URL given");
        };
        if first.tls_required() || first.is_websocket() {
            bail!(
                "bench load generation speaks plain TCP only, not {}://",
                first.scheme()
            );
        }
        if conn.creds.is_some() {
            bail!("bench load generation supports --user/--password and --token, not --creds");
        }
        let mut connect = serde_json::json!({
            "verbose": false,
            "pedantic": false,
            "lang": "rust-junction-bench",
            "version": env!("CARGO_PKG_VERSION"),
            "protocol": 1,
        });
        match conn.credentials(&addrs)? {
            Credentials::UserPassword(user, pass) => {
                connect["user"] = user.into();
                connect["pass"] = pass.into();
            }
            Credentials::Token(token) => connect["auth_token"] = token.into(),
            Credentials::None => {}
        }
        Ok(Target {
            host: first.host().to_string(),
            port: first.port(),
            addr: format!("{}:{}", first.host(), first.port()),
            connect_line: format!("CONNECT {connect}\r\n").into_bytes(),
            timeout: conn.timeout,
        })
    }

    /// Connects, reads INFO, sends CONNECT, `extra` (e.g. a SUB) and PING, and waits for the
    /// PONG, so that the server has registered everything. Returns the stream and any bytes
    /// read past the PONG.
    pub async fn handshake(&self, extra: &[u8]) -> Result<(TcpStream, Vec<u8>)> {
        tokio::time::timeout(self.timeout, self.handshake_inner(extra))
            .await
            .with_context(|| format!("handshake with {} timed out", self.addr))?
    }

    async fn handshake_inner(&self, extra: &[u8]) -> Result<(TcpStream, Vec<u8>)> {
        let mut stream = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| {
                let hint = if e.raw_os_error() == Some(24) {
                    " (raise `ulimit -n`)"
                } else {
                    ""
                };
                anyhow::Error::new(e).context(format!("could not connect to {}{hint}", self.addr))
            })?;
        stream.set_nodelay(true)?;
        let mut buf = Vec::with_capacity(4096);
        let info = read_line(&mut stream, &mut buf).await?;
        if !info.starts_with(b"INFO ") {
            bail!(
                "expected INFO from {}, got {:?}",
                self.addr,
                String::from_utf8_lossy(&info)
            );
        }
        let mut hello = self.connect_line.clone();
        hello.extend_from_slice(extra);
        hello.extend_from_slice(b"PING\r\n");
        stream.write_all(&hello).await?;
        wait_pong(&mut stream, &mut buf).await?;
        Ok((stream, buf))
    }
}

/// Reads one CRLF-terminated line (without the CRLF); bytes after it stay in `buf`.
async fn read_line(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Result<Vec<u8>> {
    loop {
        if let Some(nl) = memchr::memchr(b'\n', buf) {
            let mut line: Vec<u8> = buf.drain(..=nl).collect();
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            return Ok(line);
        }
        if buf.len() > MAX_LINE {
            bail!("control line longer than {MAX_LINE} bytes");
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            bail!("the server closed the connection");
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Reads lines until `PONG`, answering `PING`s; `-ERR` is an error.
async fn wait_pong(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Result<()> {
    loop {
        let line = read_line(stream, buf).await?;
        if line.starts_with(b"PONG") {
            return Ok(());
        } else if line.starts_with(b"PING") {
            stream.write_all(b"PONG\r\n").await?;
        } else if line.starts_with(b"-ERR") {
            bail!("server error: {}", String::from_utf8_lossy(&line));
        }
        // INFO updates and +OK are of no interest here.
    }
}

/// One publisher's share: `count` messages of `size` bytes on `subject` over `stream`.
/// Returns when the server has answered the final PING, i.e. processed every message.
pub(crate) async fn publish(
    mut stream: TcpStream,
    mut buf: Vec<u8>,
    subject: &str,
    size: usize,
    count: u64,
) -> Result<Instant> {
    let mut frame = format!("PUB {subject} {size}\r\n").into_bytes();
    frame.extend(std::iter::repeat_n(b'x', size));
    frame.extend_from_slice(b"\r\n");
    let per_batch = (PUB_BATCH_BYTES / frame.len()).max(1);
    let batch = frame.repeat(per_batch);
    let full_batches = count / per_batch as u64;
    let rest = (count % per_batch as u64) as usize;
    for _ in 0..full_batches {
        stream.write_all(&batch).await.context("publish failed")?;
    }
    let mut tail = batch[..rest * frame.len()].to_vec();
    tail.extend_from_slice(b"PING\r\n");
    stream.write_all(&tail).await.context("publish failed")?;
    wait_pong(&mut stream, &mut buf)
        .await
        .context("waiting for the final PONG")?;
    Ok(Instant::now())
}

/// How the counting subscribers of one run share their progress: every subscriber adds what
/// it counted to `total`, and the one that brings it to `target` tells all to stop.
pub(crate) struct Tally {
    pub total: AtomicU64,
    pub target: u64,
    pub done: watch::Sender<bool>,
}

impl Tally {
    pub fn new(target: u64) -> Arc<Tally> {
        let (done, _) = watch::channel(target == 0);
        Arc::new(Tally {
            total: AtomicU64::new(0),
            target,
            done,
        })
    }

    /// Tells every subscriber to stop counting.
    pub fn stop(&self) {
        self.done.send_replace(true);
    }

    fn add(&self, n: u64) {
        if n > 0 && self.total.fetch_add(n, Ordering::Relaxed) + n >= self.target {
            self.done.send_replace(true);
        }
    }
}

/// What one counting subscriber saw: how many messages and when the last one arrived.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Counted {
    pub msgs: u64,
    pub last: Option<Instant>,
}

/// Counts the `MSG`/`HMSG` frames arriving on `stream` until the shared tally is complete or
/// `deadline` passes. `buf` holds bytes already read during the handshake.
pub(crate) async fn count(
    mut stream: TcpStream,
    buf: Vec<u8>,
    tally: Arc<Tally>,
    deadline: tokio::time::Instant,
) -> Result<Counted> {
    let mut done = tally.done.subscribe();
    let mut frames = Frames::new(SUB_READ_BYTES, &buf, false);
    let mut counted = Counted { msgs: 0, last: None };
    loop {
        let got = frames.scan()?;
        if got.msgs > 0 {
            counted.msgs += got.msgs;
            counted.last = Some(Instant::now());
            tally.add(got.msgs);
        }
        for _ in 0..got.pings {
            stream.write_all(b"PONG\r\n").await?;
        }
        if *done.borrow() {
            return Ok(counted);
        }
        let n = tokio::select! {
            n = stream.read(frames.spare()?) => n.context("subscriber read failed")?,
            _ = done.changed() => return Ok(counted),
            _ = tokio::time::sleep_until(deadline) => return Ok(counted),
        };
        if n == 0 {
            bail!(
                "the server closed a subscriber connection after {} messages",
                counted.msgs
            );
        }
        frames.filled(n);
    }
}

/// Answers every request arriving on `stream` (subscribed during the handshake) with `size`
/// bytes, until the server closes the connection or the task is aborted.
pub(crate) async fn reply(mut stream: TcpStream, buf: Vec<u8>, size: usize) -> Result<()> {
    let mut frames = Frames::new(REQ_READ_BYTES, &buf, true);
    let payload = vec![b'x'; size];
    let mut out = Vec::new();
    loop {
        let got = frames.scan()?;
        out.clear();
        for _ in 0..got.pings {
            out.extend_from_slice(b"PONG\r\n");
        }
        for inbox in frames.replies.drain(..) {
            out.extend_from_slice(b"PUB ");
            out.extend_from_slice(&inbox);
            out.extend_from_slice(format!(" {size}\r\n").as_bytes());
            out.extend_from_slice(&payload);
            out.extend_from_slice(b"\r\n");
        }
        if !out.is_empty() {
            stream.write_all(&out).await.context("replier write failed")?;
        }
        let n = stream
            .read(frames.spare()?)
            .await
            .context("replier read failed")?;
        if n == 0 {
            return Ok(());
        }
        frames.filled(n);
    }
}

/// Sends `warmup` untimed and then `count` timed requests of `size` bytes on `subject`, one
/// at a time, each answered on `inbox` (subscribed during the handshake). Returns the round
/// trip of each timed request: from the write of its `PUB` to the end of the reply's payload.
pub(crate) async fn request(
    mut stream: TcpStream,
    buf: Vec<u8>,
    subject: &str,
    inbox: &str,
    size: usize,
    warmup: u64,
    count: u64,
) -> Result<Vec<Duration>> {
    let mut frames = Frames::new(REQ_READ_BYTES, &buf, false);
    let mut frame = format!("PUB {subject} {inbox} {size}\r\n").into_bytes();
    frame.extend(std::iter::repeat_n(b'x', size));
    frame.extend_from_slice(b"\r\n");
    let mut samples = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
    for i in 0..warmup + count {
        let t0 = Instant::now();
        stream.write_all(&frame).await.context("request write failed")?;
        loop {
            let got = frames.scan()?;
            for _ in 0..got.pings {
                stream.write_all(b"PONG\r\n").await?;
            }
            if got.msgs > 0 {
                break;
            }
            let n = stream
                .read(frames.spare()?)
                .await
                .context("requester read failed")?;
            if n == 0 {
                bail!("the server closed the requester connection");
            }
            frames.filled(n);
        }
        if i >= warmup {
            samples.push(t0.elapsed());
        }
    }
    Ok(samples)
}

/// What one [`Frames::scan`] found: complete messages, and PINGs that need a PONG.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Scanned {
    msgs: u64,
    pings: usize,
}

/// A read buffer and the minimal frame scanner of the load generator. A message counts once
/// its payload has fully arrived; the payload itself is jumped over by its announced size.
#[derive(Debug)]
struct Frames {
    data: Vec<u8>,
    /// `data[start..end]` is read but not yet scanned.
    start: usize,
    end: usize,
    /// Payload bytes (plus CRLF) of the current message still to come.
    skip: usize,
    /// Collect reply subjects (for a replier)?
    want_replies: bool,
    /// Reply subject of the message whose payload is being skipped.
    pending_reply: Option<Vec<u8>>,
    /// Reply subjects of complete messages, oldest first.
    replies: Vec<Vec<u8>>,
}

impl Frames {
    fn new(capacity: usize, already_read: &[u8], want_replies: bool) -> Frames {
        let mut data = vec![0u8; capacity.max(already_read.len())];
        data[..already_read.len()].copy_from_slice(already_read);
        Frames {
            data,
            start: 0,
            end: already_read.len(),
            skip: 0,
            want_replies,
            pending_reply: None,
            replies: Vec::new(),
        }
    }

    /// Free space to read into, after moving the unscanned tail (at most one partial control
    /// line) to the front.
    fn spare(&mut self) -> Result<&mut [u8]> {
        self.data.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
        if self.end == self.data.len() {
            bail!("control line longer than {} bytes", self.data.len());
        }
        Ok(&mut self.data[self.end..])
    }

    /// Records that `n` bytes were read into [`Frames::spare`].
    fn filled(&mut self, n: usize) {
        self.end += n;
    }

    /// Scans everything read so far.
    fn scan(&mut self) -> Result<Scanned> {
        let mut got = Scanned::default();
        loop {
            if self.skip > 0 {
                let n = self.skip.min(self.end - self.start);
                self.start += n;
                self.skip -= n;
                if self.skip > 0 {
                    return Ok(got);
                }
                got.msgs += 1;
                if let Some(reply) = self.pending_reply.take() {
                    self.replies.push(reply);
                }
            }
            let Some(nl) = memchr::memchr(b'\n', &self.data[self.start..self.end]) else {
                return Ok(got);
            };
            let line = &self.data[self.start..self.start + nl];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            match line.first() {
                // MSG <subject> <sid> [reply] <size> / HMSG <subject> <sid> [reply] <hdr> <total>:
                // the last field is the number of bytes that follow, before a CRLF.
                Some(b'M') | Some(b'H') => {
                    self.skip = last_number(line)? + 2;
                    if self.want_replies {
                        self.pending_reply = reply_subject(line);
                    }
                }
                Some(b'P') if line.starts_with(b"PING") => got.pings += 1,
                Some(b'-') => bail!("server error: {}", String::from_utf8_lossy(line)),
                // PONG, +OK, INFO.
                _ => {}
            }
            self.start += nl + 1;
        }
    }
}

/// The reply subject of a `MSG`/`HMSG` control line, if it has one.
fn reply_subject(line: &[u8]) -> Option<Vec<u8>> {
    let fields: Vec<&[u8]> = line.split(|&b| b == b' ').filter(|f| !f.is_empty()).collect();
    let with_reply = if line.starts_with(b"HMSG") { 6 } else { 5 };
    (fields.len() == with_reply).then(|| fields[3].to_vec())
}

/// The decimal number at the end of a control line (a trailing `\r` is ignored).
fn last_number(line: &[u8]) -> Result<usize> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let digits = line.iter().rev().take_while(|b| b.is_ascii_digit()).count();
    let field = &line[line.len() - digits..];
    if field.is_empty() || digits > 12 {
        bail!("bad control line {:?}", String::from_utf8_lossy(line));
    }
    Ok(field.iter().fold(0usize, |n, d| n * 10 + usize::from(d - b'0')))
}

/// Holds a handshaken connection open, answering PINGs so that the server keeps it, until
/// the task is aborted or the server closes it.
pub(crate) async fn hold(mut stream: TcpStream) {
    // Closing with a reset leaves no TIME_WAIT behind, so repeated runs of 10,000
    // connections do not run out of local ports.
    let _ = stream.set_zero_linger();
    let mut buf = [0u8; 512];
    let mut pending = Vec::new();
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                pending.extend_from_slice(&buf[..n]);
                while let Some(nl) = memchr::memchr(b'\n', &pending) {
                    let ping = pending.starts_with(b"PING");
                    pending.drain(..=nl);
                    if ping && stream.write_all(b"PONG\r\n").await.is_err() {
                        return;
                    }
                }
                if pending.len() > MAX_LINE {
                    pending.clear();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{last_number, reply_subject, Frames, Scanned};

    /// Feeds `wire` to a scanner in two reads split at every possible point.
    fn scan_split(wire: &[u8], want_replies: bool) -> Vec<(Scanned, Vec<Vec<u8>>)> {
        (0..wire.len())
            .map(|split| {
                let mut frames = Frames::new(256, &wire[..split], want_replies);
                let first = frames.scan().expect("scan");
                let spare = frames.spare().expect("room");
                spare[..wire.len() - split].copy_from_slice(&wire[split..]);
                frames.filled(wire.len() - split);
                let second = frames.scan().expect("scan");
                let total = Scanned {
                    msgs: first.msgs + second.msgs,
                    pings: first.pings + second.pings,
                };
                assert_eq!(frames.start, frames.end, "split at {split}");
                (total, frames.replies)
            })
            .collect()
    }

    #[test]
    fn counts_frames_split_anywhere() {
        let wire: &[u8] = b"MSG a 1 5\r\nhello\r\nPING\r\nHMSG a 1 r 12 14\r\nNATS/1.0\r\n\r\nhi\r\n\
                            MSG a.b 1 _INBOX.x 0\r\n\r\n+OK\r\n";
        for (scanned, replies) in scan_split(wire, true) {
            assert_eq!(scanned, Scanned { msgs: 3, pings: 1 });
            assert_eq!(replies, vec![b"r".to_vec(), b"_INBOX.x".to_vec()]);
        }
    }

    #[test]
    fn reports_server_errors() {
        let mut frames = Frames::new(64, b"-ERR 'Slow Consumer'\r\n", false);
        assert!(frames.scan().is_err());
    }

    #[test]
    fn control_line_fields() {
        assert_eq!(last_number(b"MSG a 1 1024").ok(), Some(1024));
        assert!(last_number(b"MSG a 1 x").is_err());
        assert_eq!(reply_subject(b"MSG a 1 in.box 3"), Some(b"in.box".to_vec()));
        assert_eq!(reply_subject(b"MSG a 1 3"), None);
        assert_eq!(reply_subject(b"HMSG a 1 12 14"), None);
    }
}
