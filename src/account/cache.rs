//! A publisher's cache of match results: valid while the account's
//! interest generation is unchanged, owned by one reader task, so no lock.

use std::sync::Arc;

use bytes::Bytes;
use rustc_hash::FxHashMap;

use super::Account;
use crate::sublist::MatchResult;

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
