//! The errors of the JetStream API, with nats-server's HTTP-like `code`, its
//! stable `err_code` and its description, as clients match on them.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiError {
    pub code: u16,
    pub err_code: u16,
    pub description: String,
}

impl ApiError {
    pub fn new(code: u16, err_code: u16, description: impl Into<String>) -> Self {
        ApiError {
            code,
            err_code,
            description: description.into(),
        }
    }

    pub fn not_enabled() -> Self {
        Self::new(503, 10076, "JetStream not enabled")
    }
    pub fn not_enabled_for_account() -> Self {
        Self::new(503, 10039, "JetStream not enabled for account")
    }
    pub fn bad_request() -> Self {
        Self::new(400, 10003, "bad request")
    }
    pub fn invalid_json(err: impl std::fmt::Display) -> Self {
        Self::new(400, 10025, format!("invalid JSON: {err}"))
    }
    pub fn stream_not_found() -> Self {
        Self::new(404, 10059, "stream not found")
    }
    pub fn stream_name_exist() -> Self {
        Self::new(
            400,
            10058,
            "stream name already in use with a different configuration",
        )
    }
    pub fn stream_mismatch() -> Self {
        Self::new(400, 10056, "stream name in subject does not match request")
    }
    pub fn subject_overlap() -> Self {
        Self::new(400, 10065, "subjects overlap with an existing stream")
    }
    pub fn stream_invalid_config(err: impl std::fmt::Display) -> Self {
        Self::new(500, 10052, err.to_string())
    }
    pub fn stream_create(err: impl std::fmt::Display) -> Self {
        Self::new(500, 10049, err.to_string())
    }
    pub fn stream_update(err: impl std::fmt::Display) -> Self {
        Self::new(500, 10069, err.to_string())
    }
    pub fn stream_delete(err: impl std::fmt::Display) -> Self {
        Self::new(500, 10050, err.to_string())
    }
    pub fn store_failed(err: impl std::fmt::Display) -> Self {
        Self::new(503, 10077, err.to_string())
    }
    pub fn no_message_found() -> Self {
        Self::new(404, 10037, "no message found")
    }
    pub fn sequence_not_found(seq: u64) -> Self {
        Self::new(400, 10043, format!("sequence {seq} not found"))
    }
    pub fn message_too_big() -> Self {
        Self::new(400, 10054, "message size exceeds maximum allowed")
    }
    pub fn stream_not_match() -> Self {
        Self::new(400, 10060, "expected stream does not match")
    }
    pub fn wrong_last_sequence(seq: u64) -> Self {
        Self::new(400, 10071, format!("wrong last sequence: {seq}"))
    }
    pub fn wrong_last_msg_id(id: &str) -> Self {
        Self::new(400, 10070, format!("wrong last msg ID: {id}"))
    }
    pub fn stream_limits(err: impl std::fmt::Display) -> Self {
        Self::new(500, 10053, err.to_string())
    }
    pub fn sealed() -> Self {
        Self::new(400, 10109, "invalid operation on sealed stream")
    }
    pub fn purge_failed(err: impl std::fmt::Display) -> Self {
        Self::new(500, 10110, err.to_string())
    }
    pub fn msg_delete_failed(err: impl std::fmt::Display) -> Self {
        Self::new(500, 10057, err.to_string())
    }
    pub fn replicas_not_supported() -> Self {
        Self::new(500, 10074, "replicas > 1 not supported in non-clustered mode")
    }
    pub fn name_has_path_separators() -> Self {
        Self::new(400, 10128, "Stream name can not contain path separators")
    }
    pub fn consumer_not_found() -> Self {
        Self::new(404, 10014, "consumer not found")
    }
    pub fn consumer_name_exist() -> Self {
        Self::new(400, 10013, "consumer name already in use")
    }
    pub fn consumer_create(err: impl std::fmt::Display) -> Self {
        Self::new(500, 10012, err.to_string())
    }
    pub fn deliver_cycle() -> Self {
        Self::new(400, 10081, "consumer deliver subject forms a cycle")
    }
    pub fn consumer_name_mismatch() -> Self {
        Self::new(
            400,
            10017,
            "consumer name in subject does not match durable name in request",
        )
    }
    pub fn max_consumers() -> Self {
        Self::new(400, 10026, "maximum consumers limit reached")
    }
    pub fn mirror_with_subjects() -> Self {
        Self::new(400, 10034, "stream mirrors can not contain subjects")
    }
    pub fn mirror_with_sources() -> Self {
        Self::new(400, 10031, "stream mirrors can not also contain other sources")
    }
    pub fn account_resources_exceeded() -> Self {
        Self::new(400, 10002, "resource limits exceeded for account")
    }
    pub fn insufficient_resources() -> Self {
        Self::new(503, 10023, "insufficient resources")
    }
    pub fn maximum_streams() -> Self {
        Self::new(400, 10027, "maximum number of streams reached")
    }
    pub fn max_bytes_required() -> Self {
        Self::new(
            400,
            10113,
            "account requires a stream config to have max bytes set",
        )
    }
    pub fn max_stream_bytes_exceeded() -> Self {
        Self::new(
            400,
            10122,
            "stream max bytes exceeds account limit max stream bytes",
        )
    }
    pub fn max_ack_pending_exceeded(limit: i64) -> Self {
        Self::new(
            400,
            10121,
            format!("consumer max ack pending exceeds system limit of {limit}"),
        )
    }
    pub fn no_limits() -> Self {
        Self::new(
            400,
            10120,
            "no JetStream default or applicable tiered limit present",
        )
    }
}
