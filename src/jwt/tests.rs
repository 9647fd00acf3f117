//! Tests of the JWT codec, creds files and `junction auth`, including JWTs made by the Go tooling.

// JWTs and creds from the nats-server repository (server/configs/js-op.conf, server/configs/one.creds,
// server/opts_test.go, test/configs/nkeys/op.jwt), written by nsc / the Go jwt library.
const GO_OPERATOR: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.eyJqdGkiOiIyUkc0WjJKVzYzSUtBS1czSFg0SkpMQVhRN1ZSM0NKVlRQU1FHUVRCU0ZFQjVKTkNISUpRIiwiaWF0IjoxNjE2MTg2MjAxLCJpc3MiOiJPRDRNNklBQUtRU000RFFTTFdaSVZCQUNZVFlTMlM2WFFTN1U2N1hYWVhKNDRJTE5FMzVZUEdKSyIsIm5hbWUiOiJqcy10ZXN0Iiwic3ViIjoiT0Q0TTZJQUFLUVNNNERRU0xXWklWQkFDWVRZUzJTNlhRUzdVNjdYWFlYSjQ0SUxORTM1WVBHSksiLCJuYXRzIjp7InR5cGUiOiJvcGVyYXRvciIsInZlcnNpb24iOjJ9fQ.VkjSK2BlMmtYfVJSkC9aZEFvjg4BXzbd0oXkQa3Rlkhh8EuSRU7-Tp1zUm1SveBb6dZXsE51vhIQFQY66fO0Bw";
const GO_SYS_ACCOUNT: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.eyJqdGkiOiIyQ1dSRk80MlZVMk1TVlI0QkhIUFBEVjdJNERaTFZHWURZUlNXQ0pIVUM0Q1dRVkhXWjNBIiwiaWF0IjoxNjE2MTg2MzYxLCJpc3MiOiJPRDRNNklBQUtRU000RFFTTFdaSVZCQUNZVFlTMlM2WFFTN1U2N1hYWVhKNDRJTE5FMzVZUEdKSyIsIm5hbWUiOiJzeXMiLCJzdWIiOiJBRDRNMzRPUFJVUFdEWVRJUUxXS01FWlpNNU1LN1BRUURTS05FTENaRFJaWkVWRldPV1BMRlRVRSIsIm5hdHMiOnsibGltaXRzIjp7InN1YnMiOi0xLCJkYXRhIjotMSwicGF5bG9hZCI6LTEsImltcG9ydHMiOi0xLCJleHBvcnRzIjotMSwid2lsZGNhcmRzIjp0cnVlLCJjb25uIjotMSwibGVhZiI6LTF9LCJkZWZhdWx0X3Blcm1pc3Npb25zIjp7InB1YiI6e30sInN1YiI6e319LCJ0eXBlIjoiYWNjb3VudCIsInZlcnNpb24iOjJ9fQ.gExWTSaWWSYh9N_KsrOGPAJk0KJUn1VjVo00yfE6NoMXrmjkATDMoDLpKC19mrBNaMa6RZjhXyTdzJulxzxGBw";
const GO_ACCOUNT_ONE: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.eyJqdGkiOiJRSVFDRFpRRkRIUU9WQlc3Q0tDNFQzVzJJV0dZV1ZISjZTVTRSTlYzUFo3NUhTUFVQS1ZBIiwiaWF0IjoxNjE2MTg3MjUwLCJpc3MiOiJPRDRNNklBQUtRU000RFFTTFdaSVZCQUNZVFlTMlM2WFFTN1U2N1hYWVhKNDRJTE5FMzVZUEdKSyIsIm5hbWUiOiJvbmUiLCJzdWIiOiJBQlZSWktKNlo3TklNUElZSlJDSEVZRlJVTzdFTk42TldPS1FERkxGREZWUFNNMzZVUFgyVUNQUCIsIm5hdHMiOnsibGltaXRzIjp7InN1YnMiOi0xLCJkYXRhIjotMSwicGF5bG9hZCI6LTEsImltcG9ydHMiOi0xLCJleHBvcnRzIjotMSwid2lsZGNhcmRzIjp0cnVlLCJjb25uIjotMSwibGVhZiI6LTEsIm1lbV9zdG9yYWdlIjoxMDczNzQxODI0LCJkaXNrX3N0b3JhZ2UiOjEwNzM3NDE4MjQwLCJzdHJlYW1zIjoxMDB9LCJkZWZhdWx0X3Blcm1pc3Npb25zIjp7InB1YiI6e30sInN1YiI6e319LCJ0eXBlIjoiYWNjb3VudCIsInZlcnNpb24iOjJ9fQ.yYdE3AjpWMBt_rZVLSNmuxR28FP5-6fO_x6FMQl7xe7hmeEc--bbCBcw4ujEjtVkE62I21asKtu06vmW1fEsAg";
const GO_OPERATOR_WITH_SIGNING_KEY: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.eyJqdGkiOiIzTVJCS1BRTU1IUjdOQVFQU080NUlWTlkyMzVMRlQyTEs0WkZFVU1KWU9EWUJXU0RXWlRBIiwiaWF0IjoxNzI2NTYwMjAwLCJpc3MiOiJPQkxPR1VCSVVQSkhGVE00RjRaTE9CR1BMSlBJRjRTR0JDWUVERUtFUVNNWVVaTVFTMkRGTUUyWCIsIm5hbWUiOiJvcDIiLCJzdWIiOiJPQkxPR1VCSVVQSkhGVE00RjRaTE9CR1BMSlBJRjRTR0JDWUVERUtFUVNNWVVaTVFTMkRGTUUyWCIsIm5hdHMiOnsic2lnbmluZ19rZXlzIjpbIk9ES0xMSTZWWldWNk03V1RaV0I3MjVITE9MVFFRVERLNE5RR1ZFR0Q0Q083SjJMMlVJWk81U0dXIl0sInN5c3RlbV9hY2NvdW50IjoiQUNRVFdWR1NHSFlWWTNSNkQyV01PM1Y2TFYyTUdLNUI3RzQ3RTQzQkhKQjZGUVZZN0VITlRNTUciLCJ0eXBlIjoib3BlcmF0b3IiLCJ2ZXJzaW9uIjoyfX0.8kUmC6CwGLTJSs1zj_blsMpP5b6n2jZhZFNvMPXvJlRyyR5ZbCsxJ442BimaxaiosS8T-IFcZAIphtiOcqhRCg";
const GO_V1_OPERATOR: &str = "eyJ0eXAiOiJqd3QiLCJhbGciOiJlZDI1NTE5In0.eyJhdWQiOiJURVNUUyIsImV4cCI6MTg1OTEyMTI3NSwianRpIjoiWE5MWjZYWVBIVE1ESlFSTlFPSFVPSlFHV0NVN01JNVc1SlhDWk5YQllVS0VRVzY3STI1USIsImlhdCI6MTU0Mzc2MTI3NSwiaXNzIjoiT0NBVDMzTVRWVTJWVU9JTUdOR1VOWEo2NkFIMlJMU0RBRjNNVUJDWUFZNVFNSUw2NU5RTTZYUUciLCJuYW1lIjoiU3luYWRpYSBDb21tdW5pY2F0aW9ucyBJbmMuIiwibmJmIjoxNTQzNzYxMjc1LCJzdWIiOiJPQ0FUMzNNVFZVMlZVT0lNR05HVU5YSjY2QUgyUkxTREFGM01VQkNZQVk1UU1JTDY1TlFNNlhRRyIsInR5cGUiOiJvcGVyYXRvciIsIm5hdHMiOnsic2lnbmluZ19rZXlzIjpbIk9EU0tSN01ZRlFaNU1NQUo2RlBNRUVUQ1RFM1JJSE9GTFRZUEpSTUFWVk40T0xWMllZQU1IQ0FDIiwiT0RTS0FDU1JCV1A1MzdEWkRSVko2NTdKT0lHT1BPUTZLRzdUNEhONk9LNEY2SUVDR1hEQUhOUDIiLCJPRFNLSTM2TFpCNDRPWTVJVkNSNlA1MkZaSlpZTVlXWlZXTlVEVExFWjVUSzJQTjNPRU1SVEFCUiJdfX0.hyfz6E39BMUh0GLzovFfk3wT4OfualftjdJ_eYkLfPvu5tZubYQ_Pn9oFYGCV_6yKy3KMGhWGUCyCdHaPhalBw";
const GO_CREDS: &str = "\
-----BEGIN NATS USER JWT-----
eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.eyJqdGkiOiJHRUNQVEpISE1TM01DTUtMVFBHWUdBTzQ1R1E2TjZRUFlXUTRHUExBRUIzM1ZDUkpOUlZRIiwiaWF0IjoxNjE2MjQ3MjMyLCJpc3MiOiJBQlZSWktKNlo3TklNUElZSlJDSEVZRlJVTzdFTk42TldPS1FERkxGREZWUFNNMzZVUFgyVUNQUCIsIm5hbWUiOiJvbmUiLCJzdWIiOiJVRENJQkdHR0hDSkJRUE9PNFNDSkpCSFpEUjM3TlFHR0NJV01ORzJEREFLSjZXTUtCTUFLWElNTyIsIm5hdHMiOnsicHViIjp7fSwic3ViIjp7fSwic3VicyI6LTEsImRhdGEiOi0xLCJwYXlsb2FkIjotMSwidHlwZSI6InVzZXIiLCJ2ZXJzaW9uIjoyfX0.VLhSDtGZEF_jdvgmhgkdISXAt5wFMMZxxwm5w8UrsnlM1hkUvtxBlTe4IP0xJIf4xf8JOR2Bmf73xUGJKUZECQ
------END NATS USER JWT------

