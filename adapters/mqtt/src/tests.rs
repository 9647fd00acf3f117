//! Byte-exact packets, every split position, random round trips and
//! mutated input.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

use crate::*;

fn decode_all(decoder: &mut Decoder, bytes: &[u8]) -> Result<Vec<Packet>, DecodeError> {
    let mut buf = BytesMut::from(bytes);
    let mut out = Vec::new();
    while let Some(p) = decoder.decode(&mut buf)? {
        out.push(p);
    }
    assert!(buf.is_empty(), "bytes left: {buf:?}");
    Ok(out)
}

fn server() -> Decoder {
    Decoder::server(1 << 20)
}

fn encoded(packet: &Packet, version: Version) -> Vec<u8> {
    let mut out = BytesMut::new();
    encode(packet, version, &mut out);
    assert_eq!(out.len(), encoded_len(packet, version));
    out.to_vec()
}

const CONNECT_V311: &[u8] = b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00";

#[test]
fn a_311_connect_and_publish_byte_by_byte() {
    let mut d = server();
    let mut bytes = CONNECT_V311.to_vec();
    bytes.extend_from_slice(b"\x30\x07\x00\x03a/bhi");
    bytes.extend_from_slice(b"\x82\x08\x00\x01\x00\x03a/b\x01");
    bytes.extend_from_slice(b"\xc0\x00\xe0\x00");
    let packets = decode_all(&mut d, &bytes).unwrap();
    let Packet::Connect(c) = &packets[0] else { panic!() };
    assert_eq!(
        (c.version, c.client_id.as_str(), c.clean_start, c.keep_alive),
        (Version::V311, "", true, 60)
    );
    let Packet::Publish(p) = &packets[1] else { panic!() };
    assert_eq!(
        (p.topic_str(), &p.payload[..], p.qos, p.packet_id),
        ("a/b", &b"hi"[..], QoS::AtMostOnce, None)
    );
    let Packet::Subscribe(s) = &packets[2] else {
        panic!()
    };
    assert_eq!(
        (s.packet_id, s.filters[0].0.as_str(), s.filters[0].1.qos),
        (1, "a/b", QoS::AtLeastOnce)
    );
    assert_eq!(packets[3], Packet::PingReq);
    assert_eq!(packets[4], Packet::Disconnect(Disconnect::default()));
}

#[test]
fn server_packets_in_exact_bytes() {
    let connack = Packet::ConnAck(ConnAck::default());
    assert_eq!(encoded(&connack, Version::V311), b"\x20\x02\x00\x00");
    assert_eq!(encoded(&connack, Version::V5), b"\x20\x03\x00\x00\x00");
    let suback = Packet::SubAck(SubAck {
        packet_id: 7,
        codes: vec![1, 0x80],
        ..Default::default()
    });
    assert_eq!(encoded(&suback, Version::V311), b"\x90\x04\x00\x07\x01\x80");
    assert_eq!(encoded(&suback, Version::V5), b"\x90\x05\x00\x07\x00\x01\x80");
    assert_eq!(
        encoded(&Packet::PubAck(Ack::new(5)), Version::V5),
        b"\x40\x02\x00\x05"
    );
    assert_eq!(
        encoded(&Packet::PubRel(Ack::new(5)), Version::V311),
        b"\x62\x02\x00\x05"
    );
    let nack = Packet::PubAck(Ack {
        packet_id: 5,
        reason: reason::NO_MATCHING_SUBSCRIBERS,
        ..Default::default()
    });
    assert_eq!(encoded(&nack, Version::V5), b"\x40\x04\x00\x05\x10\x00");
    // A 3.1.1 client never sees a reason code.
    assert_eq!(encoded(&nack, Version::V311), b"\x40\x02\x00\x05");
    let unsuback = Packet::UnsubAck(UnsubAck {
        packet_id: 2,
        codes: vec![0x11],
        ..Default::default()
    });
    assert_eq!(encoded(&unsuback, Version::V311), b"\xb0\x02\x00\x02");
    assert_eq!(encoded(&unsuback, Version::V5), b"\xb0\x04\x00\x02\x00\x11");
    let disconnect = Packet::Disconnect(Disconnect {
        reason: reason::SESSION_TAKEN_OVER,
        ..Default::default()
    });
    assert_eq!(encoded(&disconnect, Version::V5), b"\xe0\x02\x8e\x00");
    assert_eq!(encoded(&Packet::PingResp, Version::V5), b"\xd0\x00");
    let publish = PublishRef {
        dup: false,
        qos: QoS::AtLeastOnce,
        retain: true,
        topic: b"t",
        packet_id: Some(9),
        properties: None,
        payload: b"x",
    };
    let mut out = BytesMut::new();
    publish.encode(Version::V311, &mut out);
    assert_eq!(&out[..], b"\x33\x06\x00\x01t\x00\x09x");
    out.clear();
    publish.encode(Version::V5, &mut out);
    assert_eq!(&out[..], b"\x33\x07\x00\x01t\x00\x09\x00x");
}

