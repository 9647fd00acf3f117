//! Delivery: one round of the consumer's task (acks due, requests
//! expired, messages out to pull requests or the push subject, heartbeats),
//! and a new message sent straight from the publisher's path.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use crate::account::Account;
use crate::jetstream::clock::now_nanos;
use crate::jetstream::config::Retention;
use crate::jetstream::headers;
use crate::jetstream::stream::{Outgoing, Stream};
use crate::outlet::Producer;
use crate::sublist::MatchResult;
use crate::subscription::Message;

use super::*;

impl Consumer {
    /// One round of work; returns when it next has something to do.
    pub(super) fn tick(&self, producer: &mut Producer) -> Option<Instant> {
        let stream = self.stream.upgrade()?;
        let account = self.account.upgrade()?;
        let now = Instant::now();
        let now_ns = now_nanos();
        let mut st = self.state.lock();
        let mut due: Option<Instant> = None;
        let mut soonest = |t: Instant| due = Some(due.map_or(t, |d| d.min(t)));
        // Acks not received in time: deliver again.
        if st.pending_due <= now_ns {
            let late: Vec<u64> =
                st.d.pending
                    .iter()
                    .filter(|(_, p)| p.deadline <= now_ns)
                    .map(|(&s, _)| s)
                    .collect();
            for sseq in late {
                st.d.pending.remove(&sseq);
                st.redeliver.insert(sseq, now_ns);
            }
            st.pending_due =
                st.d.pending
                    .values()
                    .map(|p| p.deadline)
                    .min()
                    .unwrap_or(i64::MAX);
        }
        if st.pending_due < i64::MAX && !st.d.pending.is_empty() {
            soonest(now + Duration::from_nanos((st.pending_due - now_ns).max(0) as u64));
        }
        // Expired pull requests.
        let mut i = 0;
        while i < st.waiting.len() {
            let r = &st.waiting[i];
            if r.expires.is_some_and(|e| e <= now) {
                let r = st.waiting.remove(i).expect("index in range");
                let extra = [
                    ("Nats-Pending-Messages", (r.batch - r.sent).to_string()),
                    (
                        "Nats-Pending-Bytes",
                        r.max_bytes.saturating_sub(r.bytes).to_string(),
                    ),
                ];
                let block = headers::status(408, "Request Timeout", &extra);
                account.publish_full(&r.reply, None, &block, b"", producer);
                continue;
            }
            if let Some(e) = r.expires {
                soonest(e);
            }
            i += 1;
        }
        let push = st.config.deliver_subject.clone();
        // A push consumer delivers only while someone listens on its
        // subject, as nats-server; until then it looks again shortly.
        let push_targets = push.as_ref().map(|s| push_targets(&mut st, &account, s));
        let no_interest = push_targets.as_ref().is_some_and(|t| t.is_empty());
        if no_interest {
            soonest(now + PUSH_INTEREST_POLL);
        }
        let mut round = Round {
            stream: &stream,
            covered: filters_cover(&stream, &st.config),
            now,
            now_ns,
            settled: Vec::new(),
        };
        // A message is there but held back by pacing: no-wait requests wait for it.
        let mut paced = false;
        // A pull request's reply subject and its match, kept while it stays the same.
        let mut matched: Option<(Bytes, Arc<MatchResult>)> = None;
        // Deliver what is available.
        loop {
            if no_interest || st.fc_pending.is_some() {
                break;
            }
            if push.is_none() && st.waiting.is_empty() {
                break;
            }
            if st.config.ack_policy != AckPolicy::None && st.held_back() {
                break;
            }
            if push.is_none() {
                // A request whose requester is gone (a fetch that timed out
                // and unsubscribed) takes nothing: it is dropped, and what
                // it would have taken stays pending for the next one.
                let reply = &st.waiting.front().expect("a waiting request").reply;
                if matched.as_ref().is_none_or(|(t, _)| t != reply) {
                    matched = Some((reply.clone(), Arc::new(account.matches(reply))));
                }
                if matched.as_ref().is_some_and(|(_, m)| m.is_empty()) {
                    st.waiting.pop_front();
                    continue;
                }
            }
            let Some((msg, origin)) = self.next_message(&stream, &mut st, now_ns) else {
                if let Some(at) = st.redeliver.values().min() {
                    soonest(now + Duration::from_nanos((at - now_ns).max(0) as u64));
                }
                break;
            };
            let size = (msg.headers.len() + msg.payload.len() + msg.subject.len()) as u64;
            if push.is_none() {
                let r = st.waiting.front_mut().expect("a waiting request");
                if r.max_bytes > 0 && r.bytes + size > r.max_bytes {
                    // Put the message back and end this request.
                    put_back(&mut st, msg.seq, origin, now_ns);
                    let r = st.waiting.pop_front().expect("a waiting request");
                    let code = 409;
                    let extra = [
                        ("Nats-Pending-Messages", (r.batch - r.sent).to_string()),
                        (
                            "Nats-Pending-Bytes",
                            r.max_bytes.saturating_sub(r.bytes).to_string(),
                        ),
                    ];
                    let block = headers::status(code, "Message Size Exceeds MaxBytes", &extra);
                    account.publish_full(&r.reply, None, &block, b"", producer);
                    continue;
                }
            }
            // Pacing: `rate_limit_bps` (push), and `replay_policy: original`,
            // which keeps the gaps between messages as they were stored.
            let mut not_before = st.rate_next;
            if st.config.replay_policy == "original" {
                if let Some((prev_time, sent_at)) = st.replay_prev {
                    let gap = (msg.time - prev_time).max(0) as u64;
                    not_before = not_before.max(sent_at + Duration::from_nanos(gap));
                }
            }
            if not_before > now {
                put_back(&mut st, msg.seq, origin, now_ns);
                soonest(not_before);
                paced = true;
                break;
            }
            if st.config.rate_limit_bps > 0 {
                let secs = (size * 8) as f64 / st.config.rate_limit_bps as f64;
                st.rate_next = st.rate_next.max(now) + Duration::from_secs_f64(secs);
            }
            st.replay_prev = Some((msg.time, now));
            // Addressed to the target's subscribers, shown under the stream
            // subject.
            let (to, targets) = match (&push, &push_targets) {
                (Some(subject), Some(t)) => (Bytes::copy_from_slice(subject.as_bytes()), t.clone()),
                // Matched above, for the request at the front.
                _ => matched.clone().expect("matched above"),
            };
            let joined;
            let (header_len, body): (Option<usize>, &[u8]) = if st.config.headers_only {
                let mut block = msg.headers.to_vec();
                let size_hdr = format!("Nats-Msg-Size: {}\r\n\r\n", msg.payload.len());
                if block.is_empty() {
                    block = format!("NATS/1.0\r\n{size_hdr}").into_bytes();
                } else {
                    block.truncate(block.len() - 2);
                    block.extend_from_slice(size_hdr.as_bytes());
                }
                (Some(block.len()), {
                    joined = block;
                    &joined
                })
            } else if msg.headers.is_empty() {
                (None, &msg.payload[..])
            } else {
                joined = [&msg.headers[..], &msg.payload[..]].concat();
                (Some(msg.headers.len()), &joined)
            };
            let out = Outgoing {
                seq: msg.seq,
                subject: &msg.subject,
                header_len,
                body,
                time: msg.time,
            };
            if let Some(at) = self.send(&mut st, &mut round, &out, (&to, &targets), producer) {
                soonest(at);
            }
            st.last_sent = now;
            if let (Some(subject), true) = (&push, st.config.flow_control) {
                st.fc_bytes += size;
                st.fc_msgs += 1;
                if st.fc_bytes >= FC_BYTES || st.fc_msgs >= FC_MSGS {
                    // Ask the client to confirm it keeps up before sending more.
                    let reply = format!("$JS.FC.{}.{}.{}", stream.name, self.name, st.d.delivered_consumer);
                    let block = headers::status(100, "FlowControl Request", &[]);
                    account.publish_full(subject.as_bytes(), Some(reply.as_bytes()), &block, b"", producer);
                    st.fc_pending = Some(reply);
                    st.fc_bytes = 0;
                    st.fc_msgs = 0;
                }
            }
            if push.is_none() {
                let r = st.waiting.front_mut().expect("a waiting request");
                r.sent += 1;
                r.bytes += size;
                r.next_heartbeat = r.heartbeat.map(|h| now + h);
                if r.sent >= r.batch {
                    st.waiting.pop_front();
                }
            }
        }
        // Requests that asked not to wait end here.
        let mut i = 0;
        while !paced && i < st.waiting.len() {
            if st.waiting[i].no_wait {
                let r = st.waiting.remove(i).expect("index in range");
                let block = if r.sent == 0 {
                    headers::status(404, "No Messages", &[])
                } else {
                    let extra = [
                        ("Nats-Pending-Messages", (r.batch - r.sent).to_string()),
                        (
                            "Nats-Pending-Bytes",
                            r.max_bytes.saturating_sub(r.bytes).to_string(),
                        ),
                    ];
                    headers::status(408, "Request Timeout", &extra)
                };
                account.publish_full(&r.reply, None, &block, b"", producer);
                continue;
            }
            i += 1;
        }
        // Idle heartbeats.
        let hb = headers::status(100, "Idle Heartbeat", &[]);
        for r in st.waiting.iter_mut() {
            if let (Some(h), Some(at)) = (r.heartbeat, r.next_heartbeat) {
                if at <= now {
                    account.publish_full(&r.reply, None, &hb, b"", producer);
                    r.next_heartbeat = Some(now + h);
                }
                if let Some(at) = r.next_heartbeat {
                    soonest(at);
                }
            }
        }
        if let Some(subject) = &push {
            if st.config.idle_heartbeat > 0 {
                let every = Duration::from_nanos(st.config.idle_heartbeat as u64);
                if now.duration_since(st.last_sent) >= every {
                    let mut extra = vec![
                        ("Nats-Last-Consumer", st.d.delivered_consumer.to_string()),
                        ("Nats-Last-Stream", st.d.delivered_stream.to_string()),
                    ];
                    // A lost flow-control request is named again, so the client can answer it.
                    if let Some(fc) = &st.fc_pending {
                        extra.push(("Nats-Consumer-Stalled", fc.clone()));
                    }
                    let block = headers::status(100, "Idle Heartbeat", &extra);
                    account.publish_full(subject.as_bytes(), None, &block, b"", producer);
                    st.last_sent = now;
                }
                soonest(st.last_sent + every);
            }
        }
        if st.config.inactive_threshold > 0 {
            soonest(now + Duration::from_nanos(st.config.inactive_threshold as u64));
        }
        let wake_at = due.unwrap_or(now + IDLE_TICK);
        st.task_due = wake_at;
        drop(st);
        if !round.settled.is_empty() {
            stream.drop_if_no_interest_many(&round.settled);
        }
        Some(wake_at)
    }

