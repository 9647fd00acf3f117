//! Encoding: one control packet appended to an output buffer. Packets are
//! written for the version the peer speaks; MQTT 5 fields are left out for
//! 3.1.1.

use bytes::{BufMut, BytesMut};

use crate::packet::*;
use crate::{Properties, QoS, Version};

pub(crate) fn varint_len(n: usize) -> usize {
    match n {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    }
}

pub(crate) fn put_varint(out: &mut BytesMut, mut n: usize) {
    loop {
        let mut b = (n % 128) as u8;
        n /= 128;
        if n > 0 {
            b |= 0x80;
        }
        out.put_u8(b);
        if n == 0 {
            return;
        }
    }
}

pub(crate) fn put_binary(out: &mut BytesMut, b: &[u8]) {
    out.put_u16(b.len() as u16);
    out.put_slice(b);
}

pub(crate) fn put_string(out: &mut BytesMut, s: &str) {
    put_binary(out, s.as_bytes());
}

/// A PUBLISH whose parts are borrowed: what the server sends to a
/// subscriber straight from a routed message, without building a packet.
#[derive(Debug, Clone, Copy)]
pub struct PublishRef<'a> {
    pub dup: bool,
    pub qos: QoS,
    pub retain: bool,
    pub topic: &'a [u8],
    pub packet_id: Option<u16>,
    /// MQTT 5 only; `None` is an empty property block.
    pub properties: Option<&'a Properties>,
    pub payload: &'a [u8],
}

impl PublishRef<'_> {
    fn remaining(&self, version: Version) -> usize {
        let props = match (version, self.properties) {
            (Version::V5, Some(p)) => p.encoded_len(),
            (Version::V5, None) => 1,
            _ => 0,
        };
        2 + self.topic.len() + if self.qos == QoS::AtMostOnce { 0 } else { 2 } + props + self.payload.len()
    }

    /// Bytes of the whole packet.
    pub fn encoded_len(&self, version: Version) -> usize {
        let r = self.remaining(version);
        1 + varint_len(r) + r
    }

    pub fn encode(&self, version: Version, out: &mut BytesMut) {
        let r = self.remaining(version);
        out.reserve(1 + varint_len(r) + r);
        out.put_u8(0x30 | (self.dup as u8) << 3 | (self.qos as u8) << 1 | self.retain as u8);
        put_varint(out, r);
        put_binary(out, self.topic);
        if self.qos != QoS::AtMostOnce {
            out.put_u16(self.packet_id.unwrap_or(0));
        }
        if version == Version::V5 {
            match self.properties {
                Some(p) => p.encode(out),
                None => out.put_u8(0),
            }
        }
        out.put_slice(self.payload);
    }
}

/// Bytes of the variable header and payload.
fn remaining(packet: &Packet, version: Version) -> usize {
    let v5 = version == Version::V5;
    let props = |p: &Properties| if v5 { p.encoded_len() } else { 0 };
    match packet {
        Packet::Connect(c) => {
            let mut n = 2 + 4 + 1 + 1 + 2 + props(&c.properties) + 2 + c.client_id.len();
            if let Some(w) = &c.will {
                n += props(&w.properties) + 2 + w.topic.len() + 2 + w.payload.len();
            }
            n += c.username.as_ref().map_or(0, |u| 2 + u.len());
            n + c.password.as_ref().map_or(0, |p| 2 + p.len())
        }
        Packet::ConnAck(a) => 2 + props(&a.properties),
        Packet::Publish(p) => publish_ref(p).remaining(version),
        Packet::PubAck(a) | Packet::PubRec(a) | Packet::PubRel(a) | Packet::PubComp(a) => ack_len(a, v5),
        Packet::Subscribe(s) => {
            2 + props(&s.properties) + s.filters.iter().map(|(f, _)| 3 + f.len()).sum::<usize>()
        }
        Packet::SubAck(s) => 2 + props(&s.properties) + s.codes.len(),
        Packet::Unsubscribe(u) => {
            2 + props(&u.properties) + u.filters.iter().map(|f| 2 + f.len()).sum::<usize>()
        }
        Packet::UnsubAck(u) => {
            if v5 {
                2 + props(&u.properties) + u.codes.len()
            } else {
                2
            }
        }
        Packet::PingReq | Packet::PingResp => 0,
        Packet::Disconnect(Disconnect { reason, properties }) | Packet::Auth(Auth { reason, properties }) => {
            if !v5 || (*reason == 0 && properties.is_empty()) {
                0
            } else {
                1 + properties.encoded_len()
            }
        }
    }
}

