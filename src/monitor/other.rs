//! The smaller endpoints: `/accountz`, `/accstatz`, `/healthz`, `/jsz`, and
//! the cluster ones (`/routez`, `/gatewayz`, `/leafz`), which answer with
//! nats-server's shape, empty, since Junction runs standalone.

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::{Query, State};
use axum::response::Html;
use axum::Json;
use serde_json::{json, Value};

use super::time::rfc3339;
use super::{query_bool, BadRequest};
use crate::server::Server;

fn now() -> String {
    rfc3339(SystemTime::now())
}

pub async fn accountz(
    State(server): State<Arc<Server>>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, BadRequest> {
    if let Some(name) = q.get("acc") {
        let account = server
            .accounts
            .get(name)
            .ok_or_else(|| BadRequest(format!("Account {name} does not exist")))?;
        let exports: Vec<Value> = account
            .exports()
            .iter()
            .map(|e| {
                json!({"subject": e.subject, "type": match e.kind {
                    crate::options::ExportKind::Stream => "stream",
                    crate::options::ExportKind::Service => "service",
                }})
            })
            .collect();
        let conns = server.clients_in(&account.name).len();
        return Ok(Json(json!({
            "server_id": server.id,
            "now": now(),
            "system_account": server.accounts.system.name,
            "account_detail": {
                "account_name": account.name,
                "update_time": rfc3339(server.started),
                "is_system": account.name == server.accounts.system.name,
                "expired": false,
                "complete": true,
                "jetstream_enabled": false,
                "leafnode_connections": 0,
                "client_connections": conns,
                "subscriptions": account.sublist.count(),
                "exports": exports,
            }
        })));
    }
    let names: Vec<String> = server.accounts.all().iter().map(|a| a.name.clone()).collect();
    Ok(Json(json!({
        "server_id": server.id,
        "now": now(),
        "system_account": server.accounts.system.name,
        "accounts": names,
    })))
}

pub async fn accstatz(
    State(server): State<Arc<Server>>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, BadRequest> {
    let include_unused = query_bool("unused", q.get("unused"))?;
    let mut stats = Vec::new();
    for account in server.accounts.all() {
        let mine = server.clients_in(&account.name);
        if mine.is_empty() && !include_unused {
            continue;
        }
        let (mut sent_msgs, mut sent_bytes, mut recv_msgs, mut recv_bytes) = (0u64, 0u64, 0u64, 0u64);
        for c in &mine {
            let (m, b) = c.out_counts();
            sent_msgs += m;
            sent_bytes += b;
            recv_msgs += c.counters.in_msgs.load(Relaxed);
            recv_bytes += c.counters.in_bytes.load(Relaxed);
        }
        stats.push(json!({
            "acc": account.name,
            "conns": mine.len(),
            "leafnodes": 0,
            "total_conns": mine.len(),
            "sent": {"msgs": sent_msgs, "bytes": sent_bytes},
            "received": {"msgs": recv_msgs, "bytes": recv_bytes},
            "slow_consumers": 0,
        }));
    }
    Ok(Json(
        json!({"server_id": server.id, "now": now(), "account_statz": stats}),
    ))
}

pub async fn routez(State(server): State<Arc<Server>>) -> Json<Value> {
    Json(json!({"server_id": server.id, "now": now(), "num_routes": 0, "routes": []}))
}

pub async fn gatewayz(State(server): State<Arc<Server>>) -> Json<Value> {
    Json(json!({"server_id": server.id, "now": now(), "outbound_gateways": {}, "inbound_gateways": {}}))
}

pub async fn leafz(State(server): State<Arc<Server>>) -> Json<Value> {
    Json(json!({"server_id": server.id, "now": now(), "leafnodes": 0, "leafs": null}))
}

pub async fn jsz(State(server): State<Arc<Server>>) -> Json<Value> {
    Json(json!({
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
    }))
}

pub async fn healthz(
    State(_server): State<Arc<Server>>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, BadRequest> {
    // `js-enabled-only` and `js-server-only` are accepted: with no JetStream
    // there is nothing more to check.
    for key in ["js-enabled-only", "js-server-only", "js-enabled"] {
        query_bool(key, q.get(key))?;
    }
    Ok(Json(json!({"status": "ok"})))
}

pub async fn index(State(_server): State<Arc<Server>>) -> Html<&'static str> {
    Html(
        "<html><body><h1>Junction</h1><ul>\
         <li><a href=\"varz\">varz</a></li><li><a href=\"connz\">connz</a></li>\
         <li><a href=\"subsz\">subsz</a></li><li><a href=\"accountz\">accountz</a></li>\
         <li><a href=\"accstatz\">accstatz</a></li><li><a href=\"routez\">routez</a></li>\
         <li><a href=\"gatewayz\">gatewayz</a></li><li><a href=\"leafz\">leafz</a></li>\
         <li><a href=\"jsz\">jsz</a></li><li><a href=\"healthz\">healthz</a></li>\
         <li><a href=\"metrics\">metrics</a></li></ul></body></html>",
    )
}