    /// Sends one message to `targets`: counts the delivery, makes it
    /// pending (or, without acks, done at once) and gives it its ack
    /// subject. Returns when its ack is due, if it waits for one.
    /// `targets` are the subscribers of `to` (a pull request's reply, a
    /// push consumer's deliver subject), which other servers get it under.
    pub(super) fn send(
        &self,
        st: &mut State,
        round: &mut Round<'_>,
        out: &Outgoing<'_>,
        (to, targets): (&[u8], &MatchResult),
        producer: &mut Producer,
    ) -> Option<Instant> {
        let deliveries = {
            let n = st.d.deliveries.entry(out.seq).or_insert(0);
            *n += 1;
            *n
        };
        st.d.delivered_consumer += 1;
        let cseq = st.d.delivered_consumer;
        st.d.delivered_stream = st.d.delivered_stream.max(out.seq);
        let pending_after = self.num_pending_with(round.stream, st, round.covered);
        let reply = ack_subject(
            &round.stream.name,
            &self.name,
            deliveries,
            out.seq,
            cseq,
            out.time,
            pending_after,
        );
        let due = match st.config.ack_policy {
            AckPolicy::None => {
                st.d.deliveries.remove(&out.seq);
                st.d.ack_floor_consumer = cseq;
                st.d.ack_floor_stream = out.seq;
                None
            }
            _ => {
                let wait = backoff_wait(&st.config, deliveries);
                let deadline = round.now_ns + wait;
                st.pending_due = st.pending_due.min(deadline);
                st.d.pending.insert(
                    out.seq,
                    Pending {
                        consumer_seq: cseq,
                        deadline,
                    },
                );
                Some(round.now + Duration::from_nanos(wait.max(0) as u64))
            }
        };
        st.dirty = true;
        st.last_active = round.now_ns;
        let m = Message {
            delivered_to: Some(to),
            ..Message::internal(out.subject, Some(reply.as_bytes()), out.header_len, out.body)
        };
        crate::router::deliver(targets, &m, producer);
        if st.config.ack_policy == AckPolicy::None {
            match self.retention {
                Retention::Workqueue => {
                    round.stream.delete_msg_internal(out.seq);
                }
                Retention::Interest => round.settled.push(out.seq),
                Retention::Limits => {}
            }
        }
        st.last_sent = round.now;
        due
    }

