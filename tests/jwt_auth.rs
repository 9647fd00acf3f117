//! Decentralized auth with NATS JWTs: an operator, accounts and users made
//! in the test with `nkeys`, clients connecting with `.creds` files, and
//! every way a user JWT can be refused.

mod common;

use std::time::Duration;

use futures::StreamExt;
use junction::jwt::{self, AccountClaims, OperatorClaims, UserClaims};
use junction::options::{Options, ResolverConfig};
use nkeys::KeyPair;

struct Org {
    operator: KeyPair,
    operator_jwt: String,
    system: KeyPair,
    system_jwt: String,
    account: KeyPair,
    account_claims: AccountClaims,
    account_jwt: String,
}

fn org() -> Org {
    let operator = KeyPair::new_operator();
    let system = KeyPair::new_account();
    let account = KeyPair::new_account();
    let mut op = OperatorClaims::new("op", operator.public_key());
    op.nats.system_account = system.public_key();
    let operator_jwt = jwt::encode(&op, &operator).unwrap();
    let system_jwt = jwt::encode(&AccountClaims::new("SYS", system.public_key()), &operator).unwrap();
    let account_claims = AccountClaims::new("APP", account.public_key());
    let account_jwt = jwt::encode(&account_claims, &operator).unwrap();
    Org {
        operator,
        operator_jwt,
        system,
        system_jwt,
        account,
        account_claims,
        account_jwt,
    }
}

impl Org {
    fn options(&self) -> Options {
        Options {
            operators: vec![self.operator_jwt.clone()],
            system_account: Some(self.system.public_key()),
            resolver: Some(ResolverConfig::Memory),
            resolver_preload: vec![
                (self.system.public_key(), self.system_jwt.clone()),
                (self.account.public_key(), self.account_jwt.clone()),
            ],
            ..Options::default()
        }
    }

    /// Pushes `claims` for APP through `$SYS` as `sys` (a system user) and
    /// checks the server took them; returns the JWT pushed.
    async fn push_update(&self, sys: &async_nats::Client, claims: &AccountClaims) -> String {
        let token = jwt::encode(claims, &self.operator).unwrap();
        let subject = format!("$SYS.REQ.ACCOUNT.{}.CLAIMS.UPDATE", claims.sub);
        let answer = sys.request(subject, token.clone().into()).await.unwrap();
        let json: serde_json::Value = serde_json::from_slice(&answer.payload).unwrap();
        assert_eq!(json["data"]["code"], 200, "{json}");
        token
    }

    /// A user of APP (or of SYS), returned as creds text.
    fn user(&self, edit: impl FnOnce(&mut UserClaims), in_system: bool) -> (KeyPair, UserClaims, String) {
        let kp = KeyPair::new_user();
        let mut claims = UserClaims::new("u", kp.public_key());
        edit(&mut claims);
        let signer = if in_system { &self.system } else { &self.account };
        let token = jwt::encode(&claims, signer).unwrap();
        let decoded = jwt::decode_without_time_check::<jwt::User>(&token).unwrap();
        let creds = jwt::format_creds(&token, &kp.seed().unwrap());
        (kp, decoded, creds)
    }
}

async fn connect_creds(url: &str, creds: &str) -> Result<async_nats::Client, async_nats::ConnectError> {
    async_nats::ConnectOptions::with_credentials(creds)
        .unwrap()
        .connect(url)
        .await
}

fn creds_file(dir: &tempfile::TempDir, name: &str, creds: &str) -> std::path::PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, creds).unwrap();
    path
}

#[tokio::test]
async fn user_with_creds_file_connects_into_its_account() {
    let org = org();
    let server = common::start(org.options()).await;
    let url = common::url(&server);
    let raw = common::Raw::connect(server.addr).await;
    assert!(raw.info.contains("\"auth_required\":true") && raw.info.contains("\"nonce\""));
    drop(raw);
    let dir = tempfile::tempdir().unwrap();
    let (_, _, creds) = org.user(|_| {}, false);
    let path = creds_file(&dir, "u.creds", &creds);
    let a = async_nats::ConnectOptions::with_credentials_file(&path)
        .await
        .unwrap()
        .connect(&url)
        .await
        .unwrap();
    let (_, _, creds2) = org.user(|_| {}, false);
    let b = connect_creds(&url, &creds2).await.unwrap();
    let mut sub = b.subscribe("greet").await.unwrap();
    b.flush().await.unwrap();
    a.publish("greet", "hi".into()).await.unwrap();
    a.flush().await.unwrap();
    let msg = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&msg.payload[..], b"hi");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while server.server.num_clients() > 2 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(server
        .server
        .clients()
        .iter()
        .all(|c| c.account().name == org.account.public_key()));
}

