//! Decoding: whole control packets out of a growing buffer, with the checks
//! the specification makes a malformed packet or a protocol error.

use bytes::{Buf, Bytes, BytesMut};

use crate::packet::*;
use crate::properties::{Owner, Properties};
use crate::{reason, QoS, Version, MAX_REMAINING_LENGTH};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("malformed packet: {0}")]
    Malformed(&'static str),
    #[error("protocol error: {0}")]
    Protocol(&'static str),
    #[error("packet of {0} bytes is larger than the maximum packet size")]
    TooLarge(usize),
    #[error("unsupported protocol level {0}")]
    UnsupportedVersion(u8),
    #[error("not an MQTT protocol name")]
    ProtocolName,
}

impl DecodeError {
    /// The MQTT 5 reason code for this error (CONNACK or DISCONNECT).
    pub fn reason(&self) -> u8 {
        match self {
            DecodeError::Malformed(_) => reason::MALFORMED_PACKET,
            DecodeError::Protocol(_) => reason::PROTOCOL_ERROR,
            DecodeError::TooLarge(_) => reason::PACKET_TOO_LARGE,
            DecodeError::UnsupportedVersion(_) | DecodeError::ProtocolName => {
                reason::UNSUPPORTED_PROTOCOL_VERSION
            }
        }
    }
}

/// Reads a variable byte integer (1 to 4 bytes).
pub(crate) fn read_varint(buf: &mut Bytes) -> Result<usize, DecodeError> {
    let mut value = 0usize;
    for i in 0..4 {
        if buf.is_empty() {
            return Err(DecodeError::Malformed("variable byte integer cut short"));
        }
        let b = buf.get_u8();
        value |= ((b & 0x7F) as usize) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(DecodeError::Malformed(
        "variable byte integer longer than 4 bytes",
    ))
}

fn read_u16(buf: &mut Bytes) -> Result<u16, DecodeError> {
    if buf.len() < 2 {
        return Err(DecodeError::Malformed("packet cut short"));
    }
    Ok(buf.get_u16())
}

fn read_u8(buf: &mut Bytes) -> Result<u8, DecodeError> {
    if buf.is_empty() {
        return Err(DecodeError::Malformed("packet cut short"));
    }
    Ok(buf.get_u8())
}

/// Two-byte length, then that many bytes.
pub(crate) fn read_binary(buf: &mut Bytes) -> Result<Bytes, DecodeError> {
    let len = read_u16(buf)? as usize;
    if buf.len() < len {
        return Err(DecodeError::Malformed("length runs past the packet"));
    }
    Ok(buf.split_to(len))
}

/// A UTF-8 string without U+0000, as bytes.
fn read_text(buf: &mut Bytes) -> Result<Bytes, DecodeError> {
    let raw = read_binary(buf)?;
    if std::str::from_utf8(&raw).is_err() || raw.contains(&0) {
        return Err(DecodeError::Malformed("a string is not valid UTF-8"));
    }
    Ok(raw)
}

pub(crate) fn read_string(buf: &mut Bytes) -> Result<String, DecodeError> {
    let raw = read_text(buf)?;
    Ok(String::from_utf8_lossy(&raw).into_owned())
}

fn packet_id(buf: &mut Bytes) -> Result<u16, DecodeError> {
    match read_u16(buf)? {
        0 => Err(DecodeError::Protocol("a packet identifier of 0")),
        id => Ok(id),
    }
}

fn done(buf: &Bytes) -> Result<(), DecodeError> {
    if buf.is_empty() {
        Ok(())
    } else {
        Err(DecodeError::Malformed("bytes left over at the end of the packet"))
    }
}

/// Turns bytes into packets. A server-side decoder starts knowing no version
/// and accepts only a CONNECT first; the CONNECT fixes the version.
#[derive(Debug, Clone)]
pub struct Decoder {
    version: Option<Version>,
    /// Whether this side receives CONNECT (the server's side).
    server: bool,
    max_packet: usize,
}

impl Decoder {
    /// A server's decoder: the first packet must be CONNECT, and no packet
    /// may be longer than `max_packet` bytes in all.
    pub fn server(max_packet: usize) -> Self {
        Decoder {
            version: None,
            server: true,
            max_packet,
        }
    }

    /// A decoder for packets of a known version (a client reading the
    /// server's packets, or tests).
    pub fn with_version(version: Version, max_packet: usize) -> Self {
        Decoder {
            version: Some(version),
            server: false,
            max_packet,
        }
    }

    pub fn version(&self) -> Option<Version> {
        self.version
    }

    pub fn set_max_packet(&mut self, max_packet: usize) {
        self.max_packet = max_packet;
    }

    /// The next whole packet in `buf`, removing its bytes; `Ok(None)` when
    /// more bytes are needed. After an error the connection must be closed.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Packet>, DecodeError> {
        if buf.len() < 2 {
            return Ok(None);
        }
        let mut remaining = 0usize;
        let mut header_len = 1;
        loop {
            if header_len > 4 {
                return Err(DecodeError::Malformed("remaining length longer than 4 bytes"));
            }
            let Some(&b) = buf.get(header_len) else {
                return Ok(None);
            };
            remaining |= ((b & 0x7F) as usize) << (7 * (header_len - 1));
            header_len += 1;
            if b & 0x80 == 0 {
                break;
            }
        }
        debug_assert!(remaining <= MAX_REMAINING_LENGTH);
        let total = header_len + remaining;
        if total > self.max_packet {
            return Err(DecodeError::TooLarge(total));
        }
        if buf.len() < total {
            buf.reserve(total - buf.len());
            return Ok(None);
        }
        let first = buf[0];
        let (kind, flags) = (first >> 4, first & 0x0F);
        if self.server {
            match (self.version, kind) {
                (None, 1) => {}
                (None, _) => return Err(DecodeError::Protocol("the first packet must be CONNECT")),
                (Some(_), 1) => return Err(DecodeError::Protocol("a second CONNECT")),
                _ => {}
            }
        }
        let mut body = buf.split_to(total).freeze();
        body.advance(header_len);
        let packet = self.body(kind, flags, body)?;
        if let Packet::Connect(c) = &packet {
            self.version = Some(c.version);
        }
        Ok(Some(packet))
    }

    fn v5(&self) -> bool {
        self.version == Some(Version::V5)
    }

    fn properties(&self, buf: &mut Bytes, owner: Owner) -> Result<Properties, DecodeError> {
        if self.v5() {
            Properties::decode(buf, owner)
        } else {
            Ok(Properties::default())
        }
    }

    fn body(&self, kind: u8, flags: u8, mut buf: Bytes) -> Result<Packet, DecodeError> {
        let expect_flags = |want: u8| {
            if flags == want {
                Ok(())
            } else {
                Err(DecodeError::Malformed(
                    "reserved flags of the fixed header are wrong",
                ))
            }
        };
        match kind {
            1 => {
                expect_flags(0)?;
                connect(&mut buf).map(|c| Packet::Connect(Box::new(c)))
            }
            2 => {
                expect_flags(0)?;
                let ack_flags = read_u8(&mut buf)?;
                if ack_flags & 0xFE != 0 {
                    return Err(DecodeError::Malformed("reserved CONNACK flags set"));
                }
                let code = read_u8(&mut buf)?;
                let properties = self.properties(&mut buf, Owner::ConnAck)?;
                done(&buf)?;
                Ok(Packet::ConnAck(ConnAck {
                    session_present: ack_flags & 1 == 1,
                    code,
                    properties,
                }))
            }
            3 => self.publish(flags, buf).map(Packet::Publish),
            4..=7 => {
                expect_flags(if kind == 6 { 2 } else { 0 })?;
                let ack = self.ack(buf)?;
                Ok(match kind {
                    4 => Packet::PubAck(ack),
                    5 => Packet::PubRec(ack),
                    6 => Packet::PubRel(ack),
                    _ => Packet::PubComp(ack),
                })
            }
            8 => {
                expect_flags(2)?;
                let packet_id = packet_id(&mut buf)?;
                let properties = self.properties(&mut buf, Owner::Subscribe)?;
                let mut filters = Vec::new();
                while !buf.is_empty() {
                    let filter = read_string(&mut buf)?;
                    let options = read_u8(&mut buf)?;
                    filters.push((filter, self.subscribe_options(options)?));
                }
                if filters.is_empty() {
                    return Err(DecodeError::Protocol("a SUBSCRIBE without topic filters"));
                }
                Ok(Packet::Subscribe(Subscribe {
                    packet_id,
                    filters,
                    properties,
                }))
            }
            9 => {
                expect_flags(0)?;
                let packet_id = packet_id(&mut buf)?;
                let properties = self.properties(&mut buf, Owner::SubAck)?;
                Ok(Packet::SubAck(SubAck {
                    packet_id,
                    codes: buf.to_vec(),
                    properties,
                }))
            }
            10 => {
                expect_flags(2)?;
                let packet_id = packet_id(&mut buf)?;
                let properties = self.properties(&mut buf, Owner::Unsubscribe)?;
                let mut filters = Vec::new();
                while !buf.is_empty() {
                    filters.push(read_string(&mut buf)?);
                }
                if filters.is_empty() {
                    return Err(DecodeError::Protocol("an UNSUBSCRIBE without topic filters"));
                }
                Ok(Packet::Unsubscribe(Unsubscribe {
                    packet_id,
                    filters,
                    properties,
                }))
            }
            11 => {
                expect_flags(0)?;
                let packet_id = packet_id(&mut buf)?;
                let properties = self.properties(&mut buf, Owner::UnsubAck)?;
                let codes = if self.v5() { buf.to_vec() } else { Vec::new() };
                if !self.v5() {
                    done(&buf)?;
                }
                Ok(Packet::UnsubAck(UnsubAck {
                    packet_id,
                    codes,
                    properties,
                }))
            }
            12 | 13 => {
                expect_flags(0)?;
                done(&buf)?;
                Ok(if kind == 12 {
                    Packet::PingReq
                } else {
                    Packet::PingResp
                })
            }
            14 => {
                expect_flags(0)?;
                let (reason, properties) = self.reason_and_properties(&mut buf, Owner::Disconnect)?;
                Ok(Packet::Disconnect(Disconnect { reason, properties }))
            }
            15 => {
                if !self.v5() {
                    return Err(DecodeError::Protocol("AUTH is an MQTT 5 packet"));
                }
                expect_flags(0)?;
                let (reason, properties) = self.reason_and_properties(&mut buf, Owner::Auth)?;
                Ok(Packet::Auth(Auth { reason, properties }))
            }
            _ => Err(DecodeError::Malformed("reserved packet type 0")),
        }
    }

    /// DISCONNECT and AUTH: in MQTT 5 an optional reason and properties.
    fn reason_and_properties(&self, buf: &mut Bytes, owner: Owner) -> Result<(u8, Properties), DecodeError> {
        if !self.v5() || buf.is_empty() {
            done(buf)?;
            return Ok((0, Properties::default()));
        }
        let reason = read_u8(buf)?;
        let properties = if buf.is_empty() {
            Properties::default()
        } else {
            Properties::decode(buf, owner)?
        };
        done(buf)?;
        Ok((reason, properties))
    }

    fn ack(&self, mut buf: Bytes) -> Result<Ack, DecodeError> {
        let packet_id = packet_id(&mut buf)?;
        let mut ack = Ack::new(packet_id);
        if self.v5() && !buf.is_empty() {
            ack.reason = read_u8(&mut buf)?;
            if !buf.is_empty() {
                ack.properties = Properties::decode(&mut buf, Owner::Ack)?;
            }
        }
        done(&buf)?;
        Ok(ack)
    }

    fn publish(&self, flags: u8, mut buf: Bytes) -> Result<Publish, DecodeError> {
        let qos = QoS::from_bits((flags >> 1) & 3).ok_or(DecodeError::Malformed("PUBLISH with QoS 3"))?;
        let dup = flags & 8 != 0;
        if dup && qos == QoS::AtMostOnce {
            return Err(DecodeError::Malformed("DUP set on a QoS 0 PUBLISH"));
        }
        let topic = read_text(&mut buf)?;
        let packet_id = if qos == QoS::AtMostOnce {
            None
        } else {
            Some(packet_id(&mut buf)?)
        };
        let properties = self.properties(&mut buf, Owner::Publish)?;
        Ok(Publish {
            dup,
            qos,
            retain: flags & 1 != 0,
            topic,
            packet_id,
            properties,
            payload: buf,
        })
    }

    fn subscribe_options(&self, options: u8) -> Result<SubscribeOptions, DecodeError> {
        let qos = QoS::from_bits(options & 3).ok_or(DecodeError::Malformed("a subscription with QoS 3"))?;
        if !self.v5() {
            if options & 0xFC != 0 {
                return Err(DecodeError::Malformed("reserved subscription option bits set"));
            }
            return Ok(SubscribeOptions {
                qos,
                ..Default::default()
            });
        }
        if options & 0xC0 != 0 {
            return Err(DecodeError::Malformed("reserved subscription option bits set"));
        }
        let retain_handling = (options >> 4) & 3;
        if retain_handling == 3 {
            return Err(DecodeError::Protocol("retain handling 3"));
        }
        Ok(SubscribeOptions {
            qos,
            no_local: options & 4 != 0,
            retain_as_published: options & 8 != 0,
            retain_handling,
        })
    }
}

fn connect(buf: &mut Bytes) -> Result<Connect, DecodeError> {
    let name = read_binary(buf)?;
    let level = read_u8(buf)?;
    let version = match (&name[..], level) {
        (b"MQTT", 4) => Version::V311,
        (b"MQTT", 5) => Version::V5,
        (b"MQTT", n) | (b"MQIsdp", n) => return Err(DecodeError::UnsupportedVersion(n)),
        _ => return Err(DecodeError::ProtocolName),
    };
    let flags = read_u8(buf)?;
    if flags & 1 != 0 {
        return Err(DecodeError::Malformed("the reserved CONNECT flag is set"));
    }
    let has_will = flags & 0x04 != 0;
    let will_qos = QoS::from_bits((flags >> 3) & 3).ok_or(DecodeError::Malformed("a will with QoS 3"))?;
    let will_retain = flags & 0x20 != 0;
    if !has_will && (will_qos != QoS::AtMostOnce || will_retain) {
        return Err(DecodeError::Malformed("will QoS or retain without a will"));
    }
    let has_user = flags & 0x80 != 0;
    let has_password = flags & 0x40 != 0;
    if version == Version::V311 && has_password && !has_user {
        return Err(DecodeError::Protocol("a password without a user name"));
    }
    let keep_alive = read_u16(buf)?;
    let properties = if version == Version::V5 {
        Properties::decode(buf, Owner::Connect)?
    } else {
        Properties::default()
    };
    let client_id = read_string(buf)?;
    let will = if has_will {
        let properties = if version == Version::V5 {
            Properties::decode(buf, Owner::Will)?
        } else {
            Properties::default()
        };
        let topic = read_string(buf)?;
        let payload = read_binary(buf)?;
        Some(Will {
            topic,
            payload,
            qos: will_qos,
            retain: will_retain,
            properties,
        })
    } else {
        None
    };
    let username = if has_user { Some(read_string(buf)?) } else { None };
    let password = if has_password {
        Some(read_binary(buf)?)
    } else {
        None
    };
    done(buf)?;
    Ok(Connect {
        version,
        client_id,
        clean_start: flags & 0x02 != 0,
        keep_alive,
        will,
        username,
        password,
        properties,
    })
}