    /// A message just stored, offered from the publisher's path: a push
    /// consumer that has sent everything before it, and has room, sends it
    /// at once rather than waking its task to read it back from the store.
    /// Returns false when it did not (the task then takes it).
    pub(crate) fn deliver_new(&self, stream: &Stream, out: &Outgoing<'_>, producer: &mut Producer) -> bool {
        // Busy (its task is delivering, or an ack is being handled): the
        // task takes it, in order, after what it is doing.
        let Some(mut st) = self.state.try_lock() else {
            return false;
        };
        let now = Instant::now();
        // Stored just now: its time is the clock's.
        let now_ns = out.time;
        let c = &st.config;
        if st.deleted
            || st.d.next != out.seq
            || !st.redeliver.is_empty()
            || !st.catch_up.is_empty()
            || st.fc_pending.is_some()
            || c.flow_control
            || c.headers_only
            || c.rate_limit_bps > 0
            || c.replay_policy == "original"
            || st.pending_due <= now_ns
            || (c.ack_policy != AckPolicy::None && st.held_back())
        {
            return false;
        }
        let Some(subject) = c.deliver_subject.clone() else {
            return false;
        };
        let Some(account) = self.account.upgrade() else {
            return false;
        };
        if !takes_subject(c.filters(), out.subject) {
            return false;
        }
        let targets = push_targets(&mut st, &account, &subject);
        if targets.is_empty() {
            return false;
        }
        self.took_new(&mut st, out.seq);
        st.replay_prev = Some((out.time, now));
        let mut round = Round {
            stream,
            covered: filters_cover(stream, &st.config),
            now,
            now_ns,
            settled: Vec::new(),
        };
        if let Some(at) = self.send(&mut st, &mut round, out, (subject.as_bytes(), &targets), producer) {
            // The task sleeps past this ack's deadline: wake it to look again.
            if at < st.task_due {
                st.task_due = at;
                self.wake.notify_one();
            }
        }
        drop(st);
        if !round.settled.is_empty() {
            stream.drop_if_no_interest_many(&round.settled);
        }
        true
    }

