//! The byte stream under tungstenite. Without compression it is the TCP stream itself. With
//! permessage-deflate (RFC 7692, no context takeover either way) it rewrites frames on the fly:
//! the client's compressed messages are inflated into plain frames before tungstenite reads
//! them, and the data frames tungstenite writes are deflated. tungstenite 0.30 has no
//! permessage-deflate and refuses frames with RSV1 set, hence this layer beneath it.

use std::io::{self, Cursor};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf, BytesMut};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::FrameHeader;

/// Largest frame accepted (tungstenite's default, also applied to compressed frames here).
pub(crate) const MAX_FRAME_SIZE: usize = 16 << 20;
/// Largest message accepted, after inflating (tungstenite's default).
pub(crate) const MAX_MESSAGE_SIZE: usize = 64 << 20;
/// Payloads this small are sent uncompressed (nats-server's `wsCompressThreshold`).
const COMPRESS_THRESHOLD: usize = 64;
/// Deflated output waiting for the socket beyond this makes writes wait.
const OUT_HIGH_WATER: usize = 256 * 1024;
/// Bytes read from the socket at a time.
const READ_CHUNK: usize = 16 * 1024;
/// The end of a sync-flushed deflate block, left off on the wire (RFC 7692 7.2.1).
const DEFLATE_TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// The connection under tungstenite, with or without the deflate layer.
#[derive(Debug)]
pub(crate) struct Transport<S> {
    io: S,
    deflate: Option<Box<Deflate>>,
}

impl<S> Transport<S> {
    pub(crate) fn new(io: S, compressed: bool) -> Self {
        Transport {
            io,
            deflate: compressed.then(|| Box::new(Deflate::new())),
        }
    }
}

/// Where the frame parser is in the byte stream.
#[derive(Debug, Clone, Copy)]
enum FrameState {
    /// At the start of a frame header.
    Header,
    /// Inside the payload of a frame passed through as is; this many bytes remain.
    Payload(u64),
}

/// Both directions' permessage-deflate state.
struct Deflate {
    /// Read from the socket, not yet looked at.
    raw: BytesMut,
    /// Ready for tungstenite: frames passed through or inflated.
    plain: BytesMut,
    read_state: FrameState,
    /// The message being received started with a compressed frame and is not finished.
    in_compressed_message: bool,
    /// Inflated size of the message being received so far.
    message_len: usize,
    inflater: Decompress,
    /// Written by tungstenite, not yet framed.
    pending: BytesMut,
    /// Ready for the socket.
    out: BytesMut,
    write_state: FrameState,
    deflater: Compress,
}

impl std::fmt::Debug for Deflate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deflate")
            .field("raw", &self.raw.len())
            .field("plain", &self.plain.len())
            .field("pending", &self.pending.len())
            .field("out", &self.out.len())
            .finish_non_exhaustive()
    }
}

