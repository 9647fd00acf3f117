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
    pub fn invalid_json(err: impl std::fmt::Display) -> Self {
        Self::new(400, 10025, format!("invalid JSON: {err}"))
    }
    pub fn sequence_not_found(seq: u64) -> Self {
        Self::new(400, 10043, format!("sequence {seq} not found"))
    }
    pub fn wrong_last_sequence(seq: u64) -> Self {
        Self::new(400, 10071, format!("wrong last sequence: {seq}"))
    }
    pub fn wrong_last_msg_id(id: &str) -> Self {
        Self::new(400, 10070, format!("wrong last msg ID: {id}"))
    }
    pub fn max_ack_pending_exceeded(limit: i64) -> Self {
        Self::new(
            400,
            10121,
            format!("consumer max ack pending exceeds system limit of {limit}"),
        )
    }
}

/// Errors whose description is fixed: `name => (code, err_code, description)`.
macro_rules! fixed_errors {
    ($($name:ident => ($code:literal, $err_code:literal, $description:literal),)*) => {
        impl ApiError {
            $(pub fn $name() -> Self {
                Self::new($code, $err_code, $description)
            })*
        }
    };
}

/// Errors whose description is the text of the failure that caused them.
macro_rules! failure_errors {
    ($($name:ident => ($code:literal, $err_code:literal),)*) => {
        impl ApiError {
            $(pub fn $name(err: impl std::fmt::Display) -> Self {
                Self::new($code, $err_code, err.to_string())
            })*
        }
    };
}

fixed_errors! {
    not_enabled => (503, 10076, "JetStream not enabled"),
    not_enabled_for_account => (503, 10039, "JetStream not enabled for account"),
    bad_request => (400, 10003, "bad request"),
    stream_not_found => (404, 10059, "stream not found"),
    stream_name_exist => (400, 10058, "stream name already in use with a different configuration"),
    stream_mismatch => (400, 10056, "stream name in subject does not match request"),
    subject_overlap => (400, 10065, "subjects overlap with an existing stream"),
    no_message_found => (404, 10037, "no message found"),
    message_too_big => (400, 10054, "message size exceeds maximum allowed"),
    stream_not_match => (400, 10060, "expected stream does not match"),
    sealed => (400, 10109, "invalid operation on sealed stream"),
    replicas_not_supported => (500, 10074, "replicas > 1 not supported in non-clustered mode"),
    name_has_path_separators => (400, 10128, "Stream name can not contain path separators"),
    consumer_not_found => (404, 10014, "consumer not found"),
    consumer_name_exist => (400, 10013, "consumer name already in use"),
    deliver_cycle => (400, 10081, "consumer deliver subject forms a cycle"),
    consumer_name_mismatch => (400, 10017, "consumer name in subject does not match durable name in request"),
    max_consumers => (400, 10026, "maximum consumers limit reached"),
    mirror_with_subjects => (400, 10034, "stream mirrors can not contain subjects"),
    mirror_with_sources => (400, 10031, "stream mirrors can not also contain other sources"),
    account_resources_exceeded => (400, 10002, "resource limits exceeded for account"),
    insufficient_resources => (503, 10023, "insufficient resources"),
    maximum_streams => (400, 10027, "maximum number of streams reached"),
    max_bytes_required => (400, 10113, "account requires a stream config to have max bytes set"),
    max_stream_bytes_exceeded => (400, 10122, "stream max bytes exceeds account limit max stream bytes"),
    no_limits => (400, 10120, "no JetStream default or applicable tiered limit present"),
}

failure_errors! {
    stream_invalid_config => (500, 10052),
    stream_create => (500, 10049),
    stream_update => (500, 10069),
    stream_delete => (500, 10050),
    store_failed => (503, 10077),
    stream_limits => (500, 10053),
    purge_failed => (500, 10110),
    msg_delete_failed => (500, 10057),
    consumer_create => (500, 10012),
}
