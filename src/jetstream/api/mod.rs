//! The `$JS.API` request/reply API: one internal subscriber per account on
//! `$JS.API.>`, answering with nats-server's JSON (`io.nats.jetstream.api.v1.*`
//! types) and its error codes.
//!
//! Here: the API subscriber, the dispatch by verb, account info, strict
//! reading and the API level. Beside it: `streams` and `consumers`.

mod consumers;
mod streams;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{json, Value};

use super::accounts::{JetStream, JsAccount};
use super::errors::ApiError;
use super::headers;
use crate::account::Account;
use crate::outlet::Producer;
use crate::subscription::{Message, Subscriber, Subscription};
use bytes::Bytes;

pub use streams::info;

/// Most stream names in one `STREAM.NAMES` answer, as nats-server.
const NAMES_LIMIT: usize = 1024;
/// Most stream infos in one `STREAM.LIST` answer.
const LIST_LIMIT: usize = 256;
/// Most subjects in a stream info's `state.subjects`, as nats-server.
const SUBJECTS_LIMIT: usize = 100_000;
/// The JetStream API level served: nats-server 2.10's feature set (2.11
/// is level 1: per-message TTL, consumer pause, priority groups).
const API_LEVEL: u64 = 0;

/// Whether a request's `Nats-Required-Api-Level` asks for more than this
/// server serves (or is not a number), as nats-server 2.11+ checks it.
fn above_api_level(headers: &[u8]) -> bool {
    headers::get(headers, "Nats-Required-Api-Level")
        .is_some_and(|v| v.parse::<u64>().map_or(true, |l| l > API_LEVEL))
}

/// Installs the `$JS.API.>` handler in `account` (and `$JS.<domain>.API.>`
/// with a domain). An account without JetStream gets nats-server's error.
pub fn install(js: &Arc<JetStream>, account: &Arc<Account>) {
    if !js.mark_api_installed(&account.name) {
        return;
    }
    let api: Arc<dyn crate::subscription::Subscriber> = Arc::new(Api::new(js.clone(), account));
    let mut subjects = vec![Bytes::from_static(b"$JS.API.>")];
    if let Some(domain) = &js.config.domain {
        subjects.push(Bytes::from(format!("$JS.{domain}.API.>")));
    }
    for subject in subjects {
        account.subscribe_service(subject, api.clone());
    }
}

pub struct Api {
    js: Arc<JetStream>,
    account: std::sync::Weak<Account>,
}

type Reply = Result<Value, ApiError>;

/// What a handler answers: JSON, or a raw message (direct get).
enum Answer {
    Json(&'static str, Reply),
    Raw { headers: Vec<u8>, payload: Vec<u8> },
}

/// A request body; empty or `null` (as some clients send) means defaults.
fn parse<'a, T: Deserialize<'a> + Default>(body: &'a [u8]) -> Result<T, ApiError> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(T::default());
    }
    serde_json::from_slice::<Option<T>>(body)
        .map(Option::unwrap_or_default)
        .map_err(ApiError::invalid_json)
}

impl Api {
    pub fn new(js: Arc<JetStream>, account: &Arc<Account>) -> Self {
        Api {
            js,
            account: Arc::downgrade(account),
        }
    }

