//! Behaviour seen through the official `async-nats` client: wildcards, queue
//! groups, request/reply, no-responders, headers, auto-unsubscribe, echo,
//! limits and slow consumers.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use async_nats::HeaderMap;
use futures::StreamExt;
use junction::Options;

async fn client(url: &str) -> async_nats::Client {
    async_nats::connect(url).await.expect("client connects")
}

async fn next_payload(sub: &mut async_nats::Subscriber) -> String {
    let msg = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .expect("message in time")
        .expect("subscription open");
    String::from_utf8(msg.payload.to_vec()).unwrap()
}

async fn nothing_more(sub: &mut async_nats::Subscriber) {
    assert!(tokio::time::timeout(Duration::from_millis(200), sub.next())
        .await
        .is_err());
}

#[tokio::test]
async fn wildcards_match_one_token_and_the_tail() {
    let server = common::start_default().await;
    let nc = client(&common::url(&server)).await;
    let mut star = nc.subscribe("orders.*").await.unwrap();
    let mut tail = nc.subscribe("orders.>").await.unwrap();
    let mut exact = nc.subscribe("orders.eu.new").await.unwrap();
    nc.publish("orders.eu", "one".into()).await.unwrap();
    nc.publish("orders.eu.new", "two".into()).await.unwrap();
    nc.publish("orders", "none".into()).await.unwrap();
    nc.flush().await.unwrap();
    assert_eq!(next_payload(&mut star).await, "one");
    assert_eq!(next_payload(&mut tail).await, "one");
    assert_eq!(next_payload(&mut tail).await, "two");
    assert_eq!(next_payload(&mut exact).await, "two");
    nothing_more(&mut star).await;
    nothing_more(&mut tail).await;
}

#[tokio::test]
async fn queue_group_delivers_each_message_to_one_member_fairly() {
    let server = common::start_default().await;
    let url = common::url(&server);
    let publisher = client(&url).await;
    let mut members = Vec::new();
    for _ in 0..4 {
        let nc = client(&url).await;
        let sub = nc.queue_subscribe("work", "workers".into()).await.unwrap();
        nc.flush().await.unwrap();
        members.push((nc, sub));
    }
    let mut plain = publisher.subscribe("work").await.unwrap();
    publisher.flush().await.unwrap();
    const N: usize = 400;
    for i in 0..N {
        publisher.publish("work", i.to_string().into()).await.unwrap();
    }
    publisher.flush().await.unwrap();
    let mut seen = HashMap::new();
    let mut counts = Vec::new();
    for (_, sub) in members.iter_mut() {
        let mut count = 0;
        while let Ok(Some(msg)) = tokio::time::timeout(Duration::from_millis(300), sub.next()).await {
            *seen.entry(msg.payload.to_vec()).or_insert(0) += 1;
            count += 1;
        }
        counts.push(count);
    }
    assert_eq!(seen.len(), N, "every message delivered");
    assert!(
        seen.values().all(|&n| n == 1),
        "each message to exactly one member"
    );
    for count in counts {
        assert!(count > N / 8, "spread is fair enough: {count} of {N}");
    }
    for _ in 0..N {
        next_payload(&mut plain).await;
    }
}

#[tokio::test]
async fn request_reply_round_trip() {
    let server = common::start_default().await;
    let url = common::url(&server);
    let responder = client(&url).await;
    let mut service = responder.subscribe("time").await.unwrap();
    responder.flush().await.unwrap();
    tokio::spawn(async move {
        while let Some(msg) = service.next().await {
            let reply = msg.reply.unwrap();
            let answer = format!("hello {}", String::from_utf8_lossy(&msg.payload));
            responder.publish(reply, answer.into()).await.unwrap();
        }
    });
    let requester = client(&url).await;
    let answer = requester.request("time", "bob".into()).await.unwrap();
    assert_eq!(&answer.payload[..], b"hello bob");
}

