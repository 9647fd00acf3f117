//! Subject transforms of streams (`subject_transform`, `republish`): a
//! source pattern with wildcards and a destination that places what they
//! matched, by position (`*`, `>`) or by number (`$1`, `{{wildcard(1)}}`).

use serde::{Deserialize, Serialize};

use super::errors::ApiError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct TransformConfig {
    pub src: String,
    pub dest: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct RepublishConfig {
    pub src: String,
    pub dest: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub headers_only: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Dest {
    Literal(String),
    /// The n-th (1-based) `*` of the source.
    Wildcard(usize),
    /// What the source's `>` matched.
    Rest,
}

/// A compiled transform.
#[derive(Debug, Clone, PartialEq)]
pub struct Transform {
    src: Vec<String>,
    dest: Vec<Dest>,
}

impl Transform {
    /// Compiles `src` → `dest`; an empty `src` takes any subject (`>`).
    pub fn new(src: &str, dest: &str) -> Result<Transform, ApiError> {
        let src = if src.is_empty() { ">" } else { src };
        let bad = |why: &str| {
            ApiError::stream_invalid_config(format!("invalid subject transform {src:?} -> {dest:?}: {why}"))
        };
        if !junction_nats::subject::is_valid_subject(src.as_bytes()) {
            return Err(bad("bad source"));
        }
        let src: Vec<String> = src.split('.').map(str::to_string).collect();
        let stars = src.iter().filter(|t| *t == "*").count();
        let has_rest = src.last().is_some_and(|t| t == ">");
        let mut next_star = 0;
        let mut out = Vec::new();
        for token in dest.split('.') {
            let numbered = token
                .strip_prefix('$')
                .or_else(|| {
                    token
                        .strip_prefix("{{wildcard(")
                        .and_then(|t| t.strip_suffix(")}}"))
                })
                .and_then(|n| n.trim().parse::<usize>().ok());
            let d = match (token, numbered) {
                (_, Some(n)) if n >= 1 && n <= stars => Dest::Wildcard(n),
                (_, Some(_)) => return Err(bad("wildcard index out of range")),
                ("*", None) => {
                    next_star += 1;
                    if next_star > stars {
                        return Err(bad("more wildcards in the destination than in the source"));
                    }
                    Dest::Wildcard(next_star)
                }
                (">", None) if has_rest => Dest::Rest,
                (">", None) => return Err(bad("'>' in the destination needs one in the source")),
                ("", None) => return Err(bad("empty token")),
                (lit, None) => Dest::Literal(lit.to_string()),
            };
            out.push(d);
        }
        Ok(Transform { src, dest: out })
    }

    /// The transformed subject, or `None` when `subject` does not match the source.
    pub fn apply(&self, subject: &str) -> Option<String> {
        let tokens: Vec<&str> = subject.split('.').collect();
        let mut stars = Vec::new();
        let mut rest = None;
        for (i, s) in self.src.iter().enumerate() {
            match s.as_str() {
                ">" => {
                    if i >= tokens.len() {
                        return None;
                    }
                    rest = Some(tokens[i..].join("."));
                    break;
                }
                "*" => stars.push(*tokens.get(i)?),
                lit => {
                    if tokens.get(i) != Some(&lit) {
                        return None;
                    }
                }
            }
        }
        if rest.is_none() && tokens.len() != self.src.len() {
            return None;
        }
        let parts: Vec<String> = self
            .dest
            .iter()
            .map(|d| match d {
                Dest::Literal(l) => l.clone(),
                Dest::Wildcard(n) => stars.get(n - 1).map(|s| s.to_string()).unwrap_or_default(),
                Dest::Rest => rest.clone().unwrap_or_default(),
            })
            .collect();
        Some(parts.join("."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_what_the_wildcards_matched() {
        let t = Transform::new("orders.*.*", "archive.$2.$1").unwrap();
        assert_eq!(t.apply("orders.eu.new").as_deref(), Some("archive.new.eu"));
        assert_eq!(t.apply("orders.eu"), None);
        let t = Transform::new("a.>", "b.>").unwrap();
        assert_eq!(t.apply("a.x.y").as_deref(), Some("b.x.y"));
        let t = Transform::new("in.*", "out.{{wildcard(1)}}").unwrap();
        assert_eq!(t.apply("in.z").as_deref(), Some("out.z"));
        let t = Transform::new("", "copy.>").unwrap();
        assert_eq!(t.apply("any.thing").as_deref(), Some("copy.any.thing"));
        assert!(Transform::new("a.*", "b.$2").is_err());
        assert!(Transform::new("a.*", "b.>").is_err());
    }
}
