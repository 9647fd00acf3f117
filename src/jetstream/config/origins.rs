//! The origins a stream configuration names: its `mirror` and `sources`,
//! as the API carries them, read and checked.

use serde::{Deserialize, Serialize};

use crate::jetstream::errors::ApiError;

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
pub fn parse_origins(
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
