//! A stream: its configuration, its store, and the subscriptions that
//! capture what is published on its subjects. A captured publish is checked
//! against the publisher's expectations (`Nats-Expected-*`, `Nats-Msg-Id`)
//! and the stream's limits, stored, and answered with a PubAck on its reply
//! subject, all on the publisher's own path before its next read.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Weak};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use parking_lot::Mutex;
use serde_json::{json, Value};

use super::config::{Discard, Retention, StreamConfig};
use super::consumer::{Consumer, ConsumerConfig, Outgoing};
use super::errors::ApiError;
use super::headers;
use super::store::{MsgStore, StoreState, StoredMsg};
use super::transform::Transform;
use crate::account::Account;
use crate::outlet::Producer;
use crate::subscription::{Message, Subscriber, Subscription};

/// Unix time in nanoseconds.
pub fn now_nanos() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

/// RFC 3339 with nanoseconds in UTC, as Go prints `time.Time` in JSON; the
/// zero time for 0.
pub fn rfc3339(nanos: i64) -> String {
    if nanos == 0 {
        return "0001-01-01T00:00:00Z".into();
    }
    chrono::DateTime::from_timestamp_nanos(nanos).to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// What a publisher's answer depends on: the stream's `no_ack`, and its
/// `republish` destination.
type Answer = (bool, Option<Arc<(Transform, bool)>>);

pub struct Stream {
    pub name: String,
    account: Weak<Account>,
    inner: Mutex<Inner>,
    /// The capture subscriptions in the account's sublist.
    subs: Mutex<Vec<Arc<Subscription>>>,
    /// The last sequence stored, watched by consumers waiting for more.
    pub(crate) appended: tokio::sync::watch::Sender<u64>,
    consumers: parking_lot::RwLock<std::collections::BTreeMap<String, Arc<Consumer>>>,
    /// The stream's directory, for file storage.
    dir: Option<std::path::PathBuf>,
    /// The account whose storage limits a publish must fit in (when it has any).
    quota: parking_lot::RwLock<Option<Weak<super::JsAccount>>>,
    /// Deleted: tasks following it stop.
    released: std::sync::atomic::AtomicBool,
    /// The start of every PubAck, up to the sequence: `{"stream":"S", "seq":`
    /// (with the domain when there is one), in nats-server's exact bytes.
    ack_head: Box<[u8]>,
}

struct Inner {
    config: StreamConfig,
    created: i64,
    store: Box<dyn MsgStore>,
    /// `Nats-Msg-Id`s seen within the duplicate window, with their sequence.
    msg_ids: HashMap<String, u64>,
    msg_id_order: VecDeque<(i64, String)>,
    last_msg_id: Option<String>,
    /// `subject_transform` and `republish`, compiled once per configuration
    /// rather than on every publish.
    transform: Option<Transform>,
    republish: Option<Arc<(Transform, bool)>>,
}

/// The compiled transforms of a configuration (already checked by `normalize`).
fn compile(config: &StreamConfig) -> (Option<Transform>, Option<Arc<(Transform, bool)>>) {
    let (transform, republish) = config.transforms().unwrap_or((None, None));
    (transform, republish.map(Arc::new))
}

/// Why a publish was not stored, and what the publisher is told.
type Refusal = ApiError;

impl Stream {
    pub fn new(
        account: &Arc<Account>,
        config: StreamConfig,
        created: i64,
        store: Box<dyn MsgStore>,
        dir: Option<std::path::PathBuf>,
        domain: Option<&str>,
    ) -> Arc<Stream> {
        let last = store.state().last_seq;
        let quoted = |s: &str| serde_json::to_string(s).unwrap_or_default();
        let ack_head = match domain {
            Some(d) => format!(
                "{{\"stream\":{}, \"domain\":{}, \"seq\":",
                quoted(&config.name),
                quoted(d)
            ),
            None => format!("{{\"stream\":{}, \"seq\":", quoted(&config.name)),
        };
        Arc::new(Stream {
            ack_head: ack_head.into_bytes().into_boxed_slice(),
            name: config.name.clone(),
            account: Arc::downgrade(account),
            inner: Mutex::new({
                let (transform, republish) = compile(&config);
                Inner {
                    config,
                    created,
                    store,
                    msg_ids: HashMap::new(),
                    msg_id_order: VecDeque::new(),
                    last_msg_id: None,
                    transform,
                    republish,
                }
            }),
            subs: Mutex::new(Vec::new()),
            appended: tokio::sync::watch::channel(last).0,
            consumers: parking_lot::RwLock::new(std::collections::BTreeMap::new()),
            dir,
            quota: parking_lot::RwLock::new(None),
            released: std::sync::atomic::AtomicBool::new(false),
        })
    }

    pub fn is_released(&self) -> bool {
        self.released.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Stores a copy of another stream's message: under its own sequence
    /// for a mirror (`seq`), or under the next one with a
    /// `Nats-Stream-Source` header naming where it came from.
    pub fn store_copy(&self, m: &StoredMsg, seq: Option<u64>, origin: Option<&str>) -> Result<(), ApiError> {
        let mut inner = self.inner.lock();
        if let Some(seq) = seq {
            let last = inner.store.state().last_seq;
            if seq <= last {
                return Ok(());
            }
            inner.store.skip_to(seq).map_err(ApiError::store_failed)?;
        }
        let headers = match origin {
            Some(origin) => {
                let mark = format!("Nats-Stream-Source: {origin} {}\r\n\r\n", m.seq);
                if m.headers.is_empty() {
                    format!("NATS/1.0\r\n{mark}").into_bytes()
                } else {
                    let mut h = m.headers[..m.headers.len() - 2].to_vec();
                    h.extend_from_slice(mark.as_bytes());
                    h
                }
            }
            None => m.headers.to_vec(),
        };
        let time = if seq.is_some() { m.time } else { now_nanos() };
        let stored = inner
            .store
            .append(&m.subject, &headers, &m.payload, time)
            .map_err(ApiError::store_failed)?;
        inner.enforce_limits(now_nanos(), Some(&m.subject));
        drop(inner);
        self.announce(stored);
        Ok(())
    }

    /// Where copying from each source stopped (file streams keep it on disk).
    pub(crate) fn load_source_positions(&self) -> HashMap<String, u64> {
        self.dir
            .as_ref()
            .and_then(|d| std::fs::read(d.join("sources.json")).ok())
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    pub(crate) fn save_source_positions(&self, positions: &HashMap<String, u64>) {
        let Some(dir) = &self.dir else { return };
        let tmp = dir.join("sources.json.tmp");
        let result = std::fs::write(&tmp, serde_json::to_vec(positions).unwrap_or_default())
            .and_then(|()| std::fs::rename(&tmp, dir.join("sources.json")));
        if let Err(e) = result {
            tracing::error!(stream = %self.name, "JetStream: could not save source positions: {e}");
        }
    }

    /// Makes publishes check `account`'s storage limits first.
    pub(crate) fn set_quota(&self, account: Weak<super::JsAccount>) {
        *self.quota.write() = Some(account);
    }

    pub fn consumer(&self, name: &str) -> Option<Arc<Consumer>> {
        self.consumers.read().get(name).cloned()
    }

    pub fn consumers(&self) -> Vec<Arc<Consumer>> {
        self.consumers.read().values().cloned().collect()
    }

    pub fn consumer_count(&self) -> usize {
        self.consumers.read().len()
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
        if config.durable_name.len() > super::config::MAX_NAME_LEN {
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
        if !super::config::valid_name(&name) {
            return Err(ApiError::new(
                400,
                10103,
                "durable name can not contain '.', '*', '>'",
            ));
        }
        let workqueue = cfg.retention == Retention::Workqueue;
        let mut consumers = self.consumers.write();
        if let Some(existing) = consumers.get(&name) {
            let old = existing.config();
            if old == config {
                return Ok(existing.clone());
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
                if !account.sublist.matches(from.as_bytes()).is_empty() {
                    return Err(ApiError::consumer_name_exist());
                }
            }
            existing.set_config(config.clone());
            if let Some(dir) = self.consumer_dir(&name).filter(|_| config.is_durable_or_named()) {
                write_consumer_meta(&dir, &config, now_nanos());
            }
            return Ok(existing.clone());
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
            if config.ack_policy != super::consumer::AckPolicy::Explicit {
                return Err(ApiError::new(
                    400,
                    10098,
                    "workqueue stream requires explicit ack",
                ));
            }
            if config.deliver_policy != super::consumer::DeliverPolicy::All {
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
        let dir = if cfg.storage == super::config::Storage::File && !config.mem_storage {
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
            let meta: Option<super::consumer::ConsumerMeta> = std::fs::read(path.join("meta.json"))
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
        let Some(consumer) = self.consumers.write().remove(name) else {
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

    /// Interest and work-queue retention: drops every message up to `upto`
    /// that no consumer still wants.
    fn drop_uninteresting(&self, upto: u64) {
        let mut seqs = Vec::new();
        {
            let inner = self.inner.lock();
            let index = inner.store.index();
            let mut at = 0;
            while let Some(seq) = index.finder.next_matching(at, &mut |_| true) {
                if seq > upto {
                    break;
                }
                seqs.push(seq);
                at = seq + 1;
            }
        }
        self.drop_if_no_interest_many(&seqs);
    }

    /// Saves the consumers' delivery state.
    pub fn persist_consumers(&self) {
        for c in self.consumers() {
            c.persist();
        }
    }

    pub fn config(&self) -> StreamConfig {
        self.inner.lock().config.clone()
    }

    /// Reads the configuration in place (no copy: for hot paths).
    pub fn with_config<R>(&self, f: impl FnOnce(&StreamConfig) -> R) -> R {
        f(&self.inner.lock().config)
    }

    pub fn created(&self) -> i64 {
        self.inner.lock().created
    }

    pub fn state(&self) -> StoreState {
        self.inner.lock().store.state()
    }

    /// Subscribes the stream to its subjects in its account.
    pub fn capture(self: &Arc<Self>) {
        let Some(account) = self.account.upgrade() else {
            return;
        };
        let subjects = self.inner.lock().config.subjects.clone();
        let mut subs = self.subs.lock();
        for sub in subs.drain(..) {
            account.sublist.remove(&sub);
        }
        let capture: Arc<dyn Subscriber> = Arc::new(Capture(Arc::downgrade(self)));
        for subject in subjects {
            let sub = Arc::new(Subscription::new(
                Bytes::from(subject),
                None,
                Bytes::new(),
                capture.clone(),
            ));
            if account.sublist.insert(sub.clone()).is_ok() {
                subs.push(sub);
            }
        }
    }

    /// Stops capturing and stops its consumers (the stream is deleted).
    pub fn release(&self) {
        self.released.store(true, std::sync::atomic::Ordering::Release);
        if let Some(account) = self.account.upgrade() {
            for sub in self.subs.lock().drain(..) {
                account.sublist.remove(&sub);
            }
        }
        let consumers: Vec<_> = std::mem::take(&mut *self.consumers.write())
            .into_values()
            .collect();
        for c in consumers {
            c.stop(true);
        }
    }

    /// The first message at or after `seq` matching any of `filters`.
    pub fn next_matching_any(&self, seq: u64, filters: &[String]) -> Result<Option<StoredMsg>, ApiError> {
        let inner = self.inner.lock();
        let index = inner.store.index();
        let found = index.finder.next_matching(seq, &mut |s| {
            filters
                .iter()
                .any(|f| junction_nats::subject::matches(f.as_bytes(), s))
        });
        drop(index);
        match found {
            Some(seq) => inner.store.get(seq).map_err(ApiError::store_failed),
            None => Ok(None),
        }
    }

    /// Live messages at or after `seq` matching any of `filters`.
    pub fn count_matching_from(&self, seq: u64, filters: &[String]) -> u64 {
        let inner = self.inner.lock();
        let index = inner.store.index();
        index.finder.count_matching(seq, &mut |subj| {
            filters
                .iter()
                .any(|f| junction_nats::subject::matches(f.as_bytes(), subj))
        })
    }

    /// The first live and the last assigned sequence, and the highest
    /// sequence ever removed, under one lock.
    pub fn bounds(&self) -> (u64, u64, u64) {
        let inner = self.inner.lock();
        let state = inner.store.state();
        let removed = inner.store.index().removed_max;
        (state.first_seq, state.last_seq, removed)
    }

    /// The first live sequence stored at or after `time` (unix ns).
    pub fn first_at_or_after(&self, time: i64) -> Option<u64> {
        self.inner.lock().store.index().finder.first_at_or_after(time)
    }

    /// The newest sequence of each subject matching `filters` (all without).
    pub fn last_per_subject(&self, filters: &[String]) -> Vec<u64> {
        let inner = self.inner.lock();
        let index = inner.store.index();
        let subjects: Vec<Bytes> = index
            .subject_counts
            .map(|(s, _)| s.clone())
            .filter(|s| {
                filters.is_empty()
                    || filters
                        .iter()
                        .any(|f| junction_nats::subject::matches(f.as_bytes(), s))
            })
            .collect();
        subjects
            .iter()
            .filter_map(|subj| index.finder.last_matching(&mut |s| s == &subj[..]))
            .collect()
    }

    /// Removes a message its retention policy lets go (all its consumers
    /// are done with it), whatever `deny_delete` says; see
    /// `MsgStore::remove_settled`.
    pub fn delete_msg_internal(&self, seq: u64) -> bool {
        self.inner.lock().store.remove_settled(seq).unwrap_or(false)
    }

    /// Writes what the store held back: removals of settled messages, and
    /// what `accept_deferred` stored (before its publisher hears that its
    /// messages are stored).
    pub fn flush_held(&self) -> Result<(), ApiError> {
        self.inner
            .lock()
            .store
            .flush_held()
            .map_err(ApiError::store_failed)
    }

    /// Tells the consumers, and any mirror or source following this stream,
    /// that `seq` was stored. The watch notifies only when someone watches.
    fn announce(&self, seq: u64) {
        for c in self.consumers.read().values() {
            c.stored_new();
        }
        self.notify_watchers(seq);
    }

    /// Tells whoever waits for the stream's last sequence (sources,
    /// mirrors, `appended` watchers) that `seq` is stored.
    fn notify_watchers(&self, seq: u64) {
        let watched = self.appended.receiver_count() > 0;
        self.appended.send_if_modified(|v| {
            *v = seq;
            watched
        });
    }

    /// Interest retention: drops `seq` once every consumer is done with it.
    pub fn drop_if_no_interest(&self, seq: u64) {
        self.drop_if_no_interest_many(&[seq]);
    }

    /// `drop_if_no_interest` for several messages, taking each lock once
    /// rather than once a message: acks come in batches.
    pub fn drop_if_no_interest_many(&self, seqs: &[u64]) {
        let subjects: Vec<(u64, _)> = {
            let inner = self.inner.lock();
            let index = inner.store.index();
            seqs.iter()
                .filter_map(|&seq| index.finder.subject_of(seq).map(|s| (seq, s)))
                .collect()
        };
        if subjects.is_empty() {
            return;
        }
        let mut done = vec![true; subjects.len()];
        for c in self.consumers() {
            c.done_with_many(&subjects, &mut done);
        }
        if done.iter().any(|&d| d) {
            let mut inner = self.inner.lock();
            for ((seq, _), _) in subjects.iter().zip(&done).filter(|(_, &d)| d) {
                let _ = inner.store.remove_settled(*seq);
            }
        }
    }

    /// Replaces the configuration (already checked as an allowed update).
    pub fn update(self: &Arc<Self>, config: StreamConfig) {
        let resubscribe = {
            let mut inner = self.inner.lock();
            let changed = inner.config.subjects != config.subjects;
            (inner.transform, inner.republish) = compile(&config);
            inner.config = config;
            inner.enforce_limits(now_nanos(), None);
            changed
        };
        if resubscribe {
            self.capture();
        }
    }

    pub fn get(&self, seq: u64) -> Result<Option<StoredMsg>, ApiError> {
        self.inner.lock().store.get(seq).map_err(ApiError::store_failed)
    }

    /// The newest message on a subject matching `filter`.
    pub fn last_for(&self, filter: &str) -> Result<Option<StoredMsg>, ApiError> {
        let inner = self.inner.lock();
        let index = inner.store.index();
        let seq = index
            .finder
            .last_matching(&mut |s| junction_nats::subject::matches(filter.as_bytes(), s));
        drop(index);
        match seq {
            Some(seq) => inner.store.get(seq).map_err(ApiError::store_failed),
            None => Ok(None),
        }
    }

    /// The first message at or after `seq` on a subject matching `filter`.
    pub fn next_for(&self, seq: u64, filter: Option<&str>) -> Result<Option<StoredMsg>, ApiError> {
        let inner = self.inner.lock();
        let index = inner.store.index();
        let found = index.finder.next_matching(seq, &mut |s| {
            filter.is_none_or(|f| junction_nats::subject::matches(f.as_bytes(), s))
        });
        drop(index);
        match found {
            Some(seq) => inner.store.get(seq).map_err(ApiError::store_failed),
            None => Ok(None),
        }
    }

    pub fn delete_msg(&self, seq: u64) -> Result<bool, ApiError> {
        let mut inner = self.inner.lock();
        if inner.config.sealed {
            return Err(ApiError::sealed());
        }
        if inner.config.deny_delete {
            return Err(ApiError::msg_delete_failed("message delete not permitted"));
        }
        inner.store.remove(seq).map_err(ApiError::msg_delete_failed)
    }

    /// Purges all, or what matches `filter`, below `seq`, or all but the
    /// newest `keep`. Returns how many messages went.
    pub fn purge(&self, filter: Option<&str>, seq: Option<u64>, keep: Option<u64>) -> Result<u64, ApiError> {
        let mut inner = self.inner.lock();
        if inner.config.sealed {
            return Err(ApiError::sealed());
        }
        if inner.config.deny_purge {
            return Err(ApiError::purge_failed("stream purge not permitted"));
        }
        let state = inner.store.state();
        let filtered = filter.filter(|f| !f.is_empty() && *f != ">");
        if filtered.is_none() {
            let below = match (seq, keep) {
                (Some(s), _) => s,
                (None, Some(k)) if k > 0 => {
                    if state.msgs <= k {
                        return Ok(0);
                    }
                    // The k newest live messages stay.
                    let mut kept = 0;
                    let mut cut = state.last_seq + 1;
                    let index = inner.store.index();
                    let mut at = state.last_seq;
                    while kept < k && at >= state.first_seq {
                        if index.finder.next_matching(at, &mut |_| true) == Some(at) {
                            kept += 1;
                            cut = at;
                        }
                        if at == 0 {
                            break;
                        }
                        at -= 1;
                    }
                    drop(index);
                    cut
                }
                _ => state.last_seq + 1,
            };
            return inner.store.purge_below(below).map_err(ApiError::purge_failed);
        }
        let filter = filtered.unwrap_or_default().to_string();
        let mut victims = Vec::new();
        {
            let index = inner.store.index();
            let mut at = state.first_seq;
            while let Some(s) = index.finder.next_matching(at, &mut |subj| {
                junction_nats::subject::matches(filter.as_bytes(), subj)
            }) {
                victims.push(s);
                at = s + 1;
            }
        }
        if let Some(below) = seq {
            victims.retain(|&s| s < below);
        }
        if let Some(k) = keep {
            let n = victims.len().saturating_sub(k as usize);
            victims.truncate(n);
        }
        let mut n = 0;
        for s in victims {
            if inner.store.remove(s).map_err(ApiError::purge_failed)? {
                n += 1;
            }
        }
        Ok(n)
    }

    /// Drops messages past `max_age`; called periodically.
    pub fn expire(&self) {
        self.inner.lock().enforce_limits(now_nanos(), None);
    }

    /// Flushes the store to disk.
    pub fn sync(&self) {
        // The fsync runs outside the lock, so publishers are not held up.
        let files = self.inner.lock().store.sync_handles();
        for file in files {
            if let Err(e) = file.sync_data() {
                tracing::error!(stream = %self.name, "JetStream: sync failed: {e}");
            }
        }
    }

    /// Subject counts matching `filter`, for `subjects_filter` in a stream info.
    pub fn subjects(&self, filter: &str) -> serde_json::Map<String, Value> {
        let inner = self.inner.lock();
        let index = inner.store.index();
        index
            .subject_counts
            .filter(|(s, _)| junction_nats::subject::matches(filter.as_bytes(), s))
            .map(|(s, n)| (String::from_utf8_lossy(s).into_owned(), json!(n)))
            .collect()
    }

    /// Sequences between the first and the last that are gone
    /// (`deleted_details`), at most `DELETED_DETAILS_MAX` of them.
    pub fn deleted(&self) -> Vec<u64> {
        const DELETED_DETAILS_MAX: usize = 100_000;
        let inner = self.inner.lock();
        let state = inner.store.state();
        let index = inner.store.index();
        let mut out = Vec::new();
        let mut expect = state.first_seq;
        let mut at = state.first_seq;
        while let Some(seq) = index.finder.next_matching(at, &mut |_| true) {
            while expect < seq && out.len() < DELETED_DETAILS_MAX {
                out.push(expect);
                expect += 1;
            }
            expect = seq + 1;
            at = seq + 1;
            if out.len() >= DELETED_DETAILS_MAX {
                break;
            }
        }
        out
    }

    pub fn num_subjects(&self) -> usize {
        self.inner.lock().store.index().num_subjects
    }

    /// Stores one captured publish; `Ok((seq, duplicate))` or why not.
    /// `answer` gets the stream's `no_ack` and `republish`, read under the
    /// same lock.
    fn store(
        &self,
        msg: &Message<'_>,
        answer: &mut Option<Answer>,
        producer: &mut Producer,
        deferred: bool,
    ) -> Result<(u64, bool), Refusal> {
        let now = now_nanos();
        let mut inner = self.inner.lock();
        *answer = Some((inner.config.no_ack, inner.republish.clone()));
        let transformed = inner
            .transform
            .as_ref()
            .and_then(|t| t.apply(&String::from_utf8_lossy(msg.subject)));
        let stored_msg;
        let msg = match &transformed {
            Some(subject) => {
                stored_msg = Message {
                    subject: subject.as_bytes(),
                    ..*msg
                };
                &stored_msg
            }
            None => msg,
        };
        let (hdrs, body) = match msg.header_len {
            Some(h) => msg.payload.split_at(h),
            None => (&[][..], msg.payload),
        };
        let cfg = &inner.config;
        if cfg.sealed {
            return Err(ApiError::sealed());
        }
        if cfg.max_msg_size > 0 && (hdrs.len() + body.len()) as i64 > cfg.max_msg_size {
            return Err(ApiError::message_too_big());
        }
        let state = inner.store.state();
        // Only `Nats-…` headers ask anything of the stream.
        let nats_headers = headers::has_nats_headers(hdrs);
        if nats_headers {
            if headers::get(hdrs, "Nats-TTL").is_some() {
                // Told, not kept forever in silence.
                return Err(ApiError::new(
                    400,
                    10166,
                    "per-message TTL is not supported by this server yet",
                ));
            }
            if let Some(expected) = headers::get(hdrs, "Nats-Expected-Stream") {
                if expected != self.name {
                    return Err(ApiError::stream_not_match());
                }
            }
            if let Some(expected) = headers::get(hdrs, "Nats-Expected-Last-Sequence") {
                if expected.parse::<u64>().ok() != Some(state.last_seq) {
                    return Err(ApiError::wrong_last_sequence(state.last_seq));
                }
            }
            if let Some(expected) = headers::get(hdrs, "Nats-Expected-Last-Subject-Sequence") {
                let last = {
                    let index = inner.store.index();
                    index.finder.last_matching(&mut |s| s == msg.subject).unwrap_or(0)
                };
                if expected.parse::<u64>().ok() != Some(last) {
                    return Err(ApiError::wrong_last_sequence(last));
                }
            }
            if let Some(expected) = headers::get(hdrs, "Nats-Expected-Last-Msg-Id") {
                let last = inner.last_msg_id.clone().unwrap_or_default();
                if expected != last {
                    return Err(ApiError::wrong_last_msg_id(&last));
                }
            }
        }
        let msg_id = nats_headers
            .then(|| headers::get(hdrs, "Nats-Msg-Id").map(str::to_string))
            .flatten();
        inner.forget_old_msg_ids(now);
        if let Some(id) = &msg_id {
            if let Some(&seq) = inner.msg_ids.get(id) {
                return Ok((seq, true));
            }
        }
        let rollup = nats_headers
            .then(|| headers::get(hdrs, "Nats-Rollup").map(str::to_string))
            .flatten();
        if rollup.is_some() && !inner.config.allow_rollup_hdrs {
            return Err(ApiError::new_rollup("rollup not permitted"));
        }
        inner.check_discard_new(msg.subject, hdrs.len() + body.len())?;
        let seq = if deferred {
            inner.store.append_deferred(msg.subject, hdrs, body, now)
        } else {
            inner.store.append(msg.subject, hdrs, body, now)
        }
        .map_err(ApiError::store_failed)?;
        match rollup.as_deref() {
            Some("all") => {
                let _ = inner.store.purge_below(seq);
            }
            Some("sub") => {
                // A subject with wildcards (a KV purge of `hello.*`) rolls
                // up every subject it matches, as in nats-server.
                let wild = !junction_nats::subject::is_literal(msg.subject);
                let mut same = |s: &[u8]| {
                    if wild {
                        junction_nats::subject::matches(msg.subject, s)
                    } else {
                        s == msg.subject
                    }
                };
                let older: Vec<u64> = {
                    let index = inner.store.index();
                    let mut v = Vec::new();
                    let mut at = 0;
                    while let Some(s) = index.finder.next_matching(at, &mut same) {
                        if s >= seq {
                            break;
                        }
                        v.push(s);
                        at = s + 1;
                    }
                    v
                };
                for s in older {
                    let _ = inner.store.remove(s);
                }
            }
            Some(other) => return Err(ApiError::new_rollup(format!("rollup value invalid: {other:?}"))),
            None => {}
        }
        if let Some(id) = msg_id {
            inner.msg_ids.insert(id.clone(), seq);
            inner.msg_id_order.push_back((now, id.clone()));
            inner.last_msg_id = Some(id);
        }
        inner.enforce_limits(now, Some(msg.subject));
        let interest = inner.config.retention == Retention::Interest;
        drop(inner);
        let consumers = self.consumers();
        // An interest stream keeps a message only while a consumer wants it.
        if interest && !consumers.iter().any(|c| c.wants_new(seq, msg.subject)) {
            self.delete_msg_internal(seq);
        } else {
            let out = Outgoing {
                seq,
                subject: msg.subject,
                header_len: msg.header_len,
                body: msg.payload,
                time: now,
            };
            // Sent from here where a consumer can; its task is woken only
            // when it has to take the message itself.
            for c in &consumers {
                if !c.deliver_new(self, &out, producer) && c.takes(msg.subject) {
                    c.stored_new();
                }
            }
        }
        self.notify_watchers(seq);
        Ok((seq, false))
    }

    /// Stores one publish as if the stream had captured it (limits,
    /// expectations, de-duplication, republish): `Ok((seq, duplicate))`, or
    /// why not. The MQTT session stores its QoS 1 and 2 messages this way.
    pub fn accept(&self, msg: &Message<'_>, producer: &mut Producer) -> Result<(u64, bool), ApiError> {
        self.accept_and_no_ack(msg, producer, false).0
    }

    /// `accept`, but the message may wait in memory to be written with
    /// those that follow it: the caller calls `flush_held` before it
    /// tells the publisher that it is stored.
    pub fn accept_deferred(
        &self,
        msg: &Message<'_>,
        producer: &mut Producer,
    ) -> Result<(u64, bool), ApiError> {
        self.accept_and_no_ack(msg, producer, true).0
    }

    /// `accept`, and the stream's `no_ack`, read under the same lock.
    fn accept_and_no_ack(
        &self,
        msg: &Message<'_>,
        producer: &mut Producer,
        deferred: bool,
    ) -> (Result<(u64, bool), ApiError>, bool) {
        // Limits are checked before the stream's lock is taken: counting
        // usage looks at every stream of the account, this one included.
        let quota = self.quota.read().as_ref().and_then(Weak::upgrade);
        let within_quota = match quota {
            Some(acc) => {
                let storage = self.with_config(|c| c.storage);
                let size = super::store::record_size(msg.subject.len(), 0, msg.payload.len());
                acc.check_quota(storage, size)
            }
            None => Ok(()),
        };
        let mut answer = None;
        let result = within_quota.and_then(|()| self.store(msg, &mut answer, producer, deferred));
        // Refused before storing: read them now.
        let (no_ack, republish) = answer.unwrap_or_else(|| {
            let inner = self.inner.lock();
            (inner.config.no_ack, inner.republish.clone())
        });
        if let (Ok((seq, false)), Some(republish)) = (&result, republish) {
            self.republish(*seq, &republish, producer);
        }
        (result, no_ack)
    }

    /// A captured publish: store it and answer the publisher.
    fn ingest(&self, msg: &Message<'_>, producer: &mut Producer) {
        let (result, no_ack) = self.accept_and_no_ack(msg, producer, false);
        let Some(reply) = msg.reply else {
            if let Err(e) = result {
                tracing::debug!(stream = %self.name, "JetStream: publish not stored: {}", e.description);
            }
            return;
        };
        if no_ack {
            return;
        }
        let payload = match result {
            Ok((seq, duplicate)) => {
                let mut ack = Vec::with_capacity(self.ack_head.len() + 40);
                ack.extend_from_slice(&self.ack_head);
                ack.extend_from_slice(seq.to_string().as_bytes());
                if duplicate {
                    ack.extend_from_slice(b",\"duplicate\": true");
                }
                ack.push(b'}');
                ack
            }
            Err(e) => serde_json::to_vec(&json!({"error": e})).unwrap_or_default(),
        };
        if let Some(account) = self.account.upgrade() {
            crate::router::publish_internal_with(&account, reply, &payload, producer);
        }
    }

    /// `republish`: sends a stored message on to its destination subject,
    /// with where it came from in headers.
    fn republish(&self, seq: u64, to: &(Transform, bool), producer: &mut Producer) {
        let (republish, headers_only) = (&to.0, to.1);
        let Ok(Some(m)) = self.get(seq) else { return };
        let subject = String::from_utf8_lossy(&m.subject).into_owned();
        let Some(dest) = republish.apply(&subject) else {
            return;
        };
        let Some(account) = self.account.upgrade() else {
            return;
        };
        let mut pairs = vec![
            ("Nats-Stream", self.name.clone()),
            ("Nats-Subject", subject),
            ("Nats-Sequence", seq.to_string()),
            ("Nats-Last-Sequence", seq.saturating_sub(1).to_string()),
        ];
        if headers_only {
            pairs.push(("Nats-Msg-Size", m.payload.len().to_string()));
        }
        let extra = headers::pairs(&m.headers);
        for (k, v) in &extra {
            pairs.push((k.as_str(), v.clone()));
        }
        let block = headers::block(&pairs);
        let payload: &[u8] = if headers_only { b"" } else { &m.payload };
        crate::router::publish_full(&account, dest.as_bytes(), None, &block, payload, producer);
    }

    /// Interest and work-queue retention: drops what every consumer was
    /// done with before a crash, whose removal had not reached the disk.
    pub(crate) fn settle_after_recovery(&self) {
        if self.retention() == Retention::Limits {
            return;
        }
        let Some(floor) = self.consumers().iter().map(|c| c.ack_floor()).max() else {
            return;
        };
        self.drop_uninteresting(floor);
    }

    pub fn retention(&self) -> Retention {
        self.inner.lock().config.retention
    }
}

impl ApiError {
    fn new_rollup(err: impl std::fmt::Display) -> Self {
        ApiError {
            code: 500,
            err_code: 10111,
            description: err.to_string(),
        }
    }
}

impl Inner {
    fn forget_old_msg_ids(&mut self, now: i64) {
        let window = self.config.duplicate_window;
        while let Some((at, _)) = self.msg_id_order.front() {
            if now - at < window {
                break;
            }
            if let Some((_, id)) = self.msg_id_order.pop_front() {
                self.msg_ids.remove(&id);
            }
        }
    }

    /// With `discard: new`, refuses what would pass a limit.
    fn check_discard_new(&self, subject: &[u8], size: usize) -> Result<(), Refusal> {
        let cfg = &self.config;
        if cfg.discard != Discard::New {
            return Ok(());
        }
        let state = self.store.state();
        if cfg.max_msgs > 0 && state.msgs >= cfg.max_msgs as u64 {
            return Err(ApiError::store_failed("maximum messages exceeded"));
        }
        if cfg.max_bytes > 0 && state.bytes + size as u64 > cfg.max_bytes as u64 {
            return Err(ApiError::store_failed("maximum bytes exceeded"));
        }
        if cfg.discard_new_per_subject
            && cfg.max_msgs_per_subject > 0
            && self.store.index().finder.count_subject(subject) >= cfg.max_msgs_per_subject as u64
        {
            return Err(ApiError::store_failed("maximum messages per subject exceeded"));
        }
        Ok(())
    }

    /// Drops the oldest messages past `max_msgs`, `max_bytes`,
    /// `max_msgs_per_subject` and `max_age`. After a store, `stored` names
    /// its subject: the only one that can have gone over its limit.
    fn enforce_limits(&mut self, now: i64, stored: Option<&[u8]>) {
        let cfg = &self.config;
        let (max_age, per_subject, discard, max_msgs, max_bytes) = (
            cfg.max_age,
            cfg.max_msgs_per_subject,
            cfg.discard,
            cfg.max_msgs,
            cfg.max_bytes,
        );
        if max_age > 0 {
            let old = self.store.index().finder.older_than(now - max_age);
            for seq in old {
                let _ = self.store.remove(seq);
            }
        }
        if per_subject > 0 {
            let limit = per_subject as u64;
            let over: Vec<(Bytes, u64)> = match stored {
                Some(subject) => {
                    let n = self.store.index().finder.count_subject(subject);
                    if n > limit {
                        vec![(Bytes::copy_from_slice(subject), n - limit)]
                    } else {
                        Vec::new()
                    }
                }
                None => self
                    .store
                    .index()
                    .subject_counts
                    .filter(|(_, n)| *n > limit)
                    .map(|(s, n)| (s.clone(), n - limit))
                    .collect(),
            };
            for (subject, extra) in over {
                for _ in 0..extra {
                    let oldest = self.store.index().finder.oldest_of_subject(&subject);
                    match oldest {
                        Some(seq) => {
                            let _ = self.store.remove(seq);
                        }
                        None => break,
                    }
                }
            }
        }
        if discard == Discard::Old && (max_msgs > 0 || max_bytes > 0) {
            loop {
                let st = self.store.state();
                let over_msgs = max_msgs > 0 && st.msgs > max_msgs as u64;
                let over_bytes = max_bytes > 0 && st.bytes > max_bytes as u64;
                if !(over_msgs || over_bytes) || st.msgs == 0 {
                    break;
                }
                let _ = self.store.remove(st.first_seq);
            }
        }
    }
}

/// The subscriber that hands a stream what is published on its subjects.
struct Capture(Weak<Stream>);

impl Subscriber for Capture {
    fn client_id(&self) -> u64 {
        0
    }

    fn deliver(&self, _sub: &Subscription, msg: &Message<'_>, producer: &mut Producer) {
        if let Some(stream) = self.0.upgrade() {
            stream.ingest(msg, producer);
        }
    }

    fn expire(&self, _sub: &Arc<Subscription>) {}
}

/// The `state` object of a stream info.
pub fn state_json(state: &StoreState, consumers: usize, extra: serde_json::Map<String, Value>) -> Value {
    let mut v = json!({
        "messages": state.msgs,
        "bytes": state.bytes,
        "first_seq": state.first_seq,
        "first_ts": rfc3339(state.first_time),
        "last_seq": state.last_seq,
        "last_ts": rfc3339(state.last_time),
    });
    if let Some(map) = v.as_object_mut() {
        map.extend(extra);
        if state.num_deleted > 0 {
            map.insert("num_deleted".into(), json!(state.num_deleted));
        }
        map.insert("consumer_count".into(), json!(consumers));
    }
    v
}

/// A random name for an ephemeral consumer, as nats-server makes them.
fn ephemeral_name() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::thread_rng();
    (0..8)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

fn write_consumer_meta(dir: &std::path::Path, config: &ConsumerConfig, created: i64) {
    let meta = super::consumer::ConsumerMeta {
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
fn partition_unique(
    consumers: &std::collections::BTreeMap<String, Arc<Consumer>>,
    name: &str,
    filters: &[String],
) -> bool {
    consumers
        .iter()
        .filter(|(n, _)| n.as_str() != name)
        .all(|(_, c)| {
            let other = c.config();
            let theirs = other.filters();
            !theirs.is_empty()
                && filters
                    .iter()
                    .all(|f| theirs.iter().all(|g| !super::config::overlaps(f, g)))
        })
}

fn not_unique_on_workqueue() -> ApiError {
    ApiError::new(400, 10100, "filtered consumer not unique on workqueue stream")
}
