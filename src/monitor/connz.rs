//! `/connz`: open and closed connections, sorted and paged like
//! nats-server's, with subscriptions, account and user on request.

use std::time::{Duration, SystemTime};

use serde::Serialize;
use serde_json::Value;

use super::time::{go_duration, rfc3339, uptime};
use super::{query_bool, query_number, BadRequest, Params};
use crate::conn::{ConnRecord, Connection};
use crate::server::Server;

/// One connection, with nats-server's field names.
#[derive(Debug, Clone, Serialize)]
pub struct ConnInfo {
    pub cid: u64,
    pub kind: &'static str,
    /// Which listener: `nats`, `websocket` or `mqtt`.
    #[serde(rename = "type")]
    pub transport: &'static str,
    pub ip: String,
    pub port: u16,
    pub start: String,
    pub last_activity: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub rtt: String,
    pub uptime: String,
    pub idle: String,
    pub pending_bytes: usize,
    pub in_msgs: u64,
    pub out_msgs: u64,
    pub in_bytes: u64,
    pub out_bytes: u64,
    pub subscriptions: usize,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub lang: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cipher_suite: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tls_first: bool,
    #[serde(skip_serializing_if = "String::is_empty", rename = "authorized_user")]
    pub user: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub account: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subscriptions_list: Vec<String>,
    /// The client identifier of an MQTT connection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mqtt_client: Option<String>,
    #[serde(skip)]
    started: SystemTime,
    #[serde(skip)]
    last: SystemTime,
    #[serde(skip)]
    subjects: Vec<String>,
}

/// nats-server shows sub-millisecond round trips to the microsecond.
fn rtt_for_display(rtt: Duration) -> Duration {
    if rtt > Duration::from_micros(1) && rtt < Duration::from_millis(1) {
        Duration::from_micros(rtt.as_micros() as u64)
    } else {
        rtt
    }
}

impl ConnInfo {
    /// A snapshot of `client` as it is now.
    pub fn of(client: &dyn Connection) -> ConnInfo {
        ConnInfo::from(ConnRecord::of(client, false))
    }
}

impl From<ConnRecord> for ConnInfo {
    /// A closed connection's times run to when it closed.
    fn from(c: ConnRecord) -> ConnInfo {
        let now = c.stopped.map_or_else(SystemTime::now, |(at, _)| at);
        let tls = c.tls.as_ref();
        ConnInfo {
            cid: c.id,
            kind: "Client",
            transport: c.transport,
            ip: c.remote.ip().to_string(),
            port: c.remote.port(),
            start: rfc3339(c.started),
            last_activity: rfc3339(c.last_activity),
            stop: c.stopped.map(|(at, _)| rfc3339(at)),
            reason: c.stopped.and_then(|(_, why)| why).map(|r| r.to_string()),
            rtt: go_duration(rtt_for_display(c.rtt)),
            uptime: uptime(now.duration_since(c.started).unwrap_or_default()),
            idle: uptime(now.duration_since(c.last_activity).unwrap_or_default()),
            pending_bytes: c.pending_bytes,
            in_msgs: c.in_msgs,
            out_msgs: c.out_msgs,
            in_bytes: c.in_bytes,
            out_bytes: c.out_bytes,
            subscriptions: c.subjects.len(),
            tls_version: tls.map(|t| t.version.clone()),
            tls_cipher_suite: tls.map(|t| t.cipher_suite.clone()),
            tls_first: tls.is_some_and(|t| t.handshake_first),
            name: c.meta.name,
            lang: c.meta.lang,
            version: c.meta.version,
            user: c.user,
            account: c.account,
            subscriptions_list: Vec::new(),
            mqtt_client: c.mqtt_client,
            started: c.started,
            last: c.last_activity,
            subjects: c.subjects,
        }
    }
}

