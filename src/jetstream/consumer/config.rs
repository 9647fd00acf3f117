//! A consumer's configuration as the API carries it, with nats-server's
//! defaults and checks (`setConsumerConfigDefaults`, `checkConsumerCfg`,
//! `checkNewConsumerConfig`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::jetstream::config::Retention;
use crate::jetstream::errors::ApiError;

/// Thirty seconds, nats-server's default `ack_wait`.
pub(super) const DEFAULT_ACK_WAIT: i64 = 30_000_000_000;
/// Default `max_waiting` of pull consumers.
pub(super) const DEFAULT_MAX_WAITING: i64 = 512;
/// Default `max_ack_pending`.
pub(crate) const DEFAULT_MAX_ACK_PENDING: i64 = 1000;
/// Ephemeral consumers go after this long without interest.
pub(super) const DEFAULT_INACTIVE: i64 = 5_000_000_000;

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

pub(super) fn is_zero(n: &i64) -> bool {
    *n == 0
}
pub(super) fn is_false(b: &bool) -> bool {
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

pub(super) fn is_zero_u64(n: &u64) -> bool {
    *n == 0
}

/// 100 ms, the least push `idle_heartbeat` nats-server takes.
pub(super) const MIN_HEARTBEAT: i64 = 100_000_000;
/// 1 ms, the least pull `max_expires`.
pub(super) const MIN_MAX_EXPIRES: i64 = 1_000_000;

pub(super) fn bad(err_code: u16, text: &str) -> ApiError {
    ApiError::new(400, err_code, text)
}

impl ConsumerConfig {
    /// nats-server's defaults (`setConsumerConfigDefaults`) and checks
    /// (`checkConsumerCfg`), in its order and with its codes and texts,
    /// for a consumer on a stream configured as `stream`.
    pub fn normalize(
        mut self,
        stream: &crate::jetstream::config::StreamConfig,
    ) -> Result<ConsumerConfig, ApiError> {
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
        if !self.name.is_empty() && !crate::jetstream::config::valid_name(&self.name) {
            return Err(invalid("consumer name can not contain '.', '*', '>', '\\', '/'"));
        }
        if !self.durable_name.is_empty() && !crate::jetstream::config::valid_name(&self.durable_name) {
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
        if self.description.len() > crate::jetstream::config::MAX_DESCRIPTION_LEN {
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
            if stream
                .subjects
                .iter()
                .any(|s| crate::jetstream::config::subset(deliver, s))
            {
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
                    crate::jetstream::clock::go_duration(limit_inactive)
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
                .any(|g| crate::jetstream::config::subset(f, g) || crate::jetstream::config::subset(g, f));
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
        if crate::jetstream::config::metadata_len(&self.metadata) > crate::jetstream::config::MAX_METADATA_LEN
        {
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
    pub(super) fn deliver_policy_problem(&self) -> Option<String> {
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

    pub(super) fn is_durable(&self) -> bool {
        !self.durable_name.is_empty()
    }

    /// Durable, or named and kept (no inactivity limit).
    pub(crate) fn is_durable_or_named(&self) -> bool {
        self.is_durable() || (!self.name.is_empty() && self.inactive_threshold == 0)
    }
}