async fn refused(url: &str, creds: &str) {
    let result = tokio::time::timeout(Duration::from_secs(5), connect_creds(url, creds))
        .await
        .unwrap();
    assert!(result.is_err(), "connection should be refused");
}

#[tokio::test]
async fn expired_revoked_forged_and_unknown_users_are_refused() {
    let org = org();
    let server = common::start(org.options()).await;
    let url = common::url(&server);

    // Expired.
    let (_, _, creds) = org.user(|c| c.exp = Some(jwt::now_unix() - 10), false);
    refused(&url, &creds).await;

    // Wrong signature: the JWT of one user with the seed of another.
    let (_, _, good) = org.user(|_| {}, false);
    let (other, _, _) = org.user(|_| {}, false);
    let (token, _) = jwt::parse_creds(&good).unwrap();
    refused(&url, &jwt::format_creds(&token, &other.seed().unwrap())).await;

    // Tampered claims: change the payload after signing.
    let (_, _, good) = org.user(|_| {}, false);
    let (token, seed) = jwt::parse_creds(&good).unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims: serde_json::Value = serde_json::from_slice(
        &data_encoding::BASE64URL_NOPAD
            .decode(parts[1].as_bytes())
            .unwrap(),
    )
    .unwrap();
    claims["name"] = "admin".into();
    let forged_payload = data_encoding::BASE64URL_NOPAD.encode(claims.to_string().as_bytes());
    let forged = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
    refused(&url, &jwt::format_creds(&forged, &seed)).await;

    // Unknown account: signed by an account the resolver does not know.
    let stranger = KeyPair::new_account();
    let user = KeyPair::new_user();
    let token = jwt::encode(&UserClaims::new("x", user.public_key()), &stranger).unwrap();
    refused(&url, &jwt::format_creds(&token, &user.seed().unwrap())).await;

    // Revoked: the account JWT revokes the user.
    let (_, revoked_user, creds) = org.user(|_| {}, false);
    let mut acct = org.account_claims.clone();
    acct.revoke_at(&revoked_user.sub, jwt::now_unix());
    let mut opts = org.options();
    opts.resolver_preload[1].1 = jwt::encode(&acct, &org.operator).unwrap();
    let revoking = common::start(opts).await;
    refused(&common::url(&revoking), &creds).await;

    // The raw answer is nats-server's.
    let mut raw = common::Raw::connect(server.addr).await;
    raw.send(&format!(
        "CONNECT {{\"jwt\":\"{forged}\",\"sig\":\"AAAA\"}}\r\nPING\r\n"
    ))
    .await;
    assert_eq!(raw.read_to_close().await, "-ERR 'Authorization Violation'\r\n");
}

