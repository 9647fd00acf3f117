//! The HTTP side: nats-server's monitoring endpoints (`/varz`, `/connz`,
//! `/subsz`, `/accountz`, `/accstatz`, `/routez`, `/gatewayz`, `/leafz`,
//! `/jsz`, `/healthz`) with the same JSON, plus `/metrics` in Prometheus
//! text format, served by axum.

mod accountz;
mod cluster;
pub mod connz;
mod demo;
mod healthz;
pub mod https;
mod jsz;
mod metrics;
mod subsz;
pub mod time;
mod varz;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::extract::{Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::Value;

use crate::listener::TlsSlot;
use crate::options::Options;
use crate::server::Server;
use crate::tls::TlsOptions;

pub use varz::resident_bytes;

/// `/varz`'s `jetstream` block (its configuration and usage), when
/// JetStream is on.
pub fn jetstream_varz(server: &Server) -> Option<Value> {
    server.jetstream().map(|_| varz::jetstream(server))
}

/// An endpoint's query parameters, by name.
pub type Params = HashMap<String, String>;

/// Builds an endpoint's JSON from the server and the query parameters.
pub type Build = fn(&Server, &Params) -> Result<Value, BadRequest>;

/// The JSON endpoints, by path; the system account's services answer with
/// the same builders (`$SYS.REQ.SERVER.PING.VARZ` is `/varz`).
pub const ENDPOINTS: [(&str, Build); 10] = [
    ("/varz", varz::varz),
    ("/connz", connz::connz),
    ("/subsz", subsz::subsz),
    ("/accountz", accountz::accountz),
    ("/accstatz", accountz::accstatz),
    ("/routez", cluster::routez),
    ("/gatewayz", cluster::gatewayz),
    ("/leafz", cluster::leafz),
    ("/jsz", jsz::jsz),
    ("/healthz", healthz::healthz),
];

async fn serve_json(
    build: Build,
    State(server): State<Arc<Server>>,
    Query(q): Query<Params>,
) -> Result<Json<Value>, BadRequest> {
    build(&server, &q).map(Json)
}

/// A bad query parameter: 400 with a JSON body naming it.
pub struct BadRequest(pub String);

impl IntoResponse for BadRequest {
    fn into_response(self) -> Response {
        (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({ "error": self.0 })),
        )
            .into_response()
    }
}

/// `http_base_path` as nats-server reads it: with a leading slash and
/// cleaned; empty for the root.
fn base_path(configured: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in configured.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.iter().map(|p| format!("/{p}")).collect()
}

/// The routes, under `http_base_path`, for the listener and for tests.
pub fn router(server: Arc<Server>) -> Router {
    let base = base_path(&server.opts().http_base_path);
    let at = |path: &str| format!("{base}{path}");
    let mut routes = Router::new();
    for (path, build) in ENDPOINTS {
        routes = routes.route(&at(path), get(move |s, q| serve_json(build, s, q)));
    }
    let mut routes = routes
        .route(&at("/subscriptionsz"), get(|s, q| serve_json(subsz::subsz, s, q)))
        .route(&at("/metrics"), get(metrics::metrics))
        .route(&at("/monitor"), get(healthz::index))
        .route(&at("/"), get(demo::index))
        .route(&at("/{*file}"), get(demo::file));
    if !base.is_empty() {
        // The demo's relative links need the slash after the base.
        let to = at("/");
        routes = routes.route(&base, get(move || async move { Redirect::permanent(&to) }));
    }
    routes
        .layer(middleware::from_fn_with_state(server.clone(), count_request))
        .with_state(server)
}

/// The endpoints `http_req_stats` counts, by the path nats-server files them
/// under (`/subscriptionsz` is `/subsz`'s other name).
fn endpoint(path: &str) -> Option<&'static str> {
    Some(match path {
        "/" => "/",
        "/varz" => "/varz",
        "/connz" => "/connz",
        "/subsz" | "/subscriptionsz" => "/subsz",
        "/accountz" => "/accountz",
        "/accstatz" => "/accstatz",
        "/routez" => "/routez",
        "/gatewayz" => "/gatewayz",
        "/leafz" => "/leafz",
        "/jsz" => "/jsz",
        "/healthz" => "/healthz",
        "/metrics" => "/metrics",
        _ => return None,
    })
}

/// Counts a request before it is served, so `/varz` includes itself.
async fn count_request(State(server): State<Arc<Server>>, request: Request, next: Next) -> Response {
    let base = base_path(&server.opts().http_base_path);
    let path = request.uri().path();
    let path = path.strip_prefix(base.as_str()).unwrap_or(path);
    if let Some(path) = endpoint(if path.is_empty() { "/" } else { path }) {
        *server.stats.http_requests.lock().entry(path).or_default() += 1;
    }
    next.run(request).await
}

