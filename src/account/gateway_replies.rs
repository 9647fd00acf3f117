//! Replies mapped to their origin server by another cluster. A request
//! that crosses a gateway soon after its requester subscribed carries its
//! reply as `_GR_.<cluster>.<server>.<reply>`: the interest in `<reply>`
//! may not have reached this cluster yet. Clients here see `<reply>`; for
//! a short while, what they publish to it goes straight back to that
//! cluster, under the mapped subject, as nats-server does.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;
use rustc_hash::FxHashMap;

use super::Account;
use crate::message::{ConnKind, Message};
use crate::outlet::Producer;

/// How long a mapping holds: by then the requester's interest has reached
/// every cluster (nats-server's `recSubExp`).
const MAPPING_TTL: Duration = Duration::from_secs(2);

/// Reply subjects and the mapped subjects they go back to.
#[derive(Default)]
pub(super) struct GatewayReplies {
    /// Set while `map` holds any: publishers check this first.
    active: AtomicBool,
    map: Mutex<FxHashMap<Bytes, (Bytes, Instant)>>,
}

impl Account {
    /// A message with the mapped reply `routed` (whose plain form is
    /// `reply`) is being delivered here: answers to `reply` go back to
    /// `routed` for a while.
    pub fn track_gateway_reply(&self, reply: &[u8], routed: &[u8]) {
        let now = Instant::now();
        let mut map = self.gateway_replies.map.lock();
        map.retain(|_, (_, since)| now.duration_since(*since) < MAPPING_TTL);
        map.insert(
            Bytes::copy_from_slice(reply),
            (Bytes::copy_from_slice(routed), now),
        );
        self.gateway_replies.active.store(true, Ordering::Release);
    }

    /// Whether any reply mapped by another cluster is tracked here.
    pub(super) fn answers_mapped_replies(&self) -> bool {
        self.gateway_replies.active.load(Ordering::Acquire)
    }

    /// The subject that reaches the requester of a reply another cluster
    /// mapped: the mapped one while it is tracked, else `reply` itself.
    /// For answers that come later than a mapping lasts (JetStream's
    /// deliveries to a pull request).
    pub fn reply_route(&self, reply: &[u8]) -> Bytes {
        if self.answers_mapped_replies() {
            if let Some(routed) = self.gateway_reply(reply) {
                return routed;
            }
        }
        Bytes::copy_from_slice(reply)
    }

    /// The mapped subject a message published to `subject` goes to, if a
    /// recent request from another cluster asked for it.
    fn gateway_reply(&self, subject: &[u8]) -> Option<Bytes> {
        let mut map = self.gateway_replies.map.lock();
        let now = Instant::now();
        let found = match map.get(subject) {
            Some((routed, since)) if now.duration_since(*since) < MAPPING_TTL => Some(routed.clone()),
            _ => None,
        };
        if found.is_none() {
            map.retain(|_, (_, since)| now.duration_since(*since) < MAPPING_TTL);
            if map.is_empty() {
                self.gateway_replies.active.store(false, Ordering::Release);
            }
        }
        found
    }

    /// Sends `msg` back to the cluster that mapped its subject, when it is
    /// an answer published here to such a reply. Returns how many got it,
    /// or `None` for a message that is not one.
    pub(super) fn answer_mapped_reply(&self, msg: &Message<'_>, producer: &mut Producer) -> Option<usize> {
        if !self.gateway_replies.active.load(Ordering::Acquire)
            || !matches!(
                msg.origin.kind,
                ConnKind::Client | ConnKind::Mqtt | ConnKind::Internal
            )
        {
            return None;
        }
        let routed = self.gateway_reply(msg.routing_subject())?;
        let mut mapped = *msg;
        mapped.set_routing_subject(&routed);
        // Only to the gateway of that cluster (its interest in `_GR_.<its
        // hash>.>`): no one here listens to mapped subjects.
        let result = self.matches(&routed);
        let mut delivered = 0;
        for sub in result.psubs.iter().filter(|s| s.other_cluster) {
            sub.subscriber.deliver_routed(sub, &mapped, &[], producer);
            delivered += 1;
        }
        Some(delivered)
    }
}
