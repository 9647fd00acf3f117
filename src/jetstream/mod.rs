//! JetStream: streams that store what is published on their subjects, with
//! the `$JS.API` that the official clients speak to manage and read them.
//!
//! Each account with JetStream has its own streams, under
//! `<store_dir>/jetstream/<account>/streams/<stream>/` for file storage
//! (`meta.json` with the configuration, and the message blocks). The API is
//! an internal subscriber on `$JS.API.>` in every account, so isolation
//! between accounts comes from the same sublists as everything else.

mod accounts;
pub mod api;
pub mod clock;
pub mod config;
pub mod consumer;
pub mod errors;
pub mod filestore;
pub mod headers;
pub mod source;
pub mod store;
pub mod stream;
pub mod strict;
pub mod transform;

pub use accounts::{JetStream, JetStreamConfig, JsAccount};
