//! JetStream as a whole and each account's: streams created, updated,
//! deleted and recovered from disk, and the limits they count against.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::time::Duration;

use anyhow::Context;
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};

use super::config::{self, Storage, StreamConfig};
use super::errors::ApiError;
use super::source;
use super::stream::{Quota, Stream};
use super::{clock, filestore, store};
use crate::account::Account;

/// How often messages past `max_age` are looked for.
const EXPIRE_EVERY: Duration = Duration::from_secs(1);

/// The server-wide JetStream settings.
#[derive(Debug, Clone)]
pub struct JetStreamConfig {
    /// `<store_dir>/jetstream`.
    pub dir: PathBuf,
    pub max_memory: i64,
    pub max_store: i64,
    /// How often file stores are synced to disk (`sync_interval`); `None`
    /// syncs after every write (`sync_interval: always`).
    pub sync_interval: Option<Duration>,
    /// `domain`: the API also answers on `$JS.<domain>.API.>`, and PubAcks
    /// and infos name it.
    pub domain: Option<String>,
    /// `strict` (the default): API requests with fields nats-server does
    /// not know are refused (`strict::stream_request`).
    pub strict: bool,
}

/// What is written next to a stream's messages.
#[derive(Serialize, Deserialize)]
struct StreamMeta {
    config: StreamConfig,
    created: i64,
}

/// One account's JetStream: its streams.
pub struct JsAccount {
    pub account: Arc<Account>,
    /// The account's limits (`accounts { A { jetstream { … } } }`, or its
    /// JWT's, which a claims update may change).
    limits: RwLock<crate::options::JsLimits>,
    js: std::sync::Weak<JetStream>,
    me: std::sync::Weak<JsAccount>,
    dir: PathBuf,
    /// fsync after every write.
    sync_always: bool,
    streams: RwLock<BTreeMap<String, Arc<Stream>>>,
    /// API calls served and those that failed, for `$JS.API.INFO`.
    pub(crate) api_total: std::sync::atomic::AtomicU64,
    pub(crate) api_errors: std::sync::atomic::AtomicU64,
}

impl Quota for JsAccount {
    fn check_quota(&self, storage: Storage, bytes: u64) -> Result<(), ApiError> {
        JsAccount::check_quota(self, storage, bytes)
    }
}

impl source::Origins for JsAccount {
    fn stream(&self, name: &str) -> Option<Arc<Stream>> {
        JsAccount::stream(self, name)
    }
}

impl JsAccount {
    fn stream_dir(&self, name: &str) -> PathBuf {
        self.dir.join("streams").join(name)
    }

    pub fn limits(&self) -> crate::options::JsLimits {
        *self.limits.read()
    }

    /// New limits from an updated account JWT; they apply to what is
    /// created or stored from now on.
    pub fn set_limits(&self, limits: crate::options::JsLimits) {
        *self.limits.write() = limits;
        if self.has_quota() {
            for stream in self.streams() {
                stream.set_quota(self.me.clone() as Weak<dyn Quota>);
            }
        }
    }

    /// Checks a stream's `max_bytes` against the account's limits.
    fn check_stream_limits(&self, config: &StreamConfig) -> Result<(), ApiError> {
        let limits = self.limits();
        if limits.no_tier {
            return Err(ApiError::no_limits());
        }
        let max_stream_bytes = match config.storage {
            Storage::Memory => limits.memory_max_stream_bytes,
            Storage::File => limits.storage_max_stream_bytes,
        };
        if config.max_bytes > 0 && max_stream_bytes > 0 && config.max_bytes > max_stream_bytes {
            return Err(ApiError::max_stream_bytes_exceeded());
        }
        if limits.max_bytes_required && config.max_bytes <= 0 {
            return Err(ApiError::max_bytes_required());
        }
        Ok(())
    }

    pub fn stream(&self, name: &str) -> Option<Arc<Stream>> {
        self.streams.read().get(name).cloned()
    }

    pub fn streams(&self) -> Vec<Arc<Stream>> {
        self.streams.read().values().cloned().collect()
    }

    /// Creates a stream, or answers with the existing one if its
    /// configuration is the same.
    pub fn create_stream(&self, config: StreamConfig) -> Result<Arc<Stream>, ApiError> {
        let config = config.normalize()?;
        let mut streams = self.streams.write();
        if let Some(existing) = streams.get(&config.name) {
            if existing.config() == config {
                return Ok(existing.clone());
            }
            return Err(ApiError::stream_name_exist());
        }
        self.check_stream_limits(&config)?;
        let max_streams = self.limits().max_streams;
        if max_streams >= 0 && streams.len() as i64 >= max_streams {
            return Err(ApiError::maximum_streams());
        }
        check_overlap(&streams, &config)?;
        check_cycle(&streams, &config)?;
        let created = clock::now_nanos();
        let stream = self
            .open_stream(config, created)
            .map_err(ApiError::stream_create)?;
        stream.capture();
        self.follow_origins(&stream);
        streams.insert(stream.name.clone(), stream.clone());
        Ok(stream)
    }

