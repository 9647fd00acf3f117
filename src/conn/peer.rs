//! What the connections to other servers (routes, leaf nodes) share:
//! protocol lines written at once, messages queued for the publisher's
//! round with their slow consumer handling, the writer with its keep-alive
//! PINGs, and reads bounded by the handshake's deadline.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use junction_nats::route::RoutedMsg;
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncReadExt};

use super::{CloseReason, ConnCore};
use crate::outlet::{Producer, Queued, Stopped};
use crate::subscription::Message;

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
        let routed = RoutedMsg {
            origin: None,
            account,
            subject: msg.subject,
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
