//! Delivery of one published message to the subscriptions matching it in
//! one account: every plain subscriber, one member of each queue group,
//! and one copy for each peer server with interest.
//!
//! A peer server (a route or a leaf node) has a subscription for each
//! subject and queue group it announced. However many of them match, it
//! gets the message once, with the queue groups it was chosen for, and the
//! peer delivers to its own members. A message that came from a route goes
//! to local subscribers and leaf nodes only (one hop), and to the queue
//! groups it names; one from a leaf node goes everywhere but back to it.
//!
//! A gateway (another cluster) takes only what was published in this
//! cluster by this server's own clients, leaf nodes and services: each
//! server sends its own messages to every other cluster. It gets a queue
//! group's message only when no member in this cluster could take it.

use rand::Rng;

use crate::message::ConnKind;
use crate::outlet::Producer;
use crate::sublist::MatchResult;
use crate::subscription::{Message, Subscription};

/// The peers a message goes to, each with the queue groups it was chosen
/// for there.
/// (Empty vectors allocate nothing: without peers this costs nothing.)
type RouteTargets<'r> = Vec<(&'r Subscription, Vec<&'r [u8]>)>;

/// Delivers `msg` to `result`'s subscribers, but not back to a publisher
/// that asked for `echo: false` (its origin says so). Returns how many
/// subscriptions received the message; what they queued is left for
/// `producer` to write out.
pub fn deliver(result: &MatchResult, msg: &Message<'_>, producer: &mut Producer) -> usize {
    let mut routes: RouteTargets<'_> = Vec::new();
    let mut delivered = 0;
    for sub in &result.psubs {
        if sub.routed {
            if takes(sub, msg) {
                add_target(&mut routes, sub, None);
            }
            continue;
        }
        if msg.origin.skips(sub.subscriber.client_id()) {
            continue;
        }
        if sub.try_deliver(msg, producer) {
            delivered += 1;
        }
    }
    if !result.qsubs.is_empty() {
        let mut rng = rand::thread_rng();
        for members in &result.qsubs {
            if let Some(wanted) = msg.queues {
                let queue = members[0].queue.as_deref().unwrap_or_default();
                if !wanted.split(|&b| b == b' ').any(|q| q == queue) {
                    continue;
                }
            }
            let start = pick(members, &mut rng);
            // Start at the chosen member; fall through to the next if that
            // one cannot take the message (echo off, its limit used up, or
            // a peer when the message came from one). Other clusters'
            // members come after all of this cluster's.
            let from_start = || (0..members.len()).map(|i| &members[(start + i) % members.len()]);
            let order = from_start()
                .filter(|m| !m.other_cluster)
                .chain(from_start().filter(|m| m.other_cluster));
            for sub in order {
                if sub.routed {
                    if !takes(sub, msg) {
                        continue;
                    }
                    add_target(&mut routes, sub, sub.queue.as_deref());
                    break;
                }
                if msg.origin.skips(sub.subscriber.client_id()) {
                    continue;
                }
                if sub.try_deliver(msg, producer) {
                    delivered += 1;
                    break;
                }
            }
        }
    }
    for (route, queues) in &routes {
        route.subscriber.deliver_routed(route, msg, queues, producer);
        delivered += 1;
    }
    delivered
}

/// Whether the peer server behind `sub` takes `msg`: not one that came
/// from a route to another route (one hop), never back to the leaf node it
/// came from.
fn takes(sub: &Subscription, msg: &Message<'_>) -> bool {
    let to = sub.subscriber.kind();
    match msg.origin.kind {
        ConnKind::Route => !matches!(to, ConnKind::Route | ConnKind::Gateway),
        ConnKind::Gateway => to != ConnKind::Gateway,
        ConnKind::Leaf => sub.subscriber.client_id() != msg.origin.conn,
        _ => true,
    }
}

/// A random member of a queue group, each peer's in proportion to the
/// members it announced, as nats-server chooses; another cluster's only
/// when this cluster has none.
fn pick(members: &[std::sync::Arc<Subscription>], rng: &mut impl Rng) -> usize {
    if !members.iter().any(|m| m.routed) {
        return rng.gen_range(0..members.len());
    }
    let local_only = members.iter().any(|m| !m.other_cluster);
    let weight = |m: &Subscription| {
        if local_only && m.other_cluster {
            0
        } else {
            u64::from(m.weight())
        }
    };
    let total: u64 = members.iter().map(|m| weight(m)).sum();
    let mut at = rng.gen_range(0..total.max(1));
    for (i, m) in members.iter().enumerate() {
        let w = weight(m);
        if at < w {
            return i;
        }
        at -= w;
    }
    0
}

/// Adds a peer's subscription to the targets: one entry per peer.
fn add_target<'r>(routes: &mut RouteTargets<'r>, sub: &'r Subscription, queue: Option<&'r [u8]>) {
    let peer = std::sync::Arc::as_ptr(&sub.subscriber) as *const ();
    let at = routes
        .iter()
        .position(|(s, _)| std::sync::Arc::as_ptr(&s.subscriber) as *const () == peer);
    let entry = match at {
        Some(i) => &mut routes[i],
        None => {
            routes.push((sub, Vec::new()));
            routes.last_mut().expect("just pushed")
        }
    };
    if let Some(q) = queue {
        entry.1.push(q);
    }
}