    /// Starts copying from a stream's mirror or sources, if it has any.
    fn follow_origins(&self, stream: &Arc<Stream>) {
        let config = stream.config();
        if config.mirror.is_some() || config.sources.is_some() {
            source::spawn(stream, self.me.clone() as Weak<dyn source::Origins>);
        }
    }

    /// Bytes stored by this account's streams of one storage type.
    pub fn usage(&self, storage: Storage) -> u64 {
        self.streams()
            .iter()
            .filter(|s| s.with_config(|c| c.storage) == storage)
            .map(|s| s.state().bytes)
            .sum()
    }

    /// Consumers across this account's streams.
    pub fn consumer_count(&self) -> usize {
        self.streams().iter().map(|s| s.consumer_count()).sum()
    }

    /// Whether `bytes` more may be stored with `storage`: the account's
    /// limit, then the server's.
    pub fn check_quota(&self, storage: Storage, bytes: u64) -> Result<(), ApiError> {
        let limits = self.limits();
        let account_limit = match storage {
            Storage::Memory => limits.max_memory,
            Storage::File => limits.max_store,
        };
        if account_limit >= 0 && self.usage(storage) + bytes > account_limit as u64 {
            return Err(ApiError::account_resources_exceeded());
        }
        if let Some(js) = self.js.upgrade() {
            let server_limit = match storage {
                Storage::Memory => js.config.max_memory,
                Storage::File => js.config.max_store,
            };
            if server_limit >= 0 {
                let used: u64 = js.accounts().iter().map(|a| a.usage(storage)).sum();
                if used + bytes > server_limit as u64 {
                    return Err(ApiError::insufficient_resources());
                }
            }
        }
        Ok(())
    }

    /// Whether any limit needs checking on publish.
    fn has_quota(&self) -> bool {
        let limits = self.limits();
        limits.max_memory >= 0
            || limits.max_store >= 0
            || self
                .js
                .upgrade()
                .is_some_and(|js| js.config.max_memory >= 0 || js.config.max_store >= 0)
    }

    fn open_stream(&self, config: StreamConfig, created: i64) -> anyhow::Result<Arc<Stream>> {
        let first = config.first_seq.max(1);
        let store: Box<dyn store::MsgStore> = match config.storage {
            Storage::Memory => Box::new(store::MemoryStore::new(first)),
            Storage::File => {
                let dir = self.stream_dir(&config.name);
                std::fs::create_dir_all(&dir)?;
                write_meta(&dir, &config, created)?;
                let mut store = filestore::FileStore::open(&dir.join("msgs"), first)?;
                store.sync_always(self.sync_always);
                Box::new(store)
            }
        };
        let dir = (config.storage == Storage::File).then(|| self.stream_dir(&config.name));
        let domain = self.js.upgrade().and_then(|js| js.config.domain.clone());
        let stream = Stream::new(&self.account, config, created, store, dir, domain.as_deref());
        if self.has_quota() {
            stream.set_quota(self.me.clone() as Weak<dyn Quota>);
        }
        Ok(stream)
    }

    /// Applies an update; only what nats-server lets change may change.
    pub fn update_stream(&self, config: StreamConfig) -> Result<Arc<Stream>, ApiError> {
        let config = config.normalize()?;
        let streams = self.streams.read();
        let Some(stream) = streams.get(&config.name).cloned() else {
            return Err(ApiError::stream_not_found());
        };
        let old = stream.config();
        update_problem(&old, &config)?;
        self.check_stream_limits(&config)?;
        check_overlap(&streams, &config)?;
        check_cycle(&streams, &config)?;
        drop(streams);
        if config.storage == Storage::File {
            write_meta(&self.stream_dir(&config.name), &config, stream.created())
                .map_err(ApiError::stream_update)?;
        }
        let newly_sourced = old.sources.is_none() && config.sources.is_some();
        stream.update(config);
        if newly_sourced {
            self.follow_origins(&stream);
        }
        Ok(stream)
    }

