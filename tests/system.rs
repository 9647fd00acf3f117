//! The system account's services with real peers: async-nats clients of
//! the system account asking `$SYS.REQ.SERVER.…` and `$SYS.REQ.ACCOUNT.…`,
//! on one Junction node, and on a cluster of Junction and nats-server
//! 2.15.1 and 2.9.10 nodes where every node answers a request made on any;
//! and accounts with imports and mappings across such a cluster.

mod common;

use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, Instant};

use futures::StreamExt;
use junction::RunningServer;
use serde_json::Value;

/// One configuration for Junction and nats-server alike: a system account
/// and an application account, each with a user.
fn config(name: &str, client_port: u16, cluster_port: Option<u16>, routes: &[String]) -> String {
    let mut conf = format!(
        "listen: 127.0.0.1:{client_port}\nserver_name: {name}\n\
         accounts {{\n  SYS: {{ users: [{{user: sys, password: sys}}] }}\n  \
         APP: {{ users: [{{user: app, password: app}}] }}\n}}\nsystem_account: SYS\n"
    );
    if let Some(port) = cluster_port {
        let routes: Vec<String> = routes.iter().map(|r| format!("\"{r}\"")).collect();
        conf += &format!(
            "cluster {{ name: c1, listen: 127.0.0.1:{port}, routes: [{}] }}\n",
            routes.join(", ")
        );
    }
    conf
}

