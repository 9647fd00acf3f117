//! Claim types of NATS v2 JWTs: the generic claim fields and the `nats` sections of operator, account and user JWTs.
//!
//! Field names and JSON shapes follow what the Go `nats-io/jwt` v2 library and `nsc` write. Zero numbers, empty
//! strings and empty lists are left out when encoding, as Go's `omitempty` does; fields this module does not know
//! are kept in `extra` maps so that a JWT made by other tooling survives a decode, edit and re-sign unchanged.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// "No limit", as used by the numeric limits of users and accounts.
pub const NO_LIMIT: i64 = -1;

/// The revocation key that revokes every user issued at or before its time.
pub const REVOKE_ALL: &str = "*";

fn is_zero(v: &i64) -> bool {
    *v == 0
}

fn is_zero_u32(v: &u32) -> bool {
    *v == 0
}

fn is_false(v: &bool) -> bool {
    !*v
}

fn is_unset(v: &Option<i64>) -> bool {
    matches!(v, None | Some(0))
}

/// A list that Go may write either as a JSON array or as one comma-separated string (`CIDRList`).
fn string_or_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
        Nothing(()),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => s
            .split(',')
            .map(|p| p.trim().to_lowercase())
            .filter(|p| !p.is_empty())
            .collect(),
        OneOrMany::Many(v) => v,
        OneOrMany::Nothing(()) => Vec::new(),
    })
}

/// Accepts `null` where a list or map is expected (Go writes `null` for some nil slices).
fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// What one kind of claim (the `nats` section of an operator, account or user JWT) must tell the codec.
pub trait ClaimKind: Serialize + DeserializeOwned + Default + Clone {
    /// The `nats.type` value: `operator`, `account` or `user`.
    const TYPE: &'static str;
    /// Public key prefixes (`O`, `A`, `U`) an issuer of this kind of JWT may have.
    const ISSUER_PREFIXES: &'static [char];
    /// The public key prefix the subject must have.
    const SUBJECT_PREFIX: char;

    /// The `nats.type` field as decoded (empty in v1 JWTs).
    fn kind(&self) -> &str;
    /// Sets `nats.type` and `nats.version` before encoding.
    fn set_type_version(&mut self, version: u32);
    /// The `nats.version` field as decoded (0 when absent).
    fn version(&self) -> u32;
    /// Normalises the section before it is signed (the Go library sorts account imports and exports).
    fn prepare_encode(&mut self) {}
    /// Moves v1 fields that lived at the top level of the claims into the section.
    fn migrate_v1(&mut self, _top: &Map<String, Value>) {}
}

/// The generic JWT claim fields shared by every NATS JWT, plus the kind-specific `nats` section.
///
/// Field order matches Go's `ClaimsData` so the encoded JSON looks like what `nsc` writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(serialize = "T: Serialize", deserialize = "T: DeserializeOwned + Default"))]
pub struct Claims<T> {
    /// Audience (rarely used).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    /// Expiry, unix seconds; `None` (or 0) never expires.
    #[serde(default, skip_serializing_if = "is_unset")]
    pub exp: Option<i64>,
    /// The JWT id: base32 of the SHA-512/256 hash of the generic claim fields.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub jti: String,
    /// Issued at, unix seconds.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub iat: i64,
    /// Public key of the signer.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub iss: String,
    /// Human-readable name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Not valid before, unix seconds; `None` (or 0) is valid at once.
    #[serde(default, skip_serializing_if = "is_unset")]
    pub nbf: Option<i64>,
    /// Public key of the entity the JWT describes.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sub: String,
    /// The kind-specific section.
    #[serde(default)]
    pub nats: T,
    /// Top-level fields this module does not model (v1 JWTs keep `type`, `tags`, `issuer_account` here).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Operator claims (`nats.type = "operator"`).
pub type OperatorClaims = Claims<Operator>;
/// Account claims (`nats.type = "account"`).
pub type AccountClaims = Claims<Account>;
/// User claims (`nats.type = "user"`).
pub type UserClaims = Claims<User>;
/// An activation token: the exporting account lets one importer use a private export.
pub type ActivationClaims = Claims<Activation>;

impl<T: ClaimKind> Claims<T> {
    /// New claims for `subject` (a public key) with the given name and a default section.
    pub fn new(name: impl Into<String>, subject: impl Into<String>) -> Self {
        Claims {
            aud: None,
            exp: None,
            jti: String::new(),
            iat: 0,
            iss: String::new(),
            name: name.into(),
            nbf: None,
            sub: subject.into(),
            nats: T::default(),
            extra: Map::new(),
        }
    }

