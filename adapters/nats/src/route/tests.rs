//! The route codec against exchanges captured between nats-server 2.9.10 and
//! 2.15.1 on loopback.

use super::*;

fn parse_all(input: &[u8], leaf_unsub_origin: bool) -> Result<Vec<RouteOp<'_>>, ProtocolError> {
    let mut p = RouteParser::new(4096, 1024 * 1024);
    p.leaf_unsub_origin = leaf_unsub_origin;
    parse_with(p, input)
}

/// Every operation of `input`, all of it consumed, by the parser `p`.
fn parse_with(mut p: RouteParser, input: &[u8]) -> Result<Vec<RouteOp<'_>>, ProtocolError> {
    let mut at = 0;
    let mut ops = Vec::new();
    while let Some((op, n)) = p.parse(&input[at..])? {
        ops.push(op);
        at += n;
    }
    assert_eq!(at, input.len(), "all consumed");
    Ok(ops)
}

fn interest<'a>(
    account: &'a str,
    subject: &'a str,
    queue: Option<&'a str>,
    weight: u32,
) -> RemoteInterest<'a> {
    RemoteInterest {
        account: account.as_bytes(),
        subject: subject.as_bytes(),
        queue: queue.map(str::as_bytes),
        weight,
    }
}

fn routed<'a>(account: &'a str, subject: &'a str, reply: Option<&'a str>, queues: &'a str) -> RoutedMsg<'a> {
    RoutedMsg {
        origin: None,
        account: account.as_bytes(),
        subject: subject.as_bytes(),
        reply: reply.map(str::as_bytes),
        queue_list: queues.as_bytes(),
        header_len: None,
        payload: b"",
    }
}

// Sent by 2.9.10 to 2.15.1 as a client subscribed to `foo.>` and twice to
// `bar` in group q1, then left.
const INTEREST: &[u8] = b"RS+ $G foo.>\r\nRS+ $G bar q1 1\r\nRS+ $G bar q1 2\r\nRS+ $G bar q1 1\r\nRS- $G foo.>\r\nRS- $G bar q1\r\n";

#[test]
fn remote_interest_as_nats_server_sends_it() {
    let ops = parse_all(INTEREST, false).unwrap();
    assert_eq!(
        ops,
        vec![
            RouteOp::Sub(interest("$G", "foo.>", None, 0)),
            RouteOp::Sub(interest("$G", "bar", Some("q1"), 1)),
            RouteOp::Sub(interest("$G", "bar", Some("q1"), 2)),
            RouteOp::Sub(interest("$G", "bar", Some("q1"), 1)),
            RouteOp::Unsub(interest("$G", "foo.>", None, 0)),
            RouteOp::Unsub(interest("$G", "bar", Some("q1"), 0)),
        ]
    );
    let mut out = BytesMut::new();
    for op in &ops {
        match op {
            RouteOp::Sub(i) => sub(&mut out, None, i),
            RouteOp::Unsub(i) => unsub(&mut out, false, None, i),
            _ => unreachable!(),
        }
    }
    assert_eq!(&out[..], INTEREST);
}

// Sent by 2.15.1 to 2.9.10: a plain message with a reply, one with headers,
// one for a queue group only, a request for a queue group, and messages
// from a leaf node of 2.15.1 (its origin `leaf1`).
const MESSAGES: &[u8] = b"RMSG $G foo.x r.1 5\r\nhello\r\nHMSG $G foo.y 18 21\r\nNATS/1.0\r\nA: 1\r\n\r\nhdr\r\nRMSG $G bar | q1 1\r\nq\r\nRMSG $G svc + _INBOX.1 workers 3\r\nreq\r\nLMSG leaf1 $G from.leaf rr 0 1\r\nx\r\nLMSG leaf1 $G from.q | g 0 1\r\ny\r\n";

