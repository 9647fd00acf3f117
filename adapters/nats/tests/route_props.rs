//! Property tests of the route codec: whatever interest and messages the
//! encoders write parse back to the same values however the bytes are split
//! into reads, and arbitrary bytes never make the parser panic.

use bytes::BytesMut;
use junction_nats::route::{self, RemoteInterest, RouteOp, RouteParser, RoutedMsg};
use proptest::prelude::*;

fn token() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_$-]{1,8}"
}

fn subject() -> impl Strategy<Value = String> {
    prop::collection::vec(token(), 1..4).prop_map(|t| t.join("."))
}

/// What one operation says, owned.
#[derive(Debug, Clone, PartialEq)]
enum Op {
    Interest {
        leaf: bool,
        adding: bool,
        origin: Option<String>,
        account: String,
        subject: String,
        queue: Option<(String, u32)>,
    },
    Msg {
        origin: Option<String>,
        account: String,
        subject: String,
        reply: Option<String>,
        queues: Vec<String>,
        headers: bool,
        payload: Vec<u8>,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let interest = (
        any::<bool>(),
        any::<bool>(),
        token(),
        token(),
        subject(),
        prop::option::of((token(), 1u32..1000)),
    )
        .prop_map(|(leaf, adding, origin, account, subject, queue)| Op::Interest {
            leaf,
            adding,
            // LS+ always names its origin; LS- does here (the peer takes it).
            origin: leaf.then_some(origin),
            account,
            subject,
            // Only RS+ and LS+ carry the weight.
            queue: queue.map(|(q, w)| (q, if adding { w } else { 0 })),
        });
    let msg = (
        prop::option::of(token()),
        token(),
        subject(),
        prop::option::of(subject()),
        prop::collection::vec(token(), 0..3),
        any::<bool>(),
        prop::collection::vec(any::<u8>(), 0..64),
    )
        .prop_map(
            |(origin, account, subject, reply, queues, headers, payload)| Op::Msg {
                origin,
                account,
                subject,
                reply,
                queues,
                headers,
                payload,
            },
        );
    prop_oneof![interest, msg]
}

const HEADERS: &[u8] = b"NATS/1.0\r\nA: b\r\n\r\n";

fn encode(op: &Op, out: &mut BytesMut) {
    match op {
        Op::Interest {
            leaf,
            adding,
            origin,
            account,
            subject,
            queue,
        } => {
            let i = RemoteInterest {
                account: account.as_bytes(),
                subject: subject.as_bytes(),
                queue: queue.as_ref().map(|(q, _)| q.as_bytes()),
                weight: queue.as_ref().map_or(0, |(_, w)| *w),
            };
            let origin = origin.as_deref().map(str::as_bytes);
            if *adding {
                route::sub(out, origin, &i);
            } else {
                route::unsub(out, *leaf, origin, &i);
            }
        }
        Op::Msg {
            origin,
            account,
            subject,
            reply,
            queues,
            headers,
            payload,
        } => {
            let queue_list = queues.join(" ");
            let body = if *headers {
                [HEADERS, payload].concat()
            } else {
                payload.clone()
            };
            route::msg(
                out,
                &RoutedMsg {
                    origin: origin.as_deref().map(str::as_bytes),
                    account: account.as_bytes(),
                    subject: subject.as_bytes(),
                    reply: reply.as_deref().map(str::as_bytes),
                    queue_list: queue_list.as_bytes(),
                    header_len: headers.then_some(HEADERS.len()),
                    payload: &body,
                },
            );
        }
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn decode(op: &RouteOp<'_>) -> Op {
    let interest = |leaf, adding, origin: Option<&[u8]>, i: &RemoteInterest<'_>| Op::Interest {
        leaf,
        adding,
        origin: origin.map(text),
        account: text(i.account),
        subject: text(i.subject),
        queue: i.queue.map(|q| (text(q), i.weight)),
    };
    match op {
        RouteOp::Sub(i) => interest(false, true, None, i),
        RouteOp::Unsub(i) => interest(false, false, None, i),
        RouteOp::LeafSub { origin, interest: i } => interest(true, true, Some(origin), i),
        RouteOp::LeafUnsub { origin, interest: i } => interest(true, false, *origin, i),
        RouteOp::Msg(m) => Op::Msg {
            origin: m.origin.map(text),
            account: text(m.account),
            subject: text(m.subject),
            reply: m.reply.map(text),
            queues: m.queues().map(text).collect(),
            headers: m.header_len.is_some(),
            payload: m.payload[m.header_len.unwrap_or(0)..].to_vec(),
        },
        other => panic!("unexpected {other:?}"),
    }
}

/// Parses `bytes` fed in reads cut at `cuts`, as a route's reader does.
fn parse_in_reads(bytes: &[u8], cuts: &[usize]) -> Vec<Op> {
    let mut parser = RouteParser::new(4096, 1 << 20);
    parser.leaf_unsub_origin = true;
    let mut buf = Vec::new();
    let mut ops = Vec::new();
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    points.push(bytes.len());
    points.sort_unstable();
    let mut from = 0;
    for to in points {
        buf.extend_from_slice(&bytes[from..to]);
        from = to;
        let mut at = 0;
        while let Some((op, n)) = parser.parse(&buf[at..]).expect("valid input") {
            ops.push(decode(&op));
            at += n;
        }
        buf.drain(..at);
    }
    assert!(buf.is_empty());
    ops
}

proptest! {
    #[test]
    fn encoded_operations_parse_back_however_split(
        ops in prop::collection::vec(op(), 1..12),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let mut bytes = BytesMut::new();
        for op in &ops {
            encode(op, &mut bytes);
        }
        prop_assert_eq!(parse_in_reads(&bytes, &cuts), ops);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let mut parser = RouteParser::new(64, 64);
        let mut at = 0;
        while let Ok(Some((_, n))) = parser.parse(&bytes[at..]) {
            at += n;
        }
    }
}