    /// Checks `exp` and `nbf` against `now` (unix seconds), as the Go library does.
    pub fn check_times_at(&self, now: i64) -> Result<(), super::JwtError> {
        if let Some(exp) = self.exp.filter(|e| *e > 0) {
            if now > exp {
                return Err(super::JwtError::Expired);
            }
        }
        if let Some(nbf) = self.nbf.filter(|n| *n > 0) {
            if nbf > now {
                return Err(super::JwtError::NotYetValid);
            }
        }
        Ok(())
    }

    /// Checks `exp` and `nbf` against the current time.
    pub fn check_times(&self) -> Result<(), super::JwtError> {
        self.check_times_at(super::now_unix())
    }

    /// True when the JWT has an expiry that is in the past at `now`.
    pub fn is_expired_at(&self, now: i64) -> bool {
        self.exp.is_some_and(|e| e > 0 && now > e)
    }
}

/// Publish or subscribe permission lists.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permission {
    /// Subjects allowed (empty: everything not denied).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub allow: Vec<String>,
    /// Subjects denied.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub deny: Vec<String>,
}

impl Permission {
    /// True when neither list has an entry.
    pub fn is_empty(&self) -> bool {
        self.allow.is_empty() && self.deny.is_empty()
    }
}

/// Permission to publish to reply subjects of received requests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponsePermission {
    /// Number of responses allowed per request.
    #[serde(default)]
    pub max: i64,
    /// How long the permission lasts, in nanoseconds (a Go `time.Duration`).
    #[serde(default)]
    pub ttl: i64,
}

/// Publish, subscribe and response permissions (user permissions and account `default_permissions`).
///
/// Go never leaves out `pub` and `sub` (they are structs), so they are always written, possibly as `{}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permissions {
    /// The `pub` permission.
    #[serde(rename = "pub", default, deserialize_with = "null_as_default")]
    pub publish: Permission,
    /// The `sub` permission.
    #[serde(rename = "sub", default, deserialize_with = "null_as_default")]
    pub subscribe: Permission,
    /// The `resp` permission.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resp: Option<ResponsePermission>,
}

impl Permissions {
    /// True when nothing is allowed, denied or granted for responses.
    pub fn is_empty(&self) -> bool {
        self.publish.is_empty() && self.subscribe.is_empty() && self.resp.is_none()
    }
}

/// A daily time window (`"HH:MM:SS"`) in which a user may connect.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeRange {
    /// Start, `HH:MM:SS`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub start: String,
    /// End, `HH:MM:SS`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub end: String,
}

/// A user's permissions and limits: the part of a user JWT a scoped signing key's template also holds.
///
/// `pub`/`sub`/`resp` are fields here rather than a flattened [`Permissions`]: serde cannot tell which keys a
/// nested flatten consumed, and [`User::extra`] would then collect them a second time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserPermissionLimits {
    /// The `pub` permission.
    #[serde(rename = "pub", default, deserialize_with = "null_as_default")]
    pub publish: Permission,
    /// The `sub` permission.
    #[serde(rename = "sub", default, deserialize_with = "null_as_default")]
    pub subscribe: Permission,
    /// The `resp` permission.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resp: Option<ResponsePermission>,
    /// CIDR blocks the user may connect from (Go accepts a list or a comma-separated string).
    #[serde(
        default,
        deserialize_with = "string_or_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub src: Vec<String>,
    /// Time windows in which the user may connect.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub times: Vec<TimeRange>,
    /// IANA time zone of `times`.
    #[serde(rename = "times_location", default, skip_serializing_if = "String::is_empty")]
    pub times_location: String,
    /// Max subscriptions, -1 unlimited (0 when absent, which the server also treats as unlimited).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub subs: i64,
    /// Max bytes, -1 unlimited.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub data: i64,
    /// Max message payload, -1 unlimited.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub payload: i64,
    /// The JWT alone authenticates: no nonce signature is required.
    #[serde(default, skip_serializing_if = "is_false")]
    pub bearer_token: bool,
    /// The user must connect through a proxy.
    #[serde(default, skip_serializing_if = "is_false")]
    pub proxy_required: bool,
    /// `STANDARD`, `WEBSOCKET`, `LEAFNODE`, `LEAFNODE_WS`, `MQTT`, `MQTT_WS`, `IN_PROCESS`; empty allows all.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub allowed_connection_types: Vec<String>,
}

