//! Delivery of one published message to the subscriptions matching it in
//! one account: every plain subscriber, one member of each queue group.

use rand::Rng;

use crate::outlet::Producer;
use crate::sublist::MatchResult;
use crate::subscription::Message;

/// Delivers `msg` to `result`'s subscribers, but not back to a publisher
/// that asked for `echo: false` (its origin says so). Returns how many
/// subscriptions received the message; what they queued is left for
/// `producer` to write out.
pub fn deliver(result: &MatchResult, msg: &Message<'_>, producer: &mut Producer) -> usize {
    let mut delivered = 0;
    for sub in &result.psubs {
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
            let start = rng.gen_range(0..members.len());
            // Start at a random member; fall through to the next if that one
            // cannot take the message (echo off, or its limit is used up).
            for i in 0..members.len() {
                let sub = &members[(start + i) % members.len()];
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
    delivered
}
