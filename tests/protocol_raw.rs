//! Raw-socket tests pinning the exact bytes the server sends, checked
//! against what nats-server 2.9/2.10 sends for the same input.

mod common;

use std::time::Duration;

use common::Raw;
use junction::Options;

#[tokio::test]
async fn info_has_reference_fields_in_order() {
    let server = common::start_default().await;
    let raw = Raw::connect(server.addr).await;
    assert!(raw.info.starts_with("INFO {\"server_id\":\"N"), "{}", raw.info);
    assert!(
        raw.info.ends_with("} \r\n"),
        "nats-server leaves a space before CRLF"
    );
    let json: serde_json::Value = serde_json::from_str(&raw.info[5..raw.info.len() - 3]).unwrap();
    let keys: Vec<&str> = json.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "server_id",
            "server_name",
            "version",
            "proto",
            "go",
            "host",
            "port",
            "headers",
            "max_payload",
            "client_id",
            "client_ip"
        ]
    );
    assert_eq!(json["proto"], 1);
    assert_eq!(json["headers"], true);
    assert_eq!(json["max_payload"], 1048576);
    assert_eq!(json["port"], server.addr.port());
    assert_eq!(json["client_ip"], "127.0.0.1");
}

#[tokio::test]
async fn info_flags_auth_required() {
    let server = common::start(Options {
        authorization: Some("t".into()),
        ..Options::default()
    })
    .await;
    let raw = Raw::connect(server.addr).await;
    assert!(raw.info.contains("\"auth_required\":true"), "{}", raw.info);
}

