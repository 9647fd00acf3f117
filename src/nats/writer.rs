//! The writer task of a connection: writes what producers could not write
//! themselves (see `crate::outlet`), enforces `write_deadline`, and sends the
//! server's keep-alive PINGs (closing the connection as stale after
//! `ping_max` unanswered ones).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;

use super::{Client, CloseReason};
use crate::outlet::Stopped;

pub(super) async fn run(client: Arc<Client>) {
    // Asked each round: a reload hands the connection new settings, and
    // its `write_deadline` and `ping_interval` apply from the next round.
    let settings = || {
        let s = client.settings();
        (s.write_deadline, s.ping_interval.max(Duration::from_millis(10)))
    };
    let first = first_ping(settings().1);
    let outlet = client.outlet.clone();
    let stopped = outlet.run_writer(settings, first, || send_ping(&client)).await;
    match stopped {
        Stopped::Closed | Stopped::Killed => {}
        Stopped::WriteError => client.close_now(CloseReason::WriteError),
        Stopped::WriteDeadline => {
            tracing::warn!(
                cid = client.id,
                "Slow Consumer Detected: WriteDeadline of {:?} exceeded",
                client.settings().write_deadline
            );
            client.server.stats.slow_consumers.fetch_add(1, Ordering::Relaxed);
            client.close_now(CloseReason::SlowConsumerWriteDeadline);
        }
    }
    outlet.shut_transport().await;
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
    let max = client.settings().ping_max;
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