#[tokio::test]
async fn jwt_permissions_and_bearer_tokens() {
    let org = org();
    let server = common::start(org.options()).await;
    let url = common::url(&server);
    let (_, _, limited) = org.user(
        |c| {
            c.nats.limits.publish.allow = vec!["allowed.>".into()];
            c.nats.limits.subscribe.deny = vec!["secret".into()];
        },
        false,
    );
    let nc = connect_creds(&url, &limited).await.unwrap();
    let (_, _, admin_creds) = org.user(|_| {}, false);
    let admin = connect_creds(&url, &admin_creds).await.unwrap();
    let mut watch = admin.subscribe(">").await.unwrap();
    admin.flush().await.unwrap();
    nc.publish("denied", "x".into()).await.unwrap();
    nc.publish("allowed.yes", "y".into()).await.unwrap();
    nc.flush().await.unwrap();
    let msg = tokio::time::timeout(Duration::from_secs(5), watch.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(msg.subject.as_str(), "allowed.yes");

    // A bearer token needs no nonce signature: a raw CONNECT with no sig.
    let (_, _, bearer) = org.user(|c| c.nats.limits.bearer_token = true, false);
    let (token, _) = jwt::parse_creds(&bearer).unwrap();
    let mut raw = common::Raw::connect(server.addr).await;
    raw.send(&format!(
        "CONNECT {{\"verbose\":false,\"jwt\":\"{token}\"}}\r\nPING\r\n"
    ))
    .await;
    raw.expect("PONG\r\n").await;
    // Without bearer, a missing signature is refused.
    let (_, _, plain) = org.user(|_| {}, false);
    let (token, _) = jwt::parse_creds(&plain).unwrap();
    let mut raw = common::Raw::connect(server.addr).await;
    raw.send(&format!(
        "CONNECT {{\"verbose\":false,\"jwt\":\"{token}\"}}\r\nPING\r\n"
    ))
    .await;
    assert_eq!(raw.read_to_close().await, "-ERR 'Authorization Violation'\r\n");
}

#[tokio::test]
async fn pushed_account_update_revokes_connected_user_and_lookup_answers() {
    let org = org();
    let dir = tempfile::tempdir().unwrap();
    let mut opts = org.options();
    opts.resolver = Some(ResolverConfig::Full {
        dir: dir.path().to_path_buf(),
        allow_delete: false,
    });
    let server = common::start(opts).await;
    let url = common::url(&server);
    let (_, user, creds) = org.user(|_| {}, false);
    let victim = connect_creds(&url, &creds).await.unwrap();
    victim.flush().await.unwrap();
    let (_, _, sys_creds) = org.user(|_| {}, true);
    let sys = connect_creds(&url, &sys_creds).await.unwrap();

    let mut acct = org.account_claims.clone();
    acct.revoke_at(&user.sub, jwt::now_unix());
    let updated = org.push_update(&sys, &acct).await;
    // Stored in the resolver directory.
    let stored =
        std::fs::read_to_string(dir.path().join(format!("{}.jwt", org.account.public_key()))).unwrap();
    assert_eq!(stored, updated);
    // The revoked user was disconnected and cannot come back.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while server.server.clients().iter().any(|c| c.user() == user.sub) {
        assert!(
            std::time::Instant::now() < deadline,
            "revoked user still connected"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    refused(&url, &creds).await;
    // Lookup returns the current JWT.
    let lookup = format!("$SYS.REQ.ACCOUNT.{}.CLAIMS.LOOKUP", org.account.public_key());
    let answer = sys.request(lookup, "".into()).await.unwrap();
    assert_eq!(String::from_utf8_lossy(&answer.payload), updated);
}

#[tokio::test]
async fn accounts_load_lazily_from_the_resolver_directory() {
    let org = org();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(format!("{}.jwt", org.account.public_key())),
        &org.account_jwt,
    )
    .unwrap();
    let mut opts = org.options();
    opts.resolver = Some(ResolverConfig::Full {
        dir: dir.path().to_path_buf(),
        allow_delete: false,
    });
    opts.resolver_preload.truncate(1);
    let server = common::start(opts).await;
    let (_, _, creds) = org.user(|_| {}, false);
    let nc = connect_creds(&common::url(&server), &creds).await.unwrap();
    nc.flush().await.unwrap();
}

#[tokio::test]
async fn signing_keys_and_jwt_stream_imports() {
    let org = org();
    // APP gets a signing key; a second account exports a stream APP imports.
    let signing = KeyPair::new_account();
    let news = KeyPair::new_account();
    let mut news_claims = AccountClaims::new("NEWS", news.public_key());
    news_claims.nats.exports.push(jwt::Export {
        subject: "news.>".into(),
        export_type: Some(jwt::ExportType::Stream),
        ..Default::default()
    });
    let mut app = org.account_claims.clone();
    app.nats
        .signing_keys
        .push(jwt::SigningKey::Key(signing.public_key()));
    app.nats.imports.push(jwt::Import {
        subject: "news.>".into(),
        account: news.public_key(),
        import_type: Some(jwt::ExportType::Stream),
        ..Default::default()
    });
    let mut opts = org.options();
    opts.resolver_preload[1].1 = jwt::encode(&app, &org.operator).unwrap();
    opts.resolver_preload.push((
        news.public_key(),
        jwt::encode(&news_claims, &org.operator).unwrap(),
    ));
    let server = common::start(opts).await;
    let url = common::url(&server);

    let user = KeyPair::new_user();
    let mut claims = UserClaims::new("via-signing-key", user.public_key());
    claims.nats.issuer_account = org.account.public_key();
    let token = jwt::encode(&claims, &signing).unwrap();
    let reader = connect_creds(&url, &jwt::format_creds(&token, &user.seed().unwrap()))
        .await
        .unwrap();
    let mut sub = reader.subscribe("news.>").await.unwrap();
    reader.flush().await.unwrap();

    let reporter = KeyPair::new_user();
    let token = jwt::encode(&UserClaims::new("reporter", reporter.public_key()), &news).unwrap();
    let writer = connect_creds(&url, &jwt::format_creds(&token, &reporter.seed().unwrap()))
        .await
        .unwrap();
    writer.publish("news.today", "headline".into()).await.unwrap();
    writer.flush().await.unwrap();
    let msg = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&msg.payload[..], b"headline");

    // A signing key the account does not list is refused.
    let rogue = KeyPair::new_account();
    let mut claims = UserClaims::new("rogue", KeyPair::new_user().public_key());
    claims.nats.issuer_account = org.account.public_key();
    let token = jwt::encode(&claims, &rogue).unwrap();
    refused(&url, &jwt::format_creds(&token, &user.seed().unwrap())).await;
}

