//! Incremental parser for the operations a NATS client sends.
//!
//! Works like mini-redis's frame check: find whether a whole operation is in
//! the buffer, and only then take it out. An operation may arrive split
//! across reads at any byte, or many may arrive in one read; both parse the
//! same. Operations borrow from the read buffer, so parsing copies nothing.

/// Default `max_control_line` of nats-server (4 KiB).
pub const DEFAULT_MAX_CONTROL_LINE: usize = 4096;
/// Default `max_payload` of nats-server (1 MiB).
pub const DEFAULT_MAX_PAYLOAD: usize = 1024 * 1024;

/// One operation sent by a client, borrowing its arguments and payload
/// from the read buffer: nothing is copied or allocated to parse it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientOp<'a> {
    /// `CONNECT {json}`: the raw JSON, decoded by the caller into [`crate::ConnectOptions`].
    Connect(&'a [u8]),
    /// `PUB` or `HPUB`. For `HPUB`, `header_len` is set and `payload` holds the
    /// header block followed by the body, exactly as on the wire.
    Pub {
        subject: &'a [u8],
        reply: Option<&'a [u8]>,
        header_len: Option<usize>,
        payload: &'a [u8],
    },
    /// `SUB subject [queue] sid`.
    Sub {
        subject: &'a [u8],
        queue: Option<&'a [u8]>,
        sid: &'a [u8],
    },
    /// `UNSUB sid [max_msgs]`.
    Unsub {
        sid: &'a [u8],
        max: Option<u64>,
    },
    Ping,
    Pong,
    /// `+OK` from a client is allowed and ignored by nats-server.
    Ok,
    /// `-ERR` from a client: nats-server closes the connection.
    Err(&'a [u8]),
    /// `INFO` from a client is allowed and ignored.
    Info(&'a [u8]),
}

/// Why a byte stream is not a valid client operation. Each is fatal for the
/// connection; [`ProtocolError::client_message`] says what nats-server tells
/// the client before closing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("unknown protocol operation")]
    UnknownOperation,
    #[error("maximum control line exceeded")]
    MaxControlLine,
    #[error("maximum payload violation: {size} vs {max}")]
    MaxPayload { size: usize, max: usize },
    #[error("malformed {op} arguments")]
    BadArguments { op: &'static str },
}

impl ProtocolError {
    /// The text of the `-ERR '…'` line nats-server sends for this error, or
    /// `None` where it closes the connection without a word.
    pub fn client_message(&self) -> Option<&'static str> {
        match self {
            ProtocolError::UnknownOperation => Some("Unknown Protocol Operation"),
            ProtocolError::MaxControlLine => Some("maximum control line exceeded"),
            ProtocolError::MaxPayload { .. } => Some("Maximum Payload Violation"),
            ProtocolError::BadArguments { .. } => None,
        }
    }
}

/// A `PUB`/`HPUB` whose control line has been read but whose payload has not
/// fully arrived yet. Positions are offsets from the start of the unconsumed
/// input, which the caller keeps in place until the operation completes.
#[derive(Debug, Clone, Copy)]
struct PendingPayload {
    subject: (usize, usize),
    reply: Option<(usize, usize)>,
    header_len: Option<usize>,
    /// Where the payload starts: just past the control line.
    start: usize,
    size: usize,
}

/// Parser state for one connection.
#[derive(Debug)]
pub struct Parser {
    pub max_control_line: usize,
    pub max_payload: usize,
    pending: Option<PendingPayload>,
}

impl Default for Parser {
    fn default() -> Self {
        Parser::new(DEFAULT_MAX_CONTROL_LINE, DEFAULT_MAX_PAYLOAD)
    }
}

/// Operation names a client may send, upper case.
const CLIENT_OPS: [&[u8]; 10] = [
    b"CONNECT", b"PUB", b"HPUB", b"SUB", b"UNSUB", b"PING", b"PONG", b"+OK", b"-ERR", b"INFO",
];

impl Parser {
    pub fn new(max_control_line: usize, max_payload: usize) -> Self {
        Parser {
            max_control_line,
            max_payload,
            pending: None,
        }
    }

    /// Parses the next complete operation at the front of `input`, returning
    /// it with the number of bytes it took. The caller drops those bytes
    /// once done with the operation, and calls again with what follows.
    ///
    /// `Ok(None)` means more bytes are needed: keep `input` as it is (no
    /// bytes consumed), append the next read, and call again; the parser
    /// remembers a control line it has already read.
    pub fn parse<'a>(&mut self, input: &'a [u8]) -> Result<Option<(ClientOp<'a>, usize)>, ProtocolError> {
        if let Some(p) = self.pending {
            return self.complete_pub(input, p);
        }
        let Some(ControlLine {
            op_end,
            args_start,
            line_end,
            consumed,
        }) = control_line(input, &CLIENT_OPS, self.max_control_line)?
        else {
            return Ok(None);
        };
        let op = &input[..op_end];
        let has_args = args_start < line_end;

        // PUB first: it is by far the most frequent operation.
        let kind = if op.eq_ignore_ascii_case(b"PUB") {
            OpKind::Pub
        } else if op.eq_ignore_ascii_case(b"HPUB") {
            OpKind::HPub
        } else if op.eq_ignore_ascii_case(b"PING") && !has_args {
            return Ok(Some((ClientOp::Ping, consumed)));
        } else if op.eq_ignore_ascii_case(b"PONG") && !has_args {
            return Ok(Some((ClientOp::Pong, consumed)));
        } else if op.eq_ignore_ascii_case(b"+OK") && !has_args {
            return Ok(Some((ClientOp::Ok, consumed)));
        } else if op.eq_ignore_ascii_case(b"SUB") {
            OpKind::Sub
        } else if op.eq_ignore_ascii_case(b"UNSUB") {
            OpKind::Unsub
        } else if op.eq_ignore_ascii_case(b"CONNECT") {
            OpKind::Connect
        } else if op.eq_ignore_ascii_case(b"INFO") {
            OpKind::Info
        } else if op.eq_ignore_ascii_case(b"-ERR") {
            OpKind::Err
        } else {
            return Err(ProtocolError::UnknownOperation);
        };
        // These need their arguments; nats-server's state machine rejects
        // the bare operation name as an unknown operation.
        if !has_args {
            return Err(ProtocolError::UnknownOperation);
        }

        let args = &input[args_start..line_end];
        let (a, n) = split_args(args);
        // Ranges of arguments, relative to `input`.
        let at = |i: usize| (args_start + a[i].0, args_start + a[i].1);
        let arg = |i: usize| &args[a[i].0..a[i].1];
        let op = match kind {
            OpKind::Connect => ClientOp::Connect(args),
            OpKind::Info => ClientOp::Info(args),
            OpKind::Err => ClientOp::Err(args),
            OpKind::Sub => match n {
                2 => ClientOp::Sub {
                    subject: arg(0),
                    queue: None,
                    sid: arg(1),
                },
                3 => ClientOp::Sub {
                    subject: arg(0),
                    queue: Some(arg(1)),
                    sid: arg(2),
                },
                _ => return Err(ProtocolError::BadArguments { op: "SUB" }),
            },
            OpKind::Unsub => match n {
                1 => ClientOp::Unsub {
                    sid: arg(0),
                    max: None,
                },
                2 => {
                    let max = parse_size(arg(1)).ok_or(ProtocolError::BadArguments { op: "UNSUB" })?;
                    ClientOp::Unsub {
                        sid: arg(0),
                        max: Some(max as u64),
                    }
                }
                _ => return Err(ProtocolError::BadArguments { op: "UNSUB" }),
            },
            OpKind::Pub | OpKind::HPub => {
                let size_of = |i: usize, op| parse_size(arg(i)).ok_or(ProtocolError::BadArguments { op });
                let pending = if kind == OpKind::Pub {
                    let (reply, size) = match n {
                        2 => (None, size_of(1, "PUB")?),
                        3 => (Some(at(1)), size_of(2, "PUB")?),
                        _ => return Err(ProtocolError::BadArguments { op: "PUB" }),
                    };
                    PendingPayload {
                        subject: at(0),
                        reply,
                        header_len: None,
                        start: consumed,
                        size,
                    }
                } else {
                    let (reply, hdr, size) = match n {
                        3 => (None, size_of(1, "HPUB")?, size_of(2, "HPUB")?),
                        4 => (Some(at(1)), size_of(2, "HPUB")?, size_of(3, "HPUB")?),
                        _ => return Err(ProtocolError::BadArguments { op: "HPUB" }),
                    };
                    if hdr > size {
                        return Err(ProtocolError::BadArguments { op: "HPUB" });
                    }
                    PendingPayload {
                        subject: at(0),
                        reply,
                        header_len: Some(hdr),
                        start: consumed,
                        size,
                    }
                };
                if pending.size > self.max_payload {
                    return Err(ProtocolError::MaxPayload {
                        size: pending.size,
                        max: self.max_payload,
                    });
                }
                return self.complete_pub(input, pending);
            }
        };
        Ok(Some((op, consumed)))
    }

    /// Returns the `PUB`/`HPUB` once its payload and `\r\n` are all in `input`.
    fn complete_pub<'a>(
        &mut self,
        input: &'a [u8],
        p: PendingPayload,
    ) -> Result<Option<(ClientOp<'a>, usize)>, ProtocolError> {
        let end = p.start + p.size;
        if input.len() < end + 2 {
            // A wrong terminator can be caught as soon as it arrives.
            if input.len() > end && input[end] != b'\r' {
                return Err(ProtocolError::UnknownOperation);
            }
            self.pending = Some(p);
            return Ok(None);
        }
        if input[end] != b'\r' || input[end + 1] != b'\n' {
            return Err(ProtocolError::UnknownOperation);
        }
        self.pending = None;
        let op = ClientOp::Pub {
            subject: &input[p.subject.0..p.subject.1],
            reply: p.reply.map(|(a, b)| &input[a..b]),
            header_len: p.header_len,
            payload: &input[p.start..end],
        };
        Ok(Some((op, end + 2)))
    }

    /// True while a payload is only partly received.
    pub fn awaiting_payload(&self) -> bool {
        self.pending.is_some()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpKind {
    Connect,
    Pub,
    HPub,
    Sub,
    Unsub,
    Info,
    Err,
}

pub(crate) fn skip_blanks(line: &[u8], mut i: usize) -> usize {
    while i < line.len() && (line[i] == b' ' || line[i] == b'\t') {
        i += 1;
    }
    i
}

/// A control line found at the front of the input: its operation name,
/// where its arguments start and end, and the bytes it takes with its line
/// end. Positions are offsets into the input.
pub(crate) struct ControlLine {
    pub op_end: usize,
    pub args_start: usize,
    pub line_end: usize,
    pub consumed: usize,
}

/// Finds the control line at the front of `input`: `Ok(None)` while its
/// line end has not arrived (after rejecting early what can never become
/// one of `ops`, or a line already too long).
#[inline(always)]
pub(crate) fn control_line(
    input: &[u8],
    ops: &[&[u8]],
    max_control_line: usize,
) -> Result<Option<ControlLine>, ProtocolError> {
    let Some(nl) = memchr::memchr(b'\n', input) else {
        check_partial_line(input, ops, max_control_line)?;
        return Ok(None);
    };
    let line_end = if nl > 0 && input[nl - 1] == b'\r' {
        nl - 1
    } else {
        nl
    };
    let line = &input[..line_end];
    let op_end = line
        .iter()
        .position(|&b| b == b' ' || b == b'\t')
        .unwrap_or(line.len());
    let args_start = skip_blanks(line, op_end);
    if line_end - args_start > max_control_line {
        return Err(ProtocolError::MaxControlLine);
    }
    Ok(Some(ControlLine {
        op_end,
        args_start,
        line_end,
        consumed: nl + 1,
    }))
}

/// With no newline yet, rejects early what can never become valid: an
/// operation name none of `ops` starts with, or a control line already too
/// long.
fn check_partial_line(buf: &[u8], ops: &[&[u8]], max_control_line: usize) -> Result<(), ProtocolError> {
    let op_end = buf.iter().position(|&b| b == b' ' || b == b'\t' || b == b'\r');
    let op = &buf[..op_end.unwrap_or(buf.len())];
    let known = ops.iter().any(|name| {
        if op_end.is_some() {
            name.eq_ignore_ascii_case(op)
        } else {
            op.len() <= name.len() && name[..op.len()].eq_ignore_ascii_case(op)
        }
    });
    if !known {
        return Err(ProtocolError::UnknownOperation);
    }
    if buf.len() > max_control_line + 8 {
        return Err(ProtocolError::MaxControlLine);
    }
    Ok(())
}

/// Splits arguments on runs of spaces and tabs. Returns up to five ranges and
/// the count; a count of five means "too many" for every operation.
fn split_args(args: &[u8]) -> ([(usize, usize); 5], usize) {
    let mut out = [(0, 0); 5];
    let mut n = 0;
    let mut i = 0;
    while i < args.len() && n < 5 {
        i = skip_blanks(args, i);
        if i >= args.len() {
            break;
        }
        let start = i;
        while i < args.len() && args[i] != b' ' && args[i] != b'\t' {
            i += 1;
        }
        out[n] = (start, i);
        n += 1;
    }
    (out, n)
}

/// Parses a non-negative decimal size as nats-server does: digits only.
pub(crate) fn parse_size(digits: &[u8]) -> Option<usize> {
    if digits.is_empty() || digits.len() > 12 {
        return None;
    }
    let mut n: usize = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        n = n * 10 + (d - b'0') as usize;
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(input: &[u8]) -> Result<Vec<ClientOp<'_>>, ProtocolError> {
        let mut p = Parser::default();
        let mut at = 0;
        let mut ops = Vec::new();
        while let Some((op, n)) = p.parse(&input[at..])? {
            ops.push(op);
            at += n;
        }
        Ok(ops)
    }

    #[test]
    fn parses_pub_with_and_without_reply() {
        let ops = parse_all(b"PUB foo 2\r\nhi\r\nPUB foo bar 3\r\nabc\r\n").unwrap();
        assert_eq!(
            ops,
            vec![
                ClientOp::Pub {
                    subject: &b"foo"[..],
                    reply: None,
                    header_len: None,
                    payload: &b"hi"[..],
                },
                ClientOp::Pub {
                    subject: &b"foo"[..],
                    reply: Some(&b"bar"[..]),
                    header_len: None,
                    payload: &b"abc"[..],
                },
            ]
        );
    }

    #[test]
    fn parses_hpub() {
        let ops = parse_all(b"HPUB a r 12 14\r\nNATS/1.0\r\n\r\nhi\r\n").unwrap();
        assert_eq!(
            ops,
            vec![ClientOp::Pub {
                subject: &b"a"[..],
                reply: Some(&b"r"[..]),
                header_len: Some(12),
                payload: &b"NATS/1.0\r\n\r\nhi"[..],
            }]
        );
    }

    #[test]
    fn ops_are_case_insensitive_and_accept_bare_newline() {
        let ops = parse_all(b"ping\r\nPiNg\nPONG\r\n+OK\r\nsub a  q\t1\r\nunsub 1 5\r\n").unwrap();
        assert_eq!(ops.len(), 6);
        assert_eq!(
            ops[4],
            ClientOp::Sub {
                subject: &b"a"[..],
                queue: Some(&b"q"[..]),
                sid: &b"1"[..],
            }
        );
        assert_eq!(
            ops[5],
            ClientOp::Unsub {
                sid: &b"1"[..],
                max: Some(5)
            }
        );
    }

    #[test]
    fn errors_match_reference_behaviour() {
        assert_eq!(parse_all(b"FOO\r\n"), Err(ProtocolError::UnknownOperation));
        assert_eq!(parse_all(b"X"), Err(ProtocolError::UnknownOperation));
        assert_eq!(parse_all(b"MSG a 1 1\r\n"), Err(ProtocolError::UnknownOperation));
        assert_eq!(parse_all(b"UNSUB\r\n"), Err(ProtocolError::UnknownOperation));
        assert_eq!(parse_all(b"PUB a 1\r\nxy"), Err(ProtocolError::UnknownOperation));
        assert_eq!(
            parse_all(b"PUB foo\r\n"),
            Err(ProtocolError::BadArguments { op: "PUB" })
        );
        assert_eq!(
            parse_all(b"PUB foo -1\r\n"),
            Err(ProtocolError::BadArguments { op: "PUB" })
        );
        assert_eq!(
            parse_all(b"SUB a b c d\r\n"),
            Err(ProtocolError::BadArguments { op: "SUB" })
        );
        assert_eq!(
            parse_all(b"PUB foo 2000000\r\n"),
            Err(ProtocolError::MaxPayload {
                size: 2_000_000,
                max: DEFAULT_MAX_PAYLOAD
            })
        );
        let long = [b"PUB ".as_slice(), &[b'a'; 5000]].concat();
        assert_eq!(parse_all(&long), Err(ProtocolError::MaxControlLine));
    }

    #[test]
    fn incomplete_input_waits() {
        let mut p = Parser::default();
        let mut buf = b"PUB foo 5\r\nhel".to_vec();
        assert_eq!(p.parse(&buf), Ok(None));
        assert!(p.awaiting_payload());
        buf.extend_from_slice(b"lo\r\n");
        assert!(matches!(p.parse(&buf), Ok(Some((ClientOp::Pub { .. }, 18)))));
    }
}
