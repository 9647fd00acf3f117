//! Tests for the authentication and account keys: `authorization`, `accounts`, permissions,
//! `system_account`, `operator`, `trusted_keys`, `resolver` and `resolver_preload`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::auth::test_support::jwt;
use super::*;
use crate::options::{
    AccountConfig, ExportConfig, ExportKind, ImportConfig, Options, Permissions, ResolverConfig,
    ResponsePermission, ResponseType, SubjectPermission, UserConfig,
};

use super::test_support::{err, opts, ORIGIN};
/// A valid public user nkey.
const UKEY: &str = "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4";

/// Asserts the error of `text` is at `line:column` and contains `fragment`.
fn assert_err(text: &str, line: u32, column: u32, fragment: &str) {
    let msg = err(text);
    let at = format!("{ORIGIN}:{line}:{column}: ");
    assert!(
        msg.starts_with(&at),
        "{msg:?} should start with {at:?}\n--- input:\n{text}"
    );
    assert!(msg.contains(fragment), "{msg:?} should contain {fragment:?}");
}

fn user(name: &str, password: &str) -> UserConfig {
    UserConfig {
        username: Some(name.into()),
        password: Some(password.into()),
        ..UserConfig::default()
    }
}

fn allow(subjects: &[&str]) -> Option<SubjectPermission> {
    Some(SubjectPermission {
        allow: subjects.iter().map(|s| s.to_string()).collect(),
        deny: Vec::new(),
    })
}

fn user_perms(text: &str) -> Permissions {
    let o = opts(&format!(
        "authorization {{ users = [ {{user: u, permissions: {text}}} ] }}"
    ));
    o.users[0].permissions.clone().expect("permissions")
}

fn perms_err(text: &str) -> String {
    err(&format!(
        "authorization {{ users = [ {{user: u, permissions: {text}}} ] }}"
    ))
}

// ----- authorization users -----

#[test]
fn authorization_users_array_fills_global_account_users() {
    let o = opts(
        "authorization {\n users = [\n  {user: a, password: pa}\n  {user: b, password: pb, permissions: {publish: \"x.>\"}}\n  {nkey: UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4}\n ]\n timeout: 3\n}",
    );
    assert_eq!(o.users.len(), 3);
    assert_eq!(o.users[0], user("a", "pa"));
    assert_eq!(
        o.users[1].permissions,
        Some(Permissions {
            publish: allow(&["x.>"]),
            ..Permissions::default()
        })
    );
    assert_eq!(o.users[2].nkey.as_deref(), Some(UKEY));
    assert_eq!(
        (o.users[2].username.as_ref(), o.users[2].password.as_ref()),
        (None, None)
    );
    assert!(o.users.iter().all(|u| u.account.is_none()));
    assert_eq!(o.auth_timeout, Duration::from_secs(3));
    assert_eq!((o.username, o.password, o.authorization), (None, None, None));
}

#[test]
fn user_entries_accept_nats_server_key_aliases() {
    let o = opts(
        "authorization { users = [\n {username: a, pass: p, permission: {pub: x}, connection_types: standard}\n {USER: b, Password: q, authorization: {sub: y}, clients: [mqtt]}\n] }",
    );
    assert_eq!(o.users[0].username.as_deref(), Some("a"));
    assert_eq!(o.users[0].password.as_deref(), Some("p"));
    assert_eq!(o.users[0].permissions.as_ref().unwrap().publish, allow(&["x"]));
    assert_eq!(o.users[0].allowed_connection_types, vec!["STANDARD"]);
    assert_eq!(o.users[1].permissions.as_ref().unwrap().subscribe, allow(&["y"]));
    assert_eq!(o.users[1].allowed_connection_types, vec!["MQTT"]);
}

#[test]
fn bcrypt_passwords_are_kept_verbatim() {
    let hash = "$2a$11$PWIFAL8RsWyGI3jVZtO9Nu8.6jOxzxfZo7c/W0eLk017hjgUKWrhy";
    let o = opts(&format!(
        "authorization {{ users = [ {{user: a, password: \"{hash}\"}} ] }}"
    ));
    assert_eq!(o.users[0].password.as_deref(), Some(hash));
}

#[test]
fn users_may_come_from_variables_holding_maps() {
    let o = opts(
        "alice = {user: alice, password: pw}\nro = {publish: {deny: \">\"}}\nauthorization { users = [ $alice, {user: bob, permissions: $ro} ] }",
    );
    assert_eq!(o.users[0], user("alice", "pw"));
    let p = o.users[1].permissions.as_ref().unwrap();
    assert_eq!(p.publish.as_ref().unwrap().deny, vec![">"]);
}

#[test]
fn nkey_users_need_a_valid_public_user_key() {
    assert_err(
        "authorization {\n users = [ {nkey: UBAD} ]\n}",
        2,
        13,
        "\"UBAD\" is not a valid public nkey for a user",
    );
    // An operator key is a valid nkey, but not a user's.
    let e =
        err("authorization { users = [ {nkey: OARYNTSDB53JNNTLEA4HQ6CZE2CGCZ4GADQTUP2NXZ4IGKD3RCD5P36K} ] }");
    assert!(e.contains("not a valid public nkey for a user"), "{e}");
    // A flipped character breaks the checksum.
    let bad = UKEY.replace("NF4", "NF5");
    let e = err(&format!("authorization {{ users = [ {{nkey: {bad}}} ] }}"));
    assert!(e.contains("not a valid public nkey for a user"), "{e}");
}

#[test]
fn nkey_users_cannot_have_a_name_or_password() {
    assert_err(
        &format!("authorization {{\n users = [ {{nkey: {UKEY}, password: x}} ]\n}}"),
        2,
        12,
        "invalid value for \"nkey\": nkey users do not take a user name or password",
    );
}

#[test]
fn a_user_entry_needs_a_user_or_an_nkey() {
    assert_err(
        "authorization {\n users = [ {password: x} ]\n}",
        2,
        12,
        "invalid value for \"users\": a user entry needs a user or an nkey",
    );
    assert_err(
        "authorization { users = [ {user: \"\"} ] }",
        1,
        27,
        "needs a user or an nkey",
    );
}

