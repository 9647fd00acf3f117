//! TLS on the NATS port (`tls { }`, `--tls*`): INFO in the clear and then the
//! handshake, as nats-server does, or TLS first; client certificates with
//! `verify`; what INFO, `/varz` and `/connz` say. async-nats is the client.

mod common;

use std::time::Duration;

use common::pki::Pki;
use common::Raw;
use futures::StreamExt;
use junction::Options;

async fn start(pki: &Pki, verify: bool, handshake_first: bool) -> junction::RunningServer {
    let mut tls = pki.tls(verify);
    tls.handshake_first = handshake_first;
    common::start(Options {
        tls: Some(tls),
        ..Options::default()
    })
    .await
}

fn url(server: &junction::RunningServer) -> String {
    // The server certificate names `localhost`.
    format!("tls://localhost:{}", server.addr.port())
}

fn client_options(pki: &Pki) -> async_nats::ConnectOptions {
    async_nats::ConnectOptions::new()
        .add_root_certificates(pki.path("ca.pem"))
        .require_tls(true)
        .retry_on_initial_connect()
        .max_reconnects(Some(1))
        .connection_timeout(Duration::from_secs(2))
}

async fn exchange(a: &async_nats::Client, b: &async_nats::Client) {
    let mut sub = b.subscribe("secure.>").await.unwrap();
    b.flush().await.unwrap();
    a.publish("secure.hello", "over tls".into()).await.unwrap();
    a.flush().await.unwrap();
    let msg = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&msg.payload[..], b"over tls");
}

#[tokio::test]
async fn info_in_the_clear_then_tls_and_connz_shows_the_session() {
    let pki = Pki::new();
    let server = start(&pki, false, false).await;
    let http = junction::monitor::start(server.server.clone(), "127.0.0.1", 0)
        .await
        .unwrap();
    // The INFO a client reads before starting TLS, as nats-server writes it.
    let raw = Raw::connect(server.addr).await;
    assert!(
        raw.info
            .contains(r#""headers":true,"tls_required":true,"max_payload":1048576"#),
        "{}",
        raw.info
    );
    drop(raw);

    let a = async_nats::connect_with_options(url(&server), client_options(&pki).name("a"))
        .await
        .unwrap();
    let b = async_nats::connect_with_options(url(&server), client_options(&pki).name("b"))
        .await
        .unwrap();
    exchange(&a, &b).await;

    let connz = common::http_json(http, "/connz").await;
    let conns = connz["connections"].as_array().unwrap();
    let open: Vec<_> = conns.iter().filter(|c| c["name"] == "a").collect();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0]["tls_version"], "1.3");
    assert!(
        open[0]["tls_cipher_suite"].as_str().unwrap().starts_with("TLS_"),
        "{}",
        open[0]
    );
    let varz = common::http_json(http, "/varz").await;
    assert_eq!(varz["tls_required"], true);
    assert!(varz.get("tls_verify").is_none());
}

#[tokio::test]
async fn plain_text_after_info_is_a_tls_handshake_error() {
    let pki = Pki::new();
    let server = start(&pki, false, false).await;
    let http = junction::monitor::start(server.server.clone(), "127.0.0.1", 0)
        .await
        .unwrap();
    let mut raw = Raw::connect(server.addr).await;
    raw.send("CONNECT {\"verbose\":false}\r\nPING\r\n").await;
    // nats-server closes without a word here too.
    assert_eq!(raw.read_to_close().await, "");
    tokio::time::sleep(Duration::from_millis(50)).await;
    let closed = common::http_json(http, "/connz?state=closed").await;
    assert_eq!(
        closed["connections"][0]["reason"], "TLS Handshake Error",
        "{closed}"
    );
    // Everyone else is still served.
    let a = async_nats::connect_with_options(url(&server), client_options(&pki))
        .await
        .unwrap();
    exchange(&a, &a).await;
}

