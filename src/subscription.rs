//! A subscription as the router sees it: subject, optional queue group, the
//! client's sid, an optional auto-unsubscribe limit, and whoever receives
//! its messages, whatever protocol they speak.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;

use crate::message::ConnKind;
pub use crate::message::Message;
use crate::outlet::Producer;

/// Anything that receives messages: a NATS connection today, MQTT sessions
/// and internal services later. The router does not know which.
pub trait Subscriber: Send + Sync {
    /// The connection id, used for `echo: false`; 0 for the server's own
    /// subscribers.
    fn client_id(&self) -> u64 {
        0
    }
    /// What kind of connection it is; the server's own subscribers are
    /// internal.
    fn kind(&self) -> ConnKind {
        ConnKind::Internal
    }
    /// Queue one message for this subscriber. A subscriber with a connection
    /// queues into its outlet and hands that to `producer`, which writes it
    /// out at the end of its round and waits if the subscriber fell behind.
    fn deliver(&self, sub: &Subscription, msg: &Message<'_>, producer: &mut Producer);
    /// `sub` reached its auto-unsubscribe limit and must be removed (the
    /// server's own subscribers set none).
    fn expire(&self, _sub: &Arc<Subscription>) {}
    /// A peer server (kind `Route`) takes one copy of a message for all
    /// its subscriptions that match (`sub` is one of them), with the queue
    /// groups it was chosen for; `deliver` is not called for it.
    fn deliver_routed(
        &self,
        _sub: &Subscription,
        _msg: &Message<'_>,
        _queues: &[&[u8]],
        _producer: &mut Producer,
    ) {
    }
}

pub struct Subscription {
    pub subject: Bytes,
    pub queue: Option<Bytes>,
    pub sid: Bytes,
    pub subscriber: Arc<dyn Subscriber>,
    /// Made for a peer server: the router gathers these per peer.
    pub routed: bool,
    /// Made for another cluster (a gateway): its members come after this
    /// cluster's, and its interest is neither counted nor announced here.
    pub other_cluster: bool,
    /// A peer's queue group stands for this many members there (its
    /// weight in `RS+`); 1 for everyone else.
    weight: AtomicU32,
    /// Auto-unsubscribe after this many messages; 0 means never.
    max: AtomicU64,
    delivered: AtomicU64,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("subject", &self.subject)
            .field("queue", &self.queue)
            .field("sid", &self.sid)
            .field("client", &self.subscriber.client_id())
            .finish()
    }
}

impl Subscription {
    pub fn new(subject: Bytes, queue: Option<Bytes>, sid: Bytes, subscriber: Arc<dyn Subscriber>) -> Self {
        let kind = subscriber.kind();
        Subscription {
            subject,
            queue,
            sid,
            routed: matches!(kind, ConnKind::Route | ConnKind::Leaf | ConnKind::Gateway),
            other_cluster: kind == ConnKind::Gateway,
            weight: AtomicU32::new(1),
            subscriber,
            max: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
        }
    }

    /// How many members it stands for in its queue group.
    pub fn weight(&self) -> u32 {
        self.weight.load(Ordering::Relaxed)
    }

    /// A peer announced a new member count for its queue group.
    pub fn set_weight(&self, weight: u32) {
        self.weight.store(weight.max(1), Ordering::Relaxed);
    }

    /// Messages delivered so far.
    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    /// Sets the auto-unsubscribe limit; returns true if it is already reached.
    pub fn set_max(&self, max: u64) -> bool {
        self.max.store(max, Ordering::Relaxed);
        max > 0 && self.delivered() >= max
    }

    pub fn max(&self) -> u64 {
        self.max.load(Ordering::Relaxed)
    }

    /// Delivers unless the auto-unsubscribe limit is used up; expires the
    /// subscription on its last message. Returns whether it delivered.
    pub fn try_deliver(self: &Arc<Self>, msg: &Message<'_>, producer: &mut Producer) -> bool {
        let max = self.max.load(Ordering::Relaxed);
        if max == 0 {
            self.delivered.fetch_add(1, Ordering::Relaxed);
            self.subscriber.deliver(self, msg, producer);
            return true;
        }
        let n = self.delivered.fetch_add(1, Ordering::Relaxed) + 1;
        if n > max {
            return false;
        }
        self.subscriber.deliver(self, msg, producer);
        if n == max {
            self.subscriber.expire(self);
        }
        true
    }
}