#[tokio::test]
async fn no_responders_fails_request_at_once() {
    let server = common::start_default().await;
    let nc = client(&common::url(&server)).await;
    let started = std::time::Instant::now();
    let err = nc.request("nobody.home", "x".into()).await.unwrap_err();
    assert_eq!(err.kind(), async_nats::RequestErrorKind::NoResponders);
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn headers_travel_with_the_message() {
    let server = common::start_default().await;
    let nc = client(&common::url(&server)).await;
    let mut sub = nc.subscribe("h").await.unwrap();
    let mut headers = HeaderMap::new();
    headers.insert("Trace-Id", "abc123");
    headers.append("Multi", "1");
    headers.append("Multi", "2");
    nc.publish_with_headers("h", headers, "body".into())
        .await
        .unwrap();
    let msg = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .unwrap()
        .unwrap();
    let got = msg.headers.expect("headers present");
    assert_eq!(got.get("Trace-Id").map(|v| v.as_str()), Some("abc123"));
    let multi: Vec<_> = got.get_all("Multi").map(|v| v.as_str().to_string()).collect();
    assert_eq!(multi, ["1", "2"]);
    assert_eq!(&msg.payload[..], b"body");
}

#[tokio::test]
async fn auto_unsubscribe_after_n_messages() {
    let server = common::start_default().await;
    // The server's own (the system account's services the account imports).
    let before = server.server.global.subscription_count();
    let nc = client(&common::url(&server)).await;
    let mut sub = nc.subscribe("limited").await.unwrap();
    sub.unsubscribe_after(3).await.unwrap();
    for i in 0..10 {
        nc.publish("limited", i.to_string().into()).await.unwrap();
    }
    nc.flush().await.unwrap();
    let mut got = Vec::new();
    while let Ok(Some(msg)) = tokio::time::timeout(Duration::from_millis(300), sub.next()).await {
        got.push(String::from_utf8(msg.payload.to_vec()).unwrap());
    }
    assert_eq!(got, ["0", "1", "2"]);
    // The server dropped the subscription itself.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(server.server.global.subscription_count(), before);
}

#[tokio::test]
async fn echo_off_hides_own_messages() {
    let server = common::start_default().await;
    let url = common::url(&server);
    let quiet = async_nats::ConnectOptions::new()
        .no_echo()
        .connect(&url)
        .await
        .unwrap();
    let other = client(&url).await;
    let mut own = quiet.subscribe("chat").await.unwrap();
    let mut theirs = other.subscribe("chat").await.unwrap();
    quiet.flush().await.unwrap();
    other.flush().await.unwrap();
    quiet.publish("chat", "from quiet".into()).await.unwrap();
    quiet.flush().await.unwrap();
    assert_eq!(next_payload(&mut theirs).await, "from quiet");
    nothing_more(&mut own).await;
    other.publish("chat", "from other".into()).await.unwrap();
    assert_eq!(next_payload(&mut own).await, "from other");
}

#[tokio::test]
async fn max_payload_is_advertised_and_enforced() {
    let server = common::start(Options {
        max_payload: 1024,
        ..Options::default()
    })
    .await;
    let nc = client(&common::url(&server)).await;
    assert_eq!(nc.server_info().max_payload, 1024);
    let err = nc.publish("big", vec![0u8; 2048].into()).await.unwrap_err();
    assert_eq!(err.kind(), async_nats::PublishErrorKind::MaxPayloadExceeded);
    nc.publish("small", vec![0u8; 1024].into()).await.unwrap();
    nc.flush().await.unwrap();
}

#[tokio::test]
async fn flush_orders_after_published_messages() {
    let server = common::start_default().await;
    let nc = client(&common::url(&server)).await;
    let mut sub = nc.subscribe("seq").await.unwrap();
    for i in 0..1000 {
        nc.publish("seq", i.to_string().into()).await.unwrap();
    }
    nc.flush().await.unwrap();
    for i in 0..1000 {
        let msg = sub.next().await.unwrap();
        assert_eq!(msg.payload, i.to_string());
    }
}

#[tokio::test]
async fn slow_consumer_is_cut_off_without_slowing_others() {
    let server = common::start(Options {
        max_pending: 256 * 1024,
        write_deadline: Duration::from_millis(500),
        ..Options::default()
    })
    .await;
    let url = common::url(&server);
    // A raw subscriber that never reads: once the socket buffers are full,
    // the publisher waits for it for at most write_deadline, then it is cut
    // off and the others carry on.
    let mut stalled = common::Raw::handshake(server.addr, r#"{"verbose":false}"#).await;
    stalled.send("SUB firehose 1\r\nPING\r\n").await;
    stalled.expect("PONG\r\n").await;
    let fast = client(&url).await;
    let mut fast_sub = fast.subscribe("firehose").await.unwrap();
    fast.flush().await.unwrap();
    let publisher = client(&url).await;
    let payload = bytes::Bytes::from(vec![b'x'; 1024]);
    let counter = tokio::spawn(async move {
        let mut n = 0;
        while n < 20_000 {
            tokio::time::timeout(Duration::from_secs(10), fast_sub.next())
                .await
                .unwrap()
                .unwrap();
            n += 1;
        }
        n
    });
    for _ in 0..20_000 {
        publisher.publish("firehose", payload.clone()).await.unwrap();
    }
    publisher.flush().await.unwrap();
    assert_eq!(counter.await.unwrap(), 20_000, "fast subscriber got everything");
    // The stalled one was disconnected as a slow consumer.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while server.server.num_clients() > 2 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(server.server.num_clients(), 2);
    assert!(
        server
            .server
            .stats
            .slow_consumers
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1
    );
    drop(stalled);
}

#[tokio::test]
async fn stale_connection_is_closed_after_unanswered_pings() {
    let server = common::start(Options {
        ping_interval: Duration::from_millis(100),
        ping_max: 2,
        ..Options::default()
    })
    .await;
    let mut raw = common::Raw::handshake(server.addr, r#"{"verbose":false}"#).await;
    // Never answer PING.
    let rest = raw.read_to_close().await;
    assert_eq!(rest, "PING\r\nPING\r\n-ERR 'Stale Connection'\r\n");
}

#[tokio::test]
async fn answered_pings_keep_the_connection() {
    let server = common::start(Options {
        ping_interval: Duration::from_millis(50),
        ping_max: 1,
        ..Options::default()
    })
    .await;
    // async-nats answers server PINGs itself.
    let nc = client(&common::url(&server)).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    nc.flush().await.unwrap();
    assert_eq!(nc.connection_state(), async_nats::connection::State::Connected);
    assert_eq!(server.server.num_clients(), 1);
}

#[tokio::test]
async fn token_and_user_auth_through_the_client() {
    let server = common::start(Options {
        authorization: Some("s3cret".into()),
        ..Options::default()
    })
    .await;
    let url = common::url(&server);
    let ok = async_nats::ConnectOptions::with_token("s3cret".into())
        .connect(&url)
        .await
        .unwrap();
    ok.flush().await.unwrap();
    let bad = async_nats::ConnectOptions::with_token("wrong".into()).connect(&url);
    let bad = tokio::time::timeout(Duration::from_secs(3), bad).await;
    assert!(!matches!(bad, Ok(Ok(_))), "wrong token rejected");

    let server = common::start(Options {
        username: Some("derek".into()),
        password: Some(bcrypt::hash("pw", 4).unwrap()),
        ..Options::default()
    })
    .await;
    let url = common::url(&server);
    let ok = async_nats::ConnectOptions::with_user_and_password("derek".into(), "pw".into())
        .connect(&url)
        .await
        .unwrap();
    ok.flush().await.unwrap();
    let bad = async_nats::ConnectOptions::with_user_and_password("derek".into(), "px".into())
        .connect(&url)
        .await;
    assert!(bad.is_err());
}

#[tokio::test]
async fn message_counters_add_up() {
    use std::sync::atomic::Ordering::Relaxed;
    let server = common::start_default().await;
    let nc = client(&common::url(&server)).await;
    let mut a = nc.subscribe("count.*").await.unwrap();
    let mut b = nc.subscribe("count.>").await.unwrap();
    for _ in 0..10 {
        nc.publish("count.me", "12345".into()).await.unwrap();
    }
    nc.publish("nobody", "x".into()).await.unwrap();
    nc.flush().await.unwrap();
    for _ in 0..10 {
        next_payload(&mut a).await;
        next_payload(&mut b).await;
    }
    let stats = &server.server.stats;
    assert_eq!(stats.in_msgs.load(Relaxed), 11);
    assert_eq!(stats.in_bytes.load(Relaxed), 51);
    assert_eq!(stats.out_msgs.load(Relaxed), 20);
    assert_eq!(stats.out_bytes.load(Relaxed), 100);
    let clients = server.server.clients();
    assert_eq!(clients[0].counters().in_msgs.load(Relaxed), 11);
    assert_eq!(clients[0].out_counts().0, 20);
}

#[tokio::test]
async fn write_deadline_cuts_off_a_stalled_reader() {
    let server = common::start(Options {
        write_deadline: Duration::from_millis(200),
        ..Options::default()
    })
    .await;
    let mut stalled = common::Raw::handshake(server.addr, r#"{"verbose":false}"#).await;
    stalled.send("SUB big 1\r\nPING\r\n").await;
    stalled.expect("PONG\r\n").await;
    let publisher = client(&common::url(&server)).await;
    let payload = bytes::Bytes::from(vec![b'x'; 64 * 1024]);
    // 32 MB: well past the socket buffers, well under max_pending (64 MB).
    for _ in 0..512 {
        publisher.publish("big", payload.clone()).await.unwrap();
    }
    publisher.flush().await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while server.server.num_clients() > 1 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(server.server.num_clients(), 1, "stalled reader was disconnected");
    drop(stalled);
}
