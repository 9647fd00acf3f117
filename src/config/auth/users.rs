//! `authorization { }` and the users of accounts: passwords, tokens, nkeys,
//! permissions, allowed connection types.

use std::time::Duration;

use crate::config::read::{
    invalid, map, or_default, other_key, parse_duration_value, seconds, string, wrong_type, Result,
};
use crate::config::units::parse_duration;
use crate::config::value::{Entry, Map, Value, ValueKind};
use crate::options::{Options, Permissions, ResponsePermission, SubjectPermission, UserConfig};

use super::*;

/// `authorization { user, password, token, timeout, users, default_permissions }`.
pub(in crate::config) fn authorization(
    opts: &mut Options,
    entry: &Entry,
    state: &mut AuthState,
) -> Result<()> {
    let block = map(entry)?;
    let mut errors = Errors::default();
    let (mut user, mut password, mut token, mut timeout) = (None, None, None, None);
    let mut users = None;
    let mut default_permissions = None;
    for e in block {
        let key = e.key.to_ascii_lowercase();
        let result = match key.as_str() {
            "user" | "username" => string(e).map(|s| user = Some(s.to_string())),
            "pass" | "password" => string(e).map(|s| password = Some(s.to_string())),
            "token" => string(e).map(|s| token = Some(s.to_string())),
            "timeout" => seconds(e).map(|d| timeout = Some(d)),
            "users" => parse_users(e, None, "authorization.users.").map(|u| users = Some(u)),
            "default_permission" | "default_permissions" | "permissions" => {
                permissions(e).map(|p| default_permissions = Some(p))
            }
            _ => other_key(e, &key, "authorization.", UNSUPPORTED_AUTHORIZATION),
        };
        errors.ok(result);
    }
    errors.take()?;
    let given = |s: &Option<String>| s.as_deref().is_some_and(|s| !s.is_empty());
    if (given(&user) || given(&password)) && given(&token) {
        return Err(invalid(entry, "a user/password and a token cannot both be set"));
    }
    state.authorization = Some(AuthBlock {
        pos: entry.key_pos.clone(),
        single_user: given(&user),
        token: given(&token),
        users,
    });
    // As in nats-server, the block replaces all of these, and a missing or zero timeout means
    // the default.
    opts.username = user;
    opts.password = password;
    opts.authorization = token;
    opts.default_permissions = default_permissions;
    opts.auth_timeout = or_default(timeout.unwrap_or(Duration::ZERO), Options::default().auth_timeout);
    Ok(())
}

/// `users = [ {user, password, permissions, allowed_connection_types}, {nkey, ...} ]`.
/// `block` prefixes keys in "not supported" messages.
pub(super) fn parse_users(entry: &Entry, account: Option<&str>, block: &str) -> Result<Vec<UserDef>> {
    let Some(items) = entry.value.as_array() else {
        return Err(wrong_type(entry, "an array of users"));
    };
    let mut errors = Errors::default();
    let mut users = Vec::with_capacity(items.len());
    for item in items {
        let Some(fields) = item.as_map() else {
            errors.add(wrong_element(item, &entry.key, "a map with a user or an nkey"));
            continue;
        };
        if let Some(user) = errors.ok(parse_user(item, fields, account, block)) {
            users.push(user);
        }
    }
    errors.take()?;
    Ok(users)
}

pub(super) fn parse_user(item: &Value, fields: &Map, account: Option<&str>, block: &str) -> Result<UserDef> {
    let mut errors = Errors::default();
    let mut user = UserConfig {
        account: account.map(String::from),
        ..UserConfig::default()
    };
    let mut pos = item.pos.clone();
    let mut nkey_entry = None;
    for e in fields {
        let key = e.key.to_ascii_lowercase();
        let result = match key.as_str() {
            "nkey" => string(e).map(|s| {
                user.nkey = Some(s.to_string());
                pos = e.key_pos.clone();
                nkey_entry = Some(e);
            }),
            "user" | "username" => string(e).map(|s| {
                user.username = Some(s.to_string());
                if nkey_entry.is_none() {
                    pos = e.key_pos.clone();
                }
            }),
            "pass" | "password" => string(e).map(|s| user.password = Some(s.to_string())),
            "permission" | "permissions" | "authorization" => {
                permissions(e).map(|p| user.permissions = Some(p))
            }
            "allowed_connection_types" | "connection_types" | "clients" => {
                connection_types(e).map(|t| user.allowed_connection_types = t)
            }
            _ => other_key(e, &key, block, UNSUPPORTED_USER),
        };
        errors.ok(result);
    }
    errors.take()?;
    let given = |s: &Option<String>| s.as_deref().is_some_and(|s| !s.is_empty());
    match nkey_entry {
        Some(e) => {
            let nkey = user.nkey.as_deref().unwrap_or_default();
            if !is_public_key(nkey, 'U') {
                return Err(invalid(
                    e,
                    format!(
                        "{nkey:?} is not a valid public nkey for a user (a 56-character key starting with U)"
                    ),
                ));
            }
            if given(&user.username) || given(&user.password) {
                return Err(invalid_at(
                    &item.pos,
                    "nkey",
                    "nkey users do not take a user name or password",
                ));
            }
            user.username = None;
            user.password = None;
        }
        None if !given(&user.username) => {
            return Err(invalid_at(
                &item.pos,
                "users",
                "a user entry needs a user or an nkey",
            ));
        }
        None => {}
    }
    Ok(UserDef { config: user, pos })
}

