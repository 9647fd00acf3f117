//! JetStream deliveries between servers. A consumer delivers to the
//! subject its receivers subscribed to (a pull request's reply, a push
//! consumer's deliver subject), while clients see the message under its
//! stream subject. Between servers the message travels under the first,
//! and the stream subject rides at the end of the ack reply:
//! `$JS.ACK.<stream>.<consumer>.…@<subject>`, as nats-server writes it. The
//! server that delivers to the client takes it off again.

/// Where an ack reply starts: `$JS.ACK.`.
const ACK_PREFIX: &[u8] = b"$JS.ACK.";

/// The dots before the `@`: an ack reply has at least eight tokens after
/// `$JS` (nats-server's check).
const ACK_DOTS: usize = 8;

/// The ack reply `reply` with the stream subject `subject` after an `@`.
pub fn reply_with_subject(reply: &[u8], subject: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(reply.len() + 1 + subject.len());
    out.extend_from_slice(reply);
    out.push(b'@');
    out.extend_from_slice(subject);
    out
}

/// A reply that carries a stream subject, split: the stream subject and
/// the ack reply. `None` for any other reply.
pub fn subject_in_reply(reply: &[u8]) -> Option<(&[u8], &[u8])> {
    if !reply.starts_with(ACK_PREFIX) {
        return None;
    }
    let mut dots = 0;
    for (i, &b) in reply.iter().enumerate() {
        match b {
            b'.' => dots += 1,
            b'@' if dots >= ACK_DOTS => {
                let subject = &reply[i + 1..];
                return (!subject.is_empty()).then_some((subject, &reply[..i]));
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_subject_rides_at_the_end_of_the_ack_reply() {
        let ack = b"$JS.ACK.ORDERS.worker.1.5.5.1765000000000000000.0";
        let both = reply_with_subject(ack, b"orders.eu.1");
        assert_eq!(subject_in_reply(&both), Some((&b"orders.eu.1"[..], &ack[..])));
        assert_eq!(subject_in_reply(ack), None);
        // Not an ack reply, or too few tokens before the `@`.
        assert_eq!(subject_in_reply(b"_INBOX.x@y"), None);
        assert_eq!(subject_in_reply(b"$JS.ACK.A.b@c"), None);
        assert_eq!(subject_in_reply(&reply_with_subject(ack, b"")), None);
    }
}
