//! A stream's consumers: created and updated with nats-server's checks
//! (work queues included), recovered at start, removed. The stream holds
//! them as `StreamConsumer`s; here they are `Consumer`s again.

use std::sync::Arc;

use super::{Consumer, ConsumerConfig};
use crate::jetstream::clock::now_nanos;
use crate::jetstream::config::Retention;
use crate::jetstream::errors::ApiError;
use crate::jetstream::stream::{Outgoing, Stream, StreamConsumer};
use crate::outlet::Producer;
use bytes::Bytes;

/// A consumer as the registry knows it (every stream consumer is one).
fn typed(c: Arc<dyn StreamConsumer>) -> Option<Arc<Consumer>> {
    c.into_any().downcast::<Consumer>().ok()
}

impl StreamConsumer for Consumer {
    fn takes(&self, subject: &[u8]) -> bool {
        Consumer::takes(self, subject)
    }

    fn wants_new(&self, seq: u64, subject: &[u8]) -> bool {
        Consumer::wants_new(self, seq, subject)
    }

    fn deliver_new(&self, stream: &Stream, out: &Outgoing<'_>, producer: &mut Producer) -> bool {
        Consumer::deliver_new(self, stream, out, producer)
    }

    fn stored_new(&self) {
        Consumer::stored_new(self)
    }

    fn done_with_many(&self, msgs: &[(u64, Bytes)], done: &mut [bool]) {
        Consumer::done_with_many(self, msgs, done)
    }

    fn ack_floor(&self) -> u64 {
        Consumer::ack_floor(self)
    }

    fn persist(&self) {
        Consumer::persist(self)
    }

    fn stop(&self, notify: bool) {
        Consumer::stop(self, notify)
    }

    fn into_any(self: Arc<Self>) -> Arc<dyn std::any::Any + Send + Sync> {
        self
    }
}

impl Stream {
    pub fn consumer(&self, name: &str) -> Option<Arc<Consumer>> {
        self.consumers.read().get(name).cloned().and_then(typed)
    }

    pub fn consumers(&self) -> Vec<Arc<Consumer>> {
        self.followers().into_iter().filter_map(typed).collect()
    }

    fn consumer_dir(&self, name: &str) -> Option<std::path::PathBuf> {
        self.dir.as_ref().map(|d| d.join("obs").join(name))
    }

    /// Creates (or, for the same name, updates) a consumer.
    pub fn add_consumer(
        self: &Arc<Self>,
        name: Option<String>,
        config: ConsumerConfig,
        action: &str,
    ) -> Result<Arc<Consumer>, ApiError> {
        let cfg = self.config();
        let config = config.normalize(&cfg)?;
        let Some(account) = self.account.upgrade() else {
            return Err(ApiError::stream_not_found());
        };
        let name = name
            .filter(|n| !n.is_empty())
            .or_else(|| (!config.durable_name.is_empty()).then(|| config.durable_name.clone()))
            .or_else(|| (!config.name.is_empty()).then(|| config.name.clone()))
            .unwrap_or_else(ephemeral_name);
        if config.durable_name.len() > crate::jetstream::config::MAX_NAME_LEN {
            return Err(ApiError::new(
                400,
                10102,
                "consumer name is too long, maximum allowed is 255",
            ));
        }
        if name.contains(['/', '\\']) {
            return Err(ApiError::new(
                400,
                10127,
                "Consumer name can not contain path separators",
            ));
        }
        if !crate::jetstream::config::valid_name(&name) {
            return Err(ApiError::new(
                400,
                10103,
                "durable name can not contain '.', '*', '>'",
            ));
        }
        let workqueue = cfg.retention == Retention::Workqueue;
        let mut consumers = self.consumers.write();
        if let Some(existing) = consumers.get(&name).cloned().and_then(typed) {
            let old = existing.config();
            if old == config {
                return Ok(existing);
            }
            if action == "create" {
                return Err(ApiError::new(400, 10148, "consumer already exists"));
            }
            if workqueue && !partition_unique(&consumers, &name, config.filters()) {
                return Err(not_unique_on_workqueue());
            }
            if let Some(problem) = old.update_problem(&config) {
                return Err(ApiError::consumer_create(problem));
            }
            // A push consumer moves to another deliver subject only once
            // nobody listens on the old one.
            if let Some(from) = old
                .deliver_subject
                .as_deref()
                .filter(|_| old.deliver_subject != config.deliver_subject)
            {
                if !account.matches(from.as_bytes()).is_empty() {
                    return Err(ApiError::consumer_name_exist());
                }
            }
            existing.set_config(config.clone());
            if let Some(dir) = self.consumer_dir(&name).filter(|_| config.is_durable_or_named()) {
                write_consumer_meta(&dir, &config, now_nanos());
            }
            return Ok(existing);
        }
        if action == "update" {
            return Err(ApiError::new(400, 10149, "consumer does not exist"));
        }
        if cfg.max_consumers > 0 && consumers.len() as i64 >= cfg.max_consumers {
            return Err(ApiError::max_consumers());
        }
        if workqueue {
            // A work queue hands each message to one consumer: consumers
            // may not share a subject (nats-server's `partitionUnique`).
            if config.ack_policy != crate::jetstream::consumer::AckPolicy::Explicit {
                return Err(ApiError::new(
                    400,
                    10098,
                    "workqueue stream requires explicit ack",
                ));
            }
            if config.deliver_policy != crate::jetstream::consumer::DeliverPolicy::All {
                return Err(ApiError::new(
                    400,
                    10101,
                    "consumer must be deliver all on workqueue stream",
                ));
            }
            if !consumers.is_empty() {
                if config.filters().is_empty() {
                    return Err(ApiError::new(
                        400,
                        10099,
                        "multiple non-filtered consumers not allowed on workqueue stream",
                    ));
                }
                if !partition_unique(&consumers, &name, config.filters()) {
                    return Err(not_unique_on_workqueue());
                }
            }
        }
        let dir = if cfg.storage == crate::jetstream::config::Storage::File && !config.mem_storage {
            self.consumer_dir(&name)
        } else {
            None
        };
        let created = now_nanos();
        if let Some(d) = &dir {
            let _ = std::fs::remove_dir_all(d);
            write_consumer_meta(d, &config, created);
        }
        let consumer = Consumer::new(self, &account, name.clone(), config, created, dir);
        // Its starting point is saved at once: a `new` consumer recreated
        // from its configuration alone after a crash would skip whatever
        // arrived in between.
        consumer.persist();
        consumer.start(&self.name);
        consumers.insert(name, consumer.clone());
        Ok(consumer)
    }