#[tokio::test]
async fn private_export_needs_an_activation_token() {
    let org = org();
    let vault = KeyPair::new_account();
    let mut vault_claims = AccountClaims::new("VAULT", vault.public_key());
    vault_claims.nats.exports.push(jwt::Export {
        subject: "vault.>".into(),
        export_type: Some(jwt::ExportType::Stream),
        token_req: true,
        ..Default::default()
    });
    // APP presents a token; a third account imports without one.
    let mut act = jwt::ActivationClaims::new("vault for APP", org.account.public_key());
    act.nats.subject = "vault.>".into();
    act.nats.kind = Some(jwt::ExportType::Stream);
    let token = jwt::encode(&act, &vault).unwrap();
    let import = |token: String| jwt::Import {
        subject: "vault.>".into(),
        account: vault.public_key(),
        import_type: Some(jwt::ExportType::Stream),
        token,
        ..Default::default()
    };
    let mut app = org.account_claims.clone();
    app.nats.imports.push(import(token));
    let other = KeyPair::new_account();
    let mut other_claims = AccountClaims::new("OTHER", other.public_key());
    other_claims.nats.imports.push(import(String::new()));
    let mut opts = org.options();
    opts.resolver_preload[1].1 = jwt::encode(&app, &org.operator).unwrap();
    opts.resolver_preload.push((
        vault.public_key(),
        jwt::encode(&vault_claims, &org.operator).unwrap(),
    ));
    opts.resolver_preload.push((
        other.public_key(),
        jwt::encode(&other_claims, &org.operator).unwrap(),
    ));
    let server = common::start(opts).await;
    let url = common::url(&server);
    let user_of = |account: &KeyPair| {
        let kp = KeyPair::new_user();
        let token = jwt::encode(&UserClaims::new("u", kp.public_key()), account).unwrap();
        jwt::format_creds(&token, &kp.seed().unwrap())
    };
    let app_client = connect_creds(&url, &user_of(&org.account)).await.unwrap();
    let other_client = connect_creds(&url, &user_of(&other)).await.unwrap();
    let mut app_sub = app_client.subscribe("vault.>").await.unwrap();
    let mut other_sub = other_client.subscribe("vault.>").await.unwrap();
    app_client.flush().await.unwrap();
    other_client.flush().await.unwrap();
    let writer = connect_creds(&url, &user_of(&vault)).await.unwrap();
    writer.publish("vault.gold", "bar".into()).await.unwrap();
    writer.flush().await.unwrap();
    let msg = tokio::time::timeout(Duration::from_secs(5), app_sub.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&msg.payload[..], b"bar");
    assert!(tokio::time::timeout(Duration::from_millis(300), other_sub.next())
        .await
        .is_err());
}

