//! Stream configuration as the JetStream API carries it: nats-server's JSON
//! field names, its defaults, and its checks.

mod origins;

pub use origins::{check_supported, parse_origins, StreamSource};

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
    /// Messages may carry a `Nats-TTL` (nats-server 2.11); kept and shown,
    /// while a message that carries one is refused.
    #[serde(skip_serializing_if = "is_false")]
    pub allow_msg_ttl: bool,
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
            allow_msg_ttl: false,
            metadata: None,
        }
    }
}

/// Whether a stream or consumer name is usable: not empty, and none of the
/// characters that would break subjects or paths (nats-server's
/// `isValidAssetName`).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty() && !name.contains(['.', '*', '>', '\\', '/', ' ', '\t', '\r', '\n', '\u{c}'])
}

/// A stream name refused at create: a path separator first, as nats-server
/// answers it, then the rest of `valid_name`.
pub fn name_problem(name: &str) -> Option<ApiError> {
    if name.contains(['/', '\\']) {
        return Some(ApiError::name_has_path_separators());
    }
    (!valid_name(name)).then(invalid_stream_name)
}

fn invalid_stream_name() -> ApiError {
    ApiError::stream_invalid_config("stream name is required and can not contain '.', '*', '>', '\\', '/'")
}

/// The largest name, description and metadata nats-server takes.
pub const MAX_NAME_LEN: usize = 255;
pub const MAX_DESCRIPTION_LEN: usize = 4096;
pub const MAX_METADATA_LEN: usize = 128 * 1024;

/// The bytes of a `metadata` map's keys and values, as nats-server counts them.
pub fn metadata_len(metadata: &Option<serde_json::Map<String, serde_json::Value>>) -> usize {
    metadata
        .iter()
        .flatten()
        .map(|(k, v)| k.len() + v.as_str().map_or(0, str::len))
        .sum()
}

/// 100 ms, the least `max_age` and `duplicate_window` nats-server takes.
const MIN_WINDOW: i64 = 100_000_000;