impl UserPermissionLimits {
    /// The publish, subscribe and response permissions as one [`Permissions`].
    pub fn permissions(&self) -> Permissions {
        Permissions {
            publish: self.publish.clone(),
            subscribe: self.subscribe.clone(),
            resp: self.resp.clone(),
        }
    }

    /// Replaces the publish, subscribe and response permissions.
    pub fn set_permissions(&mut self, p: Permissions) {
        self.publish = p.publish;
        self.subscribe = p.subscribe;
        self.resp = p.resp;
    }
}

impl Default for UserPermissionLimits {
    /// No permissions and unlimited subs/data/payload, as Go's `NewUserClaims` sets them.
    fn default() -> Self {
        UserPermissionLimits {
            publish: Permission::default(),
            subscribe: Permission::default(),
            resp: None,
            src: Vec::new(),
            times: Vec::new(),
            times_location: String::new(),
            subs: NO_LIMIT,
            data: NO_LIMIT,
            payload: NO_LIMIT,
            bearer_token: false,
            proxy_required: false,
            allowed_connection_types: Vec::new(),
        }
    }
}

/// The `nats` section of a user JWT.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// Permissions and limits.
    #[serde(flatten)]
    pub limits: UserPermissionLimits,
    /// The account's public key when the JWT is signed by one of that account's signing keys.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub issuer_account: String,
    /// Tags.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub tags: Vec<String>,
    /// `"user"`.
    #[serde(rename = "type", default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// 2 for JWTs written by this module.
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub version: u32,
    /// Fields this module does not model.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Default for User {
    fn default() -> Self {
        User {
            limits: UserPermissionLimits::default(),
            issuer_account: String::new(),
            tags: Vec::new(),
            kind: String::new(),
            version: 0,
            extra: Map::new(),
        }
    }
}

impl ClaimKind for User {
    const TYPE: &'static str = "user";
    const ISSUER_PREFIXES: &'static [char] = &['A'];
    const SUBJECT_PREFIX: char = 'U';

    fn kind(&self) -> &str {
        &self.kind
    }
    fn set_type_version(&mut self, version: u32) {
        self.kind = Self::TYPE.to_string();
        self.version = version;
    }
    fn version(&self) -> u32 {
        self.version
    }
    fn migrate_v1(&mut self, top: &Map<String, Value>) {
        if self.issuer_account.is_empty() {
            if let Some(Value::String(a)) = top.get("issuer_account") {
                self.issuer_account = a.clone();
            }
        }
    }
}

impl UserClaims {
    /// True when the user JWT carries no permissions or limits of its own (a scoped signing key's user).
    pub fn has_empty_permissions(&self) -> bool {
        let l = &self.nats.limits;
        l.publish.is_empty()
            && l.subscribe.is_empty()
            && l.resp.is_none()
            && l.src.is_empty()
            && l.times.is_empty()
            && l.times_location.is_empty()
            && l.subs == 0
            && l.data == 0
            && l.payload == 0
            && !l.bearer_token
            && !l.proxy_required
            && l.allowed_connection_types.is_empty()
    }

