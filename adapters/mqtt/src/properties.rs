//! MQTT 5 properties: decoded into one struct whatever the packet, checked
//! against the identifiers that packet may carry, and encoded back in
//! identifier order.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::decode::{read_binary, read_string, read_varint, DecodeError};
use crate::encode::{put_binary, put_string, put_varint, varint_len};

/// The properties of one packet. Absent ones are `None` (or empty).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Properties {
    pub payload_format_indicator: Option<u8>,
    pub message_expiry_interval: Option<u32>,
    pub content_type: Option<String>,
    pub response_topic: Option<String>,
    pub correlation_data: Option<Bytes>,
    /// One per matching subscription in a PUBLISH; at most one in a SUBSCRIBE.
    pub subscription_identifiers: Vec<u32>,
    pub session_expiry_interval: Option<u32>,
    pub assigned_client_identifier: Option<String>,
    pub server_keep_alive: Option<u16>,
    pub authentication_method: Option<String>,
    pub authentication_data: Option<Bytes>,
    pub request_problem_information: Option<u8>,
    pub will_delay_interval: Option<u32>,
    pub request_response_information: Option<u8>,
    pub response_information: Option<String>,
    pub server_reference: Option<String>,
    pub reason_string: Option<String>,
    pub receive_maximum: Option<u16>,
    pub topic_alias_maximum: Option<u16>,
    pub topic_alias: Option<u16>,
    pub maximum_qos: Option<u8>,
    pub retain_available: Option<u8>,
    pub user_properties: Vec<(String, String)>,
    pub maximum_packet_size: Option<u32>,
    pub wildcard_subscription_available: Option<u8>,
    pub subscription_identifier_available: Option<u8>,
    pub shared_subscription_available: Option<u8>,
}

/// Which packet (or will) a property block belongs to, for the allowed set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Owner {
    Connect,
    ConnAck,
    Publish,
    Will,
    Ack,
    Subscribe,
    SubAck,
    Unsubscribe,
    UnsubAck,
    Disconnect,
    Auth,
}

const fn mask(ids: &[u8]) -> u64 {
    let mut m = 0u64;
    let mut i = 0;
    while i < ids.len() {
        m |= 1 << ids[i];
        i += 1;
    }
    m
}

impl Owner {
    /// The property identifiers the specification allows here (table 2.4).
    fn allowed(self) -> u64 {
        const USER: u8 = 0x26;
        const REASON: u8 = 0x1F;
        match self {
            Owner::Connect => mask(&[0x11, 0x15, 0x16, 0x17, 0x19, 0x21, 0x22, USER, 0x27]),
            Owner::ConnAck => mask(&[
                0x11, 0x12, 0x13, 0x15, 0x16, 0x1A, 0x1C, REASON, 0x21, 0x22, 0x24, 0x25, USER, 0x27, 0x28,
                0x29, 0x2A,
            ]),
            Owner::Publish => mask(&[0x01, 0x02, 0x03, 0x08, 0x09, 0x0B, 0x23, USER]),
            Owner::Will => mask(&[0x01, 0x02, 0x03, 0x08, 0x09, 0x18, USER]),
            Owner::Ack | Owner::SubAck | Owner::UnsubAck => mask(&[REASON, USER]),
            Owner::Subscribe => mask(&[0x0B, USER]),
            Owner::Unsubscribe => mask(&[USER]),
            Owner::Disconnect => mask(&[0x11, 0x1C, REASON, USER]),
            Owner::Auth => mask(&[0x15, 0x16, REASON, USER]),
        }
    }
}

fn set<T>(slot: &mut Option<T>, value: T) -> Result<(), DecodeError> {
    if slot.is_some() {
        return Err(DecodeError::Protocol("a property appears twice"));
    }
    *slot = Some(value);
    Ok(())
}

fn byte(buf: &mut Bytes) -> Result<u8, DecodeError> {
    if buf.is_empty() {
        return Err(DecodeError::Malformed("property value cut short"));
    }
    Ok(buf.get_u8())
}

fn u16_(buf: &mut Bytes) -> Result<u16, DecodeError> {
    if buf.len() < 2 {
        return Err(DecodeError::Malformed("property value cut short"));
    }
    Ok(buf.get_u16())
}

fn u32_(buf: &mut Bytes) -> Result<u32, DecodeError> {
    if buf.len() < 4 {
        return Err(DecodeError::Malformed("property value cut short"));
    }
    Ok(buf.get_u32())
}

