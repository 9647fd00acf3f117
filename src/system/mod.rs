//! The system account's services, as nats-server runs them: requests on
//! `$SYS.REQ.SERVER.PING[.<endpoint>]`, `$SYS.REQ.SERVER.<id>.<endpoint>`
//! and `$SYS.REQ.ACCOUNT.<account>.<endpoint>` answered with the monitoring
//! endpoints' JSON in nats-server's envelope, and `$SYS.SERVER.<id>.STATSZ`
//! sent now and then. Their subscriptions are interest like any other, so
//! a request made on one node of a cluster reaches, and is answered by,
//! every node, nats-server's included.

pub mod envelope;
mod events;
mod request;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::Mutex;
use serde_json::{json, Value};

use crate::monitor::{self, Build, Params};
use crate::outlet::Producer;
use crate::server::Server;
use crate::subscription::{Message, Subscriber, Subscription};

use request::Request;

/// The server endpoints nats-server answers under `$SYS.REQ.SERVER.…`,
/// with the HTTP endpoint each stands for (STATSZ and IDZ have no page).
const SERVER_ENDPOINTS: [&str; 11] = [
    "STATSZ", "IDZ", "VARZ", "SUBSZ", "CONNZ", "ROUTEZ", "GATEWAYZ", "LEAFZ", "ACCOUNTZ", "JSZ", "HEALTHZ",
];

/// The per-account endpoints under `$SYS.REQ.ACCOUNT.<account>.…`.
const ACCOUNT_ENDPOINTS: [&str; 7] = ["SUBSZ", "CONNZ", "LEAFZ", "JSZ", "INFO", "STATZ", "CONNS"];

/// STATSZ goes out quickly after start, then less and less often, up to
/// every 10 s, as nats-server sends it.
const FIRST_STATSZ: Duration = Duration::from_millis(250);
const STATSZ_INTERVAL: Duration = Duration::from_secs(10);

/// The services, subscribed in the system account.
pub struct SystemServices {
    me: Weak<SystemServices>,
    server: Weak<Server>,
    /// Messages this server sent from the system account: `seq` of the
    /// envelope, so receivers can order them.
    seq: AtomicU64,
    /// The other servers' connections, by account.
    remote: Mutex<events::RemoteConns>,
    /// The other servers heard from (their STATSZ), in this cluster and
    /// across gateways, with when: `active_servers` counts them.
    servers: Mutex<std::collections::HashMap<String, std::time::Instant>>,
}

/// A server not heard from for this long is no longer counted (three of
/// its STATSZ intervals).
const SERVER_SILENCE: Duration = Duration::from_secs(30);

/// Subscribes the services in `server`'s system account and starts the
/// periodic STATSZ; both end with the server.
pub fn install(server: &Arc<Server>) -> Arc<SystemServices> {
    let services = Arc::new_cyclic(|me| SystemServices {
        me: me.clone(),
        server: Arc::downgrade(server),
        seq: AtomicU64::new(0),
        remote: Mutex::default(),
        servers: Mutex::default(),
    });
    let events: Arc<dyn crate::conn::ConnEvents> = services.clone();
    server.set_events(Arc::downgrade(&events));
    let system = server.accounts.system.clone();
    let subscriber: Arc<dyn Subscriber> = services.clone();
    // The other servers' connection counts: their events, and their
    // answers to this server's requests.
    system.subscribe_service("$SYS.ACCOUNT.*.SERVER.CONNS", subscriber.clone());
    system.subscribe_service(format!("$SYS._INBOX_.{}", server.id), subscriber.clone());
    system.subscribe_service("$SYS.REQ.SERVER.PING", subscriber.clone());
    // The other servers, in the cluster and beyond: who is active.
    system.subscribe_service("$SYS.SERVER.*.STATSZ", subscriber.clone());
    system.subscribe_service("$SYS.SERVER.*.SHUTDOWN", subscriber.clone());
    for name in SERVER_ENDPOINTS {
        system.subscribe_service(format!("$SYS.REQ.SERVER.PING.{name}"), subscriber.clone());
        system.subscribe_service(
            format!("$SYS.REQ.SERVER.{}.{name}", server.id),
            subscriber.clone(),
        );
    }
    // Acting on one client of this server, or on the server itself.
    for name in ["KICK", "LDM", "RELOAD"] {
        system.subscribe_service(
            format!("$SYS.REQ.SERVER.{}.{name}", server.id),
            subscriber.clone(),
        );
    }
    for name in ACCOUNT_ENDPOINTS {
        system.subscribe_service(format!("$SYS.REQ.ACCOUNT.*.{name}"), subscriber.clone());
    }
    // Any account's users may ask of their own account, as in nats-server.
    server.accounts.import_system_services();
    tokio::spawn(send_statsz(services.clone()));
    services
}

