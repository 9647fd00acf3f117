//! JetStream: streams that store what is published on their subjects, with
//! the `$JS.API` that the official clients speak to manage and read them.

pub mod filestore;
pub mod store;
