//! Helpers shared by the config test modules: parse a text as if read from
//! one file, apply it to default options, and expect success or an error.

use std::path::Path;

use super::{apply, parse_str, ConfigError};
use crate::options::Options;

/// The file name test texts pretend to come from (it appears in errors).
pub const ORIGIN: &str = "/etc/junction/test.conf";

/// Options from `text`, which must be valid.
pub fn opts(text: &str) -> Options {
    let cfg = parse_str(text, Path::new(ORIGIN)).unwrap_or_else(|e| panic!("{e}\n--- input:\n{text}"));
    let mut o = Options::default();
    apply(&mut o, &cfg).unwrap_or_else(|e| panic!("unexpected error: {e}\n--- input:\n{text}"));
    o
}

/// The error `text` parses to but fails to apply with.
pub fn opts_err(text: &str) -> ConfigError {
    let cfg = parse_str(text, Path::new(ORIGIN)).unwrap_or_else(|e| panic!("{e}\n--- input:\n{text}"));
    let mut o = Options::default();
    match apply(&mut o, &cfg) {
        Ok(()) => panic!("expected an error\n--- input:\n{text}"),
        Err(e) => e,
    }
}

/// [`opts_err`] as text.
pub fn err(text: &str) -> String {
    opts_err(text).to_string()
}
