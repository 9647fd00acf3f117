//! Consumers: a cursor over a stream with delivery and acknowledgement
//! state. Pull consumers answer `MSG.NEXT` requests; push consumers deliver
//! to their `deliver_subject`. Each consumer runs a task that delivers what
//! is available, expires requests and acknowledgements, and sends idle
//! heartbeats. The task writes through the core's outlets and waits for a
//! subscriber that is behind, so a slow consumer is paced, never flooded.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::config::Retention;
use super::errors::ApiError;
use super::headers;
use super::stream::{now_nanos, rfc3339, Stream};
use crate::account::Account;
use crate::outlet::Producer;
use crate::sublist::MatchResult;
use crate::subscription::{Message, Subscriber, Subscription};

/// Thirty seconds, nats-server's default `ack_wait`.
const DEFAULT_ACK_WAIT: i64 = 30_000_000_000;
/// Default `max_waiting` of pull consumers.
const DEFAULT_MAX_WAITING: i64 = 512;
/// Default `max_ack_pending`.
pub(crate) const DEFAULT_MAX_ACK_PENDING: i64 = 1000;
/// Push flow control: a request after this many bytes or messages.
const FC_BYTES: u64 = 256 * 1024;
const FC_MSGS: u64 = 1000;
/// How often a push consumer without listeners looks for them.
const PUSH_INTEREST_POLL: Duration = Duration::from_millis(50);
/// How long the task sleeps when nothing is due.
const IDLE_TICK: Duration = Duration::from_secs(1);
/// Ephemeral consumers go after this long without interest.
const DEFAULT_INACTIVE: i64 = 5_000_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum DeliverPolicy {
    #[default]
    All,
    Last,
    New,
    ByStartSequence,
    ByStartTime,
    LastPerSubject,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AckPolicy {
    #[default]
    None,
    All,
    Explicit,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}
fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct ConsumerConfig {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub durable_name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    pub deliver_policy: DeliverPolicy,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub opt_start_seq: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opt_start_time: Option<String>,
    pub ack_policy: AckPolicy,
    pub ack_wait: i64,
    pub max_deliver: i64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub backoff: Vec<i64>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub filter_subject: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub filter_subjects: Vec<String>,
    pub replay_policy: String,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub rate_limit_bps: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub sample_freq: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub max_waiting: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max_ack_pending: i64,
    #[serde(skip_serializing_if = "is_false")]
    pub flow_control: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub headers_only: bool,
    #[serde(skip_serializing_if = "is_zero")]
    pub max_batch: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max_expires: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max_bytes: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub inactive_threshold: i64,
    pub num_replicas: i64,
    #[serde(skip_serializing_if = "is_false")]
    pub mem_storage: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deliver_subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deliver_group: Option<String>,
    #[serde(skip_serializing_if = "is_zero")]
    pub idle_heartbeat: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Map<String, Value>>,
}

fn is_zero_u64(n: &u64) -> bool {
    *n == 0
}

/// 100 ms, the least push `idle_heartbeat` nats-server takes.
const MIN_HEARTBEAT: i64 = 100_000_000;
/// 1 ms, the least pull `max_expires`.
const MIN_MAX_EXPIRES: i64 = 1_000_000;

fn bad(err_code: u16, text: &str) -> ApiError {
    ApiError::new(400, err_code, text)
}

impl ConsumerConfig {
    /// nats-server's defaults (`setConsumerConfigDefaults`) and checks
    /// (`checkConsumerCfg`), in its order and with its codes and texts,
    /// for a consumer on a stream configured as `stream`.
    pub fn normalize(mut self, stream: &super::config::StreamConfig) -> Result<ConsumerConfig, ApiError> {
        let is_push = self.deliver_subject.as_deref().is_some_and(|s| !s.is_empty());
        if !is_push {
            self.deliver_subject = None;
        }
        // Defaults first, negative values made neutral.
        if self.max_deliver == 0 || self.max_deliver < -1 {
            self.max_deliver = -1;
        }
        if self.max_ack_pending < -1 {
            self.max_ack_pending = -1;
        }
        for n in [
            &mut self.max_waiting,
            &mut self.max_batch,
            &mut self.max_expires,
            &mut self.max_bytes,
            &mut self.idle_heartbeat,
            &mut self.inactive_threshold,
        ] {
            if *n < 0 {
                *n = 0;
            }
        }
        if !is_push && self.max_waiting == 0 {
            self.max_waiting = DEFAULT_MAX_WAITING;
        }
        if self.ack_policy != AckPolicy::None && self.ack_wait == 0 {
            self.ack_wait = DEFAULT_ACK_WAIT;
        }
        if let Some(&first) = self.backoff.first() {
            self.ack_wait = first;
        }
        let (limit_inactive, limit_ack_pending) = stream.consumer_limits();
        if self.max_ack_pending == 0 {
            self.max_ack_pending = limit_ack_pending;
        }
        if self.inactive_threshold == 0 {
            self.inactive_threshold = limit_inactive;
        }
        if self.max_ack_pending == 0 && self.ack_policy != AckPolicy::None {
            self.max_ack_pending = DEFAULT_MAX_ACK_PENDING;
        }
        if self.replay_policy.is_empty() {
            self.replay_policy = "instant".into();
        }
        if !matches!(self.replay_policy.as_str(), "instant" | "original") {
            // An unknown enumeration value fails nats-server's JSON reading.
            let raw = format!("\"{}\"", self.replay_policy);
            return Err(ApiError::invalid_json(format!("can not unmarshal {raw:?}")));
        }
        if self.durable_name.is_empty() && self.name.is_empty() && self.inactive_threshold == 0 {
            self.inactive_threshold = DEFAULT_INACTIVE;
        }
        // The checks.
        let invalid = |text: &str| ApiError::stream_invalid_config(text);
        if !self.name.is_empty() && !super::config::valid_name(&self.name) {
            return Err(invalid("consumer name can not contain '.', '*', '>', '\\', '/'"));
        }
        if !self.durable_name.is_empty() && !super::config::valid_name(&self.durable_name) {
            return Err(invalid(
                "consumer durable name can not contain '.', '*', '>', '\\', '/'",
            ));
        }
        if self.num_replicas > 0 && self.num_replicas > stream.num_replicas.max(1) {
            return Err(bad(10126, "consumer config replica count exceeds parent stream"));
        }
        if self.num_replicas < 0 {
            return Err(bad(10133, "replicas count cannot be negative"));
        }
        if self.backoff.iter().any(|&b| b < 0) {
            return Err(bad(10184, "consumer backoff needs to be positive"));
        }
        if self.ack_wait < 0 {
            return Err(bad(10183, "consumer ack wait needs to be positive"));
        }
        if !self.backoff.is_empty() && self.max_deliver != -1 && self.backoff.len() as i64 > self.max_deliver
        {
            return Err(bad(
                10116,
                "max deliver is required to be > length of backoff values",
            ));
        }
        if self.description.len() > super::config::MAX_DESCRIPTION_LEN {
            return Err(bad(
                10107,
                "consumer description is too long, maximum allowed is 4096",
            ));
        }
        if let Some(deliver) = &self.deliver_subject {
            if !junction_nats::subject::is_literal(deliver.as_bytes()) {
                return Err(bad(10079, "consumer deliver subject has wildcards"));
            }
            if !junction_nats::subject::is_valid_subject(deliver.as_bytes()) {
                return Err(bad(10112, "invalid push consumer deliver subject"));
            }
            // Deliveries the stream would capture again, without end.
            if stream.subjects.iter().any(|s| super::config::subset(deliver, s)) {
                return Err(ApiError::deliver_cycle());
            }
            if self.max_waiting != 0 {
                return Err(bad(10080, "consumer in push mode can not set max waiting"));
            }
            if self.max_ack_pending > 0 && self.ack_policy == AckPolicy::None {
                return Err(bad(10082, "consumer requires ack policy for max ack pending"));
            }
            if self.idle_heartbeat > 0 && self.idle_heartbeat < MIN_HEARTBEAT {
                return Err(bad(10083, "consumer idle heartbeat needs to be >= 100ms"));
            }
        } else {
            if self.ack_policy == AckPolicy::None && stream.retention == Retention::Workqueue {
                return Err(bad(
                    10084,
                    "consumer in pull mode requires explicit ack policy on workqueue stream",
                ));
            }
            if self.rate_limit_bps > 0 {
                return Err(bad(10086, "consumer in pull mode can not have rate limit set"));
            }
            if self.idle_heartbeat > 0 {
                return Err(bad(
                    10088,
                    "consumer idle heartbeat requires a push based consumer",
                ));
            }
            if self.flow_control {
                return Err(bad(10089, "consumer flow control requires a push based consumer"));
            }
            if self.max_expires != 0 && self.max_expires < MIN_MAX_EXPIRES {
                return Err(bad(10115, "consumer max request expires needs to be >= 1ms"));
            }
        }
        if limit_ack_pending > 0 && self.max_ack_pending > limit_ack_pending {
            return Err(ApiError::max_ack_pending_exceeded(limit_ack_pending));
        }
        if limit_inactive > 0 && self.inactive_threshold > limit_inactive {
            return Err(bad(
                10153,
                &format!(
                    "consumer inactive threshold exceeds system limit of {}",
                    super::go_duration(limit_inactive)
                ),
            ));
        }
        if !self.filter_subject.is_empty() && !self.filter_subjects.is_empty() {
            return Err(bad(
                10136,
                "consumer cannot have both FilterSubject and FilterSubjects specified",
            ));
        }
        if !self.filter_subject.is_empty()
            && !junction_nats::subject::is_valid_subject(self.filter_subject.as_bytes())
        {
            return Err(invalid("invalid subject"));
        }
        for (i, f) in self.filter_subjects.iter().enumerate() {
            if f.is_empty() {
                return Err(bad(10139, "consumer filter in FilterSubjects cannot be empty"));
            }
            if !junction_nats::subject::is_valid_subject(f.as_bytes()) {
                return Err(invalid("invalid subject"));
            }
            let overlap = self.filter_subjects[..i]
                .iter()
                .any(|g| super::config::subset(f, g) || super::config::subset(g, f));
            if overlap {
                return Err(bad(10138, "consumer subject filters cannot overlap"));
            }
        }
        if let Some(text) = self.deliver_policy_problem() {
            return Err(bad(10094, &text));
        }
        if !self.sample_freq.is_empty() {
            let freq = self.sample_freq.trim_end_matches('%');
            match freq.parse::<i64>() {
                Ok(n) if n >= 0 => {}
                Ok(_) => {
                    return Err(bad(
                        10095,
                        "failed to parse consumer sampling configuration: <nil>",
                    ));
                }
                Err(_) => {
                    return Err(bad(
                        10095,
                        &format!(
                            "failed to parse consumer sampling configuration: strconv.Atoi: parsing {freq:?}: invalid syntax"
                        ),
                    ));
                }
            }
        }
        if self.flow_control && self.idle_heartbeat == 0 {
            return Err(bad(10108, "consumer with flow control also needs heartbeats"));
        }
        if !self.durable_name.is_empty() && !self.name.is_empty() && self.durable_name != self.name {
            return Err(bad(
                10132,
                "Consumer Durable and Name have to be equal if both are provided",
            ));
        }
        if super::config::metadata_len(&self.metadata) > super::config::MAX_METADATA_LEN {
            return Err(bad(10135, "consumer metadata exceeds maximum size of 128KB"));
        }
        if stream
            .placement
            .as_ref()
            .and_then(|p| p.get("preferred"))
            .is_some_and(|p| p.as_str().is_some_and(|p| !p.is_empty()))
        {
            return Err(invalid("preferred server not permitted in placement"));
        }
        Ok(self)
    }

    /// The deliver policy and the optional start it does or does not
    /// take, in nats-server's words.
    fn deliver_policy_problem(&self) -> Option<String> {
        let (seq, time) = (self.opt_start_seq > 0, self.opt_start_time.is_some());
        let policy = |name: &str, what: &str| {
            format!("consumer delivery policy is deliver {name}, but optional start {what}")
        };
        let either = |name: &str| {
            if seq {
                Some(policy(name, "sequence is also set"))
            } else if time {
                Some(policy(name, "time is also set"))
            } else {
                None
            }
        };
        match self.deliver_policy {
            DeliverPolicy::All => either("all"),
            DeliverPolicy::Last => either("last"),
            DeliverPolicy::New => either("new"),
            DeliverPolicy::LastPerSubject => either("last per subject").or_else(|| {
                (self.filter_subject.is_empty() && self.filter_subjects.is_empty()).then(|| {
                    "consumer delivery policy is deliver last per subject, but optional filter subject is not set"
                        .to_string()
                })
            }),
            DeliverPolicy::ByStartSequence if !seq => Some(policy("by start sequence", "sequence is not set")),
            DeliverPolicy::ByStartSequence if time => Some(policy("by start sequence", "time is also set")),
            DeliverPolicy::ByStartTime if !time => Some(policy("by start time", "time is not set")),
            // sic: nats-server says "start start sequence".
            DeliverPolicy::ByStartTime if seq => Some(policy("by start time", "start sequence is also set")),
            _ => None,
        }
    }

    /// Why an existing consumer cannot take `new` as its configuration
    /// (nats-server's `checkNewConsumerConfig`), as 500/10012.
    pub fn update_problem(&self, new: &ConsumerConfig) -> Option<&'static str> {
        let old = self;
        let (old_push, new_push) = (old.deliver_subject.is_some(), new.deliver_subject.is_some());
        Some(if old.deliver_policy != new.deliver_policy {
            "deliver policy can not be updated"
        } else if old.mem_storage != new.mem_storage {
            "storage type can not be updated"
        } else if old.opt_start_seq != new.opt_start_seq {
            "start sequence can not be updated"
        } else if old.opt_start_time != new.opt_start_time {
            "start time can not be updated"
        } else if old.ack_policy != new.ack_policy {
            "ack policy can not be updated"
        } else if old.replay_policy != new.replay_policy {
            "replay policy can not be updated"
        } else if old.idle_heartbeat != new.idle_heartbeat {
            "heart beats can not be updated"
        } else if old.flow_control != new.flow_control {
            "flow control can not be updated"
        } else if !old_push && new_push {
            "can not update pull consumer to push based"
        } else if old_push && !new_push {
            "can not update push consumer to pull based"
        } else if old.max_waiting != new.max_waiting {
            "max waiting can not be updated"
        } else {
            return None;
        })
    }

    /// The filters, borrowed.
    pub(crate) fn filters(&self) -> &[String] {
        if !self.filter_subject.is_empty() {
            std::slice::from_ref(&self.filter_subject)
        } else {
            &self.filter_subjects
        }
    }

    fn is_durable(&self) -> bool {
        !self.durable_name.is_empty()
    }

    /// Durable, or named and kept (no inactivity limit).
    pub(crate) fn is_durable_or_named(&self) -> bool {
        self.is_durable() || (!self.name.is_empty() && self.inactive_threshold == 0)
    }
}

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
    /// The subscribers of the push deliver subject, with the generation of
    /// the account's subscriptions they were matched at.
    push_match: Option<(u64, Arc<MatchResult>)>,
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
                push_match: None,
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
            st.push_match = None;
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
                if account.sublist.insert(sub.clone()).is_ok() {
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
                account.sublist.remove(&sub);
            }
            if notify {
                let mut producer = Producer::default();
                let status = headers::status(409, "Consumer Deleted", &[]);
                for reply in waiting {
                    crate::router::publish_full(&account, &reply, None, &status, b"", &mut producer);
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

    /// Writes delivered and ack floor state, when it changed.
    pub(crate) fn persist(&self) {
        let Some(dir) = &self.dir else { return };
        // One writer at a time (the task's round, a confirmed ack), each
        // writing a newer snapshot than the one before it.
        let log = self.ack_log.lock();
        let snapshot = {
            let mut st = self.state.lock();
            if !st.dirty || st.deleted {
                return;
            }
            st.dirty = false;
            let mut d = st.d.clone();
            for (&sseq, &at) in &st.redeliver {
                d.pending.entry(sseq).or_insert(Pending {
                    consumer_seq: 0,
                    deadline: at,
                });
            }
            d
        };
        let tmp = dir.join("state.json.tmp");
        let ok = std::fs::write(&tmp, serde_json::to_vec(&snapshot).unwrap_or_default())
            .and_then(|()| std::fs::rename(&tmp, dir.join("state.json")));
        match ok {
            // The snapshot holds every logged ack: the log starts over.
            Ok(()) => {
                if let Some(file) = log.as_ref() {
                    let _ = file.set_len(0);
                }
            }
            Err(e) => tracing::error!(consumer = %self.name, "JetStream: could not save consumer state: {e}"),
        }
    }

    /// Writes a confirmed ack to the ack log before its confirmation goes.
    fn log_ack(&self, sseq: u64, term: bool) {
        let Some(dir) = &self.dir else { return };
        use std::io::Write;
        let mut log = self.ack_log.lock();
        if log.is_none() {
            match std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join(ACK_LOG))
            {
                Ok(f) => *log = Some(f),
                Err(e) => {
                    tracing::error!(consumer = %self.name, "JetStream: could not open the ack log: {e}");
                    drop(log);
                    // Saved the slow way instead.
                    self.persist();
                    return;
                }
            }
        }
        let record = if term { sseq | TERMINATED } else { sseq };
        if let Some(Err(e)) = log.as_mut().map(|f| f.write_all(&record.to_le_bytes())) {
            tracing::error!(consumer = %self.name, "JetStream: could not write the ack log: {e}");
        }
    }

    /// Queues a pull request (`MSG.NEXT`).
    pub(crate) fn pull(&self, reply: &[u8], body: &[u8]) {
        #[derive(Deserialize, Default)]
        #[serde(default)]
        struct Next {
            batch: u64,
            expires: u64,
            no_wait: bool,
            max_bytes: u64,
            idle_heartbeat: u64,
        }
        let text = std::str::from_utf8(body).unwrap_or("").trim();
        // As nats-server: JSON when it looks like an object, otherwise a
        // batch size (anything else is a batch of one).
        let req: Result<Next, String> = if text.starts_with('{') {
            serde_json::from_str::<Next>(text).map_err(|e| e.to_string())
        } else {
            Ok(Next {
                batch: text.parse::<u64>().unwrap_or(1),
                ..Next::default()
            })
        };
        let now = Instant::now();
        let mut st = self.state.lock();
        st.last_active = now_nanos();
        let status = |code, text: &str| (code, text.to_string());
        let problem = match &req {
            Err(e) => Some(format!("Bad Request - {e}")),
            // A heartbeat must fit twice into the request's life.
            Ok(r) if r.idle_heartbeat > 0 && r.idle_heartbeat.saturating_mul(2) > r.expires => {
                Some("Bad Request - heartbeat value too large".to_string())
            }
            Ok(_) => None,
        };
        let req = req.unwrap_or_default();
        let refusal = if st.config.deliver_subject.is_some() {
            Some(status(409, "Consumer is push based"))
        } else if let Some(problem) = problem {
            Some(status(400, &problem))
        } else if st.config.max_batch > 0 && req.batch as i64 > st.config.max_batch {
            Some(status(
                409,
                &format!("Exceeded MaxRequestBatch of {}", st.config.max_batch),
            ))
        } else if st.config.max_bytes > 0 && req.max_bytes as i64 > st.config.max_bytes {
            Some(status(
                409,
                &format!("Exceeded MaxRequestMaxBytes of {}", st.config.max_bytes),
            ))
        } else if st.config.max_expires > 0 && req.expires as i64 > st.config.max_expires {
            Some(status(
                409,
                &format!(
                    "Exceeded MaxRequestExpires of {}",
                    super::go_duration(st.config.max_expires)
                ),
            ))
        } else if st.waiting.len() as i64 >= st.config.max_waiting {
            Some(status(409, "Exceeded MaxWaiting"))
        } else {
            None
        };
        if let Some((code, text)) = refusal {
            drop(st);
            self.send_status(reply, code, &text, &[]);
            return;
        }
        let heartbeat = (req.idle_heartbeat > 0).then(|| Duration::from_nanos(req.idle_heartbeat));
        st.waiting.push_back(PullRequest {
            reply: Bytes::copy_from_slice(reply),
            batch: req.batch.max(1),
            max_bytes: req.max_bytes,
            expires: (req.expires > 0).then(|| now + Duration::from_nanos(req.expires)),
            no_wait: req.no_wait,
            heartbeat,
            next_heartbeat: heartbeat.map(|h| now + h),
            sent: 0,
            bytes: 0,
        });
        drop(st);
        self.wake.notify_one();
    }

    fn send_status(&self, to: &[u8], code: u16, text: &str, extra: &[(&str, String)]) {
        if let Some(account) = self.account.upgrade() {
            let mut producer = Producer::default();
            let block = headers::status(code, text, extra);
            crate::router::publish_full(&account, to, None, &block, b"", &mut producer);
            producer.flush();
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
                .is_some_and(|a| !a.sublist.matches(s.as_bytes()).is_empty())
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

    /// One round of work; returns when it next has something to do.
    fn tick(&self, producer: &mut Producer) -> Option<Instant> {
        let stream = self.stream.upgrade()?;
        let account = self.account.upgrade()?;
        let now = Instant::now();
        let now_ns = now_nanos();
        let mut st = self.state.lock();
        let mut due: Option<Instant> = None;
        let mut soonest = |t: Instant| due = Some(due.map_or(t, |d| d.min(t)));
        // Acks not received in time: deliver again.
        if st.pending_due <= now_ns {
            let late: Vec<u64> =
                st.d.pending
                    .iter()
                    .filter(|(_, p)| p.deadline <= now_ns)
                    .map(|(&s, _)| s)
                    .collect();
            for sseq in late {
                st.d.pending.remove(&sseq);
                st.redeliver.insert(sseq, now_ns);
            }
            st.pending_due =
                st.d.pending
                    .values()
                    .map(|p| p.deadline)
                    .min()
                    .unwrap_or(i64::MAX);
        }
        if st.pending_due < i64::MAX && !st.d.pending.is_empty() {
            soonest(now + Duration::from_nanos((st.pending_due - now_ns).max(0) as u64));
        }
        // Expired pull requests.
        let mut i = 0;
        while i < st.waiting.len() {
            let r = &st.waiting[i];
            if r.expires.is_some_and(|e| e <= now) {
                let r = st.waiting.remove(i).expect("index in range");
                let extra = [
                    ("Nats-Pending-Messages", (r.batch - r.sent).to_string()),
                    (
                        "Nats-Pending-Bytes",
                        r.max_bytes.saturating_sub(r.bytes).to_string(),
                    ),
                ];
                let block = headers::status(408, "Request Timeout", &extra);
                crate::router::publish_full(&account, &r.reply, None, &block, b"", producer);
                continue;
            }
            if let Some(e) = r.expires {
                soonest(e);
            }
            i += 1;
        }
        let push = st.config.deliver_subject.clone();
        // A push consumer delivers only while someone listens on its
        // subject, as nats-server; until then it looks again shortly.
        let push_targets = push.as_ref().map(|s| push_targets(&mut st, &account, s));
        let no_interest = push_targets.as_ref().is_some_and(|t| t.is_empty());
        if no_interest {
            soonest(now + PUSH_INTEREST_POLL);
        }
        let mut round = Round {
            stream: &stream,
            covered: filters_cover(&stream, &st.config),
            now,
            now_ns,
            settled: Vec::new(),
        };
        // A message is there but held back by pacing: no-wait requests wait for it.
        let mut paced = false;
        // A pull request's reply subject and its match, kept while it stays the same.
        let mut matched: Option<(Bytes, Arc<MatchResult>)> = None;
        // Deliver what is available.
        loop {
            if no_interest || st.fc_pending.is_some() {
                break;
            }
            if push.is_none() && st.waiting.is_empty() {
                break;
            }
            if st.config.ack_policy != AckPolicy::None && st.held_back() {
                break;
            }
            if push.is_none() {
                // A request whose requester is gone (a fetch that timed out
                // and unsubscribed) takes nothing: it is dropped, and what
                // it would have taken stays pending for the next one.
                let reply = &st.waiting.front().expect("a waiting request").reply;
                if matched.as_ref().is_none_or(|(t, _)| t != reply) {
                    matched = Some((reply.clone(), Arc::new(account.sublist.matches(reply))));
                }
                if matched.as_ref().is_some_and(|(_, m)| m.is_empty()) {
                    st.waiting.pop_front();
                    continue;
                }
            }
            let Some((msg, origin)) = self.next_message(&stream, &mut st, now_ns) else {
                if let Some(at) = st.redeliver.values().min() {
                    soonest(now + Duration::from_nanos((at - now_ns).max(0) as u64));
                }
                break;
            };
            let size = (msg.headers.len() + msg.payload.len() + msg.subject.len()) as u64;
            if push.is_none() {
                let r = st.waiting.front_mut().expect("a waiting request");
                if r.max_bytes > 0 && r.bytes + size > r.max_bytes {
                    // Put the message back and end this request.
                    put_back(&mut st, msg.seq, origin, now_ns);
                    let r = st.waiting.pop_front().expect("a waiting request");
                    let code = 409;
                    let extra = [
                        ("Nats-Pending-Messages", (r.batch - r.sent).to_string()),
                        (
                            "Nats-Pending-Bytes",
                            r.max_bytes.saturating_sub(r.bytes).to_string(),
                        ),
                    ];
                    let block = headers::status(code, "Message Size Exceeds MaxBytes", &extra);
                    crate::router::publish_full(&account, &r.reply, None, &block, b"", producer);
                    continue;
                }
            }
            // Pacing: `rate_limit_bps` (push), and `replay_policy: original`,
            // which keeps the gaps between messages as they were stored.
            let mut not_before = st.rate_next;
            if st.config.replay_policy == "original" {
                if let Some((prev_time, sent_at)) = st.replay_prev {
                    let gap = (msg.time - prev_time).max(0) as u64;
                    not_before = not_before.max(sent_at + Duration::from_nanos(gap));
                }
            }
            if not_before > now {
                put_back(&mut st, msg.seq, origin, now_ns);
                soonest(not_before);
                paced = true;
                break;
            }
            if st.config.rate_limit_bps > 0 {
                let secs = (size * 8) as f64 / st.config.rate_limit_bps as f64;
                st.rate_next = st.rate_next.max(now) + Duration::from_secs_f64(secs);
            }
            st.replay_prev = Some((msg.time, now));
            // Addressed to the target's subscribers, shown under the stream
            // subject.
            let targets = match &push_targets {
                Some(t) => t.clone(),
                // Matched above, for the request at the front.
                None => matched.as_ref().expect("matched above").1.clone(),
            };
            let joined;
            let (header_len, body): (Option<usize>, &[u8]) = if st.config.headers_only {
                let mut block = msg.headers.to_vec();
                let size_hdr = format!("Nats-Msg-Size: {}\r\n\r\n", msg.payload.len());
                if block.is_empty() {
                    block = format!("NATS/1.0\r\n{size_hdr}").into_bytes();
                } else {
                    block.truncate(block.len() - 2);
                    block.extend_from_slice(size_hdr.as_bytes());
                }
                (Some(block.len()), {
                    joined = block;
                    &joined
                })
            } else if msg.headers.is_empty() {
                (None, &msg.payload[..])
            } else {
                joined = [&msg.headers[..], &msg.payload[..]].concat();
                (Some(msg.headers.len()), &joined)
            };
            let out = Outgoing {
                seq: msg.seq,
                subject: &msg.subject,
                header_len,
                body,
                time: msg.time,
            };
            if let Some(at) = self.send(&mut st, &mut round, &out, &targets, producer) {
                soonest(at);
            }
            st.last_sent = now;
            if let (Some(subject), true) = (&push, st.config.flow_control) {
                st.fc_bytes += size;
                st.fc_msgs += 1;
                if st.fc_bytes >= FC_BYTES || st.fc_msgs >= FC_MSGS {
                    // Ask the client to confirm it keeps up before sending more.
                    let reply = format!("$JS.FC.{}.{}.{}", stream.name, self.name, st.d.delivered_consumer);
                    let block = headers::status(100, "FlowControl Request", &[]);
                    crate::router::publish_full(
                        &account,
                        subject.as_bytes(),
                        Some(reply.as_bytes()),
                        &block,
                        b"",
                        producer,
                    );
                    st.fc_pending = Some(reply);
                    st.fc_bytes = 0;
                    st.fc_msgs = 0;
                }
            }
            if push.is_none() {
                let r = st.waiting.front_mut().expect("a waiting request");
                r.sent += 1;
                r.bytes += size;
                r.next_heartbeat = r.heartbeat.map(|h| now + h);
                if r.sent >= r.batch {
                    st.waiting.pop_front();
                }
            }
        }
        // Requests that asked not to wait end here.
        let mut i = 0;
        while !paced && i < st.waiting.len() {
            if st.waiting[i].no_wait {
                let r = st.waiting.remove(i).expect("index in range");
                let block = if r.sent == 0 {
                    headers::status(404, "No Messages", &[])
                } else {
                    let extra = [
                        ("Nats-Pending-Messages", (r.batch - r.sent).to_string()),
                        (
                            "Nats-Pending-Bytes",
                            r.max_bytes.saturating_sub(r.bytes).to_string(),
                        ),
                    ];
                    headers::status(408, "Request Timeout", &extra)
                };
                crate::router::publish_full(&account, &r.reply, None, &block, b"", producer);
                continue;
            }
            i += 1;
        }
        // Idle heartbeats.
        let hb = headers::status(100, "Idle Heartbeat", &[]);
        for r in st.waiting.iter_mut() {
            if let (Some(h), Some(at)) = (r.heartbeat, r.next_heartbeat) {
                if at <= now {
                    crate::router::publish_full(&account, &r.reply, None, &hb, b"", producer);
                    r.next_heartbeat = Some(now + h);
                }
                if let Some(at) = r.next_heartbeat {
                    soonest(at);
                }
            }
        }
        if let Some(subject) = &push {
            if st.config.idle_heartbeat > 0 {
                let every = Duration::from_nanos(st.config.idle_heartbeat as u64);
                if now.duration_since(st.last_sent) >= every {
                    let mut extra = vec![
                        ("Nats-Last-Consumer", st.d.delivered_consumer.to_string()),
                        ("Nats-Last-Stream", st.d.delivered_stream.to_string()),
                    ];
                    // A lost flow-control request is named again, so the client can answer it.
                    if let Some(fc) = &st.fc_pending {
                        extra.push(("Nats-Consumer-Stalled", fc.clone()));
                    }
                    let block = headers::status(100, "Idle Heartbeat", &extra);
                    crate::router::publish_full(&account, subject.as_bytes(), None, &block, b"", producer);
                    st.last_sent = now;
                }
                soonest(st.last_sent + every);
            }
        }
        if st.config.inactive_threshold > 0 {
            soonest(now + Duration::from_nanos(st.config.inactive_threshold as u64));
        }
        let wake_at = due.unwrap_or(now + IDLE_TICK);
        st.task_due = wake_at;
        drop(st);
        if !round.settled.is_empty() {
            stream.drop_if_no_interest_many(&round.settled);
        }
        Some(wake_at)
    }

    /// Sends one message to `targets`: counts the delivery, makes it
    /// pending (or, without acks, done at once) and gives it its ack
    /// subject. Returns when its ack is due, if it waits for one.
    fn send(
        &self,
        st: &mut State,
        round: &mut Round<'_>,
        out: &Outgoing<'_>,
        targets: &MatchResult,
        producer: &mut Producer,
    ) -> Option<Instant> {
        let deliveries = {
            let n = st.d.deliveries.entry(out.seq).or_insert(0);
            *n += 1;
            *n
        };
        st.d.delivered_consumer += 1;
        let cseq = st.d.delivered_consumer;
        st.d.delivered_stream = st.d.delivered_stream.max(out.seq);
        let pending_after = self.num_pending_with(round.stream, st, round.covered);
        let reply = ack_subject(
            &round.stream.name,
            &self.name,
            deliveries,
            out.seq,
            cseq,
            out.time,
            pending_after,
        );
        let due = match st.config.ack_policy {
            AckPolicy::None => {
                st.d.deliveries.remove(&out.seq);
                st.d.ack_floor_consumer = cseq;
                st.d.ack_floor_stream = out.seq;
                None
            }
            _ => {
                let wait = backoff_wait(&st.config, deliveries);
                let deadline = round.now_ns + wait;
                st.pending_due = st.pending_due.min(deadline);
                st.d.pending.insert(
                    out.seq,
                    Pending {
                        consumer_seq: cseq,
                        deadline,
                    },
                );
                Some(round.now + Duration::from_nanos(wait.max(0) as u64))
            }
        };
        st.dirty = true;
        st.last_active = round.now_ns;
        let m = Message {
            subject: out.subject,
            reply: Some(reply.as_bytes()),
            header_len: out.header_len,
            payload: out.body,
            hops: 0,
        };
        crate::router::deliver(targets, &m, None, producer);
        if st.config.ack_policy == AckPolicy::None {
            match self.retention {
                Retention::Workqueue => {
                    round.stream.delete_msg_internal(out.seq);
                }
                Retention::Interest => round.settled.push(out.seq),
                Retention::Limits => {}
            }
        }
        st.last_sent = round.now;
        due
    }

    /// A message just stored, offered from the publisher's path: a push
    /// consumer that has sent everything before it, and has room, sends it
    /// at once rather than waking its task to read it back from the store.
    /// Returns false when it did not (the task then takes it).
    pub(crate) fn deliver_new(&self, stream: &Stream, out: &Outgoing<'_>, producer: &mut Producer) -> bool {
        // Busy (its task is delivering, or an ack is being handled): the
        // task takes it, in order, after what it is doing.
        let Some(mut st) = self.state.try_lock() else {
            return false;
        };
        let now = Instant::now();
        // Stored just now: its time is the clock's.
        let now_ns = out.time;
        let c = &st.config;
        if st.deleted
            || st.d.next != out.seq
            || !st.redeliver.is_empty()
            || !st.catch_up.is_empty()
            || st.fc_pending.is_some()
            || c.flow_control
            || c.headers_only
            || c.rate_limit_bps > 0
            || c.replay_policy == "original"
            || st.pending_due <= now_ns
            || (c.ack_policy != AckPolicy::None && st.held_back())
        {
            return false;
        }
        let Some(subject) = c.deliver_subject.clone() else {
            return false;
        };
        let Some(account) = self.account.upgrade() else {
            return false;
        };
        if !takes_subject(c.filters(), out.subject) {
            return false;
        }
        let targets = push_targets(&mut st, &account, &subject);
        if targets.is_empty() {
            return false;
        }
        self.took_new(&mut st, out.seq);
        st.replay_prev = Some((out.time, now));
        let mut round = Round {
            stream,
            covered: filters_cover(stream, &st.config),
            now,
            now_ns,
            settled: Vec::new(),
        };
        if let Some(at) = self.send(&mut st, &mut round, out, &targets, producer) {
            // The task sleeps past this ack's deadline: wake it to look again.
            if at < st.task_due {
                st.task_due = at;
                self.wake.notify_one();
            }
        }
        drop(st);
        if !round.settled.is_empty() {
            stream.drop_if_no_interest_many(&round.settled);
        }
        true
    }

    /// The stream sequence below which everything is acknowledged.
    pub(crate) fn ack_floor(&self) -> u64 {
        self.state.lock().d.ack_floor_stream
    }

    /// Whether this consumer's filters take messages on `subject`.
    pub(crate) fn takes(&self, subject: &[u8]) -> bool {
        takes_subject(&self.filters_copy.read(), subject)
    }

    /// Whether a message just stored is one this consumer will deliver:
    /// decided from the copies of its filters and next sequence when they
    /// say so, under its lock otherwise.
    pub(crate) fn wants_new(&self, seq: u64, subject: &[u8]) -> bool {
        if !takes_subject(&self.filters_copy.read(), subject) {
            return false;
        }
        // Not yet reached: nothing could have delivered or acked it.
        if seq >= self.next_copy.load(Ordering::Acquire) {
            return true;
        }
        !self.done_with(seq, subject)
    }

    /// Whether this consumer is done with `seq`: not interested in its
    /// subject, or delivered and acknowledged it.
    pub(crate) fn done_with(&self, seq: u64, subject: &[u8]) -> bool {
        let st = self.state.lock();
        Self::done_with_locked(&st, seq, subject)
    }

    /// `done_with` for several messages under one lock: clears `done[i]`
    /// for each message this consumer still needs.
    pub(crate) fn done_with_many<S: AsRef<[u8]>>(&self, msgs: &[(u64, S)], done: &mut [bool]) {
        let st = self.state.lock();
        for ((seq, subject), d) in msgs.iter().zip(done.iter_mut()) {
            if *d && !Self::done_with_locked(&st, *seq, subject.as_ref()) {
                *d = false;
            }
        }
    }

    fn done_with_locked(st: &State, seq: u64, subject: &[u8]) -> bool {
        if !takes_subject(st.config.filters(), subject) {
            return true;
        }
        seq <= st.d.ack_floor_stream
            || (seq < st.d.next
                && !st.d.pending.contains_key(&seq)
                && !st.redeliver.contains_key(&seq)
                && !st.catch_up.contains(&seq))
    }

    /// The next message to deliver: a due redelivery first, then new ones.
    fn next_message(
        &self,
        stream: &Stream,
        st: &mut State,
        now_ns: i64,
    ) -> Option<(super::store::StoredMsg, Origin)> {
        while let Some((&sseq, &at)) = st.redeliver.iter().next() {
            if at > now_ns {
                break;
            }
            st.redeliver.remove(&sseq);
            let delivered = st.d.deliveries.get(&sseq).copied().unwrap_or(0);
            if st.config.max_deliver > 0 && delivered as i64 >= st.config.max_deliver {
                st.d.deliveries.remove(&sseq);
                continue;
            }
            if let Ok(Some(m)) = stream.get(sseq) {
                return Some((m, Origin::Redelivery));
            }
            st.d.deliveries.remove(&sseq);
        }
        while let Some(sseq) = st.catch_up.pop_front() {
            if let Ok(Some(m)) = stream.get(sseq) {
                return Some((m, Origin::CatchUp));
            }
        }
        let filters = st.config.filters();
        let found = if filters.is_empty() {
            stream.next_for(st.d.next, None).ok().flatten()
        } else {
            stream.next_matching_any(st.d.next, filters).ok().flatten()
        };
        let m = found?;
        self.took_new(st, m.seq);
        Some((m, Origin::New))
    }

    /// Moves past `seq`, the next new message, which is going out.
    fn took_new(&self, st: &mut State, seq: u64) {
        st.d.next = seq + 1;
        self.next_copy.store(st.d.next, Ordering::Release);
        if let Some(c) = &mut st.np {
            // The message going out is the first match from where the count
            // starts: one fewer to deliver, or (when it arrived after the
            // count, which then found none) still none.
            if c.from <= seq {
                if seq <= c.upto {
                    c.count = c.count.saturating_sub(1);
                } else {
                    c.upto = seq;
                }
                c.from = seq + 1;
            } else {
                st.np = None;
            }
        }
    }

    /// Messages left to deliver (an estimate without filters: it does not
    /// subtract deleted messages).
    fn num_pending(&self, stream: &Stream, st: &mut State) -> u64 {
        let covered = filters_cover(stream, &st.config);
        self.num_pending_with(stream, st, covered)
    }

    /// `num_pending`, told whether the filters take in the whole stream
    /// (worked out once per round rather than per message).
    fn num_pending_with(&self, stream: &Stream, st: &mut State, covered: bool) -> u64 {
        let (first, last, removed_max) = stream.bounds();
        let from = st.d.next.max(first);
        if covered {
            return (last + 1).saturating_sub(from) + st.catch_up.len() as u64;
        }
        let count = match st.np {
            // Still right: only messages arrived since (counted now), and
            // nothing at or past where it starts was removed.
            Some(c) if c.from == from && (removed_max == c.removed_max || removed_max < c.from) => {
                let fresh = if last > c.upto {
                    stream.count_matching_from(c.upto + 1, st.config.filters())
                } else {
                    0
                };
                c.count + fresh
            }
            _ => stream.count_matching_from(from, st.config.filters()),
        };
        st.np = Some(PendingCount {
            from,
            upto: last.max(from.saturating_sub(1)),
            count,
            removed_max,
        });
        count + st.catch_up.len() as u64
    }

    /// Plain acks (`+ACK`) of several stream sequences at once, as an
    /// MQTT session collects its client's PUBACKs of one read.
    pub(crate) fn ack_many(&self, seqs: &[u64]) {
        let mut removed = Vec::new();
        let wake = {
            let mut st = self.state.lock();
            st.last_active = now_nanos();
            st.dirty = true;
            let held_back = st.held_back();
            for &seq in seqs {
                self.acked(&mut st, seq, &mut removed);
            }
            held_back || !st.waiting.is_empty()
        };
        self.settle(&removed);
        if wake {
            self.wake.notify_one();
        }
    }

    /// Drops from a work-queue or interest stream what acks settled.
    fn settle(&self, removed: &[u64]) {
        let Some(stream) = self.stream.upgrade().filter(|_| !removed.is_empty()) else {
            return;
        };
        match self.retention {
            Retention::Workqueue => {
                for &seq in removed {
                    stream.delete_msg_internal(seq);
                }
            }
            // Gone once every consumer interested in it has acked it.
            Retention::Interest => stream.drop_if_no_interest_many(removed),
            Retention::Limits => {}
        }
    }

    /// An acknowledgement arrived on `$JS.ACK.…`, or the answer to a flow
    /// control request on `$JS.FC.…`.
    pub(crate) fn ack(&self, subject: &[u8], body: &[u8], reply: Option<&[u8]>) {
        let text = String::from_utf8_lossy(subject);
        if text.starts_with("$JS.FC.") {
            let mut st = self.state.lock();
            if st.fc_pending.as_deref() == Some(&*text) {
                st.fc_pending = None;
                drop(st);
                self.wake.notify_one();
            }
            return;
        }
        // $JS.ACK.<stream>.<consumer>.<deliveries>.<sseq>.<cseq>.<ts>.<pending>
        let mut tokens = text.split('.').skip(5);
        let (Some(sseq), Some(_cseq)) = (
            tokens.next().and_then(|t| t.parse::<u64>().ok()),
            tokens.next().and_then(|t| t.parse::<u64>().ok()),
        ) else {
            return;
        };
        let body = std::str::from_utf8(body).unwrap_or("").trim();
        let (verb, arg) = match body.split_once(' ') {
            Some((v, a)) => (v, a.trim()),
            None => (body, ""),
        };
        let mut remove_from_stream = Vec::new();
        // A plain ack wakes the consumer's task only when it may have been
        // held back by `max_ack_pending`: otherwise it has nothing to do.
        let wake = {
            let mut st = self.state.lock();
            st.last_active = now_nanos();
            st.dirty = true;
            let held_back = st.held_back();
            match verb {
                "" | "+ACK" => self.acked(&mut st, sseq, &mut remove_from_stream),
                "+NXT" => {
                    self.acked(&mut st, sseq, &mut remove_from_stream);
                }
                "-NAK" if st.d.pending.remove(&sseq).is_some() => {
                    let delay = serde_json::from_str::<Value>(arg)
                        .ok()
                        .and_then(|v| v.get("delay").and_then(Value::as_i64))
                        .unwrap_or(0);
                    st.redeliver.insert(sseq, now_nanos() + delay.max(0));
                }
                "+WPI" => {
                    let wait = st.config.ack_wait;
                    if let Some(p) = st.d.pending.get_mut(&sseq) {
                        p.deadline = now_nanos() + wait;
                    }
                }
                "+TERM" => {
                    st.d.pending.remove(&sseq);
                    st.d.deliveries.remove(&sseq);
                    self.advance_floor(&mut st);
                }
                _ => {}
            }
            held_back || !matches!(verb, "" | "+ACK") || !st.waiting.is_empty()
        };
        self.settle(&remove_from_stream);
        if verb == "+NXT" {
            if let Some(reply) = reply {
                self.pull(reply, arg.as_bytes());
                return;
            }
        }
        // A double ack (ack with a reply) is answered once it is written:
        // a confirmed ack survives the process being killed, as a PubAck
        // does. Plain acks are saved with the next round, within a second.
        if let (Some(reply), Some(account)) = (reply, self.account.upgrade()) {
            if matches!(verb, "" | "+ACK" | "+TERM") {
                self.log_ack(sseq, verb == "+TERM");
            }
            crate::router::publish_internal(&account, reply, b"");
        }
        if wake {
            self.wake.notify_one();
        }
    }

    /// Records an ack; `removed` collects the stream sequences it settles,
    /// which a work queue or interest stream may then drop.
    fn acked(&self, st: &mut State, sseq: u64, removed: &mut Vec<u64>) {
        let workqueue = self.retention != Retention::Limits;
        match st.config.ack_policy {
            AckPolicy::All => {
                let mut done: Vec<u64> = st.d.pending.range(..=sseq).map(|(&s, _)| s).collect();
                done.extend(st.redeliver.range(..=sseq).map(|(&s, _)| s));
                for s in done {
                    st.d.pending.remove(&s);
                    st.redeliver.remove(&s);
                    st.d.deliveries.remove(&s);
                    if workqueue {
                        removed.push(s);
                    }
                }
            }
            _ => {
                // Acked while waiting to go out again (late, or after a
                // restart): it does not go out again.
                let was_pending = st.d.pending.remove(&sseq).is_some();
                let was_due = st.redeliver.remove(&sseq).is_some();
                if was_pending || was_due {
                    st.d.deliveries.remove(&sseq);
                    if workqueue {
                        removed.push(sseq);
                    }
                }
            }
        }
        self.advance_floor(st);
    }

    /// The ack floor sits below the lowest message still unacknowledged,
    /// whether awaiting its ack or its redelivery.
    fn advance_floor(&self, st: &mut State) {
        let pending = st.d.pending.iter().next().map(|(&s, p)| (s, p.consumer_seq));
        let due = st.redeliver.keys().next().copied();
        match (pending, due) {
            (Some((sseq, cseq)), due) if due.is_none_or(|d| sseq < d) => {
                st.d.ack_floor_stream = sseq.saturating_sub(1);
                st.d.ack_floor_consumer = cseq.saturating_sub(1);
            }
            // Its consumer sequence went with its delivery: the stream
            // floor alone moves.
            (_, Some(d)) => st.d.ack_floor_stream = st.d.ack_floor_stream.min(d.saturating_sub(1)),
            (None, None) => {
                st.d.ack_floor_stream = st.d.delivered_stream;
                st.d.ack_floor_consumer = st.d.delivered_consumer;
            }
            _ => {}
        }
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

/// One message going out: the header block and payload joined in `body`
/// (`header_len` bytes of headers).
pub(crate) struct Outgoing<'a> {
    pub seq: u64,
    pub subject: &'a [u8],
    pub header_len: Option<usize>,
    pub body: &'a [u8],
    /// When it was stored (unix ns).
    pub time: i64,
}

/// What stays the same over one round of deliveries.
struct Round<'a> {
    stream: &'a Stream,
    /// Whether the filters take in the whole stream.
    covered: bool,
    now: Instant,
    now_ns: i64,
    /// Interest-stream messages settled without acks, to drop after the
    /// consumer's lock is released.
    settled: Vec<u64>,
}

/// The subscribers of a push consumer's deliver subject, matched again only
/// when the account's subscriptions changed.
fn push_targets(st: &mut State, account: &Account, subject: &str) -> Arc<MatchResult> {
    let generation = account.sublist.generation();
    if let Some((g, targets)) = &st.push_match {
        if *g == generation {
            return targets.clone();
        }
    }
    let targets = Arc::new(account.sublist.matches(subject.as_bytes()));
    st.push_match = Some((generation, targets.clone()));
    targets
}

/// Whether the consumer's filters take in every subject of the stream
/// (then it counts what is pending without looking at subjects).
fn filters_cover(stream: &Stream, config: &ConsumerConfig) -> bool {
    let filters = config.filters();
    filters.is_empty()
        || stream.with_config(|c| {
            c.subjects
                .iter()
                .all(|s| filters.iter().any(|f| super::config::subset(s, f)))
        })
}

/// Where a message to deliver came from, so it can be put back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    Redelivery,
    CatchUp,
    New,
}

/// Returns a message not sent after all to where it came from.
fn put_back(st: &mut State, seq: u64, origin: Origin, now_ns: i64) {
    match origin {
        Origin::Redelivery => {
            st.redeliver.insert(seq, now_ns);
        }
        Origin::CatchUp => st.catch_up.push_front(seq),
        Origin::New => {
            st.d.next = seq;
            // `next_copy` may stay ahead: `wants_new` then asks under the lock.
            // Counted again: it was taken off when it was picked.
            if let Some(c) = &mut st.np {
                if c.from == seq + 1 {
                    c.from = seq;
                    c.count += 1;
                } else {
                    st.np = None;
                }
            }
        }
    }
}

/// Whether a consumer with `filters` (none: all) takes messages on `subject`.
fn takes_subject(filters: &[String], subject: &[u8]) -> bool {
    filters.is_empty()
        || filters
            .iter()
            .any(|f| junction_nats::subject::matches(f.as_bytes(), subject))
}

/// Where a new consumer starts, by its deliver policy.
fn start_position(stream: &Stream, config: &ConsumerConfig, catch_up: &mut VecDeque<u64>) -> u64 {
    let state = stream.state();
    let filters = config.filters();
    match config.deliver_policy {
        DeliverPolicy::All => state.first_seq,
        DeliverPolicy::New => state.last_seq + 1,
        DeliverPolicy::Last => {
            let last = if filters.is_empty() {
                Some(state.last_seq)
            } else {
                filters
                    .iter()
                    .filter_map(|f| stream.last_for(f).ok().flatten().map(|m| m.seq))
                    .max()
            };
            last.filter(|&s| s > 0).unwrap_or(state.last_seq + 1)
        }
        DeliverPolicy::ByStartSequence => config.opt_start_seq,
        DeliverPolicy::ByStartTime => {
            let t = config
                .opt_start_time
                .as_deref()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .and_then(|t| t.timestamp_nanos_opt())
                .unwrap_or(0);
            stream.first_at_or_after(t).unwrap_or(state.last_seq + 1)
        }
        DeliverPolicy::LastPerSubject => {
            let mut seqs = stream.last_per_subject(filters);
            seqs.sort_unstable();
            catch_up.extend(seqs);
            state.last_seq + 1
        }
    }
}

/// `ack_wait`, or the backoff step for this delivery.
fn backoff_wait(config: &ConsumerConfig, deliveries: u64) -> i64 {
    if config.backoff.is_empty() {
        return config.ack_wait;
    }
    let i = (deliveries as usize)
        .saturating_sub(1)
        .min(config.backoff.len() - 1);
    config.backoff[i]
}

/// The subscriber on a consumer's `$JS.ACK.<stream>.<consumer>.>`.
struct Acker(Weak<Consumer>);

impl Subscriber for Acker {
    fn client_id(&self) -> u64 {
        0
    }

    fn deliver(&self, _sub: &Subscription, msg: &Message<'_>, _producer: &mut Producer) {
        if let Some(consumer) = self.0.upgrade() {
            let body = &msg.payload[msg.header_len.unwrap_or(0)..];
            consumer.ack(msg.subject, body, msg.reply);
        }
    }

    fn expire(&self, _sub: &Arc<Subscription>) {}
}

/// Applies the confirmed acks logged since the state was saved. An ack of
/// a message past the saved position moves the position past it; the
/// messages it skips that the consumer takes are taken as delivered and
/// unacknowledged, so they go out again (their own logged acks, later in
/// the log, settle those that were acknowledged).
fn replay_ack_log(d: &mut Durable, path: &std::path::Path, stream: &Stream, config: &ConsumerConfig) {
    let Ok(bytes) = std::fs::read(path) else { return };
    let unacked = Pending {
        consumer_seq: 0,
        deadline: 0,
    };
    // A record cut short by a crash was never confirmed.
    for record in bytes.chunks_exact(8) {
        let record = u64::from_le_bytes(record.try_into().expect("eight bytes"));
        let (sseq, term) = (record & !TERMINATED, record & TERMINATED != 0);
        if sseq >= d.next {
            if config.ack_policy != AckPolicy::All {
                let mut at = d.next;
                while let Ok(Some(m)) = next_taken(stream, config, at) {
                    if m.seq >= sseq {
                        break;
                    }
                    d.pending.insert(m.seq, unacked);
                    at = m.seq + 1;
                }
            }
            d.next = sseq + 1;
            d.delivered_stream = d.delivered_stream.max(sseq);
        }
        let done: Vec<u64> = if config.ack_policy == AckPolicy::All && !term {
            d.pending.range(..=sseq).map(|(&s, _)| s).collect()
        } else {
            vec![sseq]
        };
        for s in done {
            d.pending.remove(&s);
            d.deliveries.remove(&s);
        }
    }
    match d.pending.iter().next() {
        Some((&sseq, p)) => {
            d.ack_floor_stream = sseq.saturating_sub(1);
            d.ack_floor_consumer = p.consumer_seq.saturating_sub(1);
        }
        None => {
            d.ack_floor_stream = d.delivered_stream;
            d.ack_floor_consumer = d.delivered_consumer;
        }
    }
}

/// The first message at or after `seq` that a consumer configured so takes.
fn next_taken(
    stream: &Stream,
    config: &ConsumerConfig,
    seq: u64,
) -> Result<Option<super::store::StoredMsg>, ApiError> {
    let filters = config.filters();
    if filters.is_empty() {
        stream.next_for(seq, None)
    } else {
        stream.next_matching_any(seq, filters)
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
