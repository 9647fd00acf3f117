//! Accounts through the official client: isolation, stream and service
//! imports, users, nkeys, tokens, permissions and `no_auth_user`.

mod common;

use std::time::Duration;

use futures::StreamExt;
use junction::options::{
    AccountConfig, ExportConfig, ExportKind, ImportConfig, Options, Permissions, ResponsePermission,
    ResponseType, SubjectPermission, UserConfig,
};

fn user(name: &str, account: Option<&str>) -> UserConfig {
    UserConfig {
        username: Some(name.into()),
        password: Some(format!("{name}-pw")),
        account: account.map(String::from),
        ..UserConfig::default()
    }
}

async fn login(url: &str, name: &str) -> async_nats::Client {
    async_nats::ConnectOptions::with_user_and_password(name.into(), format!("{name}-pw"))
        .connect(url)
        .await
        .unwrap_or_else(|e| panic!("{name} connects: {e}"))
}

async fn next(sub: &mut async_nats::Subscriber) -> async_nats::Message {
    tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .expect("message in time")
        .expect("subscription open")
}

async fn silent(sub: &mut async_nats::Subscriber) {
    assert!(tokio::time::timeout(Duration::from_millis(250), sub.next())
        .await
        .is_err());
}

/// Two tenants: A exports a stream and a service, B imports both.
fn two_tenants() -> Options {
    Options {
        accounts: vec![
            AccountConfig {
                name: "A".into(),
                exports: vec![
                    ExportConfig {
                        kind: ExportKind::Stream,
                        subject: "public.>".into(),
                        ..Default::default()
                    },
                    ExportConfig {
                        kind: ExportKind::Service,
                        subject: "time.now".into(),
                        accounts: vec!["B".into()],
                        response_type: ResponseType::Singleton,
                    },
                ],
                ..Default::default()
            },
            AccountConfig {
                name: "B".into(),
                imports: vec![
                    ImportConfig {
                        kind: ExportKind::Stream,
                        account: "A".into(),
                        subject: "public.>".into(),
                        prefix: Some("from_a".into()),
                        ..Default::default()
                    },
                    ImportConfig {
                        kind: ExportKind::Service,
                        account: "A".into(),
                        subject: "time.now".into(),
                        to: Some("a.time".into()),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            },
            AccountConfig {
                name: "C".into(),
                ..Default::default()
            },
        ],
        users: vec![
            user("alice", Some("A")),
            user("bob", Some("B")),
            user("carol", Some("C")),
        ],
        ..Options::default()
    }
}

#[tokio::test]
async fn accounts_do_not_see_each_other() {
    let server = common::start(two_tenants()).await;
    let url = common::url(&server);
    let alice = login(&url, "alice").await;
    let carol = login(&url, "carol").await;
    let mut a_sub = alice.subscribe("private.>").await.unwrap();
    let mut c_sub = carol.subscribe(">").await.unwrap();
    alice.flush().await.unwrap();
    carol.flush().await.unwrap();
    alice.publish("private.x", "secret".into()).await.unwrap();
    alice.flush().await.unwrap();
    assert_eq!(&next(&mut a_sub).await.payload[..], b"secret");
    silent(&mut c_sub).await;
    carol.publish("private.x", "carol's".into()).await.unwrap();
    carol.flush().await.unwrap();
    assert_eq!(&next(&mut c_sub).await.payload[..], b"carol's");
    silent(&mut a_sub).await;
}

#[tokio::test]
async fn stream_import_with_prefix() {
    let server = common::start(two_tenants()).await;
    let url = common::url(&server);
    let alice = login(&url, "alice").await;
    let bob = login(&url, "bob").await;
    let mut imported = bob.subscribe("from_a.public.>").await.unwrap();
    let mut unprefixed = bob.subscribe("public.>").await.unwrap();
    bob.flush().await.unwrap();
    alice.publish("public.news", "hello B".into()).await.unwrap();
    alice
        .publish("internal.news", "not exported".into())
        .await
        .unwrap();
    alice.flush().await.unwrap();
    let msg = next(&mut imported).await;
    assert_eq!(msg.subject.as_str(), "from_a.public.news");
    assert_eq!(&msg.payload[..], b"hello B");
    silent(&mut imported).await;
    silent(&mut unprefixed).await;
    // Imports go one way: B's publishes do not reach A.
    let mut a_sub = alice.subscribe("public.>").await.unwrap();
    alice.flush().await.unwrap();
    bob.publish("public.news", "from B".into()).await.unwrap();
    bob.flush().await.unwrap();
    silent(&mut a_sub).await;
}

#[tokio::test]
async fn service_import_request_reply_across_accounts() {
    let server = common::start(two_tenants()).await;
    let url = common::url(&server);
    let alice = login(&url, "alice").await;
    let mut service = alice.subscribe("time.now").await.unwrap();
    alice.flush().await.unwrap();
    let responder = alice.clone();
    tokio::spawn(async move {
        while let Some(req) = service.next().await {
            let reply = req.reply.expect("request has a reply subject");
            assert!(
                reply.as_str().starts_with("_R_."),
                "reply rewritten into A: {reply}"
            );
            responder.publish(reply, "12:00".into()).await.unwrap();
        }
    });
    let bob = login(&url, "bob").await;
    let answer = bob.request("a.time", "what time?".into()).await.unwrap();
    assert_eq!(&answer.payload[..], b"12:00");
    // Many requests, each answered once.
    for _ in 0..20 {
        let answer = bob.request("a.time", "again".into()).await.unwrap();
        assert_eq!(&answer.payload[..], b"12:00");
    }
    // Carol did not import it.
    let carol = login(&url, "carol").await;
    let err = carol.request("a.time", "?".into()).await.unwrap_err();
    assert_eq!(err.kind(), async_nats::RequestErrorKind::NoResponders);
}

#[tokio::test]
async fn import_without_export_is_refused_at_start() {
    let mut opts = two_tenants();
    opts.accounts[2].imports.push(ImportConfig {
        kind: ExportKind::Service,
        account: "A".into(),
        subject: "time.now".into(),
        ..Default::default()
    });
    let err = junction::run::start(opts)
        .await
        .err()
        .expect("C may not import A's private service");
    assert!(err.to_string().contains("no matching export"), "{err}");
}

fn with_permissions(perms: Permissions) -> Options {
    Options {
        users: vec![
            UserConfig {
                permissions: Some(perms),
                ..user("limited", None)
            },
            user("admin", None),
        ],
        ..Options::default()
    }
}

#[tokio::test]
async fn publish_permission_violation_keeps_the_connection() {
    let server = common::start(with_permissions(Permissions {
        publish: Some(SubjectPermission {
            allow: vec!["orders.>".into()],
            deny: vec!["orders.secret".into()],
        }),
        ..Permissions::default()
    }))
    .await;
    let mut raw = common::Raw::handshake(
        server.addr,
        r#"{"verbose":false,"user":"limited","pass":"limited-pw"}"#,
    )
    .await;
    let url = common::url(&server);
    let admin = login(&url, "admin").await;
    let mut watch = admin.subscribe(">").await.unwrap();
    admin.flush().await.unwrap();
    raw.send("PUB orders.secret 1\r\nx\r\nPUB other 1\r\ny\r\nPUB orders.new 2\r\nok\r\nPING\r\n")
        .await;
    raw.expect(
        "-ERR 'Permissions Violation for Publish to \"orders.secret\"'\r\n\
         -ERR 'Permissions Violation for Publish to \"other\"'\r\nPONG\r\n",
    )
    .await;
    let msg = next(&mut watch).await;
    assert_eq!(msg.subject.as_str(), "orders.new");
    silent(&mut watch).await;
}

/// In verbose mode a refused PUB gets its -ERR alone (no +OK before it),
/// a refused SUB likewise, and accepted ones their +OK: nats-server
/// 2.9.10's exact bytes. Clients counting +OKs rely on it.
#[tokio::test]
async fn verbose_refusals_get_no_ok() {
    let server = common::start(with_permissions(Permissions {
        publish: Some(SubjectPermission {
            allow: vec!["a.>".into()],
            deny: vec![],
        }),
        subscribe: Some(SubjectPermission {
            allow: vec!["a.>".into()],
            deny: vec![],
        }),
        ..Permissions::default()
    }))
    .await;
    let mut raw = common::Raw::connect(server.addr).await;
    raw.send("CONNECT {\"verbose\":true,\"pedantic\":true,\"user\":\"limited\",\"pass\":\"limited-pw\"}\r\n")
        .await;
    raw.expect("+OK\r\n").await;
    raw.send("PUB a.x 2\r\nhi\r\nPUB b.x 2\r\nhi\r\nSUB c 1\r\nSUB a.b 2\r\nPUB a.* 2\r\nhi\r\nPING\r\n")
        .await;
    raw.expect(
        "+OK\r\n-ERR 'Permissions Violation for Publish to \"b.x\"'\r\n\
         -ERR 'Permissions Violation for Subscription to \"c\"'\r\n+OK\r\n\
         -ERR 'Invalid Publish Subject'\r\n+OK\r\nPONG\r\n",
    )
    .await;
}

#[tokio::test]
async fn subscribe_permission_violation() {
    let server = common::start(with_permissions(Permissions {
        subscribe: Some(SubjectPermission {
            allow: vec!["updates.>".into()],
            deny: vec!["updates.internal".into()],
        }),
        ..Permissions::default()
    }))
    .await;
    let mut raw = common::Raw::handshake(
        server.addr,
        r#"{"verbose":false,"user":"limited","pass":"limited-pw"}"#,
    )
    .await;
    raw.send("SUB secrets 1\r\nSUB secrets q 2\r\nSUB updates.> 3\r\nPING\r\n")
        .await;
    raw.expect(
        "-ERR 'Permissions Violation for Subscription to \"secrets\"'\r\n\
         -ERR 'Permissions Violation for Subscription to \"secrets\" using queue \"q\"'\r\nPONG\r\n",
    )
    .await;
    let admin = login(&common::url(&server), "admin").await;
    admin.publish("updates.internal", "hidden".into()).await.unwrap();
    admin.publish("updates.public", "seen".into()).await.unwrap();
    admin.flush().await.unwrap();
    // The denied subject never arrives through the wildcard subscription.
    raw.expect("MSG updates.public 3 4\r\nseen\r\n").await;
}

#[tokio::test]
async fn allow_responses_lets_a_service_answer_once() {
    let server = common::start(with_permissions(Permissions {
        publish: Some(SubjectPermission {
            allow: vec!["nothing".into()],
            deny: vec![],
        }),
        subscribe: Some(SubjectPermission {
            allow: vec!["svc".into()],
            deny: vec![],
        }),
        allow_responses: Some(ResponsePermission::default()),
    }))
    .await;
    let url = common::url(&server);
    let service = login(&url, "limited").await;
    let mut requests = service.subscribe("svc").await.unwrap();
    service.flush().await.unwrap();
    let worker = service.clone();
    tokio::spawn(async move {
        while let Some(req) = requests.next().await {
            let reply = req.reply.unwrap();
            worker.publish(reply.clone(), "answer".into()).await.unwrap();
            // A second answer to the same request is a violation.
            worker.publish(reply, "again".into()).await.unwrap();
        }
    });
    let admin = login(&url, "admin").await;
    let answer = admin.request("svc", "q".into()).await.unwrap();
    assert_eq!(&answer.payload[..], b"answer");
}

#[tokio::test]
async fn nkey_user_authenticates_with_signature() {
    let kp = std::sync::Arc::new(nkeys::KeyPair::new_user());
    let server = common::start(Options {
        users: vec![UserConfig {
            nkey: Some(kp.public_key()),
            ..UserConfig::default()
        }],
        ..Options::default()
    })
    .await;
    let url = common::url(&server);
    let raw = common::Raw::connect(server.addr).await;
    assert!(raw.info.contains("\"nonce\":\""), "{}", raw.info);
    let signer = kp.clone();
    let nc = async_nats::ConnectOptions::with_nkey(kp.seed().unwrap())
        .connect(&url)
        .await
        .expect("nkey user connects");
    nc.flush().await.unwrap();
    drop(signer);
    let other = nkeys::KeyPair::new_user();
    let bad = async_nats::ConnectOptions::with_nkey(other.seed().unwrap())
        .connect(&url)
        .await;
    assert!(bad.is_err(), "unknown nkey refused");
}

#[tokio::test]
async fn no_auth_user_applies_to_clients_without_credentials() {
    let mut opts = two_tenants();
    opts.no_auth_user = Some("carol".into());
    let server = common::start(opts).await;
    let url = common::url(&server);
    let anonymous = async_nats::connect(&url).await.unwrap();
    let carol = login(&url, "carol").await;
    let mut sub = carol.subscribe("hello").await.unwrap();
    carol.flush().await.unwrap();
    anonymous.publish("hello", "in C".into()).await.unwrap();
    anonymous.flush().await.unwrap();
    assert_eq!(&next(&mut sub).await.payload[..], b"in C");
    let clients = server.server.clients();
    assert!(clients.iter().all(|c| c.account().name == "C"));
    assert!(clients.iter().all(|c| c.user() == "carol"));
}

#[tokio::test]
async fn wrong_password_is_an_authorization_violation() {
    let server = common::start(two_tenants()).await;
    let mut raw = common::Raw::connect(server.addr).await;
    raw.send("CONNECT {\"user\":\"alice\",\"pass\":\"nope\"}\r\nPING\r\n")
        .await;
    assert_eq!(raw.read_to_close().await, "-ERR 'Authorization Violation'\r\n");
}

#[tokio::test]
async fn example_accounts_config_works_end_to_end() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/config/accounts.conf");
    let opts = junction::config::load_options(std::path::Path::new(path)).unwrap();
    let server = common::start(opts).await;
    let url = common::url(&server);
    let connect = |user: &'static str, pass: &'static str| {
        let url = url.clone();
        async move {
            async_nats::ConnectOptions::with_user_and_password(user.into(), pass.into())
                .connect(&url)
                .await
                .unwrap()
        }
    };
    let orders = connect("orders", "orders-s3cret").await;
    let pricing = connect("pricing", "pricing-s3cret").await;
    let shop = connect("shop", "shop-s3cret").await;
    let mut events = shop.subscribe("from-orders.>").await.unwrap();
    let mut quotes = pricing.subscribe("pricing.quote").await.unwrap();
    shop.flush().await.unwrap();
    pricing.flush().await.unwrap();
    tokio::spawn(async move {
        while let Some(req) = quotes.next().await {
            pricing.publish(req.reply.unwrap(), "42.00".into()).await.unwrap();
        }
    });
    orders
        .publish("orders.events.created", "order 1".into())
        .await
        .unwrap();
    orders.flush().await.unwrap();
    let msg = next(&mut events).await;
    assert_eq!(msg.subject.as_str(), "from-orders.orders.events.created");
    let quote = shop.request("quote.get", "sku-1".into()).await.unwrap();
    assert_eq!(&quote.payload[..], b"42.00");
    // Without credentials a client is the restricted guest of SHOP.
    let guest = async_nats::connect(&url).await.unwrap();
    guest.flush().await.unwrap();
    assert!(server
        .server
        .clients()
        .iter()
        .any(|c| c.user() == "guest" && c.account().name == "SHOP"));
}

#[tokio::test]
async fn stream_response_type_carries_several_replies_singleton_one() {
    let mut opts = two_tenants();
    opts.accounts[0].exports.push(ExportConfig {
        kind: ExportKind::Service,
        subject: "feed.replay".into(),
        accounts: vec!["B".into()],
        response_type: ResponseType::Stream,
    });
    opts.accounts[1].imports.push(ImportConfig {
        kind: ExportKind::Service,
        account: "A".into(),
        subject: "feed.replay".into(),
        ..Default::default()
    });
    let server = common::start(opts).await;
    let url = common::url(&server);
    let alice = login(&url, "alice").await;
    let mut replay = alice.subscribe("feed.replay").await.unwrap();
    let mut time = alice.subscribe("time.now").await.unwrap();
    alice.flush().await.unwrap();
    let responder = alice.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                Some(req) = replay.next() => {
                    for i in 0..3 {
                        responder.publish(req.reply.clone().unwrap(), format!("part {i}").into()).await.unwrap();
                    }
                }
                Some(req) = time.next() => {
                    for i in 0..3 {
                        responder.publish(req.reply.clone().unwrap(), format!("tick {i}").into()).await.unwrap();
                    }
                }
                else => break,
            }
        }
    });
    let bob = login(&url, "bob").await;
    for (subject, expected) in [("feed.replay", 3), ("a.time", 1)] {
        let inbox = bob.new_inbox();
        let mut answers = bob.subscribe(inbox.clone()).await.unwrap();
        bob.publish_with_reply(subject, inbox, "go".into()).await.unwrap();
        bob.flush().await.unwrap();
        let mut got = 0;
        while tokio::time::timeout(Duration::from_millis(300), answers.next())
            .await
            .is_ok()
        {
            got += 1;
        }
        assert_eq!(got, expected, "{subject}");
    }
}