#[test]
fn users_must_be_an_array_of_maps() {
    assert_err(
        "authorization { users = 5 }",
        1,
        17,
        "\"users\" expects an array of users, got an integer",
    );
    assert_err(
        "authorization { users = [ {user: a}, x ] }",
        1,
        38,
        "\"users\" expects a map with a user or an nkey, got a string",
    );
    assert_err(
        "authorization { users = [ {user: 5} ] }",
        1,
        28,
        "\"user\" expects a string",
    );
}

#[test]
fn unknown_user_keys_are_errors_and_nats_only_keys_are_unsupported() {
    assert_err(
        "authorization {\n users = [ {user: a, zzz: 1} ]\n}",
        2,
        22,
        "unknown field \"zzz\"",
    );
    assert_err(
        "authorization { users = [ {user: a, proxy_required: true} ] }",
        1,
        37,
        "\"authorization.users.proxy_required\" is not supported by junction yet",
    );
    assert_err(
        "accounts { A { users = [ {user: a, proxy_required: true} ] } }",
        1,
        36,
        "\"accounts.A.users.proxy_required\" is not supported by junction yet",
    );
}

#[test]
fn allowed_connection_types_are_upper_cased_and_checked() {
    let o = opts("authorization { users = [ {user: a, allowed_connection_types: [standard, \"WebSocket\", leafnode_ws, mqtt_ws]} ] }");
    assert_eq!(
        o.users[0].allowed_connection_types,
        vec!["STANDARD", "WEBSOCKET", "LEAFNODE_WS", "MQTT_WS"]
    );
    assert_err(
        "authorization { users = [ {user: a, allowed_connection_types: [STANDARD, BOGUS]} ] }",
        1,
        37,
        "unknown connection types [\"BOGUS\"]",
    );
    assert_err(
        "authorization { users = [ {user: a, allowed_connection_types: [1]} ] }",
        1,
        64,
        "expects a string, got an integer",
    );
}

#[test]
fn duplicate_users_are_errors_within_and_across_blocks() {
    assert_err(
        "authorization { users = [ {user: a}, {user: a} ] }",
        1,
        39,
        "invalid value for \"user\": duplicate user \"a\"",
    );
    assert_err(
        "authorization { users = [ {user: a} ] }\naccounts {\n A { users = [ {user: a} ] }\n}",
        3,
        17,
        "duplicate user \"a\"",
    );
    assert_err(
        "accounts {\n A { users = [ {user: a} ] }\n B { users = [ {user: a} ] }\n}",
        3,
        17,
        "duplicate user \"a\"",
    );
    assert_err(
        &format!("authorization {{ users = [ {{nkey: {UKEY}}} ] }}\naccounts {{ A {{ users = [ {{nkey: {UKEY}}} ] }} }}"),
        2,
        27,
        &format!("invalid value for \"nkey\": duplicate nkey \"{UKEY}\""),
    );
}

#[test]
fn a_single_user_or_token_cannot_be_combined_with_users() {
    assert_err(
        "authorization { user: x, password: y, users = [ {user: a} ] }",
        1,
        1,
        "a single user cannot be combined with a users array",
    );
    // Even an empty users array counts, as in nats-server.
    assert_err(
        "authorization { token: t, users = [] }",
        1,
        1,
        "a token cannot be combined with a users array",
    );
    assert_err(
        "accounts { A { users = [ {user: a} ] } }\nauthorization { user: x, password: y }",
        2,
        1,
        "a single user cannot be combined with users in accounts",
    );
    assert_err(
        "authorization { token: t }\naccounts { A { users = [ {user: a} ] } }",
        1,
        1,
        "a token cannot be combined with users in accounts",
    );
    // Accounts without users are fine.
    let o = opts("authorization { token: t }\naccounts { A {} }");
    assert_eq!(o.authorization.as_deref(), Some("t"));
}

#[test]
fn default_permissions_and_its_aliases_set_the_default_permissions() {
    for key in ["default_permissions", "default_permission", "permissions"] {
        let o = opts(&format!(
            "authorization {{ {key} {{ publish: \"a.>\", subscribe: {{ deny: \"b\" }} }}, users = [ {{user: u}} ] }}"
        ));
        let p = o.default_permissions.expect(key);
        assert_eq!(p.publish, allow(&["a.>"]), "{key}");
        assert_eq!(p.subscribe.unwrap().deny, vec!["b"], "{key}");
        // Users keep None: the server applies the default to users without their own.
        assert_eq!(o.users[0].permissions, None);
    }
}

#[test]
fn the_authorization_block_replaces_global_users_and_keeps_account_users() {
    let mut o = Options {
        users: vec![
            user("old", "x"),
            UserConfig {
                account: Some("A".into()),
                ..user("kept", "y")
            },
        ],
        ..Options::default()
    };
    let cfg = parse_str("authorization { users = [ {user: new} ] }", Path::new(ORIGIN)).unwrap();
    apply(&mut o, &cfg).unwrap();
    let names: Vec<_> = o.users.iter().map(|u| u.username.clone().unwrap()).collect();
    assert_eq!(names, vec!["new", "kept"]);
}

#[test]
fn authorization_extensions_junction_lacks_are_unsupported_and_unknown_keys_errors() {
    for key in ["auth_callout", "auth_hook", "proxy_required"] {
        assert_err(
            &format!("authorization {{\n {key}: x\n}}"),
            2,
            2,
            &format!("\"authorization.{key}\" is not supported by junction yet"),
        );
    }
    assert_err("authorization {\n bogus: 1\n}", 2, 2, "unknown field \"bogus\"");
}

// ----- permissions -----

