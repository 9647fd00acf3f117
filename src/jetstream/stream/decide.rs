//! A publish to a stream in two steps: `decide` looks at the stream as it
//! is and says what the publish will do (refuse it, answer it as a
//! duplicate, or append it, with a rollup), changing nothing; `apply`
//! then makes the change. Replication will put consensus between the two.

use crate::jetstream::errors::ApiError;
use crate::jetstream::headers;
use crate::subscription::Message;

use super::{Inner, Refusal};

/// What a publish will do.
pub(super) enum Decision<'m> {
    /// Seen within the duplicate window: answered with its first sequence.
    Duplicate(u64),
    Append(Append<'m>),
}

/// One message to append, and what comes with it.
pub(super) struct Append<'m> {
    pub subject: &'m [u8],
    pub headers: &'m [u8],
    pub body: &'m [u8],
    /// `Nats-Msg-Id`, remembered for de-duplication.
    pub msg_id: Option<String>,
    pub rollup: Option<Rollup>,
}

/// `Nats-Rollup`: what the new message replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Rollup {
    /// Every message of the stream.
    All,
    /// The messages on its subject (every subject it matches, for a
    /// subject with wildcards).
    Subject,
}

impl Inner {
    /// What `msg` (already transformed) will do to the stream `stream`:
    /// the stream's state, limits and the publish's `Nats-Expected-*`
    /// headers decide, in nats-server's order.
    pub(super) fn decide<'m>(&self, stream: &str, msg: &Message<'m>) -> Result<Decision<'m>, Refusal> {
        let (hdrs, body) = match msg.header_len {
            Some(h) => msg.payload.split_at(h),
            None => (&[][..], msg.payload),
        };
        let cfg = &self.config;
        if cfg.sealed {
            return Err(ApiError::sealed());
        }
        if cfg.max_msg_size > 0 && (hdrs.len() + body.len()) as i64 > cfg.max_msg_size {
            return Err(ApiError::message_too_big());
        }
        // Only `Nats-…` headers ask anything of the stream.
        let nats_headers = headers::has_nats_headers(hdrs);
        if nats_headers {
            self.check_expectations(stream, msg.subject, hdrs)?;
        }
        let msg_id = nats_headers
            .then(|| headers::get(hdrs, "Nats-Msg-Id").map(str::to_string))
            .flatten();
        if let Some(&seq) = msg_id.as_ref().and_then(|id| self.msg_ids.get(id)) {
            return Ok(Decision::Duplicate(seq));
        }
        let rollup = match nats_headers.then(|| headers::get(hdrs, "Nats-Rollup")).flatten() {
            None => None,
            Some(_) if !cfg.allow_rollup_hdrs => return Err(ApiError::new_rollup("rollup not permitted")),
            Some("all") => Some(Rollup::All),
            Some("sub") => Some(Rollup::Subject),
            Some(other) => return Err(ApiError::new_rollup(format!("rollup value invalid: {other:?}"))),
        };
        self.check_discard_new(msg.subject, hdrs.len() + body.len())?;
        Ok(Decision::Append(Append {
            subject: msg.subject,
            headers: hdrs,
            body,
            msg_id,
            rollup,
        }))
    }

    /// The `Nats-Expected-*` headers against the stream as it is.
    fn check_expectations(&self, stream: &str, subject: &[u8], hdrs: &[u8]) -> Result<(), Refusal> {
        if headers::get(hdrs, "Nats-TTL").is_some() {
            // Told, not kept forever in silence.
            return Err(ApiError::new(
                400,
                10166,
                "per-message TTL is not supported by this server yet",
            ));
        }
        if let Some(expected) = headers::get(hdrs, "Nats-Expected-Stream") {
            if expected != stream {
                return Err(ApiError::stream_not_match());
            }
        }
        let last_seq = self.store.state().last_seq;
        if let Some(expected) = headers::get(hdrs, "Nats-Expected-Last-Sequence") {
            if expected.parse::<u64>().ok() != Some(last_seq) {
                return Err(ApiError::wrong_last_sequence(last_seq));
            }
        }
        if let Some(expected) = headers::get(hdrs, "Nats-Expected-Last-Subject-Sequence") {
            let last = {
                let index = self.store.index();
                index.finder.last_matching(&mut |s| s == subject).unwrap_or(0)
            };
            if expected.parse::<u64>().ok() != Some(last) {
                return Err(ApiError::wrong_last_sequence(last));
            }
        }
        if let Some(expected) = headers::get(hdrs, "Nats-Expected-Last-Msg-Id") {
            let last = self.last_msg_id.clone().unwrap_or_default();
            if expected != last {
                return Err(ApiError::wrong_last_msg_id(&last));
            }
        }
        Ok(())
    }

    /// Appends what `decide` accepted, at `now`: the message, its rollup,
    /// its message id, then the limits. Returns its sequence. `deferred`:
    /// the write may wait for `flush_held`.
    pub(super) fn apply(&mut self, a: Append<'_>, now: i64, deferred: bool) -> Result<u64, Refusal> {
        let seq = if deferred {
            self.store.append_deferred(a.subject, a.headers, a.body, now)
        } else {
            self.store.append(a.subject, a.headers, a.body, now)
        }
        .map_err(ApiError::store_failed)?;
        match a.rollup {
            Some(Rollup::All) => {
                let _ = self.store.purge_below(seq);
            }
            Some(Rollup::Subject) => self.roll_up_subject(a.subject, seq),
            None => {}
        }
        if let Some(id) = a.msg_id {
            self.msg_ids.insert(id.clone(), seq);
            self.msg_id_order.push_back((now, id.clone()));
            self.last_msg_id = Some(id);
        }
        self.enforce_limits(now, Some(a.subject));
        Ok(seq)
    }

    /// Removes the messages before `seq` on `subject`. A subject with
    /// wildcards (a KV purge of `hello.*`) rolls up every subject it
    /// matches, as in nats-server.
    fn roll_up_subject(&mut self, subject: &[u8], seq: u64) {
        let wild = !junction_nats::subject::is_literal(subject);
        let mut same = |s: &[u8]| {
            if wild {
                junction_nats::subject::matches(subject, s)
            } else {
                s == subject
            }
        };
        let older: Vec<u64> = {
            let index = self.store.index();
            let mut v = Vec::new();
            let mut at = 0;
            while let Some(s) = index.finder.next_matching(at, &mut same) {
                if s >= seq {
                    break;
                }
                v.push(s);
                at = s + 1;
            }
            v
        };
        for s in older {
            let _ = self.store.remove(s);
        }
    }
}