    pub fn delete_stream(&self, name: &str) -> Result<(), ApiError> {
        let Some(stream) = self.streams.write().remove(name) else {
            return Err(ApiError::stream_not_found());
        };
        stream.release();
        let dir = self.stream_dir(name);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(ApiError::stream_delete)?;
        }
        Ok(())
    }

    /// Opens the streams found on disk.
    fn recover(&self) -> anyhow::Result<()> {
        let dir = self.dir.join("streams");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Ok(());
        };
        for entry in entries.flatten() {
            let path = entry.path().join("meta.json");
            let meta: StreamMeta = match std::fs::read(&path)
                .map_err(anyhow::Error::from)
                .and_then(|b| serde_json::from_slice(&b).map_err(anyhow::Error::from))
            {
                Ok(m) => m,
                Err(e) => {
                    tracing::error!("JetStream: skipping {}: {e}", path.display());
                    continue;
                }
            };
            let name = meta.config.name.clone();
            let stream = self
                .open_stream(meta.config, meta.created)
                .with_context(|| format!("recovering stream {name}"))?;
            stream.capture();
            stream.recover_consumers();
            stream.settle_after_recovery();
            self.follow_origins(&stream);
            let state = stream.state();
            tracing::info!(
                "  Restored {} messages for stream '{} > {}'",
                state.msgs,
                self.account.name,
                name
            );
            self.streams.write().insert(name, stream);
        }
        Ok(())
    }
}

/// Refuses subjects that overlap another stream's (`config`'s own stream
/// does not count, for an update).
fn check_overlap(streams: &BTreeMap<String, Arc<Stream>>, config: &StreamConfig) -> Result<(), ApiError> {
    for other in streams.values().filter(|s| s.name != config.name) {
        let theirs = other.config().subjects;
        if config
            .subjects
            .iter()
            .any(|s| theirs.iter().any(|t| config::overlaps(s, t)))
        {
            return Err(ApiError::subject_overlap());
        }
    }
    Ok(())
}

/// Refuses a stream whose mirror or sources lead back to it with some
/// subject passing every filter on the way, so messages would be copied
/// round for ever (nats-server's `detected cycle`). Filters that keep the
/// way round empty (`A` sources `B`'s `b`, `B` sources `A`'s `a`) are allowed.
fn check_cycle(streams: &BTreeMap<String, Arc<Stream>>, config: &StreamConfig) -> Result<(), ApiError> {
    // The origins of a stream: name and filter (`None` takes everything).
    let origins = |c: &StreamConfig| -> Vec<(String, Option<String>)> {
        let Ok((mirror, sources)) = config::parse_origins(&c.mirror, &c.sources) else {
            return Vec::new();
        };
        mirror
            .iter()
            .chain(&sources)
            .filter(|o| o.external.as_ref().is_none_or(|e| e.is_null()))
            .map(|o| {
                (
                    o.name.clone(),
                    (!o.filter_subject.is_empty()).then(|| o.filter_subject.clone()),
                )
            })
            .collect()
    };
    // What can still go round after one more filter, if anything.
    let narrow = |so_far: &Option<String>, next: &Option<String>| -> Option<Option<String>> {
        match (so_far, next) {
            (None, f) | (f, None) => Some(f.clone()),
            (Some(a), Some(b)) if config::subset(b, a) => Some(Some(b.clone())),
            (Some(a), Some(b)) if config::overlaps(a, b) => Some(Some(a.clone())),
            _ => None,
        }
    };
    let mut seen = std::collections::HashSet::new();
    let mut todo: Vec<(String, Option<String>)> = origins(config);
    while let Some((name, filter)) = todo.pop() {
        if name == config.name {
            return Err(ApiError::stream_invalid_config("detected cycle"));
        }
        if !seen.insert((name.clone(), filter.clone())) {
            continue;
        }
        let Some(stream) = streams.get(&name) else {
            continue;
        };
        for (next, next_filter) in origins(&stream.config()) {
            if let Some(through) = narrow(&filter, &next_filter) {
                todo.push((next, through));
            }
        }
    }
    Ok(())
}