#[test]
fn permissions_take_a_subject_a_list_or_allow_and_deny() {
    let p = user_perms("{ publish: \"a.>\", subscribe: [\"b\", \"c.*\"] }");
    assert_eq!(p.publish, allow(&["a.>"]));
    assert_eq!(p.subscribe, allow(&["b", "c.*"]));
    assert_eq!(p.allow_responses, None);
    let p = user_perms(
        "{ publish: { allow: [\"a\", \"b\"], deny: \"a.secret\" }, subscribe: { deny: [\"x\"] } }",
    );
    assert_eq!(
        p.publish,
        Some(SubjectPermission {
            allow: vec!["a".into(), "b".into()],
            deny: vec!["a.secret".into()],
        })
    );
    assert_eq!(
        p.subscribe,
        Some(SubjectPermission {
            allow: vec![],
            deny: vec!["x".into()],
        })
    );
    // An empty block is permissions without restrictions.
    assert_eq!(user_perms("{}"), Permissions::default());
}

#[test]
fn permission_aliases_pub_sub_import_and_export_are_accepted() {
    let p = user_perms("{ pub: a, sub: b }");
    assert_eq!((p.publish, p.subscribe), (allow(&["a"]), allow(&["b"])));
    let p = user_perms("{ import: a, export: b }");
    assert_eq!((p.publish, p.subscribe), (allow(&["a"]), allow(&["b"])));
    let p = user_perms("{ Publish: a, SUBSCRIBE: b }");
    assert_eq!((p.publish, p.subscribe), (allow(&["a"]), allow(&["b"])));
}

#[test]
fn an_empty_allow_deny_map_is_no_permission() {
    assert_eq!(user_perms("{ publish: {} }").publish, None);
}

#[test]
fn subscribe_permissions_may_name_a_queue_group_and_publish_ones_may_not() {
    assert_eq!(
        user_perms("{ subscribe: \"jobs.* workers\" }").subscribe,
        allow(&["jobs.* workers"])
    );
    assert!(perms_err("{ publish: \"jobs workers\" }").contains("\"jobs workers\" is not a valid subject"));
    assert!(perms_err("{ subscribe: \"a b c\" }").contains("is not a valid subject"));
}

#[test]
fn invalid_permission_subjects_and_types_are_errors() {
    let e = perms_err("{\n publish: \"a..b\"\n}");
    assert_eq!(
        e,
        format!("{ORIGIN}:2:2: invalid value for \"publish\": \"a..b\" is not a valid subject")
    );
    assert!(perms_err("{ subscribe: { deny: \"a.>.b\" } }").contains("\"a.>.b\" is not a valid subject"));
    assert!(perms_err("{ publish: \"\" }").contains("is not a valid subject"));
    assert!(perms_err("{ publish: 5 }").contains("\"publish\" expects a subject, an array of subjects"));
    assert!(perms_err("{ publish: [a, 5] }").contains("\"publish\" expects a string, got an integer"));
    assert!(perms_err("authorization_is_not_a_map").contains("\"permissions\" expects a map"));
}

#[test]
fn unknown_permission_keys_are_errors_naming_key_and_position() {
    let e = perms_err("{\n bogus: 1\n}");
    assert_eq!(e, format!("{ORIGIN}:2:2: unknown field \"bogus\""));
    let e = perms_err("{ publish: {\n allow: a\n zzz: b\n} }");
    assert_eq!(e, format!("{ORIGIN}:3:2: unknown field \"zzz\""));
    let e = perms_err("{ allow_responses: {\n max: 1\n nope: 2\n} }");
    assert_eq!(e, format!("{ORIGIN}:3:2: unknown field \"nope\""));
}

#[test]
fn allow_responses_true_is_the_default_response_permission_and_false_is_none() {
    let p = user_perms("{ publish: a, allow_responses: true }");
    assert_eq!(p.allow_responses, Some(ResponsePermission::default()));
    assert_eq!(p.publish, allow(&["a"]));
    let p = user_perms("{ publish: a, publish_allow_responses: true }");
    assert_eq!(p.allow_responses, Some(ResponsePermission::default()));
    let p = user_perms("{ publish: a, allow_responses: false }");
    assert_eq!((p.allow_responses, p.publish), (None, allow(&["a"])));
}

#[test]
fn allow_responses_map_sets_max_and_expires() {
    let p = user_perms("{ publish: a, allow_responses: { max: 5, expires: \"1m\" } }");
    assert_eq!(
        p.allow_responses,
        Some(ResponsePermission {
            max: 5,
            expires: Some(Duration::from_secs(60)),
        })
    );
    for (text, max, expires) in [
        // Zero means the default; negative means unlimited.
        ("{ max: 0, expires: \"0s\" }", 1, None),
        ("{ max: -1, expires: \"-1s\" }", usize::MAX, None),
        (
            "{ max_msgs: 2, ttl: \"500ms\" }",
            2,
            Some(Duration::from_millis(500)),
        ),
        (
            "{ max_messages: 3, expiration: \"2s\" }",
            3,
            Some(Duration::from_secs(2)),
        ),
        ("{ max_responses: 4 }", 4, None),
        ("{}", 1, None),
    ] {
        let p = user_perms(&format!("{{ publish: a, allow_responses: {text} }}"));
        assert_eq!(
            p.allow_responses,
            Some(ResponsePermission { max, expires }),
            "{text}"
        );
    }
}

#[test]
fn allow_responses_without_a_publish_allow_list_permits_only_replies() {
    // nats-server turns off the blanket publish allow; "nothing" is a deny of everything.
    let p = user_perms("{ subscribe: q, allow_responses: true }");
    assert_eq!(
        p.publish,
        Some(SubjectPermission {
            allow: vec![],
            deny: vec![">".into()],
        })
    );
    let p = user_perms("{ publish: { deny: x }, allow_responses: true }");
    assert_eq!(p.publish.unwrap().deny, vec!["x", ">"]);
}

