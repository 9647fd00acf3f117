//! `/jsz` (JetStream's figures, by account, stream and consumer on
//! request) and the JetStream part of `/varz`.

use std::sync::atomic::Ordering::Relaxed;

use serde_json::{json, Value};

use super::time::now;
use super::{query_bool, BadRequest, Params};
use crate::server::Server;

/// JetStream's figures across accounts, as `/jsz` and `/varz` show them.
pub(crate) struct JsTotals {
    pub memory: u64,
    pub storage: u64,
    pub accounts: usize,
    pub streams: usize,
    pub consumers: usize,
    pub messages: u64,
    pub bytes: u64,
    pub api_total: u64,
    pub api_errors: u64,
}

pub(crate) fn js_totals(js: &crate::jetstream::JetStream) -> JsTotals {
    let mut t = JsTotals {
        memory: 0,
        storage: 0,
        accounts: 0,
        streams: 0,
        consumers: 0,
        messages: 0,
        bytes: 0,
        api_total: 0,
        api_errors: 0,
    };
    for acc in js.accounts() {
        t.accounts += 1;
        t.api_total += acc.api_total.load(Relaxed);
        t.api_errors += acc.api_errors.load(Relaxed);
        for stream in acc.streams() {
            let state = stream.state();
            t.streams += 1;
            t.consumers += stream.consumer_count();
            t.messages += state.msgs;
            t.bytes += state.bytes;
            match stream.config().storage {
                crate::jetstream::config::Storage::Memory => t.memory += state.bytes,
                crate::jetstream::config::Storage::File => t.storage += state.bytes,
            }
        }
    }
    t
}

/// JetStream's usage, as `/varz`'s `jetstream.stats` and the top of `/jsz` show it.
pub(crate) fn js_stats(t: &JsTotals) -> Value {
    json!({
        "memory": t.memory,
        "storage": t.storage,
        "reserved_memory": 0,
        "reserved_storage": 0,
        "accounts": t.accounts,
        "ha_assets": 0,
        "api": {"total": t.api_total, "errors": t.api_errors},
    })
}

/// The `config` object of `/jsz` and of `/varz`'s `jetstream`.
pub(crate) fn js_config(js: &crate::jetstream::JetStream) -> Value {
    let c = &js.config;
    let mut v = json!({
        "max_memory": c.max_memory,
        "max_storage": c.max_store,
        "store_dir": c.dir.display().to_string(),
    });
    if let Some(domain) = &c.domain {
        v["domain"] = json!(domain);
    }
    match c.sync_interval {
        Some(d) => v["sync_interval"] = json!(d.as_nanos() as u64),
        None => v["sync_always"] = json!(true),
    }
    v
}

pub fn jsz(server: &Server, q: &Params) -> Result<Value, BadRequest> {
    let accounts = query_bool("accounts", q.get("accounts"))?;
    let streams = query_bool("streams", q.get("streams"))?;
    let consumers = query_bool("consumers", q.get("consumers"))?;
    let config = query_bool("config", q.get("config"))?;
    let Some(js) = server.jetstream() else {
        return Ok(json!({
            "server_id": server.id,
            "now": now(),
            "disabled": true,
            "config": {"max_memory": 0, "max_storage": 0},
            "memory": 0,
            "storage": 0,
            "reserved_memory": 0,
            "reserved_storage": 0,
            "accounts": 0,
            "ha_assets": 0,
            "api": {"total": 0, "errors": 0},
            "streams": 0,
            "consumers": 0,
            "messages": 0,
            "bytes": 0,
        }));
    };
    let t = js_totals(js);
    let mut v = json!({"server_id": server.id, "now": now(), "config": js_config(js)});
    // The usage figures are `/varz`'s `jetstream.stats`, then the counts.
    if let (Some(map), Value::Object(stats)) = (v.as_object_mut(), js_stats(&t)) {
        map.extend(stats);
        map.insert("streams".into(), json!(t.streams));
        map.insert("consumers".into(), json!(t.consumers));
        map.insert("messages".into(), json!(t.messages));
        map.insert("bytes".into(), json!(t.bytes));
    }
    let only = q.get("acc");
    if accounts || streams || consumers || only.is_some() {
        let mut details = Vec::new();
        for acc in js.accounts() {
            if only.is_some_and(|a| *a != acc.account.name) {
                continue;
            }
            let list = acc.streams();
            let mut d = json!({
                "name": acc.account.name,
                "id": acc.account.name,
                "memory": 0,
                "storage": 0,
                "reserved_memory": 0,
                "reserved_storage": 0,
                "accounts": 1,
                "ha_assets": 0,
                "api": {"total": acc.api_total.load(Relaxed), "errors": acc.api_errors.load(Relaxed)},
            });
            if streams || consumers {
                let streams: Vec<Value> = list
                    .iter()
                    .map(|s| {
                        let info = crate::jetstream::api::info(s, None);
                        let mut sd = json!({
                            "name": s.name,
                            "created": info["created"],
                            "state": info["state"],
                        });
                        if config {
                            sd["config"] = info["config"].clone();
                        }
                        if consumers {
                            sd["consumer_detail"] =
                                Value::Array(s.consumers().iter().map(|c| c.info(s)).collect());
                        }
                        sd
                    })
                    .collect();
                d["stream_detail"] = Value::Array(streams);
            }
            details.push(d);
        }
        v["account_details"] = Value::Array(details);
    }
    Ok(v)
}
