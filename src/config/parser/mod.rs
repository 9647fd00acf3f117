//! Reads nats-server configuration syntax into a `Map`: lexing, values, variables and includes.
//!
//! The grammar follows what nats-server's `conf` package accepts:
//! `key value`, `key: value` or `key = value` entries separated by new lines, `,` or `;`;
//! `{ }` maps, `[ ]` arrays, `#` and `//` comments, `include <file>`, `$variable` references,
//! double-quoted strings with escapes, single-quoted raw strings, bare strings, booleans
//! (true/false/yes/no/on/off), integers with size suffixes, floats, Zulu datetimes and
//! `( ... )` block strings closed by a `)` alone on its line.
//!
//! Its parts: `references` (includes and variables) and `scalars`.

mod references;
mod scalars;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::error::ConfigError;
use super::value::{Entry, Map, Pos, Value, ValueKind};

/// Deepest nesting of maps and arrays accepted (keeps recursion bounded).
const MAX_DEPTH: usize = 64;
/// Deepest chain of includes accepted.
const MAX_INCLUDE_DEPTH: usize = 32;

/// State shared by a file, the files it includes and the environment variables it expands.
#[derive(Default)]
pub(crate) struct Shared {
    /// Files being read, outermost first (canonical paths where possible), to catch include cycles.
    files: Vec<PathBuf>,
    /// Environment variables being expanded, to catch reference cycles.
    env: Vec<String>,
}

/// Reads and parses a file.
pub(crate) fn parse_file(path: &Path) -> Result<Map, ConfigError> {
    read_and_parse(path, &mut Shared::default())
}

/// Parses text; `origin` names it in errors and its directory anchors relative includes.
pub(crate) fn parse_text(text: &str, origin: &Path) -> Result<Map, ConfigError> {
    parse_document(text, origin, &mut Shared::default())
}

fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