#[test]
fn allow_responses_rejects_bad_values() {
    assert!(perms_err("{ allow_responses: \"yes\" }")
        .contains("\"allow_responses\" expects a boolean or a map with max and expires, got a string"));
    assert!(perms_err("{ allow_responses: { max: \"x\" } }").contains("\"max\" expects an integer"));
    assert!(
        perms_err("{ allow_responses: { expires: 5 } }").contains("\"expires\" expects a duration string")
    );
    assert!(perms_err("{ allow_responses: { expires: \"soon\" } }").contains("invalid duration"));
}

// ----- accounts -----

#[test]
fn accounts_map_fills_accounts_and_their_users() {
    let o = opts(
        "accounts {\n A: { users: [ {user: a, password: pa}, {nkey: UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4} ] }\n B { users = [ {user: b, password: pb, permissions: {subscribe: x}} ] }\n}\nauthorization { users = [ {user: g, password: pg} ] }",
    );
    let names: Vec<&str> = o.accounts.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, vec!["A", "B"]);
    let summary: Vec<(Option<&str>, Option<&str>)> = o
        .users
        .iter()
        .map(|u| (u.username.as_deref().or(u.nkey.as_deref()), u.account.as_deref()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (Some("g"), None),
            (Some("a"), Some("A")),
            (Some(UKEY), Some("A")),
            (Some("b"), Some("B")),
        ]
    );
    assert_eq!(o.users[3].permissions.as_ref().unwrap().subscribe, allow(&["x"]));
}

#[test]
fn empty_accounts_and_arrays_of_names_define_accounts() {
    let o = opts("accounts { A: {}, B {} }");
    assert_eq!(
        o.accounts,
        vec![
            AccountConfig {
                name: "A".into(),
                ..AccountConfig::default()
            },
            AccountConfig {
                name: "B".into(),
                ..AccountConfig::default()
            },
        ]
    );
    let o = opts("accounts: [X, Y]");
    let names: Vec<&str> = o.accounts.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, vec!["X", "Y"]);
    assert!(o.users.is_empty());
}

#[test]
fn account_names_keep_their_case_while_keys_inside_do_not() {
    let o = opts("accounts { MyAcc { USERS = [ {user: a} ], JetStream: enabled } }");
    assert_eq!(o.accounts[0].name, "MyAcc");
    assert!(o.accounts[0].jetstream);
    assert_eq!(o.users[0].account.as_deref(), Some("MyAcc"));
}

#[test]
fn variable_definitions_inside_accounts_are_not_accounts() {
    let o = opts("accounts {\n pw = secret\n u = {user: x, password: $pw}\n A { users = [ $u ] }\n}");
    assert_eq!(o.accounts.len(), 1);
    assert_eq!(
        o.users,
        vec![UserConfig {
            account: Some("A".into()),
            ..user("x", "secret")
        }]
    );
}

#[test]
fn account_jetstream_takes_a_boolean_a_word_or_limits() {
    let o = opts(
        "accounts { A { jetstream: enabled }, B { jetstream: disabled }, C { jetstream: true }\n D { jetstream { max_mem: 1G, max_store: 10G, max_streams: 5, max_consumers: -1, max_bytes_required: true, cluster_traffic: owner,\n max_ack_pending: 100, mem_max_stream_bytes: 1K, disk_max_stream_bytes: 2K } }, E {} }",
    );
    let js: Vec<bool> = o.accounts.iter().map(|a| a.jetstream).collect();
    assert_eq!(js, vec![true, false, true, true, false]);
    let d = o.accounts[3].jetstream_limits;
    assert_eq!(
        (d.max_memory, d.max_store, d.max_streams, d.max_consumers),
        (1_000_000_000, 10_000_000_000, 5, -1)
    );
    assert_eq!(
        (
            d.max_ack_pending,
            d.memory_max_stream_bytes,
            d.storage_max_stream_bytes
        ),
        (100, 1000, 2000)
    );
    assert!(d.max_bytes_required);
    assert_err(
        "accounts { A { jetstream: maybe } }",
        1,
        16,
        "expected \"enabled\" or \"disabled\", got \"maybe\"",
    );
    assert_err(
        "accounts { A { jetstream { bogus: 1 } } }",
        1,
        28,
        "unknown field \"bogus\"",
    );
    assert_err(
        "accounts { A { jetstream { max_mem: \"1G\" } } }",
        1,
        28,
        "\"max_mem\" expects an integer or a size",
    );
    assert_err(
        "accounts { A { jetstream: 1 } }",
        1,
        16,
        "\"jetstream\" expects true/false",
    );
}

#[test]
fn account_default_permissions_go_to_its_users_without_their_own() {
    let o = opts(
        "accounts { A { default_permissions: { publish: a }\n users = [ {user: x}, {user: y, permissions: {publish: b}} ] }\n B { users = [ {user: z} ] } }",
    );
    assert_eq!(o.users[0].permissions.as_ref().unwrap().publish, allow(&["a"]));
    assert_eq!(o.users[1].permissions.as_ref().unwrap().publish, allow(&["b"]));
    assert_eq!(o.users[2].permissions, None);
    assert_eq!(o.default_permissions, None);
}

#[test]
fn reserved_and_duplicate_account_names_are_errors() {
    assert_err(
        "accounts {\n \"$G\": {}\n}",
        2,
        2,
        "invalid value for \"$G\": \"$G\" is a reserved account",
    );
    assert_err("accounts: [A, \"$G\"]", 1, 15, "\"$G\" is a reserved account");
    assert_err(
        "accounts: [A, B, A]",
        1,
        18,
        "invalid value for \"accounts\": duplicate account \"A\"",
    );
    assert_err(
        "accounts: [A, 1]",
        1,
        15,
        "\"accounts\" expects an account name, got an integer",
    );
}

#[test]
fn accounts_must_be_maps_and_unknown_account_keys_are_errors() {
    assert_err(
        "accounts: 5",
        1,
        1,
        "\"accounts\" expects a map of accounts or an array of account names",
    );
    assert_err(
        "accounts {\n A: 5\n}",
        2,
        2,
        "\"A\" expects a map (an account), got an integer",
    );
    assert_err("accounts { A {\n zzz: 1\n} }", 2, 2, "unknown field \"zzz\"");
    for key in ["nkey", "limits", "msg_trace", "trace_dest"] {
        assert_err(
            &format!("accounts {{ A {{\n {key}: x\n}} }}"),
            2,
            2,
            &format!("\"accounts.A.{key}\" is not supported by junction yet"),
        );
    }
}

