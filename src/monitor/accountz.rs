//! `/accountz` and `/accstatz`: the accounts, their imports, exports and
//! mappings, and their connection and message figures.

use std::sync::atomic::Ordering::Relaxed;

use serde_json::{json, Value};

use super::time::{now, rfc3339};
use super::{query_bool, BadRequest, Params};
use crate::server::Server;

pub fn accountz(server: &Server, q: &Params) -> Result<Value, BadRequest> {
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
        let mut detail = json!({
            "account_name": account.name,
            "update_time": rfc3339(server.started),
            "is_system": account.name == server.accounts.system.name,
            "expired": false,
            "complete": true,
            "jetstream_enabled": server.jetstream().is_some_and(|js| js.account(&account.name).is_some()),
            "leafnode_connections": 0,
            "client_connections": conns,
            "subscriptions": account.subscription_count(),
        });
        // Where nats-server puts them: after `subscriptions`, when there are any.
        if let Some(mappings) = account.mappings_json() {
            detail["mappings"] = mappings;
        }
        detail["exports"] = exports.into();
        return Ok(json!({
            "server_id": server.id,
            "now": now(),
            "system_account": server.accounts.system.name,
            "account_detail": detail,
        }));
    }
    let names: Vec<String> = server.accounts.all().iter().map(|a| a.name.clone()).collect();
    Ok(json!({
        "server_id": server.id,
        "now": now(),
        "system_account": server.accounts.system.name,
        "accounts": names,
    }))
}

pub fn accstatz(server: &Server, q: &Params) -> Result<Value, BadRequest> {
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
            recv_msgs += c.counters().in_msgs.load(Relaxed);
            recv_bytes += c.counters().in_bytes.load(Relaxed);
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
    Ok(json!({"server_id": server.id, "now": now(), "account_statz": stats}))
}
