//! Exports and imports between accounts, built from ordinary subscriptions:
//! a stream import is a subscription in the exporting account that
//! republishes into the importer; a service import is a subscription in the
//! importing account that forwards requests to the exporter, leaving behind
//! a one-off response forward so the reply finds its way back.

use crate::mapping::Mapped;
use std::sync::{Arc, Weak};

use bytes::Bytes;
use rand::Rng;

use super::Account;
use crate::options::ResponseType;
use crate::outlet::Producer;
use crate::subscription::{Message, Subscriber, Subscription};

/// A message crosses at most this many imports, so that accounts importing
/// from each other cannot loop forever.
const MAX_HOPS: u8 = 8;

/// Rewrites subjects from an import's source pattern to its local form.
#[derive(Debug, Clone)]
pub struct SubjectMapping {
    from: Vec<Vec<u8>>,
    to: Option<Vec<Vec<u8>>>,
    prefix: Option<Vec<u8>>,
}

fn tokens(subject: &str) -> Vec<Vec<u8>> {
    subject.split('.').map(|t| t.as_bytes().to_vec()).collect()
}

impl SubjectMapping {
    /// `to` replaces the subject (its `*`/`>` take the tokens matched by the
    /// source's wildcards, in order); `prefix` is put in front.
    pub fn new(from: &str, to: Option<&str>, prefix: Option<&str>) -> Self {
        SubjectMapping {
            from: tokens(from),
            to: to.map(tokens),
            prefix: prefix.map(|p| p.trim_end_matches('.').as_bytes().to_vec()),
        }
    }

    pub fn apply(&self, subject: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(subject.len() + 16);
        if let Some(prefix) = &self.prefix {
            out.extend_from_slice(prefix);
            out.push(b'.');
        }
        let Some(to) = &self.to else {
            out.extend_from_slice(subject);
            return out;
        };
        // Collect what each wildcard of the source matched.
        let subject_tokens: Vec<&[u8]> = subject.split(|&b| b == b'.').collect();
        let mut captures: Vec<Vec<u8>> = Vec::new();
        for (i, f) in self.from.iter().enumerate() {
            match f.as_slice() {
                b"*" => captures.push(subject_tokens.get(i).map(|t| t.to_vec()).unwrap_or_default()),
                b">" => captures.push(subject_tokens.get(i..).map(|t| t.join(&b'.')).unwrap_or_default()),
                _ => {}
            }
        }
        let mut next = captures.into_iter();
        for (i, t) in to.iter().enumerate() {
            if i > 0 {
                out.push(b'.');
            }
            match t.as_slice() {
                b"*" | b">" => out.extend_from_slice(&next.next().unwrap_or_default()),
                literal => out.extend_from_slice(literal),
            }
        }
        out
    }
}

/// Delivers `msg` under a new subject (and reply) into `account`.
fn republish(
    account: &Account,
    msg: &Message<'_>,
    subject: &[u8],
    reply: Option<&[u8]>,
    producer: &mut Producer,
) -> usize {
    let forwarded = Message {
        subject,
        reply,
        hops: msg.hops + 1,
        ..*msg
    };
    account.publish(&forwarded, None, producer)
}

/// The account at the other end of an import, unless the message has
/// crossed too many imports already (a loop) or that account is gone.
fn far_end(msg: &Message<'_>, account: &Weak<Account>) -> Option<Arc<Account>> {
    if msg.hops >= MAX_HOPS {
        return None;
    }
    account.upgrade()
}

/// Lives in the exporting account's sublist; republishes into the importer.
pub struct StreamImport {
    pub importer: Weak<Account>,
    pub mapping: SubjectMapping,
}

impl Subscriber for StreamImport {
    fn deliver(&self, _sub: &Subscription, msg: &Message<'_>, producer: &mut Producer) {
        let Some(importer) = far_end(msg, &self.importer) else {
            return;
        };
        let subject = self.mapping.apply(msg.subject);
        republish(&importer, msg, &subject, msg.reply, producer);
    }
}

/// Lives in the importing account's sublist on the local subject; forwards
/// requests to the exporter with a reply subject routed back here.
pub struct ServiceImport {
    pub importer: Weak<Account>,
    pub exporter: Weak<Account>,
    /// From the local subject to the exporter's.
    pub mapping: SubjectMapping,
    pub response_type: ResponseType,
}

impl Subscriber for ServiceImport {
    fn deliver(&self, _sub: &Subscription, msg: &Message<'_>, producer: &mut Producer) {
        let Some(exporter) = far_end(msg, &self.exporter) else {
            return;
        };
        let subject = self.mapping.apply(msg.subject);
        // As nats-server does, the exporting account's own mappings apply
        // to the request it receives.
        let subject = match exporter.map_subject(&subject) {
            Mapped::Unchanged => subject,
            Mapped::To(to) => to.into_bytes(),
            Mapped::Lost => return,
        };
        let Some(reply) = msg.reply else {
            republish(&exporter, msg, &subject, None, producer);
            return;
        };
        let route_subject = response_subject();
        let route = Arc::new(Subscription::new(
            Bytes::from(route_subject.clone()),
            None,
            Bytes::new(),
            Arc::new(ResponseForward {
                home: Arc::downgrade(&exporter),
                importer: self.importer.clone(),
                reply: Bytes::copy_from_slice(reply),
            }),
        ));
        if self.response_type == ResponseType::Singleton {
            route.set_max(1);
        }
        if exporter.subscribe(route.clone()).is_err() {
            return;
        }
        exporter.track_response(route);
        republish(&exporter, msg, &subject, Some(&route_subject), producer);
    }
}

/// `_R_.` plus random characters: a reply subject in the exporting account
/// that nothing else uses.
fn response_subject() -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    let mut s = b"_R_.".to_vec();
    for _ in 0..16 {
        s.push(ALPHABET[rng.gen_range(0..ALPHABET.len())]);
    }
    s
}

/// Lives in the exporting account on a `_R_.…` subject; carries responses
/// back to the requester's reply subject in the importing account.
pub struct ResponseForward {
    home: Weak<Account>,
    importer: Weak<Account>,
    reply: Bytes,
}

impl Subscriber for ResponseForward {
    fn deliver(&self, _sub: &Subscription, msg: &Message<'_>, producer: &mut Producer) {
        let Some(importer) = self.importer.upgrade() else {
            return;
        };
        republish(&importer, msg, &self.reply, None, producer);
    }

    fn expire(&self, sub: &Arc<Subscription>) {
        if let Some(home) = self.home.upgrade() {
            home.unsubscribe(sub);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_and_to_mappings() {
        assert_eq!(
            SubjectMapping::new("foo.>", None, Some("imp")).apply(b"foo.bar"),
            b"imp.foo.bar"
        );
        assert_eq!(
            SubjectMapping::new("svc", Some("local.svc"), None).apply(b"svc"),
            b"local.svc"
        );
        assert_eq!(
            SubjectMapping::new("orders.*.new", Some("eu.*.created"), None).apply(b"orders.42.new"),
            b"eu.42.created"
        );
        assert_eq!(
            SubjectMapping::new("a.>", Some("b.>"), None).apply(b"a.x.y"),
            b"b.x.y"
        );
    }
}
