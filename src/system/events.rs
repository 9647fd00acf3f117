//! The system account's connection events: `$SYS.ACCOUNT.<account>.CONNECT`
//! and `…DISCONNECT` for each client, and in a cluster
//! `$SYS.ACCOUNT.<account>.SERVER.CONNS`, each server's count of the
//! account's connections, which the others add up to hold account
//! connection limits cluster-wide.

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;

use serde_json::{json, Map, Value};

use super::envelope::{event_id, server_info};
use super::SystemServices;
use crate::conn::{CloseReason, ConnEvents, Connection};
use crate::monitor::time::{now, rfc3339};
use crate::server::Server;

/// What one other server last said of its connections, by account.
#[derive(Default)]
pub(super) struct RemoteConns {
    /// account → server id → connections.
    by_account: HashMap<String, HashMap<String, usize>>,
}

impl RemoteConns {
    /// Takes a server's `SERVER.CONNS` event or answer.
    pub(super) fn update(&mut self, server_id: &str, account: &str, conns: usize) {
        let servers = self.by_account.entry(account.to_string()).or_default();
        if conns == 0 {
            servers.remove(server_id);
        } else {
            servers.insert(server_id.to_string(), conns);
        }
    }

    /// The connections of `account` on the servers in `live`.
    fn total(&self, account: &str, live: &[String]) -> usize {
        self.by_account.get(account).map_or(0, |servers| {
            servers
                .iter()
                .filter(|(id, _)| live.contains(id))
                .map(|(_, n)| n)
                .sum()
        })
    }
}

/// nats-server's `ClientInfo` of a connection; `closed` adds what a
/// disconnect event tells.
fn client_info(conn: &dyn Connection, closed: bool) -> Value {
    let meta = conn.meta();
    let account = conn.account().name.clone();
    let mut c = Map::new();
    c.insert("start".into(), json!(rfc3339(conn.started())));
    c.insert("host".into(), json!(conn.remote().ip().to_string()));
    c.insert("id".into(), json!(conn.id()));
    c.insert("acc".into(), json!(account));
    let user = conn.user();
    if !user.is_empty() {
        c.insert("user".into(), json!(user));
    }
    for (key, value) in [("name", &meta.name), ("lang", &meta.lang), ("ver", &meta.version)] {
        if !value.is_empty() {
            c.insert(key.into(), json!(value));
        }
    }
    if closed {
        let rtt = conn.rtt().as_nanos() as u64;
        if rtt > 0 {
            c.insert("rtt".into(), json!(rtt));
        }
        c.insert("stop".into(), json!(now()));
    }
    c.insert("name_tag".into(), json!(account));
    c.insert("kind".into(), json!("Client"));
    let client_type = match conn.transport() {
        "websocket" => "websocket",
        "mqtt" => "mqtt",
        _ => "nats",
    };
    c.insert("client_type".into(), json!(client_type));
    if let Some(id) = conn.mqtt_client() {
        c.insert("client_id".into(), json!(id));
    }
    Value::Object(c)
}

impl SystemServices {
    /// Publishes the event `body` makes, when anyone listens: most
    /// connections come and go with nobody subscribed to their events.
    fn send(&self, server: &Server, subject: &str, body: impl FnOnce() -> Value) {
        let system = &server.accounts.system;
        if system.matches(subject.as_bytes()).is_empty() {
            return;
        }
        if let Ok(bytes) = serde_json::to_vec(&body()) {
            system.publish_internal(subject.as_bytes(), &bytes);
        }
    }

    /// nats-server's `AccountNumConns` for `account`: this server's
    /// connections in it and their traffic.
    pub(super) fn account_conns(&self, server: &Server, account: &str) -> Value {
        let clients = server.clients_in(account);
        let (mut sent, mut received) = ((0u64, 0u64), (0u64, 0u64));
        for c in &clients {
            let (m, b) = c.out_counts();
            sent = (sent.0 + m, sent.1 + b);
            received.0 += c.counters().in_msgs.load(Relaxed);
            received.1 += c.counters().in_bytes.load(Relaxed);
        }
        let subscriptions = server.accounts.get(account).map_or(0, |a| a.subscription_count());
        json!({
            "type": "io.nats.server.advisory.v1.account_connections",
            "id": event_id(),
            "timestamp": now(),
            "server": server_info(server, self.next_seq()),
            "acc": account,
            "name": account,
            "conns": clients.len(),
            "leafnodes": 0,
            "total_conns": clients.len(),
            "num_subscriptions": subscriptions,
            "sent": {"msgs": sent.0, "bytes": sent.1},
            "received": {"msgs": received.0, "bytes": received.1},
            "slow_consumers": 0,
        })
    }

