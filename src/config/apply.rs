//! Maps a parsed configuration onto `Options`, key by key, with nats-server's key names and aliases.
//!
//! Keys are compared ignoring ASCII case. Keys nats-server knows but Junction does not implement yet
//! are rejected as unsupported; keys nats-server does not know are rejected as unknown, except
//! variable definitions that were referenced as `$name`. Errors are collected, not stopped at.

use std::path::PathBuf;
use std::time::Duration;

use super::auth::{self, AuthState};
use super::error::ConfigError;
use super::mqtt::{self, MqttState};
use super::value::{Entry, Map, ValueKind};
use super::websocket::{self, WebsocketState};
use crate::options::Options;

use super::read::*;

/// Top-level nats-server keys that Junction does not implement yet.
const UNSUPPORTED_TOP: &[&str] = &[
    "trace_verbose",
    "trace_headers",
    "logtime_utc",
    "disable_sublist_cache",
    "no_sublist_cache",
    "default_sentinel",
    "leaf",
    "syslog",
    "remote_syslog",
    "prof_port",
    "prof_block_rate",
    "proxy_protocol",
    "max_traced_msg_len",
    "max_sub_tokens",
    "max_subscription_tokens",
    "ocsp",
    "allow_non_tls",
    "write_timeout",
    "resolver_tls",
    "resolver_pinned_accounts",
    "no_system_account",
    "no_system",
    "no_sys_acc",
    "no_header_support",
    "connect_error_reports",
    "reconnect_error_reports",
    "server_tags",
    "server_metadata",
    "feature_flags",
    "default_js_domain",
    "ocsp_cache",
    "no_fast_producer_stall",
    "proxies",
];

/// `jetstream { }` keys that Junction does not implement yet.
const UNSUPPORTED_JETSTREAM: &[&str] = &[
    "sync",
    "key",
    "ek",
    "encryption_key",
    "prev_key",
    "prev_ek",
    "prev_encryption_key",
    "cipher",
    "extension_hint",
    "limits",
    "tpm",
    "unique_tag",
    "max_buffered_size",
    "max_buffered_msgs",
    "request_queue_limit",
    "info_queue_limit",
    "meta_compact",
    "meta_compact_size",
    "meta_compact_sync",
    "max_concurrent_io",
];

