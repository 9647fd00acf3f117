//! The `websocket { }` block (also `ws`), mapped as nats-server's `parseWebsocket` maps it, and
//! checked against the rest of the file as its `validateWebsocketOptions` does, once every key
//! has been seen.
//!
//! As in nats-server, a block without a port (or with port 0) leaves WebSocket off, and an
//! enabled block needs a `tls { }` block or `no_tls: true`.

use super::error::ConfigError;
use super::listener::{authorization, check_auth, check_port, listen, no_auth_user, AuthPositions};
use super::read::{
    boolean, duration_or_seconds, integer, invalid, map, other_key, string, wrong_type, Result,
};
use super::value::{Entry, Pos, ValueKind};
use crate::options::{Options, WebsocketOptions};

/// The block as written, kept until the whole file has been read.
#[derive(Default)]
pub(super) struct WebsocketState {
    block: Option<Block>,
}

struct Block {
    /// Where `websocket` was written.
    pos: Pos,
    /// Port as written: 0 (or absent) is off, -1 a random port.
    port: i64,
    options: WebsocketOptions,
    /// Where the keys that are cross-checked were written.
    at: AuthPositions,
    jwt_cookie_pos: Option<Pos>,
    /// Some key was refused: the block is not checked further, to avoid follow-on errors.
    refused: bool,
}

/// `websocket { ... }`. A second block (`ws` and `websocket`) adds to the first.
pub(super) fn websocket(entry: &Entry, state: &mut WebsocketState) -> Result<()> {
    let fields = match &entry.value.kind {
        ValueKind::Map(m) => m,
        _ => return Err(wrong_type(entry, "a map")),
    };
    let block = state.block.get_or_insert_with(|| Block {
        pos: entry.key_pos.clone(),
        port: 0,
        options: WebsocketOptions {
            // nats-server's default; an enabled block must say `no_tls: true`.
            no_tls: false,
            ..WebsocketOptions::default()
        },
        at: AuthPositions::default(),
        jwt_cookie_pos: None,
        refused: false,
    });
    let mut errors = Vec::new();
    for e in fields {
        let key = e.key.to_ascii_lowercase();
        let o = &mut block.options;
        let result = match key.as_str() {
            "listen" => listen(e, &mut block.port, &mut o.host),
            "port" => integer(e).and_then(|p| check_port(e, p)).map(|p| block.port = p),
            "host" | "net" => string(e).map(|h| o.host = h.to_string()),
            "no_tls" => boolean(e).map(|b| o.no_tls = b),
            "tls" => super::tls::tls(e, "websocket.tls.").map(|t| o.tls = Some(t)),
            "same_origin" => boolean(e).map(|b| o.same_origin = b),
            "allowed_origins" | "allowed_origin" | "allow_origins" | "allow_origin" | "origins"
            | "origin" => allowed_origins(e).map(|list| o.allowed_origins = list),
            "handshake_timeout" => duration_or_seconds(e).map(|d| o.handshake_timeout = d),
            "compress" | "compression" => boolean(e).map(|b| o.compression = b),
            "authorization" | "authentication" => authorization(e, "websocket.", &mut o.auth, &mut block.at),
            "jwt_cookie" => string(e).map(|c| {
                o.jwt_cookie = Some(c.to_string());
                block.jwt_cookie_pos = Some(e.key_pos.clone());
            }),
            "user_cookie" => string(e).map(|c| o.user_cookie = Some(c.to_string())),
            "pass_cookie" => string(e).map(|c| o.pass_cookie = Some(c.to_string())),
            "token_cookie" => string(e).map(|c| o.token_cookie = Some(c.to_string())),
            "ping_interval" => duration_or_seconds(e).map(|d| o.ping_interval = Some(d)),
            "advertise" => string(e).map(|a| o.advertise = Some(a.to_string())),
            "headers" => headers(e).map(|h| o.headers = h),
            "no_auth_user" => no_auth_user(e, &mut o.auth, &mut block.at),
            _ => other_key(e, &key, "websocket.", &[]),
        };
        if let Err(err) = result {
            errors.push(err);
        }
    }
    block.refused |= !errors.is_empty();
    match ConfigError::from_list(errors) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// A string or an array of strings, each an absolute http or https URL (nats-server checks this
/// when it starts).
fn allowed_origins(entry: &Entry) -> Result<Vec<String>> {
    let values: Vec<(&str, &Pos)> = match &entry.value.kind {
        ValueKind::String(s) => vec![(s.as_str(), &entry.key_pos)],
        ValueKind::Array(items) => {
            let mut list = Vec::with_capacity(items.len());
            for item in items {
                match item.as_str() {
                    Some(s) => list.push((s, &item.pos)),
                    None => return Err(wrong_type(entry, "a string or an array of strings")),
                }
            }
            list
        }
        _ => return Err(wrong_type(entry, "a string or an array of strings")),
    };
    let mut errors = Vec::new();
    for (origin, pos) in &values {
        if let Err(message) = junction_websocket::validate_allowed_origin(origin) {
            errors.push(ConfigError::InvalidValue {
                pos: (*pos).clone(),
                key: entry.key.clone(),
                message,
            });
        }
    }
    match ConfigError::from_list(errors) {
        Some(e) => Err(e),
        None => Ok(values.into_iter().map(|(s, _)| s.to_string()).collect()),
    }
}

/// `headers { Name: value }`: extra headers for the upgrade answer, in the order written.
fn headers(entry: &Entry) -> Result<Vec<(String, String)>> {
    let mut list = Vec::new();
    let mut errors = Vec::new();
    for e in map(entry)? {
        match e.value.as_str() {
            Some(v) => match junction_websocket::validate_header(&e.key) {
                Ok(()) => list.push((e.key.clone(), v.to_string())),
                Err(m) => errors.push(invalid(e, m)),
            },
            None => errors.push(wrong_type(e, "a string")),
        }
    }
    match ConfigError::from_list(errors) {
        Some(e) => Err(e),
        None => Ok(list),
    }
}

/// Checks an enabled block against users and operators, and sets `opts.websocket`.
pub(super) fn finish(opts: &mut Options, state: &mut WebsocketState) -> Result<()> {
    let Some(block) = state.block.take() else {
        return Ok(());
    };
    if block.refused {
        // Its errors are already reported.
        return Ok(());
    }
    if block.port == 0 {
        // nats-server starts no WebSocket listener and ignores the other options.
        opts.websocket = None;
        return Ok(());
    }
    let mut errors = Vec::new();
    let fail = |pos: &Pos, key: &str, message: String| ConfigError::InvalidValue {
        pos: pos.clone(),
        key: key.to_string(),
        message,
    };
    let o = &block.options;
    if !o.no_tls && o.tls.is_none() {
        errors.push(fail(
            &block.pos,
            "websocket",
            "websocket requires TLS configuration".into(),
        ));
    }
    check_auth(opts, "websocket", &o.auth, &block.at, &mut errors);
    if let (Some(cookie), Some(pos)) = (&o.jwt_cookie, &block.jwt_cookie_pos) {
        if opts.operators.is_empty() && opts.trusted_keys.is_empty() {
            errors.push(fail(
                pos,
                "jwt_cookie",
                format!(
                    "trusted operators or trusted keys configuration is required for JWT authentication \
                     via cookie {cookie:?}"
                ),
            ));
        }
    }
    if let Some(e) = ConfigError::from_list(errors) {
        return Err(e);
    }
    let mut options = block.options;
    options.port = if block.port == -1 { 0 } else { block.port as u16 };
    opts.websocket = Some(options);
    Ok(())
}
