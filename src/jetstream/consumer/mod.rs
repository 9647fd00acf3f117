//! Consumers: a cursor over a stream with delivery and acknowledgement
//! state. Pull consumers answer `MSG.NEXT` requests; push consumers deliver
//! to their `deliver_subject`. Each consumer runs a task that delivers what
//! is available, expires requests and acknowledgements, and sends idle
//! heartbeats. The task writes through the core's outlets and waits for a
//! subscriber that is behind, so a slow consumer is paced, never flooded.
//!
//! Here: the consumer, its state and its task. Beside it: `config`, `pull`,
//! `deliver`, `acks`, `pending` and `durable`.

mod acks;
mod config;
mod deliver;
mod durable;
mod pending;
mod pull;
mod registry;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::clock::{now_nanos, rfc3339};
use super::config::Retention;
use super::headers;
use super::stream::Stream;
use crate::account::Account;
use crate::outlet::Producer;
use crate::subscription::{Message, Subscriber, Subscription};

pub(crate) use config::DEFAULT_MAX_ACK_PENDING;
pub use config::{AckPolicy, ConsumerConfig, DeliverPolicy};
use deliver::*;
use durable::*;
use pending::*;

/// Push flow control: a request after this many bytes or messages.
const FC_BYTES: u64 = 256 * 1024;
const FC_MSGS: u64 = 1000;
/// How often a push consumer without listeners looks for them.
const PUSH_INTEREST_POLL: Duration = Duration::from_millis(50);
/// How long the task sleeps when nothing is due.
const IDLE_TICK: Duration = Duration::from_secs(1);

/// One waiting `MSG.NEXT` request.
struct PullRequest {
    reply: Bytes,
    batch: u64,
    max_bytes: u64,
    expires: Option<Instant>,
    no_wait: bool,
    heartbeat: Option<Duration>,
    next_heartbeat: Option<Instant>,
    sent: u64,
    bytes: u64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Pending {
    consumer_seq: u64,
    /// Unix ns when the ack is due.
    deadline: i64,
}

/// What survives a restart.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Durable {
    next: u64,
    delivered_consumer: u64,
    delivered_stream: u64,
    ack_floor_consumer: u64,
    ack_floor_stream: u64,
    pending: BTreeMap<u64, Pending>,
    /// Deliveries per stream sequence still pending or to redeliver.
    deliveries: HashMap<u64, u64>,
}

struct State {
    config: ConsumerConfig,
    d: Durable,
    /// Stream sequences to deliver again, with the unix ns they may go at.
    redeliver: BTreeMap<u64, i64>,
    /// Specific sequences to deliver before moving on (`last_per_subject`).
    catch_up: VecDeque<u64>,
    waiting: VecDeque<PullRequest>,
    last_active: i64,
    /// Push: when the last message or heartbeat went out.
    last_sent: Instant,
    /// `rate_limit_bps`: when the next message may go.
    rate_next: Instant,
    /// `replay_policy: original`: the stored time of the last message sent, and when.
    replay_prev: Option<(i64, Instant)>,
    /// Push flow control: the request awaiting the client's answer.
    fc_pending: Option<String>,
    /// Bytes and messages delivered since the last flow-control request.
    fc_bytes: u64,
    fc_msgs: u64,
    dirty: bool,
    deleted: bool,
    /// The count of filtered messages still to deliver, kept up to date as
    /// messages go out and arrive, so a filtered consumer does not scan the
    /// stream for it on every delivery.
    np: Option<PendingCount>,
    /// No pending ack is due before this (unix ns): a lower bound, so a
    /// round looks through the pending acks only when one may be late.
    pending_due: i64,
    /// When the task looks for work next unless woken: a message sent from
    /// a publisher's path whose ack is due earlier wakes it.
    task_due: Instant,
    /// The subscribers of the push deliver subject, matched again only
    /// when the account's subscriptions change (the publishers' cache).
    push_cache: crate::account::MatchCache,
}