fn write_meta(dir: &Path, config: &StreamConfig, created: i64) -> std::io::Result<()> {
    let meta = StreamMeta {
        config: config.clone(),
        created,
    };
    let tmp = dir.join("meta.json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(&meta).unwrap_or_default())?;
    std::fs::rename(&tmp, dir.join("meta.json"))
}

/// The server's JetStream.
pub struct JetStream {
    pub config: JetStreamConfig,
    accounts: RwLock<BTreeMap<String, Arc<JsAccount>>>,
    /// Accounts whose `$JS.API.>` handler is installed.
    api_installed: parking_lot::Mutex<std::collections::HashSet<String>>,
}

impl JetStream {
    pub fn new(config: JetStreamConfig) -> anyhow::Result<Arc<JetStream>> {
        std::fs::create_dir_all(&config.dir).with_context(|| {
            format!(
                "can't create the JetStream store directory {}",
                config.dir.display()
            )
        })?;
        Ok(Arc::new(JetStream {
            config,
            accounts: RwLock::new(BTreeMap::new()),
            api_installed: parking_lot::Mutex::new(std::collections::HashSet::new()),
        }))
    }

    /// Turns JetStream on for `account`, recovering its streams.
    pub fn enable(
        self: &Arc<Self>,
        account: &Arc<Account>,
        limits: crate::options::JsLimits,
    ) -> anyhow::Result<Arc<JsAccount>> {
        // Held while the account's streams are recovered, so two clients of a
        // new account arriving together do not open its streams twice.
        let mut accounts = self.accounts.write();
        if let Some(js) = accounts.get(&account.name) {
            return Ok(js.clone());
        }
        let js = Arc::new_cyclic(|me| JsAccount {
            account: account.clone(),
            limits: RwLock::new(limits),
            js: Arc::downgrade(self),
            me: me.clone(),
            dir: self.config.dir.join(&account.name),
            sync_always: self.config.sync_interval.is_none(),
            streams: RwLock::new(BTreeMap::new()),
            api_total: Default::default(),
            api_errors: Default::default(),
        });
        js.recover()?;
        accounts.insert(account.name.clone(), js.clone());
        Ok(js)
    }

    pub fn account(&self, name: &str) -> Option<Arc<JsAccount>> {
        self.accounts.read().get(name).cloned()
    }

    pub fn accounts(&self) -> Vec<Arc<JsAccount>> {
        self.accounts.read().values().cloned().collect()
    }

    /// Marks `account` as answering `$JS.API`; false if it already does.
    pub(crate) fn mark_api_installed(&self, account: &str) -> bool {
        self.api_installed.lock().insert(account.to_string())
    }

    /// Turns JetStream off for an account whose JWT no longer grants it:
    /// its streams stop capturing and delivering, their files stay.
    pub fn disable(&self, account: &str) {
        let Some(acc) = self.accounts.write().remove(account) else {
            return;
        };
        for stream in acc.streams.write().values() {
            stream.persist_consumers();
            stream.release();
        }
        tracing::info!("JetStream: disabled for account {account}");
    }

    /// Whether `account` answers `$JS.API` already.
    pub fn has_api(&self, account: &str) -> bool {
        self.api_installed.lock().contains(account)
    }

    /// Saves every consumer's state and syncs every file store: the last
    /// thing a server that stops in an orderly way does.
    pub fn flush_all(&self) {
        for acc in self.accounts() {
            for stream in acc.streams() {
                stream.persist_consumers();
                stream.sync();
            }
        }
    }

    /// Expires old messages and syncs file stores, until the server stops.
    pub fn spawn_housekeeping(self: &Arc<Self>) {
        let js = Arc::downgrade(self);
        // With `always`, every write is synced already.
        let sync_every = self.config.sync_interval.unwrap_or(Duration::MAX);
        tokio::spawn(async move {
            let mut last_sync = tokio::time::Instant::now();
            loop {
                tokio::time::sleep(EXPIRE_EVERY).await;
                let Some(js) = js.upgrade() else { return };
                let sync = last_sync.elapsed() >= sync_every;
                let mut to_sync = Vec::new();
                for acc in js.accounts() {
                    for stream in acc.streams() {
                        stream.expire();
                        stream.persist_consumers();
                        if let Err(e) = stream.flush_held() {
                            tracing::error!(stream = %stream.name, "JetStream: writing held records: {}", e.description);
                        }
                        if sync {
                            to_sync.push(stream);
                        }
                    }
                }
                if sync {
                    // fsync blocks a thread: not one of the runtime's workers.
                    let _ = tokio::task::spawn_blocking(move || to_sync.iter().for_each(|s| s.sync())).await;
                    last_sync = tokio::time::Instant::now();
                }
            }
        });
    }
}

/// What a stream update may not change, as nats-server refuses it
/// (`configUpdateCheck`): 500/10052 with its text, the mirror 400/10055.
fn update_problem(old: &StreamConfig, new: &StreamConfig) -> Result<(), ApiError> {
    let refuse = |what: &str| {
        Err(ApiError::stream_invalid_config(format!(
            "stream configuration update can not {what}"
        )))
    };
    if old.storage != new.storage {
        return refuse("change storage type");
    }
    if old.retention != new.retention {
        // nats-server lets limits and interest trade places; here the
        // consumers keep the retention they were made with, so neither
        // changes.
        let workqueue = [old.retention, new.retention].contains(&config::Retention::Workqueue);
        return refuse(if workqueue {
            "change retention policy to/from workqueue"
        } else {
            "change retention policy"
        });
    }
    if old.sealed && !new.sealed {
        return refuse("unseal a sealed stream");
    }
    if old.deny_delete && !new.deny_delete {
        return refuse("cancel deny message deletes");
    }
    if old.deny_purge && !new.deny_purge {
        return refuse("cancel deny purge");
    }
    // nats-server lets an update drop the mirror (promoting the stream);
    // here a mirror stays one.
    if old.mirror != new.mirror {
        return Err(ApiError::new(
            400,
            10055,
            "stream mirror configuration can not be updated",
        ));
    }
    Ok(())
}
