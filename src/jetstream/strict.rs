//! Strict reading of JetStream API requests, as nats-server (2.12 and
//! later) reads them by default: a field nats-server does not know, at any
//! level of a stream or consumer configuration, is refused with 400/10025
//! `invalid JSON: json: unknown field "…"` instead of being dropped. So is
//! a field nats-server knows but this server does not implement, whenever
//! the request sets it to anything but its zero value: its user is told,
//! not given a silent success. `jetstream { strict: false }` lets unknown
//! fields through, as it does in nats-server.

use serde_json::Value;

use super::errors::ApiError;

/// What a field holds.
#[derive(Clone, Copy)]
enum Kind {
    /// Anything this server reads as it is (or a map of the user's own,
    /// like `metadata`).
    Any,
    /// An object with these fields.
    Object(&'static [Field]),
    /// A list of such objects.
    List(&'static [Field]),
    /// Known to nats-server, not implemented here: only its zero value.
    Unsupported,
}

#[derive(Clone, Copy)]
struct Field(&'static str, Kind);

use Kind::{Any, List, Object, Unsupported};

const PLACEMENT: &[Field] = &[Field("cluster", Any), Field("tags", Any), Field("preferred", Any)];

const TRANSFORM: &[Field] = &[Field("src", Any), Field("dest", Any)];

const REPUBLISH: &[Field] = &[Field("src", Any), Field("dest", Any), Field("headers_only", Any)];

const EXTERNAL: &[Field] = &[Field("api", Any), Field("deliver", Any)];

const SOURCE: &[Field] = &[
    Field("name", Any),
    Field("opt_start_seq", Any),
    Field("opt_start_time", Any),
    Field("filter_subject", Any),
    Field("subject_transforms", List(TRANSFORM)),
    Field("external", Object(EXTERNAL)),
    // A durable sourcing consumer (nats-server 2.14).
    Field("consumer", Unsupported),
];

const CONSUMER_LIMITS: &[Field] = &[Field("inactive_threshold", Any), Field("max_ack_pending", Any)];

/// A stream create or update request: the stream configuration and
/// `pedantic`.
const STREAM_CONFIG: &[Field] = &[
    Field("name", Any),
    Field("description", Any),
    Field("subjects", Any),
    Field("retention", Any),
    Field("max_consumers", Any),
    Field("max_msgs", Any),
    Field("max_bytes", Any),
    Field("max_age", Any),
    Field("max_msgs_per_subject", Any),
    Field("max_msg_size", Any),
    Field("discard", Any),
    Field("storage", Any),
    Field("num_replicas", Any),
    Field("no_ack", Any),
    Field("duplicate_window", Any),
    Field("placement", Object(PLACEMENT)),
    Field("mirror", Object(SOURCE)),
    Field("sources", List(SOURCE)),
    Field("compression", Any),
    Field("first_seq", Any),
    Field("subject_transform", Object(TRANSFORM)),
    Field("republish", Object(REPUBLISH)),
    Field("allow_direct", Any),
    Field("mirror_direct", Any),
    Field("discard_new_per_subject", Any),
    Field("sealed", Any),
    Field("deny_delete", Any),
    Field("deny_purge", Any),
    Field("allow_rollup_hdrs", Any),
    Field("consumer_limits", Object(CONSUMER_LIMITS)),
    Field("metadata", Any),
    // Kept and shown: nats-py sets it on every key-value bucket. A message
    // that carries a TTL is refused (`Stream::accept`).
    Field("allow_msg_ttl", Any),
    Field("subject_delete_marker_ttl", Unsupported),
    Field("allow_msg_counter", Unsupported),
    Field("allow_atomic", Unsupported),
    Field("allow_msg_schedules", Unsupported),
    Field("persist_mode", Unsupported),
    Field("allow_batched", Unsupported),
    Field("pedantic", Unsupported),
];

const CONSUMER_CONFIG: &[Field] = &[
    Field("durable_name", Any),
    Field("name", Any),
    Field("description", Any),
    Field("deliver_policy", Any),
    Field("opt_start_seq", Any),
    Field("opt_start_time", Any),
    Field("ack_policy", Any),
    Field("ack_wait", Any),
    Field("max_deliver", Any),
    Field("backoff", Any),
    Field("filter_subject", Any),
    Field("filter_subjects", Any),
    Field("replay_policy", Any),
    Field("rate_limit_bps", Any),
    Field("sample_freq", Any),
    Field("max_waiting", Any),
    Field("max_ack_pending", Any),
    Field("flow_control", Any),
    Field("headers_only", Any),
    Field("max_batch", Any),
    Field("max_expires", Any),
    Field("max_bytes", Any),
    Field("deliver_subject", Any),
    Field("deliver_group", Any),
    Field("idle_heartbeat", Any),
    Field("inactive_threshold", Any),
    Field("num_replicas", Any),
    Field("mem_storage", Any),
    Field("metadata", Any),
    Field("direct", Unsupported),
    Field("sourcing", Unsupported),
    Field("pause_until", Unsupported),
    Field("priority_groups", Unsupported),
    Field("priority_policy", Unsupported),
    Field("priority_timeout", Unsupported),
];

/// A consumer create request.
const CONSUMER_CREATE: &[Field] = &[
    Field("stream_name", Any),
    Field("config", Object(CONSUMER_CONFIG)),
    Field("action", Any),
    Field("pedantic", Unsupported),
];

/// Whether a value is its field's zero value (what nats-server's clients
/// send for a feature they do not use).
fn is_zero(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty() || s == "default" || s == "none",
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

fn unknown(name: &str) -> ApiError {
    ApiError::invalid_json(format!("json: unknown field {name:?}"))
}

fn check(value: &Value, fields: &[Field], strict: bool) -> Result<(), ApiError> {
    let Value::Object(map) = value else {
        // Not an object: the typed reading answers for it.
        return Ok(());
    };
    for (key, v) in map {
        // Go matches field names without regard to case.
        match fields.iter().find(|f| f.0.eq_ignore_ascii_case(key)) {
            None if strict => return Err(unknown(key)),
            None => {}
            Some(Field(_, Any)) => {}
            Some(Field(_, Object(inner))) => check(v, inner, strict)?,
            Some(Field(_, List(inner))) => {
                if let Value::Array(items) = v {
                    for item in items {
                        check(item, inner, strict)?;
                    }
                }
            }
            Some(Field(name, Unsupported)) if !is_zero(v) => return Err(unknown(name)),
            Some(Field(_, Unsupported)) => {}
        }
    }
    Ok(())
}

/// Checks a stream create or update request.
pub fn stream_request(value: &Value, strict: bool) -> Result<(), ApiError> {
    check(value, STREAM_CONFIG, strict)
}

/// Checks a consumer create request.
pub fn consumer_request(value: &Value, strict: bool) -> Result<(), ApiError> {
    check(value, CONSUMER_CREATE, strict)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn text(r: Result<(), ApiError>) -> String {
        let e = r.unwrap_err();
        format!("{} {} {}", e.code, e.err_code, e.description)
    }

    #[test]
    fn unknown_fields_at_every_level_are_refused_in_nats_servers_words() {
        let ok = json!({"name": "S", "subjects": ["a"], "metadata": {"anything": "goes"},
                        "sources": [{"name": "O", "subject_transforms": [{"src": "a", "dest": "b"}]}],
                        "allow_msg_ttl": true, "persist_mode": "default", "Max_Msgs": 5});
        assert!(stream_request(&ok, true).is_ok());
        assert_eq!(
            text(stream_request(&json!({"name": "S", "foo": 1}), true)),
            "400 10025 invalid JSON: json: unknown field \"foo\""
        );
        assert_eq!(
            text(stream_request(
                &json!({"name": "S", "sources": [{"name": "O", "bar": 1}]}),
                true
            )),
            "400 10025 invalid JSON: json: unknown field \"bar\""
        );
        assert_eq!(
            text(stream_request(
                &json!({"name": "S", "placement": {"zone": "x"}}),
                true
            )),
            "400 10025 invalid JSON: json: unknown field \"zone\""
        );
        assert_eq!(
            text(consumer_request(
                &json!({"stream_name": "S", "config": {"bogus": true}}),
                true
            )),
            "400 10025 invalid JSON: json: unknown field \"bogus\""
        );
        // Not strict: unknown fields pass, unimplemented features do not.
        assert!(stream_request(&json!({"name": "S", "foo": 1}), false).is_ok());
        assert_eq!(
            text(stream_request(
                &json!({"name": "S", "allow_msg_counter": true}),
                false
            )),
            "400 10025 invalid JSON: json: unknown field \"allow_msg_counter\""
        );
        assert!(consumer_request(&json!({"config": {"priority_policy": "none"}}), true).is_ok());
        assert!(consumer_request(&json!({"config": {"priority_policy": "overflow"}}), true).is_err());
    }
}
