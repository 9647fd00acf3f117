//! Claim types of NATS v2 JWTs: the generic claim fields and the `nats` sections of operator, account and user JWTs.
//!
//! Field names and JSON shapes follow what the Go `nats-io/jwt` v2 library and `nsc` write. Zero numbers, empty
//! strings and empty lists are left out when encoding, as Go's `omitempty` does; fields this module does not know
//! are kept in `extra` maps so that a JWT made by other tooling survives a decode, edit and re-sign unchanged.
//!
//! Here: the generic claim fields. Beside it: `user`, `account` and
//! `operator` (with activations).

/// The `ClaimKind` methods of a section, which keeps its type and version in
/// its `generic` fields, as every kind here does.
macro_rules! generic_fields {
    () => {
        fn kind(&self) -> &str {
            &self.generic.kind
        }
        fn set_type_version(&mut self, version: u32) {
            self.generic.kind = Self::TYPE.to_string();
            self.generic.version = version;
        }
        fn version(&self) -> u32 {
            self.generic.version
        }
    };
}

mod account;
mod operator;
mod user;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

pub use account::*;
pub use operator::*;
pub use user::*;

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

/// The fields that close every `nats` section (Go's `GenericFields`): tags, the
/// section's type and version, and whatever this module does not model (such as
/// an account's `trace` or `cluster_traffic`), kept so that a re-signed JWT
/// loses nothing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GenericFields {
    /// Tags.
    #[serde(deserialize_with = "null_as_default", skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// `operator`, `account`, `user` or `activation`.
    #[serde(rename = "type", skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// 2 for JWTs written by this module.
    #[serde(skip_serializing_if = "is_zero_u32")]
    pub version: u32,
    /// Fields this module does not model.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
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
