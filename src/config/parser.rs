//! Reads nats-server configuration syntax into a `Map`: lexing, values, variables and includes.
//!
//! The grammar follows what nats-server's `conf` package accepts:
//! `key value`, `key: value` or `key = value` entries separated by new lines, `,` or `;`;
//! `{ }` maps, `[ ]` arrays, `#` and `//` comments, `include <file>`, `$variable` references,
//! double-quoted strings with escapes, single-quoted raw strings, bare strings, booleans
//! (true/false/yes/no/on/off), integers with size suffixes, floats, Zulu datetimes and
//! `( ... )` block strings closed by a `)` alone on its line.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::error::ConfigError;
use super::value::{Datetime, Entry, Map, Pos, Value, ValueKind};

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

    /// `include <file>`: the keyword has been read; merges the file's entries into the current map.
    fn include(&mut self) -> Result<(), ConfigError> {
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

    /// A backslash escape (at the `\`), appended to `buf`.
    fn escape(&mut self, buf: &mut Vec<u8>) -> Result<(), ConfigError> {
        let pos = self.pos();
        self.bump();
        match self.bump() {
            Some('t') => buf.push(b'\t'),
            Some('n') => buf.push(b'\n'),
            Some('r') => buf.push(b'\r'),
            Some('"') => buf.push(b'"'),
            Some('\\') => buf.push(b'\\'),
            Some('x') => {
                let mut byte = 0u8;
                for _ in 0..2 {
                    match self.peek() {
                        Some(h) if h.is_ascii_hexdigit() => {
                            self.bump();
                            byte = byte * 16 + h.to_digit(16).unwrap_or(0) as u8;
                        }
                        c => {
                            return self.syntax(
                                pos,
                                format!(
                                    "expected two hexadecimal digits after '\\x', found {}",
                                    describe(c)
                                ),
                            );
                        }
                    }
                }
                buf.push(byte);
            }
            c => {
                let what = match c {
                    Some(c) if c != '\n' && c != '\r' => format!("'\\{}'", c.escape_debug()),
                    c => format!("'\\' followed by {}", describe(c)),
                };
                return self.syntax(
                    pos,
                    format!("invalid escape {what}: only \\xHH, \\t, \\n, \\r, \\\" and \\\\ are allowed"),
                );
            }
        }
        Ok(())
    }

    fn utf8_string(&self, pos: Pos, buf: Vec<u8>) -> Result<String, ConfigError> {
        String::from_utf8(buf)
            .or_else(|_| self.syntax(pos, "the string is not valid UTF-8 (check its \\x escapes)"))
    }

    /// `"..."` with escapes.
    fn quoted(&mut self, pos: Pos) -> Result<Value, ConfigError> {
        self.bump();
        let mut buf = Vec::new();
        loop {
            match self.peek() {
                None => return self.syntax(pos, "unexpected end of file in a quoted string"),
                Some('"') => {
                    self.bump();
                    break;
                }
                Some('\\') => self.escape(&mut buf)?,
                Some(c) => {
                    push_char(&mut buf, c);
                    self.bump();
                }
            }
        }
        let s = self.utf8_string(pos.clone(), buf)?;
        Ok(Value {
            pos,
            kind: ValueKind::String(s),
        })
    }

    /// `'...'`, taken literally.
    fn raw_quoted(&mut self, pos: Pos) -> Result<Value, ConfigError> {
        self.bump();
        let mut s = String::new();
        loop {
            match self.bump() {
                None => return self.syntax(pos, "unexpected end of file in a quoted string"),
                Some('\'') => break,
                Some(c) => s.push(c),
            }
        }
        Ok(Value {
            pos,
            kind: ValueKind::String(s),
        })
    }

    /// `( ... )`: everything after `(` up to a line holding only `)`, taken literally.
    fn block(&mut self, pos: Pos) -> Result<Value, ConfigError> {
        self.bump();
        let mut s = String::new();
        let mut prev = '(';
        loop {
            match self.peek() {
                None => {
                    return self.syntax(
                        pos,
                        "unexpected end of file: this block string needs a ')' alone on a line to end it",
                    );
                }
                Some(')') if prev == '\n' && matches!(self.peek_at(1), None | Some('\n' | '\r')) => {
                    self.bump();
                    break;
                }
                Some(c) => {
                    s.push(c);
                    prev = c;
                    self.bump();
                }
            }
        }
        Ok(Value {
            pos,
            kind: ValueKind::String(s),
        })
    }

    /// The text of an unquoted value (escapes processed) and whether it had escapes.
    fn bare_text(&mut self, pos: &Pos) -> Result<(String, bool), ConfigError> {
        let mut buf = Vec::new();
        let mut escaped = false;
        while let Some(c) = self.peek() {
            if ends_bare_value(c) {
                break;
            }
            if c == '\\' {
                self.escape(&mut buf)?;
                escaped = true;
            } else {
                push_char(&mut buf, c);
                self.bump();
            }
        }
        Ok((self.utf8_string(pos.clone(), buf)?, escaped))
    }

    /// An unquoted value not starting with a digit or `-`: boolean, `$variable` or string.
    fn bare(&mut self, pos: Pos) -> Result<Value, ConfigError> {
        let (text, escaped) = self.bare_text(&pos)?;
        if !escaped {
            match text.to_ascii_lowercase().as_str() {
                "true" | "yes" | "on" => {
                    return Ok(Value {
                        pos,
                        kind: ValueKind::Bool(true),
                    })
                }
                "false" | "no" | "off" => {
                    return Ok(Value {
                        pos,
                        kind: ValueKind::Bool(false),
                    })
                }
                _ => {}
            }
            if let Some(name) = text.strip_prefix('$') {
                return self.variable(name, pos);
            }
        }
        Ok(Value {
            pos,
            kind: ValueKind::String(text),
        })
    }

    /// An unquoted value starting with a digit or `-`: integer (maybe with a size suffix),
    /// float, datetime, or a string such as `10s` or `127.0.0.1:4222`.
    fn number_like(&mut self, pos: Pos) -> Result<Value, ConfigError> {
        let (text, escaped) = self.bare_text(&pos)?;
        if escaped {
            return Ok(Value {
                pos,
                kind: ValueKind::String(text),
            });
        }
        match classify_number(&text) {
            Ok(kind) => Ok(Value { pos, kind }),
            Err(message) => self.syntax(pos, message),
        }
    }

    /// `$name`: the nearest enclosing map's entry `name`, else the environment variable.
    fn variable(&mut self, name: &str, pos: Pos) -> Result<Value, ConfigError> {
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

    fn env_variable(&mut self, name: &str, pos: Pos) -> Result<Value, ConfigError> {
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

/// Size suffixes: lowercase suffix to multiplier. Single letters are powers of 1000,
/// `b`/`i`/`ib` forms powers of 1024, as in nats-server.
fn suffix_multiplier(suffix: &str) -> Option<i64> {
    let (power, binary) = match suffix {
        "k" => (1, false),
        "kb" | "ki" | "kib" => (1, true),
        "m" => (2, false),
        "mb" | "mi" | "mib" => (2, true),
        "g" => (3, false),
        "gb" | "gi" | "gib" => (3, true),
        "t" => (4, false),
        "tb" | "ti" | "tib" => (4, true),
        "p" => (5, false),
        "pb" | "pi" | "pib" => (5, true),
        "e" => (6, false),
        "eb" | "ei" | "eib" => (6, true),
        _ => return None,
    };
    let base: i64 = if binary { 1024 } else { 1000 };
    base.checked_pow(power)
}

fn classify_number(text: &str) -> Result<ValueKind, String> {
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    if !body.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(match body.chars().next() {
            Some('.') => "a number must start with a digit, not '.'".to_string(),
            Some(c) => format!("expected a digit after '-', found '{}'", c.escape_debug()),
            None => "expected a digit after '-'".to_string(),
        });
    }
    let digits_end = body.find(|c: char| !c.is_ascii_digit()).unwrap_or(body.len());
    let (digits, rest) = body.split_at(digits_end);
    let out_of_range = || format!("the number '{text}' is out of range");
    if rest.is_empty() {
        return text
            .parse::<i64>()
            .map(ValueKind::Integer)
            .map_err(|_| out_of_range());
    }
    if let Some(fraction) = rest.strip_prefix('.') {
        if !fraction.is_empty() && fraction.bytes().all(|b| b.is_ascii_digit()) {
            return match text.parse::<f64>() {
                Ok(f) if f.is_finite() => Ok(ValueKind::Float(f)),
                _ => Err(out_of_range()),
            };
        }
    }
    if !negative && digits.len() == 4 && rest.starts_with('-') {
        return parse_datetime(text).map(ValueKind::Datetime);
    }
    let mut suffix = rest.chars();
    let is_size = suffix.next().is_some_and(|c| "kmgtpeKMGTPE".contains(c))
        && suffix.all(|c| matches!(c, 'b' | 'B' | 'i' | 'I'));
    if is_size {
        let lower = rest.to_ascii_lowercase();
        let multiplier =
            suffix_multiplier(&lower).ok_or_else(|| format!("invalid size suffix '{rest}' in '{text}'"))?;
        let n: i64 = digits.parse().map_err(|_| out_of_range())?;
        let n = n.checked_mul(multiplier).ok_or_else(out_of_range)?;
        return Ok(ValueKind::Integer(if negative { -n } else { n }));
    }
    Ok(ValueKind::String(text.to_string()))
}

/// `YYYY-MM-DDTHH:MM:SSZ`.
fn parse_datetime(text: &str) -> Result<Datetime, String> {
    let bad = || format!("invalid datetime '{text}': expected the form YYYY-MM-DDTHH:MM:SSZ");
    let b = text.as_bytes();
    let shape = b"0000-00-00T00:00:00Z";
    if b.len() != shape.len() {
        return Err(bad());
    }
    for (&c, &s) in b.iter().zip(shape.iter()) {
        let ok = if s == b'0' { c.is_ascii_digit() } else { c == s };
        if !ok {
            return Err(bad());
        }
    }
    let num = |from: usize, to: usize| -> u16 {
        b[from..to]
            .iter()
            .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'))
    };
    let (year, month, day) = (num(0, 4), num(5, 7), num(8, 10));
    let (hour, minute, second) = (num(11, 13), num(14, 16), num(17, 19));
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return Err(format!("invalid datetime '{text}': month out of range")),
    };
    if day == 0 || day > days {
        return Err(format!("invalid datetime '{text}': day out of range"));
    }
    if hour > 23 || minute > 59 || second > 59 {
        return Err(format!("invalid datetime '{text}': time of day out of range"));
    }
    Ok(Datetime {
        year,
        month: month as u8,
        day: day as u8,
        hour: hour as u8,
        minute: minute as u8,
        second: second as u8,
    })
}
