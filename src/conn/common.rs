//! The protocol-neutral core of a connection: who it is (id, kind,
//! listener, peer), whom it acts for (account, user, JWT `iat`,
//! permissions), what it has moved (counters and its outlet) and why it
//! closed. NATS clients and MQTT sessions are a core plus what their
//! protocol needs; routes and leaf nodes will be too.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::{Mutex, RwLock};

use super::{ClientSettings, CloseReason, Counters};
use crate::account::Account;
use crate::message::ConnKind;
use crate::outlet::Outlet;
use crate::permissions::ClientPermissions;

pub struct ConnCore {
    pub id: u64,
    pub kind: ConnKind,
    /// Which listener it came through: `nats`, `websocket` or `mqtt`.
    pub transport: &'static str,
    pub remote: SocketAddr,
    /// When the connection was accepted.
    pub started: SystemTime,
    /// The account, set by authentication.
    account: RwLock<Arc<Account>>,
    /// User name or nkey it authenticated as.
    user: Mutex<String>,
    /// `iat` of the user JWT, checked against revocations.
    issued_at: AtomicU64,
    /// Replaced when a configuration reload changes them.
    permissions: arc_swap::ArcSwapOption<ClientPermissions>,
    /// Whether `permissions` holds any: a delivery to a connection without
    /// permissions then costs one plain atomic load, not a swap's load.
    has_permissions: AtomicBool,
    /// Its limits and timers, handed to it at start and at each reload.
    settings: arc_swap::ArcSwap<ClientSettings>,
    /// Counts the settings handed to it, so a reader notices new ones
    /// with one atomic load.
    settings_version: AtomicU64,
    /// Inbound messages and bytes; the outbound pair is the outlet's.
    pub counters: Counters,
    /// What is queued for the peer, and its transport.
    pub outlet: Arc<Outlet>,
    close_reason: Mutex<Option<CloseReason>>,
    /// Unix time in nanoseconds of the last operation received.
    last_activity: AtomicU64,
    /// Its connect event went out, so its disconnect event must follow.
    announced: AtomicBool,
}

fn unix_nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

impl ConnCore {
    /// A connection in `account` (its listener's default until
    /// authentication says otherwise), living by `settings`.
    pub fn new(
        id: u64,
        kind: ConnKind,
        transport: &'static str,
        remote: SocketAddr,
        account: Arc<Account>,
        settings: Arc<ClientSettings>,
    ) -> ConnCore {
        let now = SystemTime::now();
        ConnCore {
            id,
            kind,
            transport,
            remote,
            started: now,
            account: RwLock::new(account),
            user: Mutex::new(String::new()),
            issued_at: AtomicU64::new(0),
            permissions: arc_swap::ArcSwapOption::empty(),
            has_permissions: AtomicBool::new(false),
            counters: Counters::default(),
            outlet: Arc::new(Outlet::new(settings.max_pending)),
            settings: arc_swap::ArcSwap::new(settings),
            settings_version: AtomicU64::new(0),
            close_reason: Mutex::new(None),
            last_activity: AtomicU64::new(unix_nanos(now)),
            announced: AtomicBool::new(false),
        }
    }

    /// Marks its connect event as sent; false when it already was.
    pub fn announce(&self) -> bool {
        !self.announced.swap(true, Ordering::AcqRel)
    }

    /// Whether its connect event went out.
    pub fn was_announced(&self) -> bool {
        self.announced.load(Ordering::Acquire)
    }

    /// Its settings as they are now.
    pub fn settings(&self) -> arc_swap::Guard<Arc<ClientSettings>> {
        self.settings.load()
    }

    /// A reload's settings: from now on the connection lives by them
    /// (its outlet holds the new `max_pending` at once).
    pub fn set_settings(&self, settings: Arc<ClientSettings>) {
        if settings.max_pending != self.settings().max_pending {
            self.outlet.set_max_pending(settings.max_pending);
        }
        self.settings.store(settings);
        self.settings_version.fetch_add(1, Ordering::Release);
    }

    /// Changes each time new settings are handed to it.
    pub fn settings_version(&self) -> u64 {
        self.settings_version.load(Ordering::Acquire)
    }

    /// The account the connection belongs to.
    pub fn account(&self) -> Arc<Account> {
        self.account.read().clone()
    }

    /// The user it authenticated as (empty without auth).
    pub fn user(&self) -> String {
        self.user.lock().clone()
    }

    /// `iat` of the user JWT it connected with (0 without JWTs).
    pub fn issued_at(&self) -> i64 {
        self.issued_at.load(Ordering::Relaxed) as i64
    }

    /// Binds the connection to who authentication says it is.
    /// Binds it to `account` (a leaf node whose user names its own).
    pub fn set_account(&self, account: Arc<Account>) {
        *self.account.write() = account;
    }

    pub fn set_identity(&self, id: crate::auth::Identity) {
        *self.account.write() = id.account;
        self.set_user(id.user, id.permissions);
        self.issued_at
            .store(id.issued_at.max(0) as u64, Ordering::Relaxed);
    }

    /// A reload kept it in its account: its user and permissions may change.
    pub fn set_user(&self, user: String, permissions: Option<ClientPermissions>) {
        *self.user.lock() = user;
        self.has_permissions
            .store(permissions.is_some(), Ordering::Release);
        self.permissions.store(permissions.map(Arc::new));
    }

    pub fn permissions(&self) -> Option<Arc<ClientPermissions>> {
        self.permissions.load_full()
    }

    /// The permissions without taking a reference: for per-message checks.
    pub fn permissions_guard(&self) -> Option<arc_swap::Guard<Option<Arc<ClientPermissions>>>> {
        self.has_permissions
            .load(Ordering::Acquire)
            .then(|| self.permissions.load())
    }

    /// When the peer last sent something.
    pub fn last_activity(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_nanos(self.last_activity.load(Ordering::Relaxed))
    }

    /// The peer sent something now.
    pub fn touch(&self) {
        self.last_activity
            .store(unix_nanos(SystemTime::now()), Ordering::Relaxed);
    }

    /// Why the connection closed, once it has.
    pub fn close_reason(&self) -> Option<CloseReason> {
        *self.close_reason.lock()
    }

    /// Records why it closes; the first reason given stands.
    pub fn set_reason(&self, reason: CloseReason) {
        let mut r = self.close_reason.lock();
        if r.is_none() {
            *r = Some(reason);
        }
    }

    /// Closes the connection dropping anything still queued.
    pub fn close_now(&self, reason: CloseReason) {
        self.set_reason(reason);
        self.outlet.close_now();
    }

    /// Its pending bytes passed `max_pending`: it is cut off, and counted
    /// in `slow_consumers`.
    pub fn slow_consumer(&self, slow_consumers: &AtomicU64) {
        let max_pending = self.settings().max_pending;
        tracing::warn!(
            cid = self.id,
            "Slow Consumer Detected: MaxPending of {max_pending} Exceeded"
        );
        slow_consumers.fetch_add(1, Ordering::Relaxed);
        self.close_now(CloseReason::SlowConsumerPendingBytes);
    }
}
