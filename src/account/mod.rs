//! An account: a named, isolated subject space. Every subscription and
//! every publish happens inside exactly one account's sublist, so two
//! accounts cannot see each other's messages by construction; they meet
//! only through the exports and imports wired in `imports.rs`.

mod cache;
mod gateway_replies;
pub mod imports;
mod ingress;
mod interest;
pub mod registry;

pub use cache::MatchCache;
pub use ingress::Admitted;
pub use interest::{InterestChange, InterestListener};

pub use registry::Accounts;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};

use crate::mapping::{Mapped, Mappings};
use crate::options::{ExportKind, ResponseType};
use crate::permissions::covers;
use crate::sublist::Sublist;
use crate::subscription::Subscription;

/// The account clients land in when no accounts are configured.
pub const GLOBAL_ACCOUNT: &str = "$G";
/// The default name of the system account.
pub const SYSTEM_ACCOUNT: &str = "$SYS";

/// How long a service response forward waits for its response.
pub const RESPONSE_TTL: Duration = Duration::from_secs(120);

/// Something this account offers to others.
#[derive(Debug, Clone, PartialEq)]
pub struct Export {
    pub kind: ExportKind,
    pub subject: String,
    /// Accounts allowed to import it; `None` is public.
    pub accounts: Option<Vec<String>>,
    pub response_type: ResponseType,
}

pub struct Account {
    pub name: String,
    /// Private: subscriptions come and go through [`Account::subscribe`]
    /// and [`Account::unsubscribe`], which report interest changes.
    sublist: Sublist,
    interest: interest::Interest,
    exports: RwLock<Vec<Export>>,
    /// Routes for responses to service requests, oldest first, so that
    /// unanswered ones can be dropped after [`RESPONSE_TTL`].
    responses: Mutex<VecDeque<(Instant, Arc<Subscription>)>>,
    /// Subject mappings applied to what its clients publish; a reload or a
    /// JWT update replaces them whole.
    mappings: arc_swap::ArcSwapOption<Mappings>,
    /// Set while `mappings` holds any: publishers check this first.
    has_mappings: AtomicBool,
    /// Replies other clusters mapped to their origin server.
    gateway_replies: gateway_replies::GatewayReplies,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account").field("name", &self.name).finish()
    }
}

impl Account {
    pub fn new(name: impl Into<String>) -> Self {
        Account {
            name: name.into(),
            sublist: Sublist::new(),
            interest: interest::Interest::default(),
            exports: RwLock::new(Vec::new()),
            responses: Mutex::new(VecDeque::new()),
            mappings: arc_swap::ArcSwapOption::empty(),
            has_mappings: AtomicBool::new(false),
            gateway_replies: Default::default(),
        }
    }

    /// Puts `mappings` in force (none when empty).
    pub fn set_mappings(&self, mappings: Mappings) {
        let any = !mappings.is_empty();
        self.mappings.store(any.then(|| Arc::new(mappings)));
        self.has_mappings.store(any, Ordering::Release);
    }

    /// What the account's mappings make of a subject a client publishes to.
    pub fn map_subject(&self, subject: &[u8]) -> Mapped {
        if !self.has_mappings.load(Ordering::Acquire) {
            return Mapped::Unchanged;
        }
        match (self.mappings.load().as_ref(), std::str::from_utf8(subject)) {
            (Some(m), Ok(subject)) => m.map(subject),
            _ => Mapped::Unchanged,
        }
    }

    /// `/accountz`'s `mappings`, when the account has any.
    pub fn mappings_json(&self) -> Option<serde_json::Value> {
        self.mappings.load().as_ref().map(|m| m.to_json())
    }

    pub fn add_export(&self, export: Export) {
        self.exports.write().push(export);
    }

    /// Lets `importer` use the private export of `kind` covering `subject`
    /// (an activation token was presented). Returns whether one exists.
    pub fn activate(&self, kind: ExportKind, subject: &str, importer: &str) -> bool {
        let mut exports = self.exports.write();
        let Some(export) = exports
            .iter_mut()
            .find(|e| e.kind == kind && covers(e.subject.as_bytes(), subject.as_bytes()))
        else {
            return false;
        };
        if let Some(allowed) = &mut export.accounts {
            if !allowed.iter().any(|a| a == importer) {
                allowed.push(importer.to_string());
            }
        }
        true
    }

    /// Replaces all exports (an account JWT was updated).
    pub fn set_exports(&self, exports: Vec<Export>) {
        *self.exports.write() = exports;
    }

    pub fn exports(&self) -> Vec<Export> {
        self.exports.read().clone()
    }

    /// The export of `kind` covering `subject` that `importer` may use.
    pub fn export_for(&self, kind: ExportKind, subject: &str, importer: &str) -> Option<Export> {
        self.exports
            .read()
            .iter()
            .find(|e| {
                e.kind == kind
                    && covers(e.subject.as_bytes(), subject.as_bytes())
                    && e.accounts
                        .as_ref()
                        .is_none_or(|a| a.iter().any(|n| n == importer))
            })
            .cloned()
    }

    /// Keeps a response forward so it can be dropped if never answered, and
    /// drops the forwards that have waited too long.
    pub fn track_response(&self, forward: Arc<Subscription>) {
        let mut forwards = self.responses.lock();
        let now = Instant::now();
        while let Some((since, _)) = forwards.front() {
            if now.duration_since(*since) < RESPONSE_TTL {
                break;
            }
            if let Some((_, old)) = forwards.pop_front() {
                self.unsubscribe(&old);
            }
        }
        forwards.push_back((now, forward));
    }
}