impl State {
    /// Whether `max_ack_pending` is holding deliveries back.
    fn held_back(&self) -> bool {
        self.config.max_ack_pending > 0 && self.d.pending.len() as i64 >= self.config.max_ack_pending
    }
}

#[derive(Debug, Clone, Copy)]
struct PendingCount {
    /// The stream sequence the count starts at (the consumer's next).
    from: u64,
    /// The last stream sequence counted.
    upto: u64,
    count: u64,
    /// The stream's highest removed sequence when counted.
    removed_max: u64,
}

pub struct Consumer {
    pub name: String,
    stream: Weak<Stream>,
    /// The stream's retention, which cannot change.
    retention: Retention,
    account: Weak<Account>,
    created: i64,
    state: Mutex<State>,
    wake: Notify,
    /// Its `$JS.ACK.…` and flow-control subscriptions.
    subs: Mutex<Vec<Arc<Subscription>>>,
    /// Where durable state is kept (file streams).
    dir: Option<PathBuf>,
    /// Copies of its filters and of its next stream sequence, read without
    /// its lock when a message is stored (`wants_new`): the consumer's task
    /// holds the lock while it delivers.
    filters_copy: parking_lot::RwLock<Vec<String>>,
    next_copy: AtomicU64,
    /// The log of confirmed acks written since the last snapshot of the
    /// durable state (`ACK_LOG`), opened when first needed. Its lock is
    /// held while either is written, so a snapshot never drops an ack.
    ack_log: Mutex<Option<std::fs::File>>,
}

/// Confirmed acks (double acks) since the state was last saved: one
/// little-endian stream sequence each, `TERMINATED` marking `+TERM`.
/// Appending eight bytes per confirmed ack keeps "confirmed" meaning
/// "written" without rewriting the whole state for each one.
const ACK_LOG: &str = "acks.log";
const TERMINATED: u64 = 1 << 63;

/// What is written next to a durable consumer's state.
#[derive(Serialize, Deserialize)]
pub(crate) struct ConsumerMeta {
    pub config: ConsumerConfig,
    pub created: i64,
}

/// The reply subject that carries a message's acknowledgement.
fn ack_subject(
    stream: &str,
    consumer: &str,
    deliveries: u64,
    sseq: u64,
    cseq: u64,
    ts: i64,
    pending: u64,
) -> String {
    // Built by hand: one of these goes with every message delivered.
    let mut out = String::with_capacity(8 + stream.len() + consumer.len() + 64);
    out.push_str("$JS.ACK.");
    out.push_str(stream);
    out.push('.');
    out.push_str(consumer);
    let mut n = itoa::Buffer::new();
    for v in [deliveries, sseq, cseq] {
        out.push('.');
        out.push_str(n.format(v));
    }
    out.push('.');
    out.push_str(n.format(ts));
    out.push('.');
    out.push_str(n.format(pending));
    out
}