    /// The next message to deliver: a due redelivery first, then new ones.
    pub(super) fn next_message(
        &self,
        stream: &Stream,
        st: &mut State,
        now_ns: i64,
    ) -> Option<(crate::jetstream::store::StoredMsg, Origin)> {
        while let Some((&sseq, &at)) = st.redeliver.iter().next() {
            if at > now_ns {
                break;
            }
            st.redeliver.remove(&sseq);
            let delivered = st.d.deliveries.get(&sseq).copied().unwrap_or(0);
            if st.config.max_deliver > 0 && delivered as i64 >= st.config.max_deliver {
                st.d.deliveries.remove(&sseq);
                continue;
            }
            if let Ok(Some(m)) = stream.get(sseq) {
                return Some((m, Origin::Redelivery));
            }
            st.d.deliveries.remove(&sseq);
        }
        while let Some(sseq) = st.catch_up.pop_front() {
            if let Ok(Some(m)) = stream.get(sseq) {
                return Some((m, Origin::CatchUp));
            }
        }
        let filters = st.config.filters();
        let found = if filters.is_empty() {
            stream.next_for(st.d.next, None).ok().flatten()
        } else {
            stream.next_matching_any(st.d.next, filters).ok().flatten()
        };
        let m = found?;
        self.took_new(st, m.seq);
        Some((m, Origin::New))
    }