/// A property that is 0 or 1 only.
fn flag(buf: &mut Bytes) -> Result<u8, DecodeError> {
    match byte(buf)? {
        b @ (0 | 1) => Ok(b),
        _ => Err(DecodeError::Protocol("a property must be 0 or 1")),
    }
}

impl Properties {
    /// Reads a property block: its length, then that many bytes of properties.
    pub(crate) fn decode(buf: &mut Bytes, owner: Owner) -> Result<Properties, DecodeError> {
        let len = read_varint(buf)?;
        if len > buf.len() {
            return Err(DecodeError::Malformed("properties longer than the packet"));
        }
        let mut block = buf.split_to(len);
        let mut p = Properties::default();
        let allowed = owner.allowed();
        while !block.is_empty() {
            let id = read_varint(&mut block)?;
            if id >= 64 || allowed & (1 << id) == 0 {
                return Err(DecodeError::Protocol("a property this packet may not carry"));
            }
            match id {
                0x01 => set(&mut p.payload_format_indicator, flag(&mut block)?)?,
                0x02 => set(&mut p.message_expiry_interval, u32_(&mut block)?)?,
                0x03 => set(&mut p.content_type, read_string(&mut block)?)?,
                0x08 => set(&mut p.response_topic, read_string(&mut block)?)?,
                0x09 => set(&mut p.correlation_data, read_binary(&mut block)?)?,
                0x0B => {
                    let id = read_varint(&mut block)?;
                    if id == 0 {
                        return Err(DecodeError::Protocol("a subscription identifier of 0"));
                    }
                    if owner == Owner::Subscribe && !p.subscription_identifiers.is_empty() {
                        return Err(DecodeError::Protocol("a property appears twice"));
                    }
                    p.subscription_identifiers.push(id as u32);
                }
                0x11 => set(&mut p.session_expiry_interval, u32_(&mut block)?)?,
                0x12 => set(&mut p.assigned_client_identifier, read_string(&mut block)?)?,
                0x13 => set(&mut p.server_keep_alive, u16_(&mut block)?)?,
                0x15 => set(&mut p.authentication_method, read_string(&mut block)?)?,
                0x16 => set(&mut p.authentication_data, read_binary(&mut block)?)?,
                0x17 => set(&mut p.request_problem_information, flag(&mut block)?)?,
                0x18 => set(&mut p.will_delay_interval, u32_(&mut block)?)?,
                0x19 => set(&mut p.request_response_information, flag(&mut block)?)?,
                0x1A => set(&mut p.response_information, read_string(&mut block)?)?,
                0x1C => set(&mut p.server_reference, read_string(&mut block)?)?,
                0x1F => set(&mut p.reason_string, read_string(&mut block)?)?,
                0x21 => {
                    let v = u16_(&mut block)?;
                    if v == 0 {
                        return Err(DecodeError::Protocol("a receive maximum of 0"));
                    }
                    set(&mut p.receive_maximum, v)?
                }
                0x22 => set(&mut p.topic_alias_maximum, u16_(&mut block)?)?,
                0x23 => set(&mut p.topic_alias, u16_(&mut block)?)?,
                0x24 => set(&mut p.maximum_qos, flag(&mut block)?)?,
                0x25 => set(&mut p.retain_available, flag(&mut block)?)?,
                0x26 => {
                    let k = read_string(&mut block)?;
                    let v = read_string(&mut block)?;
                    p.user_properties.push((k, v));
                }
                0x27 => {
                    let v = u32_(&mut block)?;
                    if v == 0 {
                        return Err(DecodeError::Protocol("a maximum packet size of 0"));
                    }
                    set(&mut p.maximum_packet_size, v)?
                }
                0x28 => set(&mut p.wildcard_subscription_available, flag(&mut block)?)?,
                0x29 => set(&mut p.subscription_identifier_available, flag(&mut block)?)?,
                0x2A => set(&mut p.shared_subscription_available, flag(&mut block)?)?,
                _ => return Err(DecodeError::Protocol("an unknown property")),
            }
        }
        Ok(p)
    }

