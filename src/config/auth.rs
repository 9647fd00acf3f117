//! The authentication and multi-tenancy keys: `authorization`, `accounts`, `system_account`,
//! `operator`, `trusted_keys`, `resolver` and `resolver_preload`, mapped as nats-server maps them.
//!
//! Users and accounts are gathered while the file is walked and checked against each other
//! (duplicate users, unknown accounts, imports without a matching export) in [`finish`], once
//! every key has been seen, because nats-server accepts the keys in any order.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use data_encoding::{BASE64URL_NOPAD, BASE64_NOPAD};

use super::apply::{
    article, boolean, invalid, map, or_default, other_key, parse_duration_value, seconds, string, wrong_type,
    Result,
};
use super::error::ConfigError;
use super::units::parse_duration;
use super::value::{Entry, Map, Pos, Value, ValueKind};
use crate::options::{
    AccountConfig, ExportConfig, ExportKind, ImportConfig, Options, Permissions, ResolverConfig,
    ResponsePermission, ResponseType, SubjectPermission, UserConfig,
};

/// `authorization { }` keys that Junction does not implement yet.
const UNSUPPORTED_AUTHORIZATION: &[&str] = &["auth_callout", "auth_hook", "proxy_required"];
/// Keys of one user entry that Junction does not implement yet.
const UNSUPPORTED_USER: &[&str] = &["proxy_required"];
/// Keys of one account that Junction does not implement yet.
const UNSUPPORTED_ACCOUNT: &[&str] = &["nkey", "limits", "msg_trace", "trace_dest"];
/// Keys of one export that Junction does not implement yet.
const UNSUPPORTED_EXPORT: &[&str] = &["latency", "account_token_position"];

/// The name nats-server reserves for the global account.
const GLOBAL_ACCOUNT: &str = "$G";

/// Connection types a user may be limited to (`allowed_connection_types`).
const CONNECTION_TYPES: &[&str] = &[
    "STANDARD",
    "WEBSOCKET",
    "LEAFNODE",
    "LEAFNODE_WS",
    "MQTT",
    "MQTT_WS",
    "IN_PROCESS",
];

/// What the auth keys held, kept until every key of the file has been seen.
#[derive(Default)]
pub(super) struct AuthState {
    authorization: Option<AuthBlock>,
    accounts: Option<Vec<AccountDef>>,
    /// `system_account` was set by the file (an operator's system account does not override it).
    system_account_set: bool,
    /// The `system_account` claim of each operator JWT, in order.
    operator_system_accounts: Vec<Option<String>>,
}

/// One `authorization { }` block.
struct AuthBlock {
    pos: Pos,
    /// A single `user` was given.
    single_user: bool,
    /// A `token` was given.
    token: bool,
    /// `users = [...]` was given (even empty).
    users: Option<Vec<UserDef>>,
}

/// One configured user and where it was written.
struct UserDef {
    config: UserConfig,
    pos: Pos,
}

/// One account and where its parts were written.
struct AccountDef {
    config: AccountConfig,
    users: Vec<UserDef>,
    /// Where each export of `config.exports` was written.
    export_pos: Vec<Pos>,
    /// Where each import of `config.imports` was written.
    import_pos: Vec<Pos>,
}

/// Collects errors, flattening lists.
#[derive(Default)]
struct Errors(Vec<ConfigError>);

impl Errors {
    fn add(&mut self, error: ConfigError) {
        match error {
            ConfigError::Multiple(list) => self.0.extend(list),
            e => self.0.push(e),
        }
    }

    /// The value of `result`, or `None` with its error recorded.
    fn ok<T>(&mut self, result: Result<T>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.add(e);
                None
            }
        }
    }

    /// The errors so far as one result, leaving none behind.
    fn take(&mut self) -> Result<()> {
        match ConfigError::from_list(std::mem::take(&mut self.0)) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

fn invalid_at(pos: &Pos, key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::InvalidValue {
        pos: pos.clone(),
        key: key.to_string(),
        message: message.into(),
    }
}

/// A value of an array (which has no key of its own) of the wrong type; `key` names the array.
fn wrong_element(value: &Value, key: &str, expected: &'static str) -> ConfigError {
    ConfigError::WrongType {
        pos: value.pos.clone(),
        key: key.to_string(),
        expected,
        found: article(value.type_name()),
    }
}

/// A string, or an array of strings; `expected` describes both for a wrong type.
fn string_or_strings(entry: &Entry, expected: &'static str) -> Result<Vec<String>> {
    match &entry.value.kind {
        ValueKind::String(s) => Ok(vec![s.clone()]),
        ValueKind::Array(items) => {
            let mut errors = Errors::default();
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                match item.as_str() {
                    Some(s) => out.push(s.to_string()),
                    None => errors.add(wrong_element(item, &entry.key, "a string")),
                }
            }
            errors.take()?;
            Ok(out)
        }
        _ => Err(wrong_type(entry, expected)),
    }
}

// ----- authorization -----