    /// Moves past `seq`, the next new message, which is going out.
    pub(super) fn took_new(&self, st: &mut State, seq: u64) {
        st.d.next = seq + 1;
        self.next_copy.store(st.d.next, Ordering::Release);
        if let Some(c) = &mut st.np {
            // The message going out is the first match from where the count
            // starts: one fewer to deliver, or (when it arrived after the
            // count, which then found none) still none.
            if c.from <= seq {
                if seq <= c.upto {
                    c.count = c.count.saturating_sub(1);
                } else {
                    c.upto = seq;
                }
                c.from = seq + 1;
            } else {
                st.np = None;
            }
        }
    }
}

/// What stays the same over one round of deliveries.
pub(super) struct Round<'a> {
    stream: &'a Stream,
    /// Whether the filters take in the whole stream.
    covered: bool,
    now: Instant,
    now_ns: i64,
    /// Interest-stream messages settled without acks, to drop after the
    /// consumer's lock is released.
    settled: Vec<u64>,
}

/// The subscribers of a push consumer's deliver subject, matched again only
/// when the account's subscriptions changed.
pub(super) fn push_targets(st: &mut State, account: &Account, subject: &str) -> Arc<MatchResult> {
    st.push_cache.lookup(account, subject.as_bytes())
}

/// Whether the consumer's filters take in every subject of the stream
/// (then it counts what is pending without looking at subjects).
pub(super) fn filters_cover(stream: &Stream, config: &ConsumerConfig) -> bool {
    let filters = config.filters();
    filters.is_empty()
        || stream.with_config(|c| {
            c.subjects
                .iter()
                .all(|s| filters.iter().any(|f| crate::jetstream::config::subset(s, f)))
        })
}

/// Where a message to deliver came from, so it can be put back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Origin {
    Redelivery,
    CatchUp,
    New,
}

/// Returns a message not sent after all to where it came from.
pub(super) fn put_back(st: &mut State, seq: u64, origin: Origin, now_ns: i64) {
    match origin {
        Origin::Redelivery => {
            st.redeliver.insert(seq, now_ns);
        }
        Origin::CatchUp => st.catch_up.push_front(seq),
        Origin::New => {
            st.d.next = seq;
            // `next_copy` may stay ahead: `wants_new` then asks under the lock.
            // Counted again: it was taken off when it was picked.
            if let Some(c) = &mut st.np {
                if c.from == seq + 1 {
                    c.from = seq;
                    c.count += 1;
                } else {
                    st.np = None;
                }
            }
        }
    }
}

/// `ack_wait`, or the backoff step for this delivery.
pub(super) fn backoff_wait(config: &ConsumerConfig, deliveries: u64) -> i64 {
    if config.backoff.is_empty() {
        return config.ack_wait;
    }
    let i = (deliveries as usize)
        .saturating_sub(1)
        .min(config.backoff.len() - 1);
    config.backoff[i]
}