// ----- exports and imports -----

#[test]
fn stream_and_service_exports_map_with_accounts_and_response_types() {
    let o = opts(
        "accounts {\n A { exports = [\n {stream: \"s.>\"}\n {stream: \"p\", accounts: [B]}\n {service: \"q\"}\n {service: \"r.*\", response_type: stream, accounts: [B, C]}\n {service: \"c\", response: chunked}\n {service: \"one\", response_type: single}\n ] }\n B {}\n C {}\n}",
    );
    let export = |kind, subject: &str, accounts: &[&str], response_type| ExportConfig {
        kind,
        subject: subject.into(),
        accounts: accounts.iter().map(|s| s.to_string()).collect(),
        response_type,
    };
    assert_eq!(
        o.accounts[0].exports,
        vec![
            export(ExportKind::Stream, "s.>", &[], ResponseType::Singleton),
            export(ExportKind::Stream, "p", &["B"], ResponseType::Singleton),
            export(ExportKind::Service, "q", &[], ResponseType::Singleton),
            export(ExportKind::Service, "r.*", &["B", "C"], ResponseType::Stream),
            export(ExportKind::Service, "c", &[], ResponseType::Chunked),
            export(ExportKind::Service, "one", &[], ResponseType::Singleton),
        ]
    );
}

#[test]
fn response_threshold_and_allow_trace_on_service_exports_are_accepted_and_ignored() {
    let o = opts("accounts { A { exports = [ {service: q, response_threshold: \"5s\", allow_trace: true}, {service: r, threshold: \"1m\"} ] } }");
    assert_eq!(o.accounts[0].exports.len(), 2);
    assert_err(
        "accounts { A { exports = [ {service: q, response_threshold: 5} ] } }",
        1,
        41,
        "\"response_threshold\" expects a duration string",
    );
}

#[test]
fn export_errors_name_the_key_and_position() {
    assert_err(
        "accounts { A { exports = [\n {stream: s, service: t}\n] } }",
        2,
        14,
        "invalid value for \"service\": an export is a stream or a service, and \"stream\" was already given",
    );
    for key in [
        "response_type: singleton",
        "response_threshold: \"1s\"",
        "allow_trace: true",
    ] {
        let e = err(&format!(
            "accounts {{ A {{ exports = [ {{stream: s, {key}}} ] }} }}"
        ));
        assert!(e.contains("only a service export takes this"), "{key}: {e}");
    }
    assert_err(
        "accounts { A { exports = [ {service: s, response_type: bogus} ] } }",
        1,
        41,
        "unknown response type \"bogus\"",
    );
    assert_err(
        "accounts { A { exports = [\n {accounts: [A]}\n] } }",
        2,
        2,
        "invalid value for \"exports\": an export needs a stream or a service subject",
    );
    assert_err(
        "accounts { A { exports = [ {stream: \"a..b\"} ] } }",
        1,
        29,
        "\"a..b\" is not a valid subject",
    );
    assert_err(
        "accounts { A { exports = [ {stream: s, accounts: B} ] } }",
        1,
        40,
        "\"accounts\" expects an array of account names",
    );
    assert_err(
        "accounts { A { exports = [ {stream: s, zz: 1} ] } }",
        1,
        40,
        "unknown field \"zz\"",
    );
    assert_err(
        "accounts { A { exports = [ 5 ] } }",
        1,
        28,
        "\"exports\" expects a map with a stream or a service",
    );
    assert_err(
        "accounts { A { exports = {} } }",
        1,
        16,
        "\"exports\" expects an array of exports",
    );
    for key in ["latency: \"lat.q\"", "account_token_position: 2"] {
        let e = err(&format!(
            "accounts {{ A {{ exports = [ {{service: q, {key}}} ] }} }}"
        ));
        assert!(e.contains("is not supported by junction yet"), "{key}: {e}");
        assert!(e.contains("\"accounts.A.exports."), "{key}: {e}");
    }
}

#[test]
fn stream_imports_take_a_prefix_or_a_to_and_service_imports_a_to() {
    let o = opts(
        "accounts {\n A { exports = [ {stream: \"s.>\"}, {service: \"q.*\"} ] }\n B { imports = [\n {stream: {account: A, subject: \"s.>\"}, prefix: p}\n {stream: {account: A, subject: \"s.x\"}, to: \"local.x\"}\n {stream: {account: A, subject: \"s.y\"}}\n {service: {account: A, subject: \"q.a\"}, to: \"ask.a\"}\n {service: {account: A, subject: \"q.b\"}}\n ] }\n}",
    );
    let import = |kind, subject: &str, to: Option<&str>, prefix: Option<&str>| ImportConfig {
        kind,
        account: "A".into(),
        subject: subject.into(),
        to: to.map(String::from),
        prefix: prefix.map(String::from),
    };
    assert_eq!(
        o.accounts[1].imports,
        vec![
            import(ExportKind::Stream, "s.>", None, Some("p")),
            import(ExportKind::Stream, "s.x", Some("local.x"), None),
            import(ExportKind::Stream, "s.y", None, None),
            import(ExportKind::Service, "q.a", Some("ask.a"), None),
            import(ExportKind::Service, "q.b", None, None),
        ]
    );
}

#[test]
fn share_and_stream_allow_trace_on_imports_are_accepted_and_ignored() {
    let o = opts(
        "accounts { A { exports = [ {stream: s}, {service: q} ] }\n B { imports = [ {stream: {account: A, subject: s}, allow_trace: true}, {service: {account: A, subject: q}, share: true} ] } }",
    );
    assert_eq!(o.accounts[1].imports.len(), 2);
}