fn write_config(name: &str, text: &str) -> std::path::PathBuf {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("system-{name}-{}-{n}.conf", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

async fn junction_node(name: &str, cluster_port: Option<u16>, routes: &[String]) -> RunningServer {
    let path = write_config(name, &config(name, 0, cluster_port, routes));
    let opts = junction::config::load_options(&path).expect("configuration loads");
    common::start(opts).await
}

struct Reference {
    _process: common::Process,
    client: u16,
}

fn reference(version: &str, name: &str, cluster_port: u16, routes: &[String]) -> Reference {
    let client = common::free_port();
    let conf = config(name, client, Some(cluster_port), routes);
    Reference {
        _process: common::reference_with_config(version, &conf),
        client,
    }
}

async fn connect(url: &str, user: &str) -> async_nats::Client {
    common::connect_retrying(url, || {
        async_nats::ConnectOptions::with_user_and_password(user.into(), user.into())
    })
    .await
}

async fn request(client: &async_nats::Client, subject: &str, body: &str) -> Value {
    let reply = tokio::time::timeout(
        Duration::from_secs(5),
        client.request(subject.to_string(), body.to_string().into()),
    )
    .await
    .expect("answered in time")
    .expect("answered");
    serde_json::from_slice(&reply.payload).expect("JSON")
}

/// Every answer to one request within `wait`.
async fn gather(client: &async_nats::Client, subject: &str, body: &str, wait: Duration) -> Vec<Value> {
    let inbox = client.new_inbox();
    let mut replies = client.subscribe(inbox.clone()).await.unwrap();
    client
        .publish_with_reply(subject.to_string(), inbox, body.to_string().into())
        .await
        .unwrap();
    client.flush().await.unwrap();
    let mut answers = Vec::new();
    let deadline = tokio::time::Instant::now() + wait;
    while let Ok(Some(m)) = tokio::time::timeout_at(deadline, replies.next()).await {
        answers.push(serde_json::from_slice(&m.payload).expect("JSON"));
    }
    answers
}

#[tokio::test]
async fn the_system_account_answers_server_and_account_requests() {
    let node = junction_node("j1", None, &[]).await;
    let url = common::url(&node);
    let sys = connect(&url, "sys").await;
    let app = connect(&url, "app").await;
    let _watch = app.subscribe("orders.>").await.unwrap();
    app.flush().await.unwrap();
    let id = node.server.id.clone();

    // STATSZ, by its old name and its new one.
    for subject in ["$SYS.REQ.SERVER.PING", "$SYS.REQ.SERVER.PING.STATSZ"] {
        let statsz = request(&sys, subject, "").await;
        assert_eq!(statsz["server"]["id"], id.as_str());
        assert_eq!(statsz["server"]["name"], "j1");
        assert_eq!(statsz["server"]["host"], "127.0.0.1");
        assert!(statsz["server"]["seq"].as_u64().unwrap() > 0);
        assert_eq!(statsz["statsz"]["connections"], 2);
        assert_eq!(statsz["statsz"]["active_accounts"], 2);
        assert_eq!(statsz["statsz"]["active_servers"], 1);
    }
    // IDZ comes without the envelope.
    let idz = request(&sys, "$SYS.REQ.SERVER.PING.IDZ", "").await;
    assert_eq!(
        idz,
        serde_json::json!({"name": "j1", "host": "127.0.0.1", "id": id})
    );
    // Endpoints by PING and by this server's id, with /varz's and /connz's JSON.
    let varz = request(&sys, "$SYS.REQ.SERVER.PING.VARZ", "").await;
    assert_eq!(varz["data"]["server_id"], id.as_str());
    assert_eq!(varz["data"]["system_account"], "SYS");
    let connz = request(
        &sys,
        &format!("$SYS.REQ.SERVER.{id}.CONNZ"),
        r#"{"subscriptions":true,"account":"APP"}"#,
    )
    .await;
    assert_eq!(connz["server"]["id"], id.as_str());
    assert_eq!(connz["data"]["num_connections"], 1);
    assert_eq!(
        connz["data"]["connections"][0]["subscriptions_list"][0],
        "orders.>"
    );
    let healthz = request(&sys, "$SYS.REQ.SERVER.PING.HEALTHZ", "").await;
    assert_eq!(healthz["data"]["status"], "ok");
    // Per account.
    let subsz = request(&sys, "$SYS.REQ.ACCOUNT.APP.SUBSZ", "").await;
    let subjects: Vec<&str> = subsz["data"]["subscriptions_list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["subject"].as_str().unwrap())
        .collect();
    assert!(subjects.contains(&"orders.>"), "{subsz}");
    // With the system account's services every account imports, as
    // nats-server 2.15.1 lists them too; nothing of other accounts.
    let mut others: Vec<&str> = subjects.iter().copied().filter(|s| *s != "orders.>").collect();
    others.sort();
    assert_eq!(
        others,
        [
            "$SYS.REQ.ACCOUNT.PING.CONNZ",
            "$SYS.REQ.ACCOUNT.PING.STATZ",
            "$SYS.REQ.SERVER.PING.CONNZ"
        ],
        "only APP's: {subjects:?}"
    );
    let info = request(&sys, "$SYS.REQ.ACCOUNT.APP.INFO", "").await;
    assert_eq!(info["data"]["account_name"], "APP");
    assert_eq!(info["data"]["client_connections"], 1);
    let statz = request(&sys, "$SYS.REQ.ACCOUNT.APP.STATZ", "").await;
    assert_eq!(statz["data"]["account_statz"][0]["acc"], "APP");
    assert_eq!(statz["data"]["account_statz"][0]["conns"], 1);
    let conns = request(&sys, "$SYS.REQ.ACCOUNT.APP.CONNS", "").await;
    assert_eq!(conns["type"], "io.nats.server.advisory.v1.account_connections");
    assert_eq!(
        (conns["acc"].as_str(), conns["conns"].as_u64()),
        (Some("APP"), Some(1))
    );
    // A body that is not JSON: nats-server's 400 in the envelope.
    let bad = request(&sys, "$SYS.REQ.SERVER.PING.VARZ", "{nope").await;
    assert_eq!(bad["error"]["code"], 400);
    assert_eq!(bad["server"]["id"], id.as_str());
    // A filter that leaves this server out: no answer at all.
    let none = gather(
        &sys,
        "$SYS.REQ.SERVER.PING.VARZ",
        r#"{"server_name":"other"}"#,
        Duration::from_millis(300),
    )
    .await;
    assert!(none.is_empty(), "{none:?}");
    let exact = gather(
        &sys,
        "$SYS.REQ.SERVER.PING.VARZ",
        r#"{"server_name":"j","exact_match":true}"#,
        Duration::from_millis(300),
    )
    .await;
    assert!(exact.is_empty());
    let partial = gather(
        &sys,
        "$SYS.REQ.SERVER.PING.VARZ",
        r#"{"server_name":"j"}"#,
        Duration::from_millis(300),
    )
    .await;
    assert_eq!(partial.len(), 1);
    // An application account has no access to the system's subjects.
    let err = app
        .request("$SYS.REQ.SERVER.PING", "".into())
        .await
        .expect_err("no responders in APP");
    assert_eq!(err.kind(), async_nats::RequestErrorKind::NoResponders);
}

#[tokio::test]
async fn statsz_is_sent_periodically() {
    let node = junction_node("j1", None, &[]).await;
    let sys = connect(&common::url(&node), "sys").await;
    let mut events = sys.subscribe("$SYS.SERVER.*.STATSZ").await.unwrap();
    sys.flush().await.unwrap();
    let first = tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .expect("a STATSZ within seconds")
        .unwrap();
    assert_eq!(
        first.subject.as_str(),
        format!("$SYS.SERVER.{}.STATSZ", node.server.id)
    );
    let body: Value = serde_json::from_slice(&first.payload).unwrap();
    assert_eq!(body["server"]["name"], "j1");
    assert!(body["statsz"]["start"].is_string());
}

#[tokio::test]
async fn clients_connecting_and_going_are_announced() {
    let node = junction_node("j1", None, &[]).await;
    let url = common::url(&node);
    let sys = connect(&url, "sys").await;
    let mut events = sys.subscribe("$SYS.ACCOUNT.APP.>").await.unwrap();
    sys.flush().await.unwrap();
    let app = async_nats::ConnectOptions::with_user_and_password("app".into(), "app".into())
        .name("sensor-7")
        .connect(&url)
        .await
        .unwrap();
    app.publish("readings", "12".into()).await.unwrap();
    app.flush().await.unwrap();
    app.drain().await.unwrap();
    let (subject, connect) = next_event(&mut events).await;
    assert_eq!(subject, "$SYS.ACCOUNT.APP.CONNECT");
    assert_eq!(connect["type"], "io.nats.server.advisory.v1.client_connect");
    assert_eq!(connect["server"]["name"], "j1");
    let client = &connect["client"];
    assert_eq!(
        (client["acc"].as_str(), client["user"].as_str()),
        (Some("APP"), Some("app"))
    );
    assert_eq!(client["name"], "sensor-7");
    assert_eq!(client["lang"], "rust");
    assert_eq!(
        (client["kind"].as_str(), client["client_type"].as_str()),
        (Some("Client"), Some("nats"))
    );
    let (subject, disconnect) = next_event(&mut events).await;
    assert_eq!(subject, "$SYS.ACCOUNT.APP.DISCONNECT");
    assert_eq!(disconnect["type"], "io.nats.server.advisory.v1.client_disconnect");
    assert_eq!(disconnect["client"]["id"], client["id"]);
    assert!(disconnect["client"]["stop"].is_string());
    assert_eq!(disconnect["sent"]["msgs"], 1);
    assert_eq!(disconnect["sent"]["bytes"], 2);
    assert_eq!(disconnect["reason"], "Client Closed");
}

/// MQTT clients are clients too: their events say so, with their client id.
#[tokio::test]
async fn mqtt_clients_are_announced_too() {
    use rumqttc::{AsyncClient, Event, Incoming, MqttOptions};
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "listen: 127.0.0.1:0\nserver_name: j1\njetstream {{ store_dir: \"{}\" }}\n\
         accounts {{\n  SYS: {{ users: [{{user: sys, password: sys}}] }}\n  \
         APP: {{ jetstream: enabled, users: [{{user: app, password: app}}] }}\n}}\nsystem_account: SYS\n",
        dir.path().display()
    );
    let opts = junction::config::load_options(&write_config("mqtt", &text)).unwrap();
    let node = common::start(opts).await;
    let mqtt_opts = junction::options::MqttOptions {
        host: "127.0.0.1".into(),
        port: 0,
        ..Default::default()
    };
    let mqtt = junction::mqtt::start(node.server.clone(), &mqtt_opts, std::sync::Arc::default())
        .await
        .unwrap();
    let sys = connect(&common::url(&node), "sys").await;
    let mut events = sys.subscribe("$SYS.ACCOUNT.APP.CONNECT").await.unwrap();
    sys.flush().await.unwrap();
    let mut options = MqttOptions::new("dev-1", "127.0.0.1", mqtt.port());
    options.set_credentials("app", "app");
    let (_device, mut loop_) = AsyncClient::new(options, 10);
    tokio::spawn(async move {
        while let Ok(event) = loop_.poll().await {
            if let Event::Incoming(Incoming::Disconnect) = event {
                break;
            }
        }
    });
    let (_, connect) = next_event(&mut events).await;
    assert_eq!(connect["client"]["client_type"], "mqtt");
    assert_eq!(connect["client"]["client_id"], "dev-1");
    assert_eq!(connect["client"]["acc"], "APP");
}

async fn next_event(events: &mut async_nats::Subscriber) -> (String, Value) {
    let m = tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .expect("an event")
        .unwrap();
    let body: Value = serde_json::from_slice(&m.payload).unwrap();
    (m.subject.to_string(), body)
}

/// A request on any node of a mixed cluster is answered by every node.
#[tokio::test]
async fn every_node_of_a_mixed_cluster_answers_ping() {
    let j_port = common::free_port();
    let j = junction_node("j1", Some(j_port), &[]).await;
    let seed = format!("nats://127.0.0.1:{j_port}");
    let n15 = reference("2.15", "n15", common::free_port(), std::slice::from_ref(&seed));
    let n29 = reference("2.9", "n29", common::free_port(), &[seed]);
    let expected: BTreeSet<String> = ["j1", "n15", "n29"].map(String::from).into();
    let urls = [
        common::url(&j),
        format!("nats://127.0.0.1:{}", n15.client),
        format!("nats://127.0.0.1:{}", n29.client),
    ];
    for url in &urls {
        let sys = connect(url, "sys").await;
        // Until the mesh has formed and the interest has spread.
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let answers = gather(&sys, "$SYS.REQ.SERVER.PING", "", Duration::from_millis(500)).await;
            let names: BTreeSet<String> = answers
                .iter()
                .map(|a| a["server"]["name"].as_str().unwrap().to_string())
                .collect();
            // Junction's routes: a pool of 3 and one for `$SYS` to 2.15.1,
            // one to 2.9.10 (which has no pool).
            let routes_up = |a: &&Value| a["statsz"]["routes"].as_array().map(Vec::len) == Some(5);
            let junction = answers.iter().find(|a| a["server"]["name"] == "j1");
            if names == expected && answers.len() == 3 && junction.is_some_and(|a| routes_up(&a)) {
                let junction = junction.unwrap();
                assert_eq!(junction["server"]["cluster"], "c1");
                assert_eq!(junction["statsz"]["active_servers"], 3);
                break;
            }
            assert!(
                Instant::now() < deadline,
                "on {url}: answers from {names:?} ({} answers)",
                answers.len()
            );
        }
        // One server, by id, through the cluster.
        let id = &j.server.id;
        let routez = request(&sys, &format!("$SYS.REQ.SERVER.{id}.ROUTEZ"), "").await;
        assert_eq!(routez["data"]["num_routes"], 5, "{routez}");
    }

    // The CLI verbs, from a nats-server node: every server, Junction's too.
    let n15_url = format!("nats://127.0.0.1:{}", n15.client);
    let ping = cli(&n15_url, &["server", "ping"]).await;
    for name in ["j1", "n15", "n29"] {
        assert!(ping.contains(name), "{ping}");
    }
    assert!(ping.contains("3 replies"), "{ping}");
    assert!(!ping.contains("Missing"), "{ping}");
    let list = cli(&n15_url, &["server", "list", "3"]).await;
    assert!(list.contains("Server Overview"), "{list}");
    let rows: Vec<&str> = list.lines().filter(|l| l.contains("│ c1")).collect();
    assert_eq!(rows.len(), 3, "{list}");
    let varz = cli(&n15_url, &["server", "request", "varz", "--name", "j1"]).await;
    let answer: Value = serde_json::from_str(&varz).expect("one JSON answer");
    assert_eq!(answer["data"]["server_name"], "j1");

    // `server report connections`: an APP client on Junction and one on
    // 2.9.10, found from the 2.15.1 node, with their subscriptions.
    let on_j = common::connect_retrying(&urls[0], || {
        async_nats::ConnectOptions::with_user_and_password("app".into(), "app".into()).name("report-on-j1")
    })
    .await;
    let _sub = on_j.subscribe("report.x").await.unwrap();
    on_j.flush().await.unwrap();
    let _on_n29 = common::connect_retrying(&urls[2], || {
        async_nats::ConnectOptions::with_user_and_password("app".into(), "app".into()).name("report-on-n29")
    })
    .await;
    let report = cli(
        &n15_url,
        &["server", "report", "connections", "3", "--account", "APP"],
    )
    .await;
    assert!(report.contains("Top 2 Connections out of 2 by subs"), "{report}");
    let row = |name: &str| {
        report
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("{report}"))
            .to_string()
    };
    assert!(row("report-on-j1").contains("│ j1"), "{report}");
    assert!(row("report-on-n29").contains("│ n29"), "{report}");
    assert!(report.contains("Connections per server"), "{report}");
    assert!(report.contains("Totals for 2 connections"), "{report}");
    // Sorted by subscriptions, most last: the subscriber on j1 comes last.
    let at = |name: &str| report.find(name).unwrap();
    assert!(at("report-on-n29") < at("report-on-j1"), "{report}");
}

