//! The one way in: every message published into an account — by a NATS or
//! MQTT client, by JetStream, by a system service, across an import, and
//! later from a route or a leaf node — is admitted (mapped, then checked
//! against the publisher's permissions) and delivered here.

use std::borrow::Cow;

use super::Account;
use super::MatchCache;
use crate::mapping::Mapped;
use crate::message::Message;
use crate::outlet::Producer;
use crate::permissions::ClientPermissions;
use crate::router;

/// What the account makes of a subject a client publishes to.
#[derive(Debug, PartialEq, Eq)]
pub enum Admitted<'s> {
    /// Deliver to this subject: the one published, or its mapping.
    Subject(Cow<'s, [u8]>),
    /// The account's mappings send it nowhere: accepted, not delivered.
    Lost,
    /// Not a literal subject, and the publisher is pedantic.
    Invalid(Cow<'s, [u8]>),
    /// The publisher may not publish to the (mapped) subject.
    Denied(Cow<'s, [u8]>),
}

impl Account {
    /// Admits a client's publish to `subject`. The account's mappings come
    /// first: permissions, subscribers and streams all see the mapped
    /// subject. A `pedantic` publisher is held to literal subjects before
    /// its permissions are checked, as nats-server does.
    pub fn admit<'s>(
        &self,
        subject: &'s [u8],
        permissions: Option<&ClientPermissions>,
        pedantic: bool,
    ) -> Admitted<'s> {
        let subject = match self.map_subject(subject) {
            Mapped::Unchanged => Cow::Borrowed(subject),
            Mapped::To(to) => Cow::Owned(to.into_bytes()),
            Mapped::Lost => return Admitted::Lost,
        };
        if pedantic && !junction_nats::subject::is_valid_literal_subject(&subject) {
            return Admitted::Invalid(subject);
        }
        if permissions.is_some_and(|p| !p.may_publish(&subject)) {
            return Admitted::Denied(subject);
        }
        Admitted::Subject(subject)
    }

    /// Delivers `msg` to this account's subscribers; what they queued is
    /// left for `producer` to write out. A publisher that sends many
    /// messages keeps a `cache` of match results. Returns how many
    /// subscriptions received it.
    pub fn publish(
        &self,
        msg: &Message<'_>,
        cache: Option<&mut MatchCache>,
        producer: &mut Producer,
    ) -> usize {
        if let Some(n) = self.answer_mapped_reply(msg, producer) {
            return n;
        }
        let (cached, uncached);
        let subject = msg.routing_subject();
        let result = match cache {
            Some(cache) => {
                cached = cache.lookup(self, subject);
                &*cached
            }
            None => {
                uncached = self.matches(subject);
                &uncached
            }
        };
        if result.is_empty() {
            return 0;
        }
        router::deliver(result, msg, producer)
    }

    /// Publishes a message from the server itself (a system service's
    /// reply), and writes it out without waiting for anyone.
    pub fn publish_internal(&self, subject: &[u8], payload: &[u8]) -> usize {
        let mut producer = Producer::default();
        let n = self.publish_internal_with(subject, payload, &mut producer);
        producer.flush();
        n
    }

    /// Publishes from the server itself as part of `producer`'s round.
    pub fn publish_internal_with(&self, subject: &[u8], payload: &[u8], producer: &mut Producer) -> usize {
        self.publish(&Message::internal(subject, None, None, payload), None, producer)
    }

    /// Publishes from the server itself with a reply subject and a header
    /// block (empty for none), as part of `producer`'s round.
    pub fn publish_full(
        &self,
        subject: &[u8],
        reply: Option<&[u8]>,
        headers: &[u8],
        payload: &[u8],
        producer: &mut Producer,
    ) -> usize {
        // The header block and the payload, one body.
        let body = || -> (Option<usize>, Cow<'_, [u8]>) {
            if headers.is_empty() {
                (None, Cow::Borrowed(payload))
            } else {
                (Some(headers.len()), Cow::Owned([headers, payload].concat()))
            }
        };
        // An answer to a request another cluster mapped (JetStream's
        // deliveries to a pull request's reply, say) goes back mapped, as
        // `publish` sends it.
        if self.answers_mapped_replies() {
            let (header_len, body) = body();
            return self.publish(
                &Message::internal(subject, reply, header_len, &body),
                None,
                producer,
            );
        }
        // Matched first: most internal publishes (acks, flow control,
        // advisories) have no one listening, and then nothing is joined.
        let result = self.matches(subject);
        if result.is_empty() {
            return 0;
        }
        let (header_len, body) = body();
        router::deliver(
            &result,
            &Message::internal(subject, reply, header_len, &body),
            producer,
        )
    }
}