    /// `acc` is `None` when the account has no JetStream (looked up on each
    /// call: an account JWT update may turn it on or off).
    fn answer(&self, acc: Option<&Arc<JsAccount>>, op: &str, body: &[u8]) -> Answer {
        let Some(acc) = acc else {
            return Answer::Json("error", Err(ApiError::not_enabled_for_account()));
        };
        let (verb, name) = split_op(op);
        match verb {
            "INFO" => Answer::Json("account_info_response", Ok(self.account_info(acc))),
            "STREAM.CREATE" => Answer::Json("stream_create_response", self.stream_create(acc, name, body)),
            "STREAM.UPDATE" => Answer::Json("stream_update_response", self.stream_update(acc, name, body)),
            "STREAM.INFO" => Answer::Json("stream_info_response", self.stream_info(acc, name, body)),
            "STREAM.DELETE" => Answer::Json(
                "stream_delete_response",
                acc.delete_stream(name).map(|()| json!({"success": true})),
            ),
            "STREAM.NAMES" => Answer::Json("stream_names_response", self.stream_names(acc, body)),
            "STREAM.LIST" => Answer::Json("stream_list_response", self.stream_list(acc, body)),
            "STREAM.PURGE" => Answer::Json("stream_purge_response", self.stream_purge(acc, name, body)),
            "STREAM.MSG.GET" => Answer::Json("stream_msg_get_response", self.msg_get(acc, name, body)),
            "STREAM.MSG.DELETE" => {
                Answer::Json("stream_msg_delete_response", self.msg_delete(acc, name, body))
            }
            "DIRECT.GET" => self.direct_get(acc, name, body),
            "CONSUMER.CREATE" => Answer::Json(
                "consumer_create_response",
                self.consumer_create(acc, name, body, false),
            ),
            "CONSUMER.DURABLE.CREATE" => Answer::Json(
                "consumer_create_response",
                self.consumer_create(acc, name, body, true),
            ),
            "CONSUMER.INFO" => Answer::Json("consumer_info_response", self.consumer_info(acc, name)),
            "CONSUMER.DELETE" => Answer::Json("consumer_delete_response", self.consumer_delete(acc, name)),
            "CONSUMER.NAMES" => Answer::Json("consumer_names_response", self.consumer_names(acc, name, body)),
            "CONSUMER.LIST" => Answer::Json("consumer_list_response", self.consumer_list(acc, name, body)),
            _ => Answer::Json("error", Err(ApiError::bad_request())),
        }
    }

    fn account_info(&self, acc: &JsAccount) -> Value {
        let (mut memory, mut storage) = (0u64, 0u64);
        let streams = acc.streams();
        for s in &streams {
            let bytes = s.state().bytes;
            match s.config().storage {
                super::config::Storage::Memory => memory += bytes,
                super::config::Storage::File => storage += bytes,
            }
        }
        let limits = acc.limits();
        let mut v = json!({
            "memory": memory,
            "storage": storage,
            "reserved_memory": 0,
            "reserved_storage": 0,
            "streams": streams.len(),
            "consumers": streams.iter().map(|s| s.consumer_count()).sum::<usize>(),
            "limits": {
                "max_memory": if limits.max_memory >= 0 { limits.max_memory } else { self.js.config.max_memory },
                "max_storage": if limits.max_store >= 0 { limits.max_store } else { self.js.config.max_store },
                "max_streams": limits.max_streams,
                "max_consumers": limits.max_consumers,
                "max_ack_pending": limits.max_ack_pending,
                "memory_max_stream_bytes": limits.memory_max_stream_bytes,
                "storage_max_stream_bytes": limits.storage_max_stream_bytes,
                "max_bytes_required": limits.max_bytes_required,
            },
            "domain": self.js.config.domain,
            "api": {
                "level": API_LEVEL,
                "total": acc.api_total.load(Ordering::Relaxed),
                "errors": acc.api_errors.load(Ordering::Relaxed),
            },
        });
        if let (None, Some(map)) = (&self.js.config.domain, v.as_object_mut()) {
            map.shift_remove("domain");
        }
        v
    }
}

/// `STREAM.CREATE.X` → (`STREAM.CREATE`, `X`); `INFO` → (`INFO`, ``).
fn split_op(op: &str) -> (&str, &str) {
    const VERBS: [&str; 17] = [
        "CONSUMER.DURABLE.CREATE",
        "CONSUMER.MSG.NEXT",
        "CONSUMER.CREATE",
        "CONSUMER.DELETE",
        "CONSUMER.INFO",
        "CONSUMER.NAMES",
        "CONSUMER.LIST",
        "STREAM.MSG.DELETE",
        "STREAM.MSG.GET",
        "STREAM.CREATE",
        "STREAM.UPDATE",
        "STREAM.DELETE",
        "STREAM.PURGE",
        "STREAM.INFO",
        "STREAM.NAMES",
        "STREAM.LIST",
        "DIRECT.GET",
    ];
    for verb in VERBS {
        if let Some(rest) = op.strip_prefix(verb) {
            if rest.is_empty() {
                return (verb, "");
            }
            if let Some(name) = rest.strip_prefix('.') {
                return (verb, name);
            }
        }
    }
    (op, "")
}

