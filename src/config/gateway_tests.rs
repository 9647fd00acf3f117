//! The `gateway {}` block: name, listener, credentials, the other
//! clusters, and nats-server's errors.

use std::time::Duration;

use super::test_support::{err, opts};

#[test]
fn a_gateway_with_credentials_and_two_remote_clusters() {
    let o = opts(
        "gateway {\n  name: A\n  listen: 127.0.0.1:7222\n  \
         authorization { user: gw, password: s3cret, timeout: 0.5 }\n  \
         advertise: \"gw.example.com:7222\"\n  connect_retries: 3\n  reject_unknown_cluster: true\n  \
         gateways: [\n    { name: B, url: \"nats://gw:pw@b1:7222\" }\n    \
         { name: C, urls: [\"nats://c1:7222\", \"nats://c2:7222\"] }\n  ]\n}\n",
    );
    let g = o.gateway.expect("gateway");
    assert_eq!(
        (g.name.as_str(), g.host.as_str(), g.port),
        ("A", "127.0.0.1", 7222)
    );
    assert_eq!(g.auth.username.as_deref(), Some("gw"));
    assert_eq!(g.auth.timeout, Some(Duration::from_millis(500)));
    assert_eq!(g.advertise.as_deref(), Some("gw.example.com:7222"));
    assert_eq!(g.connect_retries, 3);
    assert!(g.reject_unknown);
    assert_eq!(g.gateways.len(), 2);
    assert_eq!(g.gateways[0].name, "B");
    assert_eq!(g.gateways[0].urls, vec!["nats://gw:pw@b1:7222"]);
    assert_eq!(g.gateways[1].urls, vec!["nats://c1:7222", "nats://c2:7222"]);
    // Port -1 picks one; no name and no port leaves gateways off.
    assert_eq!(opts("gateway { name: A, port: -1 }").gateway.unwrap().port, 0);
    assert!(opts("gateway { }").gateway.is_none());
}

#[test]
fn nats_server_errors_for_a_bad_gateway_block() {
    assert!(err("gateway { port: 7222 }").contains("gateway has no name"));
    assert!(err("gateway { name: A }")
        .contains("gateway \"A\" has no port specified (select -1 for random port)"));
    assert!(err("gateway { name: \"A B\", port: 1 }").contains("gateway name cannot contain spaces"));
    assert!(
        err("gateway { name: A, port: 1, gateways: [ { url: \"nats://h:1\" } ] }")
            .contains("gateway in the list 0 has no name")
    );
    assert!(
        err("gateway { name: A, port: 1, gateways: [ { name: B } ] }").contains("gateway \"B\" has no URL")
    );
    assert!(err("gateway { name: A, port: 1, authorization { token: t } }")
        .contains("Gateway authorization does not support tokens"));
    // TLS certificates are loaded while the file is read.
    let e =
        err("gateway { name: A, port: 1, tls { cert_file: \"/nope.pem\", key_file: \"/nope-key.pem\" } }");
    assert!(e.contains("/nope.pem"), "{e}");
    let e = err("gateway { name: A, port: 1, gateways: [ { name: B, url: \"nats://b:1\", tls { ca_file: \"/nope-ca.pem\" } } ] }");
    assert!(e.contains("/nope-ca.pem"), "{e}");
    // Not built yet: refused by name, at the key.
    let e = err("gateway {\n  name: A\n  port: 1\n  write_timeout: close\n}\n");
    assert!(
        e.contains(":4:3: \"gateway.write_timeout\" is not supported"),
        "{e}"
    );
    assert!(
        opts("gateway { name: A, port: 1, connect_backoff: true }")
            .gateway
            .unwrap()
            .connect_backoff
    );
}