/// An ack is two bytes when it says nothing more than success, as MQTT 5
/// allows and as 3.1.1 requires.
fn ack_len(a: &Ack, v5: bool) -> usize {
    if !v5 || (a.reason == 0 && a.properties.is_empty()) {
        2
    } else {
        3 + a.properties.encoded_len()
    }
}

fn publish_ref(p: &Publish) -> PublishRef<'_> {
    PublishRef {
        dup: p.dup,
        qos: p.qos,
        retain: p.retain,
        topic: &p.topic,
        packet_id: p.packet_id,
        properties: Some(&p.properties),
        payload: &p.payload,
    }
}

/// Bytes of the whole packet.
pub fn encoded_len(packet: &Packet, version: Version) -> usize {
    let r = remaining(packet, version);
    1 + varint_len(r) + r
}

/// Appends `packet`, encoded for `version`, to `out`.
pub fn encode(packet: &Packet, version: Version, out: &mut BytesMut) {
    if let Packet::Publish(p) = packet {
        return publish_ref(p).encode(version, out);
    }
    let v5 = version == Version::V5;
    let r = remaining(packet, version);
    out.reserve(1 + varint_len(r) + r);
    let flags = match packet {
        Packet::PubRel(_) | Packet::Subscribe(_) | Packet::Unsubscribe(_) => 2,
        _ => 0,
    };
    out.put_u8(packet.kind() << 4 | flags);
    put_varint(out, r);
    let props = |out: &mut BytesMut, p: &Properties| {
        if v5 {
            p.encode(out)
        }
    };
    match packet {
        Packet::Connect(c) => {
            put_string(out, "MQTT");
            out.put_u8(c.version.level());
            let mut flags = 0u8;
            if c.username.is_some() {
                flags |= 0x80;
            }
            if c.password.is_some() {
                flags |= 0x40;
            }
            if let Some(w) = &c.will {
                flags |= 0x04 | (w.qos as u8) << 3 | (w.retain as u8) << 5;
            }
            if c.clean_start {
                flags |= 0x02;
            }
            out.put_u8(flags);
            out.put_u16(c.keep_alive);
            props(out, &c.properties);
            put_string(out, &c.client_id);
            if let Some(w) = &c.will {
                props(out, &w.properties);
                put_string(out, &w.topic);
                put_binary(out, &w.payload);
            }
            if let Some(u) = &c.username {
                put_string(out, u);
            }
            if let Some(p) = &c.password {
                put_binary(out, p);
            }
        }
        Packet::ConnAck(a) => {
            out.put_u8(a.session_present as u8);
            out.put_u8(a.code);
            props(out, &a.properties);
        }
        Packet::Publish(_) => unreachable!("encoded above"),
        Packet::PubAck(a) | Packet::PubRec(a) | Packet::PubRel(a) | Packet::PubComp(a) => {
            out.put_u16(a.packet_id);
            if ack_len(a, v5) > 2 {
                out.put_u8(a.reason);
                a.properties.encode(out);
            }
        }
        Packet::Subscribe(s) => {
            out.put_u16(s.packet_id);
            props(out, &s.properties);
            for (filter, o) in &s.filters {
                put_string(out, filter);
                let mut b = o.qos as u8;
                if v5 {
                    b |=
                        (o.no_local as u8) << 2 | (o.retain_as_published as u8) << 3 | o.retain_handling << 4;
                }
                out.put_u8(b);
            }
        }
        Packet::SubAck(s) => {
            out.put_u16(s.packet_id);
            props(out, &s.properties);
            out.put_slice(&s.codes);
        }
        Packet::Unsubscribe(u) => {
            out.put_u16(u.packet_id);
            props(out, &u.properties);
            for f in &u.filters {
                put_string(out, f);
            }
        }
        Packet::UnsubAck(u) => {
            out.put_u16(u.packet_id);
            if v5 {
                u.properties.encode(out);
                out.put_slice(&u.codes);
            }
        }
        Packet::PingReq | Packet::PingResp => {}
        Packet::Disconnect(Disconnect { reason, properties }) | Packet::Auth(Auth { reason, properties }) => {
            if r > 0 {
                out.put_u8(*reason);
                properties.encode(out);
            }
        }
    }
}