/// Applies every key of a parsed file to `opts`. All problems are reported together
/// (as `ConfigError::Multiple` when there are several).
pub fn apply(opts: &mut Options, cfg: &Map) -> Result<()> {
    let mut state = State::default();
    for entry in cfg {
        let result = apply_top(opts, entry, &mut state);
        state.check(result);
    }
    let result = auth::finish(opts, &mut state.auth);
    state.check(result);
    let result = websocket::finish(opts, &mut state.websocket);
    state.check(result);
    let result = mqtt::finish(opts, &mut state.mqtt);
    state.check(result);
    match ConfigError::from_list(state.errors) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

#[derive(Default)]
struct State {
    errors: Vec<ConfigError>,
    /// `store_dir` was already given (at top level or in `jetstream`).
    store_dir_set: bool,
    /// Users, accounts and operators, cross-checked once every key has been seen.
    auth: AuthState,
    /// The `websocket` block, checked against users and operators at the end.
    websocket: WebsocketState,
    /// The `mqtt` block, checked against JetStream and users at the end.
    mqtt: MqttState,
}

impl State {
    fn check(&mut self, result: Result<()>) {
        match result {
            Ok(()) => {}
            Err(ConfigError::Multiple(list)) => self.errors.extend(list),
            Err(e) => self.errors.push(e),
        }
    }
}

fn apply_top(opts: &mut Options, entry: &Entry, state: &mut State) -> Result<()> {
    let defaults = Options::default();
    let key = entry.key.to_ascii_lowercase();
    match key.as_str() {
        "listen" => {
            let (host, port) = listen_address(entry)?;
            if let Some(host) = host {
                opts.host = host;
            }
            opts.port = client_port(entry, port)?;
        }
        "port" => opts.port = client_port(entry, integer(entry)?)?,
        "host" | "net" => opts.host = string(entry)?.to_string(),
        "server_name" => {
            let name = string(entry)?;
            if name.contains(' ') {
                return Err(invalid(entry, "a server name cannot contain spaces"));
            }
            opts.server_name = Some(name.to_string());
        }
        "client_advertise" => opts.client_advertise = Some(string(entry)?.to_string()),
        "http" | "https" => {
            let (host, port) = listen_address(entry)?;
            let port = monitor_port(entry, port)?;
            if entry.key.eq_ignore_ascii_case("https") {
                opts.https_port = port;
            } else {
                opts.http_port = port;
            }
            if host.is_some() {
                opts.http_host = host;
            }
        }
        "http_port" | "monitor_port" => opts.http_port = monitor_port(entry, integer(entry)?)?,
        "https_port" => opts.https_port = monitor_port(entry, integer(entry)?)?,
        "http_base_path" => opts.http_base_path = string(entry)?.to_string(),
        "max_payload" => opts.max_payload = size_up_to_i32(entry, defaults.max_payload)?,
        "logfile_size_limit" | "log_size_limit" => opts.log_size_limit = non_negative(entry)? as u64,
        "logfile_max_num" | "log_max_num" => opts.log_max_num = non_negative(entry)?,
        "max_control_line" => opts.max_control_line = size_up_to_i32(entry, defaults.max_control_line)?,
        "max_pending" => opts.max_pending = or_default(non_negative(entry)?, defaults.max_pending),
        "max_connections" | "max_conn" => {
            opts.max_connections = or_default(non_negative(entry)?, defaults.max_connections)
        }
        "max_subscriptions" | "max_subs" => opts.max_subscriptions = non_negative(entry)?,
        "max_closed_clients" => {
            opts.max_closed_clients = or_default(non_negative(entry)?, defaults.max_closed_clients)
        }
        "write_deadline" => {
            opts.write_deadline = or_default(duration_or_seconds(entry)?, defaults.write_deadline)
        }
        "ping_interval" => {
            opts.ping_interval = or_default(duration_or_seconds(entry)?, defaults.ping_interval)
        }
        "ping_max" => {
            let n = non_negative(entry)?;
            let n = u32::try_from(n).map_err(|_| invalid(entry, "the value is too big"))?;
            opts.ping_max = or_default(n, defaults.ping_max);
        }
        "lame_duck_duration" => {
            let d = duration_string(entry)?;
            if d < Duration::from_secs(30) {
                return Err(invalid(entry, format!("{d:?} is too short, the minimum is 30s")));
            }
            opts.lame_duck_duration = d;
        }
        "lame_duck_grace_period" => {
            opts.lame_duck_grace_period = or_default(duration_string(entry)?, defaults.lame_duck_grace_period)
        }
        "authorization" => auth::authorization(opts, entry, &mut state.auth)?,
        "accounts" => auth::accounts(entry, &mut state.auth)?,
        "mappings" | "maps" => opts.mappings = super::mapping::mappings(entry)?,
        "system_account" | "system" => auth::system_account(opts, entry, &mut state.auth)?,
        "operator" | "operators" | "roots" | "root" | "root_operators" | "root_operator" => {
            auth::operators(opts, entry, &mut state.auth)?
        }
        "trusted" | "trusted_keys" => auth::trusted_keys(opts, entry)?,
        "resolver" | "account_resolver" | "accounts_resolver" => auth::resolver(opts, entry)?,
        "resolver_preload" => auth::resolver_preload(opts, entry)?,
        "no_auth_user" => opts.no_auth_user = Some(string(entry)?.to_string()),
        "log_file" | "logfile" => opts.log_file = Some(PathBuf::from(string(entry)?)),
        "pid_file" | "pidfile" => opts.pid_file = Some(PathBuf::from(string(entry)?)),
        "ports_file_dir" => opts.ports_file_dir = Some(PathBuf::from(string(entry)?)),
        "debug" => opts.debug = boolean(entry)?,
        "trace" => opts.trace = boolean(entry)?,
        "logtime" => opts.logtime = boolean(entry)?,
        "jetstream" => jetstream(opts, entry, state)?,
        "store_dir" | "storedir" => store_dir(opts, entry, state)?,
        "websocket" | "ws" => websocket::websocket(entry, &mut state.websocket)?,
        "mqtt" => mqtt::mqtt(entry, &mut state.mqtt)?,
        "cluster" => super::cluster::cluster(opts, entry)?,
        "leafnodes" => super::leafnode::leafnodes(opts, entry)?,
        "gateway" => super::gateway::gateway(opts, entry)?,
        "tls" => opts.tls = Some(super::tls::tls(entry, "tls.")?),
        _ => other_key(entry, &key, "", UNSUPPORTED_TOP)?,
    }
    Ok(())
}

// ----- blocks -----

fn jetstream(opts: &mut Options, entry: &Entry, state: &mut State) -> Result<()> {
    match &entry.value.kind {
        ValueKind::Bool(b) => opts.jetstream = *b,
        ValueKind::String(s) => match s.to_ascii_lowercase().as_str() {
            "enabled" | "enable" => opts.jetstream = true,
            "disabled" | "disable" => opts.jetstream = false,
            _ => {
                return Err(invalid(
                    entry,
                    format!("expected \"enabled\" or \"disabled\", got \"{s}\""),
                ))
            }
        },
        ValueKind::Map(block) => {
            let mut enable = true;
            let mut errors = Vec::new();
            for e in block {
                let key = e.key.to_ascii_lowercase();
                let result = match key.as_str() {
                    "store_dir" | "store" | "storedir" => store_dir(opts, e, state),
                    "max_mem" | "max_mem_store" | "max_memory_store" => {
                        storage_size(e).map(|n| opts.js_max_memory = n)
                    }
                    "max_file" | "max_file_store" => storage_size(e).map(|n| opts.js_max_store = n),
                    "enabled" | "enable" => boolean(e).map(|b| enable = b),
                    "sync_interval" if matches!(&e.value.kind, ValueKind::String(s) if s.eq_ignore_ascii_case("always")) =>
                    {
                        opts.sync_interval = None;
                        Ok(())
                    }
                    "sync_interval" => duration_or_seconds(e).map(|d| opts.sync_interval = Some(d)),
                    "domain" => js_domain(e).map(|d| opts.js_domain = d),
                    "strict" => boolean(e).map(|b| opts.js_strict = b),
                    // How much a cluster peer catching up may have in flight:
                    // a single server has no peers, so it is checked and kept
                    // only for `-t`.
                    "max_outstanding_catchup" | "max_catchup" => storage_size(e).map(|_| ()),
                    _ => other_key(e, &key, "jetstream.", UNSUPPORTED_JETSTREAM),
                };
                if let Err(err) = result {
                    errors.push(err);
                }
            }
            if let Some(e) = ConfigError::from_list(errors) {
                return Err(e);
            }
            opts.jetstream = enable;
        }
        _ => return Err(wrong_type(entry, "true/false, \"enabled\"/\"disabled\" or a map")),
    }
    Ok(())
}

/// `jetstream { domain }`: it becomes part of the API's subjects, so it is
/// checked as nats-server checks it at start.
fn js_domain(entry: &Entry) -> Result<Option<String>> {
    let domain = string(entry)?;
    if domain.is_empty() {
        return Ok(None);
    }
    if domain.contains(['.', '*', '>']) {
        return Err(invalid(entry, "invalid domain name: may not contain ., * or >"));
    }
    if domain.chars().any(char::is_whitespace) {
        return Err(invalid(
            entry,
            format!("invalid domain name: derived \"$JS.{domain}.API.>\" is not a valid subject"),
        ));
    }
    Ok(Some(domain.to_string()))
}

fn store_dir(opts: &mut Options, entry: &Entry, state: &mut State) -> Result<()> {
    let dir = string(entry)?;
    if dir.is_empty() {
        return Ok(());
    }
    if state.store_dir_set {
        return Err(invalid(
            entry,
            "store_dir is given more than once (at top level and in jetstream?)",
        ));
    }
    state.store_dir_set = true;
    opts.store_dir = Some(PathBuf::from(dir));
    Ok(())
}

// ----- value helpers -----
