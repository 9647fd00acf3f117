//! The writer task of a connection: flushes the outbound buffer in batches,
//! enforces `write_deadline`, and sends the server's keep-alive PINGs
//! (closing the connection as stale after `ping_max` unanswered ones).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::BytesMut;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::time::{interval_at, timeout, Instant};

use super::{Client, CloseReason};

/// Buffers bigger than this are not kept around once flushed, so one burst
/// does not pin memory on an idle connection.
const KEEP_CAPACITY: usize = 256 * 1024;

pub(super) async fn run<W: AsyncWrite + Unpin>(client: Arc<Client>, mut writer: W) {
    let opts = &client.server.opts;
    let mut spare = BytesMut::new();
    let period = opts.ping_interval.max(std::time::Duration::from_millis(10));
    let mut ping = interval_at(Instant::now() + period, period);
    loop {
        let (closing, discard) = {
            let mut out = client.out.lock();
            std::mem::swap(&mut out.buf, &mut spare);
            (out.closing, out.discard)
        };
        if !spare.is_empty() && !discard {
            let write = tokio::select! {
                r = timeout(opts.write_deadline, writer.write_all(&spare)) => r,
                _ = client.kill.notified() => break,
            };
            match write {
                Ok(Ok(())) => {}
                Ok(Err(_)) => {
                    client.close_now(CloseReason::WriteError);
                    break;
                }
                Err(_) => {
                    tracing::warn!(
                        cid = client.id,
                        "Slow Consumer Detected: WriteDeadline of {:?} exceeded",
                        opts.write_deadline
                    );
                    client.server.stats.slow_consumers.fetch_add(1, Ordering::Relaxed);
                    client.close_now(CloseReason::SlowConsumerWriteDeadline);
                    break;
                }
            }
        }
        if !spare.is_empty() {
            client.drained.notify_waiters();
        }
        spare.clear();
        if spare.capacity() > KEEP_CAPACITY {
            spare = BytesMut::new();
        }
        if closing {
            break;
        }
        tokio::select! {
            _ = client.wake.notified() => {}
            _ = ping.tick() => send_ping(&client),
        }
    }
    // Best effort: the peer may already be gone.
    let _ = timeout(std::time::Duration::from_secs(1), writer.shutdown()).await;
}

fn send_ping(client: &Client) {
    let max = client.server.opts.ping_max;
    if client.pings_out.load(Ordering::Relaxed) >= max {
        tracing::debug!(cid = client.id, "Stale Client Connection - Closing");
        client.queue_err("Stale Connection");
        client.close(CloseReason::StaleConnection);
        return;
    }
    client.pings_out.fetch_add(1, Ordering::Relaxed);
    client.queue_proto(junction_nats::PING);
}
