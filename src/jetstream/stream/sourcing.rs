//! What a mirror or source stream stores from its origins, and how far it
//! has copied each.

use std::collections::HashMap;

use crate::jetstream::errors::ApiError;
use crate::jetstream::store::StoredMsg;

use super::*;

impl Stream {
    /// Stores a copy of another stream's message: under its own sequence
    /// for a mirror (`seq`), or under the next one with a
    /// `Nats-Stream-Source` header naming where it came from.
    pub fn store_copy(&self, m: &StoredMsg, seq: Option<u64>, origin: Option<&str>) -> Result<(), ApiError> {
        let mut inner = self.inner.lock();
        if let Some(seq) = seq {
            let last = inner.store.state().last_seq;
            if seq <= last {
                return Ok(());
            }
            inner.store.skip_to(seq).map_err(ApiError::store_failed)?;
        }
        let headers = match origin {
            Some(origin) => {
                let mark = format!("Nats-Stream-Source: {origin} {}\r\n\r\n", m.seq);
                if m.headers.is_empty() {
                    format!("NATS/1.0\r\n{mark}").into_bytes()
                } else {
                    let mut h = m.headers[..m.headers.len() - 2].to_vec();
                    h.extend_from_slice(mark.as_bytes());
                    h
                }
            }
            None => m.headers.to_vec(),
        };
        let time = if seq.is_some() { m.time } else { now_nanos() };
        let stored = inner
            .store
            .append(&m.subject, &headers, &m.payload, time)
            .map_err(ApiError::store_failed)?;
        inner.enforce_limits(now_nanos(), Some(&m.subject));
        drop(inner);
        self.announce(stored);
        Ok(())
    }

    /// Where copying from each source stopped (file streams keep it on disk).
    pub(crate) fn load_source_positions(&self) -> HashMap<String, u64> {
        self.dir
            .as_ref()
            .and_then(|d| std::fs::read(d.join("sources.json")).ok())
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    pub(crate) fn save_source_positions(&self, positions: &HashMap<String, u64>) {
        let Some(dir) = &self.dir else { return };
        let tmp = dir.join("sources.json.tmp");
        let result = std::fs::write(&tmp, serde_json::to_vec(positions).unwrap_or_default())
            .and_then(|()| std::fs::rename(&tmp, dir.join("sources.json")));
        if let Err(e) = result {
            tracing::error!(stream = %self.name, "JetStream: could not save source positions: {e}");
        }
    }
}
