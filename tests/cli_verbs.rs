//! The quick-start client verbs of the `junction` binary, run against a
//! junction server: what they print, and that they interoperate with each
//! other and with async-nats.

mod common;

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use futures::StreamExt;
use junction::cli::bench::{bench_idle, bench_request, bench_throughput, LatencyConfig, ThroughputConfig};
use junction::cli::ConnArgs;

fn junction(url: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_junction"));
    cmd.args(args).arg("-s").arg(url);
    cmd
}

async fn output(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().expect("run junction"))
        .await
        .unwrap()
}

/// Waits until a verb running in the background has subscribed.
/// Waits until a client subscribed in the global account: more than the
/// server's own subscriptions there (the system services it imports).
async fn wait_for_subscription(server: &junction::RunningServer) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let own = common::start_default().await.server.global.subscription_count();
    while server.server.global.subscription_count() <= own {
        assert!(std::time::Instant::now() < deadline, "the verb never subscribed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn pub_prints_published_and_subscribers_receive() {
    let server = common::start_default().await;
    let url = common::url(&server);
    let nc = async_nats::connect(&url).await.unwrap();
    let mut sub = nc.subscribe("greet.*").await.unwrap();
    nc.flush().await.unwrap();
    let out = output(junction(&url, &["pub", "greet.joe", "hello"])).await;
    assert!(out.status.success());
    assert!(
        text(&out.stderr).contains("Published 5 bytes to \"greet.joe\""),
        "{}",
        text(&out.stderr)
    );
    let msg = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&msg.payload[..], b"hello");
}

#[tokio::test]
async fn sub_prints_received_messages() {
    let server = common::start_default().await;
    let url = common::url(&server);
    let child = junction(&url, &["sub", "orders.>", "--count", "2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_subscription(&server).await;
    let nc = async_nats::connect(&url).await.unwrap();
    nc.publish("orders.eu", "first".into()).await.unwrap();
    nc.publish("orders.us.new", "second".into()).await.unwrap();
    nc.flush().await.unwrap();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert!(out.status.success());
    let all = format!("{}{}", text(&out.stderr), text(&out.stdout));
    assert!(all.contains("Subscribing on orders.>"), "{all}");
    assert!(all.contains("[#1] Received on \"orders.eu\""), "{all}");
    assert!(all.contains("[#2] Received on \"orders.us.new\""), "{all}");
    assert!(text(&out.stdout).contains("first") && text(&out.stdout).contains("second"));
}

#[tokio::test]
async fn req_and_reply_talk_to_each_other() {
    let server = common::start_default().await;
    let url = common::url(&server);
    let mut replier = junction(&url, &["reply", "help.please", "OK, I CAN HELP!!!"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_subscription(&server).await;
    let out = output(junction(&url, &["req", "help.please", "I need help!"])).await;
    let _ = replier.kill();
    let _ = replier.wait();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("Received with rtt"),
        "{}",
        text(&out.stderr)
    );
    assert!(text(&out.stdout).contains("OK, I CAN HELP!!!"));
}

#[tokio::test]
async fn req_without_responders_fails() {
    let server = common::start_default().await;
    let out = output(junction(&common::url(&server), &["req", "nobody.home", "hi"])).await;
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("No responders are available"),
        "{}",
        text(&out.stderr)
    );
}

#[tokio::test]
async fn server_info_shows_the_servers_info() {
    let server = common::start_default().await;
    let out = output(junction(&common::url(&server), &["server", "info"])).await;
    assert!(out.status.success());
    let shown = text(&out.stdout);
    assert!(shown.contains(&server.server.id), "{shown}");
    assert!(shown.contains("Headers: true"), "{shown}");
}

#[tokio::test]
async fn bench_measures_throughput_latency_and_idle_connections() {
    let server = common::start_default().await;
    let conn = ConnArgs {
        server: Some(common::url(&server)),
        ..Default::default()
    };
    let throughput = bench_throughput(
        &conn,
        &ThroughputConfig {
            subject: "bench.t".into(),
            pubs: 1,
            subs: 2,
            msgs: 20_000,
            size: 16,
            queue: None,
            max_time: Duration::from_secs(30),
        },
    )
    .await
    .unwrap();
    assert_eq!(throughput.pub_msgs, Some(20_000));
    assert_eq!(throughput.sub_msgs, Some(40_000));

    let latency = bench_request(
        &conn,
        &LatencyConfig {
            subject: "bench.r".into(),
            msgs: 200,
            size: 16,
            warmup: 10,
            max_time: Duration::from_secs(30),
        },
    )
    .await
    .unwrap();
    assert!(latency.p50_us.unwrap() <= latency.p99_us.unwrap());

    let idle = bench_idle(&conn, 50).await.unwrap();
    assert_eq!(idle.open(), 50);
    assert!(server.server.num_clients() >= 50);
    idle.close();
}

#[tokio::test]
async fn server_info_shows_account_and_user() {
    let opts = junction::Options {
        users: vec![junction::options::UserConfig {
            username: Some("ann".into()),
            password: Some("pw".into()),
            account: Some("TEAM".into()),
            ..Default::default()
        }],
        accounts: vec![junction::options::AccountConfig {
            name: "TEAM".into(),
            ..Default::default()
        }],
        ..junction::Options::default()
    };
    let server = common::start(opts).await;
    let mut cmd = junction(
        &common::url(&server),
        &["server", "info", "--user", "ann", "--password", "pw"],
    );
    cmd.stderr(Stdio::piped());
    let out = output(cmd).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(shown.contains("Account: TEAM"), "{shown}");
    assert!(shown.contains("User: ann"), "{shown}");
}

#[tokio::test]
async fn jetstream_verbs_manage_streams_consumers_and_buckets() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::start(junction::Options {
        jetstream: true,
        store_dir: Some(dir.path().to_path_buf()),
        ..junction::Options::default()
    })
    .await;
    let url = common::url(&server);
    let run = |args: &'static [&'static str]| {
        let url = url.clone();
        async move {
            let out = output(junction(&url, args)).await;
            assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
            text(&out.stdout)
        }
    };
    assert!(run(&["stream", "add", "ORDERS", "--subjects", "orders.*"])
        .await
        .contains("Stream ORDERS was created"));
    run(&["pub", "orders.new", "first order"]).await;
    assert!(run(&["stream", "ls"]).await.contains("ORDERS"));
    assert!(run(&["stream", "get", "ORDERS", "1"])
        .await
        .contains("first order"));
    run(&["consumer", "add", "ORDERS", "proc"]).await;
    let next = run(&["consumer", "next", "ORDERS", "proc"]).await;
    assert!(
        next.contains("first order") && next.contains("Acknowledged"),
        "{next}"
    );
    assert!(run(&["consumer", "info", "ORDERS", "proc"])
        .await
        .contains("Outstanding Acks: 0"));
    run(&["kv", "put", "cfg", "color", "blue"]).await;
    assert!(run(&["kv", "get", "cfg", "color"]).await.contains("blue"));
    assert_eq!(run(&["kv", "ls", "cfg"]).await, "color\n");
    assert!(run(&["account", "info"]).await.contains("Streams: 2"));
    let file = dir.path().join("report.bin");
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(&file, &data).unwrap();
    let mut put = junction(&url, &["object", "put", "files"]);
    put.arg(&file);
    let put = output(put).await;
    assert!(
        text(&put.stdout).contains("Stored files > report.bin: 300000 bytes"),
        "{}",
        text(&put.stderr)
    );
    assert!(run(&["object", "ls", "files"]).await.contains("report.bin"));
    let back = dir.path().join("back.bin");
    let mut got = junction(&url, &["object", "get", "files", "report.bin"]);
    got.arg(format!("--output={}", back.display()));
    let got = output(got).await;
    assert!(got.status.success(), "{}", text(&got.stderr));
    assert!(std::fs::read(&back).unwrap() == data, "object content differs");
    run(&["object", "rm", "files", "report.bin"]).await;
    assert!(run(&["stream", "purge", "ORDERS"])
        .await
        .contains("Purged 1 messages"));
    run(&["stream", "rm", "ORDERS"]).await;
    let missing = output(junction(&url, &["stream", "info", "ORDERS"])).await;
    assert!(!missing.status.success());
    assert!(
        text(&missing.stderr).contains("stream not found"),
        "{}",
        text(&missing.stderr)
    );
}