/// `allowed_connection_types`: a string or an array of them, from nats-server's list.
pub(super) fn connection_types(entry: &Entry) -> Result<Vec<String>> {
    let types: Vec<String> = string_or_strings(entry, "a connection type or an array of them")?
        .into_iter()
        .map(|t| t.to_ascii_uppercase())
        .collect();
    let unknown: Vec<&str> = types
        .iter()
        .map(String::as_str)
        .filter(|t| !CONNECTION_TYPES.contains(t))
        .collect();
    if !unknown.is_empty() {
        return Err(invalid(
            entry,
            format!(
                "unknown connection types {unknown:?} (known: {})",
                CONNECTION_TYPES.join(", ")
            ),
        ));
    }
    Ok(types)
}

/// `permissions { publish, subscribe, allow_responses }` (with nats-server's aliases `pub`,
/// `import`, `sub`, `export` and `publish_allow_responses`).
pub(super) fn permissions(entry: &Entry) -> Result<Permissions> {
    let block = map(entry)?;
    let mut errors = Errors::default();
    let mut p = Permissions::default();
    for e in block {
        let key = e.key.to_ascii_lowercase();
        let result = match key.as_str() {
            "pub" | "publish" | "import" => subject_permission(e, false).map(|s| p.publish = s),
            "sub" | "subscribe" | "export" => subject_permission(e, true).map(|s| p.subscribe = s),
            "allow_responses" | "publish_allow_responses" => {
                response_permission(e).map(|r| p.allow_responses = r)
            }
            _ => other_key(e, &key, "permissions.", &[]),
        };
        errors.ok(result);
    }
    errors.take()?;
    if p.allow_responses.is_some() {
        // nats-server: allowing responses turns off the blanket publish allow, so without an
        // allow list the user may publish only replies. An empty allow list means "anything"
        // in `Options`, so "nothing" is written as a deny of everything.
        let publish = p.publish.get_or_insert_with(SubjectPermission::default);
        if publish.allow.is_empty() && !publish.deny.iter().any(|s| s == ">") {
            publish.deny.push(">".to_string());
        }
    }
    Ok(p)
}

/// A subject or an array of them (an allow list), or `{ allow, deny }`. An empty map is no
/// permission at all, as in nats-server. Subscriptions may name a queue group: `"subject queue"`.
pub(super) fn subject_permission(entry: &Entry, queue_ok: bool) -> Result<Option<SubjectPermission>> {
    match &entry.value.kind {
        ValueKind::Map(block) => {
            if block.is_empty() {
                return Ok(None);
            }
            let mut errors = Errors::default();
            let mut p = SubjectPermission::default();
            for e in block {
                let key = e.key.to_ascii_lowercase();
                let result = match key.as_str() {
                    "allow" => subjects(e, queue_ok).map(|s| p.allow = s),
                    "deny" => subjects(e, queue_ok).map(|s| p.deny = s),
                    _ => other_key(e, &key, "", &[]),
                };
                errors.ok(result);
            }
            errors.take()?;
            Ok(Some(p))
        }
        _ => Ok(Some(SubjectPermission {
            allow: subjects(entry, queue_ok)?,
            deny: Vec::new(),
        })),
    }
}

pub(super) fn subjects(entry: &Entry, queue_ok: bool) -> Result<Vec<String>> {
    let list = string_or_strings(
        entry,
        "a subject, an array of subjects or a map with allow and deny",
    )?;
    for s in &list {
        let valid = is_valid_subject(s)
            || (queue_ok
                && matches!(s.split_whitespace().collect::<Vec<_>>()[..],
                    [subject, queue] if is_valid_subject(subject) && is_valid_subject(queue)));
        if !valid {
            return Err(invalid(entry, format!("{s:?} is not a valid subject")));
        }
    }
    Ok(list)
}

/// `allow_responses: true | false | { max, expires }`.
pub(super) fn response_permission(entry: &Entry) -> Result<Option<ResponsePermission>> {
    let block = match &entry.value.kind {
        ValueKind::Bool(true) => return Ok(Some(ResponsePermission::default())),
        ValueKind::Bool(false) => return Ok(None),
        ValueKind::Map(block) => block,
        _ => return Err(wrong_type(entry, "a boolean or a map with max and expires")),
    };
    let mut errors = Errors::default();
    let mut rp = ResponsePermission::default();
    for e in block {
        let key = e.key.to_ascii_lowercase();
        let result = match key.as_str() {
            // Negative means unlimited, zero the default.
            "max" | "max_msgs" | "max_messages" | "max_responses" => match e.value.as_i64() {
                Some(n) if n < 0 => {
                    rp.max = usize::MAX;
                    Ok(())
                }
                Some(0) => Ok(()),
                Some(n) => usize::try_from(n)
                    .map(|n| rp.max = n)
                    .map_err(|_| invalid(e, "the value is too big")),
                None => Err(wrong_type(e, "an integer")),
            },
            // Negative means no expiry, zero the default.
            "expires" | "expiration" | "ttl" => match e.value.as_str() {
                Some(text) => match parse_duration(text) {
                    Ok(n) if n < 0 => {
                        rp.expires = None;
                        Ok(())
                    }
                    Ok(0) => Ok(()),
                    Ok(_) => parse_duration_value(e, text).map(|d| rp.expires = Some(d)),
                    Err(msg) => Err(invalid(e, msg)),
                },
                None => Err(wrong_type(e, "a duration string such as \"1m\"")),
            },
            _ => other_key(e, &key, "allow_responses.", &[]),
        };
        errors.ok(result);
    }
    errors.take()?;
    Ok(Some(rp))
}