/// Runs `junction <args> -s url` as the system user; its standard output.
async fn cli(url: &str, args: &[&str]) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_junction"));
    cmd.args(args)
        .args(["-s", url, "--user", "sys", "--password", "sys"]);
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("junction runs"))
        .await
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn server_ping_outside_the_system_account_says_so() {
    let node = junction_node("j1", None, &[]).await;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_junction"));
    cmd.args([
        "server",
        "ping",
        "-s",
        &common::url(&node),
        "--user",
        "app",
        "--password",
        "app",
    ]);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("system account"), "{err}");
}

/// A node going away says so first: a nats-server peer's client sees its
/// LAMEDUCK and then its SHUTDOWN event.
#[tokio::test]
async fn a_node_going_away_tells_the_cluster() {
    let j_port = common::free_port();
    let j = junction_node("j1", Some(j_port), &[]).await;
    let n15 = reference(
        "2.15",
        "n15",
        common::free_port(),
        &[format!("nats://127.0.0.1:{j_port}")],
    );
    let sys = connect(&format!("nats://127.0.0.1:{}", n15.client), "sys").await;
    let mut events = sys
        .subscribe(format!("$SYS.SERVER.{}.*", j.server.id))
        .await
        .unwrap();
    sys.flush().await.unwrap();
    // Until the subscription has reached j (its PING answer comes back).
    let deadline = Instant::now() + Duration::from_secs(15);
    while gather(
        &sys,
        &format!("$SYS.REQ.SERVER.{}.IDZ", j.server.id),
        "",
        Duration::from_millis(300),
    )
    .await
    .is_empty()
    {
        assert!(Instant::now() < deadline, "j never answered through the route");
    }
    let mut opts = (*j.server.opts()).clone();
    opts.lame_duck_duration = Duration::from_millis(500);
    opts.lame_duck_grace_period = Duration::ZERO;
    j.server.reload(opts).unwrap();
    tokio::spawn(j.server.clone().lame_duck());
    // STATSZ events go out meanwhile.
    let (subject, body) = next_event_but_statsz(&mut events).await;
    assert_eq!(subject, format!("$SYS.SERVER.{}.LAMEDUCK", j.server.id));
    assert_eq!(body["name"], "j1");
    j.server.shutdown();
    let (subject, _) = next_event_but_statsz(&mut events).await;
    assert_eq!(subject, format!("$SYS.SERVER.{}.SHUTDOWN", j.server.id));
}

