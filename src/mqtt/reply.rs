//! MQTT 5 request/response bridged to NATS request/reply, both ways.
//!
//! An MQTT 5 request (a PUBLISH with a response topic and correlation data)
//! goes to NATS with a reply subject that carries both:
//! `$MQTT.rr.<response topic>.<correlation data>`, each base64url-encoded.
//! A NATS service answers there; the account's bridge subscriber publishes
//! the answer on the response topic's subject with the correlation data in
//! the `Nmqtt-Corr` header, so every MQTT 5 subscriber of that topic gets
//! it as an MQTT response. An MQTT 5 subscriber receiving a NATS request
//! sees its reply subject as the response topic, and answers by publishing
//! there.

use std::sync::{Arc, Weak};

use data_encoding::BASE64URL_NOPAD;

use crate::account::Account;
use crate::outlet::Producer;
use crate::subscription::{Message, Subscriber, Subscription};

pub const PREFIX: &str = "$MQTT.rr.";
/// The header carrying MQTT 5 correlation data through NATS.
pub const CORRELATION_HEADER: &str = "Nmqtt-Corr";

/// The reply subject for an MQTT 5 request.
pub fn reply_subject(response_topic: &str, correlation: Option<&[u8]>) -> String {
    let corr = match correlation {
        Some(c) => format!("c{}", BASE64URL_NOPAD.encode(c)),
        None => "n".to_string(),
    };
    format!(
        "{PREFIX}{}.{corr}",
        BASE64URL_NOPAD.encode(response_topic.as_bytes())
    )
}

/// The response topic and correlation data a bridged reply subject carries.
pub fn parse(subject: &[u8]) -> Option<(String, Option<Vec<u8>>)> {
    let rest = subject.strip_prefix(PREFIX.as_bytes())?;
    let mut tokens = rest.split(|&b| b == b'.');
    let topic = BASE64URL_NOPAD.decode(tokens.next()?).ok()?;
    let corr = tokens.next()?;
    if tokens.next().is_some() {
        return None;
    }
    let corr = match corr.split_first()? {
        (b'c', c) => Some(BASE64URL_NOPAD.decode(c).ok()?),
        (b'n', []) => None,
        _ => return None,
    };
    Some((String::from_utf8(topic).ok()?, corr))
}

/// The account's subscriber on `$MQTT.rr.>`: turns NATS replies into MQTT
/// responses on their response topic.
pub struct Bridge {
    pub account: Weak<Account>,
}

impl Bridge {
    pub fn install(account: &Arc<Account>) {
        let bridge: Arc<dyn Subscriber> = Arc::new(Bridge {
            account: Arc::downgrade(account),
        });
        account.subscribe_service(format!("{PREFIX}>"), bridge);
    }
}

impl Subscriber for Bridge {
    fn deliver(&self, _sub: &Subscription, msg: &Message<'_>, producer: &mut Producer) {
        let Some(account) = self.account.upgrade() else {
            return;
        };
        let Some((topic, corr)) = parse(msg.subject) else {
            return;
        };
        let Ok(subject) = super::topic::topic_to_subject(&topic) else {
            return;
        };
        let (headers, body) = match msg.header_len {
            Some(h) => msg.payload.split_at(h),
            None => (&[][..], msg.payload),
        };
        let mut block = if headers.is_empty() {
            b"NATS/1.0\r\n".to_vec()
        } else {
            headers[..headers.len() - 2].to_vec()
        };
        if let Some(c) = corr {
            block.extend_from_slice(
                format!("{CORRELATION_HEADER}: {}\r\n", BASE64URL_NOPAD.encode(&c)).as_bytes(),
            );
        }
        block.extend_from_slice(b"\r\n");
        account.publish_full(subject.as_bytes(), None, &block, body, producer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_subjects_round_trip() {
        let s = reply_subject("resp/me 1", Some(b"\x00\xffid"));
        assert!(s.starts_with(PREFIX) && !s[PREFIX.len()..].contains(['/', ' ', '*', '>']));
        assert_eq!(
            parse(s.as_bytes()),
            Some(("resp/me 1".to_string(), Some(b"\x00\xffid".to_vec())))
        );
        let s = reply_subject("r", None);
        assert_eq!(parse(s.as_bytes()), Some(("r".to_string(), None)));
        assert_eq!(parse(b"$MQTT.rr.x"), None);
        assert_eq!(parse(b"_INBOX.x.y"), None);
    }
}
