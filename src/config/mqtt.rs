//! The `mqtt { }` block, mapped as nats-server's `parseMQTT` maps it and
//! checked as its `validateMQTTOptions` does once the whole file is read: a
//! block without a port (or with port 0) leaves MQTT off, and MQTT needs
//! JetStream, its store.

use super::listener::ListenerBlock;
use super::read::{boolean, duration_or_seconds, integer, invalid, string, Result};
use super::value::Entry;
use crate::options::{MqttOptions, Options};

/// The block as written, kept until the whole file has been read.
#[derive(Default)]
pub(super) struct MqttState {
    block: Option<ListenerBlock<MqttOptions>>,
}

pub(super) fn mqtt(entry: &Entry, state: &mut MqttState) -> Result<()> {
    let block = state
        .block
        .get_or_insert_with(|| ListenerBlock::new(entry.key_pos.clone(), MqttOptions::default()));
    block.read(entry, "mqtt", |e, key, o| {
        Some(match key {
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
            _ => return None,
        })
    })
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
    // That MQTT needs JetStream is checked once the command-line flags are
    // merged (`Options::check_merged`): `-js` may enable it.
    opts.mqtt = Some(block.finish(opts, "mqtt", Vec::new())?);
    Ok(())
}
