//! A system request's body: nats-server's event filter (which servers
//! answer) and the endpoint's options, read into the query parameters the
//! monitoring endpoints take.

use serde_json::Value;

use crate::monitor::Params;
use crate::server::Server;

/// nats-server's `EventFilterOptions`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct Filter {
    server_name: String,
    cluster: String,
    host: String,
    exact_match: bool,
    tags: Vec<String>,
    domain: String,
}

/// What a request asked for.
#[derive(Debug, Default)]
pub struct Request {
    filter: Filter,
    pub params: Params,
}

impl Request {
    /// Reads a request body; an empty one asks for the defaults. A body
    /// that is not a JSON object gets the decoder's complaint back.
    pub fn parse(body: &[u8]) -> Result<Request, String> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Request::default());
        }
        let value: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        let filter = Filter::deserialize_from(&value)?;
        let Value::Object(fields) = value else {
            return Err("json: cannot unmarshal into Go value of type options".into());
        };
        let mut params = Params::new();
        for (key, value) in fields {
            if let Some((name, text)) = param(&key, &value) {
                params.insert(name.into(), text);
            }
        }
        Ok(Request { filter, params })
    }

    /// Whether `server` is one the request's filter picks (all by default).
    pub fn selects(&self, server: &Server) -> bool {
        let f = &self.filter;
        let opts = server.opts();
        let cluster = server.links().map(|l| l.cluster_name()).unwrap_or_default();
        let matches = |wanted: &str, have: &str| {
            wanted.is_empty()
                || if f.exact_match {
                    wanted == have
                } else {
                    have.contains(wanted)
                }
        };
        matches(&f.server_name, &server.name)
            && matches(&f.host, &opts.host)
            && matches(&f.cluster, &cluster)
            // Junction has no server tags: a request for some picks none.
            && f.tags.is_empty()
            && (f.domain.is_empty() || opts.js_domain.as_deref() == Some(f.domain.as_str()))
    }
}

impl Filter {
    fn deserialize_from(value: &Value) -> Result<Filter, String> {
        serde::Deserialize::deserialize(value).map_err(|e: serde_json::Error| e.to_string())
    }
}

/// One option of a request as the query parameter of the same meaning;
/// `None` for the filter's own fields and for what asks for nothing.
fn param(key: &str, value: &Value) -> Option<(&'static str, String)> {
    let name = match key {
        "server_name" | "cluster" | "host" | "exact_match" | "tags" | "domain" => return None,
        "subscriptions" => "subs",
        // `subscriptions_detail` is `subs=detail`.
        "subscriptions_detail" => {
            return (value == &Value::Bool(true)).then(|| ("subs", "detail".into()));
        }
        "account" | "acc" => "acc",
        "include_unused" => "unused",
        // ConnState: 0 open, 1 closed, 2 any.
        "state" => {
            let state = match value.as_u64()? {
                0 => "open",
                1 => "closed",
                _ => "any",
            };
            return Some(("state", state.into()));
        }
        "sort" => "sort",
        "auth" => "auth",
        "offset" => "offset",
        "limit" => "limit",
        "cid" => "cid",
        "user" => "user",
        "mqtt_client" => "mqtt_client",
        "filter_subject" => "filter_subject",
        "test" => "test",
        "accounts" => "accounts",
        "streams" => "streams",
        "consumers" => "consumers",
        "config" => "config",
        "js-enabled-only" => "js-enabled-only",
        "js-server-only" => "js-server-only",
        "js-enabled" => "js-enabled",
        _ => return None,
    };
    let text = match value {
        Value::Bool(false) | Value::Null => return None,
        Value::Bool(true) => "true".into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) if s.is_empty() => return None,
        Value::String(s) => s.clone(),
        _ => return None,
    };
    Some((name, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_become_the_endpoints_query_parameters() {
        let r = Request::parse(
            br#"{"subscriptions_detail":true,"account":"A","state":1,"limit":5,"sort":"msgs_to","auth":false,"server_name":"n1"}"#,
        )
        .unwrap();
        let mut params: Vec<(&str, &str)> = r.params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        params.sort();
        assert_eq!(
            params,
            [
                ("acc", "A"),
                ("limit", "5"),
                ("sort", "msgs_to"),
                ("state", "closed"),
                ("subs", "detail")
            ]
        );
        assert_eq!(r.filter.server_name, "n1");
    }

    #[test]
    fn an_empty_body_asks_for_the_defaults_and_garbage_is_refused() {
        assert!(Request::parse(b"").unwrap().params.is_empty());
        assert!(Request::parse(b"  ").unwrap().params.is_empty());
        assert!(Request::parse(b"{nope").is_err());
        assert!(Request::parse(b"[1]").is_err());
    }
}
