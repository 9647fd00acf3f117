//! The browser demo from `web/`: a fixed set of files served from disk, the
//! official `nats.ws` and `mqtt.js` bundles among them (installed into `web/node_modules`
//! by npm; see `scripts/run.sh`).

use std::path::PathBuf;

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

/// Where `web/` is: `$JUNCTION_WEB_DIR`, else `./web`, else the source tree's.
fn web_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("JUNCTION_WEB_DIR") {
        return PathBuf::from(dir);
    }
    let local = PathBuf::from("web");
    if local.join("index.html").exists() {
        return local;
    }
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/web"))
}

/// Only these names are served, so no path can escape `web/`.
fn file_for(name: &str) -> Option<(&'static str, &'static str)> {
    Some(match name {
        "" | "index.html" => ("index.html", "text/html; charset=utf-8"),
        "app.js" => ("app.js", "text/javascript"),
        "style.css" => ("style.css", "text/css"),
        "vendor/nats.js" => ("node_modules/nats.ws/esm/nats.js", "text/javascript"),
        "vendor/mqtt.js" => ("node_modules/mqtt/dist/mqtt.esm.js", "text/javascript"),
        _ => return None,
    })
}

async fn serve(name: &str) -> Response {
    let Some((path, mime)) = file_for(name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match tokio::fs::read(web_dir().join(path)).await {
        Ok(body) => ([(header::CONTENT_TYPE, mime)], body).into_response(),
        Err(_) if name.starts_with("vendor/") => (
            StatusCode::NOT_FOUND,
            "nats.ws and mqtt.js are not installed: run `npm ci --prefix web` (scripts/run.sh does it)",
        )
            .into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

pub async fn index() -> Response {
    serve("").await
}

pub async fn file(Path(name): Path<String>) -> Response {
    serve(&name).await
}