    /// The account the user belongs to: `issuer_account` when set, else the issuer.
    pub fn account(&self) -> &str {
        if self.nats.issuer_account.is_empty() {
            &self.iss
        } else {
            &self.nats.issuer_account
        }
    }
}

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
pub struct Export {
    /// Name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Subject exported.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub subject: String,
    /// Stream or service.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub export_type: Option<ExportType>,
    /// Importers need an activation token.
    #[serde(default, skip_serializing_if = "is_false")]
    pub token_req: bool,
    /// Revoked activations: public key -> unix time.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub revocations: BTreeMap<String, i64>,
    /// `Singleton`, `Stream` or `Chunked` (services).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub response_type: String,
    /// Response threshold, nanoseconds.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub response_threshold: i64,
    /// Latency tracking (`{"sampling": "headers" | 1..100, "results": subject}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_latency: Option<Value>,
    /// Token position of the importing account in a wildcard subject.
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub account_token_position: u32,
    /// Advertise the export.
    #[serde(default, skip_serializing_if = "is_false")]
    pub advertise: bool,
    /// Allow message tracing through the export.
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_trace: bool,
    /// Description.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Info URL.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub info_url: String,
    /// Fields this module does not model.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An account import.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Import {
    /// Name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Subject in the exporting account.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub subject: String,
    /// Public key of the exporting account.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub account: String,
    /// Activation token, when the export requires one.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub token: String,
    /// Deprecated local subject (prefix for streams, rename for services).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub to: String,
    /// Local subject (may reference wildcards as `$1`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub local_subject: String,
    /// Stream or service.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub import_type: Option<ExportType>,
    /// Share latency tracking information (services).
    #[serde(default, skip_serializing_if = "is_false")]
    pub share: bool,
    /// Allow message tracing (streams).
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_trace: bool,
    /// Fields this module does not model.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// JetStream limits of an account or one of its tiers. 0 disables a storage kind; -1 is unlimited.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JetStreamLimits {
    /// Bytes of memory storage.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub mem_storage: i64,
    /// Bytes of file storage.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub disk_storage: i64,
    /// Number of streams.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub streams: i64,
    /// Number of consumers.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub consumer: i64,
    /// Max ack pending of a stream.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max_ack_pending: i64,
    /// Max bytes of one memory stream.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub mem_max_stream_bytes: i64,
    /// Max bytes of one file stream.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub disk_max_stream_bytes: i64,
    /// Streams must declare max bytes.
    #[serde(default, skip_serializing_if = "is_false")]
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
pub struct UserScope {
    /// `"user_scope"`.
    #[serde(default)]
    pub kind: String,
    /// The signing key's public key.
    #[serde(default)]
    pub key: String,
    /// Role name.
    #[serde(default)]
    pub role: String,
    /// Permissions and limits applied to users it signs.
    #[serde(default)]
    pub template: UserPermissionLimits,
    /// Description.
    #[serde(default)]
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
pub struct ExternalAuthorization {
    /// Users that the callout service connects as.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub auth_users: Vec<String>,
    /// Accounts the callout may place users in.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub allowed_accounts: Vec<String>,
    /// Curve key for encrypting requests.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub xkey: String,
}

impl ExternalAuthorization {
    fn is_empty(&self) -> bool {
        self.auth_users.is_empty() && self.allowed_accounts.is_empty() && self.xkey.is_empty()
    }
}

/// The `nats` section of an account JWT.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Account {
    /// Imports from other accounts.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub imports: Vec<Import>,
    /// Exports to other accounts.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub exports: Vec<Export>,
    /// Limits set by the operator.
    #[serde(default)]
    pub limits: AccountLimits,
    /// Keys that may sign users of this account besides the account key itself.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub signing_keys: Vec<SigningKey>,
    /// Revoked users: public key (or `*`) -> unix time; user JWTs issued at or before it are rejected.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub revocations: BTreeMap<String, i64>,
    /// Permissions of users whose JWT has none.
    #[serde(default, deserialize_with = "null_as_default")]
    pub default_permissions: Permissions,
    /// Subject mappings (kept as JSON).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Map::is_empty"
    )]
    pub mappings: Map<String, Value>,
    /// External authorization (auth callout).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "ExternalAuthorization::is_empty"
    )]
    pub authorization: ExternalAuthorization,
    /// Description.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Info URL.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub info_url: String,
    /// Tags.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub tags: Vec<String>,
    /// `"account"`.
    #[serde(rename = "type", default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// 2 for JWTs written by this module.
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub version: u32,
    /// Fields this module does not model (e.g. `trace`, `cluster_traffic`).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Default for Account {
    fn default() -> Self {
        Account {
            imports: Vec::new(),
            exports: Vec::new(),
            limits: AccountLimits::default(),
            signing_keys: Vec::new(),
            revocations: BTreeMap::new(),
            default_permissions: Permissions::default(),
            mappings: Map::new(),
            authorization: ExternalAuthorization::default(),
            description: String::new(),
            info_url: String::new(),
            tags: Vec::new(),
            kind: String::new(),
            version: 0,
            extra: Map::new(),
        }
    }
}

