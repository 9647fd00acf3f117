//! MQTT 5 properties and NATS headers: what a publish carries into NATS,
//! and what a delivery gives back to an MQTT 5 subscriber.

use std::time::Duration;

use bytes::Bytes;
use junction_mqtt::Properties;

use crate::mqtt::store;
use crate::mqtt::{reply, topic};

/// A header value that fits on one header line.
pub(super) fn header_safe(v: &str) -> bool {
    !v.contains(['\r', '\n'])
}

/// The MQTT 5 properties a server forwards become NATS headers, and back
/// (`properties_for`): user properties as themselves, the others as
/// `Nmqtt-*` headers. `source`: the publishing client's id, for No Local
/// subscriptions reading the message from the store.
pub(super) fn headers_from_properties(props: &Properties, source: Option<&str>) -> Vec<u8> {
    if props.user_properties.is_empty()
        && props.message_expiry_interval.is_none()
        && props.correlation_data.is_none()
        && props.payload_format_indicator.is_none()
        && props.content_type.is_none()
        && source.is_none()
    {
        return Vec::new();
    }
    let mut block = b"NATS/1.0\r\n".to_vec();
    if let Some(secs) = props.message_expiry_interval {
        block.extend_from_slice(format!("{EXPIRY_HEADER}: {secs}\r\n").as_bytes());
    }
    if let Some(format) = props.payload_format_indicator {
        block.extend_from_slice(format!("{FORMAT_HEADER}: {format}\r\n").as_bytes());
    }
    if let Some(ct) = props.content_type.as_deref().filter(|ct| header_safe(ct)) {
        block.extend_from_slice(format!("{CONTENT_TYPE_HEADER}: {ct}\r\n").as_bytes());
    }
    if let Some(client_id) = source.filter(|id| header_safe(id)) {
        block.extend_from_slice(format!("{SOURCE_HEADER}: {client_id}\r\n").as_bytes());
    }
    if let Some(corr) = &props.correlation_data {
        // A response carries its correlation data to MQTT 5 subscribers.
        let value = data_encoding::BASE64URL_NOPAD.encode(corr);
        block.extend_from_slice(format!("{}: {value}\r\n", reply::CORRELATION_HEADER).as_bytes());
    }
    for (k, v) in &props.user_properties {
        if k.is_empty() || k.contains([':', '\r', '\n']) || v.contains(['\r', '\n']) {
            continue;
        }
        block.extend_from_slice(k.as_bytes());
        block.extend_from_slice(b": ");
        block.extend_from_slice(v.as_bytes());
        block.extend_from_slice(b"\r\n");
    }
    block.extend_from_slice(b"\r\n");
    block
}

/// The MQTT 5 properties of a delivery: user properties from NATS headers,
/// the subscription identifier, a response topic from the reply subject,
/// correlation data, and what is left of a message expiry.
pub(super) fn properties_for(
    headers: &[u8],
    sub_id: u32,
    reply: Option<&[u8]>,
    age: Duration,
) -> Result<Option<Properties>, Expired> {
    let mut props = Properties::default();
    if sub_id > 0 {
        props.subscription_identifiers.push(sub_id);
    }
    for (k, v) in crate::jetstream::headers::pairs(headers) {
        let (k, v) = (k.as_str(), v.as_str());
        if k.eq_ignore_ascii_case(store::QOS_HEADER) {
            continue;
        }
        if k.eq_ignore_ascii_case(reply::CORRELATION_HEADER) {
            props.correlation_data = data_encoding::BASE64URL_NOPAD
                .decode(v.as_bytes())
                .ok()
                .map(Bytes::from);
            continue;
        }
        if k.eq_ignore_ascii_case(REPLY_HEADER)
            || k.eq_ignore_ascii_case(RETAIN_HEADER)
            || k.eq_ignore_ascii_case(SOURCE_HEADER)
        {
            continue;
        }
        if k.eq_ignore_ascii_case(FORMAT_HEADER) {
            props.payload_format_indicator = v.parse().ok();
            continue;
        }
        if k.eq_ignore_ascii_case(CONTENT_TYPE_HEADER) {
            props.content_type = Some(v.to_string());
            continue;
        }
        if k.eq_ignore_ascii_case(EXPIRY_HEADER) {
            let total = v.parse::<u64>().unwrap_or(0);
            if total > 0 && age.as_secs() >= total {
                return Err(Expired);
            }
            props.message_expiry_interval = Some(total.saturating_sub(age.as_secs()) as u32);
            continue;
        }
        props.user_properties.push((k.to_string(), v.to_string()));
    }
    if let Some(reply) = reply {
        match reply::parse(reply) {
            Some((topic, corr)) => {
                props.response_topic = Some(topic);
                props.correlation_data = corr.map(Bytes::from);
            }
            None => {
                props.response_topic =
                    Some(String::from_utf8_lossy(&topic::subject_to_topic(reply)).into_owned())
            }
        }
    }
    Ok((!props.is_empty()).then_some(props))
}

/// A stored message whose MQTT 5 expiry has passed.
pub(super) struct Expired;

/// The header carrying an MQTT 5 message expiry interval (seconds).
pub(super) const EXPIRY_HEADER: &str = "Nmqtt-Exp";

/// The header carrying a stored request's reply subject.
pub(super) const REPLY_HEADER: &str = "Nmqtt-Reply";

/// The header marking a stored message published with the RETAIN flag.
pub(super) const RETAIN_HEADER: &str = "Nmqtt-Retain";

/// The header carrying an MQTT 5 Payload Format Indicator (0 or 1).
pub(super) const FORMAT_HEADER: &str = "Nmqtt-Payload-Format";

/// The header carrying an MQTT 5 Content Type.
pub(super) const CONTENT_TYPE_HEADER: &str = "Nmqtt-Content-Type";

/// The header naming the client that published a stored message, for the
/// No Local subscriptions of that client.
pub(super) const SOURCE_HEADER: &str = "Nmqtt-Src";