impl Consumer {
    /// Creates a consumer positioned by its deliver policy; `saved` restores
    /// state after a restart.
    pub(crate) fn new(
        stream: &Arc<Stream>,
        account: &Arc<Account>,
        name: String,
        config: ConsumerConfig,
        created: i64,
        dir: Option<PathBuf>,
    ) -> Arc<Consumer> {
        let saved: Option<Durable> = dir
            .as_ref()
            .and_then(|d| std::fs::read(d.join("state.json")).ok())
            .and_then(|b| serde_json::from_slice(&b).ok());
        let mut catch_up = VecDeque::new();
        let d = match saved {
            Some(d) => d,
            None => {
                let next = start_position(stream, &config, &mut catch_up);
                Durable {
                    next,
                    ..Durable::default()
                }
            }
        };
        let mut d = d;
        if let Some(dir) = &dir {
            replay_ack_log(&mut d, &dir.join(ACK_LOG), stream, &config);
        }
        let mut redeliver = BTreeMap::new();
        // After a restart, what was pending goes out again once due.
        for (&sseq, p) in &d.pending {
            redeliver.insert(sseq, p.deadline);
        }
        d.pending.clear();
        let filters_copy = parking_lot::RwLock::new(config.filters().to_vec());
        let next_copy = AtomicU64::new(d.next);
        Arc::new(Consumer {
            name,
            retention: stream.retention(),
            stream: Arc::downgrade(stream),
            account: Arc::downgrade(account),
            created,
            state: Mutex::new(State {
                config,
                d,
                redeliver,
                catch_up,
                waiting: VecDeque::new(),
                last_active: now_nanos(),
                last_sent: Instant::now(),
                rate_next: Instant::now(),
                replay_prev: None,
                fc_pending: None,
                fc_bytes: 0,
                fc_msgs: 0,
                dirty: true,
                deleted: false,
                np: None,
                pending_due: 0,
                task_due: Instant::now(),
                push_cache: crate::account::MatchCache::default(),
            }),
            wake: Notify::new(),
            subs: Mutex::new(Vec::new()),
            dir,
            filters_copy,
            next_copy,
            ack_log: Mutex::new(None),
        })
    }

    pub fn config(&self) -> ConsumerConfig {
        self.state.lock().config.clone()
    }

    /// Makes every message awaiting its ack due now: an MQTT session that
    /// comes back must be sent its unacknowledged messages again at once.
    pub fn redeliver_pending_now(&self) {
        {
            let mut st = self.state.lock();
            for p in st.d.pending.values_mut() {
                p.deadline = 0;
            }
            st.pending_due = 0;
        }
        self.wake.notify_one();
    }

    /// The stream stored a message: look for work. A wake already pending
    /// is not repeated, so a busy stream costs one atomic step a message.
    pub(crate) fn stored_new(&self) {
        self.wake.notify_one();
    }

    pub fn set_config(&self, config: ConsumerConfig) {
        {
            let mut st = self.state.lock();
            *self.filters_copy.write() = config.filters().to_vec();
            st.config = config;
            st.np = None;
            st.push_cache = crate::account::MatchCache::default();
        }
        self.wake.notify_one();
    }

    /// Starts the consumer: its ack subscription and its task.
    pub(crate) fn start(self: &Arc<Self>, stream_name: &str) {
        if let Some(account) = self.account.upgrade() {
            for prefix in ["$JS.ACK", "$JS.FC"] {
                let subject = format!("{prefix}.{stream_name}.{}.>", self.name);
                let sub = Arc::new(Subscription::new(
                    Bytes::from(subject),
                    None,
                    Bytes::new(),
                    Arc::new(Acker(Arc::downgrade(self))),
                ));
                if account.subscribe(sub.clone()).is_ok() {
                    self.subs.lock().push(sub);
                }
            }
        }
        let me = self.clone();
        tokio::spawn(async move { me.run().await });
    }

    /// Stops the consumer; `notify` tells waiting pull requests it is gone.
    pub(crate) fn stop(&self, notify: bool) {
        let waiting: Vec<Bytes> = {
            let mut st = self.state.lock();
            st.deleted = true;
            st.waiting.drain(..).map(|r| r.reply).collect()
        };
        if let Some(account) = self.account.upgrade() {
            for sub in self.subs.lock().drain(..) {
                account.unsubscribe(&sub);
            }
            if notify {
                let mut producer = Producer::default();
                let status = headers::status(409, "Consumer Deleted", &[]);
                for reply in waiting {
                    account.publish_full(&reply, None, &status, b"", &mut producer);
                }
                producer.flush();
            }
        }
        self.wake.notify_one();
    }

