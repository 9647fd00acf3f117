//! What the consumer still wants: whether a new message is for it, whether
//! a message is done with, and how many are pending.

use std::sync::atomic::Ordering;

use crate::jetstream::stream::Stream;

use super::*;

impl Consumer {
    /// Whether this consumer's filters take messages on `subject`.
    pub(crate) fn takes(&self, subject: &[u8]) -> bool {
        takes_subject(&self.filters_copy.read(), subject)
    }

    /// Whether a message just stored is one this consumer will deliver:
    /// decided from the copies of its filters and next sequence when they
    /// say so, under its lock otherwise.
    pub(crate) fn wants_new(&self, seq: u64, subject: &[u8]) -> bool {
        if !takes_subject(&self.filters_copy.read(), subject) {
            return false;
        }
        // Not yet reached: nothing could have delivered or acked it.
        if seq >= self.next_copy.load(Ordering::Acquire) {
            return true;
        }
        !self.done_with(seq, subject)
    }

    /// Whether this consumer is done with `seq`: not interested in its
    /// subject, or delivered and acknowledged it.
    pub(crate) fn done_with(&self, seq: u64, subject: &[u8]) -> bool {
        let st = self.state.lock();
        Self::done_with_locked(&st, seq, subject)
    }

    /// `done_with` for several messages under one lock: clears `done[i]`
    /// for each message this consumer still needs.
    pub(crate) fn done_with_many<S: AsRef<[u8]>>(&self, msgs: &[(u64, S)], done: &mut [bool]) {
        let st = self.state.lock();
        for ((seq, subject), d) in msgs.iter().zip(done.iter_mut()) {
            if *d && !Self::done_with_locked(&st, *seq, subject.as_ref()) {
                *d = false;
            }
        }
    }

    pub(super) fn done_with_locked(st: &State, seq: u64, subject: &[u8]) -> bool {
        if !takes_subject(st.config.filters(), subject) {
            return true;
        }
        seq <= st.d.ack_floor_stream
            || (seq < st.d.next
                && !st.d.pending.contains_key(&seq)
                && !st.redeliver.contains_key(&seq)
                && !st.catch_up.contains(&seq))
    }

    /// Messages left to deliver (an estimate without filters: it does not
    /// subtract deleted messages).
    pub(super) fn num_pending(&self, stream: &Stream, st: &mut State) -> u64 {
        let covered = filters_cover(stream, &st.config);
        self.num_pending_with(stream, st, covered)
    }

    /// `num_pending`, told whether the filters take in the whole stream
    /// (worked out once per round rather than per message).
    pub(super) fn num_pending_with(&self, stream: &Stream, st: &mut State, covered: bool) -> u64 {
        let (first, last, removed_max) = stream.bounds();
        let from = st.d.next.max(first);
        if covered {
            return (last + 1).saturating_sub(from) + st.catch_up.len() as u64;
        }
        let count = match st.np {
            // Still right: only messages arrived since (counted now), and
            // nothing at or past where it starts was removed.
            Some(c) if c.from == from && (removed_max == c.removed_max || removed_max < c.from) => {
                let fresh = if last > c.upto {
                    stream.count_matching_from(c.upto + 1, st.config.filters())
                } else {
                    0
                };
                c.count + fresh
            }
            _ => stream.count_matching_from(from, st.config.filters()),
        };
        st.np = Some(PendingCount {
            from,
            upto: last.max(from.saturating_sub(1)),
            count,
            removed_max,
        });
        count + st.catch_up.len() as u64
    }
}

/// Whether a consumer with `filters` (none: all) takes messages on `subject`.
pub(super) fn takes_subject(filters: &[String], subject: &[u8]) -> bool {
    filters.is_empty()
        || filters
            .iter()
            .any(|f| junction_nats::subject::matches(f.as_bytes(), subject))
}
