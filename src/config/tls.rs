//! A `tls { }` block, read as nats-server's `parseTLS` reads it, then loaded (certificates,
//! key, CAs) as its `GenTLSConfig` does while the file is read, so `-t` reports bad files with
//! the position of the block.

use super::error::ConfigError;
use super::read::{boolean, map, other_key, seconds, string, wrong_type, Result};
use super::value::Entry;
use crate::tls::{TlsOptions, TlsVersion};

/// `tls { }` keys nats-server has that Junction does not implement yet.
const UNSUPPORTED_TLS: &[&str] = &[
    "verify_and_map",
    "verify_cert_and_check_known_urls",
    "allow_insecure_cipher_suites",
    "cipher_suites",
    "curve_preferences",
    "connection_rate_limit",
    "pinned_certs",
    "cert_store",
    "cert_match_by",
    "cert_match",
    "ca_certs_match",
    "cert_match_skip_invalid",
    "ocsp_peer",
    "certs",
    "certificates",
];

/// Reads the block at `entry` (`block` prefixes keys in messages, e.g. `websocket.tls.`).
pub(super) fn tls(entry: &Entry, block: &str) -> Result<TlsOptions> {
    let o = tls_fields(entry, block)?;
    if let Err(e) = crate::tls::server_config(&o) {
        return Err(super::read::invalid(entry, e.to_string()));
    }
    Ok(o)
}

/// A `tls {}` block of a connection this server makes (a leaf node's
/// remote): its own certificate is optional.
pub(super) fn client_tls(entry: &Entry, block: &str) -> Result<TlsOptions> {
    let o = tls_fields(entry, block)?;
    if let Err(e) = crate::tls::remote_client_config(&o) {
        return Err(super::read::invalid(entry, e.to_string()));
    }
    Ok(o)
}

fn tls_fields(entry: &Entry, block: &str) -> Result<TlsOptions> {
    let fields = map(entry)?;
    let mut o = TlsOptions::default();
    let mut errors = Vec::new();
    for e in fields {
        let key = e.key.to_ascii_lowercase();
        let result = match key.as_str() {
            "cert_file" => string(e).map(|f| o.cert_file = Some(f.into())),
            "key_file" => string(e).map(|f| o.key_file = Some(f.into())),
            "ca_file" => string(e).map(|f| o.ca_file = Some(f.into())),
            "verify" => boolean(e).map(|b| o.verify = b),
            // Only a client checks the server's certificate; a server has nothing to skip.
            "insecure" => boolean(e).map(|_| ()),
            "timeout" => seconds(e).map(|d| o.timeout = d),
            "min_version" => match e.value.as_str() {
                Some(v) => TlsVersion::parse(v)
                    .map(|v| o.min_version = v)
                    .map_err(|m| super::read::invalid(e, format!("error parsing tls config: {m}"))),
                None => Err(wrong_type(e, "a string")),
            },
            "handshake_first" | "first" | "immediate" => handshake_first(e).map(|b| o.handshake_first = b),
            _ => other_key(e, &key, block, UNSUPPORTED_TLS),
        };
        if let Err(err) = result {
            errors.push(err);
        }
    }
    if let Some(e) = ConfigError::from_list(errors) {
        return Err(e);
    }
    Ok(o)
}

/// `handshake_first: true|false` (also `"on"`/`"off"`); nats-server's `"auto"` fallback to
/// INFO-first clients is not implemented.
fn handshake_first(e: &Entry) -> Result<bool> {
    if let Some(b) = e.value.as_bool() {
        return Ok(b);
    }
    match e.value.as_str().map(str::to_ascii_lowercase).as_deref() {
        Some("true" | "on") => Ok(true),
        Some("false" | "off") => Ok(false),
        Some(v) => Err(super::read::invalid(
            e,
            format!("handshake_first {v:?} is not supported by junction yet (use true or false)"),
        )),
        None => Err(wrong_type(e, "a boolean or a string")),
    }
}
