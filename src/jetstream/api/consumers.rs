//! The consumer requests: create (with nats-server's name and filter
//! rules), info, delete, names and list.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{json, Value};

use crate::jetstream::consumer::ConsumerConfig;
use crate::jetstream::errors::ApiError;
use crate::jetstream::stream::Stream;
use crate::jetstream::JsAccount;

use super::streams::ListRequest;
use super::*;

impl Api {
    /// `CONSUMER.CREATE.<stream>[.<consumer>[.<filter>]]` or
    /// `CONSUMER.DURABLE.CREATE.<stream>.<durable>`.
    pub(super) fn consumer_create(&self, acc: &JsAccount, rest: &str, body: &[u8], durable: bool) -> Reply {
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
        crate::jetstream::strict::consumer_request(&value, self.js.config.strict)?;
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
            if config.max_ack_pending == 0 && config.ack_policy != crate::jetstream::consumer::AckPolicy::None
            {
                config.max_ack_pending = limits
                    .max_ack_pending
                    .min(crate::jetstream::consumer::DEFAULT_MAX_ACK_PENDING);
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

    pub(super) fn consumer_target(acc: &JsAccount, rest: &str) -> Result<(Arc<Stream>, String), ApiError> {
        let (stream, consumer) = rest.split_once('.').ok_or_else(ApiError::bad_request)?;
        let stream = acc.stream(stream).ok_or_else(ApiError::stream_not_found)?;
        Ok((stream, consumer.to_string()))
    }

    pub(super) fn consumer_info(&self, acc: &JsAccount, rest: &str) -> Reply {
        let (stream, name) = Self::consumer_target(acc, rest)?;
        let consumer = stream.consumer(&name).ok_or_else(ApiError::consumer_not_found)?;
        Ok(consumer.info(&stream))
    }

    pub(super) fn consumer_delete(&self, acc: &JsAccount, rest: &str) -> Reply {
        let (stream, name) = Self::consumer_target(acc, rest)?;
        if stream.remove_consumer(&name) {
            Ok(json!({"success": true}))
        } else {
            Err(ApiError::consumer_not_found())
        }
    }

    pub(super) fn consumer_names(&self, acc: &JsAccount, stream: &str, body: &[u8]) -> Reply {
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

    pub(super) fn consumer_list(&self, acc: &JsAccount, stream: &str, body: &[u8]) -> Reply {
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
}
