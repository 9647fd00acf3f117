//! Sans-IO codec for the protocol between the servers of one cluster
//! (routes), in the dialect every nats-server since 2.2 speaks to a peer
//! that announces no connection pool: each interest and message line names
//! its account.
//!
//! - `RS+ account subject [queue weight]` and `RS- account subject [queue]`:
//!   the sender's first and last interest in a subject, and a queue group's
//!   member count (its weight) whenever it changes.
//! - `RMSG account subject [reply] size` and `HMSG … header_size size`; a
//!   message meant for queue groups lists them after `+ reply` or `|` (no
//!   reply).
//! - `LS+ origin account subject [queue weight]`, `LS- [origin] account
//!   subject [queue]` and `LMSG origin account subject … header_size size`:
//!   the same for interest and messages of leaf nodes, tagged with the
//!   cluster they came from. `LS-` carries the origin only between peers
//!   that both announced `lnocu`.
//! - `INFO`, `CONNECT`, `PING`, `PONG`, `+OK` and `-ERR` as between clients
//!   and servers.
//! - `A+ account` and `A- account` between gateways: the receiving cluster
//!   has (again) or has no interest at all in an account.
//!
//! Between 2.10+ servers a route may be dedicated to one account (`cluster
//! { accounts }`, and the system account by default): its `RS±`, `LS±`,
//! `RMSG`, `HMSG` and `LMSG` lines leave the account out, each else as above
//! ([`RouteParser::account_omitted`]). The other accounts spread over a
//! pool of routes, each line with its account as above.
//!
//! A leaf node connection speaks the same operations for one account, which
//! its lines leave out (the leaf dialect, [`RouteParser::leaf`]): `LS+
//! subject [queue weight]`, `LS- subject [queue]`, `LMSG subject [reply]
//! size` and `HMSG subject [reply] header_size size`, with queue groups as
//! in `RMSG`.
//!
//! Like the client parser, it finds whole operations in the read buffer and
//! borrows from it: nothing is copied to parse.

mod delivery;
mod handshake;

pub use delivery::{reply_with_subject, subject_in_reply};
pub use handshake::{
    GatewayInfo, RouteConnect, RouteInfo, GATEWAY_CMD_ALL_SUBS_COMPLETE, GATEWAY_CMD_ALL_SUBS_START,
    GATEWAY_CMD_GOSSIP,
};

use bytes::{BufMut, BytesMut};

use crate::parser::{control_line, parse_size, skip_blanks, ControlLine, ProtocolError};

/// Interest one server announces to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteInterest<'a> {
    pub account: &'a [u8],
    pub subject: &'a [u8],
    pub queue: Option<&'a [u8]>,
    /// Members of the queue group on the sender (0 for a plain subject, and
    /// in `RS-`/`LS-`).
    pub weight: u32,
}

/// A message routed from a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoutedMsg<'a> {
    /// The cluster a leaf node's message came from (`LMSG` only).
    pub origin: Option<&'a [u8]>,
    pub account: &'a [u8],
    pub subject: &'a [u8],
    pub reply: Option<&'a [u8]>,
    /// The queue groups the message is meant for, separated by spaces;
    /// empty when it is for plain subscriptions only. See [`RoutedMsg::queues`].
    pub queue_list: &'a [u8],
    /// Set for `HMSG` and `LMSG`: `payload` starts with a header block of
    /// this many bytes.
    pub header_len: Option<usize>,
    pub payload: &'a [u8],
}

impl<'a> RoutedMsg<'a> {
    /// The queue groups the message is meant for.
    pub fn queues(&self) -> impl Iterator<Item = &'a [u8]> {
        self.queue_list
            .split(|&b| b == b' ' || b == b'\t')
            .filter(|q| !q.is_empty())
    }
}