#[tokio::test]
async fn verify_requires_a_client_certificate_signed_by_the_ca() {
    let pki = Pki::new();
    let server = start(&pki, true, false).await;
    let raw = Raw::connect(server.addr).await;
    assert!(
        raw.info.contains(r#""tls_required":true,"tls_verify":true"#),
        "{}",
        raw.info
    );
    let refused = async_nats::connect_with_options(
        url(&server),
        async_nats::ConnectOptions::new()
            .add_root_certificates(pki.path("ca.pem"))
            .require_tls(true)
            .connection_timeout(Duration::from_secs(2)),
    )
    .await;
    assert!(refused.is_err(), "a client without a certificate got in");
    let a = async_nats::connect_with_options(
        url(&server),
        client_options(&pki).add_client_certificate(pki.path("client.pem"), pki.path("client-key.pem")),
    )
    .await
    .unwrap();
    exchange(&a, &a).await;
}

#[tokio::test]
async fn handshake_first_sends_info_over_tls() {
    let pki = Pki::new();
    let server = start(&pki, false, true).await;
    let http = junction::monitor::start(server.server.clone(), "127.0.0.1", 0)
        .await
        .unwrap();
    let a = async_nats::connect_with_options(url(&server), client_options(&pki).tls_first().name("first"))
        .await
        .unwrap();
    exchange(&a, &a).await;
    let connz = common::http_json(http, "/connz").await;
    assert_eq!(connz["connections"][0]["tls_first"], true, "{connz}");
}

/// A configuration reload with new certificate files: new connections get
/// the new certificate at once, connections made before keep going.
#[tokio::test]
async fn a_reload_puts_new_certificates_in_force_for_new_connections() {
    let (old_pki, new_pki) = (Pki::new(), Pki::new());
    let opts = Options {
        tls: Some(old_pki.tls(false)),
        ..Options::default()
    };
    let server = common::start(opts).await;
    // Trusting only one CA, without retries: connecting tells which
    // certificate the server presents.
    let trusting = |pki: &Pki| {
        async_nats::ConnectOptions::new()
            .add_root_certificates(pki.path("ca.pem"))
            .require_tls(true)
            .connection_timeout(Duration::from_secs(2))
    };
    let before = async_nats::connect_with_options(url(&server), trusting(&old_pki))
        .await
        .unwrap();
    assert!(async_nats::connect_with_options(url(&server), trusting(&new_pki))
        .await
        .is_err());
    let mut reloaded = (*server.server.opts()).clone();
    reloaded.tls = Some(new_pki.tls(false));
    server.server.reload(reloaded).unwrap();
    let after = async_nats::connect_with_options(url(&server), trusting(&new_pki))
        .await
        .expect("the new certificate is presented");
    assert!(async_nats::connect_with_options(url(&server), trusting(&old_pki))
        .await
        .is_err());
    // The connection made before the reload still works, with the new one.
    exchange(&before, &after).await;
    exchange(&after, &before).await;
}

/// The MQTT listener's certificate reloads too: new connections get the new
/// one, and a connection made before keeps its session.
#[tokio::test]
async fn a_reload_puts_new_mqtt_certificates_in_force() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (old_pki, new_pki) = (Pki::new(), Pki::new());
    let mqtt = junction::options::MqttOptions {
        host: "127.0.0.1".into(),
        port: 0,
        tls: Some(old_pki.tls(false)),
        ..Default::default()
    };
    // MQTT sessions live in JetStream.
    let store = tempfile::tempdir().unwrap();
    let opts = Options {
        mqtt: Some(mqtt.clone()),
        jetstream: true,
        store_dir: Some(store.path().to_path_buf()),
        ..Options::default()
    };
    let server = common::start(opts).await;
    let addr = junction::mqtt::start(server.server.clone(), &mqtt, Default::default())
        .await
        .unwrap();
    // CONNECT (3.1.1, clean session) over TLS trusting `pki`; the CONNACK
    // proves the handshake and the session.
    // Each with its own client id: the same one would take the session over.
    let connect = |pki: &Pki, id: u8| {
        let connector = pki.connector(false);
        async move {
            let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
            let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
            let mut tls = connector.connect(name, tcp).await?;
            tls.write_all(&[b"\x10\x0e\x00\x04MQTT\x04\x02\x00\x3c\x00\x02i".as_slice(), &[id]].concat())
                .await?;
            let mut ack = [0u8; 4];
            tls.read_exact(&mut ack).await?;
            assert_eq!(&ack, b"\x20\x02\x00\x00");
            Ok::<_, std::io::Error>(tls)
        }
    };
    let mut before = connect(&old_pki, b'1').await.unwrap();
    assert!(connect(&new_pki, b'2').await.is_err());
    let mut reloaded = (*server.server.opts()).clone();
    reloaded.mqtt.as_mut().unwrap().tls = Some(new_pki.tls(false));
    server.server.reload(reloaded).unwrap();
    connect(&new_pki, b'3')
        .await
        .expect("the new certificate is presented");
    assert!(connect(&old_pki, b'4').await.is_err());
    // The session from before still answers PINGREQ.
    before.write_all(b"\xc0\x00").await.unwrap();
    let mut pong = [0u8; 2];
    tokio::time::timeout(Duration::from_secs(5), before.read_exact(&mut pong))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&pong, b"\xd0\x00");
}