/// A request that is JSON but not of the configuration's types, in
/// nats-server's words where they differ from serde's: an unknown
/// enumeration value (`"retention": "foo"`) is `can not unmarshal "\"foo\""`.
fn typed_json_error(e: serde_json::Error) -> ApiError {
    let text = e.to_string();
    if let Some(rest) = text.strip_prefix("unknown variant `") {
        if let Some((value, _)) = rest.split_once('`') {
            let raw = format!("\"{value}\"");
            return ApiError::invalid_json(format!("can not unmarshal {raw:?}"));
        }
    }
    ApiError::invalid_json(text)
}

impl Subscriber for Api {
    fn deliver(&self, _sub: &Subscription, msg: &Message<'_>, producer: &mut Producer) {
        let Some(reply) = msg.reply else { return };
        let Some(account) = self.account.upgrade() else {
            return;
        };
        let subject = String::from_utf8_lossy(msg.subject);
        let op = match subject.strip_prefix("$JS.API.") {
            Some(op) => op,
            // `$JS.<domain>.API.…`, the same API reached through the domain.
            None => subject
                .strip_prefix("$JS.")
                .and_then(|s| s.split_once(".API."))
                .map(|(_, op)| op)
                .unwrap_or_default(),
        };
        let body = &msg.payload[msg.header_len.unwrap_or(0)..];
        let acc = self.js.account(&account.name);
        if above_api_level(&msg.payload[..msg.header_len.unwrap_or(0)]) {
            if op.starts_with("CONSUMER.MSG.NEXT.") {
                let block = headers::status(412, "Required Api Level", &[]);
                account.publish_full(reply, None, &block, b"", producer);
            } else {
                let e = ApiError::new(412, 10185, "JetStream minimum api level required");
                let payload =
                    serde_json::to_vec(&json!({"type": "io.nats.jetstream.api.v1.api_error", "error": e}))
                        .unwrap_or_default();
                account.publish_internal_with(reply, &payload, producer);
            }
            return;
        }
        if let (Some(rest), Some(acc)) = (op.strip_prefix("CONSUMER.MSG.NEXT."), &acc) {
            // Answered by the consumer's messages, or a status, not JSON.
            let consumer = rest
                .split_once('.')
                .and_then(|(s, c)| acc.stream(s).and_then(|s| s.consumer(c)));
            match consumer {
                // Its messages may come after the mapping of a reply from
                // another cluster lapsed: the request keeps the mapped one.
                Some(c) => c.pull(&account.reply_route(reply), body),
                None => {
                    let block = headers::status(404, "Consumer Not Found", &[]);
                    account.publish_full(reply, None, &block, b"", producer);
                }
            }
            return;
        }
        match self.answer(acc.as_ref(), op, body) {
            Answer::Json(kind, result) => {
                if let Some(acc) = &acc {
                    acc.api_total.fetch_add(1, Ordering::Relaxed);
                    if result.is_err() {
                        acc.api_errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                let mut value = match result {
                    Ok(v) => v,
                    Err(e) => json!({"error": e}),
                };
                if let Some(map) = value.as_object_mut() {
                    let kind = if kind == "error" { "api_error" } else { kind };
                    let mut typed = serde_json::Map::new();
                    typed.insert("type".into(), json!(format!("io.nats.jetstream.api.v1.{kind}")));
                    typed.extend(std::mem::take(map));
                    *map = typed;
                }
                let payload = serde_json::to_vec(&value).unwrap_or_default();
                account.publish_internal_with(reply, &payload, producer);
            }
            Answer::Raw { headers, payload } => {
                account.publish_full(reply, None, &headers, &payload, producer);
            }
        }
    }
}