/// Sends `$SYS.SERVER.<id>.STATSZ` until the server stops; nobody
/// listening costs a lookup.
async fn send_statsz(services: Arc<SystemServices>) {
    let mut every = FIRST_STATSZ;
    loop {
        let Some(server) = services.server.upgrade() else {
            return;
        };
        let stopped = server.clone();
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stopped.stopped() => return,
        }
        let subject = format!("$SYS.SERVER.{}.STATSZ", server.id);
        let system = &server.accounts.system;
        if !system.matches(subject.as_bytes()).is_empty() {
            system.publish_internal(subject.as_bytes(), &services.statsz(&server));
        }
        every = (every * 2).min(STATSZ_INTERVAL);
    }
}

impl SystemServices {
    fn next_seq(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// `{"server": …, "statsz": …}`, nats-server's `ServerStatsMsg`.
    fn statsz(&self, server: &Server) -> Vec<u8> {
        let mut statsz = envelope::statsz(server);
        // Every server heard from lately, the route peers among them, and
        // this one.
        let mut active: std::collections::HashSet<String> = {
            let mut servers = self.servers.lock();
            servers.retain(|_, seen| seen.elapsed() < SERVER_SILENCE);
            servers.keys().cloned().collect()
        };
        if let Some(links) = server.links() {
            active.extend(links.routes(false).into_iter().map(|r| r.remote_id));
        }
        active.remove(&server.id);
        statsz["active_servers"] = json!(active.len() + 1);
        let body = json!({
            "server": envelope::server_info(server, self.next_seq()),
            "statsz": statsz,
        });
        serde_json::to_vec(&body).unwrap_or_default()
    }

    /// `{"server": …, "data": …}` or `{"server": …, "error": …}`.
    fn response(&self, server: &Server, answer: Result<Value, (u16, String)>) -> Vec<u8> {
        let info = envelope::server_info(server, self.next_seq());
        let body = match answer {
            // Nothing to report: the envelope alone, as nats-server answers.
            Ok(Value::Null) => json!({"server": info}),
            Ok(data) => json!({"server": info, "data": data}),
            Err((code, description)) => {
                json!({"server": info, "error": {"code": code, "description": description}})
            }
        };
        serde_json::to_vec(&body).unwrap_or_default()
    }

    /// The answer to one request, or `None` when this server stays silent
    /// (filtered out, or nothing to report).
    fn answer(&self, server: &Server, subject: &str, body: &[u8]) -> Option<Vec<u8>> {
        let tokens: Vec<&str> = subject.split('.').collect();
        match tokens[..] {
            ["$SYS", "REQ", "SERVER", "PING"] => self.server_request(server, "STATSZ", body),
            ["$SYS", "REQ", "SERVER", "PING", name] => self.server_request(server, name, body),
            ["$SYS", "REQ", "SERVER", id, name] if id == server.id => self.server_request(server, name, body),
            ["$SYS", "REQ", "ACCOUNT", account, name] => self.account_request(server, account, name, body),
            _ => None,
        }
    }

    fn server_request(&self, server: &Server, name: &str, body: &[u8]) -> Option<Vec<u8>> {
        let request = match Request::parse(body) {
            Ok(r) => r,
            Err(e) => return Some(self.response(server, Err((400, e)))),
        };
        if !request.selects(server) {
            return None;
        }
        match name {
            "KICK" | "LDM" => Some(self.act_on_client(server, name, body)),
            "STATSZ" => Some(self.statsz(server)),
            // IDZ comes bare, without the envelope.
            "IDZ" => serde_json::to_vec(&envelope::server_id(server)).ok(),
            _ => {
                let build = endpoint(&format!("/{}", name.to_ascii_lowercase()))?;
                Some(self.response(server, run(build, server, &request.params)))
            }
        }
    }

    /// `RELOAD` reads the configuration again and puts it in force, as
    /// SIGHUP does; the answer (empty, or the error) comes once it is
    /// done, off the delivering publisher's path.
    fn reload(&self, server: Arc<Server>, body: &[u8], reply: &[u8]) {
        match Request::parse(body) {
            Ok(request) if !request.selects(&server) => return,
            Ok(_) => {}
            Err(e) => {
                let answer = self.response(&server, Err((400, e)));
                server.accounts.system.publish_internal(reply, &answer);
                return;
            }
        }
        let reply = reply.to_vec();
        let Some(services) = self.me.upgrade() else { return };
        tokio::spawn(async move {
            let result = match server.reloader() {
                None => Err((
                    500,
                    "the configuration cannot be reloaded: the server was not started from one".to_string(),
                )),
                Some(load) => load()
                    .map_err(|e| format!("{e:#}"))
                    .and_then(|new| server.reload(new).map_err(|e| e.to_string()))
                    .map(|()| Value::Null)
                    .map_err(|e| (500, e)),
            };
            if let Err((_, e)) = &result {
                tracing::error!("Failed to reload server configuration: {e}");
            }
            let answer = services.response(&server, result);
            server.accounts.system.publish_internal(&reply, &answer);
        });
    }

    /// `KICK` closes the client `{"cid": n}` of this server; `LDM` tells it
    /// this server is in lame duck mode, so it moves elsewhere.
    fn act_on_client(&self, server: &Server, name: &str, body: &[u8]) -> Vec<u8> {
        #[derive(serde::Deserialize)]
        struct ClientReq {
            cid: u64,
        }
        let answer = match serde_json::from_slice::<ClientReq>(body) {
            Err(e) => Err((400, e.to_string())),
            Ok(req) => match server.clients().into_iter().find(|c| c.id() == req.cid) {
                None if name == "KICK" => Err((500, "no such client or leafnode id".to_string())),
                None => Err((500, "no such client id".to_string())),
                Some(client) => {
                    if name == "KICK" {
                        client.close(crate::conn::CloseReason::Kicked);
                    } else {
                        client.lame_duck();
                    }
                    Ok(Value::Null)
                }
            },
        };
        self.response(server, answer)
    }

    fn account_request(&self, server: &Server, account: &str, name: &str, body: &[u8]) -> Option<Vec<u8>> {
        let request = match Request::parse(body) {
            Ok(r) => r,
            Err(e) => return Some(self.response(server, Err((400, e)))),
        };
        if !request.selects(server) {
            return None;
        }
        // `$SYS.REQ.ACCOUNT.PING.STATZ` asks for every account in use.
        let every = account == "PING";
        if every && name != "STATZ" {
            return None;
        }
        let mut params = request.params;
        if !every {
            params.insert("acc".into(), account.into());
        }
        let answer = match name {
            "SUBSZ" => {
                params.insert("subs".into(), "true".into());
                run(endpoint("/subsz")?, server, &params)
            }
            "CONNZ" => run(endpoint("/connz")?, server, &params),
            "LEAFZ" => run(endpoint("/leafz")?, server, &params),
            "JSZ" => run(endpoint("/jsz")?, server, &params),
            "INFO" => run(endpoint("/accountz")?, server, &params).map(|mut v| v["account_detail"].take()),
            "STATZ" => {
                let statz = run(endpoint("/accstatz")?, server, &params).ok()?;
                let unused = params.contains_key("unused");
                let accounts: Vec<&Value> = statz["account_statz"]
                    .as_array()
                    .map(|list| list.iter().filter(|a| every || a["acc"] == account).collect())
                    .unwrap_or_default();
                if accounts.is_empty() && !unused {
                    return None;
                }
                Ok(json!({"server_id": statz["server_id"], "now": statz["now"], "account_statz": accounts}))
            }
            // Answered by servers with connections in the account only.
            "CONNS" if !server.clients_in(account).is_empty() => {
                return serde_json::to_vec(&self.account_conns(server, account)).ok();
            }
            _ => return None,
        };
        Some(self.response(server, answer))
    }
}

/// The builder of the monitoring endpoint at `path`.
fn endpoint(path: &str) -> Option<Build> {
    monitor::ENDPOINTS
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, build)| *build)
}