async fn next_event_but_statsz(events: &mut async_nats::Subscriber) -> (String, Value) {
    loop {
        let (subject, body) = next_event(events).await;
        if !subject.ends_with(".STATSZ") {
            return (subject, body);
        }
    }
}

/// Service and stream imports, and subject mappings, across the nodes of a
/// mixed cluster: each node applies its own configuration, the routes carry
/// the accounts' traffic.
#[tokio::test]
async fn imports_and_mappings_across_a_mixed_cluster() {
    let accounts = "accounts {\n  \
        SVC: { users: [{user: svc, password: svc}], exports: [ {service: \"help.>\"}, {stream: \"news.>\"} ] }\n  \
        APP: { users: [{user: app, password: app}], imports: [ {service: {account: SVC, subject: \"help.>\"}}, \
        {stream: {account: SVC, subject: \"news.>\"}, prefix: from_svc} ], mappings: { \"old.*\": \"new.$1\" } }\n}\n";
    let (j_port, n_port, n_client) = (common::free_port(), common::free_port(), common::free_port());
    let j_conf = format!(
        "listen: 127.0.0.1:0\nserver_name: j1\n{accounts}cluster {{ name: c1, listen: 127.0.0.1:{j_port}, routes: [\"nats://127.0.0.1:{n_port}\"] }}\n"
    );
    let j = common::start(junction::config::load_options(&write_config("imports", &j_conf)).unwrap()).await;
    let n_conf = format!(
        "listen: 127.0.0.1:{n_client}\nserver_name: n15\n{accounts}cluster {{ name: c1, listen: 127.0.0.1:{n_port}, routes: [\"nats://127.0.0.1:{j_port}\"] }}\n"
    );
    let _n15 = common::reference_with_config("2.15", &n_conf);
    let n_url = format!("nats://127.0.0.1:{n_client}");
    let as_user = |url: String, user: &'static str| async move {
        common::connect_retrying(&url, || {
            async_nats::ConnectOptions::with_user_and_password(user.into(), user.into())
        })
        .await
    };
    // Both ways: the service on one node, the importer on the other.
    for (svc_url, app_url) in [(common::url(&j), n_url.clone()), (n_url.clone(), common::url(&j))] {
        let svc = as_user(svc_url.clone(), "svc").await;
        let app = as_user(app_url.clone(), "app").await;
        let mut service = svc.subscribe("help.>").await.unwrap();
        svc.flush().await.unwrap();
        let answering = svc.clone();
        let task = tokio::spawn(async move {
            while let Some(m) = service.next().await {
                let body = format!("{} answered", m.subject);
                answering.publish(m.reply.unwrap(), body.into()).await.unwrap();
            }
        });
        let deadline = Instant::now() + Duration::from_secs(15);
        let answer = loop {
            match tokio::time::timeout(Duration::from_millis(500), app.request("help.me", "?".into())).await {
                Ok(Ok(m)) => break m,
                _ => assert!(Instant::now() < deadline, "no answer from {svc_url} to {app_url}"),
            }
        };
        assert_eq!(answer.payload, "help.me answered".as_bytes());
        task.abort();
        // The stream import, with its prefix, across the route.
        let mut news = app.subscribe("from_svc.news.>").await.unwrap();
        app.flush().await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            svc.publish("news.today", "sunny".into()).await.unwrap();
            svc.flush().await.unwrap();
            if let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(300), news.next()).await {
                assert_eq!(m.subject.as_str(), "from_svc.news.today");
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the stream import never crossed the route"
            );
        }
    }
    // A mapping applied where the message is published, delivered across.
    let on_n = as_user(n_url.clone(), "app").await;
    let on_j = as_user(common::url(&j), "app").await;
    let mut mapped = on_n.subscribe("new.*").await.unwrap();
    on_n.flush().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        on_j.publish("old.x", "m".into()).await.unwrap();
        on_j.flush().await.unwrap();
        if let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(300), mapped.next()).await {
            assert_eq!(m.subject.as_str(), "new.x");
            break;
        }
        assert!(Instant::now() < deadline, "the mapped message never arrived");
    }
}

