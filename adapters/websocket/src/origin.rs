//! Origin checks as nats-server's `checkOrigin` makes them: with neither `same_origin` nor
//! `allowed_origins` anything goes, a request without an Origin is accepted, and otherwise the
//! origin's scheme, lower-cased host and port (80 or 443 when not written) must match.

use crate::handshake::Request;
use crate::WsConfig;

/// An origin or allowed-origin URL, reduced to what is compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Origin {
    /// Lower-cased, as Go's URL parser leaves it.
    pub scheme: String,
    /// Lower-cased; without brackets for IPv6 literals that had a port.
    pub host: String,
    pub port: String,
}

/// Checks the request's origin against `cfg`. `Err` says why it is refused.
pub(crate) fn check(request: &Request, cfg: &WsConfig) -> Result<(), String> {
    if !cfg.same_origin && cfg.allowed_origins.is_empty() {
        return Ok(());
    }
    let origin = match request.get("Origin").filter(|o| !o.is_empty()) {
        Some(o) => o,
        None => match request.get("Sec-WebSocket-Origin").filter(|o| !o.is_empty()) {
            Some(o) => o,
            // RFC 6455 1.6: non-browser clients need not send one, and could send anything.
            None => return Ok(()),
        },
    };
    let origin = parse(origin)?;
    if cfg.same_origin {
        // The page must have come from the same host:port, over https when the listener has TLS.
        let scheme = if cfg.tls { "https" } else { "http" };
        let (host, port) = host_and_port(cfg.tls, request.get("Host").unwrap_or_default())?;
        if origin.host != host || origin.port != port || origin.scheme != scheme {
            return Err("not same origin".into());
        }
    }
    if !cfg.allowed_origins.is_empty() {
        // nats-server skips allowed origins it cannot parse (its option check refuses them).
        let allowed = cfg
            .allowed_origins
            .iter()
            .filter_map(|a| parse(a).ok())
            .any(|a| a == origin);
        if !allowed {
            return Err("not in the allowed list".into());
        }
    }
    Ok(())
}

/// Parses `scheme://[user@]host[:port][/path][?query]` as Go's `url.ParseRequestURI` and
/// nats-server's `wsGetHostAndPort` see it.
pub(crate) fn parse(text: &str) -> Result<Origin, String> {
    if text.is_empty() {
        return Err("empty url".into());
    }
    let (scheme, rest) = split_scheme(text)?;
    let rest = rest.split_once('?').map_or(rest, |(before, _)| before);
    let authority = if !rest.starts_with('/') {
        if scheme.is_empty() {
            return Err(format!("parse {text:?}: invalid URI for request"));
        }
        // An opaque URL such as `http:host`: no host.
        ""
    } else if !scheme.is_empty() && rest.starts_with("//") {
        let after = &rest[2..];
        let end = after.find('/').unwrap_or(after.len());
        let authority = &after[..end];
        authority.rsplit_once('@').map_or(authority, |(_, host)| host)
    } else {
        ""
    };
    if authority.chars().any(|c| c.is_ascii_control() || c == ' ') {
        return Err(format!("parse {text:?}: invalid character in host name"));
    }
    let (host, port) = host_and_port(scheme == "https", authority)?;
    Ok(Origin { scheme, host, port })
}

/// Go's `getScheme`: the scheme is lower-cased; text without one is a path.
fn split_scheme(text: &str) -> Result<(String, &str), String> {
    for (i, c) in text.char_indices() {
        match c {
            'a'..='z' | 'A'..='Z' => {}
            '0'..='9' | '+' | '-' | '.' if i > 0 => {}
            ':' if i == 0 => return Err(format!("parse {text:?}: missing protocol scheme")),
            ':' => return Ok((text[..i].to_ascii_lowercase(), &text[i + 1..])),
            _ => return Ok((String::new(), text)),
        }
    }
    Ok((String::new(), text))
}

/// nats-server's `wsGetHostAndPort`: Go's `net.SplitHostPort`, with the scheme's default port
/// when none is written. The host is lower-cased.
pub(crate) fn host_and_port(tls: bool, hostport: &str) -> Result<(String, String), String> {
    let default_port = if tls { "443" } else { "80" };
    let missing_port = || Ok((hostport.to_ascii_lowercase(), default_port.to_string()));
    let (host, port) = if let Some(rest) = hostport.strip_prefix('[') {
        let Some(end) = rest.find(']') else {
            return Err(format!("address {hostport}: missing ']' in address"));
        };
        match &rest[end + 1..] {
            "" => return missing_port(),
            after => match after.strip_prefix(':') {
                Some(port) if !port.contains(':') => (&rest[..end], port),
                _ => return Err(format!("address {hostport}: unexpected characters after ']'")),
            },
        }
    } else {
        let Some((host, port)) = hostport.rsplit_once(':') else {
            return missing_port();
        };
        if host.contains(':') {
            return Err(format!("address {hostport}: too many colons in address"));
        }
        (host, port)
    };
    if host.contains(['[', ']']) {
        return Err(format!("address {hostport}: unexpected '[' or ']' in address"));
    }
    Ok((host.to_ascii_lowercase(), port.to_string()))
}