#[test]
fn v5_connect_with_properties_and_will() {
    let connect = Connect {
        version: Version::V5,
        client_id: "dev-1".into(),
        clean_start: false,
        keep_alive: 30,
        will: Some(Will {
            topic: "dev/1/status".into(),
            payload: Bytes::from_static(b"gone"),
            qos: QoS::AtLeastOnce,
            retain: true,
            properties: Properties {
                will_delay_interval: Some(5),
                ..Default::default()
            },
        }),
        username: Some("u".into()),
        password: Some(Bytes::from_static(b"p")),
        properties: Properties {
            session_expiry_interval: Some(3600),
            receive_maximum: Some(10),
            topic_alias_maximum: Some(4),
            user_properties: vec![("k".into(), "v".into())],
            ..Default::default()
        },
    };
    let bytes = encoded(&Packet::Connect(Box::new(connect.clone())), Version::V5);
    let packets = decode_all(&mut server(), &bytes).unwrap();
    assert_eq!(packets, vec![Packet::Connect(Box::new(connect))]);
}

#[test]
fn malformed_packets_and_protocol_errors() {
    let err = |bytes: &[u8]| {
        let mut d = server();
        let mut buf = BytesMut::from(CONNECT_V311);
        d.decode(&mut buf).unwrap().unwrap();
        decode_all(&mut d, bytes).unwrap_err()
    };
    // Wrong fixed-header flags.
    assert!(matches!(err(b"\xc1\x00"), DecodeError::Malformed(_)));
    assert!(matches!(
        err(b"\x80\x08\x00\x01\x00\x03a/b\x01"),
        DecodeError::Malformed(_)
    ));
    // QoS 3, and DUP on QoS 0.
    assert!(matches!(
        err(b"\x36\x05\x00\x01t\x00\x01"),
        DecodeError::Malformed(_)
    ));
    assert!(matches!(err(b"\x38\x03\x00\x01t"), DecodeError::Malformed(_)));
    // A remaining length of five bytes.
    assert!(matches!(
        err(b"\x30\xff\xff\xff\xff\x01"),
        DecodeError::Malformed(_)
    ));
    // A second CONNECT.
    assert!(matches!(err(CONNECT_V311), DecodeError::Protocol(_)));
    // An empty SUBSCRIBE; reserved subscription bits in 3.1.1.
    assert!(matches!(err(b"\x82\x02\x00\x01"), DecodeError::Protocol(_)));
    assert!(matches!(
        err(b"\x82\x08\x00\x01\x00\x03a/b\x05"),
        DecodeError::Malformed(_)
    ));
    // A string that is not UTF-8, and one with U+0000.
    assert!(matches!(
        err(b"\x30\x04\x00\x02\xff\xfe"),
        DecodeError::Malformed(_)
    ));
    assert!(matches!(err(b"\x30\x04\x00\x02a\x00"), DecodeError::Malformed(_)));
    // A packet identifier of 0.
    assert!(matches!(err(b"\x40\x02\x00\x00"), DecodeError::Protocol(_)));
    // AUTH in 3.1.1, and the reserved type 0.
    assert!(matches!(err(b"\xf0\x00"), DecodeError::Protocol(_)));
    assert!(matches!(err(b"\x00\x00"), DecodeError::Malformed(_)));
    // Before CONNECT, anything else is a protocol error.
    assert!(matches!(
        decode_all(&mut server(), b"\xc0\x00"),
        Err(DecodeError::Protocol(_))
    ));
    // Over the maximum packet size: refused from the header alone.
    let mut small = Decoder::server(10);
    let mut buf = BytesMut::from(&b"\x10\x0c"[..]);
    assert_eq!(small.decode(&mut buf), Err(DecodeError::TooLarge(14)));
    // Protocol versions and names.
    let mut v3 = CONNECT_V311.to_vec();
    v3[8] = 3;
    assert_eq!(
        decode_all(&mut server(), &v3),
        Err(DecodeError::UnsupportedVersion(3))
    );
    let mut name = CONNECT_V311.to_vec();
    name[4] = b'X';
    assert_eq!(decode_all(&mut server(), &name), Err(DecodeError::ProtocolName));
    // The reserved CONNECT flag; will QoS without a will; a password
    // without a user name in 3.1.1.
    for (flags, kind) in [(0x03u8, "malformed"), (0x0a, "malformed"), (0x42, "protocol")] {
        let mut c = CONNECT_V311.to_vec();
        c[9] = flags;
        let e = decode_all(&mut server(), &c).unwrap_err();
        assert_eq!(
            matches!(e, DecodeError::Malformed(_)),
            kind == "malformed",
            "{flags:#x}: {e}"
        );
    }
}

