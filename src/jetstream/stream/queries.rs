//! Reading a stream: messages by sequence and subject, subject counts,
//! deleted sequences.

use bytes::Bytes;
use serde_json::{json, Value};

use crate::jetstream::errors::ApiError;
use crate::jetstream::store::StoredMsg;

use super::*;

impl Stream {
    /// The first message at or after `seq` matching any of `filters`.
    pub fn next_matching_any(&self, seq: u64, filters: &[String]) -> Result<Option<StoredMsg>, ApiError> {
        let inner = self.inner.lock();
        let index = inner.store.index();
        let found = index.finder.next_matching(seq, &mut |s| {
            filters
                .iter()
                .any(|f| junction_nats::subject::matches(f.as_bytes(), s))
        });
        drop(index);
        match found {
            Some(seq) => inner.store.get(seq).map_err(ApiError::store_failed),
            None => Ok(None),
        }
    }

    /// Live messages at or after `seq` matching any of `filters`.
    pub fn count_matching_from(&self, seq: u64, filters: &[String]) -> u64 {
        let inner = self.inner.lock();
        let index = inner.store.index();
        index.finder.count_matching(seq, &mut |subj| {
            filters
                .iter()
                .any(|f| junction_nats::subject::matches(f.as_bytes(), subj))
        })
    }

    /// The first live and the last assigned sequence, and the highest
    /// sequence ever removed, under one lock.
    pub fn bounds(&self) -> (u64, u64, u64) {
        let inner = self.inner.lock();
        let state = inner.store.state();
        let removed = inner.store.index().removed_max;
        (state.first_seq, state.last_seq, removed)
    }

    /// The first live sequence stored at or after `time` (unix ns).
    pub fn first_at_or_after(&self, time: i64) -> Option<u64> {
        self.inner.lock().store.index().finder.first_at_or_after(time)
    }

    /// The newest sequence of each subject matching `filters` (all without).
    pub fn last_per_subject(&self, filters: &[String]) -> Vec<u64> {
        let inner = self.inner.lock();
        let index = inner.store.index();
        let subjects: Vec<Bytes> = index
            .subject_counts
            .map(|(s, _)| s.clone())
            .filter(|s| {
                filters.is_empty()
                    || filters
                        .iter()
                        .any(|f| junction_nats::subject::matches(f.as_bytes(), s))
            })
            .collect();
        subjects
            .iter()
            .filter_map(|subj| index.finder.last_matching(&mut |s| s == &subj[..]))
            .collect()
    }

    pub fn get(&self, seq: u64) -> Result<Option<StoredMsg>, ApiError> {
        self.inner.lock().store.get(seq).map_err(ApiError::store_failed)
    }

    /// The newest message on a subject matching `filter`.
    pub fn last_for(&self, filter: &str) -> Result<Option<StoredMsg>, ApiError> {
        let inner = self.inner.lock();
        let index = inner.store.index();
        let seq = index
            .finder
            .last_matching(&mut |s| junction_nats::subject::matches(filter.as_bytes(), s));
        drop(index);
        match seq {
            Some(seq) => inner.store.get(seq).map_err(ApiError::store_failed),
            None => Ok(None),
        }
    }

    /// The first message at or after `seq` on a subject matching `filter`.
    pub fn next_for(&self, seq: u64, filter: Option<&str>) -> Result<Option<StoredMsg>, ApiError> {
        let inner = self.inner.lock();
        let index = inner.store.index();
        let found = index.finder.next_matching(seq, &mut |s| {
            filter.is_none_or(|f| junction_nats::subject::matches(f.as_bytes(), s))
        });
        drop(index);
        match found {
            Some(seq) => inner.store.get(seq).map_err(ApiError::store_failed),
            None => Ok(None),
        }
    }

    /// Subject counts matching `filter`, for `subjects_filter` in a stream info.
    pub fn subjects(&self, filter: &str) -> serde_json::Map<String, Value> {
        let inner = self.inner.lock();
        let index = inner.store.index();
        index
            .subject_counts
            .filter(|(s, _)| junction_nats::subject::matches(filter.as_bytes(), s))
            .map(|(s, n)| (String::from_utf8_lossy(s).into_owned(), json!(n)))
            .collect()
    }

    /// Sequences between the first and the last that are gone
    /// (`deleted_details`), at most `DELETED_DETAILS_MAX` of them.
    pub fn deleted(&self) -> Vec<u64> {
        const DELETED_DETAILS_MAX: usize = 100_000;
        let inner = self.inner.lock();
        let state = inner.store.state();
        let index = inner.store.index();
        let mut out = Vec::new();
        let mut expect = state.first_seq;
        let mut at = state.first_seq;
        while let Some(seq) = index.finder.next_matching(at, &mut |_| true) {
            while expect < seq && out.len() < DELETED_DETAILS_MAX {
                out.push(expect);
                expect += 1;
            }
            expect = seq + 1;
            at = seq + 1;
            if out.len() >= DELETED_DETAILS_MAX {
                break;
            }
        }
        out
    }

    pub fn num_subjects(&self) -> usize {
        self.inner.lock().store.index().num_subjects
    }
}
