//! Configuration files in nats-server's format: parsing them into a positioned `Value` tree and applying it to `Options`.
//!
//! ```text
//! let cfg = config::load_file(path)?;        // parse (includes, variables resolved)
//! let mut opts = Options::default();
//! config::apply(&mut opts, &cfg)?;          // map keys onto options
//! // or both at once: config::load_options(path)?
//! ```
//!
//! Every error displays as `file:line:column: message`.

mod apply;
mod auth;
mod cluster;
mod error;
mod gateway;
mod leafnode;
mod listener;
mod mapping;
mod mqtt;
mod parser;
mod read;
mod tls;
mod units;
mod value;
mod websocket;

#[cfg(test)]
mod auth_tests;
#[cfg(test)]
mod cluster_tests;
#[cfg(test)]
mod gateway_tests;
#[cfg(test)]
mod leafnode_tests;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod websocket_tests;

use std::path::Path;

pub use apply::apply;
pub use error::ConfigError;
pub use value::{Datetime, Entry, Map, Pos, Value, ValueKind};

use crate::options::Options;

/// Reads and parses a configuration file. Includes are resolved relative to its directory.
pub fn load_file(path: &Path) -> Result<Map, ConfigError> {
    parser::parse_file(path)
}

/// Parses configuration text. `origin` names it in errors, and includes are resolved
/// relative to its directory.
pub fn parse_str(text: &str, origin: &Path) -> Result<Map, ConfigError> {
    parser::parse_text(text, origin)
}

/// The default options with a configuration file applied on top.
pub fn load_options(path: &Path) -> Result<Options, ConfigError> {
    let cfg = load_file(path)?;
    let mut opts = Options::default();
    apply(&mut opts, &cfg)?;
    Ok(opts)
}
