//! `/routez` (the cluster's routes), `/gatewayz` (the gateways to other
//! clusters) and `/leafz` (leaf node connections), in nats-server's shapes.

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
            if let Some(account) = r.account {
                v["account"] = json!(account);
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

/// `?gw_name=` keeps one remote gateway; `?accs=1` (or `?acc_name=`, one
/// account) lists the outbound connections' interest by account, with the
/// subjects when `?subs=1`.
pub fn gatewayz(server: &Server, q: &Params) -> Result<Value, BadRequest> {
    let Some(gateways) = server.gateway_links() else {
        return Ok(
            json!({"server_id": server.id, "now": now(), "outbound_gateways": {}, "inbound_gateways": {}}),
        );
    };
    let subs = query_bool("subs", q.get("subs"))?;
    let account = q.get("acc_name").filter(|a| !a.is_empty());
    let accs = query_bool("accs", q.get("accs"))? || account.is_some();
    let wanted = q.get("gw_name").filter(|n| !n.is_empty());
    let now_time = SystemTime::now();
    let configured: Vec<String> = gateways
        .remotes()
        .into_iter()
        .filter(|(_, _, implicit)| !implicit)
        .map(|(name, _, _)| name)
        .collect();
    let mut outbound = serde_json::Map::new();
    let mut inbound = serde_json::Map::new();
    for c in gateways.connections() {
        if wanted.is_some_and(|w| *w != c.name) {
            continue;
        }
        let connection = json!({
            "cid": c.cid,
            "kind": "Gateway",
            "ip": c.ip,
            "port": c.port,
            "start": rfc3339(c.start),
            "last_activity": rfc3339(c.last_activity),
            "rtt": go_duration(c.rtt),
            "uptime": uptime(now_time.duration_since(c.start).unwrap_or_default()),
            "idle": go_duration(now_time.duration_since(c.last_activity).unwrap_or_default()),
            "pending_bytes": c.pending,
            "in_msgs": c.in_msgs,
            "out_msgs": c.out_msgs,
            "in_bytes": c.in_bytes,
            "out_bytes": c.out_bytes,
            "subscriptions": c.num_subscriptions,
            "name": c.remote_id,
        });
        if c.outbound {
            let mut remote = json!({
                "configured": configured.contains(&c.name),
                "connection": connection,
            });
            if accs {
                let list: Vec<Value> = c
                    .accounts
                    .iter()
                    .filter(|(name, _)| account.is_none_or(|a| a == name))
                    .map(|(name, list)| {
                        let mut a = json!({
                            "name": name,
                            "interest_mode": "Interest-Only",
                            "interest_only_threshold": 1000,
                            "num_subs": list.len(),
                        });
                        let queues = list.iter().filter(|s| s.contains(' ')).count();
                        if queues > 0 {
                            a["num_queue_subs"] = json!(queues);
                        }
                        if subs && !list.is_empty() {
                            a["subscriptions_list"] = json!(list);
                        }
                        a
                    })
                    .collect();
                if !list.is_empty() {
                    remote["accounts"] = json!(list);
                }
            }
            outbound.insert(c.name.clone(), remote);
        } else {
            let entry = json!({"configured": false, "connection": connection});
            match inbound.get_mut(&c.name) {
                Some(Value::Array(list)) => list.push(entry),
                _ => {
                    inbound.insert(c.name.clone(), json!([entry]));
                }
            }
        }
    }
    let listen = gateways.listen_addr();
    Ok(json!({
        "server_id": server.id,
        "now": now(),
        "name": gateways.name(),
        "host": listen.ip().to_string(),
        "port": listen.port(),
        "outbound_gateways": outbound,
        "inbound_gateways": inbound,
    }))
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
