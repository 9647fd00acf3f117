//! JetStream streams through the official Rust client (async-nats): create,
//! publish with PubAcks, expectations and de-duplication, limits, get,
//! direct get, purge, delete, and messages surviving a restart.

mod common;

use std::time::Duration;

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