#[test]
fn routed_messages_as_nats_server_sends_them() {
    let ops = parse_all(MESSAGES, false).unwrap();
    let expected = vec![
        RoutedMsg {
            payload: b"hello",
            ..routed("$G", "foo.x", Some("r.1"), "")
        },
        RoutedMsg {
            header_len: Some(18),
            payload: b"NATS/1.0\r\nA: 1\r\n\r\nhdr",
            ..routed("$G", "foo.y", None, "")
        },
        RoutedMsg {
            payload: b"q",
            ..routed("$G", "bar", None, "q1")
        },
        RoutedMsg {
            payload: b"req",
            ..routed("$G", "svc", Some("_INBOX.1"), "workers")
        },
        RoutedMsg {
            origin: Some(b"leaf1"),
            payload: b"x",
            ..routed("$G", "from.leaf", Some("rr"), "")
        },
        RoutedMsg {
            origin: Some(b"leaf1"),
            payload: b"y",
            ..routed("$G", "from.q", None, "g")
        },
    ];
    assert_eq!(
        ops,
        expected.iter().copied().map(RouteOp::Msg).collect::<Vec<_>>()
    );
    let mut out = BytesMut::new();
    for m in &expected {
        msg(&mut out, m);
    }
    assert_eq!(&out[..], MESSAGES);
}

#[test]
fn a_message_for_several_queue_groups_lists_them_all() {
    let ops = parse_all(
        b"RMSG $G s + r a b c 2\r\nhi\r\nHMSG $G s | a b 12 12\r\nNATS/1.0\r\n\r\n\r\n",
        false,
    )
    .unwrap();
    let RouteOp::Msg(first) = &ops[0] else {
        panic!("{ops:?}")
    };
    assert_eq!(first.queues().collect::<Vec<_>>(), vec![&b"a"[..], b"b", b"c"]);
    assert_eq!(first.reply, Some(&b"r"[..]));
    let RouteOp::Msg(second) = &ops[1] else {
        panic!("{ops:?}")
    };
    assert_eq!(second.queues().count(), 2);
    assert_eq!(second.reply, None);
    assert_eq!(second.header_len, Some(12));
}

#[test]
fn leaf_interest_with_and_without_the_origin_in_ls_minus() {
    // 2.15.1 to 2.9.10, which did not announce `lnocu`.
    let old = b"LS+ leaf1 $G leaf.>\r\nLS+ leaf1 $G leafq lq 1\r\nLS- $G leaf.>\r\nLS- $G leafq lq\r\n";
    let ops = parse_all(old, false).unwrap();
    assert_eq!(
        ops,
        vec![
            RouteOp::LeafSub {
                origin: b"leaf1",
                interest: interest("$G", "leaf.>", None, 0)
            },
            RouteOp::LeafSub {
                origin: b"leaf1",
                interest: interest("$G", "leafq", Some("lq"), 1)
            },
            RouteOp::LeafUnsub {
                origin: None,
                interest: interest("$G", "leaf.>", None, 0)
            },
            RouteOp::LeafUnsub {
                origin: None,
                interest: interest("$G", "leafq", Some("lq"), 0)
            },
        ]
    );
    let ops = parse_all(b"LS- leaf1 $G leafq lq\r\n", true).unwrap();
    assert_eq!(
        ops,
        vec![RouteOp::LeafUnsub {
            origin: Some(b"leaf1"),
            interest: interest("$G", "leafq", Some("lq"), 0)
        }]
    );
    let mut out = BytesMut::new();
    sub(&mut out, Some(b"leaf1"), &interest("$G", "leafq", Some("lq"), 1));
    unsub(&mut out, true, None, &interest("$G", "leaf.>", None, 0));
    unsub(
        &mut out,
        true,
        Some(b"leaf1"),
        &interest("$G", "leafq", Some("lq"), 0),
    );
    assert_eq!(
        &out[..],
        &b"LS+ leaf1 $G leafq lq 1\r\nLS- $G leaf.>\r\nLS- leaf1 $G leafq lq\r\n"[..]
    );
}

