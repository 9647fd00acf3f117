//! The `nats` section of account JWTs: exports, imports, limits (JetStream
//! ones included), signing keys and external authorization.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::*;

/// Stream or service, for exports and imports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportType {
    /// Messages published on the subject flow to importers.
    Stream,
    /// Requests on the subject flow from importers to the exporter.
    Service,
    /// Anything else (kept tolerant; Go rejects it).
    #[serde(other)]
    Unknown,
}

/// An account export.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Export {
    /// Name.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Subject exported.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub subject: String,
    /// Stream or service.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub export_type: Option<ExportType>,
    /// Importers need an activation token.
    #[serde(skip_serializing_if = "is_false")]
    pub token_req: bool,
    /// Revoked activations: public key -> unix time.
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub revocations: BTreeMap<String, i64>,
    /// `Singleton`, `Stream` or `Chunked` (services).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub response_type: String,
    /// Response threshold, nanoseconds.
    #[serde(skip_serializing_if = "is_zero")]
    pub response_threshold: i64,
    /// Latency tracking (`{"sampling": "headers" | 1..100, "results": subject}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_latency: Option<Value>,
    /// Token position of the importing account in a wildcard subject.
    #[serde(skip_serializing_if = "is_zero_u32")]
    pub account_token_position: u32,
    /// Advertise the export.
    #[serde(skip_serializing_if = "is_false")]
    pub advertise: bool,
    /// Allow message tracing through the export.
    #[serde(skip_serializing_if = "is_false")]
    pub allow_trace: bool,
    /// Description.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Info URL.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub info_url: String,
    /// Fields this module does not model.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An account import.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Import {
    /// Name.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Subject in the exporting account.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub subject: String,
    /// Public key of the exporting account.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub account: String,
    /// Activation token, when the export requires one.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub token: String,
    /// Deprecated local subject (prefix for streams, rename for services).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub to: String,
    /// Local subject (may reference wildcards as `$1`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub local_subject: String,
    /// Stream or service.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub import_type: Option<ExportType>,
    /// Share latency tracking information (services).
    #[serde(skip_serializing_if = "is_false")]
    pub share: bool,
    /// Allow message tracing (streams).
    #[serde(skip_serializing_if = "is_false")]
    pub allow_trace: bool,
    /// Fields this module does not model.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// JetStream limits of an account or one of its tiers. 0 disables a storage kind; -1 is unlimited.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct JetStreamLimits {
    /// Bytes of memory storage.
    #[serde(skip_serializing_if = "is_zero")]
    pub mem_storage: i64,
    /// Bytes of file storage.
    #[serde(skip_serializing_if = "is_zero")]
    pub disk_storage: i64,
    /// Number of streams.
    #[serde(skip_serializing_if = "is_zero")]
    pub streams: i64,
    /// Number of consumers.
    #[serde(skip_serializing_if = "is_zero")]
    pub consumer: i64,
    /// Max ack pending of a stream.
    #[serde(skip_serializing_if = "is_zero")]
    pub max_ack_pending: i64,
    /// Max bytes of one memory stream.
    #[serde(skip_serializing_if = "is_zero")]
    pub mem_max_stream_bytes: i64,
    /// Max bytes of one file stream.
    #[serde(skip_serializing_if = "is_zero")]
    pub disk_max_stream_bytes: i64,
    /// Streams must declare max bytes.
    #[serde(skip_serializing_if = "is_false")]
    pub max_bytes_required: bool,
}

impl JetStreamLimits {
    /// True when some storage is allowed.
    pub fn is_enabled(&self) -> bool {
        self.mem_storage != 0 || self.disk_storage != 0
    }
}

/// An account's `limits`: NATS, account and JetStream limits flattened into one JSON object, as Go writes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountLimits {
    /// Max subscriptions.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub subs: i64,
    /// Max bytes.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub data: i64,
    /// Max message payload.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub payload: i64,
    /// Max imports.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub imports: i64,
    /// Max exports.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub exports: i64,
    /// Wildcard exports allowed.
    #[serde(default, skip_serializing_if = "is_false")]
    pub wildcards: bool,
    /// Users may not be bearer tokens.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disallow_bearer: bool,
    /// Max client connections.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub conn: i64,
    /// Max leaf node connections.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub leaf: i64,
    /// Untiered JetStream limits.
    #[serde(flatten)]
    pub jetstream: JetStreamLimits,
    /// Tiered JetStream limits (e.g. `R1`, `R3`).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub tiered_limits: BTreeMap<String, JetStreamLimits>,
}

impl Default for AccountLimits {
    /// Unlimited, JetStream disabled: what Go's `NewAccountClaims` sets.
    fn default() -> Self {
        AccountLimits {
            subs: NO_LIMIT,
            data: NO_LIMIT,
            payload: NO_LIMIT,
            imports: NO_LIMIT,
            exports: NO_LIMIT,
            wildcards: true,
            disallow_bearer: false,
            conn: NO_LIMIT,
            leaf: NO_LIMIT,
            jetstream: JetStreamLimits::default(),
            tiered_limits: BTreeMap::new(),
        }
    }
}

impl AccountLimits {
    /// True when JetStream is enabled, untiered or in some tier.
    pub fn jetstream_enabled(&self) -> bool {
        if self.tiered_limits.is_empty() {
            self.jetstream.is_enabled()
        } else {
            self.tiered_limits.values().any(JetStreamLimits::is_enabled)
        }
    }
}

