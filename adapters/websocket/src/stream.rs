//! The reader and writer handed to the core: WebSocket messages as a byte stream, so the NATS
//! parser sees operations split across frames, or several in one frame, exactly as over TCP.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::{Error, Message};
use tokio_tungstenite::WebSocketStream;

use crate::deflate::Transport;

type Ws<S> = WebSocketStream<Transport<S>>;

/// Largest frame one write produces; longer writes are taken in several frames.
const MAX_WRITE_FRAME: usize = 64 * 1024;

/// The payloads of the client's binary and text messages, back to back. Ends (EOF) when the
/// client closes, after the close frame has been answered. Pings are answered while it is read.
#[derive(Debug)]
pub struct WsReader<S> {
    source: SplitStream<Ws<S>>,
    /// The rest of the last message.
    chunk: Bytes,
    done: bool,
}

impl<S> WsReader<S> {
    pub(crate) fn new(source: SplitStream<Ws<S>>) -> Self {
        WsReader {
            source,
            chunk: Bytes::new(),
            done: false,
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for WsReader<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if !this.chunk.is_empty() {
                let n = this.chunk.len().min(buf.remaining());
                buf.put_slice(&this.chunk[..n]);
                this.chunk.advance(n);
                return Poll::Ready(Ok(()));
            }
            if this.done {
                return Poll::Ready(Ok(()));
            }
            match ready!(this.source.poll_next_unpin(cx)) {
                None => this.done = true,
                Some(Ok(Message::Binary(data))) => this.chunk = data,
                Some(Ok(Message::Text(text))) => this.chunk = Bytes::from(text),
                // tungstenite queued the answer; polling on sends it and then ends the stream.
                Some(Ok(Message::Close(frame))) => tracing::trace!(?frame, "websocket close received"),
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                Some(Err(e)) => {
                    this.done = true;
                    match e {
                        // The peer went away without a close frame: the end of the stream.
                        Error::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {}
                        Error::Io(e) => return Poll::Ready(Err(e)),
                        e => return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, e))),
                    }
                }
            }
        }
    }
}

/// Sends what is written as binary frames, one per write (at most 64 KiB each). A write
/// completes once its frame has been handed to the socket, as a TCP write does, so nothing
/// waits for a flush. Shutdown sends a close frame.
#[derive(Debug)]
pub struct WsWriter<S> {
    sink: SplitSink<Ws<S>, Message>,
    /// Length of the frame queued by a write that is waiting for the socket.
    queued: Option<usize>,
}

impl<S> WsWriter<S> {
    pub(crate) fn new(sink: SplitSink<Ws<S>, Message>) -> Self {
        WsWriter { sink, queued: None }
    }
}

fn io_error(e: Error) -> io::Error {
    match e {
        Error::Io(e) => e,
        Error::ConnectionClosed | Error::AlreadyClosed | Error::Protocol(ProtocolError::SendAfterClosing) => {
            io::ErrorKind::BrokenPipe.into()
        }
        e => io::Error::other(e),
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for WsWriter<S> {
    /// When this returns `Pending` after queueing a frame, the frame is sent regardless, and the
    /// next call (with the same buffer, as `write_all` makes it) reports its length.
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let n = match this.queued {
            Some(n) => n,
            None => {
                if buf.is_empty() {
                    return Poll::Ready(Ok(0));
                }
                ready!(this.sink.poll_ready_unpin(cx)).map_err(io_error)?;
                let n = buf.len().min(MAX_WRITE_FRAME);
                let frame = Message::Binary(Bytes::copy_from_slice(&buf[..n]));
                this.sink.start_send_unpin(frame).map_err(io_error)?;
                this.queued = Some(n);
                n
            }
        };
        let flushed = ready!(this.sink.poll_flush_unpin(cx));
        this.queued = None;
        flushed.map_err(io_error)?;
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().sink.poll_flush_unpin(cx).map_err(io_error)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match ready!(self.get_mut().sink.poll_close_unpin(cx)) {
            Ok(()) | Err(Error::ConnectionClosed | Error::AlreadyClosed) => Poll::Ready(Ok(())),
            Err(e) => Poll::Ready(Err(io_error(e))),
        }
    }
}