/// `$SYS.REQ.SERVER.<id>.KICK` closes one client; `…LDM` tells one to go
/// elsewhere (an INFO with `ldm`), as nats-server does.
#[tokio::test]
async fn kick_and_lame_duck_one_client() {
    let node = junction_node("j1", None, &[]).await;
    let sys = connect(&common::url(&node), "sys").await;
    let id = node.server.id.clone();
    let mut raw = common::Raw::handshake(
        node.addr,
        r#"{"user":"app","pass":"app","protocol":1,"verbose":false}"#,
    )
    .await;
    let connz = request(&sys, "$SYS.REQ.ACCOUNT.APP.CONNZ", "").await;
    let cid = connz["data"]["connections"][0]["cid"]
        .as_u64()
        .expect("the raw client");
    let ldm = request(
        &sys,
        &format!("$SYS.REQ.SERVER.{id}.LDM"),
        &format!("{{\"cid\":{cid}}}"),
    )
    .await;
    assert!(ldm.get("error").is_none() && ldm.get("data").is_none(), "{ldm}");
    let info = raw.read_line().await;
    assert!(
        info.starts_with("INFO ") && info.contains("\"ldm\":true"),
        "{info}"
    );
    let kick = request(
        &sys,
        &format!("$SYS.REQ.SERVER.{id}.KICK"),
        &format!("{{\"cid\":{cid}}}"),
    )
    .await;
    assert!(kick.get("error").is_none(), "{kick}");
    raw.read_to_close().await;
    let again = request(
        &sys,
        &format!("$SYS.REQ.SERVER.{id}.KICK"),
        &format!("{{\"cid\":{cid}}}"),
    )
    .await;
    assert_eq!(again["error"]["description"], "no such client or leafnode id");
}

