//! Reading one configuration value as the type a key wants: strings,
//! integers, booleans, maps, ports, durations and sizes, with nats-server's
//! error for a value of the wrong type, and the unknown/unsupported key
//! check every block uses.

use std::time::Duration;

use super::error::ConfigError;
use super::units::{parse_duration, parse_storage_size, split_host_port};
use super::value::{Entry, Map, Value, ValueKind};
use crate::options::Options;

pub(super) type Result<T> = std::result::Result<T, ConfigError>;

/// A key none of the mappings know: unsupported if nats-server has it, fine if it is a
/// variable definition that was used, unknown otherwise. `block` prefixes the key in messages.
pub(super) fn other_key(entry: &Entry, lower_key: &str, block: &str, unsupported: &[&str]) -> Result<()> {
    if unsupported.contains(&lower_key) {
        return Err(ConfigError::Unsupported {
            pos: entry.key_pos.clone(),
            key: format!("{block}{}", entry.key),
        });
    }
    if entry.used_as_variable {
        return Ok(());
    }
    Err(ConfigError::UnknownField {
        pos: entry.key_pos.clone(),
        key: entry.key.clone(),
    })
}

pub(super) fn article(type_name: &'static str) -> &'static str {
    match type_name {
        "string" => "a string",
        "integer" => "an integer",
        "float" => "a float",
        "boolean" => "a boolean",
        "datetime" => "a datetime",
        "array" => "an array",
        "map" => "a map",
        other => other,
    }
}

pub(super) fn wrong_type(entry: &Entry, expected: &'static str) -> ConfigError {
    ConfigError::WrongType {
        pos: entry.key_pos.clone(),
        key: entry.key.clone(),
        expected,
        found: article(entry.value.type_name()),
    }
}

pub(super) fn invalid(entry: &Entry, message: impl Into<String>) -> ConfigError {
    ConfigError::InvalidValue {
        pos: entry.key_pos.clone(),
        key: entry.key.clone(),
        message: message.into(),
    }
}

pub(super) fn string(entry: &Entry) -> Result<&str> {
    entry.value.as_str().ok_or_else(|| wrong_type(entry, "a string"))
}

pub(super) fn integer(entry: &Entry) -> Result<i64> {
    entry
        .value
        .as_i64()
        .ok_or_else(|| wrong_type(entry, "an integer"))
}

pub(super) fn boolean(entry: &Entry) -> Result<bool> {
    entry
        .value
        .as_bool()
        .ok_or_else(|| wrong_type(entry, "a boolean"))
}

pub(super) fn map(entry: &Entry) -> Result<&Map> {
    entry.value.as_map().ok_or_else(|| wrong_type(entry, "a map"))
}

/// One string or an array of them (`expected` names that in the error).
pub(super) fn strings<'a>(entry: &'a Entry, expected: &'static str) -> Result<Vec<&'a str>> {
    match &entry.value.kind {
        ValueKind::String(s) => Ok(vec![s]),
        ValueKind::Array(items) => items
            .iter()
            .map(|i| i.as_str().ok_or_else(|| wrong_type(entry, expected)))
            .collect(),
        _ => Err(wrong_type(entry, expected)),
    }
}

pub(super) fn non_negative(entry: &Entry) -> Result<usize> {
    let n = integer(entry)?;
    if n < 0 {
        return Err(invalid(entry, format!("{n} is negative")));
    }
    usize::try_from(n).map_err(|_| invalid(entry, "the value is too big"))
}

/// nats-server treats 0 as "use the default" for many options.
pub(super) fn or_default<T: PartialEq + Default>(value: T, default: T) -> T {
    if value == T::default() {
        default
    } else {
        value
    }
}

/// `max_payload` / `max_control_line`: non-negative, at most 2^31-1, 0 meaning the default.
pub(super) fn size_up_to_i32(entry: &Entry, default: usize) -> Result<usize> {
    let n = non_negative(entry)?;
    if n > i32::MAX as usize {
        return Err(invalid(
            entry,
            format!("{n} is too big (the maximum is {})", i32::MAX),
        ));
    }
    Ok(or_default(n, default))
}

/// A client port: -1 means a random port (stored as 0), 0 means the default 4222.
pub(super) fn client_port(entry: &Entry, port: i64) -> Result<u16> {
    match port {
        -1 => Ok(0),
        0 => Ok(Options::default().port),
        1..=65535 => Ok(port as u16),
        _ => Err(invalid(
            entry,
            format!("port {port} is out of range (use 1-65535, or -1 for a random port)"),
        )),
    }
}

/// A monitoring port: 0 means off. nats-server's -1 (a random port) has no `Options` form yet.
/// A monitoring port as nats-server reads it: 0 is off, -1 a random port.
pub(super) fn monitor_port(entry: &Entry, port: i64) -> Result<Option<u16>> {
    match port {
        0 => Ok(None),
        -1 => Ok(Some(0)),
        1..=65535 => Ok(Some(port as u16)),
        _ => Err(invalid(
            entry,
            format!("port {port} is out of range (use 1-65535, 0 for off or -1 for random)"),
        )),
    }
}

/// `listen`-style values: a port alone, or `"host:port"`. The host is `None` when not given.
pub(super) fn listen_address(entry: &Entry) -> Result<(Option<String>, i64)> {
    match &entry.value.kind {
        ValueKind::Integer(port) => Ok((None, *port)),
        ValueKind::String(s) => {
            let (host, port) = split_host_port(s).map_err(|e| invalid(entry, e))?;
            let port: i64 = port
                .parse()
                .map_err(|_| invalid(entry, format!("could not parse port \"{port}\"")))?;
            let host = (!host.is_empty()).then(|| host.to_string());
            Ok((host, port))
        }
        _ => Err(wrong_type(entry, "a port or \"host:port\"")),
    }
}

pub(super) fn duration_from_nanos(entry: &Entry, nanos: i128) -> Result<Duration> {
    if nanos < 0 {
        return Err(invalid(entry, "a duration cannot be negative"));
    }
    let nanos = u64::try_from(nanos).map_err(|_| invalid(entry, "the duration is too long"))?;
    Ok(Duration::from_nanos(nanos))
}

pub(super) fn parse_duration_value(entry: &Entry, text: &str) -> Result<Duration> {
    let nanos = parse_duration(text).map_err(|e| invalid(entry, e))?;
    duration_from_nanos(entry, nanos)
}

/// A duration string such as `"2s"`; nats-server also takes a bare integer as seconds here.
pub(super) fn duration_or_seconds(entry: &Entry) -> Result<Duration> {
    match &entry.value.kind {
        ValueKind::String(s) => parse_duration_value(entry, s),
        ValueKind::Integer(n) => {
            if *n < 0 {
                return Err(invalid(entry, "a duration cannot be negative"));
            }
            Ok(Duration::from_secs(*n as u64))
        }
        _ => Err(wrong_type(
            entry,
            "a duration such as \"2s\" or an integer number of seconds",
        )),
    }
}

/// A duration that nats-server only takes as a string, such as `"2m"`.
pub(super) fn duration_string(entry: &Entry) -> Result<Duration> {
    match &entry.value.kind {
        ValueKind::String(s) => parse_duration_value(entry, s),
        _ => Err(wrong_type(entry, "a duration string such as \"2m\"")),
    }
}

/// Seconds as an integer or a float, or a duration string (`authorization { timeout }`).
pub(super) fn seconds(entry: &Entry) -> Result<Duration> {
    let secs = match &entry.value.kind {
        ValueKind::Integer(n) => *n as f64,
        ValueKind::Float(f) => *f,
        ValueKind::String(s) => return parse_duration_value(entry, s),
        _ => return Err(wrong_type(entry, "a number of seconds or a duration string")),
    };
    if secs < 0.0 {
        return Err(invalid(entry, "a duration cannot be negative"));
    }
    Duration::try_from_secs_f64(secs).map_err(|_| invalid(entry, "the duration is too long"))
}

/// A JetStream storage size: an integer (suffixes such as `1G` are applied by the parser)
/// or a string ending in K, M, G or T.
pub(super) fn storage_size(entry: &Entry) -> Result<i64> {
    match &entry.value {
        Value {
            kind: ValueKind::Integer(n),
            ..
        } => Ok(*n),
        Value {
            kind: ValueKind::String(s),
            ..
        } => parse_storage_size(s).map_err(|e| invalid(entry, e)),
        _ => Err(wrong_type(entry, "a size such as 1G or \"512M\"")),
    }
}
