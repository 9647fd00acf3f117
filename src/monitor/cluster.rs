//! `/routez`, `/gatewayz` and `/leafz`: nats-server's shapes, empty, since
//! Junction runs standalone.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use super::time::now;
use crate::server::Server;

pub async fn routez(State(server): State<Arc<Server>>) -> Json<Value> {
    Json(json!({"server_id": server.id, "now": now(), "num_routes": 0, "routes": []}))
}

pub async fn gatewayz(State(server): State<Arc<Server>>) -> Json<Value> {
    Json(json!({"server_id": server.id, "now": now(), "outbound_gateways": {}, "inbound_gateways": {}}))
}

pub async fn leafz(State(server): State<Arc<Server>>) -> Json<Value> {
    Json(json!({"server_id": server.id, "now": now(), "leafnodes": 0, "leafs": null}))
}
