//! What the connections to other servers (routes, leaf nodes, gateways)
//! share: protocol lines written at once, messages queued for the
//! publisher's round with their slow consumer handling, the writer with its
//! keep-alive PINGs, and the reader, bounded by the handshake's deadline,
//! that hands each operation on and waits for slow receivers.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use junction_nats::route::{RouteOp, RouteParser, RoutedMsg};
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncReadExt};

use super::{CloseReason, ConnCore};
use crate::account::{Account, Accounts, MatchCache};
use crate::outlet::{Producer, Queued, Stopped};
use crate::subscription::Message;

/// Accepts other servers' connections on `listener` until the server
/// stops (`lifecycle`) or `owner` goes: each, with Nagle off, is handed to
/// `serve`. `what` names them in logs.
pub async fn accept_peers<T>(
    owner: std::sync::Weak<T>,
    lifecycle: Arc<crate::lifecycle::Lifecycle>,
    listener: tokio::net::TcpListener,
    what: &str,
    serve: impl Fn(Arc<T>, tokio::net::TcpStream, std::net::SocketAddr),
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = lifecycle.stopped() => return,
        };
        let (stream, peer) = match accepted {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("accepting a {what}: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some(owner) = owner.upgrade() else { return };
        if lifecycle.is_stopped() {
            return;
        }
        let _ = stream.set_nodelay(true);
        serve(owner, stream, peer);
    }
}

/// The accounts a peer's messages arrive in, each with its match cache:
/// looked up in the registry once, not for every message.
#[derive(Default)]
pub struct AccountCaches(HashMap<Bytes, (Arc<Account>, MatchCache)>);

impl AccountCaches {
    /// The account `name` and its cache; `None` for an account unknown
    /// here (looked up again next time).
    pub fn get(&mut self, accounts: &Accounts, name: &[u8]) -> Option<&mut (Arc<Account>, MatchCache)> {
        if !self.0.contains_key(name) {
            let account = accounts.get(&String::from_utf8_lossy(name))?;
            self.0
                .insert(Bytes::copy_from_slice(name), (account, MatchCache::default()));
        }
        self.0.get_mut(name)
    }
}

/// The first keep-alive PING to a peer server goes out after a second.
const FIRST_PING: Duration = Duration::from_secs(1);

/// A peer connection's keep-alive: PINGs not answered yet, and the round
/// trip the last answered one took.
#[derive(Default)]
pub struct PeerPings {
    out: AtomicU32,
    sent: Mutex<Option<Instant>>,
    rtt: Mutex<Duration>,
}

impl PeerPings {
    /// The peer answered (`PONG`).
    pub fn pong(&self) {
        self.out.store(0, Ordering::Relaxed);
        if let Some(sent) = self.sent.lock().take() {
            *self.rtt.lock() = sent.elapsed();
        }
    }

    /// The round trip of the last answered PING.
    pub fn rtt(&self) -> Duration {
        *self.rtt.lock()
    }
}

impl ConnCore {
    /// Sends `op`, the JSON of `value`, then `end` (`INFO`, `CONNECT`).
    pub fn send_json(&self, op: &[u8], value: &impl serde::Serialize, end: &[u8]) {
        let mut buf = op.to_vec();
        // Plain strings, numbers and lists: serializing cannot fail.
        if serde_json::to_writer(&mut buf, value).is_ok() {
            buf.extend_from_slice(end);
            self.send_proto(&buf);
        }
    }

    /// Sends `-ERR 'text'`.
    pub fn send_err(&self, text: &str) {
        let mut b = BytesMut::new();
        junction_nats::encode::err(&mut b, text);
        self.send_proto(&b);
    }

    /// Counts a message the peer sent.
    pub fn count_in(&self, m: &RoutedMsg<'_>) {
        self.counters.in_msgs.fetch_add(1, Ordering::Relaxed);
        self.counters
            .in_bytes
            .fetch_add(m.payload.len() as u64, Ordering::Relaxed);
    }

