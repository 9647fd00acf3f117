//! Errors from reading, parsing and applying a configuration file; each names where it happened.

use std::path::PathBuf;

use super::value::Pos;

/// Anything wrong with a configuration file. Every variant but `Read` and `Multiple`
/// displays as `file:line:column: message`.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("error opening config file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The text is not valid configuration syntax.
    #[error("{pos}: {message}")]
    Syntax { pos: Pos, message: String },
    /// `$name` matched no variable in scope and no environment variable.
    #[error(
        "{pos}: variable '${name}' is not defined (not in this block, an enclosing one or the environment)"
    )]
    UndefinedVariable { pos: Pos, name: String },
    /// Environment variables refer to each other in a loop.
    #[error("{pos}: environment variable '{name}' refers to itself through '$' references")]
    VariableCycle { pos: Pos, name: String },
    /// An environment variable used as `$name` does not hold a valid value.
    #[error("{pos}: environment variable '{name}' does not hold a valid value: {message}")]
    BadEnvVariable { pos: Pos, name: String, message: String },
    /// An included file could not be read or parsed.
    #[error("{pos}: error in include file '{file}': {source}")]
    Include {
        pos: Pos,
        file: String,
        #[source]
        source: Box<ConfigError>,
    },
    /// A file includes itself, directly or through other files.
    #[error("{pos}: include cycle: '{}' is already being read", path.display())]
    IncludeCycle { pos: Pos, path: PathBuf },
    /// A key nats-server does not know either.
    #[error("{pos}: unknown field \"{key}\"")]
    UnknownField { pos: Pos, key: String },
    /// A nats-server key that Junction does not implement yet.
    #[error("{pos}: \"{key}\" is not supported by junction yet")]
    Unsupported { pos: Pos, key: String },
    /// A key holding a value of the wrong type.
    #[error("{pos}: \"{key}\" expects {expected}, got {found}")]
    WrongType {
        pos: Pos,
        key: String,
        expected: &'static str,
        found: &'static str,
    },
    /// A key holding a value of the right type that is not acceptable.
    #[error("{pos}: invalid value for \"{key}\": {message}")]
    InvalidValue { pos: Pos, key: String, message: String },
    /// Several errors found while applying one file, in file order.
    #[error("{}", join_lines(.0))]
    Multiple(Vec<ConfigError>),
}

fn join_lines(errors: &[ConfigError]) -> String {
    errors
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

impl ConfigError {
    /// Where the error is, if it is about one place.
    pub fn pos(&self) -> Option<&Pos> {
        match self {
            ConfigError::Read { .. } | ConfigError::Multiple(_) => None,
            ConfigError::Syntax { pos, .. }
            | ConfigError::UndefinedVariable { pos, .. }
            | ConfigError::VariableCycle { pos, .. }
            | ConfigError::BadEnvVariable { pos, .. }
            | ConfigError::Include { pos, .. }
            | ConfigError::IncludeCycle { pos, .. }
            | ConfigError::UnknownField { pos, .. }
            | ConfigError::Unsupported { pos, .. }
            | ConfigError::WrongType { pos, .. }
            | ConfigError::InvalidValue { pos, .. } => Some(pos),
        }
    }

    /// The errors this stands for: itself, or the members of `Multiple`.
    pub fn errors(&self) -> Vec<&ConfigError> {
        match self {
            ConfigError::Multiple(v) => v.iter().collect(),
            e => vec![e],
        }
    }

    /// One error for a list of them; `None` when the list is empty.
    pub(crate) fn from_list(mut errors: Vec<ConfigError>) -> Option<ConfigError> {
        match errors.len() {
            0 => None,
            1 => errors.pop(),
            _ => Some(ConfigError::Multiple(errors)),
        }
    }
}