#[tokio::test]
async fn bench_js_publishes_with_acks_and_consumes_everything() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::start(junction::Options {
        jetstream: true,
        store_dir: Some(dir.path().to_path_buf()),
        ..junction::Options::default()
    })
    .await;
    let conn = ConnArgs {
        server: Some(common::url(&server)),
        ..Default::default()
    };
    for (memory, window) in [(false, 64), (true, 1)] {
        let r = junction::cli::jsbench::bench_jetstream(
            &conn,
            &junction::cli::jsbench::JsConfig {
                subject: "bench.js".into(),
                msgs: 2000,
                size: 64,
                memory,
                window,
                batch: 100,
                max_time: Duration::from_secs(60),
            },
        )
        .await
        .unwrap();
        assert_eq!((r.pub_msgs, r.sub_msgs), (Some(2000), Some(2000)));
        assert!(r.pub_msgs_per_sec.unwrap() > 0.0 && r.sub_msgs_per_sec.unwrap() > 0.0);
    }
    // The bench stream is gone afterwards.
    let js = async_nats::jetstream::new(async_nats::connect(common::url(&server)).await.unwrap());
    assert!(js.get_stream("JUNCTION_BENCH").await.is_err());
}

#[tokio::test]
async fn jetstream_verbs_reach_a_domain() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::start(junction::Options {
        jetstream: true,
        store_dir: Some(dir.path().to_path_buf()),
        js_domain: Some("hub".into()),
        ..junction::Options::default()
    })
    .await;
    let url = common::url(&server);
    let out = output(junction(
        &url,
        &["stream", "add", "D", "--subjects", "d.>", "--js-domain", "hub"],
    ))
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = output(junction(&url, &["account", "info", "--js-domain", "hub"])).await;
    let shown = text(&out.stdout);
    assert!(
        shown.contains("Streams: 1") && shown.contains("JetStream Domain: hub"),
        "{shown}"
    );
}