/// One operation a peer sends over a route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteOp<'a> {
    Info(&'a [u8]),
    Connect(&'a [u8]),
    Ping,
    Pong,
    Ok,
    Err(&'a [u8]),
    /// `RS+`.
    Sub(RemoteInterest<'a>),
    /// `RS-`.
    Unsub(RemoteInterest<'a>),
    /// `LS+`, with the cluster the leaf interest came from.
    LeafSub {
        origin: &'a [u8],
        interest: RemoteInterest<'a>,
    },
    /// `LS-`; the origin only from peers that announced `lnocu`.
    LeafUnsub {
        origin: Option<&'a [u8]>,
        interest: RemoteInterest<'a>,
    },
    /// `RMSG`, `HMSG` or `LMSG`.
    Msg(RoutedMsg<'a>),
    /// A gateway's `A+ account`.
    AccountSub(&'a [u8]),
    /// A gateway's `A- account`.
    AccountUnsub(&'a [u8]),
}

/// Operation names a peer may send, upper case.
/// Messages first: they are by far the most frequent.
const ROUTE_OPS: [&[u8]; 15] = [
    b"RMSG", b"HMSG", b"LMSG", b"RS+", b"RS-", b"LS+", b"LS-", b"PING", b"PONG", b"INFO", b"CONNECT", b"+OK",
    b"-ERR", b"A+", b"A-",
];

/// The most arguments a line may have: origin, account, subject, `+`,
/// reply, two sizes, and queue groups.
const MAX_ARGS: usize = 64;

/// A message line read, its payload not yet all there. Positions are
/// offsets from the start of the unconsumed input.
#[derive(Debug, Clone, Copy)]
struct Pending {
    origin: Option<(usize, usize)>,
    account: (usize, usize),
    subject: (usize, usize),
    reply: Option<(usize, usize)>,
    queues: (usize, usize),
    header_len: Option<usize>,
    start: usize,
    size: usize,
}

/// Parser state for one route.
#[derive(Debug)]
pub struct RouteParser {
    pub max_control_line: usize,
    pub max_payload: usize,
    /// The peer sends `LS-` with the origin cluster (it announced `lnocu`).
    pub leaf_unsub_origin: bool,
    /// The leaf dialect: no accounts, no origins (see the module's notes).
    pub leaf: bool,
    /// A route dedicated to one account: its lines name none (the
    /// operations leave `account` empty).
    pub account_omitted: bool,
    pending: Option<Pending>,
}

impl RouteParser {
    pub fn new(max_control_line: usize, max_payload: usize) -> Self {
        RouteParser {
            max_control_line,
            max_payload,
            leaf_unsub_origin: false,
            leaf: false,
            account_omitted: false,
            pending: None,
        }
    }

    /// A parser for a leaf node connection.
    pub fn leaf(max_control_line: usize, max_payload: usize) -> Self {
        RouteParser {
            leaf: true,
            ..RouteParser::new(max_control_line, max_payload)
        }
    }

    /// Parses the next complete operation at the front of `input`, as
    /// [`crate::Parser::parse`] does for clients: `Ok(None)` asks for more
    /// bytes with `input` kept as it is.
    pub fn parse<'a>(&mut self, input: &'a [u8]) -> Result<Option<(RouteOp<'a>, usize)>, ProtocolError> {
        if let Some(p) = self.pending {
            return self.complete(input, p);
        }
        let Some(ControlLine {
            op_end,
            args_start,
            line_end,
            consumed,
        }) = control_line(input, &ROUTE_OPS, self.max_control_line)?
        else {
            return Ok(None);
        };
        let line = &input[..line_end];
        let Some(op) = ROUTE_OPS
            .iter()
            .find(|name| name.eq_ignore_ascii_case(&line[..op_end]))
        else {
            return Err(ProtocolError::UnknownOperation);
        };
        let args = &input[args_start..line_end];
        let no_args = args.is_empty();
        let op = match *op {
            b"PING" if no_args => RouteOp::Ping,
            b"PONG" if no_args => RouteOp::Pong,
            b"+OK" if no_args => RouteOp::Ok,
            b"INFO" if !no_args => RouteOp::Info(args),
            b"CONNECT" if !no_args => RouteOp::Connect(args),
            b"-ERR" => RouteOp::Err(args),
            b"RS+" | b"RS-" if self.leaf => return Err(ProtocolError::UnknownOperation),
            b"LS+" | b"LS-" if self.leaf => leaf_interest(op, args)?,
            b"RS+" | b"RS-" | b"LS+" | b"LS-" => {
                interest(op, args, self.leaf_unsub_origin, self.account_omitted)?
            }
            b"A+" | b"A-" if self.leaf || no_args => return Err(ProtocolError::UnknownOperation),
            b"A+" => RouteOp::AccountSub(args),
            b"A-" => RouteOp::AccountUnsub(args),
            b"RMSG" if self.leaf => return Err(ProtocolError::UnknownOperation),
            b"RMSG" | b"HMSG" | b"LMSG" => {
                let pending = message_line(op, args, args_start, consumed, self.leaf, self.account_omitted)?;
                if pending.size > self.max_payload {
                    return Err(ProtocolError::MaxPayload {
                        size: pending.size,
                        max: self.max_payload,
                    });
                }
                return self.complete(input, pending);
            }
            _ => return Err(ProtocolError::UnknownOperation),
        };
        Ok(Some((op, consumed)))
    }

    /// The message once its payload and `\r\n` are all in `input`.
    fn complete<'a>(
        &mut self,
        input: &'a [u8],
        p: Pending,
    ) -> Result<Option<(RouteOp<'a>, usize)>, ProtocolError> {
        let end = p.start + p.size;
        if input.len() < end + 2 {
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
        let at = |(a, b): (usize, usize)| &input[a..b];
        let msg = RoutedMsg {
            origin: p.origin.map(at),
            account: at(p.account),
            subject: at(p.subject),
            reply: p.reply.map(at),
            queue_list: at(p.queues),
            header_len: p.header_len,
            payload: &input[p.start..end],
        };
        Ok(Some((RouteOp::Msg(msg), end + 2)))
    }

    /// True while a payload is only partly received.
    pub fn awaiting_payload(&self) -> bool {
        self.pending.is_some()
    }
}

/// The ranges of a line's space-separated arguments, on the stack.
struct Args {
    ranges: [(usize, usize); MAX_ARGS],
    n: usize,
}

impl std::ops::Deref for Args {
    type Target = [(usize, usize)];

    fn deref(&self) -> &[(usize, usize)] {
        &self.ranges[..self.n]
    }
}

fn split(args: &[u8]) -> Result<Args, ProtocolError> {
    let mut out = Args {
        ranges: [(0, 0); MAX_ARGS],
        n: 0,
    };
    let mut i = 0;
    loop {
        i = skip_blanks(args, i);
        if i >= args.len() {
            return Ok(out);
        }
        let start = i;
        while i < args.len() && args[i] != b' ' && args[i] != b'\t' {
            i += 1;
        }
        if out.n == MAX_ARGS {
            return Err(ProtocolError::MaxControlLine);
        }
        out.ranges[out.n] = (start, i);
        out.n += 1;
    }
}

/// `RS+`, `RS-`, `LS+` or `LS-`; without the account on a route dedicated
/// to one (`account_omitted`).
fn interest<'a>(
    op: &[u8],
    args: &'a [u8],
    leaf_unsub_origin: bool,
    account_omitted: bool,
) -> Result<RouteOp<'a>, ProtocolError> {
    let name = match op {
        b"RS+" => "RS+",
        b"RS-" => "RS-",
        b"LS+" => "LS+",
        _ => "LS-",
    };
    let bad = ProtocolError::BadArguments { op: name };
    let a = split(args)?;
    let arg = |i: usize| &args[a[i].0..a[i].1];
    let has_origin = name == "LS+" || (name == "LS-" && leaf_unsub_origin);
    let first = usize::from(has_origin);
    // Where the subject is: after the account, unless it is left out.
    let subject_at = first + usize::from(!account_omitted);
    let subscribing = name.ends_with('+');
    // [account] subject, then a queue (and its weight when subscribing).
    let queue_args = if subscribing { 2 } else { 1 };
    let queue = match a.len().checked_sub(subject_at + 1) {
        Some(0) => None,
        Some(n) if n == queue_args => Some(arg(subject_at + 1)),
        _ => return Err(bad),
    };
    let weight = match (queue, subscribing) {
        (Some(_), true) => {
            let w = parse_size(arg(subject_at + 2)).ok_or(bad.clone())?;
            u32::try_from(w).map_err(|_| bad)?
        }
        _ => 0,
    };
    let interest = RemoteInterest {
        account: if account_omitted { &[] } else { arg(first) },
        subject: arg(subject_at),
        queue,
        weight,
    };
    let origin = has_origin.then(|| arg(0));
    Ok(match name {
        "RS+" => RouteOp::Sub(interest),
        "RS-" => RouteOp::Unsub(interest),
        "LS+" => RouteOp::LeafSub {
            origin: origin.unwrap_or_default(),
            interest,
        },
        _ => RouteOp::LeafUnsub { origin, interest },
    })
}

/// A leaf connection's `LS+ subject [queue weight]` or `LS- subject [queue]`.
fn leaf_interest<'a>(op: &[u8], args: &'a [u8]) -> Result<RouteOp<'a>, ProtocolError> {
    let subscribing = op == b"LS+";
    let bad = ProtocolError::BadArguments {
        op: if subscribing { "LS+" } else { "LS-" },
    };
    let a = split(args)?;
    let arg = |i: usize| &args[a[i].0..a[i].1];
    let (queue, weight) = match (a.len(), subscribing) {
        (1, _) => (None, 0),
        (2, false) => (Some(arg(1)), 0),
        (3, true) => {
            let w = parse_size(arg(2)).ok_or(bad.clone())?;
            (Some(arg(1)), u32::try_from(w).map_err(|_| bad)?)
        }
        _ => return Err(bad),
    };
    let interest = RemoteInterest {
        account: &[],
        subject: arg(0),
        queue,
        weight,
    };
    Ok(if subscribing {
        RouteOp::LeafSub {
            origin: &[],
            interest,
        }
    } else {
        RouteOp::LeafUnsub {
            origin: None,
            interest,
        }
    })
}

/// The line of `RMSG`, `HMSG` or `LMSG`: positions relative to the input,
/// whose arguments start at `base` and whose payload at `start`. On a leaf
/// connection (`leaf`) there is neither origin nor account, and only
/// `HMSG` carries a header size; a route dedicated to one account leaves
/// out the account only (`account_omitted`).
fn message_line(
    op: &[u8],
    args: &[u8],
    base: usize,
    start: usize,
    leaf: bool,
    account_omitted: bool,
) -> Result<Pending, ProtocolError> {
    let name = match op {
        b"RMSG" => "RMSG",
        b"HMSG" => "HMSG",
        _ => "LMSG",
    };
    let bad = ProtocolError::BadArguments { op: name };
    let a = split(args)?;
    let has_origin = name == "LMSG" && !leaf;
    let has_header = name == "HMSG" || has_origin;
    // Before the reply or queues: [origin] [account] subject.
    let no_account = leaf || account_omitted;
    let fixed = 1 + usize::from(has_origin) + usize::from(!no_account);
    let sizes = 1 + usize::from(has_header);
    if a.len() < fixed + sizes {
        return Err(bad);
    }
    let pos = |i: usize| (base + a[i].0, base + a[i].1);
    let arg = |i: usize| &args[a[i].0..a[i].1];
    let middle = a.len() - fixed - sizes;
    let (reply, queues) = match middle {
        0 => (None, (base, base)),
        1 => (Some(pos(fixed)), (base, base)),
        _ => {
            let (reply, first_queue) = match arg(fixed) {
                b"+" => (Some(pos(fixed + 1)), fixed + 2),
                b"|" => (None, fixed + 1),
                _ => return Err(bad),
            };
            let last_queue = a.len() - sizes - 1;
            if first_queue > last_queue {
                return Err(bad);
            }
            (reply, (base + a[first_queue].0, base + a[last_queue].1))
        }
    };
    let size = parse_size(arg(a.len() - 1)).ok_or(bad.clone())?;
    let header_len = if has_header {
        let h = parse_size(arg(a.len() - 2)).ok_or(bad.clone())?;
        if h > size {
            return Err(bad);
        }
        // `LMSG` always carries a header size; 0 is a message without headers.
        Some(h).filter(|&h| h > 0 || name == "HMSG")
    } else {
        None
    };
    Ok(Pending {
        origin: has_origin.then(|| pos(0)),
        account: if no_account { (base, base) } else { pos(fixed - 2) },
        subject: pos(fixed - 1),
        reply,
        queues,
        header_len,
        start,
        size,
    })
}

/// `RS+ account subject [queue weight]\r\n`, or `LS+ origin …` when
/// `origin` is given.
pub fn sub(out: &mut BytesMut, origin: Option<&[u8]>, interest: &RemoteInterest<'_>) {
    interest_line(
        out,
        if origin.is_some() { b"LS+ " } else { b"RS+ " },
        origin,
        interest,
        true,
    );
}

/// `RS- account subject [queue]\r\n`, or `LS- [origin] …`: pass `leaf` for
/// `LS-`, with the origin for a peer that takes it.
pub fn unsub(out: &mut BytesMut, leaf: bool, origin: Option<&[u8]>, interest: &RemoteInterest<'_>) {
    interest_line(out, if leaf { b"LS- " } else { b"RS- " }, origin, interest, false);
}

fn interest_line(
    out: &mut BytesMut,
    op: &[u8],
    origin: Option<&[u8]>,
    interest: &RemoteInterest<'_>,
    weighted: bool,
) {
    out.put_slice(op);
    if let Some(origin) = origin {
        out.put_slice(origin);
        out.put_u8(b' ');
    }
    // A leaf connection's lines leave out the account (empty here).
    if !interest.account.is_empty() {
        out.put_slice(interest.account);
        out.put_u8(b' ');
    }
    out.put_slice(interest.subject);
    if let Some(queue) = interest.queue {
        out.put_u8(b' ');
        out.put_slice(queue);
        if weighted {
            out.put_u8(b' ');
            out.put_slice(itoa::Buffer::new().format(interest.weight).as_bytes());
        }
    }
    out.put_slice(b"\r\n");
}

/// `RMSG`, `HMSG` (when `msg.header_len` is set) or `LMSG` (when
/// `msg.origin` is set; it always carries a header size) with its payload.
pub fn msg(out: &mut BytesMut, msg: &RoutedMsg<'_>) {
    let op: &[u8] = match (msg.origin, msg.header_len) {
        (Some(_), _) => b"LMSG ",
        (None, Some(_)) => b"HMSG ",
        (None, None) => b"RMSG ",
    };
    out.reserve(
        op.len()
            + msg.origin.map_or(0, |o| o.len() + 1)
            + msg.account.len()
            + msg.subject.len()
            + msg.reply.map_or(0, |r| r.len() + 3)
            + msg.queue_list.len()
            + msg.payload.len()
            + 32,
    );
    out.put_slice(op);
    if let Some(origin) = msg.origin {
        out.put_slice(origin);
        out.put_u8(b' ');
    }
    // A route dedicated to one account leaves it out (empty here).
    if !msg.account.is_empty() {
        out.put_slice(msg.account);
        out.put_u8(b' ');
    }
    out.put_slice(msg.subject);
    out.put_u8(b' ');
    reply_and_queues(out, msg);
    let mut n = itoa::Buffer::new();
    if msg.origin.is_some() || msg.header_len.is_some() {
        out.put_slice(n.format(msg.header_len.unwrap_or(0)).as_bytes());
        out.put_u8(b' ');
    }
    out.put_slice(n.format(msg.payload.len()).as_bytes());
    out.put_slice(b"\r\n");
    out.put_slice(msg.payload);
    out.put_slice(b"\r\n");
}

/// `reply `, `+ reply queues `, `| queues ` or nothing.
fn reply_and_queues(out: &mut BytesMut, msg: &RoutedMsg<'_>) {
    match (msg.reply, msg.queue_list.is_empty()) {
        (Some(reply), true) => {
            out.put_slice(reply);
            out.put_u8(b' ');
        }
        (Some(reply), false) => {
            out.put_slice(b"+ ");
            out.put_slice(reply);
            out.put_u8(b' ');
            out.put_slice(msg.queue_list);
            out.put_u8(b' ');
        }
        (None, false) => {
            out.put_slice(b"| ");
            out.put_slice(msg.queue_list);
            out.put_u8(b' ');
        }
        (None, true) => {}
    }
}

/// A gateway's `A+ account\r\n` (`subscribing`) or `A- account\r\n`.
pub fn account_interest(out: &mut BytesMut, subscribing: bool, account: &[u8]) {
    out.put_slice(if subscribing { b"A+ " } else { b"A- " });
    out.put_slice(account);
    out.put_slice(b"\r\n");
}

/// A leaf connection's `LS+ subject [queue weight]\r\n`.
pub fn leaf_sub(out: &mut BytesMut, interest: &RemoteInterest<'_>) {
    interest_line(out, b"LS+ ", None, interest, true);
}

/// A leaf connection's `LS- subject [queue]\r\n`.
pub fn leaf_unsub(out: &mut BytesMut, interest: &RemoteInterest<'_>) {
    interest_line(out, b"LS- ", None, interest, false);
}

/// A leaf connection's `LMSG subject …` or, with headers, `HMSG subject …`
/// (`msg.account` and `msg.origin` are not written).
pub fn leaf_msg(out: &mut BytesMut, msg: &RoutedMsg<'_>) {
    out.reserve(
        msg.subject.len()
            + msg.reply.map_or(0, |r| r.len() + 3)
            + msg.queue_list.len()
            + msg.payload.len()
            + 32,
    );
    out.put_slice(if msg.header_len.is_some() {
        b"HMSG "
    } else {
        b"LMSG "
    });
    out.put_slice(msg.subject);
    out.put_u8(b' ');
    reply_and_queues(out, msg);
    let mut n = itoa::Buffer::new();
    if let Some(h) = msg.header_len {
        out.put_slice(n.format(h).as_bytes());
        out.put_u8(b' ');
    }
    out.put_slice(n.format(msg.payload.len()).as_bytes());
    out.put_slice(b"\r\n");
    out.put_slice(msg.payload);
    out.put_slice(b"\r\n");
}

#[cfg(test)]
mod tests;
