//! `mappings { }` (also `maps`), at the top level for `$G` and in an
//! account: each source subject to a destination, or to weighted ones
//! (`[{destination: "a", weight: 40%}, …]`), checked as nats-server checks
//! them when it adds them.

use super::error::ConfigError;
use super::value::{Entry, Map, Value, ValueKind};
use crate::mapping::{MapDest, MappingConfig, Mappings};

type Result<T> = std::result::Result<T, ConfigError>;

fn error(value: &Value, key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::InvalidValue {
        pos: value.pos.clone(),
        key: key.to_string(),
        message: message.into(),
    }
}

/// The mappings of one `mappings { }` block, every error in it reported.
pub(super) fn mappings(entry: &Entry) -> Result<MappingConfig> {
    let Some(block) = entry.value.as_map() else {
        return Err(ConfigError::WrongType {
            pos: entry.key_pos.clone(),
            key: entry.key.clone(),
            expected: "a map of subjects",
            found: entry.value.type_name(),
        });
    };
    let mut config = MappingConfig::new();
    let mut errors = Vec::new();
    for e in block {
        match mapping(e) {
            Ok(m) => config.push(m),
            Err(err) => errors.push(err),
        }
    }
    match ConfigError::from_list(errors) {
        Some(e) => Err(e),
        None => Ok(config),
    }
}

fn mapping(e: &Entry) -> Result<(String, Vec<MapDest>)> {
    let source = e.key.as_str();
    if !junction_nats::subject::is_valid_subject(source.as_bytes()) {
        return Err(error(
            &e.value,
            source,
            format!("Subject {source:?} is not a valid subject"),
        ));
    }
    let dests = match &e.value.kind {
        ValueKind::String(dest) => vec![MapDest::new(dest.clone(), 100)],
        ValueKind::Array(items) => items
            .iter()
            .map(|item| match item.as_map() {
                Some(fields) => destination(item, fields, source),
                None => Err(error(
                    item,
                    source,
                    "Expected an entry for the mapping destination",
                )),
            })
            .collect::<Result<_>>()?,
        ValueKind::Map(fields) => vec![destination(&e.value, fields, source)?],
        _ => {
            return Err(error(
                &e.value,
                source,
                "Expected an entry for the mapping destination",
            ))
        }
    };
    // Checked here, to be reported with its place in the file.
    if let Err((_, why)) = Mappings::default().add(source, &dests) {
        let to = match dests.as_slice() {
            [one] => format!(" to {:?}", one.subject),
            _ => String::new(),
        };
        return Err(error(
            &e.value,
            source,
            format!("Error adding mapping for {source:?}{to} : {why}"),
        ));
    }
    Ok((source.to_string(), dests))
}

/// `{destination: "a", weight: 40%, cluster: "c"}`.
fn destination(value: &Value, fields: &Map, source: &str) -> Result<MapDest> {
    let mut subject = None;
    let mut weight = None;
    let mut cluster = None;
    let text = |f: &Entry, what: &str| {
        f.value.as_str().map(str::to_string).ok_or_else(|| {
            error(
                &f.value,
                source,
                format!("Expected a string for the mapping {what}"),
            )
        })
    };
    for f in fields {
        match f.key.to_ascii_lowercase().as_str() {
            "dest" | "destination" => subject = Some(text(f, "destination")?),
            "weight" => weight = Some(percent(&f.value, source)?),
            "cluster" => cluster = Some(text(f, "cluster")?),
            other => {
                return Err(error(
                    &f.value,
                    source,
                    format!("Unknown field {other:?} for mapping destination"),
                ))
            }
        }
    }
    let subject = subject.ok_or_else(|| error(value, source, "Missing destination for mapping"))?;
    let Some(weight) = weight else {
        return Err(error(
            value,
            source,
            format!("Missing weight for mapping destination {subject:?}"),
        ));
    };
    Ok(MapDest {
        subject,
        weight,
        cluster,
    })
}

/// A weight: `40%`, `"40"` or `40`, from 0 to 100.
fn percent(value: &Value, source: &str) -> Result<u8> {
    let n = match &value.kind {
        ValueKind::Integer(n) => *n,
        ValueKind::String(s) => {
            let digits = s.strip_suffix('%').unwrap_or(s);
            digits.parse::<i64>().map_err(|_| {
                error(
                    value,
                    source,
                    format!("Invalid weight {digits:?} for mapping destination"),
                )
            })?
        }
        _ => {
            return Err(error(
                value,
                source,
                format!("Unknown entry type for weight of {}", value.type_name()),
            ))
        }
    };
    u8::try_from(n).ok().filter(|w| *w <= 100).ok_or_else(|| {
        error(
            value,
            source,
            format!("Invalid weight {n} for mapping destination"),
        )
    })
}