    /// Brings back the durable consumers saved on disk.
    pub(crate) fn recover_consumers(self: &Arc<Self>) {
        let Some(dir) = self.dir.as_ref().map(|d| d.join("obs")) else {
            return;
        };
        let Some(account) = self.account.upgrade() else {
            return;
        };
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let meta: Option<crate::jetstream::consumer::ConsumerMeta> =
                std::fs::read(path.join("meta.json"))
                    .ok()
                    .and_then(|b| serde_json::from_slice(&b).ok());
            let (Some(meta), Some(name)) = (meta, entry.file_name().to_str().map(str::to_string)) else {
                tracing::error!("JetStream: skipping consumer in {}", path.display());
                continue;
            };
            let consumer = Consumer::new(
                self,
                &account,
                name.clone(),
                meta.config,
                meta.created,
                Some(path),
            );
            consumer.start(&self.name);
            self.consumers.write().insert(name, consumer);
        }
    }

    pub fn remove_consumer(&self, name: &str) -> bool {
        let Some(consumer) = self.consumers.write().remove(name).and_then(typed) else {
            return false;
        };
        consumer.stop(true);
        consumer.remove_files();
        // Interest retention: what only this consumer still wanted goes.
        if self.retention() == Retention::Interest {
            self.drop_uninteresting(u64::MAX);
        }
        true
    }
}

/// A random name for an ephemeral consumer, as nats-server makes them.
pub(super) fn ephemeral_name() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::thread_rng();
    (0..8)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

pub(super) fn write_consumer_meta(dir: &std::path::Path, config: &ConsumerConfig, created: i64) {
    let meta = crate::jetstream::consumer::ConsumerMeta {
        config: config.clone(),
        created,
    };
    let result = std::fs::create_dir_all(dir).and_then(|()| {
        let tmp = dir.join("meta.json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(&meta).unwrap_or_default())?;
        std::fs::rename(&tmp, dir.join("meta.json"))
    });
    if let Err(e) = result {
        tracing::error!("JetStream: could not save consumer {}: {e}", dir.display());
    }
}

/// Whether a work-queue consumer named `name` with `filters` shares no
/// subject with the stream's other consumers: none of them unfiltered, and
/// no pair of filters that one subject could match both.
pub(super) fn partition_unique(
    consumers: &std::collections::BTreeMap<String, Arc<dyn StreamConsumer>>,
    name: &str,
    filters: &[String],
) -> bool {
    consumers
        .iter()
        .filter(|(n, _)| n.as_str() != name)
        .all(|(_, c)| {
            let Some(other) = typed(c.clone()).map(|c| c.config()) else {
                return true;
            };
            let theirs = other.filters();
            !theirs.is_empty()
                && filters
                    .iter()
                    .all(|f| theirs.iter().all(|g| !crate::jetstream::config::overlaps(f, g)))
        })
}

pub(super) fn not_unique_on_workqueue() -> ApiError {
    ApiError::new(400, 10100, "filtered consumer not unique on workqueue stream")
}