fn read_and_parse(path: &Path, shared: &mut Shared) -> Result<Map, ConfigError> {
    let bytes = std::fs::read(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    match String::from_utf8(bytes) {
        Ok(text) => parse_document(&text, path, shared),
        Err(e) => {
            let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let valid = std::str::from_utf8(valid).unwrap_or("");
            let line = valid.matches('\n').count() + 1;
            let column = valid.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            Err(ConfigError::Syntax {
                pos: Pos {
                    file: Arc::from(path),
                    line: to_u32(line),
                    column: to_u32(column),
                },
                message: "the file is not valid UTF-8 here".to_string(),
            })
        }
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn parse_document(text: &str, origin: &Path, shared: &mut Shared) -> Result<Map, ConfigError> {
    shared.files.push(canonical(origin));
    let dir = origin.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut parser = Parser::new(text, Arc::from(origin), dir, shared);
    let result = parser.document();
    parser.shared.files.pop();
    result
}

/// How to name a character (or the end of input) in a message.
fn describe(c: Option<char>) -> String {
    match c {
        None => "end of file".to_string(),
        Some('\n') | Some('\r') => "end of line".to_string(),
        Some(c) => format!("'{}'", c.escape_debug()),
    }
}

fn push_char(buf: &mut Vec<u8>, c: char) {
    let mut tmp = [0u8; 4];
    buf.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
}

/// Characters that end a bare (unquoted) value.
fn ends_bare_value(c: char) -> bool {
    matches!(c, '\n' | '\r' | ';' | ',' | ']' | '}' | ' ' | '\t')
}

/// Characters that end a bare key.
fn ends_bare_key(c: char) -> bool {
    c.is_whitespace() || matches!(c, ':' | '=' | '{' | '[' | '}' | ']' | ',' | ';')
}

struct Parser<'a> {
    chars: Vec<char>,
    i: usize,
    line: u32,
    column: u32,
    file: Arc<Path>,
    /// Directory that relative includes are resolved against.
    dir: PathBuf,
    /// Maps being built, outermost first: the scopes `$variables` are looked up in.
    scopes: Vec<Map>,
    depth: usize,
    shared: &'a mut Shared,
}

impl<'a> Parser<'a> {
    fn new(text: &str, file: Arc<Path>, dir: PathBuf, shared: &'a mut Shared) -> Self {
        let mut chars: Vec<char> = text.chars().collect();
        if chars.first() == Some(&'\u{feff}') {
            chars.remove(0);
        }
        Parser {
            chars,
            i: 0,
            line: 1,
            column: 1,
            file,
            dir,
            scopes: Vec::new(),
            depth: 0,
            shared,
        }
    }

    // ----- low-level reading -----

    fn peek(&self) -> Option<char> {
        self.chars.get(self.i).copied()
    }

    fn peek_at(&self, n: usize) -> Option<char> {
        self.chars.get(self.i + n).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.i += 1;
        if c == '\n' {
            self.line = self.line.saturating_add(1);
            self.column = 1;
        } else {
            self.column = self.column.saturating_add(1);
        }
        Some(c)
    }

    fn pos(&self) -> Pos {
        Pos {
            file: self.file.clone(),
            line: self.line,
            column: self.column,
        }
    }

    fn syntax<T>(&self, pos: Pos, message: impl Into<String>) -> Result<T, ConfigError> {
        Err(ConfigError::Syntax {
            pos,
            message: message.into(),
        })
    }

    /// Skips spaces and tabs.
    fn skip_blank(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.bump();
        }
    }

    fn at_comment(&self) -> bool {
        match self.peek() {
            Some('#') => true,
            Some('/') => self.peek_at(1) == Some('/'),
            _ => false,
        }
    }

    /// Skips a comment up to (not including) the end of its line; false if there is none here.
    fn skip_comment(&mut self) -> bool {
        if !self.at_comment() {
            return false;
        }
        while !matches!(self.peek(), None | Some('\n' | '\r')) {
            self.bump();
        }
        true
    }

    /// Skips all white space (new lines included) and comments.
    fn skip_space_and_comments(&mut self) {
        loop {
            match self.peek() {
                Some(c) if c.is_whitespace() => {
                    self.bump();
                }
                _ if self.skip_comment() => {}
                _ => return,
            }
        }
    }

    fn current(&mut self) -> &mut Map {
        if self.scopes.is_empty() {
            self.scopes.push(Map::new());
        }
        let last = self.scopes.len() - 1;
        &mut self.scopes[last]
    }

    // ----- structure -----

    /// The whole text: entries up to the end, optionally wrapped in `{ }` (JSON style).
    fn document(&mut self) -> Result<Map, ConfigError> {
        self.scopes.push(Map::new());
        let mut open_braces: Vec<Pos> = Vec::new();
        loop {
            self.skip_space_and_comments();
            let pos = self.pos();
            match self.peek() {
                None => {
                    if let Some(open) = open_braces.last() {
                        return self.syntax(
                            pos,
                            format!("unexpected end of file: the '{{' at {open} is never closed"),
                        );
                    }
                    break;
                }
                Some('{') => {
                    self.bump();
                    open_braces.push(pos);
                }
                Some('}') => {
                    if open_braces.pop().is_none() {
                        return self.syntax(pos, "unexpected '}' with no matching '{'");
                    }
                    self.bump();
                }
                Some(_) => {
                    self.entry()?;
                    self.end_of_entry()?;
                }
            }
        }
        Ok(self.scopes.pop().unwrap_or_default())
    }

    /// One `key value` (or `include file`) into the current map.
    fn entry(&mut self) -> Result<(), ConfigError> {
        let key_pos = self.pos();
        let (key, quoted) = self.key()?;
        if !quoted
            && key.eq_ignore_ascii_case("include")
            && matches!(self.peek(), Some(c) if c.is_whitespace())
        {
            return self.include();
        }
        // nats-server lets the value start on a later line when there is no separator.
        while matches!(self.peek(), Some(c) if c.is_whitespace()) {
            self.bump();
        }
        if matches!(self.peek(), Some(':' | '=')) {
            self.bump();
            self.skip_blank();
        }
        let value = self.value()?;
        self.current().insert(Entry {
            key,
            key_pos,
            value,
            used_as_variable: false,
        });
        Ok(())
    }

    /// A key: bare, or quoted with `"` or `'` (no escapes). Returns whether it was quoted.
    fn key(&mut self) -> Result<(String, bool), ConfigError> {
        let start = self.pos();
        if let Some(q @ ('"' | '\'')) = self.peek() {
            self.bump();
            let mut key = String::new();
            loop {
                match self.bump() {
                    None => return self.syntax(start, "unexpected end of file in a quoted key"),
                    Some(c) if c == q => return Ok((key, true)),
                    Some(c) => key.push(c),
                }
            }
        }
        let mut key = String::new();
        while let Some(c) = self.peek() {
            if ends_bare_key(c) {
                break;
            }
            key.push(c);
            self.bump();
        }
        if key.is_empty() {
            return self.syntax(start, format!("expected a key, found {}", describe(self.peek())));
        }
        Ok((key, false))
    }

    /// What may follow an entry: a new line, `,`, `;`, a comment, the end of the map or of the file.
    fn end_of_entry(&mut self) -> Result<(), ConfigError> {
        self.skip_blank();
        if self.skip_comment() {
            return Ok(());
        }
        match self.peek() {
            None | Some('}') => Ok(()),
            Some('\n' | '\r' | ';' | ',') => {
                self.bump();
                Ok(())
            }
            c => self.syntax(
                self.pos(),
                format!(
                    "expected a new line, ',' or ';' after a value, found {}",
                    describe(c)
                ),
            ),
        }
    }

    // ----- values -----

    fn value(&mut self) -> Result<Value, ConfigError> {
        self.skip_blank();
        let pos = self.pos();
        if self.at_comment() {
            return self.syntax(pos, "expected a value, found a comment");
        }
        match self.peek() {
            c @ (None | Some('\n' | '\r' | '}' | ']' | ',' | ';')) => {
                self.syntax(pos, format!("expected a value, found {}", describe(c)))
            }
            Some('[') => self.array(pos),
            Some('{') => self.map(pos),
            Some('"') => self.quoted(pos),
            Some('\'') => self.raw_quoted(pos),
            Some('(') => self.block(pos),
            Some('.') if matches!(self.peek_at(1), Some(c) if c.is_ascii_digit()) => {
                self.syntax(pos, "a number must start with a digit, not '.'")
            }
            Some(c) if c == '-' || c.is_ascii_digit() => self.number_like(pos),
            Some(_) => self.bare(pos),
        }
    }

    fn enter(&mut self, pos: &Pos) -> Result<(), ConfigError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.syntax(
                pos.clone(),
                format!("maps and arrays are nested more than {MAX_DEPTH} deep"),
            );
        }
        Ok(())
    }

    fn array(&mut self, pos: Pos) -> Result<Value, ConfigError> {
        self.bump();
        self.enter(&pos)?;
        let mut items = Vec::new();
        loop {
            self.skip_space_and_comments();
            match self.peek() {
                None => {
                    return self.syntax(pos, "unexpected end of file: this '[' is never closed");
                }
                Some(']') => {
                    self.bump();
                    break;
                }
                Some(',') => {
                    return self.syntax(self.pos(), "unexpected ',' in an array: expected a value or ']'");
                }
                _ => {}
            }
            items.push(self.value()?);
            self.skip_blank();
            if self.skip_comment() {
                continue;
            }
            match self.peek() {
                Some(',' | '\n' | '\r') => {
                    self.bump();
                }
                Some(']') => {
                    self.bump();
                    break;
                }
                None => {
                    return self.syntax(pos, "unexpected end of file: this '[' is never closed");
                }
                c => {
                    return self.syntax(
                        self.pos(),
                        format!("expected ',' or ']' after an array value, found {}", describe(c)),
                    );
                }
            }
        }
        self.depth -= 1;
        Ok(Value {
            pos,
            kind: ValueKind::Array(items),
        })
    }

    fn map(&mut self, pos: Pos) -> Result<Value, ConfigError> {
        self.bump();
        self.enter(&pos)?;
        self.scopes.push(Map::new());
        loop {
            self.skip_space_and_comments();
            match self.peek() {
                None => {
                    return self.syntax(pos, "unexpected end of file: this '{' is never closed");
                }
                Some('}') => {
                    self.bump();
                    break;
                }
                _ => {
                    self.entry()?;
                    self.end_of_entry()?;
                }
            }
        }
        self.depth -= 1;
        let map = self.scopes.pop().unwrap_or_default();
        Ok(Value {
            pos,
            kind: ValueKind::Map(map),
        })
    }
}