#[test]
fn the_handshake_and_keepalive_of_a_route() {
    let input = b"CONNECT {\"echo\":true,\"cluster\":\"c1\"}\r\nINFO {\"server_id\":\"N\"} \r\nPING\r\nPONG\r\n+OK\r\n-ERR 'Unknown'\r\n";
    let ops = parse_all(input, false).unwrap();
    assert_eq!(
        ops,
        vec![
            RouteOp::Connect(br#"{"echo":true,"cluster":"c1"}"#),
            RouteOp::Info(br#"{"server_id":"N"} "#),
            RouteOp::Ping,
            RouteOp::Pong,
            RouteOp::Ok,
            RouteOp::Err(b"'Unknown'"),
        ]
    );
}

// 2.15.1 to 2.15.1 on the route dedicated to account A (`cluster {
// accounts: [A] }`): a client in A subscribed to `foo` and in group q to
// `bar` on one server, another published on the other, then both left.
const DEDICATED_INTEREST: &[u8] = b"RS+ foo\r\nRS+ bar q 1\r\nRS- foo\r\nRS- bar q\r\n";
const DEDICATED_MSGS: &[u8] =
    b"RMSG foo r 2\r\nhi\r\nHMSG foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\nRMSG bar | q 1\r\nx\r\nRMSG bar + r2 q 1\r\ny\r\n";

fn parse_dedicated(input: &[u8]) -> Vec<RouteOp<'_>> {
    let mut p = RouteParser::new(4096, 1024 * 1024);
    p.account_omitted = true;
    parse_with(p, input).unwrap()
}

#[test]
fn a_route_dedicated_to_one_account_as_nats_server_speaks_it() {
    assert_eq!(
        parse_dedicated(DEDICATED_INTEREST),
        vec![
            RouteOp::Sub(interest("", "foo", None, 0)),
            RouteOp::Sub(interest("", "bar", Some("q"), 1)),
            RouteOp::Unsub(interest("", "foo", None, 0)),
            RouteOp::Unsub(interest("", "bar", Some("q"), 0)),
        ]
    );
    let with_payload = |m: RoutedMsg<'static>, header_len, payload: &'static [u8]| {
        RouteOp::Msg(RoutedMsg {
            header_len,
            payload,
            ..m
        })
    };
    assert_eq!(
        parse_dedicated(DEDICATED_MSGS),
        vec![
            with_payload(routed("", "foo", Some("r"), ""), None, b"hi"),
            with_payload(routed("", "foo", None, ""), Some(12), b"NATS/1.0\r\n\r\nhi"),
            with_payload(routed("", "bar", None, "q"), None, b"x"),
            with_payload(routed("", "bar", Some("r2"), "q"), None, b"y"),
        ]
    );
    // And written back the same, the account left out.
    let mut out = BytesMut::new();
    for op in parse_dedicated(DEDICATED_INTEREST) {
        match op {
            RouteOp::Sub(i) => sub(&mut out, None, &i),
            RouteOp::Unsub(i) => unsub(&mut out, false, None, &i),
            _ => unreachable!(),
        }
    }
    for op in parse_dedicated(DEDICATED_MSGS) {
        let RouteOp::Msg(m) = op else { unreachable!() };
        msg(&mut out, &m);
    }
    assert_eq!(&out[..], &[DEDICATED_INTEREST, DEDICATED_MSGS].concat()[..]);
    // A leaf's message relayed on such a route keeps its origin.
    let ops = parse_dedicated(b"LMSG leaf1 foo r 0 2\r\nhi\r\nLS+ leaf1 foo\r\n");
    assert_eq!(
        ops,
        vec![
            RouteOp::Msg(RoutedMsg {
                origin: Some(b"leaf1"),
                payload: b"hi",
                ..routed("", "foo", Some("r"), "")
            }),
            RouteOp::LeafSub {
                origin: b"leaf1",
                interest: interest("", "foo", None, 0)
            },
        ]
    );
}

#[test]
fn malformed_lines_are_errors() {
    let bad = |input: &[u8]| parse_all(input, false).unwrap_err();
    assert_eq!(bad(b"RS+ $G\r\n"), ProtocolError::BadArguments { op: "RS+" });
    assert_eq!(
        bad(b"RS+ $G foo q\r\n"),
        ProtocolError::BadArguments { op: "RS+" }
    );
    assert_eq!(
        bad(b"RS+ $G foo q x\r\n"),
        ProtocolError::BadArguments { op: "RS+" }
    );
    assert_eq!(
        bad(b"RS- $G foo q 1\r\n"),
        ProtocolError::BadArguments { op: "RS-" }
    );
    assert_eq!(bad(b"RMSG $G\r\n"), ProtocolError::BadArguments { op: "RMSG" });
    assert_eq!(
        bad(b"RMSG $G foo x\r\n"),
        ProtocolError::BadArguments { op: "RMSG" }
    );
    assert_eq!(
        bad(b"RMSG $G foo ? a b 1\r\nx\r\n"),
        ProtocolError::BadArguments { op: "RMSG" }
    );
    assert_eq!(
        bad(b"RMSG $G foo + r 1\r\nx\r\n"),
        ProtocolError::BadArguments { op: "RMSG" }
    );
    assert_eq!(
        bad(b"HMSG $G foo 5 3\r\nabc\r\n"),
        ProtocolError::BadArguments { op: "HMSG" }
    );
    assert_eq!(
        bad(b"LMSG $G foo 1\r\nx\r\n"),
        ProtocolError::BadArguments { op: "LMSG" }
    );
    assert_eq!(bad(b"RMSG $G foo 1\r\nxy\r\n"), ProtocolError::UnknownOperation);
    assert_eq!(bad(b"SUB foo 1\r\n"), ProtocolError::UnknownOperation);
    assert_eq!(bad(b"PUB"), ProtocolError::UnknownOperation);
    assert!(matches!(
        bad(b"RMSG $G foo 2000000\r\n"),
        ProtocolError::MaxPayload { .. }
    ));
}

// Sent by a nats-server 2.9.10 leaf node to a 2.15.1 hub (no compression),
// and by the hub back: interest and messages of the one account the
// connection is bound to, which the lines leave out.
const LEAF_FROM_LEAF: &[u8] = b"LS+ $LDS.xMhW7UJ2ujnqKNRHzVx5xM\r\nLS+ leaf.y\r\nLMSG hub.a | qq 5\r\nhello\r\n\
LS+ _INBOX.GowoEMrp69mnkrwHUguPRs.*\r\nLMSG hub.b + _INBOX.GowoEMrp69mnkrwHUguPRs.GowoEMrp69mnkrwHUguPPz qq 1\r\nq\r\n\
LS- _INBOX.GowoEMrp69mnkrwHUguPRs.*\r\nHMSG hub.h | qq 18 20\r\nNATS/1.0\r\nA: b\r\n\r\nhi\r\n";
const LEAF_FROM_HUB: &[u8] = b"LS+ hub.> qq 1\r\nLMSG leaf.y 4\r\nback\r\n";

fn parse_leaf(input: &[u8]) -> Vec<RouteOp<'_>> {
    parse_with(RouteParser::leaf(4096, 1024 * 1024), input).unwrap()
}