impl ClaimKind for Account {
    const TYPE: &'static str = "account";
    const ISSUER_PREFIXES: &'static [char] = &['O', 'A'];
    const SUBJECT_PREFIX: char = 'A';

    fn kind(&self) -> &str {
        &self.kind
    }
    fn set_type_version(&mut self, version: u32) {
        self.kind = Self::TYPE.to_string();
        self.version = version;
    }
    fn version(&self) -> u32 {
        self.version
    }
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

/// The `nats` section of an operator JWT.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Operator {
    /// Operator signing keys: they, like the operator key, may sign account JWTs.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub signing_keys: Vec<String>,
    /// URL of an account JWT server.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub account_server_url: String,
    /// URLs of NATS servers of this operator.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub operator_service_urls: Vec<String>,
    /// Public key of the system account.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub system_account: String,
    /// Minimum server version, `major.minor.patch`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub assert_server_version: String,
    /// Account JWTs must be signed by a signing key, not the operator key.
    #[serde(default, skip_serializing_if = "is_false")]
    pub strict_signing_key_usage: bool,
    /// Tags.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub tags: Vec<String>,
    /// `"operator"`.
    #[serde(rename = "type", default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// 2 for JWTs written by this module.
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub version: u32,
    /// Fields this module does not model.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ClaimKind for Operator {
    const TYPE: &'static str = "operator";
    const ISSUER_PREFIXES: &'static [char] = &['O'];
    const SUBJECT_PREFIX: char = 'O';

    fn kind(&self) -> &str {
        &self.kind
    }
    fn set_type_version(&mut self, version: u32) {
        self.kind = Self::TYPE.to_string();
        self.version = version;
    }
    fn version(&self) -> u32 {
        self.version
    }
}

impl OperatorClaims {
    /// True when `issuer` may sign account JWTs for this operator: the operator key (unless
    /// `strict_signing_key_usage`) or one of its signing keys.
    pub fn may_sign(&self, issuer: &str) -> bool {
        (issuer == self.sub && !self.nats.strict_signing_key_usage)
            || self.nats.signing_keys.iter().any(|k| k == issuer)
    }

    /// True when this operator signed `account`.
    pub fn did_sign(&self, account: &AccountClaims) -> bool {
        if account.iss == self.sub {
            // Under strict usage the operator key signs only itself.
            return !self.nats.strict_signing_key_usage || account.sub == self.sub;
        }
        self.nats.signing_keys.contains(&account.iss)
    }
}

/// The `nats` section of an activation token (`sub` is the importing account,
/// `iss` the exporting account or one of its signing keys).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Activation {
    /// The exported subject the token grants.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub subject: String,
    /// `stream` or `service`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<ExportType>,
    /// The exporting account, when signed by one of its signing keys.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub issuer_account: String,
    /// `"activation"`.
    #[serde(rename = "type", default, skip_serializing_if = "String::is_empty")]
    pub kind_name: String,
    /// 2 for tokens written by this module.
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub version: u32,
    /// Fields this module does not model.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ClaimKind for Activation {
    const TYPE: &'static str = "activation";
    const ISSUER_PREFIXES: &'static [char] = &['A'];
    const SUBJECT_PREFIX: char = 'A';

    fn kind(&self) -> &str {
        &self.kind_name
    }
    fn set_type_version(&mut self, version: u32) {
        self.kind_name = Self::TYPE.to_string();
        self.version = version;
    }
    fn version(&self) -> u32 {
        self.version
    }
}

impl ActivationClaims {
    /// The exporting account: `issuer_account` when set, else the issuer.
    pub fn exporter(&self) -> &str {
        if self.nats.issuer_account.is_empty() {
            &self.iss
        } else {
            &self.nats.issuer_account
        }
    }
}
