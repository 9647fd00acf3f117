//! `/subsz`: subscription counts, and with `?subs=1` the subscriptions
//! themselves; `?test=subject` keeps those matching a subject.

use std::time::SystemTime;

use junction_nats::subject::{is_valid_literal_subject, matches};
use serde_json::{json, Value};

use super::time::rfc3339;
use super::{query_bool, query_number, BadRequest, Params};
use crate::server::Server;

pub fn subsz(server: &Server, q: &Params) -> Result<Value, BadRequest> {
    let detail = query_bool("subs", q.get("subs"))?;
    let offset = query_number("offset", q.get("offset"))?.unwrap_or(0);
    let limit = query_number("limit", q.get("limit"))?.unwrap_or(1024);
    let test = q.get("test");
    if let Some(t) = test {
        if !is_valid_literal_subject(t.as_bytes()) {
            return Err(BadRequest(format!(
                "Invalid test subject, must be valid publish subject: {t}"
            )));
        }
    }
    let account_filter = q.get("acc");
    let mut subs = Vec::new();
    for account in server.accounts.all() {
        if account_filter.is_some_and(|a| a != &account.name) {
            continue;
        }
        for sub in account.subscriptions() {
            if test.is_some_and(|t| !matches(&sub.subject, t.as_bytes())) {
                continue;
            }
            subs.push((account.name.clone(), sub));
        }
    }
    let total_subs: u64 = server.accounts.subscription_count();
    let mut body = json!({
        "server_id": server.id,
        "now": rfc3339(SystemTime::now()),
        "num_subscriptions": total_subs,
        "num_cache": 0,
        "num_inserts": total_subs,
        "num_removes": 0,
        "num_matches": 0,
        "cache_hit_rate": 0,
        "max_fanout": 0,
        "avg_fanout": 0,
        "total": subs.len(),
        "offset": offset,
        "limit": limit,
    });
    if detail {
        let list: Vec<Value> = subs
            .iter()
            .skip(offset)
            .take(limit)
            .map(|(account, s)| {
                let mut v = serde_json::Map::new();
                v.insert("account".into(), json!(account));
                v.insert("subject".into(), json!(String::from_utf8_lossy(&s.subject)));
                if let Some(q) = &s.queue {
                    v.insert("qgroup".into(), json!(String::from_utf8_lossy(q)));
                }
                v.insert("sid".into(), json!(String::from_utf8_lossy(&s.sid)));
                v.insert("msgs".into(), json!(s.delivered()));
                v.insert("cid".into(), json!(s.subscriber.client_id()));
                let mut v = Value::Object(v);
                if s.max() > 0 {
                    v["max"] = json!(s.max());
                }
                v
            })
            .collect();
        body["subscriptions_list"] = json!(list);
    }
    Ok(body)
}
