//! A message coming into a stream: its `Nats-*` expectations, de-duplication,
//! rollups and limits, decided and stored, then handed to the consumers
//! and republished.

use std::sync::Weak;

use bytes::Bytes;
use serde_json::json;

use crate::jetstream::config::{Discard, Retention};
use crate::jetstream::errors::ApiError;
use crate::jetstream::headers;
use crate::jetstream::transform::Transform;
use crate::outlet::Producer;
use crate::subscription::Message;

use super::decide::Decision;
use super::*;

impl Stream {
    /// Stores one captured publish; `Ok((seq, duplicate))` or why not.
    /// `answer` gets the stream's `no_ack` and `republish`, read under the
    /// same lock.
    pub(super) fn store(
        &self,
        msg: &Message<'_>,
        answer: &mut Option<Answer>,
        producer: &mut Producer,
        deferred: bool,
    ) -> Result<(u64, bool), Refusal> {
        let now = now_nanos();
        let mut inner = self.inner.lock();
        *answer = Some((inner.config.no_ack, inner.republish.clone()));
        let transformed = inner
            .transform
            .as_ref()
            .and_then(|t| t.apply(&String::from_utf8_lossy(msg.subject)));
        let stored_msg;
        let msg = match &transformed {
            Some(subject) => {
                stored_msg = Message {
                    subject: subject.as_bytes(),
                    ..*msg
                };
                &stored_msg
            }
            None => msg,
        };
        // Housekeeping first: de-duplication looks at the window as of now.
        inner.forget_old_msg_ids(now);
        // Decided first, on the stream as it is; applied only if accepted.
        let append = match inner.decide(&self.name, msg)? {
            Decision::Duplicate(seq) => return Ok((seq, true)),
            Decision::Append(append) => append,
        };
        let seq = inner.apply(append, now, deferred)?;
        let interest = inner.config.retention == Retention::Interest;
        drop(inner);
        let consumers = self.followers();
        // An interest stream keeps a message only while a consumer wants it.
        if interest && !consumers.iter().any(|c| c.wants_new(seq, msg.subject)) {
            self.delete_msg_internal(seq);
        } else {
            let out = Outgoing {
                seq,
                subject: msg.subject,
                header_len: msg.header_len,
                body: msg.payload,
                time: now,
            };
            // Sent from here where a consumer can; its task is woken only
            // when it has to take the message itself.
            for c in &consumers {
                if !c.deliver_new(self, &out, producer) && c.takes(msg.subject) {
                    c.stored_new();
                }
            }
        }
        self.notify_watchers(seq);
        Ok((seq, false))
    }

    /// Stores one publish as if the stream had captured it (limits,
    /// expectations, de-duplication, republish): `Ok((seq, duplicate))`, or
    /// why not. The MQTT session stores its QoS 1 and 2 messages this way.
    pub fn accept(&self, msg: &Message<'_>, producer: &mut Producer) -> Result<(u64, bool), ApiError> {
        self.accept_and_no_ack(msg, producer, false).0
    }

    /// `accept`, but the message may wait in memory to be written with
    /// those that follow it: the caller calls `flush_held` before it
    /// tells the publisher that it is stored.
    pub fn accept_deferred(
        &self,
        msg: &Message<'_>,
        producer: &mut Producer,
    ) -> Result<(u64, bool), ApiError> {
        self.accept_and_no_ack(msg, producer, true).0
    }

    /// `accept`, and the stream's `no_ack`, read under the same lock.
    pub(super) fn accept_and_no_ack(
        &self,
        msg: &Message<'_>,
        producer: &mut Producer,
        deferred: bool,
    ) -> (Result<(u64, bool), ApiError>, bool) {
        // Limits are checked before the stream's lock is taken: counting
        // usage looks at every stream of the account, this one included.
        let quota = self.quota.read().as_ref().and_then(Weak::upgrade);
        let within_quota = match quota {
            Some(acc) => {
                let storage = self.with_config(|c| c.storage);
                let size = crate::jetstream::store::record_size(msg.subject.len(), 0, msg.payload.len());
                acc.check_quota(storage, size)
            }
            None => Ok(()),
        };
        let mut answer = None;
        let result = within_quota.and_then(|()| self.store(msg, &mut answer, producer, deferred));
        // Refused before storing: read them now.
        let (no_ack, republish) = answer.unwrap_or_else(|| {
            let inner = self.inner.lock();
            (inner.config.no_ack, inner.republish.clone())
        });
        if let (Ok((seq, false)), Some(republish)) = (&result, republish) {
            self.republish(*seq, &republish, producer);
        }
        (result, no_ack)
    }