/// A scoped signing key: users it signs get the template's permissions and limits.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct UserScope {
    /// `"user_scope"`.
    pub kind: String,
    /// The signing key's public key.
    pub key: String,
    /// Role name.
    pub role: String,
    /// Permissions and limits applied to users it signs.
    pub template: UserPermissionLimits,
    /// Description.
    pub description: String,
    /// Fields this module does not model.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An account signing key: a bare public key or a scoped one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SigningKey {
    /// A plain public key.
    Key(String),
    /// A scoped key with a user template.
    Scoped(Box<UserScope>),
    /// Something else: kept so that re-encoding does not lose it.
    Other(Value),
}

impl SigningKey {
    /// The public key, when there is one.
    pub fn public_key(&self) -> Option<&str> {
        match self {
            SigningKey::Key(k) => Some(k),
            SigningKey::Scoped(s) => Some(&s.key),
            SigningKey::Other(v) => v.get("key").and_then(Value::as_str),
        }
    }
}

/// Access granted to an external authorization (auth callout) service.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ExternalAuthorization {
    /// Users that the callout service connects as.
    #[serde(deserialize_with = "null_as_default", skip_serializing_if = "Vec::is_empty")]
    pub auth_users: Vec<String>,
    /// Accounts the callout may place users in.
    #[serde(deserialize_with = "null_as_default", skip_serializing_if = "Vec::is_empty")]
    pub allowed_accounts: Vec<String>,
    /// Curve key for encrypting requests.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub xkey: String,
}

impl ExternalAuthorization {
    fn is_empty(&self) -> bool {
        self.auth_users.is_empty() && self.allowed_accounts.is_empty() && self.xkey.is_empty()
    }
}

/// The `nats` section of an account JWT.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Account {
    /// Imports from other accounts.
    #[serde(deserialize_with = "null_as_default", skip_serializing_if = "Vec::is_empty")]
    pub imports: Vec<Import>,
    /// Exports to other accounts.
    #[serde(deserialize_with = "null_as_default", skip_serializing_if = "Vec::is_empty")]
    pub exports: Vec<Export>,
    /// Limits set by the operator.
    pub limits: AccountLimits,
    /// Keys that may sign users of this account besides the account key itself.
    #[serde(deserialize_with = "null_as_default", skip_serializing_if = "Vec::is_empty")]
    pub signing_keys: Vec<SigningKey>,
    /// Revoked users: public key (or `*`) -> unix time; user JWTs issued at or before it are rejected.
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub revocations: BTreeMap<String, i64>,
    /// Permissions of users whose JWT has none.
    #[serde(deserialize_with = "null_as_default")]
    pub default_permissions: Permissions,
    /// Subject mappings (kept as JSON).
    #[serde(deserialize_with = "null_as_default", skip_serializing_if = "Map::is_empty")]
    pub mappings: Map<String, Value>,
    /// External authorization (auth callout).
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "ExternalAuthorization::is_empty"
    )]
    pub authorization: ExternalAuthorization,
    /// Description.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Info URL.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub info_url: String,
    /// Tags, `type` (`"account"`), version and the fields this module does not model.
    #[serde(flatten)]
    pub generic: GenericFields,
}

impl ClaimKind for Account {
    const TYPE: &'static str = "account";
    const ISSUER_PREFIXES: &'static [char] = &['O', 'A'];
    const SUBJECT_PREFIX: char = 'A';

    generic_fields!();
    fn prepare_encode(&mut self) {
        self.exports.sort_by(|a, b| a.subject.cmp(&b.subject));
        self.imports.sort_by(|a, b| a.subject.cmp(&b.subject));
    }
}

impl AccountClaims {
    /// Public keys of the account's signing keys (plain and scoped).
    pub fn signing_key_list(&self) -> Vec<&str> {
        self.nats
            .signing_keys
            .iter()
            .filter_map(SigningKey::public_key)
            .collect()
    }

    /// The scope of a signing key, when it is a scoped one.
    pub fn scope_of(&self, key: &str) -> Option<&UserScope> {
        self.nats.signing_keys.iter().find_map(|k| match k {
            SigningKey::Scoped(s) if s.key == key => Some(&**s),
            _ => None,
        })
    }

    /// True when this account signed `user`: with its own key, or with one of its signing keys while
    /// naming itself in `issuer_account`.
    pub fn did_sign(&self, user: &UserClaims) -> bool {
        if user.iss == self.sub {
            return user.nats.issuer_account.is_empty() || user.nats.issuer_account == self.sub;
        }
        user.nats.issuer_account == self.sub && self.signing_key_list().contains(&user.iss.as_str())
    }

    /// Adds (or moves forward) a revocation of `public_key` (a user key, or `*` for all) at `at` (unix seconds).
    pub fn revoke_at(&mut self, public_key: &str, at: i64) {
        let entry = self.nats.revocations.entry(public_key.to_string()).or_insert(at);
        if *entry < at {
            *entry = at;
        }
    }

    /// True when a user JWT with subject `public_key` issued at `issued_at` is revoked, as the Go library
    /// decides: a revocation time at or after the issue time revokes it.
    pub fn is_revoked(&self, public_key: &str, issued_at: i64) -> bool {
        let at_or_after = |k: &str| self.nats.revocations.get(k).is_some_and(|ts| *ts >= issued_at);
        at_or_after(REVOKE_ALL) || at_or_after(public_key)
    }

    /// True when `user` is revoked by this account (a user JWT without `iat` or subject counts as revoked).
    pub fn is_user_revoked(&self, user: &UserClaims) -> bool {
        if user.iat == 0 || user.sub.is_empty() {
            return true;
        }
        self.is_revoked(&user.sub, user.iat)
    }
}
