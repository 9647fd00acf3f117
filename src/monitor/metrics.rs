//! `/metrics`: the `/varz` figures and per-account connections in
//! Prometheus text format, so no separate exporter is needed.

use std::fmt::Write as _;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::server::Server;

pub async fn metrics(State(server): State<Arc<Server>>) -> impl IntoResponse {
    let st = &server.stats;
    let mut out = String::new();
    // One table, laid out by hand: name, Prometheus type, help, value.
    #[rustfmt::skip]
    let figures: [(&str, &str, &str, u64); 10] = [
        ("connections", "gauge", "Client connections open now.", server.num_clients() as u64),
        ("total_connections", "counter", "Client connections accepted since start.", st.total_connections.load(Relaxed)),
        ("in_msgs_total", "counter", "Messages received from clients.", st.in_msgs.load(Relaxed)),
        ("out_msgs_total", "counter", "Messages delivered to subscribers.", st.out_msgs.load(Relaxed)),
        ("in_bytes_total", "counter", "Payload bytes received from clients.", st.in_bytes.load(Relaxed)),
        ("out_bytes_total", "counter", "Payload bytes delivered to subscribers.", st.out_bytes.load(Relaxed)),
        ("slow_consumers_total", "counter", "Clients disconnected as slow consumers.", st.slow_consumers.load(Relaxed)),
        ("subscriptions", "gauge", "Subscriptions in all accounts.", server.accounts.subscription_count()),
        ("mem_bytes", "gauge", "Resident memory of the server process.", super::varz::resident_bytes()),
        ("uptime_seconds", "counter", "Seconds since the server started.", server.uptime().as_secs()),
    ];
    for (name, kind, help, value) in figures {
        let _ = writeln!(
            out,
            "# HELP junction_{name} {help}\n# TYPE junction_{name} {kind}\njunction_{name} {value}"
        );
    }
    let _ = writeln!(
        out,
        "# HELP junction_account_connections Client connections open now, by account and listener."
    );
    let _ = writeln!(out, "# TYPE junction_account_connections gauge");
    let mut counts: std::collections::BTreeMap<(String, &str), u64> = Default::default();
    for c in server.clients() {
        *counts
            .entry((c.account().name.clone(), c.transport()))
            .or_default() += 1;
    }
    for ((account, transport), n) in counts {
        let _ = writeln!(
            out,
            "junction_account_connections{{account=\"{account}\",type=\"{transport}\"}} {n}"
        );
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}