#[test]
fn import_errors_name_the_key_and_position() {
    let base = "accounts { A { exports = [ {stream: s}, {service: q} ] }\n B { imports = [\n";
    let check = |import: &str, line: u32, column: u32, fragment: &str| {
        assert_err(&format!("{base}{import}\n] }} }}"), line, column, fragment);
    };
    check(
        "{stream: {account: A, subject: s}, prefix: p, to: t}",
        3,
        47,
        "invalid value for \"to\": a stream import cannot have both a prefix and a to",
    );
    check(
        "{stream: {account: A, subject: s}, prefix: \"p.*\"}",
        3,
        36,
        "the prefix \"p.*\" must be a literal subject",
    );
    check(
        "{stream: {account: A}}",
        3,
        2,
        "invalid value for \"stream\": an import needs an account and a subject",
    );
    check(
        "{service: {subject: q}}",
        3,
        2,
        "an import needs an account and a subject",
    );
    check(
        "{stream: {account: A, subject: s, zz: 1}}",
        3,
        35,
        "unknown field \"zz\"",
    );
    check(
        "{stream: {account: A, subject: s}, zz: 1}",
        3,
        36,
        "unknown field \"zz\"",
    );
    check(
        "{stream: A}",
        3,
        2,
        "\"stream\" expects a map with account and subject, got a string",
    );
    check(
        "{stream: {account: A, subject: s}, service: {account: A, subject: q}}",
        3,
        36,
        "an import is a stream or a service",
    );
    check(
        "{prefix: p}",
        3,
        1,
        "invalid value for \"imports\": an import needs a stream or a service",
    );
    check(
        "{service: {account: A, subject: q}, allow_trace: true}",
        3,
        37,
        "invalid value for \"allow_trace\": only a stream import takes this",
    );
    check(
        "{service: {account: A, subject: q}, to: \"a..b\"}",
        3,
        37,
        "\"a..b\" is not a valid subject",
    );
    check(
        "{service: {account: A, subject: q}}\n{service: {account: A, subject: q}}",
        4,
        2,
        "duplicate service import subject \"q\", already imported from account \"A\", subject \"q\"",
    );
    check(
        "5",
        3,
        1,
        "\"imports\" expects a map with a stream or a service, got an integer",
    );
}

#[test]
fn imports_and_exports_must_name_defined_accounts() {
    assert_err(
        "accounts {\n A { imports = [ {stream: {account: X, subject: s}} ] }\n}",
        2,
        19,
        "invalid value for \"stream\": account \"X\" is not defined",
    );
    assert_err(
        "accounts {\n A { imports = [ {service: {account: X, subject: s}} ] }\n}",
        2,
        19,
        "invalid value for \"service\": account \"X\" is not defined",
    );
    assert_err(
        "accounts {\n A { exports = [ {stream: s, accounts: [B, X]} ] }\n B {}\n}",
        2,
        19,
        "account \"X\" (allowed to import) is not defined",
    );
}

#[test]
fn imports_need_a_matching_export_for_the_importer() {
    // A wildcard export covers narrower imports.
    opts("accounts { A { exports = [ {stream: \">\"}, {service: \"q.*\"} ] }\n B { imports = [ {stream: {account: A, subject: \"a.*\"}}, {service: {account: A, subject: \"q.x\"}} ] } }");
    // A private export covers the accounts it names.
    opts("accounts { A { exports = [ {stream: s, accounts: [B]} ] }\n B { imports = [ {stream: {account: A, subject: s}} ] } }");
    let denied = |accounts: &str, import: &str| {
        err(&format!(
            "accounts {{ A {{ exports = [ {accounts} ] }}\n B {{ imports = [ {import} ] }}\n C {{}} }}"
        ))
    };
    // Not exported to B.
    let e = denied("{stream: s, accounts: [C]}", "{stream: {account: A, subject: s}}");
    assert_eq!(
        e,
        format!("{ORIGIN}:2:19: invalid value for \"stream\": account \"A\" does not export stream \"s\" to account \"B\"")
    );
    // The import is wider than the export.
    let e = denied("{stream: \"a.b\"}", "{stream: {account: A, subject: \"a.*\"}}");
    assert!(e.contains("does not export stream \"a.*\""), "{e}");
    // A stream export does not cover a service import.
    let e = denied("{stream: q}", "{service: {account: A, subject: q}}");
    assert!(e.contains("does not export service \"q\""), "{e}");
}

// ----- system account, operators, trusted keys, resolver -----

#[test]
fn system_account_and_its_alias_system_name_the_system_account() {
    assert_eq!(opts("system_account: SYS").system_account.as_deref(), Some("SYS"));
    assert_eq!(opts("system: ADMIN").system_account.as_deref(), Some("ADMIN"));
    assert_err(
        "system_account: 5",
        1,
        1,
        "\"system_account\" expects a string, got an integer",
    );
}

struct Keys {
    operator: nkeys::KeyPair,
    account: nkeys::KeyPair,
}

fn keys() -> Keys {
    Keys {
        operator: nkeys::KeyPair::new_operator(),
        account: nkeys::KeyPair::new_account(),
    }
}

impl Keys {
    fn operator_jwt(&self, system: Option<&str>) -> String {
        let extra = match system {
            Some(s) => serde_json::json!({ "system_account": s }),
            None => serde_json::json!({}),
        };
        jwt(&self.operator, &self.operator.public_key(), "operator", extra)
    }

