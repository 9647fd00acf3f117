//! Delivery of one published message to the subscriptions matching it in
//! one account: every plain subscriber, one member of each queue group.

use std::sync::Arc;

use bytes::Bytes;
use rand::Rng;
use rustc_hash::FxHashMap;

use crate::account::Account;
use crate::outlet::Producer;
use crate::sublist::MatchResult;
use crate::subscription::Message;

/// Per-connection cache of match results, valid while the sublist's
/// generation is unchanged. Owned by one reader task, so no lock.
#[derive(Default)]
pub struct MatchCache {
    generation: u64,
    entries: FxHashMap<Bytes, Arc<MatchResult>>,
}

/// Entries kept before the cache is cleared; bounded so a client publishing
/// to ever-new subjects cannot grow it without limit.
const MATCH_CACHE_MAX: usize = 1024;

impl MatchCache {
    /// The match result for `subject`, from the cache when still current.
    pub fn lookup(&mut self, account: &Account, subject: &[u8]) -> Arc<MatchResult> {
        let generation = account.interest_generation();
        if generation != self.generation {
            self.entries.clear();
            self.generation = generation;
        } else if let Some(hit) = self.entries.get(subject) {
            return hit.clone();
        }
        let result = Arc::new(account.matches(subject));
        if self.entries.len() >= MATCH_CACHE_MAX {
            self.entries.clear();
        }
        // Copy the key out of the read buffer so the cache does not pin it.
        self.entries
            .insert(Bytes::copy_from_slice(subject), result.clone());
        result
    }
}

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
