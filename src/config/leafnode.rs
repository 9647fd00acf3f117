//! The `leafnodes { }` block, as nats-server's `parseLeafNodes` reads it:
//! the listener leaf nodes connect to, the credentials and account they
//! bind to, and the hubs (`remotes`) this server connects to as a leaf.

use super::listener::{check_port, listen};
use super::read::{invalid, map, other_key, seconds, string, wrong_type, Result};
use super::value::{Entry, ValueKind};
use crate::options::{LeafRemote, Options};

/// `leafnodes { }` keys nats-server has and Junction does not implement yet.
const UNSUPPORTED_LEAFNODES: &[&str] = &[
    "advertise",
    "no_advertise",
    "reconnect",
    "reconnect_delay",
    "compression",
    "min_version",
    "write_deadline",
    "write_timeout",
    "isolate_leafnode_interest",
    "tls_handshake_first",
];

/// `remotes [{ }]` keys not implemented yet.
const UNSUPPORTED_REMOTE: &[&str] = &[
    "ws_compression",
    "ws_no_masking",
    "hub",
    "deny_imports",
    "deny_exports",
    "deny_import",
    "deny_export",
    "compression",
    "first_info_timeout",
    "disabled",
    "proxy",
    "jetstream_cluster_migrate",
    "local_is_hub",
    "dont_randomize",
    "no_randomize",
];

pub(super) fn leafnodes(opts: &mut Options, entry: &Entry) -> Result<()> {
    let mut leaf = opts.leafnodes.take().unwrap_or_default();
    let mut host = String::from("0.0.0.0");
    let mut port: Option<i64> = None;
    let mut errors = Vec::new();
    for e in map(entry)? {
        let key = e.key.to_ascii_lowercase();
        let result = match key.as_str() {
            "listen" => {
                let mut p = 0;
                listen(e, &mut p, &mut host).map(|()| port = Some(p))
            }
            "port" => super::read::integer(e)
                .and_then(|p| check_port(e, p))
                .map(|p| port = Some(p)),
            "host" | "net" => string(e).map(|h| host = h.to_string()),
            "authorization" | "authentication" => authorization(e, &mut leaf),
            "remotes" => remotes(e).map(|r| leaf.remotes = r),
            "tls" => super::tls::tls(e, "leafnodes.tls.").map(|t| leaf.tls = Some(t)),
            _ => other_key(e, &key, "leafnodes.", UNSUPPORTED_LEAFNODES),
        };
        if let Err(err) = result {
            errors.push(err);
        }
    }
    if let Some(e) = super::error::ConfigError::from_list(errors) {
        return Err(e);
    }
    leaf.listen = match port {
        None | Some(0) => None,
        Some(-1) => Some((host, 0)),
        Some(p) => Some((host, p as u16)),
    };
    opts.leafnodes = Some(leaf);
    Ok(())
}