/// `authorization { user, password, token, timeout, users, default_permissions }`.
pub(super) fn authorization(opts: &mut Options, entry: &Entry, state: &mut AuthState) -> Result<()> {
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
fn parse_users(entry: &Entry, account: Option<&str>, block: &str) -> Result<Vec<UserDef>> {
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

fn parse_user(item: &Value, fields: &Map, account: Option<&str>, block: &str) -> Result<UserDef> {
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
fn connection_types(entry: &Entry) -> Result<Vec<String>> {
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

// ----- permissions -----

/// `permissions { publish, subscribe, allow_responses }` (with nats-server's aliases `pub`,
/// `import`, `sub`, `export` and `publish_allow_responses`).
fn permissions(entry: &Entry) -> Result<Permissions> {
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
fn subject_permission(entry: &Entry, queue_ok: bool) -> Result<Option<SubjectPermission>> {
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

fn subjects(entry: &Entry, queue_ok: bool) -> Result<Vec<String>> {
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
fn response_permission(entry: &Entry) -> Result<Option<ResponsePermission>> {
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

// ----- accounts -----

/// `accounts { NAME: { users, exports, imports, jetstream, default_permissions }, ... }`, or
/// `accounts: [NAME, ...]`.
pub(super) fn accounts(entry: &Entry, state: &mut AuthState) -> Result<()> {
    let mut errors = Errors::default();
    let mut list: Vec<AccountDef> = Vec::new();
    match &entry.value.kind {
        ValueKind::Array(names) => {
            for name in names {
                let Some(n) = name.as_str() else {
                    errors.add(wrong_element(name, &entry.key, "an account name"));
                    continue;
                };
                if n == GLOBAL_ACCOUNT {
                    errors.add(invalid_at(
                        &name.pos,
                        &entry.key,
                        format!("{n:?} is a reserved account"),
                    ));
                } else if list.iter().any(|a| a.config.name == n) {
                    errors.add(invalid_at(
                        &name.pos,
                        &entry.key,
                        format!("duplicate account {n:?}"),
                    ));
                } else {
                    list.push(AccountDef::new(n));
                }
            }
        }
        ValueKind::Map(block) => {
            for e in block {
                // Variable definitions used elsewhere are not accounts.
                if e.used_as_variable {
                    continue;
                }
                if e.key == GLOBAL_ACCOUNT {
                    errors.add(invalid(e, format!("{:?} is a reserved account", e.key)));
                    continue;
                }
                if let Some(account) = errors.ok(account(e)) {
                    list.push(account);
                }
            }
        }
        _ => {
            return Err(wrong_type(
                entry,
                "a map of accounts or an array of account names",
            ))
        }
    }
    state.accounts = Some(list);
    errors.take()
}

impl AccountDef {
    fn new(name: &str) -> Self {
        AccountDef {
            config: AccountConfig {
                name: name.to_string(),
                ..AccountConfig::default()
            },
            users: Vec::new(),
            export_pos: Vec::new(),
            import_pos: Vec::new(),
        }
    }
}

fn account(entry: &Entry) -> Result<AccountDef> {
    let Some(block) = entry.value.as_map() else {
        return Err(wrong_type(entry, "a map (an account)"));
    };
    let name = entry.key.as_str();
    let prefix = format!("accounts.{name}.");
    let mut account = AccountDef::new(name);
    let mut default_permissions = None;
    let mut errors = Errors::default();
    for e in block {
        let key = e.key.to_ascii_lowercase();
        let result = match key.as_str() {
            "users" => parse_users(e, Some(name), &format!("{prefix}users.")).map(|u| account.users = u),
            "exports" => exports(e, &prefix).map(|list| {
                (account.config.exports, account.export_pos) = list.into_iter().unzip();
            }),
            "imports" => imports(e).map(|list| {
                (account.config.imports, account.import_pos) = list.into_iter().unzip();
            }),
            "jetstream" => account_jetstream(e).map(|(on, limits)| {
                account.config.jetstream = on;
                account.config.jetstream_limits = limits;
            }),
            "default_permissions" => permissions(e).map(|p| default_permissions = Some(p)),
            "mappings" | "maps" => super::mapping::mappings(e).map(|m| account.config.mappings = m),
            _ => other_key(e, &key, &prefix, UNSUPPORTED_ACCOUNT),
        };
        errors.ok(result);
    }
    errors.take()?;
    // As nats-server does, the account's default permissions go to its users without their own.
    if let Some(p) = default_permissions {
        for u in &mut account.users {
            u.config.permissions.get_or_insert_with(|| p.clone());
        }
    }
    Ok(account)
}

/// An account's `jetstream`: a boolean, `enabled`/`disabled`, or a block of limits, which
/// enables it. Memory, storage, stream and consumer limits are enforced; the others are
/// checked and accepted.
fn account_jetstream(entry: &Entry) -> Result<(bool, crate::options::JsLimits)> {
    let mut limits = crate::options::JsLimits::default();
    match &entry.value.kind {
        ValueKind::Bool(b) => Ok((*b, limits)),
        ValueKind::String(s) => match s.to_ascii_lowercase().as_str() {
            "enabled" | "enable" => Ok((true, limits)),
            "disabled" | "disable" => Ok((false, limits)),
            _ => Err(invalid(
                entry,
                format!("expected \"enabled\" or \"disabled\", got \"{s}\""),
            )),
        },
        ValueKind::Map(block) => {
            let mut errors = Errors::default();
            for e in block {
                let key = e.key.to_ascii_lowercase();
                let result = match key.as_str() {
                    "max_memory"
                    | "max_mem"
                    | "mem"
                    | "memory"
                    | "max_store"
                    | "max_file"
                    | "max_disk"
                    | "store"
                    | "disk"
                    | "max_streams"
                    | "streams"
                    | "max_consumers"
                    | "consumers"
                    | "mem_max_stream_bytes"
                    | "memory_max_stream_bytes"
                    | "disk_max_stream_bytes"
                    | "store_max_stream_bytes"
                    | "max_ack_pending" => match e.value.as_i64() {
                        Some(n) => {
                            match key.as_str() {
                                "max_memory" | "max_mem" | "mem" | "memory" => limits.max_memory = n,
                                "max_store" | "max_file" | "max_disk" | "store" | "disk" => {
                                    limits.max_store = n
                                }
                                "max_streams" | "streams" => limits.max_streams = n,
                                "max_consumers" | "consumers" => limits.max_consumers = n,
                                "mem_max_stream_bytes" | "memory_max_stream_bytes" => {
                                    limits.memory_max_stream_bytes = n
                                }
                                "disk_max_stream_bytes" | "store_max_stream_bytes" => {
                                    limits.storage_max_stream_bytes = n
                                }
                                "max_ack_pending" => limits.max_ack_pending = n,
                                _ => {}
                            }
                            Ok(())
                        }
                        None => Err(wrong_type(e, "an integer or a size such as 1G")),
                    },
                    "max_bytes_required" | "max_stream_bytes" | "max_bytes" => {
                        boolean(e).map(|b| limits.max_bytes_required = b)
                    }
                    "cluster_traffic" => match string(e)? {
                        "system" | "owner" | "" => Ok(()),
                        other => Err(invalid(
                            e,
                            format!("expected \"system\" or \"owner\", got \"{other}\""),
                        )),
                    },
                    _ => other_key(e, &key, "jetstream.", &[]),
                };
                errors.ok(result);
            }
            errors.take()?;
            Ok((true, limits))
        }
        _ => Err(wrong_type(entry, "true/false, \"enabled\"/\"disabled\" or a map")),
    }
}

/// `exports = [ {stream: "subj", accounts: [...]}, {service: "subj", response_type, ...} ]`.
fn exports(entry: &Entry, prefix: &str) -> Result<Vec<(ExportConfig, Pos)>> {
    let Some(items) = entry.value.as_array() else {
        return Err(wrong_type(entry, "an array of exports"));
    };
    let block = format!("{prefix}exports.");
    let mut errors = Errors::default();
    let mut out = Vec::new();
    for item in items {
        let Some(fields) = item.as_map() else {
            errors.add(wrong_element(
                item,
                &entry.key,
                "a map with a stream or a service",
            ));
            continue;
        };
        if let Some(export) = errors.ok(export(item, fields, &block)) {
            out.push(export);
        }
    }
    errors.take()?;
    Ok(out)
}

fn export(item: &Value, fields: &Map, block: &str) -> Result<(ExportConfig, Pos)> {
    let mut errors = Errors::default();
    let mut export = ExportConfig::default();
    // The `stream` or `service` entry, and the entries only a service may have.
    let mut subject_entry: Option<&Entry> = None;
    let mut service_only: Vec<&Entry> = Vec::new();
    for e in fields {
        let key = e.key.to_ascii_lowercase();
        let result = match key.as_str() {
            "stream" | "service" => {
                let kind = if key == "stream" {
                    ExportKind::Stream
                } else {
                    ExportKind::Service
                };
                match subject_entry {
                    Some(first) => Err(invalid(
                        e,
                        format!(
                            "an export is a stream or a service, and \"{}\" was already given",
                            first.key
                        ),
                    )),
                    None => string(e).and_then(|s| {
                        if !is_valid_subject(s) {
                            return Err(invalid(e, format!("{s:?} is not a valid subject")));
                        }
                        subject_entry = Some(e);
                        export.kind = kind;
                        export.subject = s.to_string();
                        Ok(())
                    }),
                }
            }
            "response" | "response_type" => {
                service_only.push(e);
                string(e).and_then(|s| {
                    export.response_type = match s.to_ascii_lowercase().as_str() {
                        "single" | "singleton" => ResponseType::Singleton,
                        "stream" => ResponseType::Stream,
                        "chunk" | "chunked" => ResponseType::Chunked,
                        _ => {
                            return Err(invalid(
                                e,
                                format!("unknown response type \"{s}\" (use singleton, stream or chunked)"),
                            ))
                        }
                    };
                    Ok(())
                })
            }
            // Accepted and checked; Junction does not track response times.
            "threshold" | "response_threshold" | "response_max_time" | "response_time" => {
                service_only.push(e);
                match e.value.as_str() {
                    Some(s) => parse_duration_value(e, s).map(|_| ()),
                    None => Err(wrong_type(e, "a duration string such as \"2s\"")),
                }
            }
            // Accepted and ignored; Junction has no message tracing.
            "allow_trace" => {
                service_only.push(e);
                boolean(e).map(|_| ())
            }
            "accounts" => account_names(e).map(|a| export.accounts = a),
            _ => other_key(e, &key, block, UNSUPPORTED_EXPORT),
        };
        errors.ok(result);
    }
    errors.take()?;
    let Some(subject_entry) = subject_entry else {
        return Err(invalid_at(
            &item.pos,
            "exports",
            "an export needs a stream or a service subject",
        ));
    };
    if export.kind == ExportKind::Stream {
        for e in service_only {
            errors.add(invalid(e, "only a service export takes this"));
        }
    }
    errors.take()?;
    Ok((export, subject_entry.key_pos.clone()))
}

/// An array of account names.
fn account_names(entry: &Entry) -> Result<Vec<String>> {
    match &entry.value.kind {
        ValueKind::Array(_) => string_or_strings(entry, "an array of account names"),
        _ => Err(wrong_type(entry, "an array of account names")),
    }
}

/// `imports = [ {stream: {account, subject}, prefix | to}, {service: {account, subject}, to} ]`.
fn imports(entry: &Entry) -> Result<Vec<(ImportConfig, Pos)>> {
    let Some(items) = entry.value.as_array() else {
        return Err(wrong_type(entry, "an array of imports"));
    };
    let mut errors = Errors::default();
    let mut out: Vec<(ImportConfig, Pos)> = Vec::new();
    for item in items {
        let Some(fields) = item.as_map() else {
            errors.add(wrong_element(
                item,
                &entry.key,
                "a map with a stream or a service",
            ));
            continue;
        };
        let Some((import, pos)) = errors.ok(import(item, fields)) else {
            continue;
        };
        if import.kind == ExportKind::Service {
            let local = import.to.as_deref().unwrap_or(&import.subject);
            let earlier = out.iter().map(|(i, _)| i).find(|i| {
                i.kind == ExportKind::Service
                    && i.account == import.account
                    && i.to.as_deref().unwrap_or(&i.subject) == local
            });
            if let Some(earlier) = earlier {
                errors.add(invalid_at(
                    &pos,
                    "service",
                    format!(
                        "duplicate service import subject {local:?}, already imported from account {:?}, subject {:?}",
                        earlier.account, earlier.subject
                    ),
                ));
                continue;
            }
        }
        out.push((import, pos));
    }
    errors.take()?;
    Ok(out)
}

fn import(item: &Value, fields: &Map) -> Result<(ImportConfig, Pos)> {
    let mut errors = Errors::default();
    let mut import = ImportConfig::default();
    let mut source: Option<&Entry> = None;
    let (mut prefix, mut to, mut trace) = (None, None, None);
    for e in fields {
        let key = e.key.to_ascii_lowercase();
        let result = match key.as_str() {
            "stream" | "service" => match source {
                Some(first) => Err(invalid(
                    e,
                    format!(
                        "an import is a stream or a service, and \"{}\" was already given",
                        first.key
                    ),
                )),
                None => import_source(e).map(|(account, subject)| {
                    source = Some(e);
                    import.kind = if key == "stream" {
                        ExportKind::Stream
                    } else {
                        ExportKind::Service
                    };
                    import.account = account;
                    import.subject = subject;
                }),
            },
            "prefix" => string(e).map(|s| {
                prefix = Some(e);
                import.prefix = Some(s.to_string());
            }),
            "to" => string(e).map(|s| {
                to = Some(e);
                import.to = Some(s.to_string());
            }),
            // Accepted and ignored: latency sharing and message tracing are not implemented.
            "share" => boolean(e).map(|_| ()),
            "allow_trace" => boolean(e).map(|_| trace = Some(e)),
            _ => other_key(e, &key, "imports.", &[]),
        };
        errors.ok(result);
    }
    errors.take()?;
    let Some(source) = source else {
        return Err(invalid_at(
            &item.pos,
            "imports",
            "an import needs a stream or a service",
        ));
    };
    // nats-server keeps empty `prefix` / `to` as "not given".
    import.prefix = import.prefix.filter(|s| !s.is_empty());
    import.to = import.to.filter(|s| !s.is_empty());
    match import.kind {
        ExportKind::Stream => {
            if let (Some(_), Some(_), Some(e)) = (&import.prefix, &import.to, to) {
                errors.add(invalid(e, "a stream import cannot have both a prefix and a to"));
            }
            if let (Some(p), Some(e)) = (&import.prefix, prefix) {
                if !is_literal_subject(p.trim_end_matches('.')) {
                    errors.add(invalid(
                        e,
                        format!("the prefix {p:?} must be a literal subject (no wildcards)"),
                    ));
                }
            }
        }
        ExportKind::Service => {
            if let Some(e) = trace {
                errors.add(invalid(e, "only a stream import takes this"));
            }
        }
    }
    if let (Some(t), Some(e)) = (&import.to, to) {
        if !is_valid_subject(t) {
            errors.add(invalid(e, format!("{t:?} is not a valid subject")));
        }
    }
    errors.take()?;
    Ok((import, source.key_pos.clone()))
}

/// The `{ account, subject }` of an import.
fn import_source(entry: &Entry) -> Result<(String, String)> {
    let Some(block) = entry.value.as_map() else {
        return Err(wrong_type(entry, "a map with account and subject"));
    };
    let mut errors = Errors::default();
    let (mut account, mut subject) = (String::new(), String::new());
    for e in block {
        let key = e.key.to_ascii_lowercase();
        let result = match key.as_str() {
            "account" => string(e).map(|s| account = s.to_string()),
            "subject" => string(e).and_then(|s| {
                if !is_valid_subject(s) {
                    return Err(invalid(e, format!("{s:?} is not a valid subject")));
                }
                subject = s.to_string();
                Ok(())
            }),
            _ => other_key(e, &key, "", &[]),
        };
        errors.ok(result);
    }
    errors.take()?;
    if account.is_empty() || subject.is_empty() {
        return Err(invalid(entry, "an import needs an account and a subject"));
    }
    Ok((account, subject))
}

// ----- system account, operators, trusted keys, resolver -----

/// `system_account` / `system`.
pub(super) fn system_account(opts: &mut Options, entry: &Entry, state: &mut AuthState) -> Result<()> {
    opts.system_account = Some(string(entry)?.to_string());
    state.system_account_set = true;
    Ok(())
}

/// `operator`: JWT files (relative to the file the key is in) or JWT text, one or an array.
pub(super) fn operators(opts: &mut Options, entry: &Entry, state: &mut AuthState) -> Result<()> {
    let items: Vec<(&str, &Pos)> = match &entry.value.kind {
        ValueKind::String(s) => vec![(s.as_str(), &entry.key_pos)],
        ValueKind::Array(items) => {
            let mut errors = Errors::default();
            let mut out = Vec::new();
            for item in items {
                match item.as_str() {
                    Some(s) => out.push((s, &item.pos)),
                    None => errors.add(wrong_element(item, &entry.key, "a JWT file name or a JWT")),
                }
            }
            errors.take()?;
            out
        }
        _ => return Err(wrong_type(entry, "a JWT file name or a JWT, or an array of them")),
    };
    let mut errors = Errors::default();
    opts.operators.clear();
    state.operator_system_accounts.clear();
    for (item, pos) in items {
        match read_operator_jwt(item, &pos.file) {
            Ok((jwt, claims)) => {
                opts.operators.push(jwt);
                let system = claims
                    .pointer("/nats/system_account")
                    .and_then(|v| v.as_str())
                    .filter(|s| !s.is_empty())
                    .map(String::from);
                state.operator_system_accounts.push(system);
            }
            Err(message) => errors.add(invalid_at(
                pos,
                &entry.key,
                format!("error parsing operator JWT: {message}"),
            )),
        }
    }
    errors.take()
}

/// The operator JWT `item` names: inline text starting with `eyJ`, or a file (possibly a
/// decorated one, as `nsc` writes them), relative to the directory of `config_file`.
fn read_operator_jwt(
    item: &str,
    config_file: &Path,
) -> std::result::Result<(String, serde_json::Value), String> {
    let item = item.trim();
    let text = if item.starts_with("eyJ") {
        item.to_string()
    } else {
        // Relative to the config file's directory; nats-server reads it relative to the working
        // directory, which is tried when there is no such file.
        let path = PathBuf::from(item);
        let path = match config_file.parent() {
            Some(dir) if path.is_relative() && (dir.join(&path).exists() || !path.exists()) => dir.join(path),
            _ => path,
        };
        std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?
    };
    let jwt = undecorate_jwt(&text);
    let claims = check_jwt(&jwt, "operator")?;
    Ok((jwt, claims))
}

/// The JWT inside a decorated file (between `-----BEGIN ...-----` / `------END ...------`
/// lines), or the whole trimmed text.
fn undecorate_jwt(text: &str) -> String {
    let dashes = |l: &str| {
        let l = l.trim();
        l.len() >= 6 && l.starts_with("---") && l.ends_with("---")
    };
    let lines: Vec<&str> = text.lines().collect();
    for w in lines.windows(3) {
        let token = w[1].trim();
        if dashes(w[0]) && dashes(w[2]) && !token.is_empty() {
            return token.to_string();
        }
    }
    text.trim().to_string()
}

/// Checks a NATS JWT: three base64url parts, a JSON claims object whose type is `kind`, and a
/// signature by its issuer's nkey. Returns the claims.
fn check_jwt(jwt: &str, kind: &str) -> std::result::Result<serde_json::Value, String> {
    let parts: Vec<&str> = jwt.split('.').collect();
    let [header, payload, signature] = parts[..] else {
        return Err("not a JWT (expected three dot-separated parts)".into());
    };
    let decode = |part: &str| {
        let part = part.trim_end_matches('=');
        BASE64URL_NOPAD
            .decode(part.as_bytes())
            .or_else(|_| BASE64_NOPAD.decode(part.as_bytes()))
            .map_err(|_| "not a JWT (a part is not base64)".to_string())
    };
    let header: serde_json::Value =
        serde_json::from_slice(&decode(header)?).map_err(|_| "not a JWT (bad header)".to_string())?;
    if header
        .get("typ")
        .and_then(|t| t.as_str())
        .is_some_and(|t| !t.eq_ignore_ascii_case("jwt"))
    {
        return Err("not a JWT (bad header type)".into());
    }
    let claims: serde_json::Value =
        serde_json::from_slice(&decode(payload)?).map_err(|_| "not a JWT (bad claims)".to_string())?;
    let claim_type = claims
        .pointer("/nats/type")
        .or_else(|| claims.get("type"))
        .and_then(|t| t.as_str())
        .unwrap_or_default();
    if claim_type != kind {
        return Err(format!("not an {kind} JWT (its type is {claim_type:?})"));
    }
    let issuer = claims.get("iss").and_then(|i| i.as_str()).unwrap_or_default();
    let key = nkeys::KeyPair::from_public_key(issuer).map_err(|_| format!("bad issuer {issuer:?}"))?;
    let signature = decode(signature)?;
    // A v1 JWT (`"alg":"ed25519"`) is signed over its claims part alone, a
    // v2 one (`ed25519-nkey`) over `header.claims`.
    let v1 = header
        .get("alg")
        .and_then(|a| a.as_str())
        .is_some_and(|a| a.eq_ignore_ascii_case(crate::jwt::ALGORITHM_NKEY_V1));
    let signed = if v1 {
        parts[1]
    } else {
        &jwt[..jwt.len() - parts[2].len() - 1]
    };
    key.verify(signed.as_bytes(), &signature)
        .map_err(|_| "the signature does not match the issuer".to_string())?;
    Ok(claims)
}

/// `trusted_keys` / `trusted`: operator public keys, one or an array.
pub(super) fn trusted_keys(opts: &mut Options, entry: &Entry) -> Result<()> {
    let keys = string_or_strings(entry, "an operator public key or an array of them")?;
    let mut errors = Errors::default();
    for key in &keys {
        if !is_public_key(key, 'O') {
            errors.add(invalid(
                entry,
                format!("trusted key {key:?} is not a valid public operator nkey (a 56-character key starting with O)"),
            ));
        }
    }
    errors.take()?;
    opts.trusted_keys = keys;
    Ok(())
}

/// `resolver: MEMORY`, or `resolver { type: full, dir, allow_delete, ... }`.
pub(super) fn resolver(opts: &mut Options, entry: &Entry) -> Result<()> {
    let usage = "expected MEMORY, URL(\"url\") or a map with type (full or memory) and dir";
    let block = match &entry.value.kind {
        ValueKind::String(s) => {
            let word = s.trim().to_ascii_uppercase();
            if word == "MEM" || word == "MEMORY" {
                opts.resolver = Some(ResolverConfig::Memory);
                return Ok(());
            }
            if word.starts_with("URL") {
                return Err(ConfigError::Unsupported {
                    pos: entry.key_pos.clone(),
                    key: "URL resolver".into(),
                });
            }
            return Err(invalid(entry, usage));
        }
        ValueKind::Map(block) => block,
        _ => return Err(wrong_type(entry, "MEMORY or a map")),
    };
    let mut errors = Errors::default();
    let (mut kind, mut dir, mut allow_delete, mut hard_delete, mut ttl) = (None, None, false, None, None);
    for e in block {
        let key = e.key.to_ascii_lowercase();
        let result = match key.as_str() {
            "type" => string(e).map(|s| kind = Some((s.to_ascii_uppercase(), e))),
            "dir" => string(e).map(|s| dir = Some(s.to_string())),
            "allow_delete" => boolean(e).map(|b| allow_delete = b),
            "hard_delete" => boolean(e).map(|b| hard_delete = Some((b, e))),
            "limit" => match e.value.as_i64() {
                Some(_) => Ok(()),
                None => Err(wrong_type(e, "an integer")),
            },
            // Accepted and checked, not used: Junction keeps every account JWT it has.
            "ttl" | "interval" | "timeout" | "sync" => match e.value.as_str() {
                Some(s) => parse_duration_value(e, s).map(|d| {
                    if key == "ttl" {
                        ttl = Some((d, e));
                    }
                }),
                None => Err(wrong_type(e, "a duration string such as \"2m\"")),
            },
            _ => other_key(e, &key, "resolver.", &[]),
        };
        errors.ok(result);
    }
    errors.take()?;
    let Some((kind, kind_entry)) = kind else {
        return Err(invalid(entry, usage));
    };
    match kind.as_str() {
        "MEM" | "MEMORY" => {
            opts.resolver = Some(ResolverConfig::Memory);
            Ok(())
        }
        "FULL" => {
            let Some(dir) = dir.filter(|d| !d.is_empty()) else {
                return Err(invalid(
                    entry,
                    "dir has no value and needs to point to a directory",
                ));
            };
            if std::fs::metadata(&dir).is_ok_and(|m| !m.is_dir()) {
                return Err(invalid(entry, format!("dir {dir:?} is not a directory")));
            }
            if let Some((_, e)) = ttl {
                return Err(invalid(e, "a full resolver does not take ttl"));
            }
            if let Some((_, e)) = hard_delete.filter(|_| !allow_delete) {
                return Err(invalid(e, "hard_delete has no effect without allow_delete"));
            }
            opts.resolver = Some(ResolverConfig::Full {
                dir: PathBuf::from(dir),
                allow_delete,
            });
            Ok(())
        }
        "CACHE" => Err(ConfigError::Unsupported {
            pos: kind_entry.key_pos.clone(),
            key: "resolver type CACHE".into(),
        }),
        _ => Err(invalid(
            kind_entry,
            format!("unknown resolver type \"{kind}\" ({usage})"),
        )),
    }
}

/// `resolver_preload { ACCOUNT_PUBLIC_KEY: "account JWT", ... }`, in file order.
pub(super) fn resolver_preload(opts: &mut Options, entry: &Entry) -> Result<()> {
    let Some(block) = entry.value.as_map() else {
        return Err(wrong_type(entry, "a map of account public keys to account JWTs"));
    };
    let mut errors = Errors::default();
    let mut preload = Vec::with_capacity(block.len());
    for e in block {
        if e.used_as_variable {
            continue;
        }
        let Some(jwt) = errors.ok(string(e)) else {
            continue;
        };
        match check_jwt(jwt, "account") {
            Ok(_) => preload.push((e.key.clone(), jwt.to_string())),
            Err(message) => errors.add(invalid(e, format!("invalid account JWT: {message}"))),
        }
    }
    errors.take()?;
    opts.resolver_preload = preload;
    Ok(())
}

// ----- cross-checks, once every key is known -----

/// Checks users and accounts against each other and writes them to `opts`.
pub(super) fn finish(opts: &mut Options, state: &mut AuthState) -> Result<()> {
    let mut errors = Errors::default();
    let auth = state.authorization.take();
    let accounts = state.accounts.take();

    // Users must be unique across the authorization block and all accounts (names and nkeys).
    let mut seen: HashSet<String> = HashSet::new();
    let auth_users = auth.as_ref().and_then(|a| a.users.as_deref()).unwrap_or_default();
    let account_users = accounts.iter().flatten().flat_map(|a| a.users.iter());
    for u in auth_users.iter().chain(account_users) {
        let (what, id) = match (&u.config.nkey, &u.config.username) {
            (Some(nkey), _) => ("nkey", nkey),
            (None, Some(name)) => ("user", name),
            (None, None) => continue,
        };
        if !seen.insert(id.clone()) {
            let key = if what == "nkey" { "nkey" } else { "user" };
            errors.add(invalid_at(&u.pos, key, format!("duplicate {what} {id:?}")));
        }
    }

    // A single user or a token cannot be combined with a users list or account users.
    if let Some(a) = &auth {
        let has_account_users = accounts.iter().flatten().any(|acc| !acc.users.is_empty());
        let others = match (a.users.is_some(), has_account_users) {
            (true, _) => Some("a users array"),
            (false, true) => Some("users in accounts"),
            (false, false) => None,
        };
        if let Some(others) = others {
            if a.single_user {
                errors.add(invalid_at(
                    &a.pos,
                    "authorization",
                    format!("a single user cannot be combined with {others}"),
                ));
            }
            if a.token {
                errors.add(invalid_at(
                    &a.pos,
                    "authorization",
                    format!("a token cannot be combined with {others}"),
                ));
            }
        }
    }

    if let Some(list) = &accounts {
        check_exports_and_imports(list, &mut errors);
    }

    // An operator's system account applies when the file names none (nats-server: with one operator).
    if !state.system_account_set {
        if let [Some(system)] = &state.operator_system_accounts[..] {
            opts.system_account = Some(system.clone());
        }
    }

    // The authorization block replaces the global account's users; `accounts` the accounts
    // and their users.
    let mut users: Vec<UserConfig> = Vec::new();
    match &auth {
        Some(a) => users.extend(a.users.iter().flatten().map(|u| u.config.clone())),
        None => users.extend(opts.users.iter().filter(|u| u.account.is_none()).cloned()),
    }
    match &accounts {
        Some(list) => {
            users.extend(list.iter().flat_map(|a| a.users.iter().map(|u| u.config.clone())));
            opts.accounts = list.iter().map(|a| a.config.clone()).collect();
        }
        None => users.extend(opts.users.iter().filter(|u| u.account.is_some()).cloned()),
    }
    opts.users = users;
    errors.take()
}

/// Exports may only name defined accounts; imports must name a defined account that exports
/// the subject to the importer.
fn check_exports_and_imports(accounts: &[AccountDef], errors: &mut Errors) {
    let by_name: HashMap<&str, &AccountDef> = accounts.iter().map(|a| (a.config.name.as_str(), a)).collect();
    let kind_name = |k: ExportKind| match k {
        ExportKind::Stream => "stream",
        ExportKind::Service => "service",
    };
    for account in accounts {
        for (export, pos) in account.config.exports.iter().zip(&account.export_pos) {
            for name in &export.accounts {
                if !by_name.contains_key(name.as_str()) {
                    errors.add(invalid_at(
                        pos,
                        kind_name(export.kind),
                        format!("account {name:?} (allowed to import) is not defined"),
                    ));
                }
            }
        }
        for (import, pos) in account.config.imports.iter().zip(&account.import_pos) {
            let kind = kind_name(import.kind);
            let Some(exporter) = by_name.get(import.account.as_str()) else {
                errors.add(invalid_at(
                    pos,
                    kind,
                    format!("account {:?} is not defined", import.account),
                ));
                continue;
            };
            let exported = exporter.config.exports.iter().any(|e| {
                e.kind == import.kind
                    && (e.subject == import.subject || export_covers(&e.subject, &import.subject))
                    && (e.accounts.is_empty() || e.accounts.contains(&account.config.name))
            });
            if !exported {
                errors.add(invalid_at(
                    pos,
                    kind,
                    format!(
                        "account {:?} does not export {kind} {:?} to account {:?}",
                        import.account, import.subject, account.config.name
                    ),
                ));
            }
        }
    }
}

// ----- subjects and keys -----

/// nats-server's `IsValidSubject`: non-empty tokens without whitespace, `>` only last.
fn is_valid_subject(subject: &str) -> bool {
    if subject.is_empty() {
        return false;
    }
    let mut tokens = subject.split('.').peekable();
    while let Some(t) = tokens.next() {
        if t.is_empty()
            || t.contains([' ', '\t', '\n', '\r', '\x0c'])
            || (t == ">" && tokens.peek().is_some())
        {
            return false;
        }
    }
    true
}

/// A valid subject without wildcard tokens.
fn is_literal_subject(subject: &str) -> bool {
    is_valid_subject(subject) && subject.split('.').all(|t| t != "*" && t != ">")
}

/// Whether every subject of `import` is within the export pattern `export` (nats-server's
/// `isSubsetMatch`).
fn export_covers(export: &str, import: &str) -> bool {
    let imp: Vec<&str> = import.split('.').collect();
    let exp: Vec<&str> = export.split('.').collect();
    for (i, &t2) in exp.iter().enumerate() {
        let Some(&t1) = imp.get(i) else {
            return false;
        };
        if t2.is_empty() {
            return false;
        }
        if t2 == ">" {
            return true;
        }
        if t1.is_empty() || t1 == ">" {
            return false;
        }
        if t1 == "*" {
            if t2 != "*" {
                return false;
            }
            continue;
        }
        if t2 != "*" && t1 != t2 {
            return false;
        }
    }
    imp.len() == exp.len()
}

/// A public nkey of the kind whose encoded form starts with `first` (`U` user, `O` operator):
/// 56 base32 characters with a valid checksum.
fn is_public_key(key: &str, first: char) -> bool {
    key.starts_with(first) && nkeys::from_public_key(key).is_ok()
}

#[cfg(test)]
pub(super) mod test_support {
    //! Signed JWTs for tests.

    use data_encoding::BASE64URL_NOPAD;

    /// A JWT of claim type `kind` for `subject`, signed by `issuer`, with `extra` merged into
    /// the `nats` claims.
    pub fn jwt(issuer: &nkeys::KeyPair, subject: &str, kind: &str, extra: serde_json::Value) -> String {
        let mut nats = serde_json::json!({ "type": kind, "version": 2 });
        if let (Some(n), Some(e)) = (nats.as_object_mut(), extra.as_object()) {
            n.extend(e.clone());
        }
        let claims = serde_json::json!({
            "jti": "TESTJTI",
            "iat": 1_700_000_000,
            "iss": issuer.public_key(),
            "name": "test",
            "sub": subject,
            "nats": nats,
        });
        let header = BASE64URL_NOPAD.encode(br#"{"typ":"JWT","alg":"ed25519-nkey"}"#);
        let payload = BASE64URL_NOPAD.encode(claims.to_string().as_bytes());
        let signed = format!("{header}.{payload}");
        let signature = issuer.sign(signed.as_bytes()).unwrap();
        format!("{signed}.{}", BASE64URL_NOPAD.encode(&signature))
    }
}