#[test]
fn v5_property_rules() {
    let mut d = Decoder::with_version(Version::V5, 1 << 20);
    // A topic alias is a PUBLISH property, not a SUBSCRIBE one.
    let e = decode_all(&mut d, b"\x82\x09\x00\x01\x03\x23\x00\x01\x00\x01t\x00").unwrap_err();
    assert!(matches!(e, DecodeError::Protocol(_)), "{e}");
    // Twice the same property.
    let e = decode_all(&mut d, b"\x30\x08\x00\x01t\x04\x01\x00\x01\x01").unwrap_err();
    assert!(matches!(e, DecodeError::Protocol(_)), "{e}");
    // A property block longer than the packet.
    let e = decode_all(&mut d, b"\x30\x04\x00\x01t\x09").unwrap_err();
    assert!(matches!(e, DecodeError::Malformed(_)), "{e}");
    // Retain handling 3.
    let e = decode_all(&mut d, b"\x82\x07\x00\x01\x00\x00\x01t\x30").unwrap_err();
    assert!(matches!(e, DecodeError::Protocol(_)), "{e}");
}

fn text() -> impl Strategy<Value = String> {
    "[a-z/+#$. ]{0,12}"
}

fn bytes_() -> impl Strategy<Value = Bytes> {
    proptest::collection::vec(any::<u8>(), 0..40).prop_map(Bytes::from)
}

fn qos() -> impl Strategy<Value = QoS> {
    prop_oneof![
        Just(QoS::AtMostOnce),
        Just(QoS::AtLeastOnce),
        Just(QoS::ExactlyOnce)
    ]
}

fn user_properties() -> impl Strategy<Value = Vec<(String, String)>> {
    proptest::collection::vec((text(), text()), 0..3)
}

fn publish_properties() -> impl Strategy<Value = Properties> {
    (
        proptest::option::of(0u8..2),
        proptest::option::of(any::<u32>()),
        proptest::option::of(text()),
        proptest::option::of(text()),
        proptest::option::of(bytes_()),
        proptest::collection::vec(1u32..268_435_455, 0..3),
        proptest::option::of(any::<u16>()),
        user_properties(),
    )
        .prop_map(|(pfi, exp, ct, rt, cd, ids, alias, user)| Properties {
            payload_format_indicator: pfi,
            message_expiry_interval: exp,
            content_type: ct,
            response_topic: rt,
            correlation_data: cd,
            subscription_identifiers: ids,
            topic_alias: alias,
            user_properties: user,
            ..Default::default()
        })
}

fn reason_properties() -> impl Strategy<Value = Properties> {
    (proptest::option::of(text()), user_properties()).prop_map(|(reason, user)| Properties {
        reason_string: reason,
        user_properties: user,
        ..Default::default()
    })
}

