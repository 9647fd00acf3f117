//! The writer task of a connection: flushes the outbound buffer in batches,
//! enforces `write_deadline`, and sends the server's keep-alive PINGs
//! (closing the connection as stale after `ping_max` unanswered ones).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use rand::Rng;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::time::{interval_at, timeout, Instant};

use super::{Client, CloseReason};

/// Buffers bigger than this are not kept around once flushed, so one burst
/// does not pin memory on an idle connection.
const KEEP_CAPACITY: usize = 256 * 1024;

pub(super) async fn run<W: AsyncWrite + Unpin>(client: Arc<Client>, mut writer: W) {
    let opts = &client.server.opts;
    let mut spare = BytesMut::new();
    let period = client
        .server
        .ping_interval_for(client.transport)
        .max(Duration::from_millis(10));
    let mut ping = interval_at(Instant::now() + first_ping(period), period);
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
    let _ = timeout(Duration::from_secs(1), writer.shutdown()).await;
}

/// As nats-server: the first PING goes out early (after at most 2 s, plus up
/// to a fifth more so clients connecting together are not pinged together)
/// to measure the round-trip time soon after the connection starts.
fn first_ping(period: Duration) -> Duration {
    let d = period.min(FIRST_PING);
    let jitter = rand::thread_rng().gen_range(0..=d.as_nanos() as u64 / 5);
    d + Duration::from_nanos(jitter)
}

const FIRST_PING: Duration = Duration::from_secs(2);

fn send_ping(client: &Client) {
    let max = client.server.opts.ping_max;
    if client.pings_out.load(Ordering::Relaxed) >= max {
        tracing::debug!(cid = client.id, "Stale Client Connection - Closing");
        client.queue_err("Stale Connection");
        client.close(CloseReason::StaleConnection);
        return;
    }
    client.pings_out.fetch_add(1, Ordering::Relaxed);
    client.ping_sent();
    client.queue_proto(junction_nats::PING);
}
