//! The `cluster { }` block, mapped as nats-server's `parseCluster` maps it:
//! the route listener, the peers to connect to and the credentials peers
//! must present. A block whose port is 0 leaves clustering off.

use super::listener::{authorization, check_port, listen, AuthPositions};
use super::read::{boolean, duration_or_seconds, integer, invalid, map, other_key, string, strings, Result};
use super::value::Entry;
use crate::options::Options;

/// `cluster { }` keys nats-server has and Junction does not implement yet.
const UNSUPPORTED_CLUSTER: &[&str] = &["permissions", "compression"];

pub(super) fn cluster(opts: &mut Options, entry: &Entry) -> Result<()> {
    let mut cluster = opts.cluster.take().unwrap_or_default();
    let mut port: i64 = cluster.port.into();
    let mut at = AuthPositions::default();
    let mut errors = Vec::new();
    // Checked against `pool_size`, which may come after it.
    let mut accounts_entry = None;
    for e in map(entry)? {
        let key = e.key.to_ascii_lowercase();
        let result = match key.as_str() {
            "name" => string(e).and_then(|n| {
                if n.contains(' ') {
                    return Err(invalid(e, "cluster name cannot contain spaces"));
                }
                cluster.name = Some(n.to_string());
                Ok(())
            }),
            "listen" => listen(e, &mut port, &mut cluster.host),
            "port" => integer(e).and_then(|p| check_port(e, p)).map(|p| port = p),
            "host" | "net" => string(e).map(|h| cluster.host = h.to_string()),
            "routes" => routes(e).map(|r| cluster.routes = r),
            "advertise" | "cluster_advertise" => string(e).map(|a| cluster.advertise = Some(a.to_string())),
            "no_advertise" => boolean(e).map(|b| cluster.no_advertise = b),
            "connect_backoff" => boolean(e).map(|b| cluster.connect_backoff = b),
            "tls" => super::tls::tls(e, "cluster.tls.").map(|t| cluster.tls = Some(t)),
            "connect_retries" => integer(e).and_then(|n| {
                u32::try_from(n)
                    .map(|n| cluster.connect_retries = n)
                    .map_err(|_| invalid(e, format!("invalid value {n}, should not be negative")))
            }),
            "ping_interval" => duration_or_seconds(e).map(|d| cluster.ping_interval = Some(d)),
            "ping_max" => integer(e).and_then(|n| {
                u32::try_from(n)
                    .map(|n| cluster.ping_max = Some(n))
                    .map_err(|_| invalid(e, format!("invalid value {n}, should not be negative")))
            }),
            "write_deadline" => duration_or_seconds(e).map(|d| cluster.write_deadline = Some(d)),
            // 0 is nats-server's default (3), a negative size no pool at all.
            "pool_size" => integer(e).map(|n| cluster.pool_size = if n == 0 { 3 } else { n }),
            "accounts" => {
                accounts_entry = Some(e);
                Ok(())
            }
            "authorization" | "authentication" => {
                authorization(e, "cluster.", &mut cluster.auth, &mut at).and_then(|()| match &at.token {
                    // nats-server: routes authenticate with a user and password only.
                    Some(_) => Err(invalid(e, "Cluster authorization does not support tokens")),
                    None => Ok(()),
                })
            }
            _ => other_key(e, &key, "cluster.", UNSUPPORTED_CLUSTER),
        };
        if let Err(err) = result {
            errors.push(err);
        }
    }
    if let Some(e) = accounts_entry {
        match pinned_accounts(e, cluster.pool_size) {
            Ok(names) => cluster.accounts = names,
            Err(err) => errors.push(err),
        }
    }
    if let Some(e) = super::error::ConfigError::from_list(errors) {
        return Err(e);
    }
    if port == 0 {
        opts.cluster = None;
        return Ok(());
    }
    cluster.port = if port == -1 { 0 } else { port as u16 };
    opts.cluster = Some(cluster);
    Ok(())
}

/// `accounts`: the accounts with a route of their own to each peer. The
/// checks are nats-server's, made when it starts.
fn pinned_accounts(entry: &Entry, pool_size: i64) -> Result<Vec<String>> {
    let names = strings(entry, "an array of account names")?;
    if !names.is_empty() && pool_size < 0 {
        return Err(invalid(
            entry,
            "pool_size cannot be negative if pinned accounts are specified",
        ));
    }
    for (i, name) in names.iter().enumerate() {
        if names[..i].contains(name) {
            return Err(invalid(
                entry,
                format!("found duplicate account name {name:?} in pinned accounts list {names:?}"),
            ));
        }
    }
    Ok(names.into_iter().map(str::to_string).collect())
}

/// `routes`: one URL or an array of them.
fn routes(entry: &Entry) -> Result<Vec<String>> {
    strings(entry, "an array of route URLs")?
        .into_iter()
        .map(|u| {
            crate::route::RouteUrl::parse(u)
                .map(|_| u.to_string())
                .map_err(|e| invalid(entry, format!("error parsing route url [{u:?}]: {e}")))
        })
        .collect()
}
