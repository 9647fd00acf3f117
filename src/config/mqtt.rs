//! The `mqtt { }` block, mapped as nats-server's `parseMQTT` maps it and
//! checked as its `validateMQTTOptions` does once the whole file is read: a
//! block without a port (or with port 0) leaves MQTT off, and MQTT needs
//! JetStream, its store.

use super::error::ConfigError;
use super::listener::{authorization, check_auth, check_port, listen, no_auth_user, AuthPositions};
use super::read::{boolean, duration_or_seconds, integer, invalid, other_key, string, wrong_type, Result};
use super::value::{Entry, ValueKind};
use crate::options::{MqttOptions, Options};

/// The block as written, kept until the whole file has been read.
#[derive(Default)]
pub(super) struct MqttState {
    block: Option<Block>,
}

struct Block {
    /// Port as written: 0 (or absent) is off, -1 a random port.
    port: i64,
    options: MqttOptions,
    at: AuthPositions,
    refused: bool,
}

pub(super) fn mqtt(entry: &Entry, state: &mut MqttState) -> Result<()> {
    let fields = match &entry.value.kind {
        ValueKind::Map(m) => m,
        _ => return Err(wrong_type(entry, "a map")),
    };
    let block = state.block.get_or_insert_with(|| Block {
        port: 0,
        options: MqttOptions::default(),
        at: AuthPositions::default(),
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
            "tls" => super::tls::tls(e, "mqtt.tls.").map(|t| o.tls = Some(t)),
            "authorization" | "authentication" => authorization(e, "mqtt.", &mut o.auth, &mut block.at),
            "no_auth_user" => no_auth_user(e, &mut o.auth, &mut block.at),
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
            "receive_maximum" => integer(e).and_then(|n| {
                if (1..=u16::MAX as i64).contains(&n) {
                    o.receive_maximum = n as u16;
                    Ok(())
                } else {
                    Err(invalid(
                        e,
                        format!("invalid value {n}, should be in [1..{}] range", u16::MAX),
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

/// Checks an enabled block against the rest of the file and sets `opts.mqtt`.
pub(super) fn finish(opts: &mut Options, state: &mut MqttState) -> Result<()> {
    let Some(block) = state.block.take() else {
        return Ok(());
    };
    if block.refused || block.port == 0 {
        opts.mqtt = None;
        return Ok(());
    }
    let mut errors = Vec::new();
    let o = &block.options;
    // That MQTT needs JetStream is checked once the command-line flags are
    // merged (`Options::check_merged`): `-js` may enable it.
    check_auth(opts, "mqtt", &o.auth, &block.at, &mut errors);
    if let Some(e) = ConfigError::from_list(errors) {
        return Err(e);
    }
    let mut options = block.options;
    options.port = if block.port == -1 { 0 } else { block.port as u16 };
    opts.mqtt = Some(options);
    Ok(())
}
