//! What a configuration file refers to: `include` of other files, and
//! `$variable` references to the file's own keys and to the environment,
//! with include and reference cycles caught.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::error::ConfigError;
use crate::config::value::{Pos, Value, ValueKind};

use super::*;

impl<'a> Parser<'a> {
    /// `include <file>`: the keyword has been read; merges the file's entries into the current map.
    pub(super) fn include(&mut self) -> Result<(), ConfigError> {
        self.skip_blank();
        let pos = self.pos();
        let name = match self.peek() {
            Some(q @ ('"' | '\'')) => {
                self.bump();
                let mut name = String::new();
                loop {
                    match self.bump() {
                        None => return self.syntax(pos, "unexpected end of file in the include file name"),
                        Some(c) if c == q => break,
                        Some(c) => name.push(c),
                    }
                }
                name
            }
            None | Some('\n' | '\r' | '[' | '{' | '(' | '\\' | ';' | '}') => {
                return self.syntax(
                    pos,
                    format!(
                        "expected a file name after include, found {}",
                        describe(self.peek())
                    ),
                );
            }
            Some(_) => {
                let mut name = String::new();
                while let Some(c) = self.peek() {
                    if matches!(c, '\n' | '\r' | ';' | '}' | ' ' | '\t') {
                        break;
                    }
                    name.push(c);
                    self.bump();
                }
                name
            }
        };
        if name.is_empty() {
            return self.syntax(pos, "the include file name is empty");
        }
        let path = self.dir.join(&name);
        if self.shared.files.contains(&canonical(&path)) {
            return Err(ConfigError::IncludeCycle { pos, path });
        }
        if self.shared.files.len() >= MAX_INCLUDE_DEPTH {
            return self.syntax(
                pos,
                format!("includes are nested more than {MAX_INCLUDE_DEPTH} deep"),
            );
        }
        let included = read_and_parse(&path, self.shared).map_err(|e| ConfigError::Include {
            pos,
            file: name,
            source: Box::new(e),
        })?;
        let map = self.current();
        for entry in included.into_entries() {
            map.insert(entry);
        }
        Ok(())
    }

    /// `$name`: the nearest enclosing map's entry `name`, else the environment variable.
    pub(super) fn variable(&mut self, name: &str, pos: Pos) -> Result<Value, ConfigError> {
        // A bcrypt hash written bare is not a variable reference.
        if name.starts_with("2a$") {
            return Ok(Value {
                pos,
                kind: ValueKind::String(format!("${name}")),
            });
        }
        for scope in self.scopes.iter_mut().rev() {
            if let Some(entry) = scope.entry_mut(name) {
                entry.used_as_variable = true;
                let mut value = entry.value.clone();
                value.pos = pos;
                return Ok(value);
            }
        }
        self.env_variable(name, pos)
    }

    pub(super) fn env_variable(&mut self, name: &str, pos: Pos) -> Result<Value, ConfigError> {
        let undefined = || ConfigError::UndefinedVariable {
            pos: pos.clone(),
            name: name.to_string(),
        };
        if name.is_empty() || name.contains(['=', '\0']) {
            return Err(undefined());
        }
        if self.shared.env.iter().any(|n| n == name) {
            return Err(ConfigError::VariableCycle {
                pos,
                name: name.to_string(),
            });
        }
        let raw = std::env::var_os(name).ok_or_else(undefined)?;
        let bad = |message: String| ConfigError::BadEnvVariable {
            pos: pos.clone(),
            name: name.to_string(),
            message,
        };
        let text = raw
            .into_string()
            .map_err(|_| bad("it is not valid UTF-8".to_string()))?;
        if text.trim().is_empty() {
            return Ok(Value {
                pos,
                kind: ValueKind::String(text),
            });
        }
        self.shared.env.push(name.to_string());
        let file: Arc<Path> = Arc::from(Path::new(&format!("<environment variable {name}>")));
        let mut parser = Parser::new(&text, file, PathBuf::new(), self.shared);
        let result = parser.value().and_then(|v| {
            parser.skip_space_and_comments();
            match parser.peek() {
                None => Ok(v),
                c => parser.syntax(
                    parser.pos(),
                    format!("unexpected {} after the value", describe(c)),
                ),
            }
        });
        parser.shared.env.pop();
        let mut value = result.map_err(|e| bad(e.to_string()))?;
        value.pos = pos;
        Ok(value)
    }
}