    /// A captured publish: store it and answer the publisher.
    pub(super) fn ingest(&self, msg: &Message<'_>, producer: &mut Producer) {
        let (result, no_ack) = self.accept_and_no_ack(msg, producer, false);
        let Some(reply) = msg.reply else {
            if let Err(e) = result {
                tracing::debug!(stream = %self.name, "JetStream: publish not stored: {}", e.description);
            }
            return;
        };
        if no_ack {
            return;
        }
        let payload = match result {
            Ok((seq, duplicate)) => {
                let mut ack = Vec::with_capacity(self.ack_head.len() + 40);
                ack.extend_from_slice(&self.ack_head);
                ack.extend_from_slice(seq.to_string().as_bytes());
                if duplicate {
                    ack.extend_from_slice(b",\"duplicate\": true");
                }
                ack.push(b'}');
                ack
            }
            Err(e) => serde_json::to_vec(&json!({"error": e})).unwrap_or_default(),
        };
        if let Some(account) = self.account.upgrade() {
            account.publish_internal_with(reply, &payload, producer);
        }
    }

    /// `republish`: sends a stored message on to its destination subject,
    /// with where it came from in headers.
    pub(super) fn republish(&self, seq: u64, to: &(Transform, bool), producer: &mut Producer) {
        let (republish, headers_only) = (&to.0, to.1);
        let Ok(Some(m)) = self.get(seq) else { return };
        let subject = String::from_utf8_lossy(&m.subject).into_owned();
        let Some(dest) = republish.apply(&subject) else {
            return;
        };
        let Some(account) = self.account.upgrade() else {
            return;
        };
        let mut pairs = vec![
            ("Nats-Stream", self.name.clone()),
            ("Nats-Subject", subject),
            ("Nats-Sequence", seq.to_string()),
            ("Nats-Last-Sequence", seq.saturating_sub(1).to_string()),
        ];
        if headers_only {
            pairs.push(("Nats-Msg-Size", m.payload.len().to_string()));
        }
        let extra = headers::pairs(&m.headers);
        for (k, v) in &extra {
            pairs.push((k.as_str(), v.clone()));
        }
        let block = headers::block(&pairs);
        let payload: &[u8] = if headers_only { b"" } else { &m.payload };
        account.publish_full(dest.as_bytes(), None, &block, payload, producer);
    }

    /// Tells the consumers, and any mirror or source following this stream,
    /// that `seq` was stored. The watch notifies only when someone watches.
    pub(super) fn announce(&self, seq: u64) {
        for c in self.consumers.read().values() {
            c.stored_new();
        }
        self.notify_watchers(seq);
    }

    /// Tells whoever waits for the stream's last sequence (sources,
    /// mirrors, `appended` watchers) that `seq` is stored.
    pub(super) fn notify_watchers(&self, seq: u64) {
        let watched = self.appended.receiver_count() > 0;
        self.appended.send_if_modified(|v| {
            *v = seq;
            watched
        });
    }

    /// Interest retention: drops `seq` once every consumer is done with it.
    pub fn drop_if_no_interest(&self, seq: u64) {
        self.drop_if_no_interest_many(&[seq]);
    }

    /// Interest and work-queue retention: drops every message up to `upto`
    /// that no consumer still wants.
    pub(crate) fn drop_uninteresting(&self, upto: u64) {
        let mut seqs = Vec::new();
        {
            let inner = self.inner.lock();
            let index = inner.store.index();
            let mut at = 0;
            while let Some(seq) = index.finder.next_matching(at, &mut |_| true) {
                if seq > upto {
                    break;
                }
                seqs.push(seq);
                at = seq + 1;
            }
        }
        self.drop_if_no_interest_many(&seqs);
    }