#[derive(Serialize)]
pub struct Connz {
    server_id: String,
    now: String,
    num_connections: usize,
    total: usize,
    offset: usize,
    limit: usize,
    connections: Vec<ConnInfo>,
}

const SORTS: [&str; 13] = [
    "cid",
    "start",
    "subs",
    "pending",
    "msgs_to",
    "msgs_from",
    "bytes_to",
    "bytes_from",
    "last",
    "idle",
    "uptime",
    "stop",
    "reason",
];

pub fn connz(server: &Server, q: &Params) -> Result<Value, BadRequest> {
    serde_json::to_value(build(server, q)?).map_err(|e| BadRequest(e.to_string()))
}

pub fn build(server: &Server, q: &Params) -> Result<Connz, BadRequest> {
    let subs = query_bool("subs", q.get("subs"))?;
    let auth = query_bool("auth", q.get("auth"))?;
    let offset = query_number("offset", q.get("offset"))?.unwrap_or(0);
    let limit = query_number("limit", q.get("limit"))?.unwrap_or(1024);
    let cid = query_number("cid", q.get("cid"))?;
    let sort = q.get("sort").map(String::as_str).unwrap_or("cid");
    if !SORTS.contains(&sort) {
        return Err(BadRequest(format!("Invalid sorting option: {sort}")));
    }
    let state = q.get("state").map(String::as_str).unwrap_or("open");
    let (open, closed) = match state {
        "open" => (true, false),
        "closed" => (false, true),
        "any" | "all" => (true, true),
        other => return Err(BadRequest(format!("Invalid connection state: {other}"))),
    };
    if (sort == "stop" || sort == "reason") && !closed {
        return Err(BadRequest(format!(
            "Invalid sorting option {sort:?} for open connections"
        )));
    }
    let account = q.get("acc");
    let mut conns: Vec<ConnInfo> = Vec::new();
    if open {
        conns.extend(server.clients().iter().map(|c| ConnInfo::of(c.as_ref())));
    }
    if closed {
        conns.extend(server.closed_connections().into_iter().map(ConnInfo::from));
    }
    if let Some(id) = cid {
        conns.retain(|c| c.cid as usize == id);
    }
    if let Some(acc) = account {
        conns.retain(|c| &c.account == acc);
    }
    match sort {
        "cid" => conns.sort_by_key(|c| c.cid),
        "start" => conns.sort_by_key(|c| c.started),
        "subs" => conns.sort_by_key(|c| std::cmp::Reverse(c.subscriptions)),
        "pending" => conns.sort_by_key(|c| std::cmp::Reverse(c.pending_bytes)),
        "msgs_to" => conns.sort_by_key(|c| std::cmp::Reverse(c.out_msgs)),
        "msgs_from" => conns.sort_by_key(|c| std::cmp::Reverse(c.in_msgs)),
        "bytes_to" => conns.sort_by_key(|c| std::cmp::Reverse(c.out_bytes)),
        "bytes_from" => conns.sort_by_key(|c| std::cmp::Reverse(c.in_bytes)),
        "last" => conns.sort_by_key(|c| std::cmp::Reverse(c.last)),
        "idle" => conns.sort_by_key(|c| c.last),
        "uptime" => conns.sort_by_key(|c| c.started),
        "stop" => conns.sort_by(|a, b| b.stop.cmp(&a.stop)),
        _ => conns.sort_by(|a, b| a.reason.cmp(&b.reason)),
    }
    let total = conns.len();
    let mut page: Vec<ConnInfo> = conns.into_iter().skip(offset).take(limit).collect();
    for c in &mut page {
        if subs {
            c.subscriptions_list = std::mem::take(&mut c.subjects);
        }
        if !auth {
            c.user.clear();
            c.account.clear();
        }
    }
    Ok(Connz {
        server_id: server.id.clone(),
        now: rfc3339(SystemTime::now()),
        num_connections: page.len(),
        total,
        offset,
        limit,
        connections: page,
    })
}
