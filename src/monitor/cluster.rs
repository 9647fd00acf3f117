//! `/routez` (the cluster's routes), `/gatewayz` and `/leafz` (empty until
//! there are gateways and leaf nodes), in nats-server's shapes.

use std::time::SystemTime;

use serde_json::{json, Value};

use super::time::{go_duration, now, rfc3339, uptime};
use super::{query_bool, BadRequest, Params};
use crate::server::Server;

/// `?subs=1` (or `true`, `detail`) lists each route's subscriptions.
pub fn routez(server: &Server, q: &Params) -> Result<Value, BadRequest> {
    let with_subs = query_bool("subs", q.get("subs"))?;
    let now_time = SystemTime::now();
    let routes: Vec<Value> = server
        .links()
        .map(|l| l.routes(with_subs))
        .unwrap_or_default()
        .into_iter()
        .map(|r| {
            let mut v = json!({
                "rid": r.rid,
                "remote_id": r.remote_id,
                "remote_name": r.remote_name,
                "did_solicit": r.did_solicit,
                "is_configured": r.is_configured,
                "ip": r.ip,
                "port": r.port,
                "start": rfc3339(r.start),
                "last_activity": rfc3339(r.last_activity),
                "uptime": uptime(now_time.duration_since(r.start).unwrap_or_default()),
                "idle": go_duration(now_time.duration_since(r.last_activity).unwrap_or_default()),
                "pending_size": r.pending,
                "in_msgs": r.in_msgs,
                "out_msgs": r.out_msgs,
                "in_bytes": r.in_bytes,
                "out_bytes": r.out_bytes,
                "subscriptions": r.num_subscriptions,
            });
            if let Some(list) = r.subscriptions.filter(|l| !l.is_empty()) {
                v["subscriptions_list"] = json!(list);
            }
            v
        })
        .collect();
    Ok(json!({
        "server_id": server.id,
        "server_name": server.name,
        "now": now(),
        "num_routes": routes.len(),
        "routes": routes,
    }))
}

pub fn gatewayz(server: &Server, _q: &Params) -> Result<Value, BadRequest> {
    Ok(json!({"server_id": server.id, "now": now(), "outbound_gateways": {}, "inbound_gateways": {}}))
}

/// `?subs=1` lists each leaf's interest; `?acc=` keeps one account's.
pub fn leafz(server: &Server, q: &Params) -> Result<Value, BadRequest> {
    let with_subs = query_bool("subs", q.get("subs"))?;
    let account = q.get("acc");
    let leafs: Vec<Value> = server
        .leaf_links()
        .map(|l| l.leafs(with_subs))
        .unwrap_or_default()
        .into_iter()
        .filter(|l| account.is_none_or(|a| *a == l.account))
        .map(|l| {
            let mut v = json!({
                "id": l.id,
                "name": l.name,
                "is_spoke": l.is_spoke,
                "account": l.account,
                "ip": l.ip,
                "port": l.port,
                "rtt": go_duration(l.rtt),
                "in_msgs": l.in_msgs,
                "out_msgs": l.out_msgs,
                "in_bytes": l.in_bytes,
                "out_bytes": l.out_bytes,
                "subscriptions": l.num_subscriptions,
            });
            if let Some(list) = l.subscriptions.filter(|s| !s.is_empty()) {
                v["subscriptions_list"] = json!(list);
            }
            v["compression"] = json!("not supported");
            v
        })
        .collect();
    Ok(json!({"server_id": server.id, "now": now(), "leafnodes": leafs.len(), "leafs": leafs}))
}
