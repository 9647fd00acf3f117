//! Junction: a NATS server in Rust. The core: accounts, the subject router,
//! connections, the server, options and configuration, and the CLI.

// serde_json::json! of the full /varz body nests deeper than the default.
#![recursion_limit = "256"]

pub mod account;
pub mod auth;
pub mod cli;
pub mod config;
pub mod conn;
pub mod gateway;
pub mod jetstream;
pub mod jwt;
pub mod leaf;
pub mod lifecycle;
pub mod listener;
pub mod logfile;
pub mod mapped_reply;
pub mod mapping;
pub mod message;
pub mod monitor;
pub mod mqtt;
pub mod nats;
pub mod operator;
pub mod options;
pub mod outlet;
pub mod permissions;
pub mod reload;
pub mod route;
pub mod router;
pub mod run;
pub mod server;
pub mod sublist;
pub mod subscription;
pub mod system;
pub mod tls;
pub mod websocket;

pub use options::Options;
pub use run::RunningServer;
pub use server::Server;