fn leaf_msg_of<'a>(
    subject: &'a str,
    reply: Option<&'a str>,
    queues: &'a str,
    header_len: Option<usize>,
    payload: &'a [u8],
) -> RoutedMsg<'a> {
    RoutedMsg {
        header_len,
        payload,
        ..routed("", subject, reply, queues)
    }
}

#[test]
fn a_leaf_connection_as_nats_server_speaks_it() {
    let inbox = "_INBOX.GowoEMrp69mnkrwHUguPRs.*";
    let reply = "_INBOX.GowoEMrp69mnkrwHUguPRs.GowoEMrp69mnkrwHUguPPz";
    let ls_plus = |subject, queue, weight| RouteOp::LeafSub {
        origin: b"",
        interest: interest("", subject, queue, weight),
    };
    let expected = vec![
        ls_plus("$LDS.xMhW7UJ2ujnqKNRHzVx5xM", None, 0),
        ls_plus("leaf.y", None, 0),
        RouteOp::Msg(leaf_msg_of("hub.a", None, "qq", None, b"hello")),
        ls_plus(inbox, None, 0),
        RouteOp::Msg(leaf_msg_of("hub.b", Some(reply), "qq", None, b"q")),
        RouteOp::LeafUnsub {
            origin: None,
            interest: interest("", inbox, None, 0),
        },
        RouteOp::Msg(leaf_msg_of(
            "hub.h",
            None,
            "qq",
            Some(18),
            b"NATS/1.0\r\nA: b\r\n\r\nhi",
        )),
    ];
    assert_eq!(parse_leaf(LEAF_FROM_LEAF), expected);
    // Written back the same, byte for byte.
    let mut out = BytesMut::new();
    for op in &expected {
        match op {
            RouteOp::LeafSub { interest, .. } => leaf_sub(&mut out, interest),
            RouteOp::LeafUnsub { interest, .. } => leaf_unsub(&mut out, interest),
            RouteOp::Msg(m) => leaf_msg(&mut out, m),
            _ => unreachable!(),
        }
    }
    assert_eq!(&out[..], LEAF_FROM_LEAF);
    let ops = parse_leaf(LEAF_FROM_HUB);
    assert_eq!(
        ops,
        vec![
            ls_plus("hub.>", Some("qq"), 1),
            RouteOp::Msg(leaf_msg_of("leaf.y", None, "", None, b"back")),
        ]
    );
    // Route lines are not the leaf dialect.
    let mut p = RouteParser::leaf(4096, 1024);
    assert!(p.parse(b"RS+ $G foo\r\n").is_err());
    assert!(p.parse(b"RMSG $G foo 1\r\nx\r\n").is_err());
    assert!(RouteParser::leaf(4096, 1024).parse(b"LS+ a b c d\r\n").is_err());
}

