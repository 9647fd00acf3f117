//! The `mqtt { }` block, mapped as nats-server's `parseMQTT` maps it and
//! checked as its `validateMQTTOptions` does once the whole file is read: a
//! block without a port (or with port 0) leaves MQTT off, and MQTT needs
//! JetStream, its store.

use super::apply::{
    boolean, duration_or_seconds, integer, invalid, listen_address, map, other_key, seconds, string,
    wrong_type, Result,
};
use super::error::ConfigError;
use super::value::{Entry, Pos, ValueKind};
use crate::options::{MqttOptions, Options};

/// The block as written, kept until the whole file has been read.
#[derive(Default)]
pub(super) struct MqttState {
    block: Option<Block>,
}

struct Block {
    pos: Pos,
    /// Port as written: 0 (or absent) is off, -1 a random port.
    port: i64,
    options: MqttOptions,
    no_auth_user_pos: Option<Pos>,
    username_pos: Option<Pos>,
    token_pos: Option<Pos>,
    refused: bool,
}

pub(super) fn mqtt(entry: &Entry, state: &mut MqttState) -> Result<()> {
    let fields = match &entry.value.kind {
        ValueKind::Map(m) => m,
        _ => return Err(wrong_type(entry, "a map")),
    };
    let block = state.block.get_or_insert_with(|| Block {
        pos: entry.key_pos.clone(),
        port: 0,
        options: MqttOptions::default(),
        no_auth_user_pos: None,
        username_pos: None,
        token_pos: None,
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
            "tls" => super::tls::tls(e, "mqtt.tls.").map(|t| o.tls = Some(t)),
            "authorization" | "authentication" => authorization(e, block),
            "no_auth_user" => string(e).map(|u| {
                o.no_auth_user = Some(u.to_string());
                block.no_auth_user_pos = Some(e.key_pos.clone());
            }),
            "ack_wait" | "ackwait" => duration_or_seconds(e).map(|d| o.ack_wait = d),
            "max_ack_pending" | "max_pending" | "max_inflight" => integer(e).and_then(|n| {
                if (0..=u16::MAX as i64).contains(&n) {
                    o.max_ack_pending = if n == 0 { 1024 } else { n as u16 };
                    Ok(())
                } else {
                    Err(invalid(
                        e,
                        format!("invalid value {n}, should be in [0..{}] range", u16::MAX),
                    ))
                }
            }),
            "js_domain" => string(e).map(|d| o.js_domain = (!d.is_empty()).then(|| d.to_string())),
            "stream_replicas" | "consumer_replicas" => integer(e).map(|n| o.stream_replicas = n),
            "consumer_memory_storage" => boolean(e).map(|_| ()),
            "consumer_inactive_threshold" | "consumer_auto_cleanup" => {
                duration_or_seconds(e).map(|d| o.consumer_inactive_threshold = Some(d))
            }
            "js_api_timeout" | "api_timeout" => duration_or_seconds(e).map(|_| ()),
            _ => other_key(e, &key, "mqtt.", &[]),
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

/// `authorization { user, password, token, timeout }` for MQTT clients.
fn authorization(entry: &Entry, block: &mut Block) -> Result<()> {
    let mut errors = Vec::new();
    let o = &mut block.options;
    for e in map(entry)? {
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
            _ => other_key(e, &key, "mqtt.authorization.", &[]),
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

/// Checks an enabled block against the rest of the file and sets `opts.mqtt`.
pub(super) fn finish(opts: &mut Options, state: &mut MqttState) -> Result<()> {
    let Some(block) = state.block.take() else {
        return Ok(());
    };
    if block.refused || block.port == 0 {
        opts.mqtt = None;
        return Ok(());
    }
    let fail = |pos: &Pos, key: &str, message: String| ConfigError::InvalidValue {
        pos: pos.clone(),
        key: key.to_string(),
        message,
    };
    let mut errors = Vec::new();
    let o = &block.options;
    if !opts.jetstream {
        errors.push(fail(
            &block.pos,
            "mqtt",
            "MQTT requires JetStream to be enabled if running in standalone mode".into(),
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
                "mqtt authentication username not compatible with presence of users/nkeys".into(),
            ));
        }
        if let (Some(_), Some(pos)) = (o.token.as_deref().filter(|t| !t.is_empty()), &block.token_pos) {
            errors.push(fail(
                pos,
                "token",
                "mqtt authentication token not compatible with presence of users/nkeys".into(),
            ));
        }
    }
    if let Some(e) = ConfigError::from_list(errors) {
        return Err(e);
    }
    let mut options = block.options;
    options.port = if block.port == -1 { 0 } else { block.port as u16 };
    opts.mqtt = Some(options);
    Ok(())
}