/// Any account's users ask of their own account, on every server of a
/// mixed cluster (the system account's services every account imports, as
/// nats-server wires them).
#[tokio::test]
async fn any_account_lists_its_own_connections_on_every_server() {
    let j_port = common::free_port();
    let j = junction_node("j1", Some(j_port), &[]).await;
    let n15 = reference(
        "2.15",
        "n15",
        common::free_port(),
        &[format!("nats://127.0.0.1:{j_port}")],
    );
    let n15_url = format!("nats://127.0.0.1:{}", n15.client);
    let on_j = connect(&common::url(&j), "app").await;
    let _also_on_n = connect(&n15_url, "app").await;
    for (subject, what) in [
        ("$SYS.REQ.ACCOUNT.PING.CONNZ", "connections"),
        ("$SYS.REQ.SERVER.PING.CONNZ", "connections"),
        ("$SYS.REQ.ACCOUNT.PING.STATZ", "account_statz"),
    ] {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let answers = gather(&on_j, subject, "", Duration::from_millis(700)).await;
            let mut names: Vec<&str> = answers
                .iter()
                .filter_map(|a| a["server"]["name"].as_str())
                .collect();
            names.sort();
            if names == ["j1", "n15"] {
                for a in &answers {
                    let data = &a["data"];
                    assert!(data.get(what).is_some(), "{subject}: {a}");
                    if what == "connections" {
                        // Each server lists its own client of APP, and only
                        // that (not the system user's), in nats-server's
                        // shape: the account is not repeated.
                        assert_eq!(data["num_connections"], 1, "{a}");
                        assert_eq!(data["connections"][0]["lang"], "rust", "{a}");
                        assert!(data.get("account").is_none(), "{a}");
                    }
                }
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{subject}: answers from {names:?}: {answers:?}"
            );
        }
    }
}
