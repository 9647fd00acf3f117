//! The HTTP monitoring endpoints: the same JSON fields as nats-server's
//! (recorded from nats-server 2.9.10 for the same situation), query
//! parameters, closed connections and bad parameters.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{http_get, http_json, Raw};
use junction::Options;

async fn start(opts: Options) -> (junction::RunningServer, SocketAddr) {
    let server = common::start(opts).await;
    let http = junction::monitor::start(server.server.clone(), "127.0.0.1", 0)
        .await
        .unwrap();
    (server, http)
}

fn keys(v: &serde_json::Value) -> Vec<&str> {
    v.as_object().unwrap().keys().map(|k| k.as_str()).collect()
}

/// One client as in the recorded nats-server run: named, two subscriptions
/// (one in a queue group), one message published to itself.
async fn probe_client(addr: SocketAddr) -> Raw {
    let mut raw = Raw::handshake(
        addr,
        r#"{"verbose":false,"name":"probe","lang":"py","version":"1"}"#,
    )
    .await;
    raw.send("SUB foo 1\r\nSUB bar q 2\r\nPUB foo 2\r\nhi\r\nPING\r\n")
        .await;
    raw.expect("MSG foo 1 2\r\nhi\r\nPONG\r\n").await;
    raw
}

#[tokio::test]
async fn varz_has_nats_server_fields_in_order() {
    let (server, http) = start(Options::default()).await;
    let _c = probe_client(server.addr).await;
    let v = http_json(http, "/varz").await;
    assert_eq!(
        keys(&v),
        [
            "server_id",
            "server_name",
            "version",
            "proto",
            "go",
            "host",
            "port",
            "max_connections",
            "ping_interval",
            "ping_max",
            "http_host",
            "http_port",
            "http_base_path",
            "https_port",
            "auth_timeout",
            "max_control_line",
            "max_payload",
            "max_pending",
            "cluster",
            "gateway",
            "leaf",
            "mqtt",
            "websocket",
            "jetstream",
            "tls_timeout",
            "write_deadline",
            "start",
            "now",
            "uptime",
            "mem",
            "cores",
            "gomaxprocs",
            "cpu",
            "connections",
            "total_connections",
            "routes",
            "remotes",
            "leafnodes",
            "in_msgs",
            "out_msgs",
            "in_bytes",
            "out_bytes",
            "slow_consumers",
            "subscriptions",
            "http_req_stats",
            "config_load_time",
            "system_account"
        ]
    );
    assert_eq!(v["server_id"], server.server.id);
    assert_eq!(v["port"], server.addr.port());
    assert_eq!(v["http_port"], http.port());
    assert_eq!(v["ping_interval"], 120_000_000_000u64);
    assert_eq!(v["write_deadline"], 10_000_000_000u64);
    assert_eq!(v["max_payload"], 1_048_576);
    assert_eq!(
        (
            v["connections"].as_u64(),
            v["in_msgs"].as_u64(),
            v["out_msgs"].as_u64()
        ),
        (Some(1), Some(1), Some(1))
    );
    assert_eq!(
        (v["in_bytes"].as_u64(), v["out_bytes"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(v["system_account"], "$SYS");
    assert!(v["mem"].as_u64().unwrap() > 0);
    assert_eq!(v["http_req_stats"], serde_json::json!({"/varz": 1}));
    // As recorded from nats-server: counted by endpoint, `/subscriptionsz`
    // under `/subsz`, the current request included.
    http_json(http, "/connz").await;
    http_json(http, "/subscriptionsz").await;
    let v = http_json(http, "/varz").await;
    assert_eq!(
        v["http_req_stats"],
        serde_json::json!({"/connz": 1, "/subsz": 1, "/varz": 2})
    );
}

#[tokio::test]
async fn connz_matches_nats_server_shape_and_values() {
    let (server, http) = start(Options::default()).await;
    let _c = probe_client(server.addr).await;
    let v = http_json(http, "/connz?subs=1").await;
    assert_eq!(
        keys(&v),
        [
            "server_id",
            "now",
            "num_connections",
            "total",
            "offset",
            "limit",
            "connections"
        ]
    );
    let c = &v["connections"][0];
    assert_eq!(
        keys(c),
        [
            "cid",
            "kind",
            "type",
            "ip",
            "port",
            "start",
            "last_activity",
            "rtt",
            "uptime",
            "idle",
            "pending_bytes",
            "in_msgs",
            "out_msgs",
            "in_bytes",
            "out_bytes",
            "subscriptions",
            "name",
            "lang",
            "version",
            "subscriptions_list"
        ]
    );
    assert_eq!(
        (c["kind"].as_str(), c["type"].as_str(), c["name"].as_str()),
        (Some("Client"), Some("nats"), Some("probe"))
    );
    assert_eq!(
        (
            c["in_msgs"].as_u64(),
            c["out_msgs"].as_u64(),
            c["subscriptions"].as_u64()
        ),
        (Some(1), Some(1), Some(2))
    );
    let mut list: Vec<&str> = c["subscriptions_list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    list.sort();
    assert_eq!(list, ["bar", "foo"]);
    assert_eq!(v["limit"], 1024);
}

#[tokio::test]
async fn connz_sorts_pages_filters_and_keeps_closed_connections() {
    let (server, http) = start(Options {
        users: vec![junction::options::UserConfig {
            username: Some("ann".into()),
            password: Some("pw".into()),
            ..Default::default()
        }],
        ..Options::default()
    })
    .await;
    let login = r#"{"verbose":false,"user":"ann","pass":"pw"}"#;
    let mut busy = Raw::handshake(server.addr, login).await;
    let quiet = Raw::handshake(server.addr, login).await;
    busy.send("SUB x 1\r\nPUB x 1\r\na\r\nPUB x 1\r\nb\r\nPING\r\n")
        .await;
    busy.expect("MSG x 1 1\r\na\r\nMSG x 1 1\r\nb\r\nPONG\r\n").await;
    let v = http_json(http, "/connz?sort=msgs_to").await;
    let cids: Vec<u64> = v["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["cid"].as_u64().unwrap())
        .collect();
    assert_eq!(cids.len(), 2);
    let busy_cid = cids[0];
    assert_eq!(v["connections"][0]["out_msgs"], 2);
    let v = http_json(http, "/connz?limit=1&offset=1").await;
    assert_eq!(
        (
            v["num_connections"].as_u64(),
            v["total"].as_u64(),
            v["offset"].as_u64()
        ),
        (Some(1), Some(2), Some(1))
    );
    let v = http_json(http, &format!("/connz?cid={busy_cid}&auth=1")).await;
    assert_eq!(v["connections"][0]["authorized_user"], "ann");
    assert_eq!(v["connections"][0]["account"], "$G");
    assert!(http_json(http, "/connz").await["connections"][0]
        .get("authorized_user")
        .is_none());

    drop(quiet);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while server.server.num_clients() > 1 {
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let v = http_json(http, "/connz?state=closed").await;
    let closed = &v["connections"][0];
    assert_eq!(closed["reason"], "Client Closed");
    assert!(closed["stop"].is_string());
    assert_eq!(http_json(http, "/connz?state=all").await["total"], 2);
    drop(busy);
}

#[tokio::test]
async fn bad_query_parameters_get_400_json() {
    let (_server, http) = start(Options::default()).await;
    for path in [
        "/connz?sort=bogus",
        "/connz?limit=-1",
        "/connz?state=sleepy",
        "/connz?sort=stop",
        "/connz?subs=maybe",
        "/subsz?test=foo.*",
        "/accountz?acc=NOPE",
        "/healthz?js-enabled-only=perhaps",
    ] {
        let (status, body) = http_get(http, path).await;
        assert_eq!(status, 400, "{path}");
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert!(json["error"].is_string(), "{path}: {body}");
    }
    // The server still answers after all that.
    assert_eq!(http_json(http, "/healthz").await["status"], "ok");
}

#[tokio::test]
async fn subsz_counts_lists_and_tests_subjects() {
    let (server, http) = start(Options::default()).await;
    // The system account's services are subscriptions too, as in nats-server.
    let services = http_json(http, "/subsz").await["num_subscriptions"]
        .as_u64()
        .unwrap();
    assert!(services > 0);
    let _c = probe_client(server.addr).await;
    let v = http_json(http, "/subsz").await;
    assert_eq!(v["num_subscriptions"], services + 2);
    assert!(v.get("subscriptions_list").is_none());
    let v = http_json(http, "/subsz?subs=1&test=foo").await;
    let list = v["subscriptions_list"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(keys(&list[0]), ["account", "subject", "sid", "msgs", "cid"]);
    assert_eq!(
        (list[0]["subject"].as_str(), list[0]["msgs"].as_u64()),
        (Some("foo"), Some(1))
    );
    let v = http_json(http, "/subsz?subs=1&test=bar").await;
    assert_eq!(
        keys(&v["subscriptions_list"][0]),
        ["account", "subject", "qgroup", "sid", "msgs", "cid"]
    );
}

#[tokio::test]
async fn account_and_cluster_endpoints_have_reference_shapes() {
    let (server, http) = start(Options::default()).await;
    let _c = probe_client(server.addr).await;
    let v = http_json(http, "/accountz").await;
    assert_eq!(keys(&v), ["server_id", "now", "system_account", "accounts"]);
    assert_eq!(
        http_json(http, "/accountz?acc=$G").await["account_detail"]["client_connections"],
        1
    );
    let v = http_json(http, "/accstatz").await;
    let s = &v["account_statz"][0];
    assert_eq!(
        keys(s),
        [
            "acc",
            "conns",
            "leafnodes",
            "total_conns",
            "sent",
            "received",
            "slow_consumers"
        ]
    );
    assert_eq!(
        (s["acc"].as_str(), s["sent"]["msgs"].as_u64()),
        (Some("$G"), Some(1))
    );
    assert_eq!(
        keys(&http_json(http, "/routez").await),
        ["server_id", "server_name", "now", "num_routes", "routes"]
    );
    assert_eq!(
        keys(&http_json(http, "/gatewayz").await),
        ["server_id", "now", "outbound_gateways", "inbound_gateways"]
    );
    assert_eq!(
        keys(&http_json(http, "/leafz").await),
        ["server_id", "now", "leafnodes", "leafs"]
    );
    let jsz = http_json(http, "/jsz").await;
    assert_eq!(jsz["disabled"], true);
    assert_eq!(
        http_json(http, "/healthz?js-enabled-only=true").await,
        serde_json::json!({"status": "ok"})
    );
}

#[tokio::test]
async fn metrics_in_prometheus_text() {
    let (server, http) = start(Options::default()).await;
    let _c = probe_client(server.addr).await;
    let (status, body) = http_get(http, "/metrics").await;
    assert_eq!(status, 200);
    assert!(
        body.contains("# TYPE junction_connections gauge\njunction_connections 1\n"),
        "{body}"
    );
    assert!(body.contains("junction_in_msgs_total 1\n"));
    assert!(body.contains("junction_account_connections{account=\"$G\",type=\"nats\"} 1\n"));
}

/// Parses the Go durations `/connz` uses for `rtt` (`523µs`, `51.2ms`, `1.5s`).
fn go_duration(s: &str) -> Duration {
    let (num, unit) = s.split_at(s.find(|c: char| c.is_alphabetic() || c == 'µ').unwrap());
    let n: f64 = num.parse().unwrap();
    let scale = match unit {
        "ns" => 1e-9,
        "µs" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        other => panic!("unexpected unit {other}"),
    };
    Duration::from_secs_f64(n * scale)
}

#[tokio::test]
async fn connz_rtt_is_estimated_at_connect_then_measured_by_the_first_ping() {
    let (server, http) = start(Options::default()).await;
    let mut raw = Raw::handshake(server.addr, r#"{"verbose":false,"lang":"raw"}"#).await;
    raw.send("PING\r\n").await;
    raw.expect("PONG\r\n").await;
    let v = http_json(http, "/connz").await;
    let first = v["connections"][0]["rtt"].as_str().unwrap().to_string();
    assert_ne!(first, "0s", "the CONNECT estimate is there at once");
    // As nats-server: the first server PING comes after 2 s (plus up to 20%),
    // however long ping_interval is.
    let started = std::time::Instant::now();
    raw.expect("PING\r\n").await;
    let waited = started.elapsed();
    assert!(
        waited > Duration::from_millis(1500) && waited < Duration::from_millis(3000),
        "{waited:?}"
    );
    tokio::time::sleep(Duration::from_millis(120)).await;
    raw.send("PONG\r\n").await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let v = http_json(http, "/connz").await;
    let rtt = go_duration(v["connections"][0]["rtt"].as_str().unwrap());
    assert!(
        rtt >= Duration::from_millis(120) && rtt < Duration::from_millis(1000),
        "{rtt:?}"
    );
}

/// `http_base_path` moves every endpoint under it, as in nats-server:
/// `/varz` reports the path as written, requests are counted by endpoint,
/// and nothing answers outside it; the demo is at the base with a slash.
#[tokio::test]
async fn http_base_path_moves_the_endpoints() {
    let (_server, http) = start(Options {
        http_base_path: "nats/".into(),
        ..Options::default()
    })
    .await;
    let v = http_json(http, "/nats/varz").await;
    assert_eq!(v["http_base_path"], "nats/");
    assert_eq!(v["http_req_stats"], serde_json::json!({"/varz": 1}));
    assert_eq!(http_json(http, "/nats/healthz").await["status"], "ok");
    assert_eq!(http_get(http, "/varz").await.0, 404);
    assert_eq!(http_get(http, "/natsvarz").await.0, 404);
    assert_eq!(http_get(http, "/nats").await.0, 308);
    let (status, body) = http_get(http, "/nats/").await;
    assert_eq!(status, 200);
    assert!(body.contains("<html"), "{body}");
}
