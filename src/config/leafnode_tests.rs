//! The `leafnodes {}` block: the hub's port and credentials, the remotes,
//! and what is refused.

use std::time::Duration;

use super::test_support::{err, opts};

#[test]
fn a_hub_port_with_credentials_and_an_account() {
    let o = opts(
        "accounts { EDGE: {} }\nleafnodes {\n  listen: 127.0.0.1:7422\n  \
         authorization { user: leafy, password: s3cret, account: EDGE, timeout: 1.5 }\n}\n",
    );
    let l = o.leafnodes.expect("leafnodes");
    assert_eq!(l.listen, Some(("127.0.0.1".to_string(), 7422)));
    assert_eq!(l.auth.username.as_deref(), Some("leafy"));
    assert_eq!(l.auth.password.as_deref(), Some("s3cret"));
    assert_eq!(l.auth.timeout, Some(Duration::from_millis(1500)));
    assert_eq!(l.account.as_deref(), Some("EDGE"));
    assert!(l.remotes.is_empty());
    // Port -1 picks one; port 0 or none accepts no leaf nodes.
    assert_eq!(
        opts("leafnodes { port: -1 }").leafnodes.unwrap().listen,
        Some(("0.0.0.0".into(), 0))
    );
    assert_eq!(opts("leafnodes { port: 0 }").leafnodes.unwrap().listen, None);
}

#[test]
fn remotes_with_one_url_or_several_and_a_local_account() {
    let o = opts(
        "accounts { A: {} }\nleafnodes { remotes: [\n  { url: \"nats-leaf://hub:7422\" }\n  \
         { urls: [\"nats://u:p@h1:7422\", \"nats-leaf://h2\"], account: A }\n] }\n",
    );
    let r = o.leafnodes.unwrap().remotes;
    assert_eq!(r.len(), 2);
    assert_eq!(r[0].urls, vec!["nats-leaf://hub:7422"]);
    assert_eq!(r[0].account, None);
    assert_eq!(r[1].urls, vec!["nats://u:p@h1:7422", "nats-leaf://h2"]);
    assert_eq!(r[1].account.as_deref(), Some("A"));
    let r = opts("leafnodes { remotes: [ { url: \"nats://hub\", credentials: \"/etc/edge.creds\" } ] }")
        .leafnodes
        .unwrap()
        .remotes;
    assert_eq!(
        r[0].credentials.as_deref(),
        Some(std::path::Path::new("/etc/edge.creds"))
    );
}

#[test]
fn what_is_not_built_yet_is_refused_by_name() {
    assert_eq!(
        opts("leafnodes { remotes: [ { url: \"wss://hub:443\" } ] }")
            .leafnodes
            .unwrap()
            .remotes[0]
            .urls,
        vec!["wss://hub:443"]
    );
    let e = err("leafnodes { port: 7422, compression: s2_auto }");
    assert!(
        e.contains("is not supported by junction yet") && e.contains("compression"),
        "{e}"
    );
    assert!(err("leafnodes { remotes: [ { account: A } ] }").contains("a remote needs a url"));
    assert!(
        err("leafnodes { remotes: [ { url: \"nats://hub\", nkey: \"SUX\" } ] }")
            .contains("Remote leafnode nkey is not a valid seed: \"SUX\"")
    );
    let seed = nkeys::KeyPair::new_user().seed().unwrap();
    let r = &opts(&format!(
        "leafnodes {{ remotes: [ {{ url: \"nats://hub\", nkey: {seed} }} ] }}"
    ))
    .leafnodes
    .unwrap()
    .remotes[0];
    assert_eq!(r.nkey.as_deref(), Some(seed.as_str()));
    assert!(err(&format!(
        "leafnodes {{ remotes: [ {{ url: \"nats://hub\", credentials: /x.creds, nkey: {seed} }} ] }}"
    ))
    .contains("Remote leafnode can not have both creds and nkey defined"));
    assert!(
        err("leafnodes { remotes: [ { url: \"http://x\" } ] }").contains("error parsing leafnode remote url")
    );
}

#[test]
fn a_hub_users_list_binds_accounts() {
    let o = opts(
        "accounts { A: {}, B: {} }\nleafnodes { port: 7422, authorization { users: [\n  \
         {user: la, password: pa, account: A}\n  {user: lb, password: pb}\n] } }\n",
    );
    let users = o.leafnodes.unwrap().users;
    assert_eq!(users.len(), 2);
    assert_eq!(
        (users[0].user.as_str(), users[0].account.as_deref()),
        ("la", Some("A"))
    );
    assert_eq!(users[1].account, None);
    assert!(err(
        "leafnodes { port: 1, authorization { user: x, password: y, users: [{user: a, password: b}] } }"
    )
    .contains("can not have a single user/pass and a users array"));
    assert!(err(
        "leafnodes { port: 1, authorization { users: [{user: a, password: b}, {user: a, password: c}] } }"
    )
    .contains("duplicate user \"a\" detected in leafnode authorization"));
}
