//! Taking messages out: delete, purge, age limits, and syncing to disk.

use crate::jetstream::errors::ApiError;

use super::*;

impl Stream {
    pub fn delete_msg(&self, seq: u64) -> Result<bool, ApiError> {
        let mut inner = self.inner.lock();
        if inner.config.sealed {
            return Err(ApiError::sealed());
        }
        if inner.config.deny_delete {
            return Err(ApiError::msg_delete_failed("message delete not permitted"));
        }
        inner.store.remove(seq).map_err(ApiError::msg_delete_failed)
    }

    /// Removes a message its retention policy lets go (all its consumers
    /// are done with it), whatever `deny_delete` says; see
    /// `MsgStore::remove_settled`.
    pub fn delete_msg_internal(&self, seq: u64) -> bool {
        self.inner.lock().store.remove_settled(seq).unwrap_or(false)
    }

    /// Purges all, or what matches `filter`, below `seq`, or all but the
    /// newest `keep`. Returns how many messages went.
    pub fn purge(&self, filter: Option<&str>, seq: Option<u64>, keep: Option<u64>) -> Result<u64, ApiError> {
        let mut inner = self.inner.lock();
        if inner.config.sealed {
            return Err(ApiError::sealed());
        }
        if inner.config.deny_purge {
            return Err(ApiError::purge_failed("stream purge not permitted"));
        }
        let state = inner.store.state();
        let filtered = filter.filter(|f| !f.is_empty() && *f != ">");
        if filtered.is_none() {
            let below = match (seq, keep) {
                (Some(s), _) => s,
                (None, Some(k)) if k > 0 => {
                    if state.msgs <= k {
                        return Ok(0);
                    }
                    // The k newest live messages stay.
                    let mut kept = 0;
                    let mut cut = state.last_seq + 1;
                    let index = inner.store.index();
                    let mut at = state.last_seq;
                    while kept < k && at >= state.first_seq {
                        if index.finder.next_matching(at, &mut |_| true) == Some(at) {
                            kept += 1;
                            cut = at;
                        }
                        if at == 0 {
                            break;
                        }
                        at -= 1;
                    }
                    drop(index);
                    cut
                }
                _ => state.last_seq + 1,
            };
            return inner.store.purge_below(below).map_err(ApiError::purge_failed);
        }
        let filter = filtered.unwrap_or_default().to_string();
        let mut victims = Vec::new();
        {
            let index = inner.store.index();
            let mut at = state.first_seq;
            while let Some(s) = index.finder.next_matching(at, &mut |subj| {
                junction_nats::subject::matches(filter.as_bytes(), subj)
            }) {
                victims.push(s);
                at = s + 1;
            }
        }
        if let Some(below) = seq {
            victims.retain(|&s| s < below);
        }
        if let Some(k) = keep {
            let n = victims.len().saturating_sub(k as usize);
            victims.truncate(n);
        }
        let mut n = 0;
        for s in victims {
            if inner.store.remove(s).map_err(ApiError::purge_failed)? {
                n += 1;
            }
        }
        Ok(n)
    }

    /// Drops messages past `max_age`; called periodically.
    pub fn expire(&self) {
        self.inner.lock().enforce_limits(now_nanos(), None);
    }

    /// Flushes the store to disk.
    pub fn sync(&self) {
        // The fsync runs outside the lock, so publishers are not held up.
        let files = self.inner.lock().store.sync_handles();
        for file in files {
            if let Err(e) = file.sync_data() {
                tracing::error!(stream = %self.name, "JetStream: sync failed: {e}");
            }
        }
    }
}
