//! The `nats` section of user JWTs: permissions, limits and allowed
//! connection types.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::*;

/// Publish or subscribe permission lists.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Permission {
    /// Subjects allowed (empty: everything not denied).
    #[serde(deserialize_with = "null_as_default", skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
    /// Subjects denied.
    #[serde(deserialize_with = "null_as_default", skip_serializing_if = "Vec::is_empty")]
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
#[serde(default)]
pub struct ResponsePermission {
    /// Number of responses allowed per request.
    pub max: i64,
    /// How long the permission lasts, in nanoseconds (a Go `time.Duration`).
    pub ttl: i64,
}

/// Publish, subscribe and response permissions (user permissions and account `default_permissions`).
///
/// Go never leaves out `pub` and `sub` (they are structs), so they are always written, possibly as `{}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Permissions {
    /// The `pub` permission.
    #[serde(rename = "pub", deserialize_with = "null_as_default")]
    pub publish: Permission,
    /// The `sub` permission.
    #[serde(rename = "sub", deserialize_with = "null_as_default")]
    pub subscribe: Permission,
    /// The `resp` permission.
    #[serde(skip_serializing_if = "Option::is_none")]
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
#[serde(default)]
pub struct TimeRange {
    /// Start, `HH:MM:SS`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub start: String,
    /// End, `HH:MM:SS`.
    #[serde(skip_serializing_if = "String::is_empty")]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct User {
    /// Permissions and limits.
    #[serde(flatten)]
    pub limits: UserPermissionLimits,
    /// The account's public key when the JWT is signed by one of that account's signing keys.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub issuer_account: String,
    /// Tags, `type` (`"user"`), version and the fields this module does not model.
    #[serde(flatten)]
    pub generic: GenericFields,
}

impl ClaimKind for User {
    const TYPE: &'static str = "user";
    const ISSUER_PREFIXES: &'static [char] = &['A'];
    const SUBJECT_PREFIX: char = 'U';

    generic_fields!();
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
