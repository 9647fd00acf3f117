//! The `$JS.API` request/reply API: one internal subscriber per account on
//! `$JS.API.>`, answering with nats-server's JSON (`io.nats.jetstream.api.v1.*`
//! types) and its error codes.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use data_encoding::BASE64;
use serde::Deserialize;
use serde_json::{json, Value};

use super::config::StreamConfig;
use super::consumer::ConsumerConfig;
use super::errors::ApiError;
use super::headers;
use super::stream::{rfc3339, state_json, Stream};
use super::{JetStream, JsAccount};
use crate::account::Account;
use crate::outlet::Producer;
use crate::subscription::{Message, Subscriber, Subscription};

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

#[derive(Deserialize, Default)]
#[serde(default)]
struct InfoRequest {
    subjects_filter: Option<String>,
    deleted_details: bool,
    offset: usize,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ListRequest {
    offset: usize,
    subject: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PurgeRequest {
    filter: Option<String>,
    seq: Option<u64>,
    keep: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct MsgGetRequest {
    seq: u64,
    last_by_subj: Option<String>,
    next_by_subj: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct MsgDeleteRequest {
    seq: u64,
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

    /// A stream configuration from a create or update request.
    fn config_for(&self, body: &[u8]) -> Result<StreamConfig, ApiError> {
        let value: Value = serde_json::from_slice(body).map_err(ApiError::invalid_json)?;
        super::strict::stream_request(&value, self.js.config.strict)?;
        serde_json::from_value(value).map_err(typed_json_error)
    }

    /// `STREAM.CREATE.<name>`, checked in nats-server's order: the name in
    /// the subject (a request without one does not match), path separators,
    /// what only a create refuses, then the configuration itself.
    fn stream_create(&self, acc: &JsAccount, name: &str, body: &[u8]) -> Reply {
        let config = self.config_for(body)?;
        if config.name != name {
            return Err(ApiError::stream_mismatch());
        }
        if config.name.contains(['/', '\\']) {
            return Err(ApiError::name_has_path_separators());
        }
        if config.sealed {
            return Err(ApiError::stream_invalid_config(
                "stream configuration for create can not be sealed",
            ));
        }
        if config.mirror_direct && config.mirror.as_ref().is_none_or(Value::is_null) {
            return Err(ApiError::stream_invalid_config(
                "stream has no mirror but does have mirror direct",
            ));
        }
        let stream = acc.create_stream(config)?;
        Ok(info(&stream, None))
    }

    /// `STREAM.UPDATE.<name>`: the configuration is checked before the name.
    fn stream_update(&self, acc: &JsAccount, name: &str, body: &[u8]) -> Reply {
        let config = self.config_for(body)?.normalize()?;
        if config.name != name {
            return Err(ApiError::stream_mismatch());
        }
        let stream = acc.update_stream(config)?;
        Ok(info(&stream, None))
    }

    fn stream_info(&self, acc: &JsAccount, name: &str, body: &[u8]) -> Reply {
        let req: InfoRequest = parse(body)?;
        let stream = acc.stream(name).ok_or_else(ApiError::stream_not_found)?;
        let _ = req.offset;
        let info = info(&stream, req.subjects_filter.as_deref());
        // nats-server's paging fields come first: how many subjects the
        // filter matched, from where, and its page size.
        let total = info["state"]["subjects"].as_object().map_or(0, |m| m.len());
        let mut v = json!({
            "total": total,
            "offset": 0,
            "limit": if total > 0 { SUBJECTS_LIMIT } else { 0 },
        });
        if let (Some(map), Value::Object(rest)) = (v.as_object_mut(), info) {
            map.extend(rest);
        }
        if req.deleted_details {
            let deleted = stream.deleted();
            if !deleted.is_empty() {
                v["state"]["deleted"] = json!(deleted);
            }
        }
        Ok(self.with_domain(v))
    }

    /// Adds the server's JetStream `domain`, as nats-server does in stream
    /// infos (not in create and update answers).
    fn with_domain(&self, mut v: Value) -> Value {
        if let (Some(domain), Some(map)) = (&self.js.config.domain, v.as_object_mut()) {
            map.insert("domain".into(), json!(domain));
        }
        v
    }

    fn matching_streams(acc: &JsAccount, subject: Option<&str>) -> Vec<Arc<Stream>> {
        acc.streams()
            .into_iter()
            .filter(|s| match subject {
                Some(f) if !f.is_empty() => s.config().subjects.iter().any(|t| super::config::overlaps(f, t)),
                _ => true,
            })
            .collect()
    }

    fn stream_names(&self, acc: &JsAccount, body: &[u8]) -> Reply {
        let req: ListRequest = parse(body)?;
        let all = Self::matching_streams(acc, req.subject.as_deref());
        let names: Vec<&str> = all
            .iter()
            .skip(req.offset)
            .take(NAMES_LIMIT)
            .map(|s| s.name.as_str())
            .collect();
        Ok(json!({"total": all.len(), "offset": req.offset, "limit": NAMES_LIMIT, "streams": names}))
    }

    fn stream_list(&self, acc: &JsAccount, body: &[u8]) -> Reply {
        let req: ListRequest = parse(body)?;
        let all = Self::matching_streams(acc, req.subject.as_deref());
        let infos: Vec<Value> = all
            .iter()
            .skip(req.offset)
            .take(LIST_LIMIT)
            .map(|s| self.with_domain(info(s, None)))
            .collect();
        Ok(
            json!({"total": all.len(), "offset": req.offset, "limit": LIST_LIMIT, "streams": infos, "missing": []}),
        )
    }

    fn stream_purge(&self, acc: &JsAccount, name: &str, body: &[u8]) -> Reply {
        let req: PurgeRequest = parse(body)?;
        let stream = acc.stream(name).ok_or_else(ApiError::stream_not_found)?;
        if req.seq.is_some() && req.keep.is_some() {
            return Err(ApiError::bad_request());
        }
        let purged = stream.purge(req.filter.as_deref(), req.seq, req.keep)?;
        Ok(json!({"success": true, "purged": purged}))
    }

    fn find(stream: &Stream, req: &MsgGetRequest) -> Result<super::store::StoredMsg, ApiError> {
        let found = match (&req.last_by_subj, &req.next_by_subj) {
            (Some(subject), _) => stream.last_for(subject)?,
            (None, Some(subject)) => stream.next_for(req.seq, Some(subject))?,
            (None, None) if req.seq > 0 => stream.get(req.seq)?,
            (None, None) => return Err(ApiError::bad_request()),
        };
        found.ok_or_else(ApiError::no_message_found)
    }

    fn msg_get(&self, acc: &JsAccount, name: &str, body: &[u8]) -> Reply {
        let req: MsgGetRequest = parse(body)?;
        let stream = acc.stream(name).ok_or_else(ApiError::stream_not_found)?;
        let m = Self::find(&stream, &req)?;
        let mut message = json!({
            "subject": String::from_utf8_lossy(&m.subject),
            "seq": m.seq,
            "data": BASE64.encode(&m.payload),
            "time": rfc3339(m.time),
        });
        if !m.headers.is_empty() {
            message["hdrs"] = json!(BASE64.encode(&m.headers));
        }
        Ok(json!({"message": message}))
    }

    fn msg_delete(&self, acc: &JsAccount, name: &str, body: &[u8]) -> Reply {
        let req: MsgDeleteRequest = parse(body)?;
        let stream = acc.stream(name).ok_or_else(ApiError::stream_not_found)?;
        if stream.delete_msg(req.seq)? {
            Ok(json!({"success": true}))
        } else {
            Err(ApiError::sequence_not_found(req.seq))
        }
    }

    /// `CONSUMER.CREATE.<stream>[.<consumer>[.<filter>]]` or
    /// `CONSUMER.DURABLE.CREATE.<stream>.<durable>`.
    fn consumer_create(&self, acc: &JsAccount, rest: &str, body: &[u8], durable: bool) -> Reply {
        #[derive(Deserialize)]
        struct CreateRequest {
            #[serde(default)]
            stream_name: String,
            config: Option<ConsumerConfig>,
            #[serde(default)]
            action: String,
        }
        let mut parts = rest.splitn(3, '.');
        let stream_name = parts.next().unwrap_or_default();
        let name_in_subject = parts.next().map(str::to_string);
        let filter_in_subject = parts.next().map(str::to_string);
        let value: Value = serde_json::from_slice(body).map_err(ApiError::invalid_json)?;
        super::strict::consumer_request(&value, self.js.config.strict)?;
        let req: CreateRequest = serde_json::from_value(value).map_err(typed_json_error)?;
        // nats-server's order: the stream in the subject, path separators,
        // the durable name against the subject, the filter in the
        // subject, replicas, and only then the stream itself.
        if req.stream_name != stream_name {
            return Err(ApiError::stream_mismatch());
        }
        let Some(mut config) = req.config else {
            return Err(ApiError::new(400, 10078, "consumer config required"));
        };
        let consumer_name = name_in_subject.as_deref().unwrap_or(&config.name);
        if consumer_name.contains(['/', '\\']) {
            return Err(ApiError::new(
                400,
                10127,
                "Consumer name can not contain path separators",
            ));
        }
        match (&name_in_subject, durable) {
            (Some(name), true) => {
                if config.durable_name.is_empty() {
                    return Err(ApiError::new(
                        400,
                        10018,
                        "consumer expected to be durable but a durable name was not set",
                    ));
                }
                if &config.durable_name != name {
                    return Err(ApiError::consumer_name_mismatch());
                }
                config.name = name.clone();
            }
            (None, true) => return Err(ApiError::bad_request()),
            (Some(name), false) => {
                if !config.durable_name.is_empty() && &config.durable_name != name {
                    return Err(ApiError::consumer_name_mismatch());
                }
                // The subject names it; a different `name` in the body gives way.
                config.name = name.clone();
            }
            (None, false) => {
                if !config.durable_name.is_empty() {
                    return Err(ApiError::new(
                        400,
                        10020,
                        "consumer expected to be ephemeral but a durable name was set in request",
                    ));
                }
            }
        }
        if let Some(filter) = &filter_in_subject {
            if !config.filter_subjects.is_empty() {
                return Err(ApiError::new(
                    400,
                    10137,
                    "consumer with multiple subject filters cannot use subject based API",
                ));
            }
            if &config.filter_subject != filter {
                return Err(ApiError::new(
                    400,
                    10131,
                    "Consumer create request did not match filtered subject from create subject",
                ));
            }
        }
        if config.num_replicas > 1 {
            return Err(ApiError::replicas_not_supported());
        }
        let stream = acc.stream(stream_name).ok_or_else(ApiError::stream_not_found)?;
        let limits = acc.limits();
        if limits.max_ack_pending > 0 {
            if config.max_ack_pending > limits.max_ack_pending {
                return Err(ApiError::max_ack_pending_exceeded(limits.max_ack_pending));
            }
            if config.max_ack_pending == 0 && config.ack_policy != super::consumer::AckPolicy::None {
                config.max_ack_pending = limits
                    .max_ack_pending
                    .min(super::consumer::DEFAULT_MAX_ACK_PENDING);
            }
        }
        let max = limits.max_consumers;
        let exists = [
            &name_in_subject,
            &Some(config.durable_name.clone()),
            &Some(config.name.clone()),
        ]
        .into_iter()
        .flatten()
        .any(|n| !n.is_empty() && stream.consumer(n).is_some());
        if max >= 0 && !exists && acc.consumer_count() as i64 >= max {
            return Err(ApiError::max_consumers());
        }
        let consumer = stream.add_consumer(name_in_subject, config, &req.action)?;
        Ok(consumer.info(&stream))
    }

    fn consumer_target(acc: &JsAccount, rest: &str) -> Result<(Arc<Stream>, String), ApiError> {
        let (stream, consumer) = rest.split_once('.').ok_or_else(ApiError::bad_request)?;
        let stream = acc.stream(stream).ok_or_else(ApiError::stream_not_found)?;
        Ok((stream, consumer.to_string()))
    }

    fn consumer_info(&self, acc: &JsAccount, rest: &str) -> Reply {
        let (stream, name) = Self::consumer_target(acc, rest)?;
        let consumer = stream.consumer(&name).ok_or_else(ApiError::consumer_not_found)?;
        Ok(consumer.info(&stream))
    }

    fn consumer_delete(&self, acc: &JsAccount, rest: &str) -> Reply {
        let (stream, name) = Self::consumer_target(acc, rest)?;
        if stream.remove_consumer(&name) {
            Ok(json!({"success": true}))
        } else {
            Err(ApiError::consumer_not_found())
        }
    }

    fn consumer_names(&self, acc: &JsAccount, stream: &str, body: &[u8]) -> Reply {
        let req: ListRequest = parse(body)?;
        let stream = acc.stream(stream).ok_or_else(ApiError::stream_not_found)?;
        let all = stream.consumers();
        let names: Vec<&str> = all
            .iter()
            .skip(req.offset)
            .take(NAMES_LIMIT)
            .map(|c| c.name.as_str())
            .collect();
        Ok(json!({"total": all.len(), "offset": req.offset, "limit": NAMES_LIMIT, "consumers": names}))
    }

    fn consumer_list(&self, acc: &JsAccount, stream: &str, body: &[u8]) -> Reply {
        let req: ListRequest = parse(body)?;
        let stream = acc.stream(stream).ok_or_else(ApiError::stream_not_found)?;
        let all = stream.consumers();
        let infos: Vec<Value> = all
            .iter()
            .skip(req.offset)
            .take(LIST_LIMIT)
            .map(|c| c.info(&stream))
            .collect();
        Ok(
            json!({"total": all.len(), "offset": req.offset, "limit": LIST_LIMIT, "consumers": infos, "missing": []}),
        )
    }

    /// `DIRECT.GET.<stream>` with a request, or `DIRECT.GET.<stream>.<subject>`
    /// for the last message on a subject: the message itself, with its
    /// stream, subject, sequence and time in headers.
    fn direct_get(&self, acc: &JsAccount, rest: &str, body: &[u8]) -> Answer {
        let (name, subject) = match rest.split_once('.') {
            Some((n, s)) => (n, Some(s)),
            None => (rest, None),
        };
        let status = |code: u16, text: &str| Answer::Raw {
            headers: headers::status(code, text, &[]),
            payload: Vec::new(),
        };
        let Some(stream) = acc.stream(name).filter(|s| s.config().allow_direct) else {
            return status(404, "Message Not Found");
        };
        let req = match subject {
            Some(s) => MsgGetRequest {
                last_by_subj: Some(s.to_string()),
                ..MsgGetRequest::default()
            },
            None => match parse::<MsgGetRequest>(body) {
                Ok(r) => r,
                Err(_) => return status(408, "Bad Request"),
            },
        };
        match Self::find(&stream, &req) {
            Ok(m) => {
                let mut h = vec![
                    ("Nats-Stream", stream.name.clone()),
                    ("Nats-Subject", String::from_utf8_lossy(&m.subject).into_owned()),
                    ("Nats-Sequence", m.seq.to_string()),
                    ("Nats-Time-Stamp", rfc3339(m.time)),
                ];
                // The message's own headers follow the server's.
                let extra = headers::pairs(&m.headers);
                let mut pairs: Vec<(&str, String)> = std::mem::take(&mut h);
                for (k, v) in &extra {
                    pairs.push((k.as_str(), v.clone()));
                }
                Answer::Raw {
                    headers: headers::block(&pairs),
                    payload: m.payload.to_vec(),
                }
            }
            Err(e) if e.code == 404 => status(404, "Message Not Found"),
            Err(_) => status(408, "Bad Request"),
        }
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

/// A stream info as nats-server shapes it.
pub fn info(stream: &Stream, subjects_filter: Option<&str>) -> Value {
    let config = stream.config();
    let state = stream.state();
    let mut extra = serde_json::Map::new();
    let subjects = stream.num_subjects();
    if subjects > 0 {
        extra.insert("num_subjects".into(), json!(subjects));
    }
    if let Some(filter) = subjects_filter.filter(|f| !f.is_empty()) {
        // As nats-server: no `subjects` at all when none matches.
        let subjects = stream.subjects(filter);
        if !subjects.is_empty() {
            extra.insert("subjects".into(), Value::Object(subjects));
        }
    }
    json!({
        "config": config,
        "created": rfc3339(stream.created()),
        "state": state_json(&state, stream.consumer_count(), extra),
        "ts": rfc3339(super::stream::now_nanos()),
    })
}

impl Subscriber for Api {
    fn client_id(&self) -> u64 {
        0
    }

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
                crate::router::publish_full(&account, reply, None, &block, b"", producer);
            } else {
                let e = ApiError::new(412, 10185, "JetStream minimum api level required");
                let payload =
                    serde_json::to_vec(&json!({"type": "io.nats.jetstream.api.v1.api_error", "error": e}))
                        .unwrap_or_default();
                crate::router::publish_internal_with(&account, reply, &payload, producer);
            }
            return;
        }
        if let (Some(rest), Some(acc)) = (op.strip_prefix("CONSUMER.MSG.NEXT."), &acc) {
            // Answered by the consumer's messages, or a status, not JSON.
            let consumer = rest
                .split_once('.')
                .and_then(|(s, c)| acc.stream(s).and_then(|s| s.consumer(c)));
            match consumer {
                Some(c) => c.pull(reply, body),
                None => {
                    let block = headers::status(404, "Consumer Not Found", &[]);
                    crate::router::publish_full(&account, reply, None, &block, b"", producer);
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
                crate::router::publish_internal_with(&account, reply, &payload, producer);
            }
            Answer::Raw { headers, payload } => {
                crate::router::publish_full(&account, reply, None, &headers, &payload, producer);
            }
        }
    }

    fn expire(&self, _sub: &Arc<Subscription>) {}
}
