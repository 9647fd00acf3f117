//! What a subscription's sid carries: its kind, granted QoS, option flags,
//! MQTT 5 subscription identifier and filter, read back on every delivery.

use bytes::Bytes;
use junction_mqtt::{QoS, SubscribeOptions};

/// What a subscription's sid says about it, so delivering needs no lookup:
/// kind, granted QoS, option flags, the MQTT 5 subscription identifier,
/// then the filter.
pub(super) const KIND_CORE: u8 = b'c';
pub(super) const KIND_STORED: u8 = b's';
pub(super) const FLAG_NO_LOCAL: u8 = 1;
pub(super) const FLAG_RETAIN_AS_PUBLISHED: u8 = 2;

pub(super) fn sid_for(
    kind: u8,
    qos: QoS,
    options: &SubscribeOptions,
    id: Option<u32>,
    filter: &str,
) -> Bytes {
    let mut sid = Vec::with_capacity(7 + filter.len());
    let flags = if options.no_local { FLAG_NO_LOCAL } else { 0 }
        | if options.retain_as_published {
            FLAG_RETAIN_AS_PUBLISHED
        } else {
            0
        };
    sid.extend_from_slice(&[kind, qos as u8, flags]);
    sid.extend_from_slice(&id.unwrap_or(0).to_be_bytes());
    sid.extend_from_slice(filter.as_bytes());
    Bytes::from(sid)
}

pub(super) struct SidView<'a> {
    pub(super) kind: u8,
    pub(super) qos: QoS,
    pub(super) flags: u8,
    pub(super) id: u32,
    pub(super) filter: &'a [u8],
}

pub(super) fn read_sid(sid: &[u8]) -> Option<SidView<'_>> {
    if sid.len() < 7 {
        return None;
    }
    Some(SidView {
        kind: sid[0],
        qos: QoS::from_bits(sid[1])?,
        flags: sid[2],
        id: u32::from_be_bytes([sid[3], sid[4], sid[5], sid[6]]),
        filter: &sid[7..],
    })
}
