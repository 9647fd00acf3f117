//! A stream: its configuration, its store, and the subscriptions that
//! capture what is published on its subjects. A captured publish is checked
//! against the publisher's expectations (`Nats-Expected-*`, `Nats-Msg-Id`)
//! and the stream's limits, stored, and answered with a PubAck on its reply
//! subject, all on the publisher's own path before its next read.
//!
//! Here: the stream, its configuration and capture. Beside it: `ingest`,
//! `consumers`, `queries`, `removal` and `sourcing`.

mod decide;
mod ingest;
mod queries;
mod removal;
mod sourcing;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Weak};

use bytes::Bytes;
use parking_lot::Mutex;
use serde_json::{json, Value};

use super::clock::{now_nanos, rfc3339};
use super::config::{Retention, Storage, StreamConfig};
use super::errors::ApiError;
use super::store::{MsgStore, StoreState};
use super::transform::Transform;
use crate::account::Account;
use crate::outlet::Producer;
use crate::subscription::{Message, Subscriber, Subscription};

/// What a publisher's answer depends on: the stream's `no_ack`, and its
/// `republish` destination.
type Answer = (bool, Option<Arc<(Transform, bool)>>);

/// The limits a stream's stores count against: its account's, then the
/// server's.
pub trait Quota: Send + Sync {
    /// Whether `bytes` more may be stored with `storage`.
    fn check_quota(&self, storage: Storage, bytes: u64) -> Result<(), ApiError>;
}

/// One message going out: the header block and payload joined in `body`
/// (`header_len` bytes of headers).
pub struct Outgoing<'a> {
    pub seq: u64,
    pub subject: &'a [u8],
    pub header_len: Option<usize>,
    pub body: &'a [u8],
    /// When it was stored (unix ns).
    pub time: i64,
}

/// What a stream needs of one of its consumers, which live in
/// `jetstream::consumer` and know their stream; the stream knows them only
/// through this.
pub trait StreamConsumer: Send + Sync {
    /// Whether its filters take in `subject`.
    fn takes(&self, subject: &[u8]) -> bool;
    /// Whether it will want the message just stored as `seq` (interest
    /// retention keeps a message only while some consumer does).
    fn wants_new(&self, seq: u64, subject: &[u8]) -> bool;
    /// Delivers a message just stored from the publisher's task, when it
    /// can; false leaves it for the consumer's own task.
    fn deliver_new(&self, stream: &Stream, out: &Outgoing<'_>, producer: &mut Producer) -> bool;
    /// Wakes its task: something new was stored.
    fn stored_new(&self);
    /// Clears `done[i]` for each message it still wants.
    fn done_with_many(&self, msgs: &[(u64, Bytes)], done: &mut [bool]);
    /// The highest sequence below which it has everything acknowledged.
    fn ack_floor(&self) -> u64;
    /// Saves its delivery state.
    fn persist(&self);
    /// Stops it (the stream is deleted or released).
    fn stop(&self, notify: bool);
    /// Itself, for the registry that knows its type.
    fn into_any(self: Arc<Self>) -> Arc<dyn std::any::Any + Send + Sync>;
}

pub struct Stream {
    pub name: String,
    pub(crate) account: Weak<Account>,
    inner: Mutex<Inner>,
    /// The capture subscriptions in the account's sublist.
    subs: Mutex<Vec<Arc<Subscription>>>,
    /// The last sequence stored, watched by consumers waiting for more.
    pub(crate) appended: tokio::sync::watch::Sender<u64>,
    /// Its consumers, by name (`jetstream::consumer::registry` keeps them).
    pub(crate) consumers: parking_lot::RwLock<std::collections::BTreeMap<String, Arc<dyn StreamConsumer>>>,
    /// The stream's directory, for file storage.
    pub(crate) dir: Option<std::path::PathBuf>,
    /// The account whose storage limits a publish must fit in (when it has any).
    quota: parking_lot::RwLock<Option<Weak<dyn Quota>>>,
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

    /// Makes publishes check `account`'s storage limits first.
    /// Its consumers, as the stream sees them.
    pub(crate) fn followers(&self) -> Vec<Arc<dyn StreamConsumer>> {
        self.consumers.read().values().cloned().collect()
    }

    pub fn consumer_count(&self) -> usize {
        self.consumers.read().len()
    }

    /// Saves the consumers' delivery state.
    pub fn persist_consumers(&self) {
        for c in self.followers() {
            c.persist();
        }
    }

    pub(crate) fn set_quota(&self, quota: Weak<dyn Quota>) {
        *self.quota.write() = Some(quota);
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
            account.unsubscribe(&sub);
        }
        let capture: Arc<dyn Subscriber> = Arc::new(Capture(Arc::downgrade(self)));
        for subject in subjects {
            let sub = Arc::new(Subscription::new(
                Bytes::from(subject),
                None,
                Bytes::new(),
                capture.clone(),
            ));
            if account.subscribe(sub.clone()).is_ok() {
                subs.push(sub);
            }
        }
    }

    /// Stops capturing and stops its consumers (the stream is deleted).
    pub fn release(&self) {
        self.released.store(true, std::sync::atomic::Ordering::Release);
        if let Some(account) = self.account.upgrade() {
            for sub in self.subs.lock().drain(..) {
                account.unsubscribe(&sub);
            }
        }
        let consumers: Vec<_> = std::mem::take(&mut *self.consumers.write())
            .into_values()
            .collect();
        for c in consumers {
            c.stop(true);
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

    /// Interest and work-queue retention: drops what every consumer was
    /// done with before a crash, whose removal had not reached the disk.
    pub(crate) fn settle_after_recovery(&self) {
        if self.retention() == Retention::Limits {
            return;
        }
        let Some(floor) = self.followers().iter().map(|c| c.ack_floor()).max() else {
            return;
        };
        self.drop_uninteresting(floor);
    }

    pub fn retention(&self) -> Retention {
        self.inner.lock().config.retention
    }
}

/// The subscriber that hands a stream what is published on its subjects.
struct Capture(Weak<Stream>);

impl Subscriber for Capture {
    fn deliver(&self, _sub: &Subscription, msg: &Message<'_>, producer: &mut Producer) {
        if let Some(stream) = self.0.upgrade() {
            stream.ingest(msg, producer);
        }
    }
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