/// `authorization { user, password, account, timeout }`.
fn authorization(entry: &Entry, leaf: &mut crate::options::LeafNodeOptions) -> Result<()> {
    for e in map(entry)? {
        let key = e.key.to_ascii_lowercase();
        match key.as_str() {
            "user" | "username" => leaf.auth.username = Some(string(e)?.to_string()),
            "pass" | "password" => leaf.auth.password = Some(string(e)?.to_string()),
            "account" => leaf.account = Some(string(e)?.to_string()),
            "timeout" => leaf.auth.timeout = Some(seconds(e)?),
            "users" => leaf.users = users(e)?,
            _ => other_key(e, &key, "leafnodes.authorization.", &["nkey"])?,
        }
    }
    // nats-server's validateLeafNodeAuthOptions.
    if !leaf.users.is_empty() && leaf.auth.username.is_some() {
        return Err(invalid(
            entry,
            "can not have a single user/pass and a users array",
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for u in &leaf.users {
        if !seen.insert(u.user.as_str()) {
            return Err(invalid(
                entry,
                format!("duplicate user {:?} detected in leafnode authorization", u.user),
            ));
        }
    }
    Ok(())
}

/// `users: [{ user, password, account }]`.
fn users(entry: &Entry) -> Result<Vec<crate::options::LeafUser>> {
    let ValueKind::Array(items) = &entry.value.kind else {
        return Err(wrong_type(entry, "an array of users"));
    };
    let mut out = Vec::new();
    for item in items {
        let item_entry = Entry {
            value: item.clone(),
            ..entry.clone()
        };
        let mut user = crate::options::LeafUser::default();
        for e in map(&item_entry)? {
            let key = e.key.to_ascii_lowercase();
            match key.as_str() {
                "user" | "username" => user.user = string(e)?.to_string(),
                "pass" | "password" => user.password = string(e)?.to_string(),
                "account" => user.account = Some(string(e)?.to_string()),
                _ => other_key(
                    e,
                    &key,
                    "leafnodes.authorization.users.",
                    &["nkey", "permissions"],
                )?,
            }
        }
        out.push(user);
    }
    Ok(out)
}

fn remotes(entry: &Entry) -> Result<Vec<LeafRemote>> {
    let ValueKind::Array(items) = &entry.value.kind else {
        return Err(wrong_type(entry, "an array of remotes"));
    };
    let mut out = Vec::new();
    for item in items {
        let item_entry = Entry {
            value: item.clone(),
            ..entry.clone()
        };
        let mut remote = LeafRemote::default();
        for e in map(&item_entry)? {
            let key = e.key.to_ascii_lowercase();
            match key.as_str() {
                "url" => remote.urls.push(url(e, string(e)?)?),
                "urls" => {
                    let ValueKind::Array(urls) = &e.value.kind else {
                        return Err(wrong_type(e, "an array of URLs"));
                    };
                    for u in urls {
                        match &u.kind {
                            ValueKind::String(s) => remote.urls.push(url(e, s)?),
                            _ => return Err(wrong_type(e, "an array of URLs")),
                        }
                    }
                }
                "account" | "local" => remote.account = Some(string(e)?.to_string()),
                "credentials" | "creds" => {
                    if remote.nkey.is_some() {
                        return Err(invalid(
                            e,
                            "Remote leafnode can not have both creds and nkey defined",
                        ));
                    }
                    remote.credentials = Some(string(e)?.into())
                }
                "nkey" | "seed" => {
                    let seed = string(e)?;
                    let valid = seed.starts_with("SU") && nkeys::KeyPair::from_seed(seed).is_ok();
                    if !valid {
                        return Err(invalid(
                            e,
                            format!("Remote leafnode nkey is not a valid seed: {seed:?}"),
                        ));
                    }
                    if remote.credentials.is_some() {
                        return Err(invalid(
                            e,
                            "Remote leafnode can not have both creds and nkey defined",
                        ));
                    }
                    remote.nkey = Some(seed.to_string());
                }
                "tls" => remote.tls = Some(super::tls::client_tls(e, "leafnodes.remotes.tls.")?),
                _ => other_key(e, &key, "leafnodes.remotes.", UNSUPPORTED_REMOTE)?,
            }
        }
        if remote.urls.is_empty() {
            return Err(invalid(&item_entry, "a remote needs a url"));
        }
        out.push(remote);
    }
    Ok(out)
}

/// A hub's URL: `nats-leaf://`, `nats://`, `leafnode://`, `tls://`,
/// `ws://` or `wss://` with a host and port (7422 when left out).
fn url(entry: &Entry, text: &str) -> Result<String> {
    let (scheme, rest) = text.split_once("://").unwrap_or(("nats-leaf", text));
    match scheme.to_ascii_lowercase().as_str() {
        "nats-leaf" | "nats" | "leafnode" => {}
        "ws" | "wss" | "tls" => {}
        _ => {
            return Err(invalid(
                entry,
                format!("error parsing leafnode remote url [{text:?}]"),
            ))
        }
    }
    if rest.is_empty() || rest.starts_with(':') {
        return Err(invalid(
            entry,
            format!("error parsing leafnode remote url [{text:?}]"),
        ));
    }
    Ok(text.to_string())
}
