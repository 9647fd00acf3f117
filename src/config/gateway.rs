//! The `gateway { }` block, mapped as nats-server's `parseGateway` maps it
//! and checked as its `validateGatewayOptions` checks it: this cluster's
//! gateway name and listener, the credentials other clusters present, and
//! the other clusters (`gateways`) to connect to.

use super::listener::{authorization, check_port, listen, AuthPositions};
use super::read::{
    boolean, duration_or_seconds, integer, invalid, map, other_key, string, wrong_type, Result,
};
use super::value::{Entry, ValueKind};
use crate::options::{Options, RemoteGateway};

/// `gateway { }` keys nats-server has and Junction does not implement yet.
const UNSUPPORTED_GATEWAY: &[&str] = &["write_timeout"];

pub(super) fn gateway(opts: &mut Options, entry: &Entry) -> Result<()> {
    let mut gateway = opts.gateway.take().unwrap_or_default();
    let mut port: i64 = gateway.port.into();
    let mut at = AuthPositions::default();
    let mut errors = Vec::new();
    for e in map(entry)? {
        let key = e.key.to_ascii_lowercase();
        let result = match key.as_str() {
            "name" => string(e).and_then(|n| {
                if n.contains(' ') {
                    return Err(invalid(e, "gateway name cannot contain spaces"));
                }
                gateway.name = n.to_string();
                Ok(())
            }),
            "listen" => listen(e, &mut port, &mut gateway.host),
            "port" => integer(e).and_then(|p| check_port(e, p)).map(|p| port = p),
            "host" | "net" => string(e).map(|h| gateway.host = h.to_string()),
            "advertise" => string(e).map(|a| gateway.advertise = Some(a.to_string())),
            "connect_retries" => integer(e).and_then(|n| {
                u32::try_from(n)
                    .map(|n| gateway.connect_retries = n)
                    .map_err(|_| invalid(e, format!("invalid value {n}, should not be negative")))
            }),
            "reject_unknown" | "reject_unknown_cluster" => boolean(e).map(|b| gateway.reject_unknown = b),
            "connect_backoff" => boolean(e).map(|b| gateway.connect_backoff = b),
            "write_deadline" => duration_or_seconds(e).map(|d| gateway.write_deadline = Some(d)),
            "gateways" => gateways(e).map(|g| gateway.gateways = g),
            "tls" => super::tls::tls(e, "gateway.tls.").map(|t| gateway.tls = Some(t)),
            "authorization" | "authentication" => authorization(e, "gateway.", &mut gateway.auth, &mut at)
                .and_then(|()| match &at.token {
                    Some(_) => Err(invalid(e, "Gateway authorization does not support tokens")),
                    None => Ok(()),
                }),
            _ => other_key(e, &key, "gateway.", UNSUPPORTED_GATEWAY),
        };
        if let Err(err) = result {
            errors.push(err);
        }
    }
    if let Some(e) = super::error::ConfigError::from_list(errors) {
        return Err(e);
    }
    // nats-server's validateGatewayOptions: no name and no port is off.
    if gateway.name.is_empty() && port == 0 {
        opts.gateway = None;
        return Ok(());
    }
    if gateway.name.is_empty() {
        return Err(invalid(entry, "gateway has no name"));
    }
    if port == 0 {
        return Err(invalid(
            entry,
            format!(
                "gateway {:?} has no port specified (select -1 for random port)",
                gateway.name
            ),
        ));
    }
    gateway.port = if port == -1 { 0 } else { port as u16 };
    opts.gateway = Some(gateway);
    Ok(())
}

/// `gateways [ { name, url, urls } ]`.
fn gateways(entry: &Entry) -> Result<Vec<RemoteGateway>> {
    let ValueKind::Array(items) = &entry.value.kind else {
        return Err(wrong_type(entry, "an array of gateways"));
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let item_entry = Entry {
            value: item.clone(),
            ..entry.clone()
        };
        let mut remote = RemoteGateway::default();
        for e in map(&item_entry)? {
            let key = e.key.to_ascii_lowercase();
            match key.as_str() {
                "name" => remote.name = string(e)?.to_string(),
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
                "tls" => remote.tls = Some(super::tls::client_tls(e, "gateway.gateways.tls.")?),
                _ => other_key(e, &key, "gateway.gateways.", &[])?,
            }
        }
        if remote.name.is_empty() {
            return Err(invalid(
                &item_entry,
                format!("gateway in the list {i} has no name"),
            ));
        }
        if remote.urls.is_empty() {
            return Err(invalid(
                &item_entry,
                format!("gateway {:?} has no URL", remote.name),
            ));
        }
        out.push(remote);
    }
    Ok(out)
}

/// A gateway URL: `nats://[user:pass@]host:port`, as a route's.
fn url(entry: &Entry, text: &str) -> Result<String> {
    let text = text.trim();
    crate::route::RouteUrl::parse(text)
        .map(|_| text.to_string())
        .map_err(|_| invalid(entry, format!("error parsing gateway url [{text:?}]")))
}
