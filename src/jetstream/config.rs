//! Stream configuration as the JetStream API carries it: nats-server's JSON
//! field names, its defaults, and its checks.

use serde::{Deserialize, Serialize};

use super::errors::ApiError;

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Retention {
    #[default]
    Limits,
    Interest,
    Workqueue,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Discard {
    #[default]
    Old,
    New,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Storage {
    #[default]
    File,
    Memory,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    #[default]
    None,
    S2,
}

/// Two minutes, nats-server's default duplicate window.
pub const DEFAULT_DUPLICATE_WINDOW: i64 = 120_000_000_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StreamConfig {
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subjects: Vec<String>,
    pub retention: Retention,
    pub max_consumers: i64,
    pub max_msgs: i64,
    pub max_bytes: i64,
    /// Nanoseconds; 0 keeps messages forever.
    pub max_age: i64,
    pub max_msgs_per_subject: i64,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub max_msg_size: i64,
    pub discard: Discard,
    pub storage: Storage,
    pub num_replicas: i64,
    #[serde(skip_serializing_if = "is_false")]
    pub no_ack: bool,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub duplicate_window: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub placement: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mirror: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sources: Option<serde_json::Value>,
    pub compression: Compression,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub first_seq: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject_transform: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub republish: Option<serde_json::Value>,
    pub allow_direct: bool,
    pub mirror_direct: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub discard_new_per_subject: bool,
    pub sealed: bool,
    pub deny_delete: bool,
    pub deny_purge: bool,
    pub allow_rollup_hdrs: bool,
    pub consumer_limits: serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
}

fn is_zero_i64(n: &i64) -> bool {
    *n == 0
}
fn is_zero_u64(n: &u64) -> bool {
    *n == 0
}

impl Default for StreamConfig {
    fn default() -> Self {
        StreamConfig {
            name: String::new(),
            description: String::new(),
            subjects: Vec::new(),
            retention: Retention::Limits,
            max_consumers: 0,
            max_msgs: 0,
            max_bytes: 0,
            max_age: 0,
            max_msgs_per_subject: 0,
            max_msg_size: 0,
            discard: Discard::Old,
            storage: Storage::File,
            num_replicas: 0,
            no_ack: false,
            duplicate_window: 0,
            placement: None,
            mirror: None,
            sources: None,
            compression: Compression::None,
            first_seq: 0,
            subject_transform: None,
            republish: None,
            allow_direct: false,
            mirror_direct: false,
            discard_new_per_subject: false,
            sealed: false,
            deny_delete: false,
            deny_purge: false,
            allow_rollup_hdrs: false,
            consumer_limits: serde_json::json!({}),
            metadata: None,
        }
    }
}

/// A name usable for a stream or consumer: not empty, and none of the
/// characters that would break subjects or paths.
pub fn name_problem(name: &str) -> Option<ApiError> {
    if name.is_empty() {
        return Some(ApiError::stream_invalid_config("stream name is required"));
    }
    if name.contains(['/', '\\']) {
        return Some(ApiError::name_has_path_separators());
    }
    if name.contains(['.', '*', '>']) || name.chars().any(|c| c.is_whitespace()) {
        return Some(ApiError::stream_invalid_config(
            "stream name can not contain whitespace, '.', '*', '>'",
        ));
    }
    None
}

impl StreamConfig {
    /// Fills in nats-server's defaults and checks what it checks.
    pub fn normalize(mut self) -> Result<StreamConfig, ApiError> {
        if let Some(e) = name_problem(&self.name) {
            return Err(e);
        }
        let (mirror, sources) = super::source::parse(&self.mirror, &self.sources)?;
        if mirror.is_some() {
            if !self.subjects.is_empty() {
                return Err(ApiError::mirror_with_subjects());
            }
            if !sources.is_empty() {
                return Err(ApiError::mirror_with_sources());
            }
        }
        let (transform, republish) = self.transforms()?;
        if let (Some((republish, _)), false) = (&republish, self.subjects.is_empty()) {
            // Republishing into the stream's own subjects would loop.
            let dest = republish.apply(&self.subjects[0]).unwrap_or_default();
            if self.subjects.iter().any(|s| overlaps(s, &dest)) {
                return Err(ApiError::stream_invalid_config(
                    "stream configuration for republish destination forms a cycle",
                ));
            }
        }
        let _ = transform;
        if self.num_replicas > 1 {
            return Err(ApiError::replicas_not_supported());
        }
        if self.num_replicas < 0 {
            return Err(ApiError::stream_invalid_config(
                "replicas count cannot be negative",
            ));
        }
        self.num_replicas = 1;
        for n in [
            &mut self.max_consumers,
            &mut self.max_msgs,
            &mut self.max_bytes,
            &mut self.max_msgs_per_subject,
            &mut self.max_msg_size,
        ] {
            if *n == 0 {
                *n = -1;
            }
        }
        if self.max_age < 0 {
            return Err(ApiError::stream_invalid_config("max age needs to be >= 0"));
        }
        if self.duplicate_window < 0 {
            return Err(ApiError::stream_invalid_config(
                "duplicates window can not be negative",
            ));
        }
        if self.duplicate_window == 0 {
            self.duplicate_window = if self.max_age != 0 && self.max_age < DEFAULT_DUPLICATE_WINDOW {
                self.max_age
            } else {
                DEFAULT_DUPLICATE_WINDOW
            };
        } else if self.max_age != 0 && self.duplicate_window > self.max_age {
            return Err(ApiError::stream_invalid_config(
                "duplicates window can not be larger then max age",
            ));
        }
        if self.discard_new_per_subject && (self.discard != Discard::New || self.max_msgs_per_subject <= 0) {
            return Err(ApiError::stream_invalid_config(
                "discard new per subject requires discard new policy and max msgs per subject to be set",
            ));
        }
        // A stream that only copies others listens on nothing by default.
        if self.subjects.is_empty() && mirror.is_none() && sources.is_empty() {
            self.subjects.push(self.name.clone());
        }
        for s in &self.subjects {
            if !junction_nats::subject::is_valid_subject(s.as_bytes()) {
                return Err(ApiError::stream_invalid_config(format!("invalid subject: {s:?}")));
            }
            if junction_nats::subject::matches(b"$JS.API.>", s.as_bytes())
                || junction_nats::subject::matches(s.as_bytes(), b"$JS.API.STREAM.INFO.x")
            {
                return Err(ApiError::stream_invalid_config(
                    "subjects that overlap with jetstream api require no-ack to be true",
                ));
            }
        }
        for (i, a) in self.subjects.iter().enumerate() {
            if self.subjects[..i].iter().any(|b| overlaps(a, b)) {
                return Err(ApiError::stream_invalid_config(format!(
                    "duplicate subjects detected: {a:?}"
                )));
            }
        }
        if self.consumer_limits.is_null() {
            self.consumer_limits = serde_json::json!({});
        }
        Ok(self)
    }
}

impl StreamConfig {
    /// The compiled `subject_transform` and `republish` (with `headers_only`).
    #[allow(clippy::type_complexity)]
    pub fn transforms(
        &self,
    ) -> Result<
        (
            Option<super::transform::Transform>,
            Option<(super::transform::Transform, bool)>,
        ),
        ApiError,
    > {
        use super::transform::{RepublishConfig, Transform, TransformConfig};
        let invalid = |e: serde_json::Error| ApiError::stream_invalid_config(e);
        let transform = match &self.subject_transform {
            Some(v) if !v.is_null() => {
                let t: TransformConfig = serde_json::from_value(v.clone()).map_err(invalid)?;
                Some(Transform::new(&t.src, &t.dest)?)
            }
            _ => None,
        };
        let republish = match &self.republish {
            Some(v) if !v.is_null() => {
                let r: RepublishConfig = serde_json::from_value(v.clone()).map_err(invalid)?;
                Some((Transform::new(&r.src, &r.dest)?, r.headers_only))
            }
            _ => None,
        };
        Ok((transform, republish))
    }
}

/// Whether some subject could match both patterns.
pub fn overlaps(a: &str, b: &str) -> bool {
    let (ta, tb): (Vec<&str>, Vec<&str>) = (a.split('.').collect(), b.split('.').collect());
    let mut i = 0;
    loop {
        match (ta.get(i), tb.get(i)) {
            (Some(&">"), Some(_)) | (Some(_), Some(&">")) => return true,
            (Some(x), Some(y)) => {
                if x != y && *x != "*" && *y != "*" {
                    return false;
                }
            }
            (None, None) => return true,
            _ => return false,
        }
        i += 1;
    }
}

/// Whether every subject matching `inner` also matches `outer`.
pub fn subset(inner: &str, outer: &str) -> bool {
    let (ti, to): (Vec<&str>, Vec<&str>) = (inner.split('.').collect(), outer.split('.').collect());
    for (i, o) in to.iter().enumerate() {
        match (*o, ti.get(i).copied()) {
            (">", Some(_)) => return true,
            (_, None) => return false,
            ("*", Some(">")) => return false,
            ("*", Some(_)) => {}
            (lit, Some(t)) if lit == t => {}
            _ => return false,
        }
    }
    ti.len() == to.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_nats_servers() {
        let c: StreamConfig = serde_json::from_str(r#"{"name":"ORDERS"}"#).unwrap();
        let c = c.normalize().unwrap();
        assert_eq!(c.subjects, ["ORDERS"]);
        assert_eq!((c.max_msgs, c.max_bytes, c.max_consumers), (-1, -1, -1));
        assert_eq!(c.duplicate_window, DEFAULT_DUPLICATE_WINDOW);
        assert_eq!(c.num_replicas, 1);
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["retention"], "limits");
        assert_eq!(json["storage"], "file");
        assert_eq!(json["discard"], "old");
        assert_eq!(json["max_msg_size"], -1);
    }

    #[test]
    fn bad_names_and_subjects_are_refused() {
        for name in ["a.b", "a*", "", "a/b", "a b"] {
            let c = StreamConfig {
                name: name.into(),
                ..StreamConfig::default()
            };
            assert!(c.normalize().is_err(), "{name:?}");
        }
        let c = StreamConfig {
            name: "X".into(),
            subjects: vec!["a.>".into(), "a.b".into()],
            ..StreamConfig::default()
        };
        assert!(c.normalize().is_err());
    }

    #[test]
    fn subset_follows_wildcards() {
        assert!(subset("foo", "foo"));
        assert!(subset("a.b", "a.*"));
        assert!(subset("a.*", "a.>"));
        assert!(subset("a.>", ">"));
        assert!(!subset("a.>", "a.*"));
        assert!(!subset("a.*", "a.b"));
        assert!(!subset("a", "a.>"));
    }

    #[test]
    fn overlap_follows_wildcards() {
        assert!(overlaps("a.*", "a.b"));
        assert!(overlaps("a.>", "a.b.c"));
        assert!(overlaps(">", "x"));
        assert!(!overlaps("a.*", "a.b.c"));
        assert!(!overlaps("a.b", "a.c"));
        assert!(overlaps("*.b", "a.*"));
    }
}
