//! `accounts { }`: each account's users, JetStream limits, exports and
//! imports, as written.

use crate::config::read::{boolean, invalid, other_key, parse_duration_value, string, wrong_type, Result};
use crate::config::value::{Entry, Map, Pos, Value, ValueKind};
use crate::options::{AccountConfig, ExportConfig, ExportKind, ImportConfig, ResponseType};

use super::users::{parse_users, permissions};
use super::*;

/// `accounts { NAME: { users, exports, imports, jetstream, default_permissions }, ... }`, or
/// `accounts: [NAME, ...]`.
pub(in crate::config) fn accounts(entry: &Entry, state: &mut AuthState) -> Result<()> {
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
    pub(super) fn new(name: &str) -> Self {
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

pub(super) fn account(entry: &Entry) -> Result<AccountDef> {
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
            "mappings" | "maps" => crate::config::mapping::mappings(e).map(|m| account.config.mappings = m),
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
pub(super) fn account_jetstream(entry: &Entry) -> Result<(bool, crate::options::JsLimits)> {
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
pub(super) fn exports(entry: &Entry, prefix: &str) -> Result<Vec<(ExportConfig, Pos)>> {
    let block = format!("{prefix}exports.");
    let mut errors = Errors::default();
    let mut out = Vec::new();
    for (item, fields) in stream_or_service_maps(entry, "an array of exports", &mut errors)? {
        if let Some(export) = errors.ok(export(item, fields, &block)) {
            out.push(export);
        }
    }
    errors.take()?;
    Ok(out)
}

/// The elements of `exports` or `imports`, each a map with a stream or a
/// service; one that is not a map is an error, kept in `errors`.
fn stream_or_service_maps<'a>(
    entry: &'a Entry,
    expected: &'static str,
    errors: &mut Errors,
) -> Result<Vec<(&'a Value, &'a Map)>> {
    let Some(items) = entry.value.as_array() else {
        return Err(wrong_type(entry, expected));
    };
    let mut maps = Vec::with_capacity(items.len());
    for item in items {
        match item.as_map() {
            Some(fields) => maps.push((item, fields)),
            None => errors.add(wrong_element(
                item,
                &entry.key,
                "a map with a stream or a service",
            )),
        }
    }
    Ok(maps)
}

pub(super) fn export(item: &Value, fields: &Map, block: &str) -> Result<(ExportConfig, Pos)> {
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
pub(super) fn account_names(entry: &Entry) -> Result<Vec<String>> {
    match &entry.value.kind {
        ValueKind::Array(_) => string_or_strings(entry, "an array of account names"),
        _ => Err(wrong_type(entry, "an array of account names")),
    }
}

/// `imports = [ {stream: {account, subject}, prefix | to}, {service: {account, subject}, to} ]`.
pub(super) fn imports(entry: &Entry) -> Result<Vec<(ImportConfig, Pos)>> {
    let mut errors = Errors::default();
    let mut out: Vec<(ImportConfig, Pos)> = Vec::new();
    for (item, fields) in stream_or_service_maps(entry, "an array of imports", &mut errors)? {
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

pub(super) fn import(item: &Value, fields: &Map) -> Result<(ImportConfig, Pos)> {
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
pub(super) fn import_source(entry: &Entry) -> Result<(String, String)> {
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