/// An endpoint's JSON; its complaints are the server's (500) here, as in
/// nats-server, since the request's options were already read.
fn run(build: Build, server: &Server, params: &Params) -> Result<Value, (u16, String)> {
    build(server, params).map_err(|e| (500, e.0))
}

impl Subscriber for SystemServices {
    fn deliver(&self, _sub: &Subscription, msg: &Message<'_>, producer: &mut Producer) {
        let Some(server) = self.server.upgrade() else {
            return;
        };
        let subject = String::from_utf8_lossy(msg.subject);
        let body = &msg.payload[msg.header_len.unwrap_or(0)..];
        if subject.ends_with(".SERVER.CONNS") || subject.starts_with("$SYS._INBOX_.") {
            self.remote_account_conns(&server, body);
            return;
        }
        if let ["$SYS", "SERVER", id, event] = subject.split('.').collect::<Vec<_>>()[..] {
            if id != server.id {
                let mut servers = self.servers.lock();
                match event {
                    "STATSZ" => {
                        servers.insert(id.to_string(), std::time::Instant::now());
                    }
                    "SHUTDOWN" => {
                        servers.remove(id);
                    }
                    _ => {}
                }
            }
            return;
        }
        let Some(reply) = msg.reply else {
            return;
        };
        if subject == format!("$SYS.REQ.SERVER.{}.RELOAD", server.id) {
            self.reload(server, body, reply);
            return;
        }
        if let Some(answer) = self.answer(&server, &subject, body) {
            server
                .accounts
                .system
                .publish_internal_with(reply, &answer, producer);
        }
    }
}
