//! What survives a restart: the saved delivery state, and the log of
//! confirmed acks written before their confirmation goes.

use std::collections::VecDeque;

use crate::jetstream::errors::ApiError;
use crate::jetstream::stream::Stream;

use super::*;

impl Consumer {
    /// Writes delivered and ack floor state, when it changed.
    pub(crate) fn persist(&self) {
        let Some(dir) = &self.dir else { return };
        // One writer at a time (the task's round, a confirmed ack), each
        // writing a newer snapshot than the one before it.
        let log = self.ack_log.lock();
        let snapshot = {
            let mut st = self.state.lock();
            if !st.dirty || st.deleted {
                return;
            }
            st.dirty = false;
            let mut d = st.d.clone();
            for (&sseq, &at) in &st.redeliver {
                d.pending.entry(sseq).or_insert(Pending {
                    consumer_seq: 0,
                    deadline: at,
                });
            }
            d
        };
        let tmp = dir.join("state.json.tmp");
        let ok = std::fs::write(&tmp, serde_json::to_vec(&snapshot).unwrap_or_default())
            .and_then(|()| std::fs::rename(&tmp, dir.join("state.json")));
        match ok {
            // The snapshot holds every logged ack: the log starts over.
            Ok(()) => {
                if let Some(file) = log.as_ref() {
                    let _ = file.set_len(0);
                }
            }
            Err(e) => tracing::error!(consumer = %self.name, "JetStream: could not save consumer state: {e}"),
        }
    }

    /// Writes a confirmed ack to the ack log before its confirmation goes.
    pub(super) fn log_ack(&self, sseq: u64, term: bool) {
        let Some(dir) = &self.dir else { return };
        use std::io::Write;
        let mut log = self.ack_log.lock();
        if log.is_none() {
            match std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join(ACK_LOG))
            {
                Ok(f) => *log = Some(f),
                Err(e) => {
                    tracing::error!(consumer = %self.name, "JetStream: could not open the ack log: {e}");
                    drop(log);
                    // Saved the slow way instead.
                    self.persist();
                    return;
                }
            }
        }
        let record = if term { sseq | TERMINATED } else { sseq };
        if let Some(Err(e)) = log.as_mut().map(|f| f.write_all(&record.to_le_bytes())) {
            tracing::error!(consumer = %self.name, "JetStream: could not write the ack log: {e}");
        }
    }
}

/// Applies the confirmed acks logged since the state was saved. An ack of
/// a message past the saved position moves the position past it; the
/// messages it skips that the consumer takes are taken as delivered and
/// unacknowledged, so they go out again (their own logged acks, later in
/// the log, settle those that were acknowledged).
pub(super) fn replay_ack_log(
    d: &mut Durable,
    path: &std::path::Path,
    stream: &Stream,
    config: &ConsumerConfig,
) {
    let Ok(bytes) = std::fs::read(path) else { return };
    let unacked = Pending {
        consumer_seq: 0,
        deadline: 0,
    };
    // A record cut short by a crash was never confirmed.
    for record in bytes.chunks_exact(8) {
        let record = u64::from_le_bytes(record.try_into().expect("eight bytes"));
        let (sseq, term) = (record & !TERMINATED, record & TERMINATED != 0);
        if sseq >= d.next {
            if config.ack_policy != AckPolicy::All {
                let mut at = d.next;
                while let Ok(Some(m)) = next_taken(stream, config, at) {
                    if m.seq >= sseq {
                        break;
                    }
                    d.pending.insert(m.seq, unacked);
                    at = m.seq + 1;
                }
            }
            d.next = sseq + 1;
            d.delivered_stream = d.delivered_stream.max(sseq);
        }
        let done: Vec<u64> = if config.ack_policy == AckPolicy::All && !term {
            d.pending.range(..=sseq).map(|(&s, _)| s).collect()
        } else {
            vec![sseq]
        };
        for s in done {
            d.pending.remove(&s);
            d.deliveries.remove(&s);
        }
    }
    match d.pending.iter().next() {
        Some((&sseq, p)) => {
            d.ack_floor_stream = sseq.saturating_sub(1);
            d.ack_floor_consumer = p.consumer_seq.saturating_sub(1);
        }
        None => {
            d.ack_floor_stream = d.delivered_stream;
            d.ack_floor_consumer = d.delivered_consumer;
        }
    }
}

/// The first message at or after `seq` that a consumer configured so takes.
pub(super) fn next_taken(
    stream: &Stream,
    config: &ConsumerConfig,
    seq: u64,
) -> Result<Option<crate::jetstream::store::StoredMsg>, ApiError> {
    let filters = config.filters();
    if filters.is_empty() {
        stream.next_for(seq, None)
    } else {
        stream.next_matching_any(seq, filters)
    }
}

/// Where a new consumer starts, by its deliver policy.
pub(super) fn start_position(stream: &Stream, config: &ConsumerConfig, catch_up: &mut VecDeque<u64>) -> u64 {
    let state = stream.state();
    let filters = config.filters();
    match config.deliver_policy {
        DeliverPolicy::All => state.first_seq,
        DeliverPolicy::New => state.last_seq + 1,
        DeliverPolicy::Last => {
            let last = if filters.is_empty() {
                Some(state.last_seq)
            } else {
                filters
                    .iter()
                    .filter_map(|f| stream.last_for(f).ok().flatten().map(|m| m.seq))
                    .max()
            };
            last.filter(|&s| s > 0).unwrap_or(state.last_seq + 1)
        }
        DeliverPolicy::ByStartSequence => config.opt_start_seq,
        DeliverPolicy::ByStartTime => {
            let t = config
                .opt_start_time
                .as_deref()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .and_then(|t| t.timestamp_nanos_opt())
                .unwrap_or(0);
            stream.first_at_or_after(t).unwrap_or(state.last_seq + 1)
        }
        DeliverPolicy::LastPerSubject => {
            let mut seqs = stream.last_per_subject(filters);
            seqs.sort_unstable();
            catch_up.extend(seqs);
            state.last_seq + 1
        }
    }
}
