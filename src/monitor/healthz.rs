//! `/healthz` and the index page of the endpoints.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Html;
use serde_json::{json, Value};

use super::{query_bool, BadRequest, Params};
use crate::server::Server;

pub fn healthz(_server: &Server, q: &Params) -> Result<Value, BadRequest> {
    // nats-server 2.9.10 answers ok to `js-enabled-only` whether JetStream
    // is on or not (checked against it); the streams it has are all served
    // locally, so there is nothing more to check.
    for key in ["js-enabled-only", "js-server-only", "js-enabled"] {
        query_bool(key, q.get(key))?;
    }
    Ok(json!({"status": "ok"}))
}

pub async fn index(State(_server): State<Arc<Server>>) -> Html<&'static str> {
    Html(
        "<html><body><h1>Junction</h1><ul>\
         <li><a href=\"varz\">varz</a></li><li><a href=\"connz\">connz</a></li>\
         <li><a href=\"subsz\">subsz</a></li><li><a href=\"accountz\">accountz</a></li>\
         <li><a href=\"accstatz\">accstatz</a></li><li><a href=\"routez\">routez</a></li>\
         <li><a href=\"gatewayz\">gatewayz</a></li><li><a href=\"leafz\">leafz</a></li>\
         <li><a href=\"jsz\">jsz</a></li><li><a href=\"healthz\">healthz</a></li>\
         <li><a href=\"metrics\">metrics</a></li></ul></body></html>",
    )
}
