//! What the `websocket {}` and `mqtt {}` blocks share: their port rule, and
//! their own `authorization {}` and `no_auth_user`, checked against the rest
//! of the file as nats-server's `validateWebsocketOptions` and
//! `validateMQTTOptions` check them.

use super::error::ConfigError;
use super::read::{invalid, map, other_key, seconds, string, Result};
use super::value::{Entry, Pos};
use crate::options::{ListenerAuth, Options};

/// A listener block's `listen: [host:]port`: the port checked, the host
/// kept when given.
pub(super) fn listen(entry: &Entry, port: &mut i64, host: &mut String) -> Result<()> {
    let (given, p) = super::read::listen_address(entry)?;
    *port = check_port(entry, p)?;
    if let Some(given) = given {
        *host = given;
    }
    Ok(())
}

/// A listener's port: -1 is a random port, 0 is off.
pub(super) fn check_port(entry: &Entry, port: i64) -> Result<i64> {
    if (-1..=65535).contains(&port) {
        Ok(port)
    } else {
        Err(invalid(
            entry,
            format!("port {port} is out of range (use 1-65535, or -1 for a random port)"),
        ))
    }
}

/// Where the keys that are checked against the rest of the file were written.
#[derive(Default)]
pub(super) struct AuthPositions {
    pub username: Option<Pos>,
    pub token: Option<Pos>,
    pub no_auth_user: Option<Pos>,
}

/// `authorization { user, password, token, timeout }` (nats-server's
/// `parseSimpleAuth`: no users list). `prefix` names the block in errors.
pub(super) fn authorization(
    entry: &Entry,
    prefix: &str,
    auth: &mut ListenerAuth,
    at: &mut AuthPositions,
) -> Result<()> {
    let mut errors = Vec::new();
    for e in map(entry)? {
        let key = e.key.to_ascii_lowercase();
        let result = match key.as_str() {
            "user" | "username" => string(e).map(|u| {
                auth.username = Some(u.to_string());
                at.username = Some(e.key_pos.clone());
            }),
            "pass" | "password" => string(e).map(|p| auth.password = Some(p.to_string())),
            "token" => string(e).map(|t| {
                auth.token = Some(t.to_string());
                at.token = Some(e.key_pos.clone());
            }),
            "timeout" => seconds(e).map(|d| auth.timeout = Some(d)),
            _ => other_key(e, &key, &format!("{prefix}authorization."), &[]),
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

/// A listener's `no_auth_user`, whose position is kept for `check_auth`.
pub(super) fn no_auth_user(entry: &Entry, auth: &mut ListenerAuth, at: &mut AuthPositions) -> Result<()> {
    auth.no_auth_user = Some(string(entry)?.to_string());
    at.no_auth_user = Some(entry.key_pos.clone());
    Ok(())
}

/// nats-server's checks of a listener's `no_auth_user`, user and token
/// against the server's users and operators. `listener` is `websocket` or
/// `mqtt`, as the messages name it.
pub(super) fn check_auth(
    opts: &Options,
    listener: &str,
    auth: &ListenerAuth,
    at: &AuthPositions,
    errors: &mut Vec<ConfigError>,
) {
    let fail = |pos: &Pos, key: &str, message: String| ConfigError::InvalidValue {
        pos: pos.clone(),
        key: key.to_string(),
        message,
    };
    if let (Some(user), Some(pos)) = (auth.no_auth_user.as_deref(), &at.no_auth_user) {
        let known = opts
            .users
            .iter()
            .any(|u| u.username.as_deref() == Some(user) || u.nkey.as_deref() == Some(user));
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
        if let (Some(_), Some(pos)) = (auth.username.as_deref().filter(|u| !u.is_empty()), &at.username) {
            errors.push(fail(
                pos,
                "user",
                format!("{listener} authentication username not compatible with presence of users/nkeys"),
            ));
        }
        if let (Some(_), Some(pos)) = (auth.token.as_deref().filter(|t| !t.is_empty()), &at.token) {
            errors.push(fail(
                pos,
                "token",
                format!("{listener} authentication token not compatible with presence of users/nkeys"),
            ));
        }
    }
}
