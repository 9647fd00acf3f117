//! Encoders for the operations the server sends: `INFO`, `MSG`, `HMSG`,
//! `PING`, `PONG`, `+OK` and `-ERR`, appended to an outbound buffer.

use bytes::{BufMut, BytesMut};

use crate::message::ServerInfo;

pub const PING: &[u8] = b"PING\r\n";
pub const PONG: &[u8] = b"PONG\r\n";
pub const OK: &[u8] = b"+OK\r\n";
pub const ERR_PREFIX: &[u8] = b"-ERR '";

/// `INFO {json} \r\n` — nats-server leaves a space before the line end.
pub fn info(out: &mut BytesMut, info: &ServerInfo) {
    out.put_slice(b"INFO ");
    // Serializing plain strings and numbers cannot fail.
    if let Ok(json) = serde_json::to_vec(info) {
        out.put_slice(&json);
    }
    out.put_slice(b" \r\n");
}

/// `-ERR 'text'\r\n`.
pub fn err(out: &mut BytesMut, text: &str) {
    out.put_slice(ERR_PREFIX);
    out.put_slice(text.as_bytes());
    out.put_slice(b"'\r\n");
}

/// `MSG subject sid [reply] size\r\npayload\r\n`.
pub fn msg(out: &mut BytesMut, subject: &[u8], sid: &[u8], reply: Option<&[u8]>, payload: &[u8]) {
    let mut n = itoa::Buffer::new();
    let size = n.format(payload.len()).as_bytes();
    delivery(out, b"MSG ", subject, sid, reply, &[size], payload);
}

/// `HMSG subject sid [reply] header_size total_size\r\nheaders+payload\r\n`,
/// where `message` holds the header block followed by the body.
pub fn hmsg(
    out: &mut BytesMut,
    subject: &[u8],
    sid: &[u8],
    reply: Option<&[u8]>,
    header_len: usize,
    message: &[u8],
) {
    let mut h = itoa::Buffer::new();
    let mut t = itoa::Buffer::new();
    let sizes = [
        h.format(header_len).as_bytes(),
        t.format(message.len()).as_bytes(),
    ];
    delivery(out, b"HMSG ", subject, sid, reply, &sizes, message);
}

/// The shared shape of `MSG` and `HMSG`: operation, subject, sid, optional
/// reply, the sizes separated by spaces, then the body, in one reservation.
fn delivery(
    out: &mut BytesMut,
    op: &[u8],
    subject: &[u8],
    sid: &[u8],
    reply: Option<&[u8]>,
    sizes: &[&[u8]],
    body: &[u8],
) {
    let reply_len = reply.map_or(0, |r| r.len() + 1);
    let sizes_len: usize = sizes.iter().map(|s| s.len() + 1).sum();
    out.reserve(op.len() + subject.len() + sid.len() + reply_len + sizes_len + body.len() + 6);
    out.put_slice(op);
    out.put_slice(subject);
    out.put_u8(b' ');
    out.put_slice(sid);
    out.put_u8(b' ');
    if let Some(reply) = reply {
        out.put_slice(reply);
        out.put_u8(b' ');
    }
    for (i, size) in sizes.iter().enumerate() {
        if i > 0 {
            out.put_u8(b' ');
        }
        out.put_slice(size);
    }
    out.put_slice(b"\r\n");
    out.put_slice(body);
    out.put_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msg_bytes() {
        let mut b = BytesMut::new();
        msg(&mut b, b"foo.bar", b"1", Some(b"baz"), b"abc");
        msg(&mut b, b"a", b"22", None, b"");
        assert_eq!(&b[..], b"MSG foo.bar 1 baz 3\r\nabc\r\nMSG a 22 0\r\n\r\n");
    }

    #[test]
    fn hmsg_bytes() {
        let mut b = BytesMut::new();
        hmsg(&mut b, b"_INBOX.x", b"7", None, 16, b"NATS/1.0 503\r\n\r\n");
        assert_eq!(&b[..], b"HMSG _INBOX.x 7 16 16\r\nNATS/1.0 503\r\n\r\n\r\n");
    }

    #[test]
    fn err_bytes() {
        let mut b = BytesMut::new();
        err(&mut b, "Invalid Subject");
        assert_eq!(&b[..], b"-ERR 'Invalid Subject'\r\n");
    }
}
