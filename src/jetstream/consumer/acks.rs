//! Acknowledgements: `+ACK`, `-NAK`, `+WPI`, `+NXT`, `+TERM`, double acks,
//! MQTT's batches, and the ack floor.

use serde_json::Value;

use crate::jetstream::clock::now_nanos;
use crate::jetstream::config::Retention;

use super::*;

impl Consumer {
    /// The stream sequence below which everything is acknowledged.
    pub(crate) fn ack_floor(&self) -> u64 {
        self.state.lock().d.ack_floor_stream
    }

    /// Plain acks (`+ACK`) of several stream sequences at once, as an
    /// MQTT session collects its client's PUBACKs of one read.
    pub(crate) fn ack_many(&self, seqs: &[u64]) {
        let mut removed = Vec::new();
        let wake = {
            let mut st = self.state.lock();
            st.last_active = now_nanos();
            st.dirty = true;
            let held_back = st.held_back();
            for &seq in seqs {
                self.acked(&mut st, seq, &mut removed);
            }
            held_back || !st.waiting.is_empty()
        };
        self.settle(&removed);
        if wake {
            self.wake.notify_one();
        }
    }

    /// Drops from a work-queue or interest stream what acks settled.
    pub(super) fn settle(&self, removed: &[u64]) {
        let Some(stream) = self.stream.upgrade().filter(|_| !removed.is_empty()) else {
            return;
        };
        match self.retention {
            Retention::Workqueue => {
                for &seq in removed {
                    stream.delete_msg_internal(seq);
                }
            }
            // Gone once every consumer interested in it has acked it.
            Retention::Interest => stream.drop_if_no_interest_many(removed),
            Retention::Limits => {}
        }
    }

    /// An acknowledgement arrived on `$JS.ACK.…`, or the answer to a flow
    /// control request on `$JS.FC.…`.
    pub(crate) fn ack(&self, subject: &[u8], body: &[u8], reply: Option<&[u8]>) {
        let text = String::from_utf8_lossy(subject);
        if text.starts_with("$JS.FC.") {
            let mut st = self.state.lock();
            if st.fc_pending.as_deref() == Some(&*text) {
                st.fc_pending = None;
                drop(st);
                self.wake.notify_one();
            }
            return;
        }
        // $JS.ACK.<stream>.<consumer>.<deliveries>.<sseq>.<cseq>.<ts>.<pending>
        let mut tokens = text.split('.').skip(5);
        let (Some(sseq), Some(_cseq)) = (
            tokens.next().and_then(|t| t.parse::<u64>().ok()),
            tokens.next().and_then(|t| t.parse::<u64>().ok()),
        ) else {
            return;
        };
        let body = std::str::from_utf8(body).unwrap_or("").trim();
        let (verb, arg) = match body.split_once(' ') {
            Some((v, a)) => (v, a.trim()),
            None => (body, ""),
        };
        let mut remove_from_stream = Vec::new();
        // A plain ack wakes the consumer's task only when it may have been
        // held back by `max_ack_pending`: otherwise it has nothing to do.
        let wake = {
            let mut st = self.state.lock();
            st.last_active = now_nanos();
            st.dirty = true;
            let held_back = st.held_back();
            match verb {
                "" | "+ACK" => self.acked(&mut st, sseq, &mut remove_from_stream),
                "+NXT" => {
                    self.acked(&mut st, sseq, &mut remove_from_stream);
                }
                "-NAK" if st.d.pending.remove(&sseq).is_some() => {
                    let delay = serde_json::from_str::<Value>(arg)
                        .ok()
                        .and_then(|v| v.get("delay").and_then(Value::as_i64))
                        .unwrap_or(0);
                    st.redeliver.insert(sseq, now_nanos() + delay.max(0));
                }
                "+WPI" => {
                    let wait = st.config.ack_wait;
                    if let Some(p) = st.d.pending.get_mut(&sseq) {
                        p.deadline = now_nanos() + wait;
                    }
                }
                "+TERM" => {
                    st.d.pending.remove(&sseq);
                    st.d.deliveries.remove(&sseq);
                    self.advance_floor(&mut st);
                }
                _ => {}
            }
            held_back || !matches!(verb, "" | "+ACK") || !st.waiting.is_empty()
        };
        self.settle(&remove_from_stream);
        if verb == "+NXT" {
            if let Some(reply) = reply {
                self.pull(reply, arg.as_bytes());
                return;
            }
        }
        // A double ack (ack with a reply) is answered once it is written:
        // a confirmed ack survives the process being killed, as a PubAck
        // does. Plain acks are saved with the next round, within a second.
        if let (Some(reply), Some(account)) = (reply, self.account.upgrade()) {
            if matches!(verb, "" | "+ACK" | "+TERM") {
                self.log_ack(sseq, verb == "+TERM");
            }
            account.publish_internal(reply, b"");
        }
        if wake {
            self.wake.notify_one();
        }
    }

    /// Records an ack; `removed` collects the stream sequences it settles,
    /// which a work queue or interest stream may then drop.
    pub(super) fn acked(&self, st: &mut State, sseq: u64, removed: &mut Vec<u64>) {
        let workqueue = self.retention != Retention::Limits;
        match st.config.ack_policy {
            AckPolicy::All => {
                let mut done: Vec<u64> = st.d.pending.range(..=sseq).map(|(&s, _)| s).collect();
                done.extend(st.redeliver.range(..=sseq).map(|(&s, _)| s));
                for s in done {
                    st.d.pending.remove(&s);
                    st.redeliver.remove(&s);
                    st.d.deliveries.remove(&s);
                    if workqueue {
                        removed.push(s);
                    }
                }
            }
            _ => {
                // Acked while waiting to go out again (late, or after a
                // restart): it does not go out again.
                let was_pending = st.d.pending.remove(&sseq).is_some();
                let was_due = st.redeliver.remove(&sseq).is_some();
                if was_pending || was_due {
                    st.d.deliveries.remove(&sseq);
                    if workqueue {
                        removed.push(sseq);
                    }
                }
            }
        }
        self.advance_floor(st);
    }

    /// The ack floor sits below the lowest message still unacknowledged,
    /// whether awaiting its ack or its redelivery.
    pub(super) fn advance_floor(&self, st: &mut State) {
        let pending = st.d.pending.iter().next().map(|(&s, p)| (s, p.consumer_seq));
        let due = st.redeliver.keys().next().copied();
        match (pending, due) {
            (Some((sseq, cseq)), due) if due.is_none_or(|d| sseq < d) => {
                st.d.ack_floor_stream = sseq.saturating_sub(1);
                st.d.ack_floor_consumer = cseq.saturating_sub(1);
            }
            // Its consumer sequence went with its delivery: the stream
            // floor alone moves.
            (_, Some(d)) => st.d.ack_floor_stream = st.d.ack_floor_stream.min(d.saturating_sub(1)),
            (None, None) => {
                st.d.ack_floor_stream = st.d.delivered_stream;
                st.d.ack_floor_consumer = st.d.delivered_consumer;
            }
            _ => {}
        }
    }
}