/// Any packet a client or a server may send, as `version` allows it.
fn packet(version: Version) -> impl Strategy<Value = Packet> {
    let v5 = version == Version::V5;
    let props = move |p: Properties| if v5 { p } else { Properties::default() };
    let reason = move |r: u8| if v5 { r } else { 0 };
    prop_oneof![
        (
            any::<bool>(),
            qos(),
            any::<bool>(),
            text(),
            1u16..,
            publish_properties(),
            bytes_()
        )
            .prop_map(
                move |(dup, qos, retain, topic, id, p, payload)| Packet::Publish(Publish {
                    dup: dup && qos != QoS::AtMostOnce,
                    qos,
                    retain,
                    topic: Bytes::from(topic),
                    packet_id: (qos != QoS::AtMostOnce).then_some(id),
                    properties: props(p),
                    payload,
                })
            ),
        (0u8..4, 1u16.., any::<u8>(), reason_properties()).prop_map(move |(kind, id, r, p)| {
            let ack = Ack {
                packet_id: id,
                reason: reason(r),
                properties: props(p),
            };
            match kind {
                0 => Packet::PubAck(ack),
                1 => Packet::PubRec(ack),
                2 => Packet::PubRel(ack),
                _ => Packet::PubComp(ack),
            }
        }),
        (
            1u16..,
            proptest::collection::vec((text(), qos(), any::<bool>(), any::<bool>(), 0u8..3), 1..4),
            proptest::option::of(1u32..1000)
        )
            .prop_map(move |(id, filters, sid)| Packet::Subscribe(Subscribe {
                packet_id: id,
                filters: filters
                    .into_iter()
                    .map(|(f, qos, nl, rap, rh)| {
                        (
                            f,
                            SubscribeOptions {
                                qos,
                                no_local: nl && v5,
                                retain_as_published: rap && v5,
                                retain_handling: if v5 { rh } else { 0 },
                            },
                        )
                    })
                    .collect(),
                properties: props(Properties {
                    subscription_identifiers: sid.into_iter().collect(),
                    ..Default::default()
                }),
            })),
        (
            1u16..,
            proptest::collection::vec(any::<u8>(), 0..4),
            reason_properties()
        )
            .prop_map(move |(id, codes, p)| Packet::SubAck(SubAck {
                packet_id: id,
                codes,
                properties: props(p),
            })),
        (1u16.., proptest::collection::vec(text(), 1..4)).prop_map(|(id, filters)| Packet::Unsubscribe(
            Unsubscribe {
                packet_id: id,
                filters,
                properties: Properties::default(),
            }
        )),
        (
            1u16..,
            proptest::collection::vec(any::<u8>(), 0..4),
            reason_properties()
        )
            .prop_map(move |(id, codes, p)| Packet::UnsubAck(UnsubAck {
                packet_id: id,
                codes: if v5 { codes } else { Vec::new() },
                properties: props(p),
            })),
        (any::<bool>(), any::<u8>()).prop_map(move |(sp, code)| Packet::ConnAck(ConnAck {
            session_present: sp,
            code,
            properties: props(Properties {
                assigned_client_identifier: Some("x".into()),
                ..Default::default()
            }),
        })),
        Just(Packet::PingReq),
        Just(Packet::PingResp),
        (any::<u8>(), reason_properties()).prop_map(move |(r, p)| Packet::Disconnect(Disconnect {
            reason: reason(r),
            properties: props(p),
        })),
    ]
}

fn connect(version: Version) -> impl Strategy<Value = Connect> {
    let v5 = version == Version::V5;
    (
        text(),
        any::<bool>(),
        any::<u16>(),
        proptest::option::of((text(), bytes_(), qos(), any::<bool>())),
        proptest::option::of(text()),
        proptest::option::of(bytes_()),
        proptest::option::of(any::<u32>()),
    )
        .prop_map(move |(id, clean, ka, will, user, pass, expiry)| Connect {
            version,
            client_id: id,
            clean_start: clean,
            keep_alive: ka,
            will: will.map(|(topic, payload, qos, retain)| Will {
                topic,
                payload,
                qos,
                retain,
                properties: Properties::default(),
            }),
            // 3.1.1 allows a password only with a user name.
            password: if v5 || user.is_some() { pass } else { None },
            username: user,
            properties: Properties {
                session_expiry_interval: if v5 { expiry } else { None },
                ..Default::default()
            },
        })
}

fn version() -> impl Strategy<Value = Version> {
    prop_oneof![Just(Version::V311), Just(Version::V5)]
}

proptest! {
    #[test]
    fn round_trip_split_anywhere(
        (version, connect, packets) in version().prop_flat_map(|v| (
            Just(v),
            connect(v),
            proptest::collection::vec(packet(v), 1..6),
        ))
    ) {
        let mut bytes = encoded(&Packet::Connect(Box::new(connect.clone())), version);
        for p in &packets {
            bytes.extend_from_slice(&encoded(p, version));
        }
        let mut expected = vec![Packet::Connect(Box::new(connect))];
        expected.extend(packets);
        prop_assert_eq!(&decode_all(&mut server(), &bytes).unwrap(), &expected);
        // The same bytes in two reads, split at every position.
        for split in 0..bytes.len() {
            let mut d = server();
            let mut buf = BytesMut::from(&bytes[..split]);
            let mut got = Vec::new();
            while let Some(p) = d.decode(&mut buf).unwrap() {
                got.push(p);
            }
            buf.extend_from_slice(&bytes[split..]);
            while let Some(p) = d.decode(&mut buf).unwrap() {
                got.push(p);
            }
            prop_assert_eq!(&got, &expected);
        }
    }

    #[test]
    fn mutated_packets_never_panic(
        (version, packets) in version().prop_flat_map(|v| (Just(v), proptest::collection::vec(packet(v), 1..4))),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = Vec::new();
        for p in &packets {
            bytes.extend_from_slice(&encoded(p, version));
        }
        for (at, value) in flips {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        bytes.truncate(cut.index(bytes.len() + 1));
        let mut d = Decoder::with_version(version, 1 << 16);
        let mut buf = BytesMut::from(&bytes[..]);
        while let Ok(Some(_)) = d.decode(&mut buf) {}
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut d = server();
        let mut buf = BytesMut::from(&bytes[..]);
        while let Ok(Some(_)) = d.decode(&mut buf) {}
    }
}
