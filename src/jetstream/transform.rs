//! Subject transforms of streams (`subject_transform`, `republish`): a
//! source pattern with wildcards and a destination that places what they
//! matched, by position (`*`, `>`), by number (`$1`, `{{wildcard(1)}}`) or
//! through nats-server's functions (`{{partition(3,1)}}` …).

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

/// A compiled transform: nats-server's subject transform (the one subject
/// mappings use, with its functions), matched against the source first.
#[derive(Debug, Clone, PartialEq)]
pub struct Transform(crate::mapping::Transform);

impl Transform {
    /// Compiles `src` → `dest`; an empty `src` takes any subject (`>`). A
    /// `*` in the destination stands for the source's next wildcard, as
    /// Junction has always read it.
    pub fn new(src: &str, dest: &str) -> Result<Transform, ApiError> {
        Self::compile(src, dest, crate::mapping::Transform::new)
    }

    /// A republish transform: its destination need not use every wildcard
    /// of its source, as in nats-server.
    pub fn republish(src: &str, dest: &str) -> Result<Transform, ApiError> {
        Self::compile(src, dest, crate::mapping::Transform::lenient)
    }

    fn compile(
        src: &str,
        dest: &str,
        compile: fn(&str, &str) -> Result<crate::mapping::Transform, crate::mapping::MappingError>,
    ) -> Result<Transform, ApiError> {
        let src = if src.is_empty() { ">" } else { src };
        let mut n = 0;
        let numbered: Vec<String> = dest
            .split('.')
            .map(|t| match t {
                "*" => {
                    n += 1;
                    format!("${n}")
                }
                t => t.to_string(),
            })
            .collect();
        compile(src, &numbered.join(".")).map(Transform).map_err(|e| {
            ApiError::stream_invalid_config(format!("invalid subject transform {src:?} -> {dest:?}: {e}"))
        })
    }

    /// The transformed subject, or `None` when `subject` does not match the source.
    pub fn apply(&self, subject: &str) -> Option<String> {
        self.0.matches(subject).then(|| self.0.apply(subject))
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
        let t = Transform::new("a.*.*", "b.*.*").unwrap();
        assert_eq!(t.apply("a.x.y").as_deref(), Some("b.x.y"));
        let t = Transform::new("p.*", "P.{{partition(7,1)}}.$1").unwrap();
        assert_eq!(t.apply("p.hello").as_deref(), Some("P.2.hello"));
    }
}