/// The status line of `GET path` over TLS trusting `pki`'s CA, or the
/// handshake's error.
async fn https_status(addr: std::net::SocketAddr, pki: &Pki, path: &str) -> std::io::Result<String> {
    let response = pki.https_get(addr, path).await?;
    Ok(response.lines().next().unwrap_or_default().to_string())
}

/// `https_port`: monitoring over TLS with the client port's certificate, not
/// asking for a client certificate even when the NATS port verifies them
/// (as nats-server serves it); plain HTTP gets no answer; `/varz` reports
/// the port as `https_port`; and a reload's new certificate reaches it.
#[tokio::test]
async fn https_monitoring_serves_the_client_certificate_and_follows_its_reload() {
    let (old_pki, new_pki) = (Pki::new(), Pki::new());
    let opts = Options {
        tls: Some(old_pki.tls(true)),
        https_port: Some(0),
        http_host: Some("127.0.0.1".into()),
        ..Options::default()
    };
    let server = common::start(opts.clone()).await;
    let (scheme, addr) = junction::monitor::start_configured(server.server.clone(), &opts)
        .await
        .unwrap()
        .expect("monitoring is on");
    assert_eq!(scheme, "https");
    assert_eq!(
        https_status(addr, &old_pki, "/healthz").await.unwrap(),
        "HTTP/1.1 200 OK"
    );
    assert!(https_status(addr, &new_pki, "/healthz").await.is_err());
    // Plain HTTP on the TLS port is not answered.
    let (status, _) = common::http_get(addr, "/varz").await;
    assert_eq!(status, 0);

    let mut reloaded = (*server.server.opts()).clone();
    reloaded.tls = Some(new_pki.tls(true));
    server.server.reload(reloaded).unwrap();
    assert_eq!(
        https_status(addr, &new_pki, "/healthz").await.unwrap(),
        "HTTP/1.1 200 OK"
    );
    assert!(https_status(addr, &old_pki, "/healthz").await.is_err());

    // /varz names the port under its scheme.
    let body = new_pki.https_get(addr, "/varz").await.unwrap();
    assert!(
        body.contains(&format!(
            r#""http_port":0,"http_base_path":"","https_port":{}"#,
            addr.port()
        )),
        "{body}"
    );
}

/// As nats-server: HTTP and HTTPS monitoring together, or HTTPS without a
/// certificate, stop the start.
#[tokio::test]
async fn https_monitoring_refuses_a_second_port_or_no_certificate() {
    let server = common::start_default().await;
    let both = Options {
        http_port: Some(8222),
        https_port: Some(0),
        ..Options::default()
    };
    let e = junction::monitor::start_configured(server.server.clone(), &both)
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Can't start monitoring: can't specify both HTTP (8222) and HTTPs (-1) ports"
    );
    let no_tls = Options {
        https_port: Some(0),
        ..Options::default()
    };
    let e = junction::monitor::start_configured(server.server.clone(), &no_tls)
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Can't start monitoring: TLS cert and key required for HTTPS"
    );
}
