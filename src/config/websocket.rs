//! The `websocket { }` block (also `ws`), mapped as nats-server's `parseWebsocket` maps it, and
//! checked against the rest of the file as its `validateWebsocketOptions` does, once every key
//! has been seen.
//!
//! As in nats-server, a block without a port (or with port 0) leaves WebSocket off, and an
//! enabled block needs a `tls { }` block or `no_tls: true`.

use super::error::ConfigError;
use super::listener::ListenerBlock;
use super::read::{boolean, duration_or_seconds, invalid, map, string, wrong_type, Result};
use super::value::{Entry, Pos, ValueKind};
use crate::options::{Options, WebsocketOptions};

/// The block as written, kept until the whole file has been read.
#[derive(Default)]
pub(super) struct WebsocketState {
    block: Option<ListenerBlock<WebsocketOptions>>,
    jwt_cookie_pos: Option<Pos>,
}

/// `websocket { ... }`. A second block (`ws` and `websocket`) adds to the first.
pub(super) fn websocket(entry: &Entry, state: &mut WebsocketState) -> Result<()> {
    let block = state.block.get_or_insert_with(|| {
        let options = WebsocketOptions {
            // nats-server's default; an enabled block must say `no_tls: true`.
            no_tls: false,
            ..WebsocketOptions::default()
        };
        ListenerBlock::new(entry.key_pos.clone(), options)
    });
    let jwt_cookie_pos = &mut state.jwt_cookie_pos;
    block.read(entry, "websocket", |e, key, o| {
        Some(match key {
            "no_tls" => boolean(e).map(|b| o.no_tls = b),
            "same_origin" => boolean(e).map(|b| o.same_origin = b),
            "allowed_origins" | "allowed_origin" | "allow_origins" | "allow_origin" | "origins"
            | "origin" => allowed_origins(e).map(|list| o.allowed_origins = list),
            "handshake_timeout" => duration_or_seconds(e).map(|d| o.handshake_timeout = d),
            "compress" | "compression" => boolean(e).map(|b| o.compression = b),
            "jwt_cookie" => string(e).map(|c| {
                o.jwt_cookie = Some(c.to_string());
                *jwt_cookie_pos = Some(e.key_pos.clone());
            }),
            "user_cookie" => string(e).map(|c| o.user_cookie = Some(c.to_string())),
            "pass_cookie" => string(e).map(|c| o.pass_cookie = Some(c.to_string())),
            "token_cookie" => string(e).map(|c| o.token_cookie = Some(c.to_string())),
            "ping_interval" => duration_or_seconds(e).map(|d| o.ping_interval = Some(d)),
            "advertise" => string(e).map(|a| o.advertise = Some(a.to_string())),
            "headers" => headers(e).map(|h| o.headers = h),
            _ => return None,
        })
    })
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
    if let (Some(cookie), Some(pos)) = (&o.jwt_cookie, &state.jwt_cookie_pos) {
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
    opts.websocket = Some(block.finish(opts, "websocket", errors)?);
    Ok(())
}