    /// Bytes of the properties without their length prefix.
    pub(crate) fn body_len(&self) -> usize {
        let s = |v: &Option<String>| v.as_ref().map_or(0, |s| 3 + s.len());
        let b = |v: &Option<Bytes>| v.as_ref().map_or(0, |s| 3 + s.len());
        let n = |v: bool, size: usize| if v { 1 + size } else { 0 };
        n(self.payload_format_indicator.is_some(), 1)
            + n(self.message_expiry_interval.is_some(), 4)
            + s(&self.content_type)
            + s(&self.response_topic)
            + b(&self.correlation_data)
            + self
                .subscription_identifiers
                .iter()
                .map(|id| 1 + varint_len(*id as usize))
                .sum::<usize>()
            + n(self.session_expiry_interval.is_some(), 4)
            + s(&self.assigned_client_identifier)
            + n(self.server_keep_alive.is_some(), 2)
            + s(&self.authentication_method)
            + b(&self.authentication_data)
            + n(self.request_problem_information.is_some(), 1)
            + n(self.will_delay_interval.is_some(), 4)
            + n(self.request_response_information.is_some(), 1)
            + s(&self.response_information)
            + s(&self.server_reference)
            + s(&self.reason_string)
            + n(self.receive_maximum.is_some(), 2)
            + n(self.topic_alias_maximum.is_some(), 2)
            + n(self.topic_alias.is_some(), 2)
            + n(self.maximum_qos.is_some(), 1)
            + n(self.retain_available.is_some(), 1)
            + self
                .user_properties
                .iter()
                .map(|(k, v)| 5 + k.len() + v.len())
                .sum::<usize>()
            + n(self.maximum_packet_size.is_some(), 4)
            + n(self.wildcard_subscription_available.is_some(), 1)
            + n(self.subscription_identifier_available.is_some(), 1)
            + n(self.shared_subscription_available.is_some(), 1)
    }

    /// Bytes of the block with its length prefix.
    pub(crate) fn encoded_len(&self) -> usize {
        let body = self.body_len();
        varint_len(body) + body
    }

    pub fn is_empty(&self) -> bool {
        self.body_len() == 0
    }

    pub(crate) fn encode(&self, out: &mut BytesMut) {
        put_varint(out, self.body_len());
        let byte = |out: &mut BytesMut, id: u8, v: Option<u8>| {
            if let Some(v) = v {
                out.put_u8(id);
                out.put_u8(v);
            }
        };
        let two = |out: &mut BytesMut, id: u8, v: Option<u16>| {
            if let Some(v) = v {
                out.put_u8(id);
                out.put_u16(v);
            }
        };
        let four = |out: &mut BytesMut, id: u8, v: Option<u32>| {
            if let Some(v) = v {
                out.put_u8(id);
                out.put_u32(v);
            }
        };
        let text = |out: &mut BytesMut, id: u8, v: &Option<String>| {
            if let Some(v) = v {
                out.put_u8(id);
                put_string(out, v);
            }
        };
        let bin = |out: &mut BytesMut, id: u8, v: &Option<Bytes>| {
            if let Some(v) = v {
                out.put_u8(id);
                put_binary(out, v);
            }
        };
        byte(out, 0x01, self.payload_format_indicator);
        four(out, 0x02, self.message_expiry_interval);
        text(out, 0x03, &self.content_type);
        text(out, 0x08, &self.response_topic);
        bin(out, 0x09, &self.correlation_data);
        for id in &self.subscription_identifiers {
            out.put_u8(0x0B);
            put_varint(out, *id as usize);
        }
        four(out, 0x11, self.session_expiry_interval);
        text(out, 0x12, &self.assigned_client_identifier);
        two(out, 0x13, self.server_keep_alive);
        text(out, 0x15, &self.authentication_method);
        bin(out, 0x16, &self.authentication_data);
        byte(out, 0x17, self.request_problem_information);
        four(out, 0x18, self.will_delay_interval);
        byte(out, 0x19, self.request_response_information);
        text(out, 0x1A, &self.response_information);
        text(out, 0x1C, &self.server_reference);
        text(out, 0x1F, &self.reason_string);
        two(out, 0x21, self.receive_maximum);
        two(out, 0x22, self.topic_alias_maximum);
        two(out, 0x23, self.topic_alias);
        byte(out, 0x24, self.maximum_qos);
        byte(out, 0x25, self.retain_available);
        for (k, v) in &self.user_properties {
            out.put_u8(0x26);
            put_string(out, k);
            put_string(out, v);
        }
        four(out, 0x27, self.maximum_packet_size);
        byte(out, 0x28, self.wildcard_subscription_available);
        byte(out, 0x29, self.subscription_identifier_available);
        byte(out, 0x2A, self.shared_subscription_available);
    }
}
