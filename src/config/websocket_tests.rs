//! Tests for the `websocket { }` block and `max_closed_clients`.

use std::path::PathBuf;
use std::time::Duration;

use super::*;
use crate::options::{ListenerAuth, Options, WebsocketOptions};

use super::test_support::{err, opts, ORIGIN};

fn ws(text: &str) -> WebsocketOptions {
    opts(text)
        .websocket
        .unwrap_or_else(|| panic!("no websocket options\n--- input:\n{text}"))
}

/// Asserts the error of `text` is exactly `file:line:column: message`.
fn assert_err(text: &str, line: u32, column: u32, message: &str) {
    assert_eq!(
        err(text),
        format!("{ORIGIN}:{line}:{column}: {message}"),
        "--- input:\n{text}"
    );
}

#[test]
fn every_key_is_mapped() {
    let o = ws(r#"
        websocket {
          host: "127.0.0.1"
          port: 8443
          no_tls: true
          same_origin: true
          allowed_origins: ["http://a.example", "https://b.example:8443"]
          compression: true
          handshake_timeout: "5s"
          authorization { user: ws, password: pw, timeout: 1.5 }
          user_cookie: u
          pass_cookie: p
          token_cookie: t
          advertise: "ws.example.com:443"
          ping_interval: "30s"
          headers { "X-Frame-Options": DENY, Cache-Control: "no-store" }
        }
    "#);
    assert_eq!(
        o,
        WebsocketOptions {
            host: "127.0.0.1".into(),
            port: 8443,
            no_tls: true,
            tls: None,
            same_origin: true,
            allowed_origins: vec!["http://a.example".into(), "https://b.example:8443".into()],
            compression: true,
            handshake_timeout: Duration::from_secs(5),
            jwt_cookie: None,
            user_cookie: Some("u".into()),
            pass_cookie: Some("p".into()),
            token_cookie: Some("t".into()),
            headers: vec![
                ("X-Frame-Options".into(), "DENY".into()),
                ("Cache-Control".into(), "no-store".into())
            ],
            ping_interval: Some(Duration::from_secs(30)),
            advertise: Some("ws.example.com:443".into()),
            auth: ListenerAuth {
                username: Some("ws".into()),
                password: Some("pw".into()),
                token: None,
                timeout: Some(Duration::from_millis(1500)),
                no_auth_user: None,
            },
        }
    );
}

#[test]
fn aliases_and_value_forms() {
    let o = ws("ws { listen: \"127.0.0.1:9001\", no_tls: true, compress: true, origin: \"http://x\" }");
    assert_eq!(
        (o.host.as_str(), o.port, o.compression),
        ("127.0.0.1", 9001, true)
    );
    assert_eq!(o.allowed_origins, vec!["http://x".to_string()]);

    // -1 is a random port (0 in the options); a bare listen port keeps the default host.
    let o = ws("websocket { listen: -1, no_tls: true }");
    assert_eq!((o.host.as_str(), o.port), ("0.0.0.0", 0));
    let o = ws("websocket { port: -1, no_tls: true, handshake_timeout: 3 }");
    assert_eq!((o.port, o.handshake_timeout), (0, Duration::from_secs(3)));
    // Keys are matched ignoring case; the timeout defaults to 2s and 0 means none.
    let o = ws("WebSocket { PORT: 80, No_TLS: true, authentication { token: t } }");
    assert_eq!((o.port, o.auth.token.as_deref()), (80, Some("t")));
    assert_eq!(o.handshake_timeout, Duration::from_secs(2));
    assert_eq!(
        ws("websocket { port: 80, no_tls: true, handshake_timeout: \"0s\" }").handshake_timeout,
        Duration::ZERO
    );
    // `ws` and `websocket` add up.
    let o = ws("ws { port: 81 }\nwebsocket { no_tls: true }");
    assert_eq!((o.port, o.no_tls), (81, true));
}

#[test]
fn no_port_leaves_websocket_off_as_in_nats_server() {
    assert_eq!(opts("port: 4222").websocket, None);
    assert_eq!(opts("websocket { no_tls: true }").websocket, None);
    assert_eq!(opts("websocket { port: 0 }").websocket, None);
    // Even without no_tls: nats-server checks nothing for a disabled block.
    assert_eq!(opts("websocket { host: \"::\" }").websocket, None);
}

#[test]
fn tls_is_required_unless_no_tls() {
    let need_tls = "invalid value for \"websocket\": websocket requires TLS configuration";
    assert_err("websocket { port: 8080 }", 1, 1, need_tls);
    assert_err(
        "port: 1\nwebsocket {\n  port: 8080\n  no_tls: false\n}",
        2,
        1,
        need_tls,
    );
}

/// A self-signed certificate and its key, written to a temporary directory.
fn cert_files() -> (tempfile::TempDir, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let cert_file = dir.path().join("cert.pem");
    let key_file = dir.path().join("key.pem");
    std::fs::write(&cert_file, cert.cert.pem()).unwrap();
    std::fs::write(&key_file, cert.key_pair.serialize_pem()).unwrap();
    let path = |p: PathBuf| p.to_str().unwrap().to_string();
    (dir, path(cert_file), path(key_file))
}

#[test]
fn tls_block_is_read_and_loaded() {
    let (_dir, cert, key) = cert_files();
    let o = ws(&format!(
        "websocket {{\n  port: 8443\n  tls {{ cert_file: {cert:?}, key_file: {key:?}, timeout: 0.5, min_version: \"1.3\" }}\n}}"
    ));
    let tls = o.tls.unwrap();
    assert_eq!(tls.cert_file, Some(PathBuf::from(&cert)));
    assert_eq!(tls.timeout, Duration::from_millis(500));
    assert_eq!(tls.min_version, crate::tls::TlsVersion::Tls13);
    assert!(!o.no_tls, "TLS is used, no_tls stays as written");
    // Files that are not there are reported at the block, naming the file.
    let e = err("websocket {\n  port: 8443\n  tls { cert_file: \"/nonexistent/c.pem\", key_file: k }\n}");
    assert!(
        e.starts_with(&format!(
            "{ORIGIN}:3:3: invalid value for \"tls\": error reading /nonexistent/c.pem"
        )),
        "{e}"
    );
    assert_err(
        &format!("websocket {{\n  port: 8443\n  tls {{ cert_file: {cert:?} }}\n}}"),
        3,
        3,
        "invalid value for \"tls\": missing 'key_file' in TLS configuration",
    );
    let line = format!("  tls {{ cert_file: {cert:?}, key_file: {key:?}, min_version: \"1.1\" }}");
    assert_err(
        &format!("websocket {{\n  port: 8443\n{line}\n}}"),
        3,
        line.find("min_version").unwrap() as u32 + 1,
        "invalid value for \"min_version\": error parsing tls config: unsupported TLS version: TLS 1.1",
    );
    assert_err(
        "websocket {\n  port: 8443\n  tls { cipher_suites: [a] }\n}",
        3,
        9,
        "\"websocket.tls.cipher_suites\" is not supported by junction yet",
    );
}

#[test]
fn unknown_and_unsupported_keys_are_reported_where_written() {
    // nats-server has no username/password/token directly in the block.
    assert_err(
        "websocket {\n  port: 8080, no_tls: true\n  username: a\n}",
        3,
        3,
        "unknown field \"username\"",
    );
    assert_err(
        "websocket { port: 1, no_tls: true, bogus: 2 }",
        1,
        36,
        "unknown field \"bogus\"",
    );
    assert_err(
        "websocket { port: 1, no_tls: true, authorization { user: a, users: [] } }",
        1,
        61,
        "unknown field \"users\"",
    );
    assert_err(
        "websocket { port: 1, no_tls: true, headers { Upgrade: x } }",
        1,
        46,
        "invalid value for \"Upgrade\": websocket: invalid header \"Upgrade\" not allowed",
    );
    // A variable defined in the block and used is not an unknown field.
    let o = ws("websocket { P: 8080, port: $P, no_tls: true }");
    assert_eq!(o.port, 8080);
}

#[test]
fn wrong_types_and_values_are_reported_where_written() {
    assert_err(
        "websocket: 5",
        1,
        1,
        "\"websocket\" expects a map, got an integer",
    );
    assert_err(
        "websocket {\n  port: \"x\"\n}",
        2,
        3,
        "\"port\" expects an integer, got a string",
    );
    assert_err(
        "websocket { port: 1, no_tls: 1 }",
        1,
        22,
        "\"no_tls\" expects a boolean, got an integer",
    );
    assert_err(
        "websocket { port: 1, no_tls: true, handshake_timeout: true }",
        1,
        36,
        "\"handshake_timeout\" expects a duration such as \"2s\" or an integer number of seconds, got a boolean",
    );
    assert_err(
        "websocket { port: 1, no_tls: true, handshake_timeout: \"5 parsecs\" }",
        1,
        36,
        "invalid value for \"handshake_timeout\": unknown unit \" parsecs\" in duration \"5 parsecs\"",
    );
    assert_err(
        "websocket { port: 70000, no_tls: true }",
        1,
        13,
        "invalid value for \"port\": port 70000 is out of range (use 1-65535, or -1 for a random port)",
    );
    assert_err(
        "websocket { port: 1, no_tls: true, allowed_origins: [1] }",
        1,
        36,
        "\"allowed_origins\" expects a string or an array of strings, got an array",
    );
    assert_err(
        "websocket { port: 1, no_tls: true, compression: \"yes\" }",
        1,
        36,
        "\"compression\" expects a boolean, got a string",
    );
    assert_err(
        "websocket { port: 1, no_tls: true, jwt_cookie: 5 }",
        1,
        36,
        "\"jwt_cookie\" expects a string, got an integer",
    );
}

#[test]
fn allowed_origins_must_be_http_or_https_urls() {
    let msg = err("websocket {\n  port: 1, no_tls: true\n  allowed_origins: [\n    \"http://ok\"\n    \"ftp://x\"\n  ]\n}");
    assert!(
        msg.starts_with(&format!("{ORIGIN}:5:5: invalid value for \"allowed_origins\": ")),
        "{msg}"
    );
    assert!(msg.contains("http or https scheme"), "{msg}");
    let msg = err("websocket { port: 1, no_tls: true, allowed_origins: \"localhost:8080\" }");
    assert!(msg.contains("unable to parse allowed origin"), "{msg}");
    let msg = err("websocket { port: 1, no_tls: true, origins: \"http:opaque\" }");
    assert!(msg.contains("host is required"), "{msg}");
}

#[test]
fn credentials_are_checked_against_users_and_operators() {
    let users = "authorization { users: [{user: a, password: b}] }\n";
    let o = ws(&format!(
        "{users}websocket {{ port: 1, no_tls: true, no_auth_user: a }}"
    ));
    assert_eq!(o.auth.no_auth_user.as_deref(), Some("a"));
    // Users of accounts count too.
    let o = ws("accounts { A { users: [{user: x, password: y}] } }\n\
                websocket { port: 1, no_tls: true, no_auth_user: x }");
    assert_eq!(o.auth.no_auth_user.as_deref(), Some("x"));

    assert_err(
        "websocket { port: 1, no_tls: true, no_auth_user: bob }",
        1,
        36,
        "invalid value for \"no_auth_user\": no_auth_user: \"bob\" present, but users/nkeys are not defined",
    );
    assert_err(
        &format!("{users}websocket {{ port: 1, no_tls: true, no_auth_user: bob }}"),
        2,
        36,
        "invalid value for \"no_auth_user\": no_auth_user: \"bob\" not present as user or nkey in \
         authorization block or account configuration",
    );
    assert_err(
        &format!("{users}websocket {{ port: 1, no_tls: true, authorization {{ user: x, password: y }} }}"),
        2,
        52,
        "invalid value for \"user\": websocket authentication username not compatible with presence of \
         users/nkeys",
    );
    assert_err(
        &format!("{users}websocket {{ port: 1, no_tls: true, authorization {{ token: t }} }}"),
        2,
        52,
        "invalid value for \"token\": websocket authentication token not compatible with presence of \
         users/nkeys",
    );
    // Without users, a websocket user or token is fine.
    assert_eq!(
        ws("websocket { port: 1, no_tls: true, authorization { user: x, pass: y } }")
            .auth
            .password
            .as_deref(),
        Some("y")
    );

    assert_err(
        "websocket { port: 1, no_tls: true, jwt_cookie: jwt }",
        1,
        36,
        "invalid value for \"jwt_cookie\": trusted operators or trusted keys configuration is required for \
         JWT authentication via cookie \"jwt\"",
    );
    let key = nkeys::KeyPair::new_operator().public_key();
    let o = ws(&format!(
        "trusted_keys: {key}\nwebsocket {{ port: 1, no_tls: true, jwt_cookie: jwt }}"
    ));
    assert_eq!(o.jwt_cookie.as_deref(), Some("jwt"));
}

#[test]
fn max_closed_clients_is_mapped() {
    assert_eq!(Options::default().max_closed_clients, 10_000);
    assert_eq!(opts("max_closed_clients: 50").max_closed_clients, 50);
    // 0 means the default, as in nats-server.
    assert_eq!(opts("max_closed_clients: 0").max_closed_clients, 10_000);
    assert_err(
        "max_closed_clients: -1",
        1,
        1,
        "invalid value for \"max_closed_clients\": -1 is negative",
    );
    assert_err(
        "max_closed_clients: \"x\"",
        1,
        1,
        "\"max_closed_clients\" expects an integer, got a string",
    );
}

#[test]
fn the_example_file_holds_the_documented_values() {
    let path = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/config/websocket.conf"));
    let o = load_options(&path).unwrap_or_else(|e| panic!("{e}"));
    let w = o.websocket.expect("websocket enabled");
    assert_eq!((w.port, w.no_tls, w.compression), (8080, true, true));
    assert_eq!(
        w.allowed_origins,
        vec![
            "http://localhost:3000".to_string(),
            "https://app.example.com".to_string()
        ]
    );
    assert_eq!(w.handshake_timeout, Duration::from_secs(5));
    assert_eq!(
        (w.auth.username.as_deref(), w.auth.password.as_deref()),
        (Some("browser"), Some("s3cr3t"))
    );
}

#[test]
fn top_level_tls_block_and_handshake_first() {
    let (_dir, cert, key) = cert_files();
    let o = opts(&format!(
        "tls {{ cert_file: {cert:?}, key_file: {key:?}, verify: false, handshake_first: true, timeout: 3 }}"
    ));
    let tls = o.tls.unwrap();
    assert!(tls.handshake_first && !tls.verify);
    assert_eq!(tls.timeout, Duration::from_secs(3));
    let o = opts(&format!(
        "tls {{ cert_file: {cert:?}, key_file: {key:?}, first: \"off\" }}"
    ));
    assert!(!o.tls.unwrap().handshake_first);
    let line = format!("tls {{ cert_file: {cert:?}, key_file: {key:?}, handshake_first: auto }}");
    assert_err(
        &line,
        1,
        line.find("handshake_first").unwrap() as u32 + 1,
        "invalid value for \"handshake_first\": handshake_first \"auto\" is not supported by junction yet \
         (use true or false)",
    );
    assert_err(
        "tls { key_file: k }",
        1,
        1,
        "invalid value for \"tls\": missing 'cert_file' in TLS configuration",
    );
}

#[test]
fn tls_flags_override_the_file() {
    use crate::cli::ServerFlags;
    let (_dir, cert, key) = cert_files();
    let apply = |flags: ServerFlags| {
        let mut o = Options::default();
        flags.apply(&mut o).map(|()| o)
    };
    let o = apply(ServerFlags {
        tls: true,
        tlscert: Some(cert.clone().into()),
        tlskey: Some(key.clone().into()),
        ..ServerFlags::default()
    })
    .unwrap();
    assert_eq!(o.tls.unwrap().cert_file, Some(PathBuf::from(&cert)));
    let no_cert = ServerFlags {
        tlsverify: true,
        tlskey: Some(key.into()),
        ..ServerFlags::default()
    };
    assert_eq!(
        apply(no_cert).unwrap_err().to_string(),
        "TLS Server certificate must be present and valid"
    );
    let no_key = ServerFlags {
        tls: true,
        tlscert: Some(cert.into()),
        ..ServerFlags::default()
    };
    assert_eq!(
        apply(no_key).unwrap_err().to_string(),
        "TLS Server private key must be present and valid"
    );
}