    /// In a cluster, tells the other servers how many connections this one
    /// has in `account` now, and returns that count (`None` alone).
    fn send_account_conns(&self, server: &Server, account: &str) -> Option<u64> {
        server.links()?;
        let body = self.account_conns(server, account);
        let conns = body["conns"].as_u64();
        // The other servers always listen (this one too, for theirs).
        if let Ok(bytes) = serde_json::to_vec(&body) {
            let subject = format!("$SYS.ACCOUNT.{account}.SERVER.CONNS");
            server
                .accounts
                .system
                .publish_internal(subject.as_bytes(), &bytes);
        }
        conns
    }

    /// Another server's `AccountNumConns`.
    pub(super) fn remote_account_conns(&self, server: &Server, body: &[u8]) {
        let Ok(v) = serde_json::from_slice::<Value>(body) else {
            return;
        };
        let (Some(id), Some(account)) = (v["server"]["id"].as_str(), v["acc"].as_str()) else {
            return;
        };
        if id == server.id {
            return;
        }
        let conns = v["conns"].as_u64().unwrap_or(0) as usize;
        self.remote.lock().update(id, account, conns);
    }
}

impl ConnEvents for SystemServices {
    fn connected(&self, conn: &dyn Connection) {
        let Some(server) = self.server.upgrade() else {
            return;
        };
        let account = conn.account().name.clone();
        let conns = self.send_account_conns(&server, &account);
        self.send(&server, &format!("$SYS.ACCOUNT.{account}.CONNECT"), || {
            json!({
                "type": "io.nats.server.advisory.v1.client_connect",
                "id": event_id(),
                "timestamp": now(),
                "server": server_info(&server, self.next_seq()),
                "client": client_info(conn, false),
            })
        });
        // The account's first connection here: the other servers say how
        // many they have, so its limit counts them from now on.
        if conns == Some(1) {
            let mut producer = crate::outlet::Producer::default();
            server.accounts.system.publish_full(
                format!("$SYS.REQ.ACCOUNT.{account}.CONNS").as_bytes(),
                Some(format!("$SYS._INBOX_.{}", server.id).as_bytes()),
                b"",
                b"",
                &mut producer,
            );
            producer.flush();
        }
    }

    fn disconnected(&self, conn: &dyn Connection) {
        let Some(server) = self.server.upgrade() else {
            return;
        };
        let account = conn.account().name.clone();
        self.send_account_conns(&server, &account);
        self.send(&server, &format!("$SYS.ACCOUNT.{account}.DISCONNECT"), || {
            let counters = conn.counters();
            let (out_msgs, out_bytes) = conn.out_counts();
            let reason = conn.close_reason().unwrap_or(CloseReason::ClientClosed);
            json!({
                "type": "io.nats.server.advisory.v1.client_disconnect",
                "id": event_id(),
                "timestamp": now(),
                "server": server_info(&server, self.next_seq()),
                "client": client_info(conn, true),
                // From the client's side: what it sent is what came in here.
                "sent": {"msgs": counters.in_msgs.load(Relaxed), "bytes": counters.in_bytes.load(Relaxed)},
                "received": {"msgs": out_msgs, "bytes": out_bytes},
                "reason": reason.to_string(),
            })
        });
    }

    fn going_away(&self, lame_duck: bool) {
        let Some(server) = self.server.upgrade() else {
            return;
        };
        let what = if lame_duck { "LAMEDUCK" } else { "SHUTDOWN" };
        self.send(&server, &format!("$SYS.SERVER.{}.{what}", server.id), || {
            server_info(&server, self.next_seq())
        });
    }

    fn remote_connections(&self, account: &str) -> usize {
        let Some(server) = self.server.upgrade() else {
            return 0;
        };
        // Only servers still routed count: one that went away took its
        // connections with it.
        let live: Vec<String> = server
            .links()
            .map(|l| l.routes(false).into_iter().map(|r| r.remote_id).collect())
            .unwrap_or_default();
        self.remote.lock().total(account, &live)
    }
}

#[cfg(test)]
mod tests {
    use super::RemoteConns;

    #[test]
    fn remote_counts_add_up_over_live_servers_only() {
        let mut r = RemoteConns::default();
        r.update("S1", "A", 2);
        r.update("S2", "A", 3);
        r.update("S2", "B", 1);
        let live = ["S1".to_string(), "S2".to_string()];
        assert_eq!(r.total("A", &live), 5);
        assert_eq!(r.total("A", &live[..1]), 2);
        r.update("S1", "A", 0);
        assert_eq!(r.total("A", &live), 3);
        assert_eq!(r.total("C", &live), 0);
    }
}