impl StreamConfig {
    /// Fills in nats-server's defaults and checks what it checks, in its
    /// order and with its codes and texts (`checkStreamCfg`).
    pub fn normalize(mut self) -> Result<StreamConfig, ApiError> {
        let invalid = |e: &dyn std::fmt::Display| ApiError::stream_invalid_config(e);
        if !valid_name(&self.name) {
            return Err(invalid_stream_name());
        }
        if self.name.len() > MAX_NAME_LEN {
            return Err(invalid(&format!(
                "stream name is too long, maximum allowed is {MAX_NAME_LEN}"
            )));
        }
        if self.description.len() > MAX_DESCRIPTION_LEN {
            return Err(invalid(&format!(
                "stream description is too long, maximum allowed is {MAX_DESCRIPTION_LEN}"
            )));
        }
        if metadata_len(&self.metadata) > MAX_METADATA_LEN {
            return Err(invalid(&format!(
                "stream metadata exceeds maximum size of {MAX_METADATA_LEN} bytes"
            )));
        }
        if self.num_replicas == 0 {
            self.num_replicas = 1;
        }
        if self.num_replicas > 5 {
            return Err(invalid(&"maximum replicas is 5"));
        }
        if self.num_replicas < 0 {
            return Err(ApiError::new(400, 10133, "replicas count cannot be negative"));
        }
        for n in [
            &mut self.max_consumers,
            &mut self.max_msgs,
            &mut self.max_bytes,
            &mut self.max_msgs_per_subject,
            &mut self.max_msg_size,
        ] {
            if *n == 0 || *n < -1 {
                *n = -1;
            }
        }
        if self.max_age < 0 {
            return Err(invalid(&"max age can not be negative"));
        }
        if self.max_age != 0 && self.max_age < MIN_WINDOW {
            return Err(invalid(&"max age needs to be >= 100ms"));
        }
        let (mirror, sources) = parse_origins(&self.mirror, &self.sources)?;
        // Mirrors and sourced streams keep no duplicate window by default:
        // what they copy was checked where it was first stored.
        if self.duplicate_window == 0 && mirror.is_none() && sources.is_empty() {
            self.duplicate_window = if self.max_age != 0 && self.max_age < DEFAULT_DUPLICATE_WINDOW {
                self.max_age
            } else {
                DEFAULT_DUPLICATE_WINDOW
            };
        }
        if self.duplicate_window < 0 {
            return Err(invalid(&"duplicates window can not be negative"));
        }
        if self.max_age != 0 && self.duplicate_window > self.max_age {
            return Err(invalid(&"duplicates window can not be larger then max age"));
        }
        if self.duplicate_window > 0 && self.duplicate_window < MIN_WINDOW {
            return Err(invalid(&"duplicates window needs to be >= 100ms"));
        }
        if self.deny_purge && self.allow_rollup_hdrs {
            return Err(invalid(&"roll-ups require the purge permission"));
        }
        if self.discard_new_per_subject {
            if self.discard != Discard::New {
                return Err(invalid(
                    &"discard new per subject requires discard new policy to be set",
                ));
            }
            if self.max_msgs_per_subject <= 0 {
                return Err(invalid(
                    &"discard new per subject requires max msgs per subject > 0",
                ));
            }
        }
        if let Some(m) = &mirror {
            if self.first_seq > 0 {
                return Err(ApiError::new(
                    400,
                    10143,
                    "stream mirrors can not have first sequence configured",
                ));
            }
            if !self.subjects.is_empty() {
                return Err(ApiError::mirror_with_subjects());
            }
            if !sources.is_empty() {
                return Err(ApiError::mirror_with_sources());
            }
            if !m.filter_subject.is_empty() && m.subject_transforms.as_ref().is_some_and(|t| !t.is_null()) {
                return Err(ApiError::new(
                    400,
                    10150,
                    "mirror with multiple subject transforms cannot also have a single subject filter",
                ));
            }
            if m.external.is_none() && !valid_name(&m.name) {
                return Err(ApiError::new(400, 10142, "mirrored stream name is invalid"));
            }
        }
        let mut seen = std::collections::HashSet::new();
        for s in &sources {
            if !valid_name(&s.name) {
                return Err(ApiError::new(400, 10141, "sourced stream name is invalid"));
            }
            let transforms = s.subject_transforms.as_ref().map(|t| t.to_string());
            if !seen.insert((s.name.clone(), s.filter_subject.clone(), transforms)) {
                return Err(ApiError::new(
                    400,
                    10140,
                    "duplicate source configuration detected",
                ));
            }
            if !s.filter_subject.is_empty() && s.subject_transforms.as_ref().is_some_and(|t| !t.is_null()) {
                return Err(ApiError::new(
                    400,
                    10144,
                    "source with multiple subject transforms cannot also have a single subject filter",
                ));
            }
        }
        check_supported(mirror.iter().chain(&sources))?;
        // A stream that only copies others listens on nothing by default.
        if self.subjects.is_empty() && mirror.is_none() && sources.is_empty() {
            self.subjects.push(self.name.clone());
        }
        for s in &self.subjects {
            if !junction_nats::subject::is_valid_subject(s.as_bytes()) {
                return Err(invalid(&"invalid subject"));
            }
            if s == ">" && !self.no_ack {
                return Err(invalid(&"capturing all subjects requires no-ack to be true"));
            }
            if !self.no_ack && api_overlap(s, &["$JS.>", "$JSC.>", "$NRG.>"], "$JS.EVENT.>") {
                return Err(invalid(
                    &"subjects that overlap with jetstream api require no-ack to be true",
                ));
            }
            if !self.no_ack && api_overlap(s, &["$SYS.>"], "$SYS.ACCOUNT.>") {
                return Err(invalid(
                    &"subjects that overlap with system api require no-ack to be true",
                ));
            }
        }
        for (i, a) in self.subjects.iter().enumerate() {
            if let Some(b) = self.subjects[i + 1..].iter().find(|b| overlaps(a, b)) {
                return Err(invalid(&format!("subject {a:?} overlaps with {b:?}")));
            }
        }
        if let Some(t) = self.subject_transform.as_ref().filter(|t| !t.is_null()) {
            let t: super::transform::TransformConfig =
                serde_json::from_value(t.clone()).map_err(ApiError::invalid_json)?;
            if !t.src.is_empty() && !junction_nats::subject::is_valid_subject(t.src.as_bytes()) {
                return Err(ApiError::new(
                    400,
                    10155,
                    format!("stream transform source: invalid subject {}", t.src),
                ));
            }
            if let Err(e) =
                crate::mapping::Transform::new(if t.src.is_empty() { ">" } else { &t.src }, &t.dest)
            {
                return Err(ApiError::new(400, 10156, format!("stream transform: {e}")));
            }
        }
        if let Some(r) = self.republish.as_mut().and_then(|r| r.as_object_mut()) {
            // An empty source republishes everything (and comes first, as
            // nats-server writes it).
            if r.get("src").and_then(|v| v.as_str()).is_none_or(str::is_empty) {
                r.shift_remove("src");
                let mut with_src = serde_json::Map::new();
                with_src.insert("src".into(), serde_json::json!(">"));
                with_src.extend(std::mem::take(r));
                *r = with_src;
            }
            // Republishing into the stream's own subjects would loop.
            let dest = r.get("dest").and_then(|d| d.as_str()).unwrap_or_default();
            if self.subjects.iter().any(|s| overlaps(s, dest)) {
                return Err(invalid(
                    &"stream configuration for republish destination forms a cycle",
                ));
            }
        }
        let (_, republish) = self.transforms().map_err(|_| {
            let r: super::transform::RepublishConfig = self
                .republish
                .clone()
                .and_then(|v| serde_json::from_value(v).ok())
                .unwrap_or_default();
            invalid(&format!(
                "stream configuration for republish with transform from '{}' to '{}' not valid",
                r.src, r.dest
            ))
        })?;
        let _ = republish;
        if let Some(p) = &self.placement {
            let empty = |k: &str| {
                p.get(k)
                    .is_none_or(|v| v.is_null() || v == "" || v == &serde_json::json!([]))
            };
            if empty("cluster") && empty("tags") && empty("preferred") {
                self.placement = None;
            } else if !empty("preferred") {
                return Err(invalid(&"preferred server not permitted in placement"));
            }
        }
        if self.num_replicas > 1 {
            return Err(ApiError::replicas_not_supported());
        }
        if self.consumer_limits.is_null() {
            self.consumer_limits = serde_json::json!({});
        }
        Ok(self)
    }

    /// The stream's `consumer_limits`: `inactive_threshold` and
    /// `max_ack_pending` (0 for none).
    pub fn consumer_limits(&self) -> (i64, i64) {
        let get = |k: &str| self.consumer_limits.get(k).and_then(|v| v.as_i64()).unwrap_or(0);
        (get("inactive_threshold"), get("max_ack_pending"))
    }
}

/// Whether a stream subject reaches into an API's subjects (`apis`), other
/// than the part streams may capture (`allowed`, its events).
fn api_overlap(subject: &str, apis: &[&str], allowed: &str) -> bool {
    apis.iter().any(|api| overlaps(subject, api)) && !subset(subject, allowed)
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
                Some((Transform::republish(&r.src, &r.dest)?, r.headers_only))
            }
            _ => None,
        };
        Ok((transform, republish))
    }
}

/// Whether some subject could match both patterns.
pub fn overlaps(a: &str, b: &str) -> bool {
    junction_nats::subject::collide(a.as_bytes(), b.as_bytes())
}

/// Whether every subject matching `inner` also matches `outer`.
pub fn subset(inner: &str, outer: &str) -> bool {
    junction_nats::subject::is_subset(inner.as_bytes(), outer.as_bytes())
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
