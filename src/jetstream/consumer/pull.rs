//! Pull requests (`MSG.NEXT`): read, checked and queued for the task.

use std::time::Duration;

use bytes::Bytes;
use serde::Deserialize;
use tokio::time::Instant;

use crate::jetstream::clock::now_nanos;
use crate::jetstream::headers;
use crate::outlet::Producer;

use super::*;

impl Consumer {
    /// Queues a pull request (`MSG.NEXT`).
    pub(crate) fn pull(&self, reply: &[u8], body: &[u8]) {
        #[derive(Deserialize, Default)]
        #[serde(default)]
        struct Next {
            batch: u64,
            expires: u64,
            no_wait: bool,
            max_bytes: u64,
            idle_heartbeat: u64,
        }
        let text = std::str::from_utf8(body).unwrap_or("").trim();
        // As nats-server: JSON when it looks like an object, otherwise a
        // batch size (anything else is a batch of one).
        let req: Result<Next, String> = if text.starts_with('{') {
            serde_json::from_str::<Next>(text).map_err(|e| e.to_string())
        } else {
            Ok(Next {
                batch: text.parse::<u64>().unwrap_or(1),
                ..Next::default()
            })
        };
        let now = Instant::now();
        let mut st = self.state.lock();
        st.last_active = now_nanos();
        let status = |code, text: &str| (code, text.to_string());
        let problem = match &req {
            Err(e) => Some(format!("Bad Request - {e}")),
            // A heartbeat must fit twice into the request's life.
            Ok(r) if r.idle_heartbeat > 0 && r.idle_heartbeat.saturating_mul(2) > r.expires => {
                Some("Bad Request - heartbeat value too large".to_string())
            }
            Ok(_) => None,
        };
        let req = req.unwrap_or_default();
        let refusal = if st.config.deliver_subject.is_some() {
            Some(status(409, "Consumer is push based"))
        } else if let Some(problem) = problem {
            Some(status(400, &problem))
        } else if st.config.max_batch > 0 && req.batch as i64 > st.config.max_batch {
            Some(status(
                409,
                &format!("Exceeded MaxRequestBatch of {}", st.config.max_batch),
            ))
        } else if st.config.max_bytes > 0 && req.max_bytes as i64 > st.config.max_bytes {
            Some(status(
                409,
                &format!("Exceeded MaxRequestMaxBytes of {}", st.config.max_bytes),
            ))
        } else if st.config.max_expires > 0 && req.expires as i64 > st.config.max_expires {
            Some(status(
                409,
                &format!(
                    "Exceeded MaxRequestExpires of {}",
                    crate::jetstream::clock::go_duration(st.config.max_expires)
                ),
            ))
        } else if st.waiting.len() as i64 >= st.config.max_waiting {
            Some(status(409, "Exceeded MaxWaiting"))
        } else {
            None
        };
        if let Some((code, text)) = refusal {
            drop(st);
            self.send_status(reply, code, &text, &[]);
            return;
        }
        let heartbeat = (req.idle_heartbeat > 0).then(|| Duration::from_nanos(req.idle_heartbeat));
        st.waiting.push_back(PullRequest {
            reply: Bytes::copy_from_slice(reply),
            batch: req.batch.max(1),
            max_bytes: req.max_bytes,
            expires: (req.expires > 0).then(|| now + Duration::from_nanos(req.expires)),
            no_wait: req.no_wait,
            heartbeat,
            next_heartbeat: heartbeat.map(|h| now + h),
            sent: 0,
            bytes: 0,
        });
        drop(st);
        self.wake.notify_one();
    }

    pub(super) fn send_status(&self, to: &[u8], code: u16, text: &str, extra: &[(&str, String)]) {
        if let Some(account) = self.account.upgrade() {
            let mut producer = Producer::default();
            let block = headers::status(code, text, extra);
            account.publish_full(to, None, &block, b"", &mut producer);
            producer.flush();
        }
    }
}
