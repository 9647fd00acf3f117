//! Mirrors and sources within one server: a stream that copies another
//! stream (a mirror keeps its sequence numbers; sources add messages under
//! new ones, each marked with a `Nats-Stream-Source` header). One task per
//! such stream follows its origins as they grow.

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::errors::ApiError;
use super::stream::Stream;
use super::JsAccount;

/// Messages copied from one origin before looking at the others.
const BATCH: usize = 1000;
/// How often a missing origin is looked for again.
const RETRY: Duration = Duration::from_secs(1);

/// One origin of a mirror or a source, as the API carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct StreamSource {
    pub name: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub opt_start_seq: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opt_start_time: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub filter_subject: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject_transforms: Option<serde_json::Value>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Reads and checks a stream's `mirror` and `sources`.
pub fn parse(
    mirror: &Option<serde_json::Value>,
    sources: &Option<serde_json::Value>,
) -> Result<(Option<StreamSource>, Vec<StreamSource>), ApiError> {
    let invalid = |e: serde_json::Error| ApiError::stream_invalid_config(e);
    let mirror: Option<StreamSource> = match mirror {
        Some(v) if !v.is_null() => Some(serde_json::from_value(v.clone()).map_err(invalid)?),
        _ => None,
    };
    let sources: Vec<StreamSource> = match sources {
        Some(v) if !v.is_null() => serde_json::from_value(v.clone()).map_err(invalid)?,
        _ => Vec::new(),
    };
    Ok((mirror, sources))
}

/// Refuses what this server's mirrors and sources do not do yet.
pub fn check_supported<'a>(origins: impl Iterator<Item = &'a StreamSource>) -> Result<(), ApiError> {
    for s in origins {
        if s.external.as_ref().is_some_and(|e| !e.is_null()) {
            return Err(ApiError::stream_invalid_config(
                "sources and mirrors in other domains or accounts (external) are not supported by this server yet",
            ));
        }
        if s.subject_transforms.as_ref().is_some_and(|t| !t.is_null()) {
            return Err(ApiError::stream_invalid_config(
                "subject transforms of sources are not supported by this server yet",
            ));
        }
    }
    Ok(())
}

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
pub fn spawn(stream: &Arc<Stream>, account: Weak<JsAccount>) {
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
            let (mirror, sources) = match parse(&stream.config().mirror, &stream.config().sources) {
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
