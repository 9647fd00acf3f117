//! A route URL as nats-server takes it: `nats://[user:password@]host:port`
//! (also `nats-route://` and `route://`).

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteUrl {
    pub host: String,
    pub port: u16,
    pub user: Option<String>,
    pub password: Option<String>,
}

impl RouteUrl {
    pub fn parse(text: &str) -> Result<RouteUrl, String> {
        Self::parse_as(text, &["nats", "nats-route", "route"], 6222)
    }

    /// A leaf node remote's URL: `nats-leaf://`, `nats://`,
    /// `leafnode://`, `tls://`, `ws://` or `wss://`, port 7422 unless given.
    pub fn parse_leaf(text: &str) -> Result<RouteUrl, String> {
        Self::parse_as(text, &["nats-leaf", "nats", "leafnode", "ws", "wss", "tls"], 7422)
    }

    fn parse_as(text: &str, schemes: &[&str], default_port: u16) -> Result<RouteUrl, String> {
        let (scheme, rest) = text
            .split_once("://")
            .ok_or("missing scheme (nats://host:port)")?;
        if !schemes.contains(&scheme.to_ascii_lowercase().as_str()) {
            return Err(format!("unsupported scheme {scheme:?}"));
        }
        let rest = rest.trim_end_matches('/');
        let (userinfo, hostport) = match rest.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, rest),
        };
        let (user, password) = match userinfo {
            Some(u) => match u.split_once(':') {
                Some((user, pass)) => (Some(user.to_string()), Some(pass.to_string())),
                None => (Some(u.to_string()), None),
            },
            None => (None, None),
        };
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) if !p.contains(']') => {
                (h, p.parse::<u16>().map_err(|_| format!("invalid port {p:?}"))?)
            }
            _ => (hostport, default_port),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err("missing host".into());
        }
        Ok(RouteUrl {
            host: host.to_string(),
            port,
            user,
            password,
        })
    }

    /// `host:port`, to dial.
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Display for RouteUrl {
    /// Without the password, for logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.user {
            Some(u) => write!(f, "nats://{u}@{}", self.address()),
            None => write!(f, "nats://{}", self.address()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_urls_as_nats_server_takes_them() {
        let u = RouteUrl::parse("nats://ruser:T0pS3cr3t@127.0.0.1:6222").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("127.0.0.1", 6222));
        assert_eq!(
            (u.user.as_deref(), u.password.as_deref()),
            (Some("ruser"), Some("T0pS3cr3t"))
        );
        assert_eq!(u.to_string(), "nats://ruser@127.0.0.1:6222");
        let u = RouteUrl::parse("nats-route://[::1]:7000/").unwrap();
        assert_eq!((u.address().as_str(), u.user), ("[::1]:7000", None));
        assert_eq!(RouteUrl::parse("nats://host").unwrap().port, 6222);
        assert!(RouteUrl::parse("http://x:1").is_err());
        assert!(RouteUrl::parse("x:1").is_err());
        assert!(RouteUrl::parse("nats://h:port").is_err());
    }
}
