//! Mirrors and sources within one server: a stream that copies another
//! stream (a mirror keeps its sequence numbers; sources add messages under
//! new ones, each marked with a `Nats-Stream-Source` header). One task per
//! such stream follows its origins as they grow.

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use super::config::{parse_origins, StreamSource};
use super::stream::Stream;

/// Messages copied from one origin before looking at the others.
const BATCH: usize = 1000;
/// How often a missing origin is looked for again.
const RETRY: Duration = Duration::from_secs(1);

/// Where copying from `origin` starts for a stream that has not copied yet.
fn start_of(source: &StreamSource, origin: &Stream) -> u64 {
    if source.opt_start_seq > 0 {
        return source.opt_start_seq;
    }
    if let Some(t) = source
        .opt_start_time
        .as_deref()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .and_then(|t| t.timestamp_nanos_opt())
    {
        return origin.first_at_or_after(t).unwrap_or(origin.state().last_seq + 1);
    }
    origin.state().first_seq
}

/// Follows the origins of `stream` until it is deleted.
/// Where a mirror or source finds its origin streams: its account's.
pub trait Origins: Send + Sync {
    fn stream(&self, name: &str) -> Option<Arc<Stream>>;
}

pub fn spawn(stream: &Arc<Stream>, account: Weak<dyn Origins>) {
    let weak = Arc::downgrade(stream);
    tokio::spawn(async move {
        let mut positions: HashMap<String, u64> = weak
            .upgrade()
            .map(|s| s.load_source_positions())
            .unwrap_or_default();
        loop {
            let (Some(stream), Some(account)) = (weak.upgrade(), account.upgrade()) else {
                return;
            };
            if stream.is_released() {
                return;
            }
            let (mirror, sources) = match parse_origins(&stream.config().mirror, &stream.config().sources) {
                Ok(p) => p,
                Err(_) => return,
            };
            let mut watches = Vec::new();
            let mut copied = false;
            let origins: Vec<(StreamSource, bool)> = mirror
                .into_iter()
                .map(|m| (m, true))
                .chain(sources.into_iter().map(|s| (s, false)))
                .collect();
            for (source, is_mirror) in origins {
                let Some(origin) = account.stream(&source.name) else {
                    continue;
                };
                watches.push(origin.appended.subscribe());
                let next = positions.entry(source.name.clone()).or_insert_with(|| {
                    if is_mirror && stream.state().last_seq > 0 {
                        stream.state().last_seq + 1
                    } else {
                        start_of(&source, &origin)
                    }
                });
                let filter = (!source.filter_subject.is_empty()).then_some(source.filter_subject.as_str());
                for _ in 0..BATCH {
                    let Ok(Some(m)) = origin.next_for(*next, filter) else {
                        break;
                    };
                    let result = if is_mirror {
                        stream.store_copy(&m, Some(m.seq), None)
                    } else {
                        stream.store_copy(&m, None, Some(&origin.name))
                    };
                    if let Err(e) = result {
                        tracing::warn!(stream = %stream.name, "JetStream: copying from {} failed: {}", origin.name, e.description);
                        break;
                    }
                    *next = m.seq + 1;
                    copied = true;
                }
            }
            if copied {
                stream.save_source_positions(&positions);
                drop(stream);
                tokio::task::yield_now().await;
                continue;
            }
            drop(stream);
            if watches.is_empty() {
                tokio::time::sleep(RETRY).await;
                continue;
            }
            let changed = watches
                .iter_mut()
                .map(|w| Box::pin(w.changed()))
                .collect::<Vec<_>>();
            let _ = tokio::time::timeout(RETRY, futures::future::select_all(changed)).await;
        }
    });
}
