//! NATS JWTs: decode and verify, create and sign operator, account and user claims, and read and write `.creds`.
//!
//! NATS JWTs are ordinary three-part JWTs whose header is `{"typ":"JWT","alg":"ed25519-nkey"}` and whose
//! signature is a plain Ed25519 signature over `header.payload` by the issuer's nkey (`iss`). They are verified
//! here with the `nkeys` crate. The JSON of the claims follows the Go `nats-io/jwt` v2 library, so JWTs written
//! by `nsc` decode here and JWTs written here are accepted by `nats-server` and the official clients.
//!
//! - [`decode`] verifies a JWT and checks its type, issuer kind and validity period;
//!   [`decode_without_time_check`] leaves the period to [`Claims::check_times`] so a server can tell
//!   "expired" apart from other failures while still reading the claims.
//! - [`encode`] signs claims with an nkey, filling `iss`, `iat` and `jti` as the Go library does.
//! - [`format_creds`] / [`parse_creds`] write and read user credentials files.
//! - [`sign_nonce`] / [`verify_nonce`] are the client and server halves of the nonce challenge.

pub mod claims;
pub mod cli;
pub mod creds;

#[cfg(test)]
mod tests;

use data_encoding::{BASE32_NOPAD, BASE64, BASE64URL_NOPAD};
use nkeys::KeyPair;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha512_256};

pub use claims::{
    Account, AccountClaims, AccountLimits, Activation, ActivationClaims, ClaimKind, Claims, Export,
    ExportType, ExternalAuthorization, Import, JetStreamLimits, Operator, OperatorClaims, Permission,
    Permissions, ResponsePermission, SigningKey, TimeRange, User, UserClaims, UserPermissionLimits,
    UserScope, NO_LIMIT, REVOKE_ALL,
};
pub use creds::{
    format_creds, format_decorated_jwt, format_decorated_seed, parse_creds, parse_decorated_jwt,
};

/// The `alg` of NATS v2 JWTs.
pub const ALGORITHM_NKEY: &str = "ed25519-nkey";
/// The `alg` of v1 JWTs, accepted when decoding.
pub const ALGORITHM_NKEY_V1: &str = "ed25519";
/// The largest token accepted, as in the Go library.
pub const MAX_TOKEN_SIZE: usize = 1024 * 1024;
/// The claims version written by [`encode`].
pub const CLAIMS_VERSION: u32 = 2;

/// Why a JWT could not be decoded, verified or encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    /// Not three base64url parts, bad JSON, unknown header or too large.
    #[error("malformed JWT: {0}")]
    Malformed(String),
    /// The signature does not match the claims and the issuer's key.
    #[error("JWT signature verification failed")]
    BadSignature,
    /// `exp` is in the past.
    #[error("JWT has expired")]
    Expired,
    /// `nbf` is in the future.
    #[error("JWT is not yet valid")]
    NotYetValid,
    /// The claims are of another kind than asked for.
    #[error("expected a {expected} JWT, got {found:?}")]
    WrongType {
        /// Kind asked for.
        expected: &'static str,
        /// Kind found (`nats.type`, or the v1 top-level `type`).
        found: String,
    },
    /// The issuer is not a public nkey of a kind that may sign these claims.
    #[error("issuer {0:?} may not sign this kind of JWT")]
    BadIssuer(String),
    /// The subject is not a public nkey of the kind these claims describe.
    #[error("subject {0:?} is not a valid public key for this kind of JWT")]
    BadSubject(String),
    /// An nkey or seed could not be read or used.
    #[error("nkey error: {0}")]
    Key(String),
    /// A credentials file could not be parsed.
    #[error("invalid credentials: {0}")]
    Creds(String),
}

/// The current time in unix seconds.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[derive(Serialize, Deserialize)]
struct Header {
    #[serde(default)]
    typ: String,
    #[serde(default)]
    alg: String,
}

fn malformed(what: impl std::fmt::Display) -> JwtError {
    JwtError::Malformed(what.to_string())
}

fn b64url_decode(part: &str, what: &str) -> Result<Vec<u8>, JwtError> {
    BASE64URL_NOPAD
        .decode(part.as_bytes())
        .map_err(|e| malformed(format!("{what}: {e}")))
}

/// The first character of a public key, when it decodes as a valid public nkey.
fn public_key_prefix(key: &str) -> Option<char> {
    KeyPair::from_public_key(key).ok()?;
    key.chars().next()
}

/// Decodes and verifies a NATS JWT of kind `T`, including its `exp` and `nbf` against the current time.
pub fn decode<T: ClaimKind>(jwt: &str) -> Result<Claims<T>, JwtError> {
    let claims = decode_without_time_check::<T>(jwt)?;
    claims.check_times()?;
    Ok(claims)
}