    fn account_jwt(&self) -> String {
        jwt(
            &self.operator,
            &self.account.public_key(),
            "account",
            serde_json::json!({}),
        )
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn operator_reads_jwt_files_relative_to_the_config_file() {
    let k = keys();
    let dir = tempfile::tempdir().unwrap();
    let op = k.operator_jwt(None);
    write(dir.path(), "op.jwt", &format!("{op}\n"));
    let conf = write(dir.path(), "j.conf", "operator: op.jwt\nresolver: MEMORY\n");
    let o = load_options(&conf).unwrap();
    assert_eq!(o.operators, vec![op.clone()]);
    // An absolute path works too, and `operators` / `root` are aliases.
    let abs = dir.path().join("op.jwt");
    for key in ["operators", "root", "roots", "root_operator", "root_operators"] {
        let conf = write(dir.path(), "k.conf", &format!("{key}: \"{}\"\n", abs.display()));
        assert_eq!(load_options(&conf).unwrap().operators, vec![op.clone()], "{key}");
    }
}

#[test]
fn operator_takes_inline_jwts_decorated_files_and_arrays() {
    let k = keys();
    let k2 = keys();
    let dir = tempfile::tempdir().unwrap();
    let (op1, op2) = (k.operator_jwt(None), k2.operator_jwt(None));
    write(
        dir.path(),
        "op.jwt",
        &format!("-----BEGIN NATS OPERATOR JWT-----\n{op1}\n------END NATS OPERATOR JWT------\n\n*** IMPORTANT ***\n"),
    );
    let conf = write(dir.path(), "j.conf", &format!("operator: [op.jwt, \"{op2}\"]\n"));
    assert_eq!(load_options(&conf).unwrap().operators, vec![op1, op2.clone()]);
    assert_eq!(opts(&format!("operator: \"{op2}\"")).operators, vec![op2]);
}

#[test]
fn an_operator_system_account_applies_unless_system_account_is_set() {
    let k = keys();
    let sys = k.account.public_key();
    let op = k.operator_jwt(Some(&sys));
    assert_eq!(
        opts(&format!("operator: \"{op}\"")).system_account,
        Some(sys.clone())
    );
    // system_account wins, whichever comes first.
    assert_eq!(
        opts(&format!("operator: \"{op}\"\nsystem_account: MINE"))
            .system_account
            .as_deref(),
        Some("MINE")
    );
    assert_eq!(
        opts(&format!("system_account: MINE\noperator: \"{op}\""))
            .system_account
            .as_deref(),
        Some("MINE")
    );
    // With two operators, none is picked (as in nats-server).
    let other = keys().operator_jwt(Some("AX"));
    assert_eq!(
        opts(&format!("operator: [\"{op}\", \"{other}\"]")).system_account,
        None
    );
}

#[test]
fn operator_errors_name_the_problem() {
    let k = keys();
    let e = err("operator: missing.jwt");
    assert!(e.starts_with(&format!("{ORIGIN}:1:1: invalid value for \"operator\": error parsing operator JWT: cannot read /etc/junction/missing.jwt")), "{e}");
    assert!(err("operator: \"eyJnotajwt\"").contains("not a JWT (expected three dot-separated parts)"));
    assert!(err(&format!("operator: \"{}\"", k.account_jwt()))
        .contains("not an operator JWT (its type is \"account\")"));
    // A tampered signature.
    let op = k.operator_jwt(None);
    let (signed, sig) = op.rsplit_once('.').unwrap();
    let flipped = if sig.starts_with('A') { "B" } else { "A" };
    let tampered = format!("{signed}.{flipped}{}", &sig[1..]);
    assert!(err(&format!("operator: \"{tampered}\"")).contains("the signature does not match the issuer"));
    assert_err(
        "operator: 5",
        1,
        1,
        "\"operator\" expects a JWT file name or a JWT, or an array of them",
    );
    assert_err(
        "operator: [x, 5]",
        1,
        15,
        "\"operator\" expects a JWT file name or a JWT, got an integer",
    );
}

#[test]
fn trusted_keys_take_a_key_or_a_list_of_operator_keys() {
    let (a, b) = (keys().operator.public_key(), keys().operator.public_key());
    assert_eq!(opts(&format!("trusted_keys: {a}")).trusted_keys, vec![a.clone()]);
    assert_eq!(opts(&format!("trusted: [{a}, {b}]")).trusted_keys, vec![a, b]);
    let account = keys().account.public_key();
    assert_err(
        &format!("trusted: [{account}]"),
        1,
        1,
        &format!("trusted key \"{account}\" is not a valid public operator nkey"),
    );
    assert_err(
        "trusted_keys: 5",
        1,
        1,
        "\"trusted_keys\" expects an operator public key or an array of them",
    );
}

#[test]
fn resolver_memory_and_full_map_to_resolver_config() {
    for text in ["MEMORY", "mem", "\"Memory\"", "{ type: memory }", "{ type: MEM }"] {
        assert_eq!(
            opts(&format!("resolver: {text}")).resolver,
            Some(ResolverConfig::Memory),
            "{text}"
        );
    }
    let o = opts("resolver { type: full, dir: \"/var/jwt\", allow_delete: true, interval: \"2m\", limit: 1000, timeout: \"1.9s\", sync: \"1m\" }");
    assert_eq!(
        o.resolver,
        Some(ResolverConfig::Full {
            dir: PathBuf::from("/var/jwt"),
            allow_delete: true,
        })
    );
    let o = opts("account_resolver { type: FULL, dir: \"./jwt\" }");
    assert_eq!(
        o.resolver,
        Some(ResolverConfig::Full {
            dir: PathBuf::from("./jwt"),
            allow_delete: false,
        })
    );
    let o = opts("accounts_resolver { type: full, dir: \"./jwt\", allow_delete: true, hard_delete: true }");
    assert!(matches!(
        o.resolver,
        Some(ResolverConfig::Full {
            allow_delete: true,
            ..
        })
    ));
}

#[test]
fn url_and_cache_resolvers_are_not_supported_yet() {
    let e = err("resolver: URL(http://localhost:9090/jwt/v1/accounts/)");
    assert_eq!(
        e,
        format!("{ORIGIN}:1:1: \"URL resolver\" is not supported by junction yet")
    );
    assert_err(
        "resolver {\n type: cache, dir: \"/tmp\"\n}",
        2,
        2,
        "\"resolver type CACHE\" is not supported by junction yet",
    );
}

#[test]
fn resolver_errors_name_the_problem() {
    assert_err(
        "resolver: bogus",
        1,
        1,
        "invalid value for \"resolver\": expected MEMORY, URL(\"url\")",
    );
    assert_err("resolver: 5", 1, 1, "\"resolver\" expects MEMORY or a map");
    assert_err(
        "resolver { dir: \"/tmp\" }",
        1,
        1,
        "expected MEMORY, URL(\"url\") or a map",
    );
    assert_err(
        "resolver { type: sideways, dir: \"/tmp\" }",
        1,
        12,
        "unknown resolver type \"SIDEWAYS\"",
    );
    assert_err(
        "resolver { type: full }",
        1,
        1,
        "dir has no value and needs to point to a directory",
    );
    assert_err(
        "resolver { type: full, dir: \"/tmp\", ttl: \"1m\" }",
        1,
        37,
        "a full resolver does not take ttl",
    );
    assert_err(
        "resolver { type: full, dir: \"/tmp\", hard_delete: true }",
        1,
        37,
        "hard_delete has no effect without allow_delete",
    );
    assert_err(
        "resolver { type: full, dir: \"/tmp\", zzz: 1 }",
        1,
        37,
        "unknown field \"zzz\"",
    );
    assert_err(
        "resolver { type: full, dir: \"/tmp\", interval: 5 }",
        1,
        37,
        "\"interval\" expects a duration string",
    );
    assert_err(
        "resolver { type: full, dir: \"/tmp\", limit: \"x\" }",
        1,
        37,
        "\"limit\" expects an integer",
    );
    assert_err(
        "resolver { type: full, dir: \"/tmp\", allow_delete: 1 }",
        1,
        37,
        "\"allow_delete\" expects a boolean",
    );
    let file = tempfile::NamedTempFile::new().unwrap();
    let e = err(&format!(
        "resolver {{ type: full, dir: \"{}\" }}",
        file.path().display()
    ));
    assert!(e.contains("is not a directory"), "{e}");
}

#[test]
fn resolver_preload_keeps_account_jwts_in_order() {
    let (k1, k2) = (keys(), keys());
    let (j1, j2) = (k1.account_jwt(), k2.account_jwt());
    let (p1, p2) = (k1.account.public_key(), k2.account.public_key());
    // Written in the opposite of sorted order, to show the order is the file's.
    let (first, second) = if p1 > p2 {
        ((p1, j1), (p2, j2))
    } else {
        ((p2, j2), (p1, j1))
    };
    let o = opts(&format!(
        "resolver: MEMORY\nresolver_preload {{\n {}: \"{}\"\n {}: \"{}\"\n}}",
        first.0, first.1, second.0, second.1
    ));
    assert_eq!(o.resolver_preload, vec![first, second]);
}

#[test]
fn resolver_preload_rejects_what_is_not_an_account_jwt() {
    let k = keys();
    let key = k.account.public_key();
    assert_err(
        &format!("resolver_preload {{\n {key}: garbage\n}}"),
        2,
        2,
        &format!("invalid value for \"{key}\": invalid account JWT: not a JWT"),
    );
    assert_err(
        &format!("resolver_preload {{\n {key}: \"{}\"\n}}", k.operator_jwt(None)),
        2,
        2,
        "invalid account JWT: not an account JWT (its type is \"operator\")",
    );
    assert_err(
        &format!("resolver_preload {{ {key}: 5 }}"),
        1,
        20,
        "expects a string, got an integer",
    );
    assert_err(
        "resolver_preload: 5",
        1,
        1,
        "\"resolver_preload\" expects a map of account public keys",
    );
}

// ----- the example files -----

fn example(name: &str) -> Options {
    let path = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/config")).join(name);
    load_options(&path).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn accounts_example_holds_accounts_exports_imports_and_users() {
    let o = example("accounts.conf");
    let names: Vec<&str> = o.accounts.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, vec!["ORDERS", "SHOP", "SYS"]);
    assert_eq!(o.system_account.as_deref(), Some("SYS"));
    assert_eq!(o.no_auth_user.as_deref(), Some("guest"));
    let orders = &o.accounts[0];
    assert_eq!(orders.exports[0].kind, ExportKind::Stream);
    assert_eq!(orders.exports[1].accounts, vec!["SHOP"]);
    let shop = &o.accounts[1];
    assert_eq!(shop.imports[0].prefix.as_deref(), Some("from-orders"));
    assert_eq!(shop.imports[1].to.as_deref(), Some("quote.get"));
    let pricing = o
        .users
        .iter()
        .find(|u| u.username.as_deref() == Some("pricing"))
        .unwrap();
    assert_eq!(pricing.account.as_deref(), Some("ORDERS"));
    let p = pricing.permissions.as_ref().unwrap();
    assert_eq!(p.publish.as_ref().unwrap().deny, vec!["orders.internal.>"]);
    assert_eq!(
        p.allow_responses,
        Some(ResponsePermission {
            max: 1,
            expires: Some(Duration::from_secs(60)),
        })
    );
    assert!(o.users.iter().any(|u| u.username.as_deref() == Some("guest")));
}

#[test]
fn auth_users_example_holds_users_with_permissions() {
    let o = example("auth-users.conf");
    assert_eq!(o.users.len(), 6);
    assert!(o.users.iter().all(|u| u.account.is_none()));
    assert_eq!(o.users[0], user("app", "s3cr3t"));
    assert!(o.users[1].password.as_deref().unwrap().starts_with("$2a$11$"));
    assert_eq!(o.default_permissions.as_ref().unwrap().publish, allow(&["app.>"]));
    assert_eq!(
        o.users[2].permissions.as_ref().unwrap().subscribe,
        allow(&["metrics.>"])
    );
    assert_eq!(
        o.users[3].permissions.as_ref().unwrap().allow_responses,
        Some(ResponsePermission::default())
    );
    assert_eq!(o.users[4].allowed_connection_types, vec!["WEBSOCKET"]);
    assert_eq!(o.users[5].nkey.as_deref(), Some(UKEY));
    assert_eq!(o.auth_timeout, Duration::from_secs(2));
}