    /// Removes the durable state from disk.
    pub(crate) fn remove_files(&self) {
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    /// The consumer's task: deliver, expire, heartbeat, until deleted.
    async fn run(self: Arc<Self>) {
        loop {
            if self.state.lock().deleted || self.stream.strong_count() == 0 {
                return;
            }
            let mut producer = Producer::default();
            let next_due = self.tick(&mut producer);
            // Written out, and paced by any subscriber that is behind.
            producer.flush_and_wait(None).await;
            if self.expired_interest() {
                return;
            }
            let sleep = next_due.unwrap_or_else(|| Instant::now() + IDLE_TICK);
            // Woken by the stream for each new message (`stored_new`), by
            // acks that free room, pull requests and deletion.
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep_until(sleep) => {}
            }
        }
    }

    /// Deletes an ephemeral (or `inactive_threshold`) consumer nobody used
    /// for that long. Returns true when it did.
    fn expired_interest(&self) -> bool {
        let threshold = self.state.lock().config.inactive_threshold;
        if threshold <= 0 {
            return false;
        }
        let deliver_subject = {
            let st = self.state.lock();
            if !st.waiting.is_empty() {
                return false;
            }
            st.config.deliver_subject.clone()
        };
        let listened = deliver_subject.is_some_and(|s| {
            self.account
                .upgrade()
                .is_some_and(|a| !a.matches(s.as_bytes()).is_empty())
        });
        if listened {
            // Inactivity counts from when the last listener went away.
            self.state.lock().last_active = now_nanos();
            return false;
        }
        let last = self.state.lock().last_active;
        if now_nanos() - last < threshold {
            return false;
        }
        if let Some(stream) = self.stream.upgrade() {
            stream.remove_consumer(&self.name);
        }
        true
    }

    /// The consumer info as nats-server shapes it.
    pub fn info(&self, stream: &Stream) -> Value {
        let mut st = self.state.lock();
        let num_pending = self.num_pending(stream, &mut st);
        let redelivered = st.d.deliveries.values().filter(|&&n| n > 1).count();
        let mut delivered = json!({
            "consumer_seq": st.d.delivered_consumer,
            "stream_seq": st.d.delivered_stream,
        });
        if st.d.delivered_consumer > 0 {
            delivered["last_active"] = json!(rfc3339(st.last_active));
        }
        let mut info = json!({
            "stream_name": stream.name,
            "name": self.name,
            "created": rfc3339(self.created),
            "config": st.config,
            "delivered": delivered,
            "ack_floor": {
                "consumer_seq": st.d.ack_floor_consumer,
                "stream_seq": st.d.ack_floor_stream,
            },
            "num_ack_pending": st.d.pending.len() + st.redeliver.len(),
            "num_redelivered": redelivered,
            "num_waiting": st.waiting.len(),
            "num_pending": num_pending,
        });
        // A push consumer whose deliver subject has a subscriber is bound.
        if let (Some(subject), Some(account)) = (st.config.deliver_subject.clone(), self.account.upgrade()) {
            if !push_targets(&mut st, &account, &subject).is_empty() {
                info["push_bound"] = json!(true);
            }
        }
        info["ts"] = json!(rfc3339(now_nanos()));
        info
    }

    pub fn is_durable(&self) -> bool {
        self.state.lock().config.is_durable()
    }
}

/// The subscriber on a consumer's `$JS.ACK.<stream>.<consumer>.>`.
struct Acker(Weak<Consumer>);

impl Subscriber for Acker {
    fn deliver(&self, _sub: &Subscription, msg: &Message<'_>, _producer: &mut Producer) {
        if let Some(consumer) = self.0.upgrade() {
            let body = &msg.payload[msg.header_len.unwrap_or(0)..];
            consumer.ack(msg.subject, body, msg.reply);
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ack_subjects_have_nats_servers_tokens() {
        assert_eq!(
            super::ack_subject("ORDERS", "worker", 2, 41, 17, -5, 0),
            "$JS.ACK.ORDERS.worker.2.41.17.-5.0"
        );
        assert_eq!(
            super::ack_subject("S", "C", 1, u64::MAX, 1, 1_700_000_000_000_000_000, 9),
            format!("$JS.ACK.S.C.1.{}.1.1700000000000000000.9", u64::MAX)
        );
    }
}
