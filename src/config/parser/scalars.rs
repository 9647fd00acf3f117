//! Scalar values: quoted and raw strings with their escapes, `( … )`
//! block strings, and bare words read as booleans, numbers with size
//! suffixes, datetimes or strings.

use crate::config::error::ConfigError;
use crate::config::value::{Datetime, Pos, Value, ValueKind};

use super::*;

impl<'a> Parser<'a> {
    /// A backslash escape (at the `\`), appended to `buf`.
    pub(super) fn escape(&mut self, buf: &mut Vec<u8>) -> Result<(), ConfigError> {
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

    pub(super) fn utf8_string(&self, pos: Pos, buf: Vec<u8>) -> Result<String, ConfigError> {
        String::from_utf8(buf)
            .or_else(|_| self.syntax(pos, "the string is not valid UTF-8 (check its \\x escapes)"))
    }

    /// `"..."` with escapes.
    pub(super) fn quoted(&mut self, pos: Pos) -> Result<Value, ConfigError> {
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
    pub(super) fn raw_quoted(&mut self, pos: Pos) -> Result<Value, ConfigError> {
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
    pub(super) fn block(&mut self, pos: Pos) -> Result<Value, ConfigError> {
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
    pub(super) fn bare_text(&mut self, pos: &Pos) -> Result<(String, bool), ConfigError> {
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
    pub(super) fn bare(&mut self, pos: Pos) -> Result<Value, ConfigError> {
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
    pub(super) fn number_like(&mut self, pos: Pos) -> Result<Value, ConfigError> {
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
