//! The `websocket { }` block (also `ws`), mapped as nats-server's `parseWebsocket` maps it, and
//! checked against the rest of the file as its `validateWebsocketOptions` does, once every key
//! has been seen.
//!
//! As in nats-server, a block without a port (or with port 0) leaves WebSocket off, and an
//! enabled block needs a `tls { }` block or `no_tls: true`.

use super::apply::{
    boolean, duration_or_seconds, integer, invalid, listen_address, map, other_key, seconds, string,
    wrong_type, Result,
};
use super::error::ConfigError;
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
    no_auth_user_pos: Option<Pos>,
    username_pos: Option<Pos>,
    token_pos: Option<Pos>,
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
        no_auth_user_pos: None,
        username_pos: None,
        token_pos: None,
        jwt_cookie_pos: None,
        refused: false,
    });
    let mut errors = Vec::new();
    for e in fields {
        let key = e.key.to_ascii_lowercase();
        let o = &mut block.options;
        let result = match key.as_str() {
            "listen" => listen_address(e).and_then(|(host, port)| {
                block.port = check_port(e, port)?;
                if let Some(host) = host {
                    o.host = host;
                }
                Ok(())
            }),
            "port" => integer(e).and_then(|p| check_port(e, p)).map(|p| block.port = p),
            "host" | "net" => string(e).map(|h| o.host = h.to_string()),
            "no_tls" => boolean(e).map(|b| o.no_tls = b),
            "tls" => super::tls::tls(e, "websocket.tls.").map(|t| o.tls = Some(t)),
            "same_origin" => boolean(e).map(|b| o.same_origin = b),
            "allowed_origins" | "allowed_origin" | "allow_origins" | "allow_origin" | "origins"
            | "origin" => allowed_origins(e).map(|list| o.allowed_origins = list),
            "handshake_timeout" => duration_or_seconds(e).map(|d| o.handshake_timeout = d),
            "compress" | "compression" => boolean(e).map(|b| o.compression = b),
            "authorization" | "authentication" => authorization(e, block),
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
            "no_auth_user" => string(e).map(|u| {
                o.no_auth_user = Some(u.to_string());
                block.no_auth_user_pos = Some(e.key_pos.clone());
            }),
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

/// A WebSocket port: -1 is a random port, 0 is off.
fn check_port(entry: &Entry, port: i64) -> Result<i64> {
    if (-1..=65535).contains(&port) {
        Ok(port)
    } else {
        Err(invalid(
            entry,
            format!("port {port} is out of range (use 1-65535, or -1 for a random port)"),
        ))
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

/// `authorization { user, password, token }` for WebSocket clients (nats-server's
/// `parseSimpleAuth`: no users list).
fn authorization(entry: &Entry, block: &mut Block) -> Result<()> {
    let fields = map(entry)?;
    let mut errors = Vec::new();
    let o = &mut block.options;
    for e in fields {
        let key = e.key.to_ascii_lowercase();
        let result = match key.as_str() {
            "user" | "username" => string(e).map(|u| {
                o.username = Some(u.to_string());
                block.username_pos = Some(e.key_pos.clone());
            }),
            "pass" | "password" => string(e).map(|p| o.password = Some(p.to_string())),
            "token" => string(e).map(|t| {
                o.token = Some(t.to_string());
                block.token_pos = Some(e.key_pos.clone());
            }),
            "timeout" => seconds(e).map(|d| o.auth_timeout = Some(d)),
            _ => other_key(e, &key, "websocket.authorization.", &[]),
        };
        if let Err(err) = result {
            errors.push(err);
        }
    }
    match ConfigError::from_list(errors) {
        Some(e) => Err(e),
        None => Ok(()),
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
    if let (Some(user), Some(pos)) = (&o.no_auth_user, &block.no_auth_user_pos) {
        let known = opts.users.iter().any(|u| {
            u.username.as_deref() == Some(user.as_str()) || u.nkey.as_deref() == Some(user.as_str())
        });
        let message = if !opts.operators.is_empty() {
            Some("no_auth_user not compatible with Trusted Operator".to_string())
        } else if opts.users.is_empty() {
            Some(format!(
                "no_auth_user: {user:?} present, but users/nkeys are not defined"
            ))
        } else if !known {
            Some(format!(
                "no_auth_user: {user:?} not present as user or nkey in authorization block or account \
                 configuration"
            ))
        } else {
            None
        };
        if let Some(message) = message {
            errors.push(fail(pos, "no_auth_user", message));
        }
    }
    if !opts.users.is_empty() {
        if let (Some(_), Some(pos)) = (
            o.username.as_deref().filter(|u| !u.is_empty()),
            &block.username_pos,
        ) {
            errors.push(fail(
                pos,
                "user",
                "websocket authentication username not compatible with presence of users/nkeys".into(),
            ));
        }
        if let (Some(_), Some(pos)) = (o.token.as_deref().filter(|t| !t.is_empty()), &block.token_pos) {
            errors.push(fail(
                pos,
                "token",
                "websocket authentication token not compatible with presence of users/nkeys".into(),
            ));
        }
    }
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