/// Sends `input` on a fresh connection and returns everything after INFO
/// that arrives within a short time (or until the server closes).
async fn exchange(server: &junction::RunningServer, input: &str) -> String {
    use tokio::io::AsyncReadExt;
    let mut raw = Raw::connect(server.addr).await;
    raw.send(input).await;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(Duration::from_millis(300), raw.stream.read(&mut buf)).await {
            Ok(Ok(0)) => {
                out.extend_from_slice(b"<EOF>");
                break;
            }
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Each case was sent to nats-server 2.9.10 and its answer recorded here.
const REFERENCE_CASES: &[(&str, &str)] = &[
    (
        "CONNECT {\"verbose\":true}\r\nPUB foo 2\r\nhi\r\nSUB foo.* 1\r\nPUB foo.bar baz 3\r\nabc\r\nPING\r\n",
        "+OK\r\n+OK\r\n+OK\r\n+OK\r\nMSG foo.bar 1 baz 3\r\nabc\r\nPONG\r\n",
    ),
    (
        "CONNECT {\"verbose\":false,\"headers\":true,\"no_responders\":true}\r\nSUB _INBOX.x 7\r\nPUB nobody _INBOX.x 2\r\nhi\r\nPING\r\n",
        "HMSG _INBOX.x 7 16 16\r\nNATS/1.0 503\r\n\r\n\r\nPONG\r\n",
    ),
    (
        "CONNECT {\"verbose\":false,\"headers\":true}\r\nSUB a 1\r\nHPUB a r 18 20\r\nNATS/1.0\r\nK: v\r\n\r\nhi\r\nPING\r\n",
        "HMSG a 1 r 18 20\r\nNATS/1.0\r\nK: v\r\n\r\nhi\r\nPONG\r\n",
    ),
    ("CONNECT {\"verbose\":false}\r\nHPUB a 2 2\r\nhi\r\nPING\r\n", "<EOF>"),
    (
        "CONNECT {\"verbose\":false}\r\nSUB a 1\r\nSUB a 1\r\nUNSUB 1 1\r\nPUB a 1\r\nx\r\nPUB a 1\r\ny\r\nPING\r\n",
        "MSG a 1 1\r\nx\r\nPONG\r\n",
    ),
    ("CONNECT {\"verbose\":false,\"echo\":false}\r\nSUB a 1\r\nPUB a 1\r\nx\r\nPING\r\n", "PONG\r\n"),
    ("ping\r\nPiNg\r\npong\r\n", "PONG\r\nPONG\r\n"),
    ("PING\n", "PONG\r\n"),
    ("PUB a 1\r\nx\nPING\r\n", "-ERR 'Unknown Protocol Operation'\r\n<EOF>"),
    ("PUB  a   1\r\nx\r\nPING\r\n", "+OK\r\nPONG\r\n"),
    ("PUB\ta\t1\r\nx\r\nPING\r\n", "+OK\r\nPONG\r\n"),
    ("SUB a b c d\r\nPING\r\n", "<EOF>"),
    ("+OK\r\nPING\r\n", "PONG\r\n"),
    ("-ERR foo\r\nPING\r\n", "<EOF>"),
    ("MSG a 1 1\r\nx\r\n", "-ERR 'Unknown Protocol Operation'\r\n<EOF>"),
    ("INFO {}\r\nPING\r\n", "PONG\r\n"),
    ("CONNECT {\"verbose\":false}\r\nCONNECT {\"verbose\":true}\r\nPING\r\n", "+OK\r\nPONG\r\n"),
    ("FOO\r\n", "-ERR 'Unknown Protocol Operation'\r\n<EOF>"),
    // Before CONNECT, verbose and pedantic are on.
    ("PUB foo.* 1\r\nx\r\nPING\r\n", "-ERR 'Invalid Publish Subject'\r\n+OK\r\nPONG\r\n"),
    ("SUB foo..bar 1\r\nPING\r\n", "-ERR 'Invalid Subject'\r\nPONG\r\n"),
    (
        "CONNECT {\"pedantic\":false,\"verbose\":false}\r\nSUB foo.* 1\r\nPUB foo.* 1\r\nx\r\nPUB foo..bar 1\r\nx\r\nPING\r\n",
        "MSG foo.* 1 1\r\nx\r\nPONG\r\n",
    ),
    ("PUB foo\r\nPING\r\n", "<EOF>"),
    ("PUB foo 2000000\r\n", "-ERR 'Maximum Payload Violation'\r\n<EOF>"),
    ("PUB foo 3\r\nabcd\r\nPING\r\n", "-ERR 'Unknown Protocol Operation'\r\n<EOF>"),
    ("SUB foo\r\nPING\r\n", "<EOF>"),
    ("UNSUB\r\nPING\r\n", "-ERR 'Unknown Protocol Operation'\r\n<EOF>"),
    ("UNSUB 5\r\nPING\r\n", "+OK\r\nPONG\r\n"),
    ("CONNECT {bad json\r\nPING\r\n", "<EOF>"),
    ("PUB foo -1\r\nPING\r\n", "<EOF>"),
    (
        "CONNECT {\"verbose\":false,\"no_responders\":true}\r\nPING\r\n",
        "-ERR 'no responders requires headers support'\r\n<EOF>",
    ),
    ("CONNECT {\"verbose\":false,\"protocol\":2}\r\nPING\r\n", "-ERR 'invalid client protocol'\r\n<EOF>"),
    (
        "CONNECT {\"verbose\":false}\r\nSUB a.> 1\r\nSUB a.* 2\r\nPUB a.b.c 1\r\nx\r\nPUB a 0\r\n\r\nPING\r\n",
        "MSG a.b.c 1 1\r\nx\r\nPONG\r\n",
    ),
    (
        "CONNECT {\"verbose\":false}\r\nSUB > 3\r\nPUB a.b.c 1\r\nx\r\nPUB a 0\r\n\r\nPING\r\n",
        "MSG a.b.c 3 1\r\nx\r\nMSG a 3 0\r\n\r\nPONG\r\n",
    ),
    (
        "CONNECT {\"verbose\":false}\r\nSUB a 1\r\nUNSUB 1 2\r\nPUB a 1\r\nx\r\nPUB a 1\r\nx\r\nPUB a 1\r\nx\r\nPING\r\n",
        "MSG a 1 1\r\nx\r\nMSG a 1 1\r\nx\r\nPONG\r\n",
    ),
];

#[tokio::test]
async fn answers_match_nats_server_byte_for_byte() {
    let server = common::start_default().await;
    for (input, expected) in REFERENCE_CASES {
        let got = exchange(&server, input).await;
        assert_eq!(&got, expected, "input: {input:?}");
    }
}

#[tokio::test]
async fn control_line_over_limit_is_rejected() {
    let server = common::start_default().await;
    let long = format!("PUB {} 1\r\nx\r\n", "a".repeat(5000));
    assert_eq!(
        exchange(&server, &long).await,
        "-ERR 'maximum control line exceeded'\r\n<EOF>"
    );
    let long_sub = format!("SUB {}", "a".repeat(5000));
    assert_eq!(
        exchange(&server, &long_sub).await,
        "-ERR 'maximum control line exceeded'\r\n<EOF>"
    );
}

#[tokio::test]
async fn operations_split_at_every_byte_give_the_same_answer() {
    use tokio::io::AsyncWriteExt;
    let server = common::start_default().await;
    let input = "CONNECT {\"verbose\":false,\"headers\":true}\r\nSUB a.* q 1\r\nPUB a.b r 5\r\nhello\r\nHPUB a.c 12 14\r\nNATS/1.0\r\n\r\nhi\r\nPING\r\n";
    let expected = "MSG a.b 1 r 5\r\nhello\r\nHMSG a.c 1 12 14\r\nNATS/1.0\r\n\r\nhi\r\nPONG\r\n";
    for split in 1..input.len() {
        let mut raw = Raw::connect(server.addr).await;
        raw.stream.write_all(&input.as_bytes()[..split]).await.unwrap();
        raw.stream.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
        raw.stream.write_all(&input.as_bytes()[split..]).await.unwrap();
        raw.expect(expected).await;
    }
}

#[tokio::test]
async fn many_operations_in_one_write() {
    let server = common::start_default().await;
    let mut raw = Raw::handshake(server.addr, r#"{"verbose":false}"#).await;
    let mut batch = String::from("SUB n 9\r\n");
    let mut expected = String::new();
    for i in 0..500 {
        let p = i.to_string();
        batch.push_str(&format!("PUB n {}\r\n{p}\r\n", p.len()));
        expected.push_str(&format!("MSG n 9 {}\r\n{p}\r\n", p.len()));
    }
    batch.push_str("PING\r\n");
    expected.push_str("PONG\r\n");
    raw.send(&batch).await;
    raw.expect(&expected).await;
}

#[tokio::test]
async fn authorization_violation_closes() {
    let server = common::start(Options {
        authorization: Some("secret".into()),
        ..Options::default()
    })
    .await;
    for input in [
        "PING\r\n",
        "CONNECT {\"auth_token\":\"bad\"}\r\nPING\r\n",
        "CONNECT {}\r\n",
    ] {
        assert_eq!(
            exchange(&server, input).await,
            "-ERR 'Authorization Violation'\r\n<EOF>",
            "{input:?}"
        );
    }
    assert_eq!(
        exchange(
            &server,
            "CONNECT {\"verbose\":false,\"auth_token\":\"secret\"}\r\nPING\r\n"
        )
        .await,
        "PONG\r\n"
    );
}

#[tokio::test]
async fn authentication_timeout_closes() {
    let server = common::start(Options {
        authorization: Some("secret".into()),
        auth_timeout: Duration::from_millis(100),
        ..Options::default()
    })
    .await;
    let mut raw = Raw::connect(server.addr).await;
    assert_eq!(raw.read_to_close().await, "-ERR 'Authentication Timeout'\r\n");
}

#[tokio::test]
async fn maximum_connections_exceeded() {
    let server = common::start(Options {
        max_connections: 1,
        ..Options::default()
    })
    .await;
    let _first = Raw::handshake(server.addr, r#"{"verbose":false}"#).await;
    let mut second = Raw::connect(server.addr).await;
    assert!(second.info.starts_with("INFO "));
    assert_eq!(
        second.read_to_close().await,
        "-ERR 'maximum connections exceeded'\r\n"
    );
}

#[tokio::test]
async fn maximum_subscriptions_exceeded_keeps_connection() {
    let server = common::start(Options {
        max_subscriptions: 1,
        ..Options::default()
    })
    .await;
    let mut raw = Raw::handshake(server.addr, r#"{"verbose":false}"#).await;
    raw.send("SUB a 1\r\nSUB b 2\r\nPING\r\n").await;
    raw.expect("-ERR 'maximum subscriptions exceeded'\r\nPONG\r\n")
        .await;
}

#[tokio::test]
async fn headers_are_stripped_for_clients_without_header_support() {
    let server = common::start_default().await;
    let mut old = Raw::handshake(server.addr, r#"{"verbose":false}"#).await;
    old.send("SUB h 1\r\nPING\r\n").await;
    old.expect("PONG\r\n").await;
    let mut new = Raw::handshake(server.addr, r#"{"verbose":false,"headers":true}"#).await;
    new.send("HPUB h 12 16\r\nNATS/1.0\r\n\r\nbody\r\nPING\r\n").await;
    new.expect("PONG\r\n").await;
    old.expect("MSG h 1 4\r\nbody\r\n").await;
}

#[tokio::test]
async fn garbage_does_not_disturb_other_clients() {
    let server = common::start_default().await;
    let mut good = Raw::handshake(server.addr, r#"{"verbose":false}"#).await;
    good.send("SUB x 1\r\nPING\r\n").await;
    good.expect("PONG\r\n").await;
    for junk in [
        "\x00\x01\x02",
        "PUB x 99999999999999\r\n",
        "SUB\r\n",
        "HPUB x 5 2\r\n",
        "CONNECT \r\n",
    ] {
        let _ = exchange(&server, junk).await;
    }
    let mut publisher = Raw::handshake(server.addr, r#"{"verbose":false}"#).await;
    publisher.send("PUB x 2\r\nok\r\nPING\r\n").await;
    publisher.expect("PONG\r\n").await;
    good.expect("MSG x 1 2\r\nok\r\n").await;
}