************************* IMPORTANT *************************
NKEY Seed printed below can be used to sign and prove identity.
NKEYs are sensitive and should be treated as secrets.

-----BEGIN USER NKEY SEED-----
SUAPCDMU5TSHHLWUUZSOUABJXP2GXRCZVEOVWPSVM5XRSXYGQMRRFDYNMY
------END USER NKEY SEED------

*************************************************************
";

use super::cli::{self, AddCommand, AddUserArgs, AuthCommand, StoreArgs};
use super::*;
use data_encoding::BASE64URL_NOPAD;
use nkeys::KeyPair;
use serde_json::json;

/// Base64url-decodes the claims part of a JWT.
fn payload_json(jwt: &str) -> String {
    let part = jwt.split('.').nth(1).expect("test JWT has a payload");
    String::from_utf8(BASE64URL_NOPAD.decode(part.as_bytes()).expect("base64")).expect("utf-8")
}

/// Signs arbitrary claims JSON as a v2 NATS JWT, bypassing `encode`'s checks.
fn sign_raw(claims: &serde_json::Value, signer: &KeyPair) -> String {
    let header = BASE64URL_NOPAD.encode(br#"{"typ":"JWT","alg":"ed25519-nkey"}"#);
    let payload = BASE64URL_NOPAD.encode(claims.to_string().as_bytes());
    let signed = format!("{header}.{payload}");
    let sig = signer.sign(signed.as_bytes()).expect("sign");
    format!("{signed}.{}", BASE64URL_NOPAD.encode(&sig))
}

fn go_user_jwt() -> String {
    parse_creds(GO_CREDS).expect("Go creds parse").0
}

#[test]
fn decodes_the_go_tooling_operator_account_user_chain() {
    let op = decode::<Operator>(GO_OPERATOR).expect("operator");
    assert_eq!(op.name, "js-test");
    assert_eq!(op.nats.generic.version, 2);
    let sys = decode::<Account>(GO_SYS_ACCOUNT).expect("sys account");
    let one = decode::<Account>(GO_ACCOUNT_ONE).expect("account one");
    assert_eq!(one.name, "one");
    assert_eq!(one.nats.limits.jetstream.mem_storage, 1_073_741_824);
    assert_eq!(one.nats.limits.jetstream.disk_storage, 10_737_418_240);
    assert_eq!(one.nats.limits.jetstream.streams, 100);
    assert!(one.nats.limits.jetstream_enabled());
    assert!(!sys.nats.limits.jetstream_enabled());
    assert_eq!(sys.nats.limits.conn, NO_LIMIT);
    assert!(op.did_sign(&sys) && op.did_sign(&one));
    let user = decode::<User>(&go_user_jwt()).expect("user");
    assert_eq!(user.name, "one");
    assert_eq!(user.nats.limits.subs, NO_LIMIT);
    assert!(one.did_sign(&user));
    assert!(!sys.did_sign(&user));
    assert_eq!(user.account(), one.sub);
    assert!(!one.is_user_revoked(&user));
}

#[test]
fn decodes_a_go_operator_with_signing_keys_and_system_account() {
    let op = decode::<Operator>(GO_OPERATOR_WITH_SIGNING_KEY).expect("op2");
    assert_eq!(op.name, "op2");
    assert_eq!(
        op.nats.signing_keys,
        vec!["ODKLLI6VZWV6M7WTZWB725HLOLTQQTDK4NQGVEGD4CO7J2L2UIZO5SGW"]
    );
    assert_eq!(
        op.nats.system_account,
        "ACQTWVGSGHYVY3R6D2WMO3V6LV2MGK5B7G47E43BHJB6FQVY7EHNTMMG"
    );
    assert!(op.may_sign("ODKLLI6VZWV6M7WTZWB725HLOLTQQTDK4NQGVEGD4CO7J2L2UIZO5SGW"));
    assert!(op.may_sign(&op.sub));
    assert!(!op.may_sign("OD4M6IAAKQSM4DQSLWZIVBACYTYS2S6XQS7U67XXYXJ44ILNE35YPGJK"));
}

#[test]
fn decodes_a_v1_operator_with_the_legacy_algorithm() {
    let op = decode_without_time_check::<Operator>(GO_V1_OPERATOR).expect("v1 operator");
    assert_eq!(op.name, "Synadia Communications Inc.");
    assert_eq!(op.nats.generic.version, 1);
    assert_eq!(op.nats.generic.kind, "operator");
    assert_eq!(op.nats.signing_keys.len(), 3);
    assert_eq!(op.aud.as_deref(), Some("TESTS"));
    assert_eq!(op.exp, Some(1_859_121_275));
    assert_eq!(op.check_times_at(1_859_121_276), Err(JwtError::Expired));
    assert_eq!(op.check_times_at(1_543_761_274), Err(JwtError::NotYetValid));
    assert!(!op.extra.contains_key("type"));
}

#[test]
fn jwt_id_is_computed_as_the_go_library_does() {
    for jwt in [
        GO_OPERATOR,
        GO_SYS_ACCOUNT,
        GO_ACCOUNT_ONE,
        GO_OPERATOR_WITH_SIGNING_KEY,
    ] {
        let v: serde_json::Value = serde_json::from_str(&payload_json(jwt)).expect("json");
        let claims: Claims<serde_json::Value> = serde_json::from_value(v).expect("claims");
        let mut unset = claims.clone();
        unset.jti = String::new();
        assert_eq!(
            compute_jti(&unset).expect("jti"),
            claims.jti,
            "jti of {}",
            claims.name
        );
    }
    let user = decode::<User>(&go_user_jwt()).expect("user");
    assert_eq!(compute_jti(&user).expect("jti"), user.jti);
}

impl ClaimKind for serde_json::Value {
    const TYPE: &'static str = "any";
    const ISSUER_PREFIXES: &'static [char] = &[];
    const SUBJECT_PREFIX: char = '?';
    fn kind(&self) -> &str {
        ""
    }
    fn set_type_version(&mut self, _version: u32) {}
    fn version(&self) -> u32 {
        0
    }
}

#[test]
fn re_serializing_go_claims_gives_the_same_json_bytes() {
    // Field order and omitted empty fields match Go's encoding/json output exactly.
    assert_eq!(
        serde_json::to_string(&decode::<Operator>(GO_OPERATOR).expect("op")).expect("json"),
        payload_json(GO_OPERATOR)
    );
    assert_eq!(
        serde_json::to_string(&decode::<Operator>(GO_OPERATOR_WITH_SIGNING_KEY).expect("op")).expect("json"),
        payload_json(GO_OPERATOR_WITH_SIGNING_KEY)
    );
    for jwt in [GO_SYS_ACCOUNT, GO_ACCOUNT_ONE] {
        let acct = decode::<Account>(jwt).expect("account");
        assert_eq!(serde_json::to_string(&acct).expect("json"), payload_json(jwt));
    }
    let user_jwt = go_user_jwt();
    let user = decode::<User>(&user_jwt).expect("user");
    assert_eq!(
        serde_json::to_string(&user).expect("json"),
        payload_json(&user_jwt)
    );
}

#[test]
fn new_claims_encode_with_the_same_defaults_as_the_go_library() {
    let acct_kp = KeyPair::new_account();
    let user_kp = KeyPair::new_user();
    let jwt = encode(&UserClaims::new("u", user_kp.public_key()), &acct_kp).expect("encode");
    let v: serde_json::Value = serde_json::from_str(&payload_json(&jwt)).expect("json");
    assert_eq!(
        v["nats"],
        json!({"pub": {}, "sub": {}, "subs": -1, "data": -1, "payload": -1, "type": "user", "version": 2})
    );
    assert!(jwt.starts_with("eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ."));

    let op_kp = KeyPair::new_operator();
    let jwt = encode(&AccountClaims::new("a", acct_kp.public_key()), &op_kp).expect("encode");
    let v: serde_json::Value = serde_json::from_str(&payload_json(&jwt)).expect("json");
    let sys: serde_json::Value = serde_json::from_str(&payload_json(GO_SYS_ACCOUNT)).expect("json");
    assert_eq!(v["nats"], sys["nats"]);
}

#[test]
fn operator_claims_round_trip() {
    let op_kp = KeyPair::new_operator();
    let sk = KeyPair::new_operator();
    let mut claims = OperatorClaims::new("op", op_kp.public_key());
    claims.nats.signing_keys.push(sk.public_key());
    claims.nats.system_account = KeyPair::new_account().public_key();
    claims.nats.account_server_url = "http://localhost:9090/jwt/v1".into();
    claims.nats.operator_service_urls = vec!["nats://localhost:4222".into()];
    claims.nats.generic.tags = vec!["t1".into()];
    let jwt = encode(&claims, &op_kp).expect("encode");
    let back = decode::<Operator>(&jwt).expect("decode");
    assert_eq!(back.iss, op_kp.public_key());
    assert!(back.iat > 0 && !back.jti.is_empty());
    assert_eq!(back.nats.generic.kind, "operator");
    assert_eq!(back.nats.generic.version, 2);
    let mut expected = claims.clone();
    expected.iss = back.iss.clone();
    expected.iat = back.iat;
    expected.jti = back.jti.clone();
    expected.nats.set_type_version(2);
    assert_eq!(back, expected);
    assert_eq!(compute_jti(&back).map(|_| ()), Ok(()));
}

#[test]
fn account_claims_round_trip() {
    let op_kp = KeyPair::new_operator();
    let acct_kp = KeyPair::new_account();
    let other = KeyPair::new_account().public_key();
    let mut claims = AccountClaims::new("acct", acct_kp.public_key());
    claims.exp = Some(now_unix() + 3600);
    claims.nats.exports = vec![
        Export {
            subject: "svc.>".into(),
            export_type: Some(ExportType::Service),
            response_type: "Stream".into(),
            token_req: true,
            ..Export::default()
        },
        Export {
            subject: "events.>".into(),
            export_type: Some(ExportType::Stream),
            ..Export::default()
        },
    ];
    claims.nats.imports = vec![Import {
        subject: "prices.>".into(),
        account: other.clone(),
        local_subject: "ext.prices.>".into(),
        import_type: Some(ExportType::Stream),
        ..Import::default()
    }];
    claims.nats.limits.conn = 10;
    claims.nats.limits.jetstream.disk_storage = NO_LIMIT;
    claims.nats.signing_keys = vec![SigningKey::Key(KeyPair::new_account().public_key())];
    claims.nats.default_permissions.publish.deny = vec!["secret.>".into()];
    claims.revoke_at(&KeyPair::new_user().public_key(), 1_700_000_000);
    let jwt = encode(&claims, &op_kp).expect("encode");
    let back = decode::<Account>(&jwt).expect("decode");
    // Exports are sorted by subject on encode, as Go does.
    assert_eq!(back.nats.exports[0].subject, "events.>");
    assert_eq!(back.nats.exports[1].export_type, Some(ExportType::Service));
    assert!(back.nats.exports[1].token_req);
    assert_eq!(back.nats.imports, claims.nats.imports);
    assert_eq!(back.nats.limits, claims.nats.limits);
    assert_eq!(back.nats.signing_keys, claims.nats.signing_keys);
    assert_eq!(back.nats.revocations, claims.nats.revocations);
    assert_eq!(back.nats.default_permissions, claims.nats.default_permissions);
    assert_eq!(back.exp, claims.exp);
    // A self-signed account JWT is accepted; one signed by another account is not.
    assert!(decode::<Account>(&encode(&claims, &acct_kp).expect("self-signed")).is_ok());
    assert!(matches!(
        encode(&claims, &KeyPair::new_account()),
        Err(JwtError::BadIssuer(_))
    ));
}

#[test]
fn user_claims_round_trip() {
    let acct_kp = KeyPair::new_account();
    let user_kp = KeyPair::new_user();
    let mut claims = UserClaims::new("alice", user_kp.public_key());
    let l = &mut claims.nats.limits;
    l.publish = Permission {
        allow: vec!["orders.>".into()],
        deny: vec!["orders.secret".into()],
    };
    l.subscribe = Permission {
        allow: vec!["_INBOX.>".into()],
        deny: vec![],
    };
    l.resp = Some(ResponsePermission {
        max: 1,
        ttl: 5_000_000_000,
    });
    l.src = vec!["192.168.0.0/16".into()];
    l.times = vec![TimeRange {
        start: "08:00:00".into(),
        end: "17:00:00".into(),
    }];
    l.times_location = "Europe/Berlin".into();
    l.payload = 1024;
    l.bearer_token = true;
    l.allowed_connection_types = vec!["STANDARD".into(), "WEBSOCKET".into()];
    claims.nats.generic.tags = vec!["team-a".into()];
    claims.nbf = Some(now_unix() - 10);
    let jwt = encode(&claims, &acct_kp).expect("encode");
    let back = decode::<User>(&jwt).expect("decode");
    assert_eq!(back.nats.limits, claims.nats.limits);
    assert_eq!(back.nats.generic.tags, claims.nats.generic.tags);
    assert_eq!(back.nbf, claims.nbf);
    assert_eq!(back.sub, user_kp.public_key());
    assert_eq!(back.iss, acct_kp.public_key());
    let v: serde_json::Value = serde_json::from_str(&payload_json(&jwt)).expect("json");
    assert_eq!(v["nats"]["resp"], json!({"max": 1, "ttl": 5_000_000_000i64}));
    assert_eq!(v["nats"]["pub"]["allow"], json!(["orders.>"]));
}

#[test]
fn user_signed_by_an_account_signing_key_names_its_account() {
    let acct_kp = KeyPair::new_account();
    let signing = KeyPair::new_account();
    let mut acct = AccountClaims::new("a", acct_kp.public_key());
    acct.nats.signing_keys.push(SigningKey::Key(signing.public_key()));
    let mut user = UserClaims::new("u", KeyPair::new_user().public_key());
    user.nats.issuer_account = acct_kp.public_key();
    let back = decode::<User>(&encode(&user, &signing).expect("encode")).expect("decode");
    assert_eq!(back.nats.issuer_account, acct_kp.public_key());
    assert_eq!(back.account(), acct_kp.public_key());
    assert!(acct.did_sign(&back));
    // Without the signing key listed, or without issuer_account, the account did not sign it.
    let mut stranger = acct.clone();
    stranger.nats.signing_keys.clear();
    assert!(!stranger.did_sign(&back));
    let mut no_issuer_account = back.clone();
    no_issuer_account.nats.issuer_account.clear();
    assert!(!acct.did_sign(&no_issuer_account));
}

#[test]
fn scoped_signing_keys_and_unknown_fields_are_accepted() {
    let op_kp = KeyPair::new_operator();
    let acct = KeyPair::new_account().public_key();
    let plain = KeyPair::new_account().public_key();
    let scoped = KeyPair::new_account().public_key();
    let claims = json!({
        "jti": "X", "iat": 1_700_000_000, "iss": op_kp.public_key(), "name": "acct", "sub": acct,
        "future_top_level": {"a": [1, 2]},
        "nats": {
            "signing_keys": [plain, {
                "kind": "user_scope", "key": scoped, "role": "dev",
                "template": {"pub": {"allow": ["dev.>"]}, "sub": {}, "subs": -1, "src": "10.0.0.0/8,192.168.1.0/24"},
                "description": "developers"
            }],
            "mappings": {"a.*": [{"subject": "b.$1", "weight": 100}]},
            "trace": {"dest": "trace.subject", "sampling": 50},
            "cluster_traffic": "owner",
            "brand_new_field": true,
            "limits": {"subs": -1, "tiered_limits": {"R1": {"disk_storage": -1, "streams": 5}}},
            "exports": [{"subject": "x.>", "type": "service", "service_latency": {"sampling": "headers", "results": "lat"}}],
            "type": "account", "version": 2
        }
    });
    let jwt = sign_raw(&claims, &op_kp);
    let acct_claims = decode::<Account>(&jwt).expect("decode");
    assert_eq!(
        acct_claims.signing_key_list(),
        vec![plain.as_str(), scoped.as_str()]
    );
    let scope = acct_claims.scope_of(&scoped).expect("scope");
    assert_eq!(scope.role, "dev");
    assert_eq!(scope.template.publish.allow, vec!["dev.>"]);
    assert_eq!(scope.template.src, vec!["10.0.0.0/8", "192.168.1.0/24"]);
    assert!(acct_claims.nats.limits.jetstream_enabled());
    assert_eq!(acct_claims.nats.generic.extra["brand_new_field"], json!(true));
    assert_eq!(acct_claims.extra["future_top_level"], json!({"a": [1, 2]}));
    // Re-signing keeps everything.
    let again = decode::<Account>(&encode(&acct_claims, &op_kp).expect("encode")).expect("decode");
    assert_eq!(again.nats.signing_keys, acct_claims.nats.signing_keys);
    assert_eq!(again.nats.mappings, acct_claims.nats.mappings);
    assert_eq!(again.nats.generic.extra, acct_claims.nats.generic.extra);
    assert_eq!(again.extra, acct_claims.extra);
    assert_eq!(
        again.nats.exports[0].service_latency,
        acct_claims.nats.exports[0].service_latency
    );
}

#[test]
fn tampered_signature_is_detected() {
    let jwt = go_user_jwt();
    let (rest, sig) = jwt.rsplit_once('.').expect("3 parts");
    let mut raw = BASE64URL_NOPAD.decode(sig.as_bytes()).expect("sig");
    raw[10] ^= 0x01;
    let forged = format!("{rest}.{}", BASE64URL_NOPAD.encode(&raw));
    assert_eq!(decode::<User>(&forged), Err(JwtError::BadSignature));
    // A signature by another key of the right kind is also rejected.
    let other = sign_raw(
        &serde_json::from_str(&payload_json(&jwt)).expect("json"),
        &KeyPair::new_account(),
    );
    assert_eq!(decode::<User>(&other), Err(JwtError::BadSignature));
}

#[test]
fn tampered_claims_are_detected() {
    let jwt = go_user_jwt();
    let parts: Vec<&str> = jwt.split('.').collect();
    let payload = payload_json(&jwt).replace(r#""subs":-1"#, r#""subs":1000"#);
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        BASE64URL_NOPAD.encode(payload.as_bytes()),
        parts[2]
    );
    assert_eq!(decode::<User>(&forged), Err(JwtError::BadSignature));
    // Swapping the header for the v1 one changes the signed bytes too.
    let v1_header = BASE64URL_NOPAD.encode(br#"{"typ":"JWT","alg":"ed25519"}"#);
    let forged = format!("{v1_header}.{}.{}", parts[1], parts[2]);
    assert!(decode::<User>(&forged).is_err());
}

#[test]
fn malformed_tokens_and_foreign_algorithms_are_rejected() {
    for bad in ["", "abc", "a.b", "a.b.c.d", "!!!.e30.AA"] {
        assert!(
            matches!(decode::<User>(bad), Err(JwtError::Malformed(_))),
            "{bad:?}"
        );
    }
    let jwt = go_user_jwt();
    let parts: Vec<&str> = jwt.split('.').collect();
    let hs = BASE64URL_NOPAD.encode(br#"{"typ":"JWT","alg":"HS256"}"#);
    let forged = format!("{hs}.{}.{}", parts[1], parts[2]);
    assert!(matches!(decode::<User>(&forged), Err(JwtError::Malformed(_))));
    let not_json = format!(
        "{}.{}.{}",
        parts[0],
        BASE64URL_NOPAD.encode(b"not json"),
        parts[2]
    );
    assert!(matches!(decode::<User>(&not_json), Err(JwtError::Malformed(_))));
}

#[test]
fn expired_and_not_yet_valid_are_reported_separately() {
    let acct_kp = KeyPair::new_account();
    let mut claims = UserClaims::new("u", KeyPair::new_user().public_key());
    claims.exp = Some(now_unix() - 5);
    let jwt = encode(&claims, &acct_kp).expect("encode");
    assert_eq!(decode::<User>(&jwt), Err(JwtError::Expired));
    let read = decode_without_time_check::<User>(&jwt).expect("still readable");
    assert!(read.is_expired_at(now_unix()));
    assert_eq!(read.check_times(), Err(JwtError::Expired));

    claims.exp = None;
    claims.nbf = Some(now_unix() + 3600);
    let jwt = encode(&claims, &acct_kp).expect("encode");
    assert_eq!(decode::<User>(&jwt), Err(JwtError::NotYetValid));
}

#[test]
fn wrong_claim_type_is_reported() {
    let err = decode::<Account>(&go_user_jwt());
    assert_eq!(
        err,
        Err(JwtError::WrongType {
            expected: "account",
            found: "user".into()
        })
    );
    assert!(matches!(
        decode::<User>(GO_OPERATOR),
        Err(JwtError::WrongType { .. })
    ));
    assert!(matches!(
        decode::<Operator>(GO_ACCOUNT_ONE),
        Err(JwtError::WrongType { .. })
    ));
}

#[test]
fn wrong_issuer_or_subject_kind_is_rejected() {
    let user_kp = KeyPair::new_user();
    let claims = UserClaims::new("u", user_kp.public_key());
    // Users are issued by accounts, not operators or users.
    assert!(matches!(
        encode(&claims, &KeyPair::new_operator()),
        Err(JwtError::BadIssuer(_))
    ));
    assert!(matches!(encode(&claims, &user_kp), Err(JwtError::BadIssuer(_))));
    // Accounts are issued by operators; operators by themselves.
    let acct = AccountClaims::new("a", KeyPair::new_account().public_key());
    assert!(matches!(
        encode(&acct, &KeyPair::new_user()),
        Err(JwtError::BadIssuer(_))
    ));
    let op_kp = KeyPair::new_operator();
    let op = OperatorClaims::new("o", op_kp.public_key());
    assert!(matches!(
        encode(&op, &KeyPair::new_account()),
        Err(JwtError::BadIssuer(_))
    ));
    // The subject must be a key of the kind described.
    let bad_sub = UserClaims::new("u", KeyPair::new_account().public_key());
    assert!(matches!(
        encode(&bad_sub, &KeyPair::new_account()),
        Err(JwtError::BadSubject(_))
    ));

    // A correctly signed user JWT whose issuer is an operator key is rejected on decode.
    let forged = sign_raw(
        &json!({"iat": 1, "iss": op_kp.public_key(), "sub": user_kp.public_key(),
                "nats": {"type": "user", "version": 2}}),
        &op_kp,
    );
    assert!(matches!(decode::<User>(&forged), Err(JwtError::BadIssuer(_))));
    // A JWT claiming an issuer that is not an nkey at all.
    let garbage = sign_raw(
        &json!({"iss": "nobody", "sub": user_kp.public_key(), "nats": {"type": "user"}}),
        &op_kp,
    );
    assert!(matches!(decode::<User>(&garbage), Err(JwtError::BadIssuer(_))));
}

#[test]
fn newer_claim_versions_are_refused() {
    let acct_kp = KeyPair::new_account();
    let jwt = sign_raw(
        &json!({"iat": 1, "iss": acct_kp.public_key(), "sub": KeyPair::new_user().public_key(),
                "nats": {"type": "user", "version": 3}}),
        &acct_kp,
    );
    assert!(matches!(decode::<User>(&jwt), Err(JwtError::Malformed(_))));
}

#[test]
fn revocations_follow_the_go_rules() {
    let mut acct = AccountClaims::new("a", KeyPair::new_account().public_key());
    let user = KeyPair::new_user().public_key();
    acct.revoke_at(&user, 1000);
    assert!(acct.is_revoked(&user, 999));
    assert!(acct.is_revoked(&user, 1000));
    assert!(!acct.is_revoked(&user, 1001));
    // An older time never moves a revocation back.
    acct.revoke_at(&user, 500);
    assert!(acct.is_revoked(&user, 1000));
    let other = KeyPair::new_user().public_key();
    assert!(!acct.is_revoked(&other, 10));
    acct.revoke_at(REVOKE_ALL, 2000);
    assert!(acct.is_revoked(&other, 1999));
    assert!(!acct.is_revoked(&other, 2001));
}

#[test]
fn creds_are_written_byte_for_byte_as_nsc_writes_them() {
    let (jwt, seed) = parse_creds(GO_CREDS).expect("parse");
    assert!(jwt.starts_with("eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ."));
    assert_eq!(seed, "SUAPCDMU5TSHHLWUUZSOUABJXP2GXRCZVEOVWPSVM5XRSXYGQMRRFDYNMY");
    assert_eq!(format_creds(&jwt, &seed), GO_CREDS);
}

#[test]
fn creds_round_trip_and_are_read_by_async_nats() {
    let acct_kp = KeyPair::new_account();
    let user_kp = KeyPair::new_user();
    let jwt = encode(&UserClaims::new("u", user_kp.public_key()), &acct_kp).expect("encode");
    let seed = user_kp.seed().expect("seed");
    let text = format_creds(&jwt, &seed);
    assert_eq!(parse_creds(&text), Ok((jwt.clone(), seed.clone())));
    assert!(async_nats::ConnectOptions::with_credentials(&text).is_ok());
    // Windows line endings are accepted too.
    assert_eq!(parse_creds(&text.replace('\n', "\r\n")), Ok((jwt, seed)));
    assert!(async_nats::ConnectOptions::with_credentials(GO_CREDS).is_ok());
}

#[test]
fn broken_creds_are_rejected() {
    assert!(matches!(parse_creds(""), Err(JwtError::Creds(_))));
    assert!(matches!(parse_creds("hello\nworld\n"), Err(JwtError::Creds(_))));
    let only_jwt = format_decorated_jwt("user", &go_user_jwt());
    assert!(matches!(parse_creds(&only_jwt), Err(JwtError::Creds(_))));
    let bad_seed = GO_CREDS.replace("SUAPCDMU5TSH", "SUAPCDMU5TSX");
    assert!(matches!(parse_creds(&bad_seed), Err(JwtError::Creds(_))));
}

#[test]
fn decorated_jwts_and_seeds() {
    let decorated = format_decorated_jwt("operator", GO_OPERATOR);
    assert!(decorated.starts_with("-----BEGIN NATS OPERATOR JWT-----\n"));
    assert_eq!(parse_decorated_jwt(&decorated), GO_OPERATOR);
    assert_eq!(parse_decorated_jwt(&format!("  {GO_OPERATOR}\n")), GO_OPERATOR);
    // The v1 test file uses a "TEST OPERATOR" banner.
    let v1_file =
        format!("-----BEGIN TEST OPERATOR JWT-----\n{GO_V1_OPERATOR}\n------END TEST OPERATOR JWT------\n");
    assert_eq!(parse_decorated_jwt(&v1_file), GO_V1_OPERATOR);
    let seed = KeyPair::new_account().seed().expect("seed");
    assert!(format_decorated_seed(&seed)
        .expect("seed")
        .contains("-----BEGIN ACCOUNT NKEY SEED-----"));
    assert!(format_decorated_seed("nope").is_err());
}

#[test]
fn creds_written_here_are_read_by_nats_py() {
    // nats-py reads the line after each BEGIN marker itself; run its parser when it is installed.
    let probe = std::process::Command::new("python3")
        .args(["-c", "import nats"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!("nats-py not installed: skipped");
        return;
    }
    let acct_kp = KeyPair::new_account();
    let user_kp = KeyPair::new_user();
    let jwt = encode(&UserClaims::new("u", user_kp.public_key()), &acct_kp).expect("encode");
    let seed = user_kp.seed().expect("seed");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("u.creds");
    std::fs::write(&path, format_creds(&jwt, &seed)).expect("write");
    let script = "import sys\nfrom nats.aio.client import Client\nc = Client()\n\
                  print(bytes(c._read_creds_user_jwt(sys.argv[1])).decode())\n\
                  print(bytes(c._read_creds_user_nkey(sys.argv[1])).decode())\n";
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&path)
        .output()
        .expect("python3");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{jwt}\n{seed}\n"));
}

#[test]
fn nonce_signatures_verify_in_both_encodings() {
    let user_kp = KeyPair::new_user();
    let seed = user_kp.seed().expect("seed");
    let sig = sign_nonce(&seed, "abcdef").expect("sign");
    assert!(!sig.contains('=') && !sig.contains('+') && !sig.contains('/'));
    assert_eq!(verify_nonce(&user_kp.public_key(), "abcdef", &sig), Ok(()));
    assert_eq!(
        verify_nonce(&user_kp.public_key(), "abcdeg", &sig),
        Err(JwtError::BadSignature)
    );
    // nats-py sends standard base64.
    let raw = BASE64URL_NOPAD.decode(sig.as_bytes()).expect("sig");
    let std_sig = data_encoding::BASE64.encode(&raw);
    assert_eq!(verify_nonce(&user_kp.public_key(), "abcdef", &std_sig), Ok(()));
    assert_eq!(
        verify_nonce(&KeyPair::new_user().public_key(), "abcdef", &sig),
        Err(JwtError::BadSignature)
    );
    assert!(sign_nonce("not a seed", "x").is_err());
}

#[test]
fn go_json_escaping_is_used_for_the_jwt_id() {
    // Go escapes <, > and & in strings; the id must hash the same bytes.
    assert_eq!(
        go_json_escape(r#"{"name":"a<b>&c"}"#.into()),
        r#"{"name":"a\u003cb\u003e\u0026c"}"#
    );
    let acct_kp = KeyPair::new_account();
    let jwt = encode(
        &UserClaims::new("<&>", KeyPair::new_user().public_key()),
        &acct_kp,
    )
    .expect("encode");
    let back = decode::<User>(&jwt).expect("decode");
    assert_eq!(back.name, "<&>");
    assert!(payload_json(&jwt).contains(r#""name":"\u003c\u0026\u003e""#));
}

// ----- junction auth -----

fn store(dir: &std::path::Path) -> StoreArgs {
    StoreArgs {
        dir: Some(dir.to_path_buf()),
    }
}

fn read(path: std::path::PathBuf) -> String {
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[derive(clap::Parser, Debug)]
struct TestCli {
    #[command(subcommand)]
    cmd: AuthCommand,
}

fn parse(args: &[&str]) -> AuthCommand {
    use clap::Parser;
    let mut argv = vec!["auth"];
    argv.extend_from_slice(args);
    TestCli::try_parse_from(argv)
        .unwrap_or_else(|e| panic!("{e}"))
        .cmd
}

#[test]
fn auth_init_builds_a_verifiable_operator_account_user_chain() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("auth");
    let d = dir.to_str().expect("utf-8 path");
    cli::run(parse(&[
        "init",
        "--operator",
        "acme",
        "--account",
        "APP",
        "--user",
        "alice",
        "--signing-key",
        "--dir",
        d,
    ]))
    .expect("init");

    let op = decode::<Operator>(read(dir.join("operator/acme.jwt")).trim()).expect("operator");
    assert_eq!(op.name, "acme");
    assert_eq!(op.nats.signing_keys.len(), 1);
    let sys = decode::<Account>(read(dir.join("accounts/SYS.jwt")).trim()).expect("SYS");
    assert_eq!(op.nats.system_account, sys.sub);
    let app = decode::<Account>(read(dir.join("accounts/APP.jwt")).trim()).expect("APP");
    // Accounts are signed by the operator signing key.
    assert_eq!(app.iss, op.nats.signing_keys[0]);
    assert!(op.did_sign(&app) && op.did_sign(&sys));

    let (jwt, seed) = parse_creds(&read(dir.join("users/APP/alice.creds"))).expect("creds");
    let alice = decode::<User>(&jwt).expect("alice");
    assert!(app.did_sign(&alice));
    assert_eq!(KeyPair::from_seed(&seed).expect("seed").public_key(), alice.sub);
    assert!(async_nats::ConnectOptions::with_credentials(&read(dir.join("users/APP/alice.creds"))).is_ok());
    assert!(dir.join("users/SYS/sys.creds").exists());

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for secret in [
            "operator/acme.nk",
            "operator/acme.signing.nk",
            "accounts/APP.nk",
            "users/APP/alice.nk",
            "users/APP/alice.creds",
        ] {
            let mode = std::fs::metadata(dir.join(secret))
                .expect("meta")
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(mode, 0o600, "{secret}");
        }
    }
    // A second init into the same store is refused.
    assert!(cli::run(parse(&["init", "--dir", d])).is_err());
}

#[test]
fn auth_add_user_with_permissions_expiry_and_bearer() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let d = dir.to_str().expect("utf-8 path");
    cli::run(parse(&["init", "--dir", d])).expect("init");
    // With one account besides SYS, --account may be left out.
    cli::run(parse(&[
        "add",
        "user",
        "bob",
        "--allow-pub",
        "orders.>",
        "--allow-pub",
        "audit.>",
        "--allow-sub",
        "_INBOX.>",
        "--deny-pub",
        "orders.secret",
        "--deny-sub",
        "x",
        "--allow-pub-response",
        "--expiry",
        "1h",
        "--bearer",
        "--dir",
        d,
    ]))
    .expect("add user");
    let bob = decode::<User>(read(dir.join("users/APP/bob.jwt")).trim()).expect("bob");
    let p = &bob.nats.limits;
    assert_eq!(p.publish.allow, vec!["orders.>", "audit.>"]);
    assert_eq!(p.publish.deny, vec!["orders.secret"]);
    assert_eq!(p.subscribe.allow, vec!["_INBOX.>"]);
    assert_eq!(p.subscribe.deny, vec!["x"]);
    assert_eq!(p.resp, Some(ResponsePermission { max: 1, ttl: 0 }));
    assert!(bob.nats.limits.bearer_token);
    let exp = bob.exp.expect("expiry");
    assert!((exp - now_unix() - 3600).abs() <= 5);
    // Duplicates and unknown accounts are errors.
    assert!(cli::run(parse(&["add", "user", "bob", "--dir", d])).is_err());
    assert!(cli::run(parse(&["add", "user", "carol", "--account", "NOPE", "--dir", d])).is_err());
    assert!(cli::run(parse(&["add", "user", "../evil", "--dir", d])).is_err());
    assert!(cli::run(parse(&["add", "user", "dave", "--expiry", "soon", "--dir", d])).is_err());
}

#[test]
fn auth_add_account_revoke_export_import_and_config() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let d = dir.to_str().expect("utf-8 path");
    cli::run(parse(&["init", "--js", "--dir", d])).expect("init");
    cli::run(parse(&["add", "account", "DATA", "--js", "--dir", d])).expect("add account");
    let data = decode::<Account>(read(dir.join("accounts/DATA.jwt")).trim()).expect("DATA");
    assert!(data.nats.limits.jetstream_enabled());
    assert!(cli::run(parse(&["add", "account", "DATA", "--dir", d])).is_err());
    // Two accounts besides SYS: --account is needed now.
    assert!(cli::run(parse(&["add", "user", "x", "--dir", d])).is_err());
    cli::run(parse(&["add", "user", "eve", "--account", "DATA", "--dir", d])).expect("add eve");

    cli::run(parse(&["revoke", "user", "eve", "--account", "DATA", "--dir", d])).expect("revoke");
    let data = decode::<Account>(read(dir.join("accounts/DATA.jwt")).trim()).expect("DATA");
    let eve = decode::<User>(read(dir.join("users/DATA/eve.jwt")).trim()).expect("eve");
    assert!(data.is_user_revoked(&eve));
    assert!(cli::run(parse(&[
        "revoke",
        "user",
        "nobody",
        "--account",
        "DATA",
        "--dir",
        d
    ]))
    .is_err());

    cli::run(parse(&[
        "add",
        "export",
        "--account",
        "DATA",
        "--subject",
        "prices.>",
        "--dir",
        d,
    ]))
    .expect("export");
    cli::run(parse(&[
        "add",
        "import",
        "--account",
        "APP",
        "--from",
        "DATA",
        "--subject",
        "prices.>",
        "--local-subject",
        "ext.prices.>",
        "--dir",
        d,
    ]))
    .expect("import");
    let data = decode::<Account>(read(dir.join("accounts/DATA.jwt")).trim()).expect("DATA");
    let app = decode::<Account>(read(dir.join("accounts/APP.jwt")).trim()).expect("APP");
    assert_eq!(data.nats.exports[0].export_type, Some(ExportType::Stream));
    assert_eq!(app.nats.imports[0].account, data.sub);
    assert_eq!(app.nats.imports[0].local_subject, "ext.prices.>");
    // Re-signing kept the revocation.
    assert!(data.is_user_revoked(&eve));

    let conf = cli::testing::config_text_for(dir, None).expect("config");
    let op = decode::<Operator>(read(dir.join("operator/junction.jwt")).trim()).expect("op");
    assert!(conf.contains("operator: \""));
    assert!(conf.contains("operator/junction.jwt\"\n"));
    assert!(conf.contains(&format!("system_account: {}\n", op.nats.system_account)));
    assert!(conf.contains("resolver: MEMORY\n"));
    for name in ["SYS", "APP", "DATA"] {
        let jwt = read(dir.join(format!("accounts/{name}.jwt")));
        let acct = decode::<Account>(jwt.trim()).expect("account");
        assert!(
            conf.contains(&format!("  {}: \"{}\"\n", acct.sub, jwt.trim())),
            "{name} preloaded"
        );
    }
    let full = cli::testing::config_text_for(dir, Some(std::path::Path::new("/var/jwt"))).expect("config");
    assert!(full.contains("resolver: {\n  type: full\n  dir: \"/var/jwt\""));

    cli::run(AuthCommand::List(store(dir))).expect("list");
    cli::run(parse(&[
        "describe",
        dir.join("users/APP/app.creds").to_str().expect("path"),
    ]))
    .expect("describe");
    cli::run(parse(&[
        "config",
        "-o",
        dir.join("server.conf").to_str().expect("path"),
        "--dir",
        d,
    ]))
    .expect("config -o");
    assert_eq!(read(dir.join("server.conf")), conf);
}

#[test]
fn auth_commands_without_a_store_explain_what_to_do() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let err = cli::run(AuthCommand::List(store(&tmp.path().join("none")))).expect_err("no store");
    assert!(err.to_string().contains("junction auth init"), "{err}");
    let add = AuthCommand::Add(cli::AddArgs {
        what: AddCommand::User(AddUserArgs {
            name: "u".into(),
            ..AddUserArgs::default()
        }),
        store: store(&tmp.path().join("none")),
    });
    assert!(cli::run(add).is_err());
}

#[test]
fn import_subjects_are_checked_against_exports() {
    assert!(cli::testing::subject_within_for("prices.>", "prices.>"));
    assert!(cli::testing::subject_within_for("prices.eur", "prices.*"));
    assert!(cli::testing::subject_within_for("prices.eur.x", "prices.>"));
    assert!(!cli::testing::subject_within_for("prices.>", "prices.*"));
    assert!(!cli::testing::subject_within_for("prices", "prices.>"));
    assert!(!cli::testing::subject_within_for("orders.x", "prices.>"));
}

#[test]
fn unknown_user_fields_survive_re_signing_without_duplicates() {
    let acct_kp = KeyPair::new_account();
    let user = KeyPair::new_user().public_key();
    let jwt = sign_raw(
        &json!({"iat": 1, "iss": acct_kp.public_key(), "sub": user, "later": [1],
                "nats": {"pub": {"allow": ["a"]}, "sub": {}, "subs": -1, "future": {"x": 1}, "type": "user", "version": 2}}),
        &acct_kp,
    );
    let claims = decode::<User>(&jwt).expect("decode");
    assert_eq!(claims.nats.limits.publish.allow, vec!["a"]);
    assert_eq!(claims.nats.generic.extra.len(), 1);
    let again = encode(&claims, &acct_kp).expect("encode");
    let text = payload_json(&again);
    assert_eq!(text.matches("\"pub\"").count(), 1, "{text}");
    assert_eq!(text.matches("\"future\"").count(), 1, "{text}");
    assert_eq!(text.matches("\"later\"").count(), 1, "{text}");
}

/// Kills the reference server when the test ends, passing or not.
struct ServerGuard(std::process::Child);

impl Drop for ServerGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Reads lines until one starts with `prefix` (or the read times out).
fn read_until(reader: &mut impl std::io::BufRead, prefix: &str) -> String {
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return line,
            Ok(_) if line.starts_with(prefix) || line.starts_with("-ERR") => return line,
            Ok(_) => {}
        }
    }
}