/// Starts monitoring as configured (`http_port` or `https_port`), or
/// nothing when both are off. Returns the scheme and the bound address.
pub async fn start_configured(
    server: Arc<Server>,
    opts: &Options,
) -> anyhow::Result<Option<(&'static str, SocketAddr)>> {
    let host = opts.http_host.as_deref().unwrap_or(&opts.host);
    match (opts.http_port, opts.https_port, &opts.tls) {
        (None, None, _) => Ok(None),
        (Some(http), Some(https), _) => anyhow::bail!(
            "Can't start monitoring: can't specify both HTTP ({}) and HTTPs ({}) ports",
            as_written(Some(http)),
            as_written(Some(https))
        ),
        (Some(port), None, _) => Ok(Some(("http", start(server, host, port).await?))),
        (None, Some(_), None) => {
            anyhow::bail!("Can't start monitoring: TLS cert and key required for HTTPS")
        }
        (None, Some(port), Some(tls)) => Ok(Some(("https", start_https(server, host, port, tls).await?))),
    }
}

/// Binds the monitoring port and serves plain HTTP until the server shuts down.
pub async fn start(server: Arc<Server>, host: &str, port: u16) -> anyhow::Result<SocketAddr> {
    let listener = bind(&server, host, port).await?;
    let addr = listener.local_addr()?;
    tracing::info!("Starting http monitor on http://{addr}");
    serve(server, listener);
    Ok(addr)
}

/// Binds the monitoring port and serves HTTPS with the certificate of `tls`
/// until the server shuts down; a reload of `tls { }` reaches it.
pub async fn start_https(
    server: Arc<Server>,
    host: &str,
    port: u16,
    tls: &TlsOptions,
) -> anyhow::Result<SocketAddr> {
    let slot = TlsSlot::new(
        https::acceptor(tls).context("Can't start monitoring")?,
        tls.timeout,
    );
    let listener = bind(&server, host, port).await?;
    let addr = listener.local_addr()?;
    *server.monitor_tls.lock() = Some(slot.clone());
    tracing::info!("Starting https monitor on https://{addr}");
    serve(server.clone(), https::TlsListener::new(server, listener, slot)?);
    Ok(addr)
}

async fn bind(server: &Server, host: &str, port: u16) -> anyhow::Result<tokio::net::TcpListener> {
    let bind = format!("{host}:{port}");
    let listener = crate::listener::bind(&bind)
        .await
        .with_context(|| format!("can't listen on the monitoring port {bind}"))?;
    server.set_http_addr(listener.local_addr()?);
    Ok(listener)
}

fn serve<L: axum::serve::Listener>(server: Arc<Server>, listener: L)
where
    L::Addr: std::fmt::Debug,
{
    let stopped = server.clone();
    let app = router(server);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move { stopped.stopped().await })
            .await;
    });
}

/// A monitoring port as the configuration wrote it: off is 0, random -1.
pub(crate) fn as_written(port: Option<u16>) -> i32 {
    match port {
        None => 0,
        Some(0) => -1,
        Some(p) => p.into(),
    }
}

/// `?flag=1`, `true`, `detail` … as nats-server reads booleans in queries.
pub(crate) fn query_bool(name: &str, value: Option<&String>) -> Result<bool, BadRequest> {
    match value.map(|v| v.to_ascii_lowercase()) {
        None => Ok(false),
        Some(v) if v.is_empty() || v == "1" || v == "true" || v == "detail" => Ok(true),
        Some(v) if v == "0" || v == "false" => Ok(false),
        Some(v) => Err(BadRequest(format!("invalid value {v:?} for {name}"))),
    }
}

/// `?name=123` as a non-negative integer.
pub(crate) fn query_number(name: &str, value: Option<&String>) -> Result<Option<usize>, BadRequest> {
    value
        .map(|v| {
            v.parse::<usize>()
                .map_err(|_| BadRequest(format!("invalid value {v:?} for {name}")))
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    #[test]
    fn base_path_is_cleaned_as_nats_server_cleans_it() {
        for (written, base) in [
            ("", ""),
            ("/", ""),
            ("nats", "/nats"),
            ("nats/", "/nats"),
            ("/a//b/./c/", "/a/b/c"),
            ("/a/../b", "/b"),
        ] {
            assert_eq!(super::base_path(written), base, "{written}");
        }
    }
}