// Sent by nats-server 2.15.1 gateways to each other: the inbound side's
// switch of an account to interest-only, its interest, and a request whose
// reply was mapped to the origin server, answered straight back to it.
const GATEWAY: &[u8] = b"INFO {\"server_id\":\"\",\"gateway\":\"B\",\"gateway_cmd\":2,\"gateway_cmd_payload\":\"JEc=\"}\r\nRS+ $G svc\r\nRS+ $G foo q1 1\r\nRMSG $G svc _GR_.NUmM6c.BV1nNJ._INBOX.a 2\r\nhi\r\nRMSG $G foo | q1 3\r\nabc\r\nRMSG $G _GR_.NUmM6c.BV1nNJ._INBOX.a 2\r\nok\r\nA- $G\r\nA+ $G\r\n";

#[test]
fn a_gateway_exchange_as_nats_server_sends_it() {
    let ops = parse_all(GATEWAY, false).unwrap();
    assert!(matches!(ops[0], RouteOp::Info(_)));
    assert_eq!(ops[1], RouteOp::Sub(interest("$G", "svc", None, 0)));
    assert_eq!(ops[2], RouteOp::Sub(interest("$G", "foo", Some("q1"), 1)));
    let RouteOp::Msg(m) = &ops[3] else { panic!() };
    assert_eq!(
        (m.subject, m.reply),
        (&b"svc"[..], Some(&b"_GR_.NUmM6c.BV1nNJ._INBOX.a"[..]))
    );
    let RouteOp::Msg(m) = &ops[4] else { panic!() };
    assert_eq!((m.queue_list, m.payload), (&b"q1"[..], &b"abc"[..]));
    let RouteOp::Msg(m) = &ops[5] else { panic!() };
    assert_eq!(m.subject, b"_GR_.NUmM6c.BV1nNJ._INBOX.a");
    assert_eq!(ops[6], RouteOp::AccountUnsub(b"$G"));
    assert_eq!(ops[7], RouteOp::AccountSub(b"$G"));
    let mut out = BytesMut::new();
    account_interest(&mut out, false, b"$G");
    account_interest(&mut out, true, b"$G");
    assert_eq!(&out[..], b"A- $G\r\nA+ $G\r\n");
    // A leaf connection has no accounts to speak of.
    let mut p = RouteParser::leaf(4096, 1024);
    assert!(p.parse(b"A+ $G\r\n").is_err());
}
