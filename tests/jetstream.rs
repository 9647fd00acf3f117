//! JetStream streams through the official Rust client (async-nats): create,
//! publish with PubAcks, expectations and de-duplication, limits, get,
//! direct get, purge, delete, and messages surviving a restart.

mod common;

use std::time::{Duration, Instant};

use async_nats::jetstream::{self, message::PublishMessage as Publish, stream};
use junction::Options;

async fn start(dir: &std::path::Path) -> junction::RunningServer {
    common::start(Options {
        jetstream: true,
        store_dir: Some(dir.to_path_buf()),
        ..Options::default()
    })
    .await
}

async fn context(server: &junction::RunningServer) -> jetstream::Context {
    let client = async_nats::connect(common::url(server)).await.unwrap();
    jetstream::new(client)
}

/// The `err_code` of a JetStream API error as the client reports it.
fn err_code(e: &impl std::fmt::Display) -> String {
    e.to_string()
}

#[tokio::test]
async fn publishes_are_stored_and_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let js = context(&server).await;
    let mut stream = js
        .create_stream(stream::Config {
            name: "ORDERS".into(),
            subjects: vec!["orders.*".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    let ack = js
        .publish("orders.new", "one".into())
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(
        (ack.stream.as_str(), ack.sequence, ack.duplicate),
        ("ORDERS", 1, false)
    );
    // A core publish without a reply subject is stored too.
    js.client().publish("orders.old", "two".into()).await.unwrap();
    js.client().flush().await.unwrap();
    let info = stream.info().await.unwrap();
    assert_eq!(info.state.messages, 2);
    assert_eq!(info.state.last_sequence, 2);
    assert_eq!(info.config.max_messages, -1);
    let m = stream.get_raw_message(2).await.unwrap();
    assert_eq!((m.subject.as_str(), &m.payload[..]), ("orders.old", &b"two"[..]));
    let last = stream
        .get_last_raw_message_by_subject("orders.new")
        .await
        .unwrap();
    assert_eq!(last.sequence, 1);
    // Not a stream subject: nothing stored, and no-responders for the ack.
    assert!(js.publish("elsewhere", "x".into()).await.unwrap().await.is_err());
}

#[tokio::test]
async fn expectations_and_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let js = context(&server).await;
    js.create_stream(stream::Config {
        name: "E".into(),
        subjects: vec!["e.>".into()],
        ..Default::default()
    })
    .await
    .unwrap();
    let first = js
        .send_publish("e.a", Publish::build().payload("1".into()).message_id("id-1"))
        .await
        .unwrap()
        .await
        .unwrap();
    let again = js
        .send_publish("e.a", Publish::build().payload("1".into()).message_id("id-1"))
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!((again.sequence, again.duplicate), (first.sequence, true));
    let wrong = js
        .send_publish(
            "e.a",
            Publish::build().payload("2".into()).expected_last_sequence(7),
        )
        .await
        .unwrap()
        .await
        .unwrap_err();
    assert!(err_code(&wrong).contains("10071"), "{wrong}");
    let ok = js
        .send_publish(
            "e.b",
            Publish::build().payload("2".into()).expected_last_sequence(1),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(ok.sequence, 2);
    let wrong_stream = js
        .send_publish(
            "e.b",
            Publish::build().payload("3".into()).expected_stream("OTHER"),
        )
        .await
        .unwrap()
        .await
        .unwrap_err();
    assert!(err_code(&wrong_stream).contains("10060"), "{wrong_stream}");
    let subj = js
        .send_publish(
            "e.b",
            Publish::build()
                .payload("3".into())
                .expected_last_subject_sequence(2),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(subj.sequence, 3);
}

#[tokio::test]
async fn limits_discard_old_and_new() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let js = context(&server).await;
    let mut old = js
        .create_stream(stream::Config {
            name: "OLD".into(),
            subjects: vec!["old".into()],
            max_messages: 3,
            ..Default::default()
        })
        .await
        .unwrap();
    for i in 0..5 {
        js.publish("old", i.to_string().into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let info = old.info().await.unwrap();
    assert_eq!((info.state.messages, info.state.first_sequence), (3, 3));
    js.create_stream(stream::Config {
        name: "NEW".into(),
        subjects: vec!["new".into()],
        max_messages: 2,
        discard: stream::DiscardPolicy::New,
        storage: stream::StorageType::Memory,
        ..Default::default()
    })
    .await
    .unwrap();
    for _ in 0..2 {
        js.publish("new", "x".into()).await.unwrap().await.unwrap();
    }
    let refused = js.publish("new", "x".into()).await.unwrap().await.unwrap_err();
    assert!(
        refused.to_string().contains("maximum messages exceeded"),
        "{refused}"
    );
    let mut per = js
        .create_stream(stream::Config {
            name: "PER".into(),
            subjects: vec!["per.*".into()],
            max_messages_per_subject: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    for s in ["per.a", "per.b", "per.a"] {
        js.publish(s, "x".into()).await.unwrap().await.unwrap();
    }
    let info = per.info().await.unwrap();
    assert_eq!((info.state.messages, info.state.first_sequence), (2, 2));
}

#[tokio::test]
async fn api_errors_use_nats_server_codes() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let js = context(&server).await;
    js.create_stream(stream::Config {
        name: "A".into(),
        subjects: vec!["a.>".into()],
        ..Default::default()
    })
    .await
    .unwrap();
    let overlap = js
        .create_stream(stream::Config {
            name: "B".into(),
            subjects: vec!["a.b".into()],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(overlap.to_string().contains("10065"), "{overlap}");
    let different = js
        .create_stream(stream::Config {
            name: "A".into(),
            subjects: vec!["other".into()],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(different.to_string().contains("10058"), "{different}");
    let missing = js.get_stream("NOPE").await.unwrap_err();
    assert!(
        missing.to_string().contains("10059") || missing.to_string().contains("not found"),
        "{missing}"
    );
    // Raw requests pin the JSON shape.
    let client = js.client();
    let reply = client
        .request("$JS.API.STREAM.CREATE.X", "{not json".into())
        .await
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&reply.payload).unwrap();
    assert_eq!(v["type"], "io.nats.jetstream.api.v1.stream_create_response");
    assert_eq!(v["error"]["code"], 400);
    assert_eq!(v["error"]["err_code"], 10025);
    let reply = client
        .request("$JS.API.STREAM.CREATE.X", r#"{"name":"Y"}"#.into())
        .await
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&reply.payload).unwrap();
    assert_eq!(v["error"]["err_code"], 10056);
    let reply = client
        .request("$JS.API.STREAM.CREATE.a.b", r#"{"name":"a.b"}"#.into())
        .await
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&reply.payload).unwrap();
    assert!(v["error"].is_object(), "{v}");
    let reply = client.request("$JS.API.INFO", "".into()).await.unwrap();
    let v: serde_json::Value = serde_json::from_slice(&reply.payload).unwrap();
    assert_eq!(v["type"], "io.nats.jetstream.api.v1.account_info_response");
    assert_eq!(v["streams"], 1);
}

#[tokio::test]
async fn get_direct_get_purge_delete_and_names() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let js = context(&server).await;
    let mut stream = js
        .create_stream(stream::Config {
            name: "KVLIKE".into(),
            subjects: vec!["k.>".into()],
            allow_direct: true,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("X-Trace", "t1");
    js.publish_with_headers("k.a", headers, "va".into())
        .await
        .unwrap()
        .await
        .unwrap();
    for (s, v) in [("k.b", "vb"), ("k.a", "va2"), ("k.c", "vc")] {
        js.publish(s, v.into()).await.unwrap().await.unwrap();
    }
    let direct = stream.direct_get_last_for_subject("k.a").await.unwrap();
    assert_eq!((&direct.payload[..], direct.sequence), (&b"va2"[..], 3));
    let first = stream.direct_get(1).await.unwrap();
    assert_eq!(first.headers.get("X-Trace").map(|v| v.as_str()), Some("t1"));
    assert!(stream.direct_get(99).await.is_err());
    assert!(stream.delete_message(2).await.unwrap());
    assert!(stream.get_raw_message(2).await.is_err());
    let detail: serde_json::Value = js
        .request(
            "STREAM.INFO.KVLIKE",
            &serde_json::json!({"deleted_details": true}),
        )
        .await
        .unwrap();
    assert_eq!(detail["state"]["deleted"], serde_json::json!([2]));
    assert_eq!(detail["state"]["num_deleted"], 1);
    let info = stream.info().await.unwrap();
    assert_eq!(info.state.messages, 3);
    let purged = stream.purge().filter("k.a").await.unwrap();
    assert_eq!(purged.purged, 2);
    let purged = stream.purge().await.unwrap();
    assert_eq!(purged.purged, 1);
    let info = stream.info().await.unwrap();
    assert_eq!((info.state.messages, info.state.first_sequence), (0, 5));
    use futures::TryStreamExt;
    let names: Vec<String> = js.stream_names().try_collect().await.unwrap();
    assert_eq!(names, ["KVLIKE"]);
    js.delete_stream("KVLIKE").await.unwrap();
    assert!(js.get_stream("KVLIKE").await.is_err());
    let names: Vec<String> = js.stream_names().try_collect().await.unwrap();
    assert!(names.is_empty());
}

#[tokio::test]
async fn file_streams_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let server = start(dir.path()).await;
        let js = context(&server).await;
        js.create_stream(stream::Config {
            name: "KEEP".into(),
            subjects: vec!["keep.>".into()],
            ..Default::default()
        })
        .await
        .unwrap();
        js.create_stream(stream::Config {
            name: "MEM".into(),
            subjects: vec!["mem".into()],
            storage: stream::StorageType::Memory,
            ..Default::default()
        })
        .await
        .unwrap();
        for i in 0..100 {
            js.publish(format!("keep.{}", i % 4), i.to_string().into())
                .await
                .unwrap()
                .await
                .unwrap();
        }
        js.publish("mem", "gone".into()).await.unwrap().await.unwrap();
        server.server.shutdown();
        tokio::time::timeout(Duration::from_secs(5), server.wait())
            .await
            .unwrap();
    }
    let server = start(dir.path()).await;
    let js = context(&server).await;
    let mut stream = js.get_stream("KEEP").await.unwrap();
    let info = stream.info().await.unwrap();
    assert_eq!((info.state.messages, info.state.last_sequence), (100, 100));
    assert_eq!(&stream.get_raw_message(42).await.unwrap().payload[..], b"41");
    let ack = js.publish("keep.x", "next".into()).await.unwrap().await.unwrap();
    assert_eq!(ack.sequence, 101);
    // Memory streams do not outlive the process, as in nats-server.
    assert!(js.get_stream("MEM").await.is_err());
}

#[tokio::test]
async fn a_new_durable_consumer_keeps_its_start_across_an_abrupt_stop() {
    use async_nats::jetstream::consumer::{pull, DeliverPolicy};
    use futures::StreamExt;
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let js = context(&server).await;
    let stream = js
        .create_stream(stream::Config {
            name: "N".into(),
            subjects: vec!["n".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    js.publish("n", "before".into()).await.unwrap().await.unwrap();
    stream
        .create_consumer(pull::Config {
            durable_name: Some("fresh".into()),
            deliver_policy: DeliverPolicy::New,
            ..Default::default()
        })
        .await
        .unwrap();
    for _ in 0..3 {
        js.publish("n", "after".into()).await.unwrap().await.unwrap();
    }
    // Stopped without the orderly flush, before any periodic save.
    server.server.shutdown();
    server.wait().await;
    let server = start(dir.path()).await;
    let js = context(&server).await;
    let consumer = js
        .get_stream("N")
        .await
        .unwrap()
        .get_consumer::<pull::Config>("fresh")
        .await
        .unwrap()
        .fetch()
        .max_messages(10)
        .expires(Duration::from_millis(500))
        .messages()
        .await
        .unwrap();
    let got: Vec<_> = consumer.map(|m| m.unwrap().payload.clone()).collect().await;
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(got.iter().all(|p| &p[..] == b"after"));
}

#[tokio::test]
async fn a_filtered_consumers_num_pending_follows_deliveries_arrivals_and_deletes() {
    use async_nats::jetstream::consumer::pull;
    use futures::StreamExt;
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let js = context(&server).await;
    let stream = js
        .create_stream(stream::Config {
            name: "F".into(),
            subjects: vec!["f.>".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    for i in 0..30 {
        let subject = if i % 3 == 0 { "f.a" } else { "f.b" };
        js.publish(subject, "x".into()).await.unwrap().await.unwrap();
    }
    let mut consumer = stream
        .create_consumer(pull::Config {
            durable_name: Some("fa".into()),
            filter_subject: "f.a".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(consumer.info().await.unwrap().num_pending, 10);
    let fetcher = consumer.clone();
    let take = |n: usize| {
        let consumer = fetcher.clone();
        async move {
            let msgs: Vec<_> = consumer
                .fetch()
                .max_messages(n)
                .expires(Duration::from_millis(300))
                .messages()
                .await
                .unwrap()
                .collect()
                .await;
            for m in &msgs {
                m.as_ref().unwrap().ack().await.unwrap();
            }
            msgs.len()
        }
    };
    assert_eq!(take(4).await, 4);
    assert_eq!(consumer.info().await.unwrap().num_pending, 6);
    // New arrivals, matching and not.
    for subject in ["f.a", "f.b", "f.a"] {
        js.publish(subject, "y".into()).await.unwrap().await.unwrap();
    }
    assert_eq!(consumer.info().await.unwrap().num_pending, 8);
    // A delete of a message still to be delivered.
    let last_a = stream
        .get_last_raw_message_by_subject("f.a")
        .await
        .unwrap()
        .sequence;
    stream.delete_message(last_a).await.unwrap();
    assert_eq!(consumer.info().await.unwrap().num_pending, 7);
    assert_eq!(take(100).await, 7);
    assert_eq!(consumer.info().await.unwrap().num_pending, 0);
    js.publish("f.a", "z".into()).await.unwrap().await.unwrap();
    assert_eq!(consumer.info().await.unwrap().num_pending, 1);
}

#[tokio::test]
async fn accounts_without_jetstream_get_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("js.conf");
    std::fs::write(
        &conf,
        "jetstream { store_dir: \"STORE\" }\naccounts { A { jetstream: enabled, users: [{user: a, password: a}] }, B { users: [{user: b, password: b}] } }\n"
            .replace("STORE", &dir.path().join("store").display().to_string()),
    )
    .unwrap();
    let opts = junction::config::load_options(&conf).unwrap();
    let server = common::start(opts).await;
    let a = async_nats::ConnectOptions::with_user_and_password("a".into(), "a".into())
        .connect(common::url(&server))
        .await
        .unwrap();
    let b = async_nats::ConnectOptions::with_user_and_password("b".into(), "b".into())
        .connect(common::url(&server))
        .await
        .unwrap();
    let reply = a.request("$JS.API.INFO", "".into()).await.unwrap();
    let v: serde_json::Value = serde_json::from_slice(&reply.payload).unwrap();
    assert!(v.get("error").is_none(), "{v}");
    let reply = b.request("$JS.API.INFO", "".into()).await.unwrap();
    let v: serde_json::Value = serde_json::from_slice(&reply.payload).unwrap();
    assert_eq!(v["error"]["err_code"], 10039, "{v}");
    // A's streams are A's alone.
    let js_a = jetstream::new(a);
    js_a.create_stream(stream::Config {
        name: "ONLY_A".into(),
        subjects: vec!["x".into()],
        ..Default::default()
    })
    .await
    .unwrap();
    b.publish("x", "from b".into()).await.unwrap();
    b.flush().await.unwrap();
    let mut s = js_a.get_stream("ONLY_A").await.unwrap();
    assert_eq!(s.info().await.unwrap().state.messages, 0);
}

/// Starts a server from configuration text; `STORE` is replaced by a
/// store directory under `dir`.
async fn start_conf(dir: &std::path::Path, text: &str) -> junction::RunningServer {
    let conf = dir.join("js.conf");
    std::fs::write(
        &conf,
        text.replace("STORE", &dir.join("store").display().to_string()),
    )
    .unwrap();
    common::start(junction::config::load_options(&conf).unwrap()).await
}

#[tokio::test]
async fn a_domain_serves_the_api_under_its_prefix_and_names_itself() {
    use futures::StreamExt;
    let dir = tempfile::tempdir().unwrap();
    let server = start_conf(dir.path(), "jetstream { store_dir: \"STORE\", domain: hub }\n").await;
    let client = async_nats::connect(common::url(&server)).await.unwrap();
    // The clients' domain option: every API call goes to `$JS.hub.API.>`.
    let js = jetstream::with_domain(client.clone(), "hub");
    let mut stream = js
        .create_stream(stream::Config {
            name: "S".into(),
            subjects: vec!["s.>".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    let ack = js.publish("s.x", "one".into()).await.unwrap().await.unwrap();
    assert_eq!((ack.sequence, ack.domain.as_str()), (1, "hub"));
    assert_eq!(stream.info().await.unwrap().state.messages, 1);
    let consumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::Config {
            durable_name: Some("D".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut msgs = consumer.fetch().max_messages(1).messages().await.unwrap();
    let m = msgs.next().await.unwrap().unwrap();
    assert_eq!(&m.payload[..], b"one");
    m.ack().await.unwrap();
    // The plain `$JS.API` answers too, and both name the domain, in
    // nats-server's exact bytes for the PubAck.
    let info = client.request("$JS.API.INFO", "".into()).await.unwrap();
    let v: serde_json::Value = serde_json::from_slice(&info.payload).unwrap();
    assert_eq!(
        (v["domain"].as_str(), v["streams"].as_u64()),
        (Some("hub"), Some(1)),
        "{v}"
    );
    let v: serde_json::Value = serde_json::from_slice(
        &client
            .request("$JS.hub.API.STREAM.INFO.S", "".into())
            .await
            .unwrap()
            .payload,
    )
    .unwrap();
    assert_eq!(v["domain"], "hub", "{v}");
    let ack = client.request("s.y", "two".into()).await.unwrap();
    assert_eq!(&ack.payload[..], br#"{"stream":"S", "domain":"hub", "seq":2}"#);
    // Monitoring shows it.
    let http = junction::monitor::start(server.server.clone(), "127.0.0.1", 0)
        .await
        .unwrap();
    let jsz = common::http_json(http, "/jsz").await;
    assert_eq!(jsz["config"]["domain"], "hub", "{jsz}");
}

#[tokio::test]
async fn pub_acks_are_nats_servers_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let js = context(&server).await;
    js.create_stream(stream::Config {
        name: "B".into(),
        subjects: vec!["b".into()],
        ..Default::default()
    })
    .await
    .unwrap();
    let client = js.client();
    let ack = client.request("b", "x".into()).await.unwrap();
    assert_eq!(&ack.payload[..], br#"{"stream":"B", "seq":1}"#);
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Msg-Id", "m");
    for expected in [
        &br#"{"stream":"B", "seq":2}"#[..],
        br#"{"stream":"B", "seq":2,"duplicate": true}"#,
    ] {
        let ack = client
            .request_with_headers("b", headers.clone(), "y".into())
            .await
            .unwrap();
        assert_eq!(&ack.payload[..], expected);
    }
}

#[tokio::test]
async fn account_limits_on_stream_bytes_and_ack_pending() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_conf(
        dir.path(),
        "jetstream { store_dir: \"STORE\" }\naccounts { A { jetstream { max_mem: 1M, max_store: 10M, max_ack_pending: 100, mem_max_stream_bytes: 1000, disk_max_stream_bytes: 2000, max_bytes_required: true }, users: [{user: a, password: a}] } }\n",
    )
    .await;
    let client = async_nats::ConnectOptions::with_user_and_password("a".into(), "a".into())
        .connect(common::url(&server))
        .await
        .unwrap();
    let js = jetstream::new(client.clone());
    let config = |max_bytes: i64, storage| stream::Config {
        name: "S".into(),
        subjects: vec!["s.>".into()],
        max_bytes,
        storage,
        ..Default::default()
    };
    let e = js
        .create_stream(config(-1, stream::StorageType::File))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("10113"), "{e}");
    let e = js
        .create_stream(config(5000, stream::StorageType::File))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("10122"), "{e}");
    let e = js
        .create_stream(config(1001, stream::StorageType::Memory))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("10122"), "{e}");
    let mut s = js
        .create_stream(config(2000, stream::StorageType::File))
        .await
        .unwrap();
    let e = js
        .update_stream(config(3000, stream::StorageType::File))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("10122"), "{e}");
    // A consumer may not ask for more ack pending than the account allows,
    // and gets the account's limit by default.
    let e = s
        .create_consumer(async_nats::jetstream::consumer::pull::Config {
            max_ack_pending: 500,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(e.to_string().contains("10121"), "{e}");
    let mut c = s
        .create_consumer(async_nats::jetstream::consumer::pull::Config::default())
        .await
        .unwrap();
    assert_eq!(c.info().await.unwrap().config.max_ack_pending, 100);
    assert!(s.info().await.is_ok());
    let v: serde_json::Value =
        serde_json::from_slice(&client.request("$JS.API.INFO", "".into()).await.unwrap().payload).unwrap();
    let limits = &v["limits"];
    assert_eq!(
        (
            limits["max_ack_pending"].as_i64(),
            limits["memory_max_stream_bytes"].as_i64(),
            limits["storage_max_stream_bytes"].as_i64(),
            limits["max_bytes_required"].as_bool()
        ),
        (Some(100), Some(1000), Some(2000), Some(true)),
        "{v}"
    );
    assert!(v.get("domain").is_none(), "{v}");
}

mod consumers {
    use super::*;
    use async_nats::jetstream::consumer::{self, pull, push, AckPolicy, DeliverPolicy};
    use async_nats::jetstream::AckKind;
    use futures::StreamExt;

    async fn stream_with(js: &jetstream::Context, name: &str, subjects: &[&str], n: usize) -> stream::Stream {
        let stream = js
            .create_stream(stream::Config {
                name: name.into(),
                subjects: subjects.iter().map(|s| s.to_string()).collect(),
                ..Default::default()
            })
            .await
            .unwrap();
        for i in 0..n {
            js.publish(
                format!("{}.{}", subjects[0].trim_end_matches(".>"), i % 3),
                i.to_string().into(),
            )
            .await
            .unwrap()
            .await
            .unwrap();
        }
        stream
    }

    async fn fetch(c: &consumer::Consumer<pull::Config>, n: usize) -> Vec<jetstream::Message> {
        let mut got = Vec::new();
        let mut msgs = c
            .fetch()
            .max_messages(n)
            .expires(Duration::from_millis(500))
            .messages()
            .await
            .unwrap();
        while let Some(m) = msgs.next().await {
            got.push(m.unwrap());
        }
        got
    }

    #[tokio::test]
    async fn durable_pull_consumer_fetches_acks_and_resumes_after_restart() {
        let dir = tempfile::tempdir().unwrap();
        {
            let server = start(dir.path()).await;
            let js = context(&server).await;
            let stream = stream_with(&js, "WORK", &["work.>"], 10).await;
            let mut c = stream
                .create_consumer(pull::Config {
                    durable_name: Some("d".into()),
                    ack_policy: AckPolicy::Explicit,
                    ..Default::default()
                })
                .await
                .unwrap();
            let first = fetch(&c, 4).await;
            assert_eq!(first.len(), 4);
            for (i, m) in first.iter().enumerate() {
                let info = m.info().unwrap();
                assert_eq!(
                    (info.stream_sequence, info.consumer_sequence, info.delivered),
                    (i as u64 + 1, i as u64 + 1, 1)
                );
                m.double_ack().await.unwrap();
            }
            let info = c.info().await.unwrap();
            assert_eq!(info.ack_floor.stream_sequence, 4);
            assert_eq!(info.num_pending, 6);
            assert_eq!(info.num_ack_pending, 0);
            // Let the housekeeping save the consumer's state, then stop.
            tokio::time::sleep(Duration::from_millis(1500)).await;
            server.server.shutdown();
            tokio::time::timeout(Duration::from_secs(5), server.wait())
                .await
                .unwrap();
        }
        let server = start(dir.path()).await;
        let js = context(&server).await;
        let stream = js.get_stream("WORK").await.unwrap();
        let c: consumer::Consumer<pull::Config> = stream.get_consumer("d").await.unwrap();
        let rest = fetch(&c, 10).await;
        let seqs: Vec<u64> = rest.iter().map(|m| m.info().unwrap().stream_sequence).collect();
        assert_eq!(seqs, (5..=10).collect::<Vec<_>>());
        for m in &rest {
            m.ack().await.unwrap();
        }
        // Nothing left: a no-wait fetch ends at once.
        assert!(fetch(&c, 5).await.is_empty());
    }

    #[tokio::test]
    async fn unacked_naked_and_terminated_messages() {
        let dir = tempfile::tempdir().unwrap();
        let server = start(dir.path()).await;
        let js = context(&server).await;
        let stream = stream_with(&js, "R", &["r.>"], 3).await;
        let c = stream
            .create_consumer(pull::Config {
                durable_name: Some("r".into()),
                ack_policy: AckPolicy::Explicit,
                ack_wait: Duration::from_millis(300),
                max_deliver: 3,
                ..Default::default()
            })
            .await
            .unwrap();
        let got = fetch(&c, 3).await;
        assert_eq!(got.len(), 3);
        got[0].ack_with(AckKind::Nak(None)).await.unwrap();
        got[1].ack_with(AckKind::Term).await.unwrap();
        // Message 3 is never acknowledged: it comes back after ack_wait.
        tokio::time::sleep(Duration::from_millis(400)).await;
        let again = fetch(&c, 3).await;
        let seen: Vec<(u64, i64)> = again
            .iter()
            .map(|m| {
                let i = m.info().unwrap();
                (i.stream_sequence, i.delivered)
            })
            .collect();
        assert_eq!(seen, [(1, 2), (3, 2)]);
        for m in &again {
            m.ack().await.unwrap();
        }
        let mut c = c;
        let info = c.info().await.unwrap();
        assert_eq!((info.num_ack_pending, info.ack_floor.stream_sequence), (0, 3));
    }

    #[tokio::test]
    async fn deliver_policies_and_filters() {
        let dir = tempfile::tempdir().unwrap();
        let server = start(dir.path()).await;
        let js = context(&server).await;
        // Subjects p.0, p.1, p.2, p.0, p.1, p.2 … for sequences 1..=9.
        let stream = stream_with(&js, "P", &["p.>"], 9).await;
        let cases: Vec<(pull::Config, Vec<u64>)> = vec![
            (
                pull::Config {
                    deliver_policy: DeliverPolicy::Last,
                    ..Default::default()
                },
                vec![9],
            ),
            (
                pull::Config {
                    deliver_policy: DeliverPolicy::ByStartSequence { start_sequence: 7 },
                    ..Default::default()
                },
                vec![7, 8, 9],
            ),
            (
                // nats-server wants a filter with last per subject.
                pull::Config {
                    deliver_policy: DeliverPolicy::LastPerSubject,
                    filter_subject: "p.>".into(),
                    ..Default::default()
                },
                vec![7, 8, 9],
            ),
            (
                pull::Config {
                    filter_subject: "p.1".into(),
                    ..Default::default()
                },
                vec![2, 5, 8],
            ),
            (
                pull::Config {
                    filter_subjects: vec!["p.0".into(), "p.2".into()],
                    ..Default::default()
                },
                vec![1, 3, 4, 6, 7, 9],
            ),
            (
                pull::Config {
                    deliver_policy: DeliverPolicy::New,
                    ..Default::default()
                },
                vec![],
            ),
        ];
        for (config, want) in cases {
            let c = stream.create_consumer(config.clone()).await.unwrap();
            let got: Vec<u64> = fetch(&c, 20)
                .await
                .iter()
                .map(|m| m.info().unwrap().stream_sequence)
                .collect();
            assert_eq!(got, want, "{config:?}");
        }
    }

    #[tokio::test]
    async fn a_continuous_pull_gets_what_is_published_later() {
        let dir = tempfile::tempdir().unwrap();
        let server = start(dir.path()).await;
        let js = context(&server).await;
        let stream = stream_with(&js, "LIVE", &["live.>"], 0).await;
        let c = stream
            .create_consumer(pull::Config {
                durable_name: Some("live".into()),
                ack_policy: AckPolicy::Explicit,
                ..Default::default()
            })
            .await
            .unwrap();
        let mut messages = c
            .stream()
            .heartbeat(Duration::from_millis(200))
            .expires(Duration::from_secs(1))
            .messages()
            .await
            .unwrap();
        let publisher = js.clone();
        tokio::spawn(async move {
            for i in 0..50 {
                tokio::time::sleep(Duration::from_millis(if i == 0 { 1200 } else { 5 })).await;
                publisher.publish("live.x", i.to_string().into()).await.unwrap();
            }
        });
        for i in 0..50 {
            let m = tokio::time::timeout(Duration::from_secs(10), messages.next())
                .await
                .expect("message in time")
                .unwrap()
                .unwrap();
            assert_eq!(m.payload, i.to_string());
            m.ack().await.unwrap();
        }
    }

    #[tokio::test]
    async fn push_consumer_delivers_to_its_subject() {
        let dir = tempfile::tempdir().unwrap();
        let server = start(dir.path()).await;
        let js = context(&server).await;
        let stream = stream_with(&js, "PUSH", &["push.>"], 5).await;
        let c = stream
            .create_consumer(push::Config {
                durable_name: Some("pusher".into()),
                deliver_subject: "deliver.here".into(),
                ack_policy: AckPolicy::Explicit,
                ..Default::default()
            })
            .await
            .unwrap();
        let mut messages = c.messages().await.unwrap();
        for i in 0..5u64 {
            let m = tokio::time::timeout(Duration::from_secs(5), messages.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            assert_eq!(m.info().unwrap().stream_sequence, i + 1);
            m.ack().await.unwrap();
        }
    }

    /// A push consumer that keeps up sends new messages from the
    /// publisher's path; with four publishers racing and acks coming back
    /// at the same time, every message still goes out once, in stream order.
    #[tokio::test]
    async fn push_consumer_keeps_stream_order_with_racing_publishers() {
        let dir = tempfile::tempdir().unwrap();
        let server = start(dir.path()).await;
        let js = context(&server).await;
        let stream = stream_with(&js, "RACE", &["race.>"], 0).await;
        let c = stream
            .create_consumer(push::Config {
                durable_name: Some("racer".into()),
                deliver_subject: "racing.deliver".into(),
                ack_policy: AckPolicy::Explicit,
                max_ack_pending: 50,
                ..Default::default()
            })
            .await
            .unwrap();
        let mut messages = c.messages().await.unwrap();
        const EACH: usize = 500;
        let mut publishers = Vec::new();
        for p in 0..4 {
            let js = context(&server).await;
            publishers.push(tokio::spawn(async move {
                for i in 0..EACH {
                    js.publish(format!("race.{p}"), i.to_string().into())
                        .await
                        .unwrap()
                        .await
                        .unwrap();
                }
            }));
        }
        let mut last_per_publisher = [None::<usize>; 4];
        for expected in 1..=(4 * EACH) as u64 {
            let m = tokio::time::timeout(Duration::from_secs(10), messages.next())
                .await
                .expect("every message arrives")
                .unwrap()
                .unwrap();
            let info = m.info().unwrap();
            assert_eq!(info.stream_sequence, expected);
            assert_eq!(info.delivered, 1);
            let p: usize = m.subject.as_str()["race.".len()..].parse().unwrap();
            let i: usize = std::str::from_utf8(&m.payload).unwrap().parse().unwrap();
            assert_eq!(last_per_publisher[p].map_or(0, |l| l + 1), i);
            last_per_publisher[p] = Some(i);
            m.ack().await.unwrap();
        }
        for p in publishers {
            p.await.unwrap();
        }
    }

    /// A message sent straight from the publisher's path is redelivered
    /// once its `ack_wait` passes, although the consumer's task was asleep
    /// when it went out.
    #[tokio::test]
    async fn push_delivery_from_the_publisher_is_redelivered_after_ack_wait() {
        let dir = tempfile::tempdir().unwrap();
        let server = start(dir.path()).await;
        let js = context(&server).await;
        let stream = stream_with(&js, "WAIT", &["wait.>"], 0).await;
        let c = stream
            .create_consumer(push::Config {
                durable_name: Some("waiter".into()),
                deliver_subject: "waiting.deliver".into(),
                ack_policy: AckPolicy::Explicit,
                ack_wait: Duration::from_millis(200),
                ..Default::default()
            })
            .await
            .unwrap();
        // A deliver subject inside the stream's subjects is refused, as
        // nats-server refuses it.
        let cycle = stream
            .create_consumer(push::Config {
                durable_name: Some("cycle".into()),
                deliver_subject: "wait.deliver".into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert!(
            cycle
                .to_string()
                .contains("consumer deliver subject forms a cycle"),
            "{cycle}"
        );
        let mut messages = c.messages().await.unwrap();
        for round in 0..5u64 {
            // Long enough for the consumer's task to go to sleep.
            tokio::time::sleep(Duration::from_millis(300)).await;
            js.publish("wait.x", round.to_string().into())
                .await
                .unwrap()
                .await
                .unwrap();
            let first = tokio::time::timeout(Duration::from_secs(5), messages.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            let sent = std::time::Instant::now();
            assert_eq!(first.info().unwrap().delivered, 1);
            // Not acknowledged: it must come back after 200 ms, not after
            // the task's idle second.
            let again = tokio::time::timeout(Duration::from_secs(5), messages.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            let waited = sent.elapsed();
            let info = again.info().unwrap();
            assert_eq!((info.stream_sequence, info.delivered), (round + 1, 2));
            assert!(
                waited < Duration::from_millis(700),
                "redelivered after {waited:?}"
            );
            again.ack().await.unwrap();
        }
    }

    #[tokio::test]
    async fn rate_limit_and_original_replay_pace_deliveries() {
        let dir = tempfile::tempdir().unwrap();
        let server = start(dir.path()).await;
        let js = context(&server).await;
        let stream = js
            .create_stream(stream::Config {
                name: "PACE".into(),
                subjects: vec!["pace.>".into()],
                ..Default::default()
            })
            .await
            .unwrap();
        for _ in 0..10 {
            js.publish("pace.big", vec![b'x'; 1000].into())
                .await
                .unwrap()
                .await
                .unwrap();
        }
        // 80 kbit/s is 10 kB/s: ten 1 kB messages take about a second.
        let limited = stream
            .create_consumer(push::Config {
                deliver_subject: "paced.here".into(),
                rate_limit: 80_000,
                ..Default::default()
            })
            .await
            .unwrap();
        let started = Instant::now();
        let mut messages = limited.messages().await.unwrap();
        for _ in 0..10 {
            tokio::time::timeout(Duration::from_secs(5), messages.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
        }
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(700),
            "rate limit not applied: {took:?}"
        );
        // Three messages 300 ms apart are replayed 300 ms apart.
        for i in 0..3 {
            if i > 0 {
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            js.publish("pace.slow", i.to_string().into())
                .await
                .unwrap()
                .await
                .unwrap();
        }
        let replay = stream
            .create_consumer(pull::Config {
                filter_subject: "pace.slow".into(),
                replay_policy: consumer::ReplayPolicy::Original,
                ..Default::default()
            })
            .await
            .unwrap();
        let mut times = Vec::new();
        let mut msgs = replay
            .fetch()
            .max_messages(3)
            .expires(Duration::from_secs(3))
            .messages()
            .await
            .unwrap();
        while let Some(m) = msgs.next().await {
            m.unwrap();
            times.push(Instant::now());
        }
        assert_eq!(times.len(), 3);
        let spread = times[2] - times[0];
        assert!(
            spread >= Duration::from_millis(500),
            "original replay too fast: {spread:?}"
        );
    }

    #[tokio::test]
    async fn flow_controlled_and_ordered_push_consumers_get_everything() {
        let dir = tempfile::tempdir().unwrap();
        let server = start(dir.path()).await;
        let js = context(&server).await;
        let stream = js
            .create_stream(stream::Config {
                name: "FC".into(),
                subjects: vec!["fc".into()],
                ..Default::default()
            })
            .await
            .unwrap();
        for i in 0..3000 {
            js.publish("fc", format!("{i:0>200}").into()).await.unwrap();
        }
        js.publish("fc", "last".into()).await.unwrap().await.unwrap();
        // More than the flow-control window: only answered requests let it through.
        let fc = stream
            .create_consumer(push::Config {
                durable_name: Some("fc".into()),
                deliver_subject: "fc.deliver".into(),
                flow_control: true,
                idle_heartbeat: Duration::from_secs(1),
                ack_policy: AckPolicy::None,
                ..Default::default()
            })
            .await
            .unwrap();
        let mut messages = fc.messages().await.unwrap();
        for i in 0..3001u64 {
            let m = tokio::time::timeout(Duration::from_secs(5), messages.next())
                .await
                .unwrap_or_else(|_| panic!("stalled after {i} messages"))
                .unwrap()
                .unwrap();
            assert_eq!(m.info().unwrap().stream_sequence, i + 1);
        }
        let ordered = stream
            .create_consumer(push::OrderedConfig {
                deliver_subject: "fc.ordered".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        let mut messages = ordered.messages().await.unwrap();
        for i in 0..3001u64 {
            let m = tokio::time::timeout(Duration::from_secs(5), messages.next())
                .await
                .unwrap_or_else(|_| panic!("ordered consumer stalled after {i} messages"))
                .unwrap()
                .unwrap();
            assert_eq!(m.info().unwrap().stream_sequence, i + 1);
        }
    }

    #[tokio::test]
    async fn work_queue_messages_go_once_acknowledged() {
        let dir = tempfile::tempdir().unwrap();
        let server = start(dir.path()).await;
        let js = context(&server).await;
        let mut stream = js
            .create_stream(stream::Config {
                name: "Q".into(),
                subjects: vec!["q".into()],
                retention: stream::RetentionPolicy::WorkQueue,
                ..Default::default()
            })
            .await
            .unwrap();
        for i in 0..4 {
            js.publish("q", i.to_string().into())
                .await
                .unwrap()
                .await
                .unwrap();
        }
        let c = stream
            .create_consumer(pull::Config {
                durable_name: Some("w".into()),
                ack_policy: AckPolicy::Explicit,
                ..Default::default()
            })
            .await
            .unwrap();
        for m in fetch(&c, 2).await {
            m.double_ack().await.unwrap();
        }
        let info = stream.info().await.unwrap();
        assert_eq!((info.state.messages, info.state.first_sequence), (2, 3));
    }

    #[tokio::test]
    async fn interest_streams_keep_messages_until_every_consumer_acked() {
        let dir = tempfile::tempdir().unwrap();
        let server = start(dir.path()).await;
        let js = context(&server).await;
        let mut stream = js
            .create_stream(stream::Config {
                name: "I".into(),
                subjects: vec!["i.>".into()],
                retention: stream::RetentionPolicy::Interest,
                ..Default::default()
            })
            .await
            .unwrap();
        // Nobody is interested yet: acknowledged, but not kept.
        let ack = js.publish("i.a", "lost".into()).await.unwrap().await.unwrap();
        assert_eq!(ack.sequence, 1);
        assert_eq!(stream.info().await.unwrap().state.messages, 0);
        let mut consumers = Vec::new();
        for name in ["x", "y"] {
            consumers.push(
                stream
                    .create_consumer(pull::Config {
                        durable_name: Some(name.into()),
                        ack_policy: AckPolicy::Explicit,
                        ..Default::default()
                    })
                    .await
                    .unwrap(),
            );
        }
        // A consumer filtered elsewhere does not hold messages back.
        stream
            .create_consumer(pull::Config {
                durable_name: Some("other".into()),
                filter_subject: "i.other".into(),
                ack_policy: AckPolicy::Explicit,
                ..Default::default()
            })
            .await
            .unwrap();
        for i in 0..3 {
            js.publish("i.a", i.to_string().into())
                .await
                .unwrap()
                .await
                .unwrap();
        }
        assert_eq!(stream.info().await.unwrap().state.messages, 3);
        for m in fetch(&consumers[0], 3).await {
            m.double_ack().await.unwrap();
        }
        assert_eq!(
            stream.info().await.unwrap().state.messages,
            3,
            "y has not acked yet"
        );
        for m in fetch(&consumers[1], 3).await {
            m.double_ack().await.unwrap();
        }
        assert_eq!(stream.info().await.unwrap().state.messages, 0);
    }

    #[tokio::test]
    async fn consumer_api_errors_and_listing() {
        let dir = tempfile::tempdir().unwrap();
        let server = start(dir.path()).await;
        let js = context(&server).await;
        let stream = stream_with(&js, "C", &["c.>"], 1).await;
        for name in ["a", "b"] {
            stream
                .create_consumer(pull::Config {
                    durable_name: Some(name.into()),
                    ..Default::default()
                })
                .await
                .unwrap();
        }
        let mut names: Vec<String> = stream.consumer_names().map(|n| n.unwrap()).collect().await;
        names.sort();
        assert_eq!(names, ["a", "b"]);
        let missing = stream.consumer_info("zzz").await.unwrap_err();
        assert!(missing.to_string().contains("consumer not found"), "{missing}");
        stream.delete_consumer("a").await.unwrap();
        let names: Vec<String> = stream.consumer_names().map(|n| n.unwrap()).collect().await;
        assert_eq!(names, ["b"]);
        let reply = js
            .client()
            .request(
                "$JS.API.CONSUMER.CREATE.NOPE",
                r#"{"stream_name":"NOPE","config":{}}"#.into(),
            )
            .await
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&reply.payload).unwrap();
        assert_eq!(v["error"]["err_code"], 10059);
    }
}

mod key_value {
    use super::*;
    use async_nats::jetstream::kv;
    use futures::StreamExt;

    #[tokio::test]
    async fn put_get_update_delete_history_keys_and_watch() {
        let dir = tempfile::tempdir().unwrap();
        let server = start(dir.path()).await;
        let js = context(&server).await;
        let kv = js
            .create_key_value(kv::Config {
                bucket: "settings".into(),
                history: 5,
                ..Default::default()
            })
            .await
            .unwrap();
        let mut watch = kv.watch("color.>").await.unwrap();
        let r1 = kv.put("color.sky", "blue".into()).await.unwrap();
        assert_eq!(kv.get("color.sky").await.unwrap().unwrap(), "blue");
        let r2 = kv.update("color.sky", "grey".into(), r1).await.unwrap();
        assert!(kv.update("color.sky", "red".into(), r1).await.is_err());
        assert!(kv.create("color.sky", "x".into()).await.is_err());
        kv.create("color.sea", "green".into()).await.unwrap();
        let entry = kv.entry("color.sky").await.unwrap().unwrap();
        assert_eq!((entry.revision, &entry.value[..]), (r2, &b"grey"[..]));
        let history: Vec<_> = kv.history("color.sky").await.unwrap().collect().await;
        assert_eq!(history.len(), 2);
        kv.delete("color.sea").await.unwrap();
        assert!(kv.get("color.sea").await.unwrap().is_none());
        let keys: Vec<String> = kv.keys().await.unwrap().map(|k| k.unwrap()).collect().await;
        assert_eq!(keys, ["color.sky"]);
        let mut seen = Vec::new();
        for _ in 0..4 {
            let e = tokio::time::timeout(Duration::from_secs(5), watch.next())
                .await
                .expect("watch event")
                .unwrap()
                .unwrap();
            seen.push((e.key.clone(), e.operation));
        }
        assert_eq!(seen.last().unwrap().1, kv::Operation::Delete);
        assert_eq!(seen[0].0, "color.sky");
    }
}

mod key_value_more {
    use super::*;
    use async_nats::jetstream::kv;
    use futures::StreamExt;

    #[tokio::test]
    async fn purge_drops_history_and_a_filtered_watch_sees_only_its_keys() {
        let dir = tempfile::tempdir().unwrap();
        let server = start(dir.path()).await;
        let js = context(&server).await;
        let kv = js
            .create_key_value(kv::Config {
                bucket: "cfg".into(),
                history: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        // The clients read a bucket's values with direct gets.
        assert!(
            js.get_stream("KV_cfg")
                .await
                .unwrap()
                .cached_info()
                .config
                .allow_direct
        );
        let mut some = kv.watch_many(["a.*", "c"]).await.unwrap();
        for (k, v) in [("a.1", "x"), ("b.1", "y"), ("a.1", "z"), ("c", "w")] {
            kv.put(k, v.into()).await.unwrap();
        }
        let mut seen = Vec::new();
        for _ in 0..3 {
            let e = tokio::time::timeout(Duration::from_secs(5), some.next())
                .await
                .expect("watch event")
                .unwrap()
                .unwrap();
            seen.push(format!("{}={}", e.key, String::from_utf8_lossy(&e.value)));
        }
        assert_eq!(seen, ["a.1=x", "a.1=z", "c=w"]);
        assert_eq!(kv.history("a.1").await.unwrap().count().await, 2);
        // Purge leaves one marker in place of the key's whole history.
        kv.purge("a.1").await.unwrap();
        assert!(kv.get("a.1").await.unwrap().is_none());
        let history: Vec<_> = kv
            .history("a.1")
            .await
            .unwrap()
            .map(|e| e.unwrap())
            .collect()
            .await;
        assert_eq!(history.len(), 1);
        assert_eq!(history[0].operation, kv::Operation::Purge);
        let mut keys: Vec<String> = kv.keys().await.unwrap().map(|k| k.unwrap()).collect().await;
        keys.sort();
        assert_eq!(keys, ["b.1", "c"]);
        let e = tokio::time::timeout(Duration::from_secs(5), some.next())
            .await
            .expect("purge event")
            .unwrap()
            .unwrap();
        assert_eq!((e.key.as_str(), e.operation), ("a.1", kv::Operation::Purge));
    }

    #[tokio::test]
    async fn ttl_expires_values_and_updates_only_watch_skips_history() {
        let dir = tempfile::tempdir().unwrap();
        let server = start(dir.path()).await;
        let js = context(&server).await;
        let kv = js
            .create_key_value(kv::Config {
                bucket: "short".into(),
                max_age: Duration::from_secs(1),
                ..Default::default()
            })
            .await
            .unwrap();
        kv.put("k", "v".into()).await.unwrap();
        let mut updates = kv.watch_with_history("k").await.unwrap();
        let first = tokio::time::timeout(Duration::from_secs(5), updates.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(&first.value[..], b"v");
        let mut only_new = kv.watch("k").await.unwrap();
        kv.put("k", "w".into()).await.unwrap();
        let next = tokio::time::timeout(Duration::from_secs(5), only_new.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(
            &next.value[..],
            b"w",
            "a watch without history sees only the new value"
        );
        assert_eq!(kv.get("k").await.unwrap().unwrap(), "w");
        // Past the bucket's TTL (checked every second), the value is gone.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert!(kv.get("k").await.unwrap().is_none());
    }
}

mod object_store {
    use super::*;
    use async_nats::jetstream::object_store;
    use futures::StreamExt;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn multi_megabyte_objects_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let server = start(dir.path()).await;
        let js = context(&server).await;
        let store = js
            .create_object_store(object_store::Config {
                bucket: "files".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let info = store.put("big.bin", &mut data.as_slice()).await.unwrap();
        assert_eq!(info.size, data.len());
        store.put("small.txt", &mut &b"hello"[..]).await.unwrap();
        let mut object = store.get("big.bin").await.unwrap();
        let mut back = Vec::new();
        object.read_to_end(&mut back).await.unwrap();
        assert!(back == data, "object content differs");
        let names: Vec<String> = store
            .list()
            .await
            .unwrap()
            .map(|o| o.unwrap().name)
            .collect()
            .await;
        assert_eq!(names.len(), 2, "{names:?}");
        store.delete("small.txt").await.unwrap();
        assert!(store.get("small.txt").await.is_err());
        let info = store.info("big.bin").await.unwrap();
        assert_eq!(info.size, data.len());
    }

    async fn read_all(store: &object_store::ObjectStore, name: &str) -> Vec<u8> {
        let mut object = store.get(name).await.unwrap();
        let mut back = Vec::new();
        object.read_to_end(&mut back).await.unwrap();
        back
    }

    async fn next(w: &mut object_store::Watch) -> object_store::ObjectInfo {
        tokio::time::timeout(Duration::from_secs(5), w.next())
            .await
            .expect("watch event")
            .unwrap()
            .unwrap()
    }

    #[tokio::test]
    async fn watch_links_metadata_and_seal() {
        let dir = tempfile::tempdir().unwrap();
        let server = start(dir.path()).await;
        let js = context(&server).await;
        let mut store = js
            .create_object_store(object_store::Config {
                bucket: "docs".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        let other = js
            .create_object_store(object_store::Config {
                bucket: "other".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        store.put("a.txt", &mut &b"first"[..]).await.unwrap();
        // A watch with history sees what is there; one without sees only
        // what comes next.
        let mut history = store.watch_with_history().await.unwrap();
        let mut updates = store.watch().await.unwrap();
        assert_eq!(next(&mut history).await.name, "a.txt");
        let payload: Vec<u8> = (0..300_000u32).map(|i| (i % 13) as u8).collect();
        store.put("b.bin", &mut payload.as_slice()).await.unwrap();
        let seen = next(&mut updates).await;
        assert_eq!((seen.name.as_str(), seen.size), ("b.bin", payload.len()));
        assert_eq!(next(&mut history).await.name, "b.bin");
        store.delete("a.txt").await.unwrap();
        let gone = next(&mut updates).await;
        assert!(gone.deleted && gone.name == "a.txt", "{gone:?}");
        // Links: to an object, read through to its data; to a bucket.
        let b = store.info("b.bin").await.unwrap();
        let link = store.add_link("latest", &b).await.unwrap();
        assert_eq!(link.options.unwrap().link.unwrap().name.as_deref(), Some("b.bin"));
        assert!(
            read_all(&store, "latest").await == payload,
            "link content differs"
        );
        other.put("o.txt", &mut &b"elsewhere"[..]).await.unwrap();
        let o = other.info("o.txt").await.unwrap();
        store.add_link("from-other", &o).await.unwrap();
        assert_eq!(read_all(&store, "from-other").await, b"elsewhere");
        let bucket_link = store.add_bucket_link("all-other", "other").await.unwrap();
        assert_eq!(bucket_link.options.unwrap().link.unwrap().bucket, "other");
        // Metadata updates, renaming included.
        store
            .update_metadata(
                "b.bin",
                object_store::UpdateMetadata {
                    name: "c.bin".into(),
                    description: Some("renamed".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let c = store.info("c.bin").await.unwrap();
        assert_eq!(c.description.as_deref(), Some("renamed"));
        assert!(store.info("b.bin").await.is_err());
        assert!(
            read_all(&store, "c.bin").await == payload,
            "renamed content differs"
        );
        // A sealed bucket refuses new objects.
        store.seal().await.unwrap();
        assert!(store.put("d.txt", &mut &b"late"[..]).await.is_err());
        assert_eq!(read_all(&store, "c.bin").await.len(), payload.len());
    }
}

mod monitoring {
    use super::*;
    use async_nats::jetstream::consumer::pull;

    #[tokio::test]
    async fn jsz_varz_and_healthz_show_jetstream() {
        let dir = tempfile::tempdir().unwrap();
        let server = start(dir.path()).await;
        let http = junction::monitor::start(server.server.clone(), "127.0.0.1", 0)
            .await
            .unwrap();
        let js = context(&server).await;
        let stream = js
            .create_stream(stream::Config {
                name: "M".into(),
                subjects: vec!["m.>".into()],
                ..Default::default()
            })
            .await
            .unwrap();
        stream
            .create_consumer(pull::Config {
                durable_name: Some("mc".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        for _ in 0..3 {
            js.publish("m.x", "hello".into()).await.unwrap().await.unwrap();
        }
        let jsz = common::http_json(http, "/jsz").await;
        assert_eq!(
            (
                jsz["streams"].as_u64(),
                jsz["consumers"].as_u64(),
                jsz["messages"].as_u64()
            ),
            (Some(1), Some(1), Some(3))
        );
        assert!(jsz["storage"].as_u64().unwrap() > 0);
        assert!(jsz.get("disabled").is_none());
        let detail = common::http_json(http, "/jsz?streams=true&consumers=true&config=true").await;
        let s = &detail["account_details"][0]["stream_detail"][0];
        assert_eq!(s["name"], "M");
        assert_eq!(s["state"]["messages"], 3);
        assert_eq!(s["config"]["subjects"][0], "m.>");
        assert_eq!(s["consumer_detail"][0]["name"], "mc");
        let varz = common::http_json(http, "/varz").await;
        assert_eq!(varz["jetstream"]["stats"]["accounts"], 1);
        assert!(varz["jetstream"]["config"]["store_dir"]
            .as_str()
            .unwrap()
            .ends_with("jetstream"));
        assert_eq!(
            common::http_json(http, "/healthz?js-enabled-only=true").await["status"],
            "ok"
        );
        // Without JetStream, /jsz says so (and /healthz stays ok, as nats-server 2.9.10).
        let plain = common::start_default().await;
        let http2 = junction::monitor::start(plain.server.clone(), "127.0.0.1", 0)
            .await
            .unwrap();
        assert_eq!(
            common::http_json(http2, "/healthz?js-enabled-only=true").await["status"],
            "ok"
        );
        assert_eq!(common::http_json(http2, "/jsz").await["disabled"], true);
    }
}

mod limits {
    use super::*;
    use async_nats::jetstream::consumer::pull;

    #[tokio::test]
    async fn account_and_server_limits_are_enforced() {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("limits.conf");
        std::fs::write(
            &conf,
            format!(
                "jetstream {{ store_dir: \"{}\", max_memory_store: 64KB }}\n\
                 accounts {{ A {{ users: [{{user: a, password: a}}], jetstream {{ max_store: 10KB, max_streams: 2, max_consumers: 1 }} }} }}\n",
                dir.path().join("store").display()
            ),
        )
        .unwrap();
        let opts = junction::config::load_options(&conf).unwrap();
        let server = common::start(opts).await;
        let nc = async_nats::ConnectOptions::with_user_and_password("a".into(), "a".into())
            .connect(common::url(&server))
            .await
            .unwrap();
        let js = jetstream::new(nc);
        let s = js
            .create_stream(stream::Config {
                name: "S1".into(),
                subjects: vec!["s1".into()],
                ..Default::default()
            })
            .await
            .unwrap();
        js.create_stream(stream::Config {
            name: "S2".into(),
            subjects: vec!["s2".into()],
            storage: stream::StorageType::Memory,
            ..Default::default()
        })
        .await
        .unwrap();
        let third = js
            .create_stream(stream::Config {
                name: "S3".into(),
                subjects: vec!["s3".into()],
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert!(third.to_string().contains("maximum number of streams"), "{third}");
        // 10 KB of file storage for the account: the eleventh 1 KB message is refused.
        let mut refused = None;
        for i in 0..20 {
            match js.publish("s1", vec![b'x'; 1000].into()).await.unwrap().await {
                Ok(_) => {}
                Err(e) => {
                    refused = Some((i, e.to_string()));
                    break;
                }
            }
        }
        let (at, why) = refused.expect("the account limit refused a publish");
        assert!((8..=10).contains(&at), "refused at {at}");
        assert!(why.contains("resource limits exceeded for account"), "{why}");
        // 64 KB of memory for the whole server.
        let mut refused = None;
        for i in 0..100 {
            if let Err(e) = js.publish("s2", vec![b'y'; 1000].into()).await.unwrap().await {
                refused = Some((i, e.to_string()));
                break;
            }
        }
        let (at, why) = refused.expect("the server limit refused a publish");
        assert!((55..=64).contains(&at), "refused at {at}");
        assert!(why.contains("insufficient resources"), "{why}");
        s.create_consumer(pull::Config {
            durable_name: Some("one".into()),
            ..Default::default()
        })
        .await
        .unwrap();
        let two = s
            .create_consumer(pull::Config {
                durable_name: Some("two".into()),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert!(
            two.to_string().contains("maximum consumers limit reached"),
            "{two}"
        );
        let info: serde_json::Value = js.request("INFO", &serde_json::json!({})).await.unwrap();
        assert_eq!(info["limits"]["max_streams"], 2);
        assert_eq!(info["limits"]["max_storage"], 10 * 1024);
    }
}

mod mirrors_and_sources {
    use super::*;
    use futures::StreamExt;

    async fn wait_for_messages(js: &jetstream::Context, name: &str, n: u64) -> stream::Info {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let mut s = js.get_stream(name).await.unwrap();
            let info = s.info().await.unwrap().clone();
            if info.state.messages == n {
                return info;
            }
            assert!(
                Instant::now() < deadline,
                "{name} has {} messages, not {n}",
                info.state.messages
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    #[tokio::test]
    async fn subject_transform_and_republish() {
        let dir = tempfile::tempdir().unwrap();
        let server = start(dir.path()).await;
        let js = context(&server).await;
        let client = js.client();
        let mut copies = client.subscribe("copy.>").await.unwrap();
        client.flush().await.unwrap();
        let reply = client
            .request(
                "$JS.API.STREAM.CREATE.T",
                serde_json::json!({
                    "name": "T",
                    "subjects": ["in.*"],
                    "subject_transform": {"src": "in.*", "dest": "stored.$1"},
                    "republish": {"src": ">", "dest": "copy.>"},
                })
                .to_string()
                .into(),
            )
            .await
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&reply.payload).unwrap();
        assert!(v.get("error").is_none(), "{v}");
        let ack = js.publish("in.a", "hello".into()).await.unwrap().await.unwrap();
        let stream = js.get_stream("T").await.unwrap();
        let m = stream.get_raw_message(ack.sequence).await.unwrap();
        assert_eq!(m.subject.as_str(), "stored.a");
        let copy = tokio::time::timeout(Duration::from_secs(5), copies.next())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(copy.subject.as_str(), "copy.stored.a");
        assert_eq!(&copy.payload[..], b"hello");
        let h = copy.headers.unwrap();
        assert_eq!(h.get("Nats-Stream").map(|v| v.as_str()), Some("T"));
        assert_eq!(h.get("Nats-Sequence").map(|v| v.as_str()), Some("1"));
        // Republishing into the stream's own subjects would loop.
        let reply = client
            .request(
                "$JS.API.STREAM.CREATE.L",
                serde_json::json!({"name": "L", "subjects": ["l.>"], "republish": {"src": ">", "dest": "l.again.>"}})
                    .to_string()
                    .into(),
            )
            .await
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&reply.payload).unwrap();
        assert!(
            v["error"]["description"].as_str().unwrap().contains("cycle"),
            "{v}"
        );
    }

    #[tokio::test]
    async fn a_mirror_copies_with_its_sequences_and_a_source_with_a_filter() {
        let dir = tempfile::tempdir().unwrap();
        {
            let server = start(dir.path()).await;
            let js = context(&server).await;
            let origin = js
                .create_stream(stream::Config {
                    name: "ORDERS".into(),
                    subjects: vec!["orders.*".into()],
                    ..Default::default()
                })
                .await
                .unwrap();
            for i in 0..6 {
                let region = if i % 2 == 0 { "eu" } else { "us" };
                js.publish(format!("orders.{region}"), i.to_string().into())
                    .await
                    .unwrap()
                    .await
                    .unwrap();
            }
            // A gap in the origin is kept in the mirror.
            origin.delete_message(3).await.unwrap();
            let refused = js
                .create_stream(stream::Config {
                    name: "BAD".into(),
                    subjects: vec!["bad".into()],
                    mirror: Some(stream::Source {
                        name: "ORDERS".into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                })
                .await
                .unwrap_err();
            assert!(
                refused.to_string().contains("10034")
                    || refused.to_string().contains("can not contain subjects"),
                "{refused}"
            );
            js.create_stream(stream::Config {
                name: "MIRROR".into(),
                mirror: Some(stream::Source {
                    name: "ORDERS".into(),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await
            .unwrap();
            js.create_stream(stream::Config {
                name: "EU".into(),
                sources: Some(vec![stream::Source {
                    name: "ORDERS".into(),
                    filter_subject: Some("orders.eu".into()),
                    ..Default::default()
                }]),
                ..Default::default()
            })
            .await
            .unwrap();
            let info = wait_for_messages(&js, "MIRROR", 5).await;
            assert_eq!((info.state.first_sequence, info.state.last_sequence), (1, 6));
            // orders.eu were sequences 1, 3 and 5; 3 was deleted.
            wait_for_messages(&js, "EU", 2).await;
            // New messages follow.
            js.publish("orders.eu", "6".into()).await.unwrap().await.unwrap();
            wait_for_messages(&js, "MIRROR", 6).await;
            let eu = js.get_stream("EU").await.unwrap();
            wait_for_messages(&js, "EU", 3).await;
            let m = eu.get_raw_message(3).await.unwrap();
            assert_eq!(&m.payload[..], b"6");
            assert_eq!(
                m.headers.get("Nats-Stream-Source").map(|v| v.as_str()),
                Some("ORDERS 7")
            );
            let mirror = js.get_stream("MIRROR").await.unwrap();
            assert!(mirror.get_raw_message(3).await.is_err());
            assert_eq!(&mirror.get_raw_message(7).await.unwrap().payload[..], b"6");
            server.server.shutdown();
            tokio::time::timeout(Duration::from_secs(5), server.wait())
                .await
                .unwrap();
        }
        // After a restart nothing is copied twice, and copying goes on.
        let server = start(dir.path()).await;
        let js = context(&server).await;
        js.publish("orders.eu", "7".into()).await.unwrap().await.unwrap();
        wait_for_messages(&js, "MIRROR", 7).await;
        wait_for_messages(&js, "EU", 4).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        wait_for_messages(&js, "EU", 4).await;
        let mut eu = js.get_stream("EU").await.unwrap();
        assert_eq!(
            eu.info().await.unwrap().state.last_sequence,
            4,
            "a message was copied twice"
        );
    }
}

/// Pull requests, infos and rollups as nats-server answers them.
mod requests_and_infos {
    use super::*;
    use futures::StreamExt;

    async fn raw(server: &junction::RunningServer, subject: &str, body: &str) -> serde_json::Value {
        let client = async_nats::connect(common::url(server)).await.unwrap();
        let m = client
            .request(subject.to_string(), body.to_string().into())
            .await
            .unwrap();
        serde_json::from_slice(&m.payload).unwrap()
    }

    /// A pull request whose requester went away (a fetch that timed out
    /// and unsubscribed) takes nothing: the next request gets the message
    /// at once, and it counts as pending until then.
    #[tokio::test]
    async fn a_pull_request_nobody_waits_for_takes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let server = start(dir.path()).await;
        raw(
            &server,
            "$JS.API.STREAM.CREATE.O",
            r#"{"name":"O","subjects":["o"]}"#,
        )
        .await;
        raw(
            &server,
            "$JS.API.CONSUMER.CREATE.O.C",
            r#"{"stream_name":"O","config":{"name":"C","durable_name":"C","ack_policy":"explicit"}}"#,
        )
        .await;
        let client = async_nats::connect(common::url(&server)).await.unwrap();
        // The orphan: a request for 10 s whose inbox is then dropped.
        let mut gone = client.subscribe("_INBOX.gone").await.unwrap();
        client
            .publish_with_reply(
                "$JS.API.CONSUMER.MSG.NEXT.O.C",
                "_INBOX.gone",
                r#"{"batch":1,"expires":10000000000}"#.into(),
            )
            .await
            .unwrap();
        client.flush().await.unwrap();
        gone.unsubscribe().await.unwrap();
        client.flush().await.unwrap();
        client.publish("o", "one".into()).await.unwrap();
        client.flush().await.unwrap();
        let info = raw(&server, "$JS.API.CONSUMER.INFO.O.C", "").await;
        assert_eq!(info["num_pending"], 1, "{info}");
        // A live request gets it at once, not after the orphan's 10 s.
        let mut live = client.subscribe("_INBOX.live").await.unwrap();
        client
            .publish_with_reply(
                "$JS.API.CONSUMER.MSG.NEXT.O.C",
                "_INBOX.live",
                r#"{"batch":1,"expires":3000000000}"#.into(),
            )
            .await
            .unwrap();
        let m = tokio::time::timeout(Duration::from_secs(1), live.next())
            .await
            .expect("delivered at once")
            .unwrap();
        assert_eq!(&m.payload[..], b"one");
        // A heartbeat that does not fit twice into the request's life.
        client
            .publish_with_reply(
                "$JS.API.CONSUMER.MSG.NEXT.O.C",
                "_INBOX.live",
                r#"{"batch":1,"expires":2000000000,"idle_heartbeat":1500000000}"#.into(),
            )
            .await
            .unwrap();
        let status = tokio::time::timeout(Duration::from_secs(1), live.next())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(status.status.map(|s| s.as_u16()), Some(400));
        assert_eq!(
            status.description.as_deref(),
            Some("Bad Request - heartbeat value too large")
        );
    }

    #[tokio::test]
    async fn infos_leave_out_unmatched_subjects_and_show_a_bound_push_consumer() {
        let dir = tempfile::tempdir().unwrap();
        let server = start(dir.path()).await;
        raw(
            &server,
            "$JS.API.STREAM.CREATE.I",
            r#"{"name":"I","subjects":["i.>"]}"#,
        )
        .await;
        let client = async_nats::connect(common::url(&server)).await.unwrap();
        client.publish("i.a", "x".into()).await.unwrap();
        client.flush().await.unwrap();
        let none = raw(&server, "$JS.API.STREAM.INFO.I", r#"{"subjects_filter":"zzz"}"#).await;
        assert!(none["state"].get("subjects").is_none(), "{none}");
        assert_eq!(
            (&none["total"], &none["offset"], &none["limit"]),
            (&0.into(), &0.into(), &0.into())
        );
        let some = raw(&server, "$JS.API.STREAM.INFO.I", r#"{"subjects_filter":"i.*"}"#).await;
        assert_eq!(some["state"]["subjects"]["i.a"], 1, "{some}");
        assert_eq!((&some["total"], &some["limit"]), (&1.into(), &100_000.into()));

        let push = r#"{"stream_name":"I","config":{"name":"P","deliver_subject":"deliver.p"}}"#;
        let c = raw(&server, "$JS.API.CONSUMER.CREATE.I.P", push).await;
        assert!(c.get("push_bound").is_none(), "{c}");
        let _bound = client.subscribe("deliver.p").await.unwrap();
        client.flush().await.unwrap();
        let info = raw(&server, "$JS.API.CONSUMER.INFO.I.P", "").await;
        assert_eq!(info["push_bound"], true, "{info}");
        let pull = raw(
            &server,
            "$JS.API.CONSUMER.CREATE.I.Q",
            r#"{"stream_name":"I","config":{"name":"Q"}}"#,
        )
        .await;
        assert!(pull.get("push_bound").is_none(), "{pull}");
    }

    /// `Nats-Rollup: sub` on a subject with a wildcard (nats-py's
    /// `kv.purge("hello.*")`) purges every subject it matches and keeps the
    /// marker.
    #[tokio::test]
    async fn a_subject_rollup_with_a_wildcard_purges_what_it_matches() {
        let dir = tempfile::tempdir().unwrap();
        let server = start(dir.path()).await;
        raw(
            &server,
            "$JS.API.STREAM.CREATE.KV_B",
            r#"{"name":"KV_B","subjects":["$KV.B.>"],"allow_rollup_hdrs":true,"max_msgs_per_subject":5}"#,
        )
        .await;
        let js = context(&server).await;
        for key in ["hello.a", "hello.b", "hello.a", "other"] {
            js.publish(format!("$KV.B.{key}"), "v".into())
                .await
                .unwrap()
                .await
                .unwrap();
        }
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("KV-Operation", "PURGE");
        headers.insert("Nats-Rollup", "sub");
        js.publish_with_headers("$KV.B.hello.*", headers, "".into())
            .await
            .unwrap()
            .await
            .unwrap();
        let info = raw(&server, "$JS.API.STREAM.INFO.KV_B", r#"{"subjects_filter":">"}"#).await;
        let subjects = info["state"]["subjects"].as_object().unwrap();
        let mut kept: Vec<(&String, &serde_json::Value)> = subjects.iter().collect();
        kept.sort_by(|a, b| a.0.cmp(b.0));
        assert_eq!(
            kept,
            [
                (&"$KV.B.hello.*".to_string(), &1.into()),
                (&"$KV.B.other".to_string(), &1.into())
            ]
        );
    }

    /// An unknown `Nats-Rollup` value is refused before anything is
    /// stored, as nats-server 2.15.1 does (the publish is decided first,
    /// then applied).
    #[tokio::test]
    async fn an_invalid_rollup_is_refused_and_not_stored() {
        let dir = tempfile::tempdir().unwrap();
        let server = start(dir.path()).await;
        raw(
            &server,
            "$JS.API.STREAM.CREATE.R",
            r#"{"name":"R","subjects":["r.>"],"allow_rollup_hdrs":true}"#,
        )
        .await;
        let client = async_nats::connect(common::url(&server)).await.unwrap();
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Rollup", "bogus");
        let answer = client
            .request_with_headers("r.a", headers, "x".into())
            .await
            .unwrap();
        let answer: serde_json::Value = serde_json::from_slice(&answer.payload).unwrap();
        assert_eq!(answer["error"]["err_code"], 10111, "{answer}");
        assert_eq!(answer["error"]["description"], "rollup value invalid: \"bogus\"");
        let info = raw(&server, "$JS.API.STREAM.INFO.R", "").await;
        assert_eq!(info["state"]["messages"], 0, "{info}");
    }

    /// `Nats-Required-Api-Level` above the level served (0, nats-server
    /// 2.10's features) is refused as nats-server 2.11+ refuses it.
    #[tokio::test]
    async fn a_required_api_level_above_ours_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let server = start(dir.path()).await;
        let client = async_nats::connect(common::url(&server)).await.unwrap();
        let ask = |level: &'static str| {
            let client = client.clone();
            async move {
                let mut headers = async_nats::HeaderMap::new();
                headers.insert("Nats-Required-Api-Level", level);
                let m = client
                    .request_with_headers("$JS.API.INFO", headers, "".into())
                    .await
                    .unwrap();
                serde_json::from_slice::<serde_json::Value>(&m.payload).unwrap()
            }
        };
        let ok = ask("0").await;
        assert_eq!(ok["api"]["level"], 0, "{ok}");
        for level in ["1", "x"] {
            let refused = ask(level).await;
            assert_eq!(refused["error"]["code"], 412, "{refused}");
            assert_eq!(refused["error"]["err_code"], 10185, "{refused}");
            assert_eq!(
                refused["error"]["description"],
                "JetStream minimum api level required"
            );
        }
    }

    /// A push consumer's deliver subject moves only once nobody listens on
    /// the old one (400/10013 before), as in nats-server 2.15.1.
    #[tokio::test]
    async fn a_bound_push_consumer_keeps_its_deliver_subject() {
        let dir = tempfile::tempdir().unwrap();
        let server = start(dir.path()).await;
        raw(
            &server,
            "$JS.API.STREAM.CREATE.PS",
            r#"{"name":"PS","subjects":["ps"]}"#,
        )
        .await;
        let config = |to: &str| {
            format!(
                r#"{{"stream_name":"PS","config":{{"name":"C","durable_name":"C","deliver_subject":"{to}"}}}}"#
            )
        };
        raw(&server, "$JS.API.CONSUMER.CREATE.PS.C", &config("old.d")).await;
        let client = async_nats::connect(common::url(&server)).await.unwrap();
        let mut bound = client.subscribe("old.d").await.unwrap();
        client.flush().await.unwrap();
        let refused = raw(&server, "$JS.API.CONSUMER.CREATE.PS.C", &config("new.d")).await;
        assert_eq!(refused["error"]["err_code"], 10013, "{refused}");
        bound.unsubscribe().await.unwrap();
        client.flush().await.unwrap();
        let moved = raw(&server, "$JS.API.CONSUMER.CREATE.PS.C", &config("new.d")).await;
        assert_eq!(moved["config"]["deliver_subject"], "new.d", "{moved}");
    }
}