    /// `drop_if_no_interest` for several messages, taking each lock once
    /// rather than once a message: acks come in batches.
    pub fn drop_if_no_interest_many(&self, seqs: &[u64]) {
        let subjects: Vec<(u64, _)> = {
            let inner = self.inner.lock();
            let index = inner.store.index();
            seqs.iter()
                .filter_map(|&seq| index.finder.subject_of(seq).map(|s| (seq, s)))
                .collect()
        };
        if subjects.is_empty() {
            return;
        }
        let mut done = vec![true; subjects.len()];
        for c in self.followers() {
            c.done_with_many(&subjects, &mut done);
        }
        if done.iter().any(|&d| d) {
            let mut inner = self.inner.lock();
            for ((seq, _), _) in subjects.iter().zip(&done).filter(|(_, &d)| d) {
                let _ = inner.store.remove_settled(*seq);
            }
        }
    }

    /// Writes what the store held back: removals of settled messages, and
    /// what `accept_deferred` stored (before its publisher hears that its
    /// messages are stored).
    pub fn flush_held(&self) -> Result<(), ApiError> {
        self.inner
            .lock()
            .store
            .flush_held()
            .map_err(ApiError::store_failed)
    }
}

impl ApiError {
    pub(super) fn new_rollup(err: impl std::fmt::Display) -> Self {
        ApiError {
            code: 500,
            err_code: 10111,
            description: err.to_string(),
        }
    }
}

impl Inner {
    pub(super) fn forget_old_msg_ids(&mut self, now: i64) {
        let window = self.config.duplicate_window;
        while let Some((at, _)) = self.msg_id_order.front() {
            if now - at < window {
                break;
            }
            if let Some((_, id)) = self.msg_id_order.pop_front() {
                self.msg_ids.remove(&id);
            }
        }
    }

    /// With `discard: new`, refuses what would pass a limit.
    pub(super) fn check_discard_new(&self, subject: &[u8], size: usize) -> Result<(), Refusal> {
        let cfg = &self.config;
        if cfg.discard != Discard::New {
            return Ok(());
        }
        let state = self.store.state();
        if cfg.max_msgs > 0 && state.msgs >= cfg.max_msgs as u64 {
            return Err(ApiError::store_failed("maximum messages exceeded"));
        }
        if cfg.max_bytes > 0 && state.bytes + size as u64 > cfg.max_bytes as u64 {
            return Err(ApiError::store_failed("maximum bytes exceeded"));
        }
        if cfg.discard_new_per_subject
            && cfg.max_msgs_per_subject > 0
            && self.store.index().finder.count_subject(subject) >= cfg.max_msgs_per_subject as u64
        {
            return Err(ApiError::store_failed("maximum messages per subject exceeded"));
        }
        Ok(())
    }

    /// Drops the oldest messages past `max_msgs`, `max_bytes`,
    /// `max_msgs_per_subject` and `max_age`. After a store, `stored` names
    /// its subject: the only one that can have gone over its limit.
    pub(super) fn enforce_limits(&mut self, now: i64, stored: Option<&[u8]>) {
        let cfg = &self.config;
        let (max_age, per_subject, discard, max_msgs, max_bytes) = (
            cfg.max_age,
            cfg.max_msgs_per_subject,
            cfg.discard,
            cfg.max_msgs,
            cfg.max_bytes,
        );
        if max_age > 0 {
            let old = self.store.index().finder.older_than(now - max_age);
            for seq in old {
                let _ = self.store.remove(seq);
            }
        }
        if per_subject > 0 {
            let limit = per_subject as u64;
            let over: Vec<(Bytes, u64)> = match stored {
                Some(subject) => {
                    let n = self.store.index().finder.count_subject(subject);
                    if n > limit {
                        vec![(Bytes::copy_from_slice(subject), n - limit)]
                    } else {
                        Vec::new()
                    }
                }
                None => self
                    .store
                    .index()
                    .subject_counts
                    .filter(|(_, n)| *n > limit)
                    .map(|(s, n)| (s.clone(), n - limit))
                    .collect(),
            };
            for (subject, extra) in over {
                for _ in 0..extra {
                    let oldest = self.store.index().finder.oldest_of_subject(&subject);
                    match oldest {
                        Some(seq) => {
                            let _ = self.store.remove(seq);
                        }
                        None => break,
                    }
                }
            }
        }
        if discard == Discard::Old && (max_msgs > 0 || max_bytes > 0) {
            loop {
                let st = self.store.state();
                let over_msgs = max_msgs > 0 && st.msgs > max_msgs as u64;
                let over_bytes = max_bytes > 0 && st.bytes > max_bytes as u64;
                if !(over_msgs || over_bytes) || st.msgs == 0 {
                    break;
                }
                let _ = self.store.remove(st.first_seq);
            }
        }
    }
}