fn invalid(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

impl Deflate {
    fn new() -> Self {
        Deflate {
            raw: BytesMut::new(),
            plain: BytesMut::new(),
            read_state: FrameState::Header,
            in_compressed_message: false,
            message_len: 0,
            inflater: Decompress::new(false),
            pending: BytesMut::new(),
            out: BytesMut::new(),
            write_state: FrameState::Header,
            deflater: Compress::new(Compression::fast(), false),
        }
    }

    /// Moves what it can from `raw` to `plain`, inflating compressed frames. A compressed frame
    /// is handled once all of it has arrived; other frames stream through.
    fn process_incoming(&mut self) -> io::Result<()> {
        loop {
            match self.read_state {
                FrameState::Payload(remaining) => {
                    if self.raw.is_empty() {
                        return Ok(());
                    }
                    let n = self
                        .raw
                        .len()
                        .min(usize::try_from(remaining).unwrap_or(usize::MAX));
                    self.plain.extend_from_slice(&self.raw[..n]);
                    self.raw.advance(n);
                    let left = remaining - n as u64;
                    self.read_state = if left == 0 {
                        FrameState::Header
                    } else {
                        FrameState::Payload(left)
                    };
                }
                FrameState::Header => {
                    let mut cursor = Cursor::new(&self.raw[..]);
                    let Some((header, len)) =
                        FrameHeader::parse(&mut cursor).map_err(|e| invalid(e.to_string()))?
                    else {
                        return Ok(());
                    };
                    let header_len = cursor.position() as usize;
                    let (compressed, starts_message) = match header.opcode {
                        OpCode::Data(Data::Text | Data::Binary) => (header.rsv1, true),
                        OpCode::Data(Data::Continue) if header.rsv1 => {
                            return Err(invalid("RSV1 set on a continuation frame"))
                        }
                        OpCode::Data(Data::Continue) => (self.in_compressed_message, false),
                        // Control and unknown frames: tungstenite judges them.
                        _ => (false, false),
                    };
                    if !compressed {
                        if starts_message {
                            self.in_compressed_message = false;
                        }
                        self.plain.extend_from_slice(&self.raw[..header_len]);
                        self.raw.advance(header_len);
                        self.read_state = if len == 0 {
                            FrameState::Header
                        } else {
                            FrameState::Payload(len)
                        };
                        continue;
                    }
                    if len > MAX_FRAME_SIZE as u64 {
                        return Err(invalid(format!(
                            "compressed frame of {len} bytes is larger than {MAX_FRAME_SIZE}"
                        )));
                    }
                    let total = header_len + len as usize;
                    if self.raw.len() < total {
                        self.raw.reserve(total - self.raw.len());
                        return Ok(());
                    }
                    let Some(mask) = header.mask else {
                        return Err(invalid("unmasked frame from a client"));
                    };
                    let mut payload = self.raw.split_to(total).split_off(header_len);
                    for (i, b) in payload.iter_mut().enumerate() {
                        *b ^= mask[i & 3];
                    }
                    if starts_message {
                        self.message_len = 0;
                    }
                    let mut data = Vec::with_capacity(payload.len() * 3);
                    let limit = MAX_MESSAGE_SIZE - self.message_len;
                    inflate(&mut self.inflater, &payload, &mut data, limit)?;
                    if header.is_final {
                        inflate(&mut self.inflater, &DEFLATE_TAIL, &mut data, limit)?;
                        // client_no_context_takeover: every message starts afresh.
                        self.inflater.reset(false);
                        self.in_compressed_message = false;
                    } else {
                        self.in_compressed_message = true;
                        self.message_len += data.len();
                    }
                    // A zero mask leaves the payload as is, and keeps the frame masked as a
                    // client's frame must be.
                    let plain_header = FrameHeader {
                        rsv1: false,
                        mask: Some([0; 4]),
                        ..header
                    };
                    let mut head = Vec::with_capacity(14);
                    plain_header
                        .format(data.len() as u64, &mut head)
                        .map_err(|e| io::Error::other(e.to_string()))?;
                    self.plain.extend_from_slice(&head);
                    self.plain.extend_from_slice(&data);
                }
            }
        }
    }

    /// Moves what it can from `pending` to `out`, deflating whole data frames bigger than the
    /// threshold; other frames stream through.
    fn process_outgoing(&mut self) -> io::Result<()> {
        loop {
            match self.write_state {
                FrameState::Payload(remaining) => {
                    if self.pending.is_empty() {
                        return Ok(());
                    }
                    let n = self
                        .pending
                        .len()
                        .min(usize::try_from(remaining).unwrap_or(usize::MAX));
                    self.out.extend_from_slice(&self.pending[..n]);
                    self.pending.advance(n);
                    let left = remaining - n as u64;
                    self.write_state = if left == 0 {
                        FrameState::Header
                    } else {
                        FrameState::Payload(left)
                    };
                }
                FrameState::Header => {
                    let mut cursor = Cursor::new(&self.pending[..]);
                    let Some((header, len)) =
                        FrameHeader::parse(&mut cursor).map_err(|e| io::Error::other(e.to_string()))?
                    else {
                        return Ok(());
                    };
                    let header_len = cursor.position() as usize;
                    let compress = matches!(header.opcode, OpCode::Data(Data::Text | Data::Binary))
                        && header.is_final
                        && !header.rsv1
                        && header.mask.is_none()
                        && len > COMPRESS_THRESHOLD as u64;
                    if !compress {
                        self.out.extend_from_slice(&self.pending[..header_len]);
                        self.pending.advance(header_len);
                        self.write_state = if len == 0 {
                            FrameState::Header
                        } else {
                            FrameState::Payload(len)
                        };
                        continue;
                    }
                    let total = header_len + len as usize;
                    if self.pending.len() < total {
                        return Ok(());
                    }
                    let frame = self.pending.split_to(total);
                    let data = deflate(&mut self.deflater, &frame[header_len..])?;
                    let compressed_header = FrameHeader { rsv1: true, ..header };
                    let mut head = Vec::with_capacity(10);
                    compressed_header
                        .format(data.len() as u64, &mut head)
                        .map_err(|e| io::Error::other(e.to_string()))?;
                    self.out.extend_from_slice(&head);
                    self.out.extend_from_slice(&data);
                }
            }
        }
    }
}

/// Inflates `input` onto `out`, refusing to grow `out` past `limit` bytes.
fn inflate(d: &mut Decompress, input: &[u8], out: &mut Vec<u8>, limit: usize) -> io::Result<()> {
    let mut pos = 0;
    loop {
        if out.capacity() - out.len() < 1024 {
            out.reserve((input.len() - pos).max(4096) * 2);
        }
        let (in_before, out_before) = (d.total_in(), d.total_out());
        let status = d
            .decompress_vec(&input[pos..], out, FlushDecompress::Sync)
            .map_err(|e| invalid(format!("bad compressed data: {e}")))?;
        pos += (d.total_in() - in_before) as usize;
        if out.len() > limit {
            return Err(invalid(format!(
                "inflated message is larger than {MAX_MESSAGE_SIZE} bytes"
            )));
        }
        let room_left = out.len() < out.capacity();
        if status == Status::StreamEnd || (pos >= input.len() && room_left) {
            return Ok(());
        }
        if d.total_in() == in_before && d.total_out() == out_before && room_left {
            return Err(invalid("bad compressed data: no progress"));
        }
    }
}

/// Deflates one message on its own (server_no_context_takeover), without the sync tail.
fn deflate(c: &mut Compress, input: &[u8]) -> io::Result<Vec<u8>> {
    c.reset();
    let mut out = Vec::with_capacity(input.len() / 2 + 64);
    let mut pos = 0;
    loop {
        if out.capacity() - out.len() < 64 {
            out.reserve(out.capacity().max(1024));
        }
        let in_before = c.total_in();
        c.compress_vec(&input[pos..], &mut out, FlushCompress::Sync)
            .map_err(|e| io::Error::other(format!("compression failed: {e}")))?;
        pos += (c.total_in() - in_before) as usize;
        if pos >= input.len() && out.len() < out.capacity() {
            break;
        }
    }
    if !out.ends_with(&DEFLATE_TAIL) {
        return Err(io::Error::other("compression did not end with a sync flush"));
    }
    out.truncate(out.len() - DEFLATE_TAIL.len());
    Ok(out)
}

/// Writes all of `out` to `io`.
fn drain<S: AsyncWrite + Unpin>(
    io: &mut S,
    out: &mut BytesMut,
    cx: &mut Context<'_>,
) -> Poll<io::Result<()>> {
    while !out.is_empty() {
        let n = ready!(Pin::new(&mut *io).poll_write(cx, out))?;
        if n == 0 {
            return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
        }
        out.advance(n);
    }
    Poll::Ready(Ok(()))
}

impl<S: AsyncRead + Unpin> AsyncRead for Transport<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let Transport { io, deflate } = self.get_mut();
        let Some(d) = deflate.as_deref_mut() else {
            return Pin::new(io).poll_read(cx, buf);
        };
        loop {
            if !d.plain.is_empty() {
                let n = d.plain.len().min(buf.remaining());
                buf.put_slice(&d.plain[..n]);
                d.plain.advance(n);
                return Poll::Ready(Ok(()));
            }
            let mut chunk = [0u8; READ_CHUNK];
            let mut chunk = ReadBuf::new(&mut chunk);
            ready!(Pin::new(&mut *io).poll_read(cx, &mut chunk))?;
            if chunk.filled().is_empty() {
                // End of stream; a frame cut short is tungstenite's to report.
                return Poll::Ready(Ok(()));
            }
            d.raw.extend_from_slice(chunk.filled());
            d.process_incoming()?;
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Transport<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let Transport { io, deflate } = self.get_mut();
        let Some(d) = deflate.as_deref_mut() else {
            return Pin::new(io).poll_write(cx, buf);
        };
        if d.out.len() >= OUT_HIGH_WATER {
            ready!(drain(io, &mut d.out, cx))?;
        }
        d.pending.extend_from_slice(buf);
        d.process_outgoing()?;
        // Send what is ready without waiting for it; a flush finishes the job.
        if let Poll::Ready(Err(e)) = drain(io, &mut d.out, cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let Transport { io, deflate } = self.get_mut();
        if let Some(d) = deflate.as_deref_mut() {
            ready!(drain(io, &mut d.out, cx))?;
        }
        Pin::new(io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.as_mut().poll_flush(cx))?;
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}
