//! Property tests: any stream of valid operations parses to the same
//! operations however it is split into reads, and arbitrary bytes never
//! make the parser panic.

use junction_nats::{ClientOp, Parser, ProtocolError};
use proptest::prelude::*;

fn token() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_-]{1,8}"
}

fn subject() -> impl Strategy<Value = String> {
    prop::collection::vec(token(), 1..4).prop_map(|t| t.join("."))
}

fn payload() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..64)
}

/// One valid client operation in wire form.
fn op() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"PING\r\n".to_vec()),
        Just(b"PONG\r\n".to_vec()),
        Just(b"CONNECT {\"verbose\":false}\r\n".to_vec()),
        (subject(), token()).prop_map(|(s, sid)| format!("SUB {s} {sid}\r\n").into_bytes()),
        (subject(), token(), token()).prop_map(|(s, q, sid)| format!("SUB {s} {q} {sid}\r\n").into_bytes()),
        (token(), 0u32..100).prop_map(|(sid, n)| format!("UNSUB {sid} {n}\r\n").into_bytes()),
        (subject(), prop::option::of(subject()), payload()).prop_map(|(s, r, p)| {
            let mut out = match r {
                Some(r) => format!("PUB {s} {r} {}\r\n", p.len()),
                None => format!("PUB {s} {}\r\n", p.len()),
            }
            .into_bytes();
            out.extend_from_slice(&p);
            out.extend_from_slice(b"\r\n");
            out
        }),
        (subject(), payload()).prop_map(|(s, p)| {
            let hdr = b"NATS/1.0\r\nA: b\r\n\r\n";
            let mut out = format!("HPUB {s} {} {}\r\n", hdr.len(), hdr.len() + p.len()).into_bytes();
            out.extend_from_slice(hdr);
            out.extend_from_slice(&p);
            out.extend_from_slice(b"\r\n");
            out
        }),
    ]
}

/// An owned copy of an operation, to compare results across buffers.
fn owned(op: &ClientOp<'_>) -> String {
    format!("{op:?}")
}

/// Feeds `chunks` one after another the way a connection does (append,
/// parse what is complete, drop what was consumed), collecting every operation.
fn parse_chunks(chunks: &[&[u8]]) -> Result<Vec<String>, ProtocolError> {
    let mut parser = Parser::default();
    let mut buf: Vec<u8> = Vec::new();
    let mut ops = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        let mut at = 0;
        while let Some((op, n)) = parser.parse(&buf[at..])? {
            ops.push(owned(&op));
            at += n;
        }
        buf.drain(..at);
    }
    Ok(ops)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn split_streams_parse_like_whole_ones(
        ops in prop::collection::vec(op(), 1..20),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
    ) {
        let stream: Vec<u8> = ops.concat();
        let whole = parse_chunks(&[&stream]).unwrap();
        prop_assert_eq!(whole.len(), ops.len());
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(stream.len() + 1)).collect();
        points.sort_unstable();
        points.dedup();
        let mut chunks = Vec::new();
        let mut last = 0;
        for p in points {
            chunks.push(&stream[last..p]);
            last = p;
        }
        chunks.push(&stream[last..]);
        let split = parse_chunks(&chunks).unwrap();
        prop_assert_eq!(whole, split);
    }

    #[test]
    fn every_single_byte_split_agrees(ops in prop::collection::vec(op(), 1..6)) {
        let stream: Vec<u8> = ops.concat();
        let whole = parse_chunks(&[&stream]).unwrap();
        let bytes: Vec<&[u8]> = stream.chunks(1).collect();
        prop_assert_eq!(whole, parse_chunks(&bytes).unwrap());
    }

    #[test]
    fn garbage_never_panics(data in prop::collection::vec(any::<u8>(), 0..512), cut in any::<prop::sample::Index>()) {
        let at = cut.index(data.len() + 1);
        let _ = parse_chunks(&[&data[..at], &data[at..]]);
    }

    #[test]
    fn garbage_after_valid_ops_never_panics(
        ops in prop::collection::vec(op(), 0..5),
        junk in prop::collection::vec(any::<u8>(), 0..128),
    ) {
        let mut stream = ops.concat();
        stream.extend_from_slice(&junk);
        let _ = parse_chunks(&[&stream]);
    }
}