/// What a raw CONNECT with `creds` gets back before the server closes.
async fn raw_connect(addr: std::net::SocketAddr, creds: &str) -> common::Raw {
    let (token, seed) = jwt::parse_creds(creds).unwrap();
    let mut raw = common::Raw::connect(addr).await;
    let nonce = raw
        .info
        .split("\"nonce\":\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let sig = jwt::sign_nonce(&seed, &nonce).unwrap();
    raw.send(&format!(
        "CONNECT {{\"jwt\":\"{token}\",\"sig\":\"{sig}\"}}\r\nPING\r\n"
    ))
    .await;
    raw
}

const TOO_MANY: &str = "-ERR 'maximum account active connections exceeded'\r\n";

#[tokio::test]
async fn account_connection_limit() {
    let org = org();
    let mut app = org.account_claims.clone();
    app.nats.limits.conn = 1;
    let mut opts = org.options();
    opts.resolver_preload[1].1 = jwt::encode(&app, &org.operator).unwrap();
    let server = common::start(opts).await;
    let (_, _, creds) = org.user(|_| {}, false);
    let first = connect_creds(&common::url(&server), &creds).await.unwrap();
    first.flush().await.unwrap();
    let mut raw = raw_connect(server.addr, &creds).await;
    assert_eq!(raw.read_to_close().await, TOO_MANY);
}

/// The limit counts the account's connections on every node of a cluster,
/// as the nodes tell each other (`$SYS.ACCOUNT.<acc>.SERVER.CONNS`).
#[tokio::test]
async fn account_connection_limit_holds_across_a_cluster() {
    use junction::options::ClusterOptions;
    let org = org();
    let mut app = org.account_claims.clone();
    app.nats.limits.conn = 2;
    let clustered = |routes: Vec<String>| {
        let mut opts = org.options();
        opts.resolver_preload[1].1 = jwt::encode(&app, &org.operator).unwrap();
        opts.cluster = Some(ClusterOptions {
            name: Some("c1".into()),
            host: "127.0.0.1".into(),
            port: 0,
            routes,
            ..ClusterOptions::default()
        });
        opts
    };
    let a = common::start(clustered(Vec::new())).await;
    let seed = format!("nats://{}", a.cluster.as_ref().unwrap().addr);
    let b = common::start(clustered(vec![seed])).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while a.cluster.as_ref().unwrap().linked_peers() != 1 {
        assert!(std::time::Instant::now() < deadline, "no route");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (_, _, creds) = org.user(|_| {}, false);
    let on_a = connect_creds(&common::url(&a), &creds).await.unwrap();
    on_a.flush().await.unwrap();
    let on_b = connect_creds(&common::url(&b), &creds).await.unwrap();
    on_b.flush().await.unwrap();
    // Until B's count has reached A, a third on A is let in; then refused.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let mut raw = raw_connect(a.addr, &creds).await;
        let answer = raw.read_line().await;
        if answer == TOO_MANY {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "a third connection was let in: {answer}"
        );
        drop(raw);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // One going away on B makes room on A.
    on_b.drain().await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let mut raw = raw_connect(a.addr, &creds).await;
        // `+OK`: CONNECT without `verbose: false` is acknowledged.
        if raw.read_line().await == "+OK\r\n" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no room after a connection went"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn account_jwts_grant_jetstream_with_their_limits() {
    let mut o = org();
    o.account_claims.nats.limits.jetstream.mem_storage = -1;
    o.account_claims.nats.limits.jetstream.disk_storage = 1024 * 1024;
    o.account_claims.nats.limits.jetstream.streams = 1;
    o.account_jwt = jwt::encode(&o.account_claims, &o.operator).unwrap();
    // A second account whose JWT grants no JetStream.
    let plain = KeyPair::new_account();
    let plain_jwt = jwt::encode(&AccountClaims::new("PLAIN", plain.public_key()), &o.operator).unwrap();
    let plain_user = KeyPair::new_user();
    let plain_token = jwt::encode(&UserClaims::new("p", plain_user.public_key()), &plain).unwrap();
    let plain_creds = jwt::format_creds(&plain_token, &plain_user.seed().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let mut opts = o.options();
    opts.resolver_preload.push((plain.public_key(), plain_jwt));
    let server = common::start(Options {
        jetstream: true,
        store_dir: Some(dir.path().to_path_buf()),
        ..opts
    })
    .await;
    let url = common::url(&server);
    let plain_client = connect_creds(&url, &plain_creds).await.unwrap();
    let reply = plain_client.request("$JS.API.INFO", "".into()).await.unwrap();
    let v: serde_json::Value = serde_json::from_slice(&reply.payload).unwrap();
    assert_eq!(v["error"]["err_code"], 10039, "{v}");
    let (_, _, creds) = o.user(|_| {}, false);
    let js = async_nats::jetstream::new(connect_creds(&url, &creds).await.unwrap());
    js.create_stream(async_nats::jetstream::stream::Config {
        name: "ONE".into(),
        subjects: vec!["one".into()],
        ..Default::default()
    })
    .await
    .unwrap();
    js.publish("one", "x".into()).await.unwrap().await.unwrap();
    let second = js
        .create_stream(async_nats::jetstream::stream::Config {
            name: "TWO".into(),
            subjects: vec!["two".into()],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(
        second.to_string().contains("maximum number of streams"),
        "{second}"
    );
}

#[tokio::test]
async fn tiered_limits_and_claims_updates_change_an_accounts_jetstream() {
    use async_nats::jetstream::{consumer::pull, stream};
    let mut o = org();
    let r1 = jwt::JetStreamLimits {
        mem_storage: -1,
        disk_storage: 1024 * 1024,
        streams: 2,
        max_ack_pending: 10,
        ..Default::default()
    };
    o.account_claims
        .nats
        .limits
        .tiered_limits
        .insert("R1".into(), r1.clone());
    o.account_jwt = jwt::encode(&o.account_claims, &o.operator).unwrap();
    let resolver_dir = tempfile::tempdir().unwrap();
    let store = tempfile::tempdir().unwrap();
    let mut opts = o.options();
    opts.resolver = Some(ResolverConfig::Full {
        dir: resolver_dir.path().to_path_buf(),
        allow_delete: false,
    });
    let server = common::start(Options {
        jetstream: true,
        store_dir: Some(store.path().to_path_buf()),
        ..opts
    })
    .await;
    let url = common::url(&server);
    let (_, _, creds) = o.user(|_| {}, false);
    let client = connect_creds(&url, &creds).await.unwrap();
    let js = async_nats::jetstream::new(client.clone());
    let config = |name: &str| stream::Config {
        name: name.into(),
        subjects: vec![name.to_lowercase()],
        ..Default::default()
    };
    // The `R1` tier applies: its ack-pending limit is a consumer's default.
    let one = js.create_stream(config("ONE")).await.unwrap();
    js.publish("one", "kept".into()).await.unwrap().await.unwrap();
    let mut c = one.create_consumer(pull::Config::default()).await.unwrap();
    assert_eq!(c.info().await.unwrap().config.max_ack_pending, 10);
    let info = |client: async_nats::Client| async move {
        let reply = client.request("$JS.API.INFO", "".into()).await.unwrap();
        serde_json::from_slice::<serde_json::Value>(&reply.payload).unwrap()
    };
    assert_eq!(info(client.clone()).await["limits"]["max_streams"], 2);

    let (_, _, sys_creds) = o.user(|_| {}, true);
    let sys = connect_creds(&url, &sys_creds).await.unwrap();
    let push = |claims: &AccountClaims| {
        let claims = claims.clone();
        let (o, sys) = (&o, sys.clone());
        async move {
            o.push_update(&sys, &claims).await;
        }
    };
    // An update that takes JetStream away: the API answers 10039.
    let mut off = o.account_claims.clone();
    off.nats.limits.tiered_limits.clear();
    push(&off).await;
    assert_eq!(info(client.clone()).await["error"]["err_code"], 10039);
    // Given back with one stream at most: the stream and its message are
    // still there, and a second stream is refused.
    let mut on = o.account_claims.clone();
    on.nats
        .limits
        .tiered_limits
        .insert("R1".into(), jwt::JetStreamLimits { streams: 1, ..r1 });
    push(&on).await;
    assert_eq!(info(client.clone()).await["limits"]["max_streams"], 1);
    let mut one = js.get_stream("ONE").await.unwrap();
    assert_eq!(one.info().await.unwrap().state.messages, 1);
    let e = js.create_stream(config("TWO")).await.unwrap_err();
    assert!(e.to_string().contains("maximum number of streams"), "{e}");
    // Tiers only for three replicas: nothing a single server can place.
    let mut r3_only = o.account_claims.clone();
    r3_only.nats.limits.tiered_limits.clear();
    r3_only.nats.limits.tiered_limits.insert(
        "R3".into(),
        jwt::JetStreamLimits {
            disk_storage: -1,
            ..Default::default()
        },
    );
    push(&r3_only).await;
    let e = js.create_stream(config("THREE")).await.unwrap_err();
    assert!(e.to_string().contains("10120"), "{e}");
}

/// A version 1 JWT, as issued before 2020: header `{"typ":"jwt","alg":"ed25519"}`,
/// the claim type at the top level, and the signature over the claims part alone.
fn v1_jwt(signer: &KeyPair, claims: serde_json::Value) -> String {
    use data_encoding::BASE64URL_NOPAD;
    let header = BASE64URL_NOPAD.encode(br#"{"typ":"jwt","alg":"ed25519"}"#);
    let body = BASE64URL_NOPAD.encode(claims.to_string().as_bytes());
    let sig = BASE64URL_NOPAD.encode(&signer.sign(body.as_bytes()).unwrap());
    format!("{header}.{body}.{sig}")
}

/// v1 operator, account and user JWTs, through the config file as an old
/// deployment has them (`operator`, `resolver: MEMORY`, `resolver_preload`)
/// and a creds file: the server starts and the user connects into its account.
#[tokio::test]
async fn version_1_jwts_are_accepted_everywhere() {
    let operator = KeyPair::new_operator();
    let account = KeyPair::new_account();
    let user = KeyPair::new_user();
    let op_jwt = v1_jwt(
        &operator,
        serde_json::json!({"jti": "OP1", "iat": 1553840337, "iss": operator.public_key(),
            "name": "old_operator", "sub": operator.public_key(), "type": "operator"}),
    );
    let account_jwt = v1_jwt(
        &operator,
        serde_json::json!({"jti": "AC1", "iat": 1553840615, "iss": operator.public_key(),
            "name": "foo", "sub": account.public_key(), "type": "account",
            "nats": {"limits": {"subs": -1, "conn": -1, "imports": -1, "exports": -1,
                "data": -1, "payload": -1, "wildcards": true}}}),
    );
    let user_jwt = v1_jwt(
        &account,
        serde_json::json!({"jti": "US1", "iat": 1553840944, "iss": account.public_key(),
            "name": "foo-user", "sub": user.public_key(), "type": "user",
            "nats": {"pub": {}, "sub": {}}}),
    );
    let dir = tempfile::tempdir().unwrap();
    let op_file = dir.path().join("op.jwt");
    std::fs::write(
        &op_file,
        format!("-----BEGIN TEST OPERATOR JWT-----\n{op_jwt}\n------END TEST OPERATOR JWT------\n"),
    )
    .unwrap();
    let conf = dir.path().join("resolver_preload.conf");
    std::fs::write(
        &conf,
        format!(
            "operator = {:?}\nresolver = MEMORY\nresolver_preload = {{\n  {} : \"{account_jwt}\"\n}}\n",
            op_file,
            account.public_key()
        ),
    )
    .unwrap();
    let opts = junction::config::load_options(&conf).expect("v1 JWTs in the config are accepted");
    let server = common::start(opts).await;
    let url = common::url(&server);
    let creds = jwt::format_creds(&user_jwt, &user.seed().unwrap());
    let client = connect_creds(&url, &creds).await.expect("a v1 user JWT connects");
    let mut sub = client.subscribe("hello").await.unwrap();
    client.flush().await.unwrap();
    client.publish("hello", "world".into()).await.unwrap();
    let msg = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&msg.payload[..], b"world");
    assert!(server
        .server
        .clients()
        .iter()
        .all(|c| c.account().name == account.public_key()));
    // A v1 token whose claims were changed after signing is still refused.
    let mut parts: Vec<String> = user_jwt.split('.').map(str::to_string).collect();
    let forged = serde_json::json!({"jti": "US1", "iat": 1553840944, "iss": account.public_key(),
        "name": "foo-user", "sub": user.public_key(), "type": "user",
        "nats": {"pub": {"allow": [">"]}, "sub": {}}});
    parts[1] = data_encoding::BASE64URL_NOPAD.encode(forged.to_string().as_bytes());
    refused(&url, &jwt::format_creds(&parts.join("."), &user.seed().unwrap())).await;
}

/// The payload of the next message on `sub`, as text.
async fn next_msg(sub: &mut async_nats::Subscriber) -> async_nats::Message {
    tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .expect("a message in time")
        .expect("subscription open")
}

async fn next_payload(sub: &mut async_nats::Subscriber) -> String {
    String::from_utf8_lossy(&next_msg(sub).await.payload).into_owned()
}

/// A configuration reload in operator mode, as nats-server does it: the
/// resolver's preloads may change (an account's exports, a revocation, an
/// account gone), and connected clients follow at once; the trusted
/// operators may not change, nor may the resolver come or go.
#[tokio::test]
async fn a_reload_applies_changed_and_removed_account_jwts() {
    let org = org();
    let news = KeyPair::new_account();
    let news_signed = |exported: bool, signer: &KeyPair| {
        let mut c = AccountClaims::new("NEWS", news.public_key());
        if exported {
            c.nats.exports.push(jwt::Export {
                subject: "news.>".into(),
                export_type: Some(jwt::ExportType::Stream),
                ..Default::default()
            });
        }
        jwt::encode(&c, signer).unwrap()
    };
    let news_claims = |exported: bool| news_signed(exported, &org.operator);
    let mut app = org.account_claims.clone();
    app.nats.imports.push(jwt::Import {
        subject: "news.>".into(),
        account: news.public_key(),
        import_type: Some(jwt::ExportType::Stream),
        ..Default::default()
    });
    let app_jwt = |claims: &AccountClaims| jwt::encode(claims, &org.operator).unwrap();
    let options = |app: &str, news: Option<String>| {
        let mut opts = org.options();
        (opts.host, opts.port) = ("127.0.0.1".into(), 0);
        opts.resolver_preload[1].1 = app.to_string();
        if let Some(news) = news {
            opts.resolver_preload.push((self_key(&news), news));
        }
        opts
    };
    fn self_key(jwt_text: &str) -> String {
        jwt::decode_without_time_check::<jwt::Account>(jwt_text)
            .unwrap()
            .sub
    }
    let server = common::start(options(&app_jwt(&app), Some(news_claims(true)))).await;
    let url = common::url(&server);
    let (_, reader_claims, creds) = org.user(|_| {}, false);
    let reader = connect_creds(&url, &creds).await.unwrap();
    let mut sub = reader.subscribe("news.>").await.unwrap();
    reader.flush().await.unwrap();
    let reporter = KeyPair::new_user();
    let token = jwt::encode(&UserClaims::new("reporter", reporter.public_key()), &news).unwrap();
    let writer = connect_creds(&url, &jwt::format_creds(&token, &reporter.seed().unwrap()))
        .await
        .unwrap();
    let exchange = |text: &'static str| {
        let writer = writer.clone();
        async move {
            writer.publish("news.today", text.into()).await.unwrap();
            writer.flush().await.unwrap();
        }
    };
    exchange("one").await;
    assert_eq!(next_payload(&mut sub).await, "one");

    // NEWS stops exporting: APP's import goes at once.
    server
        .server
        .reload(options(&app_jwt(&app), Some(news_claims(false))))
        .unwrap();
    exchange("two").await;
    reader.flush().await.unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(300), sub.next())
            .await
            .is_err(),
        "nothing may come through a withdrawn export"
    );
    // And comes back with the export.
    server
        .server
        .reload(options(&app_jwt(&app), Some(news_claims(true))))
        .unwrap();
    exchange("three").await;
    assert_eq!(next_payload(&mut sub).await, "three");

    // Refused as a whole: an operator that signed none of the preloads,
    // leaving operator mode, a resolver going away, a preload no trusted
    // operator signed.
    let stranger = KeyPair::new_operator();
    let stranger_jwt = jwt::encode(&OperatorClaims::new("other", stranger.public_key()), &stranger).unwrap();
    let mut other = options(&app_jwt(&app), Some(news_claims(true)));
    other.operators = vec![stranger_jwt.clone()];
    let e = server.server.reload(other).unwrap_err().to_string();
    assert!(e.contains("resolver_preload"), "{e}");
    let mut plain = options(&app_jwt(&app), Some(news_claims(true)));
    plain.operators.clear();
    plain.resolver_preload.clear();
    plain.resolver = None;
    let e = server.server.reload(plain).unwrap_err().to_string();
    assert!(
        e.starts_with("config reload not supported for TrustedOperators"),
        "{e}"
    );
    let mut no_resolver = options(&app_jwt(&app), Some(news_claims(true)));
    no_resolver.resolver = None;
    let e = server.server.reload(no_resolver).unwrap_err().to_string();
    assert_eq!(
        e,
        "config reload does not support moving to or from an account resolver"
    );
    let news_by_stranger = news_signed(true, &stranger);
    let e = server
        .server
        .reload(options(&app_jwt(&app), Some(news_by_stranger.clone())))
        .unwrap_err()
        .to_string();
    assert!(e.contains("resolver_preload"), "{e}");
    exchange("four").await;
    assert_eq!(
        next_payload(&mut sub).await,
        "four",
        "a refused reload changes nothing"
    );

    // A second trusted operator (nats-server refuses this reload; Junction
    // applies it): NEWS, now signed by it, keeps exporting to APP.
    let mut two_operators = options(&app_jwt(&app), Some(news_by_stranger));
    two_operators.operators.push(stranger_jwt);
    server.server.reload(two_operators).unwrap();
    exchange("five").await;
    assert_eq!(next_payload(&mut sub).await, "five");

    // APP revokes the reader: it is disconnected, the writer stays.
    let mut revoking = app.clone();
    revoking.revoke_at(&reader_claims.sub, jwt::now_unix());
    server
        .server
        .reload(options(&app_jwt(&revoking), Some(news_claims(true))))
        .unwrap();
    let gone = |user: String| {
        let server = server.server.clone();
        async move {
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            while server.clients().iter().any(|c| c.user() == user) {
                assert!(std::time::Instant::now() < deadline, "{user} still connected");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    gone(reader_claims.sub.clone()).await;
    refused(&url, &creds).await;
    assert!(server
        .server
        .clients()
        .iter()
        .any(|c| c.user() == reporter.public_key()));

    // NEWS leaves the resolver: its user goes too.
    server.server.reload(options(&app_jwt(&revoking), None)).unwrap();
    gone(reporter.public_key()).await;
}

/// An account JWT's `mappings` apply to its users' publishes (a weight of
/// 0 or none is 100, as nats-server reads claims), and a pushed claims
/// update replaces them.
#[tokio::test]
async fn account_jwt_mappings_apply_and_follow_updates() {
    let mut org = org();
    org.account_claims
        .nats
        .mappings
        .insert("req.*".into(), serde_json::json!([{"subject": "svc.$1.v1"}]));
    org.account_jwt = jwt::encode(&org.account_claims, &org.operator).unwrap();
    let server = common::start(org.options()).await;
    let url = common::url(&server);
    let (_, _, creds) = org.user(|_| {}, false);
    let client = connect_creds(&url, &creds).await.unwrap();
    let mut sub = client.subscribe("svc.>").await.unwrap();
    client.flush().await.unwrap();
    client.publish("req.a", "one".into()).await.unwrap();
    assert_eq!(next_msg(&mut sub).await.subject.as_str(), "svc.a.v1");

    let (_, _, sys_creds) = org.user(|_| {}, true);
    let sys = connect_creds(&url, &sys_creds).await.unwrap();
    let mut updated = org.account_claims.clone();
    updated.nats.mappings.insert(
        "req.*".into(),
        serde_json::json!([{"subject": "svc.$1.v2", "weight": 100}]),
    );
    org.push_update(&sys, &updated).await;
    client.publish("req.b", "two".into()).await.unwrap();
    assert_eq!(next_msg(&mut sub).await.subject.as_str(), "svc.b.v2");
}
