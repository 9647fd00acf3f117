//! The stream requests: create, update, info, names, list, purge, message
//! get and delete, and direct get.

use std::sync::Arc;

use data_encoding::BASE64;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::jetstream::clock::rfc3339;
use crate::jetstream::config::StreamConfig;
use crate::jetstream::errors::ApiError;
use crate::jetstream::headers;
use crate::jetstream::stream::{state_json, Stream};
use crate::jetstream::JsAccount;

use super::*;

impl Api {
    /// A stream configuration from a create or update request.
    pub(super) fn config_for(&self, body: &[u8]) -> Result<StreamConfig, ApiError> {
        let value: Value = serde_json::from_slice(body).map_err(ApiError::invalid_json)?;
        crate::jetstream::strict::stream_request(&value, self.js.config.strict)?;
        serde_json::from_value(value).map_err(typed_json_error)
    }

    /// `STREAM.CREATE.<name>`, checked in nats-server's order: the name in
    /// the subject (a request without one does not match), path separators,
    /// what only a create refuses, then the configuration itself.
    pub(super) fn stream_create(&self, acc: &JsAccount, name: &str, body: &[u8]) -> Reply {
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
    pub(super) fn stream_update(&self, acc: &JsAccount, name: &str, body: &[u8]) -> Reply {
        let config = self.config_for(body)?.normalize()?;
        if config.name != name {
            return Err(ApiError::stream_mismatch());
        }
        let stream = acc.update_stream(config)?;
        Ok(info(&stream, None))
    }

    pub(super) fn stream_info(&self, acc: &JsAccount, name: &str, body: &[u8]) -> Reply {
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
    pub(super) fn with_domain(&self, mut v: Value) -> Value {
        if let (Some(domain), Some(map)) = (&self.js.config.domain, v.as_object_mut()) {
            map.insert("domain".into(), json!(domain));
        }
        v
    }

    pub(super) fn matching_streams(acc: &JsAccount, subject: Option<&str>) -> Vec<Arc<Stream>> {
        acc.streams()
            .into_iter()
            .filter(|s| match subject {
                Some(f) if !f.is_empty() => s
                    .config()
                    .subjects
                    .iter()
                    .any(|t| crate::jetstream::config::overlaps(f, t)),
                _ => true,
            })
            .collect()
    }

    pub(super) fn stream_names(&self, acc: &JsAccount, body: &[u8]) -> Reply {
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

    pub(super) fn stream_list(&self, acc: &JsAccount, body: &[u8]) -> Reply {
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

    pub(super) fn stream_purge(&self, acc: &JsAccount, name: &str, body: &[u8]) -> Reply {
        let req: PurgeRequest = parse(body)?;
        let stream = acc.stream(name).ok_or_else(ApiError::stream_not_found)?;
        if req.seq.is_some() && req.keep.is_some() {
            return Err(ApiError::bad_request());
        }
        let purged = stream.purge(req.filter.as_deref(), req.seq, req.keep)?;
        Ok(json!({"success": true, "purged": purged}))
    }

    pub(super) fn find(
        stream: &Stream,
        req: &MsgGetRequest,
    ) -> Result<crate::jetstream::store::StoredMsg, ApiError> {
        let found = match (&req.last_by_subj, &req.next_by_subj) {
            (Some(subject), _) => stream.last_for(subject)?,
            (None, Some(subject)) => stream.next_for(req.seq, Some(subject))?,
            (None, None) if req.seq > 0 => stream.get(req.seq)?,
            (None, None) => return Err(ApiError::bad_request()),
        };
        found.ok_or_else(ApiError::no_message_found)
    }

    pub(super) fn msg_get(&self, acc: &JsAccount, name: &str, body: &[u8]) -> Reply {
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

    pub(super) fn msg_delete(&self, acc: &JsAccount, name: &str, body: &[u8]) -> Reply {
        let req: MsgDeleteRequest = parse(body)?;
        let stream = acc.stream(name).ok_or_else(ApiError::stream_not_found)?;
        if stream.delete_msg(req.seq)? {
            Ok(json!({"success": true}))
        } else {
            Err(ApiError::sequence_not_found(req.seq))
        }
    }

    /// `DIRECT.GET.<stream>` with a request, or `DIRECT.GET.<stream>.<subject>`
    /// for the last message on a subject: the message itself, with its
    /// stream, subject, sequence and time in headers.
    pub(super) fn direct_get(&self, acc: &JsAccount, rest: &str, body: &[u8]) -> Answer {
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

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct InfoRequest {
    subjects_filter: Option<String>,
    deleted_details: bool,
    offset: usize,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct ListRequest {
    pub(super) offset: usize,
    subject: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct PurgeRequest {
    filter: Option<String>,
    seq: Option<u64>,
    keep: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct MsgGetRequest {
    seq: u64,
    last_by_subj: Option<String>,
    next_by_subj: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct MsgDeleteRequest {
    seq: u64,
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
        "ts": rfc3339(crate::jetstream::clock::now_nanos()),
    })
}