/// Decodes and verifies a NATS JWT of kind `T` without looking at `exp` and `nbf`
/// (call [`Claims::check_times`] to report "expired" yourself).
///
/// Checks: three parts; header `typ` JWT and `alg` `ed25519-nkey` (or v1 `ed25519`); the signature by the key
/// in `iss` (over `header.payload` for v2, over the payload alone for v1); the claim type; the issuer's key
/// kind (operator for operators, operator or the account itself for accounts, account for users) and the
/// subject's key kind. It does not check that the issuer is trusted: the caller compares it with its operator,
/// the operator's signing keys, or the account and its signing keys.
pub fn decode_without_time_check<T: ClaimKind>(jwt: &str) -> Result<Claims<T>, JwtError> {
    let jwt = jwt.trim();
    if jwt.len() > MAX_TOKEN_SIZE {
        return Err(malformed(format!(
            "token of {} bytes exceeds {MAX_TOKEN_SIZE}",
            jwt.len()
        )));
    }
    let mut parts = jwt.split('.');
    let (Some(h64), Some(p64), Some(s64), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed("expected 3 parts separated by '.'"));
    };
    let header: Header = serde_json::from_slice(&b64url_decode(h64, "header")?)
        .map_err(|e| malformed(format!("header: {e}")))?;
    if !header.typ.eq_ignore_ascii_case("JWT") {
        return Err(malformed(format!("unsupported header type {:?}", header.typ)));
    }
    let alg = header.alg.to_ascii_lowercase();
    if alg != ALGORITHM_NKEY && alg != ALGORITHM_NKEY_V1 {
        return Err(malformed(format!("unsupported algorithm {:?}", header.alg)));
    }
    let payload = b64url_decode(p64, "claims")?;
    let raw: Map<String, Value> =
        serde_json::from_slice(&payload).map_err(|e| malformed(format!("claims: {e}")))?;
    let sig = b64url_decode(s64, "signature")?;

    // v1 JWTs carry `type` at the top level; v2 ones carry `nats.type` and `nats.version`.
    let nats = raw.get("nats").and_then(Value::as_object);
    let top_type = raw.get("type").and_then(Value::as_str).unwrap_or("");
    let (kind, version) = if !top_type.is_empty() {
        (top_type.to_string(), 1)
    } else {
        let kind = nats
            .and_then(|n| n.get("type"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let version = nats
            .and_then(|n| n.get("version"))
            .and_then(Value::as_u64)
            .unwrap_or(0);
        (kind.to_string(), version)
    };
    if version > u64::from(CLAIMS_VERSION) {
        return Err(malformed(format!(
            "claims version {version} is newer than {CLAIMS_VERSION}"
        )));
    }

    let iss = raw.get("iss").and_then(Value::as_str).unwrap_or("");
    let issuer = KeyPair::from_public_key(iss).map_err(|_| JwtError::BadIssuer(iss.to_string()))?;
    // As the reference library decides: by the header's algorithm. A v1
    // token (`ed25519`) is signed over its claims part alone.
    let signed = if alg == ALGORITHM_NKEY_V1 {
        p64
    } else {
        &jwt[..h64.len() + 1 + p64.len()]
    };
    issuer
        .verify(signed.as_bytes(), &sig)
        .map_err(|_| JwtError::BadSignature)?;

    if kind != T::TYPE {
        return Err(JwtError::WrongType {
            expected: T::TYPE,
            found: kind,
        });
    }
    let mut claims: Claims<T> =
        serde_json::from_value(Value::Object(raw)).map_err(|e| malformed(format!("claims: {e}")))?;
    if version <= 1 {
        claims.extra.remove("type");
        claims.nats.migrate_v1(&claims.extra);
        claims.nats.set_type_version(1);
    }
    if !public_key_prefix(&claims.iss).is_some_and(|p| T::ISSUER_PREFIXES.contains(&p)) {
        return Err(JwtError::BadIssuer(claims.iss));
    }
    if public_key_prefix(&claims.sub) != Some(T::SUBJECT_PREFIX) {
        return Err(JwtError::BadSubject(claims.sub));
    }
    // An account may sign only its own account JWT.
    if T::TYPE == "account" && claims.iss.starts_with('A') && claims.iss != claims.sub {
        return Err(JwtError::BadIssuer(claims.iss));
    }
    Ok(claims)
}

/// Go's `encoding/json` escapes `<`, `>`, `&`, U+2028 and U+2029 inside strings; serde_json does not.
/// Outside strings these characters never appear in JSON, so replacing them everywhere is safe.
fn go_json_escape(json: String) -> String {
    if !json.contains(['<', '>', '&', '\u{2028}', '\u{2029}']) {
        return json;
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// The generic claim fields in the order Go's `ClaimsData` has them, without `jti`: what the JWT id hashes.
#[derive(Serialize)]
struct IdFields<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    iat: Option<i64>,
    #[serde(skip_serializing_if = "str::is_empty")]
    iss: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    nbf: Option<i64>,
    #[serde(skip_serializing_if = "str::is_empty")]
    sub: &'a str,
}

/// The JWT id the Go library computes: unpadded base32 of SHA-512/256 over the JSON of the generic fields
/// with `jti` empty.
pub fn compute_jti<T>(claims: &Claims<T>) -> Result<String, JwtError> {
    let fields = IdFields {
        aud: claims.aud.as_deref().filter(|a| !a.is_empty()),
        exp: claims.exp.filter(|e| *e != 0),
        iat: Some(claims.iat).filter(|i| *i != 0),
        iss: &claims.iss,
        name: &claims.name,
        nbf: claims.nbf.filter(|n| *n != 0),
        sub: &claims.sub,
    };
    let json = serde_json::to_string(&fields).map_err(|e| malformed(e.to_string()))?;
    let hash = Sha512_256::digest(go_json_escape(json).as_bytes());
    Ok(BASE32_NOPAD.encode(&hash))
}

/// Signs `claims` with `signer`, returning the JWT.
///
/// Like the Go library, this sets `iss` to the signer's public key, `iat` to now, `jti` to the hash of the
/// generic fields, `nats.type` and `nats.version` (2), and uses the header `{"typ":"JWT","alg":"ed25519-nkey"}`.
/// The signer must be of a kind that may issue `T` (operator for operators, operator or the account itself for
/// accounts, account for users) and hold a seed; the subject must be a public key of the right kind.
pub fn encode<T: ClaimKind>(claims: &Claims<T>, signer: &KeyPair) -> Result<String, JwtError> {
    encode_at(claims, signer, now_unix())
}

/// [`encode`] with an explicit issue time (unix seconds).
pub fn encode_at<T: ClaimKind>(claims: &Claims<T>, signer: &KeyPair, iat: i64) -> Result<String, JwtError> {
    if public_key_prefix(&claims.sub) != Some(T::SUBJECT_PREFIX) {
        return Err(JwtError::BadSubject(claims.sub.clone()));
    }
    let issuer = signer.public_key();
    if !public_key_prefix(&issuer).is_some_and(|p| T::ISSUER_PREFIXES.contains(&p)) {
        return Err(JwtError::BadIssuer(issuer));
    }
    if T::TYPE == "account" && issuer.starts_with('A') && issuer != claims.sub {
        return Err(JwtError::BadIssuer(issuer));
    }
    let mut c = claims.clone();
    c.iss = issuer;
    c.iat = iat;
    c.exp = c.exp.filter(|e| *e != 0);
    c.nbf = c.nbf.filter(|n| *n != 0);
    for v1_field in ["type", "tags", "issuer_account"] {
        c.extra.remove(v1_field);
    }
    c.jti = String::new();
    c.jti = compute_jti(&c)?;
    c.nats.set_type_version(CLAIMS_VERSION);
    c.nats.prepare_encode();

    let header = serde_json::to_string(&Header {
        typ: "JWT".into(),
        alg: ALGORITHM_NKEY.into(),
    })
    .map_err(|e| malformed(e.to_string()))?;
    let payload = go_json_escape(serde_json::to_string(&c).map_err(|e| malformed(e.to_string()))?);
    let mut token = BASE64URL_NOPAD.encode(header.as_bytes());
    token.push('.');
    token.push_str(&BASE64URL_NOPAD.encode(payload.as_bytes()));
    let sig = signer
        .sign(token.as_bytes())
        .map_err(|e| JwtError::Key(e.to_string()))?;
    token.push('.');
    token.push_str(&BASE64URL_NOPAD.encode(&sig));
    Ok(token)
}

/// What a client sends as `sig` in CONNECT: the nonce signed with its seed, base64url without padding.
pub fn sign_nonce(seed: &str, nonce: &str) -> Result<String, JwtError> {
    let kp = KeyPair::from_seed(seed.trim()).map_err(|e| JwtError::Key(e.to_string()))?;
    let sig = kp
        .sign(nonce.as_bytes())
        .map_err(|e| JwtError::Key(e.to_string()))?;
    Ok(BASE64URL_NOPAD.encode(&sig))
}

/// Verifies a CONNECT `sig` over `nonce` by `public_key`. Like nats-server it accepts base64url without
/// padding (Go, Rust clients) and standard base64 (nats-py).
pub fn verify_nonce(public_key: &str, nonce: &str, sig: &str) -> Result<(), JwtError> {
    let kp = KeyPair::from_public_key(public_key).map_err(|e| JwtError::Key(e.to_string()))?;
    let raw = BASE64URL_NOPAD
        .decode(sig.as_bytes())
        .or_else(|_| BASE64.decode(sig.as_bytes()))
        .map_err(|_| JwtError::BadSignature)?;
    kp.verify(nonce.as_bytes(), &raw)
        .map_err(|_| JwtError::BadSignature)
}
