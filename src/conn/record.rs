//! A snapshot of one connection as it is, or as it was when it closed:
//! what `/connz` shows, kept by the server for recently closed ones.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use super::{ClientMeta, CloseReason, Connection, TlsInfo};

#[derive(Debug, Clone)]
pub struct ConnRecord {
    pub id: u64,
    /// Which listener: `nats`, `websocket` or `mqtt`.
    pub transport: &'static str,
    pub remote: SocketAddr,
    pub started: SystemTime,
    pub last_activity: SystemTime,
    /// When it closed, and why.
    pub stopped: Option<(SystemTime, Option<CloseReason>)>,
    pub rtt: Duration,
    pub pending_bytes: usize,
    pub in_msgs: u64,
    pub in_bytes: u64,
    pub out_msgs: u64,
    pub out_bytes: u64,
    pub subjects: Vec<String>,
    pub meta: ClientMeta,
    pub tls: Option<TlsInfo>,
    pub user: String,
    pub account: String,
    /// The client identifier of an MQTT connection.
    pub mqtt_client: Option<String>,
}

impl ConnRecord {
    /// A snapshot of `conn` as it is now, or as it closes.
    pub fn of(conn: &dyn Connection, closed: bool) -> ConnRecord {
        let (out_msgs, out_bytes) = conn.out_counts();
        ConnRecord {
            id: conn.id(),
            transport: conn.transport(),
            remote: conn.remote(),
            started: conn.started(),
            last_activity: conn.last_activity(),
            stopped: closed.then(|| (SystemTime::now(), conn.close_reason())),
            rtt: conn.rtt(),
            pending_bytes: if closed { 0 } else { conn.pending_bytes() },
            in_msgs: conn.counters().in_msgs.load(Ordering::Relaxed),
            in_bytes: conn.counters().in_bytes.load(Ordering::Relaxed),
            out_msgs,
            out_bytes,
            subjects: conn.subscription_subjects(),
            meta: conn.meta(),
            tls: conn.tls(),
            user: conn.user(),
            account: conn.account().name.clone(),
            mqtt_client: conn.mqtt_client(),
        }
    }
}