/// Connects with raw protocol, answering the nonce with [`sign_nonce`]; returns the server's reply to PING.
fn raw_connect(port: u16, jwt: &str, seed: &str) -> String {
    use std::io::{BufRead, BufReader, Write};
    let stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .expect("timeout");
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut info = String::new();
    reader.read_line(&mut info).expect("INFO");
    let info: serde_json::Value =
        serde_json::from_str(info.trim_start_matches("INFO ").trim()).expect("INFO json");
    let nonce = info["nonce"]
        .as_str()
        .expect("server sends a nonce in operator mode");
    let connect = json!({"jwt": jwt, "sig": sign_nonce(seed, nonce).expect("sign"), "verbose": false,
                         "pedantic": false, "protocol": 1, "name": "junction-jwt-test"});
    let mut w = stream;
    w.write_all(format!("CONNECT {connect}\r\nPING\r\n").as_bytes())
        .expect("write");
    read_until(&mut reader, "PONG").trim().to_string()
}

#[test]
fn auth_setup_is_accepted_by_the_reference_nats_server() {
    // Runs only where a nats-server binary is installed (Debian's `nats-server` package).
    if !std::process::Command::new("nats-server")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        eprintln!("nats-server not installed: skipped");
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let d = dir.to_str().expect("utf-8 path");
    cli::run(parse(&["init", "--signing-key", "--dir", d])).expect("init");
    cli::run(parse(&[
        "add",
        "user",
        "bob",
        "--allow-sub",
        "greet.>",
        "--dir",
        d,
    ]))
    .expect("bob");
    cli::run(parse(&["add", "user", "eve", "--dir", d])).expect("eve");
    cli::run(parse(&["revoke", "user", "eve", "--dir", d])).expect("revoke eve");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let conf = format!(
        "{}listen: 127.0.0.1:{port}\n",
        cli::testing::config_text_for(dir, None).expect("config")
    );
    let conf_path = dir.join("server.conf");
    std::fs::write(&conf_path, conf).expect("write conf");
    let _server = ServerGuard(
        std::process::Command::new("nats-server")
            .arg("-c")
            .arg(&conf_path)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start nats-server"),
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "nats-server did not start");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }

    // The nonce signature made by sign_nonce is accepted for a valid user...
    let (jwt, seed) = parse_creds(&read(dir.join("users/APP/app.creds"))).expect("app creds");
    assert_eq!(raw_connect(port, &jwt, &seed), "PONG");
    // ...and a revoked one is refused.
    let (jwt, seed) = parse_creds(&read(dir.join("users/APP/eve.creds"))).expect("eve creds");
    assert!(
        raw_connect(port, &jwt, &seed).starts_with("-ERR"),
        "revoked user must be refused"
    );
    // A wrong seed is refused.
    let (jwt, _) = parse_creds(&read(dir.join("users/APP/bob.creds"))).expect("bob creds");
    let other = KeyPair::new_user().seed().expect("seed");
    assert!(raw_connect(port, &jwt, &other).starts_with("-ERR"));

    // The official Rust client reads the creds files and exchanges messages between two users.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        use futures::StreamExt;
        let url = format!("nats://127.0.0.1:{port}");
        let connect = |name: &str| {
            let path = dir.join(format!("users/APP/{name}.creds"));
            let url = url.clone();
            async move {
                async_nats::ConnectOptions::with_credentials_file(path)
                    .await
                    .expect("creds file")
                    .connect(url)
                    .await
            }
        };
        let bob = connect("bob").await.expect("bob connects");
        let mut sub = bob.subscribe("greet.>").await.expect("subscribe");
        bob.flush().await.expect("flush");
        let app = connect("app").await.expect("app connects");
        app.publish("greet.hello", "hi".into()).await.expect("publish");
        app.flush().await.expect("flush");
        let msg = tokio::time::timeout(std::time::Duration::from_secs(5), sub.next())
            .await
            .expect("message in time")
            .expect("message");
        assert_eq!(&msg.payload[..], b"hi");
    });
}

#[test]
fn auth_rejects_names_that_would_leave_the_store() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = tmp.path().to_str().expect("utf-8 path");
    cli::run(parse(&["init", "--dir", d])).expect("init");
    assert!(cli::run(parse(&[
        "add",
        "user",
        "x",
        "--account",
        "../accounts/APP",
        "--dir",
        d
    ]))
    .is_err());
    assert!(cli::run(parse(&["revoke", "user", "../../operator/junction", "--dir", d])).is_err());
    assert!(cli::run(parse(&["add", "account", ".hidden", "--dir", d])).is_err());
    assert!(cli::run(parse(&[
        "init",
        "--account",
        "SYS",
        "--dir",
        tmp.path().join("b").to_str().expect("p")
    ]))
    .is_err());
}
