//! The JSON bodies of `CONNECT` (client options) and `INFO` (server
//! description), with nats-server's field names and defaults.

use serde::{Deserialize, Serialize};

/// Options a client sends in `CONNECT`.
///
/// Before any `CONNECT`, and for fields a `CONNECT` leaves out, nats-server
/// assumes `verbose`, `pedantic` and `echo` are on; the defaults here match.
///
/// Clients send `null` for fields they leave unset; that reads as the default.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ConnectOptions {
    #[serde(deserialize_with = "or_default")]
    pub verbose: bool,
    #[serde(deserialize_with = "or_default")]
    pub pedantic: bool,
    #[serde(deserialize_with = "or_default_true")]
    pub echo: bool,
    #[serde(deserialize_with = "or_default")]
    pub headers: bool,
    #[serde(deserialize_with = "or_default")]
    pub no_responders: bool,
    #[serde(deserialize_with = "or_default")]
    pub tls_required: bool,
    #[serde(deserialize_with = "or_default")]
    pub name: String,
    #[serde(deserialize_with = "or_default")]
    pub lang: String,
    #[serde(deserialize_with = "or_default")]
    pub version: String,
    #[serde(deserialize_with = "or_default")]
    pub protocol: i64,
    pub user: Option<String>,
    pub pass: Option<String>,
    pub auth_token: Option<String>,
    pub nkey: Option<String>,
    pub sig: Option<String>,
    pub jwt: Option<String>,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            verbose: true,
            pedantic: true,
            echo: true,
            headers: false,
            no_responders: false,
            tls_required: false,
            name: String::new(),
            lang: String::new(),
            version: String::new(),
            protocol: 0,
            user: None,
            pass: None,
            auth_token: None,
            nkey: None,
            sig: None,
            jwt: None,
        }
    }
}

fn or_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn or_default_true<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(Option::<bool>::deserialize(d)?.unwrap_or(true))
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// The server's `INFO`, fields in nats-server's order; optional ones are
/// left out when empty, as the reference does.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerInfo {
    pub server_id: String,
    pub server_name: String,
    pub version: String,
    pub proto: i32,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub git_commit: String,
    pub go: String,
    pub host: String,
    pub port: u16,
    pub headers: bool,
    #[serde(skip_serializing_if = "is_false", default)]
    pub auth_required: bool,
    #[serde(skip_serializing_if = "is_false", default)]
    pub tls_required: bool,
    #[serde(skip_serializing_if = "is_false", default)]
    pub tls_verify: bool,
    pub max_payload: usize,
    #[serde(skip_serializing_if = "is_false", default)]
    pub jetstream: bool,
    #[serde(skip_serializing_if = "is_zero", default)]
    pub client_id: u64,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub client_ip: String,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub nonce: String,
    /// The cluster's name, when the server is part of one.
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub cluster: String,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub connect_urls: Vec<String>,
    #[serde(skip_serializing_if = "is_false", default)]
    pub ldm: bool,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_defaults_follow_reference() {
        let o: ConnectOptions = serde_json::from_str(r#"{"pedantic":false}"#).unwrap();
        assert!(o.verbose && o.echo && !o.pedantic && !o.headers);
        let o: ConnectOptions = serde_json::from_str(
            r#"{"verbose":false,"headers":true,"no_responders":true,"name":"x","extra":1}"#,
        )
        .unwrap();
        assert!(!o.verbose && o.headers && o.no_responders);
        assert_eq!(o.name, "x");
    }

    #[test]
    fn connect_nulls_read_as_defaults() {
        let o: ConnectOptions =
            serde_json::from_str(r#"{"verbose":false,"name":null,"echo":null,"user":null}"#).unwrap();
        assert!(o.echo && o.name.is_empty() && o.user.is_none());
    }
}