    /// Reads the peer's operations until the connection closes, handing
    /// each to `handle` with the reader's producer and parser; an error
    /// from it closes the connection for that reason. Reading waits while
    /// a receiver of what was delivered falls behind (backpressure), and
    /// while `handshake()` gives a deadline, only until then. Bytes already
    /// in `buf` (read before TLS started) are parsed first.
    pub async fn serve_peer<R: AsyncRead + Unpin>(
        &self,
        reader: &mut R,
        mut buf: BytesMut,
        parser: &mut RouteParser,
        handshake: impl Fn() -> Option<tokio::time::Instant>,
        mut handle: impl FnMut(RouteOp<'_>, &mut Producer, &mut RouteParser) -> Result<(), CloseReason>,
    ) {
        let mut producer = Producer::default();
        let mut parse_first = !buf.is_empty();
        loop {
            if !std::mem::take(&mut parse_first) && !self.read_from_peer(reader, &mut buf, handshake()).await
            {
                return;
            }
            let mut at = 0;
            loop {
                let op = match parser.parse(&buf[at..]) {
                    Ok(Some((op, used))) => {
                        at += used;
                        op
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!(cid = self.id, error = %e, "{} protocol error", self.transport);
                        if let Some(text) = e.client_message() {
                            self.send_err(text);
                        }
                        self.close_after_flush(CloseReason::ParseError);
                        return;
                    }
                };
                if let Err(reason) = handle(op, &mut producer, parser) {
                    self.close_after_flush(reason);
                    return;
                }
                if producer.is_behind() {
                    producer.flush_and_wait(Some(&self.outlet)).await;
                }
            }
            buf.advance(at);
            self.touch();
            producer.flush_and_wait(Some(&self.outlet)).await;
            if self.outlet.is_closing() {
                return;
            }
        }
    }

    /// Queues protocol bytes for the peer server and writes them out; a
    /// peer that let `max_pending` pile up is cut off.
    pub fn send_proto(&self, bytes: &[u8]) {
        match self.outlet.push_proto(bytes) {
            Queued::Yes { .. } => self.outlet.flush(),
            Queued::OverLimit => self.close_now(CloseReason::SlowConsumerPendingBytes),
            Queued::Closed => {}
        }
    }

    /// Closes once what is queued is written.
    pub fn close_after_flush(&self, reason: CloseReason) {
        self.set_reason(reason);
        self.outlet.close();
    }

    /// Writes to the peer until the connection closes, with a PING each
    /// interval `timing` gives (`(write_deadline, ping_interval)`); a peer
    /// that leaves more than `ping_max()` unanswered is stale and closed.
    /// Then shuts the transport down.
    pub async fn write_to_peer(
        &self,
        pings: &PeerPings,
        timing: impl Fn() -> (Duration, Duration),
        ping_max: impl Fn() -> u32,
    ) {
        let stopped = self
            .outlet
            .run_writer(timing, FIRST_PING, || {
                if pings.out.fetch_add(1, Ordering::Relaxed) >= ping_max() {
                    tracing::debug!(cid = self.id, "Stale {} Connection - Closing", self.transport);
                    self.close_after_flush(CloseReason::StaleConnection);
                } else {
                    *pings.sent.lock() = Some(Instant::now());
                    let _ = self.outlet.push_proto(junction_nats::PING);
                }
            })
            .await;
        if stopped == Stopped::WriteDeadline {
            self.set_reason(CloseReason::SlowConsumerWriteDeadline);
        }
        self.outlet.shut_transport().await;
    }

    /// Reads more of what the peer sent into `buf`; while the handshake is
    /// not done, only until `handshake` (its deadline). Returns false, the
    /// connection closed, when the peer went or took too long.
    pub async fn read_from_peer<R: AsyncRead + Unpin>(
        &self,
        reader: &mut R,
        buf: &mut BytesMut,
        handshake: Option<tokio::time::Instant>,
    ) -> bool {
        if buf.capacity() - buf.len() < 16 * 1024 {
            buf.reserve(64 * 1024);
        }
        let read = reader.read_buf(buf);
        let n = match handshake {
            None => read.await,
            Some(deadline) => match tokio::time::timeout_at(deadline, read).await {
                Ok(n) => n,
                Err(_) => {
                    tracing::debug!(cid = self.id, "{} handshake timed out", self.transport);
                    self.close_after_flush(CloseReason::AuthenticationTimeout);
                    return false;
                }
            },
        };
        if matches!(n, Ok(0) | Err(_)) {
            self.close_after_flush(CloseReason::ClientClosed);
            return false;
        }
        true
    }

    /// Queues `msg` for the peer server, for `producer` to write out: one
    /// copy for the `queues` chosen for it there, with `reply` (the peer's
    /// form of it), in the dialect `encode` writes (`account` for the lines
    /// that name one).
    #[allow(clippy::too_many_arguments)]
    pub fn push_routed(
        &self,
        msg: &Message<'_>,
        reply: Option<&[u8]>,
        account: &[u8],
        queues: &[&[u8]],
        producer: &mut Producer,
        encode: fn(&mut BytesMut, &RoutedMsg<'_>),
    ) {
        let queue_list = queues.join(&b' ');
        // A JetStream delivery goes under the subject its receivers
        // subscribed to, the stream's subject after `@` in the reply.
        let encoded;
        let (subject, reply) = match (msg.delivered_to, reply) {
            (Some(to), Some(reply)) if junction_nats::route::subject_in_reply(reply).is_none() => {
                encoded = junction_nats::route::reply_with_subject(reply, msg.subject);
                (to, Some(&encoded[..]))
            }
            (Some(to), reply) => (to, reply),
            (None, reply) => (msg.subject, reply),
        };
        let routed = RoutedMsg {
            origin: None,
            account,
            subject,
            reply,
            queue_list: &queue_list,
            header_len: msg.header_len,
            payload: msg.payload,
        };
        match self
            .outlet
            .push_msg(msg.payload.len(), |buf| encode(buf, &routed))
        {
            Queued::Yes { pending, .. } => producer.touch(&self.outlet, pending),
            Queued::OverLimit => {
                tracing::warn!(
                    cid = self.id,
                    peer = self.transport,
                    "Slow Consumer Detected on a {}",
                    self.transport
                );
                self.close_now(CloseReason::SlowConsumerPendingBytes);
            }
            Queued::Closed => {}
        }
    }
}
