//! Operator mode: `operator`, `trusted_keys`, `resolver`,
//! `resolver_preload`, and `system_account`.

use std::path::{Path, PathBuf};

use crate::config::error::ConfigError;
use crate::config::read::{boolean, invalid, other_key, parse_duration_value, string, wrong_type, Result};
use crate::config::value::{Entry, Pos, ValueKind};
use crate::jwt::{self, JwtError};
use crate::options::{Options, ResolverConfig};

use super::*;

/// `system_account` / `system`.
pub(in crate::config) fn system_account(
    opts: &mut Options,
    entry: &Entry,
    state: &mut AuthState,
) -> Result<()> {
    opts.system_account = Some(string(entry)?.to_string());
    state.system_account_set = true;
    Ok(())
}

/// `operator`: JWT files (relative to the file the key is in) or JWT text, one or an array.
pub(in crate::config) fn operators(opts: &mut Options, entry: &Entry, state: &mut AuthState) -> Result<()> {
    let items: Vec<(&str, &Pos)> = match &entry.value.kind {
        ValueKind::String(s) => vec![(s.as_str(), &entry.key_pos)],
        ValueKind::Array(items) => {
            let mut errors = Errors::default();
            let mut out = Vec::new();
            for item in items {
                match item.as_str() {
                    Some(s) => out.push((s, &item.pos)),
                    None => errors.add(wrong_element(item, &entry.key, "a JWT file name or a JWT")),
                }
            }
            errors.take()?;
            out
        }
        _ => return Err(wrong_type(entry, "a JWT file name or a JWT, or an array of them")),
    };
    let mut errors = Errors::default();
    opts.operators.clear();
    state.operator_system_accounts.clear();
    for (item, pos) in items {
        match read_operator_jwt(item, &pos.file) {
            Ok((jwt, claims)) => {
                opts.operators.push(jwt);
                let system = Some(claims.nats.system_account).filter(|s| !s.is_empty());
                state.operator_system_accounts.push(system);
            }
            Err(message) => errors.add(invalid_at(
                pos,
                &entry.key,
                format!("error parsing operator JWT: {message}"),
            )),
        }
    }
    errors.take()
}

/// The operator JWT `item` names: inline text starting with `eyJ`, or a file (possibly a
/// decorated one, as `nsc` writes them), relative to the directory of `config_file`.
pub(super) fn read_operator_jwt(
    item: &str,
    config_file: &Path,
) -> std::result::Result<(String, jwt::Claims<jwt::Operator>), String> {
    let item = item.trim();
    let text = if item.starts_with("eyJ") {
        item.to_string()
    } else {
        // Relative to the config file's directory; nats-server reads it relative to the working
        // directory, which is tried when there is no such file.
        let path = PathBuf::from(item);
        let path = match config_file.parent() {
            Some(dir) if path.is_relative() && (dir.join(&path).exists() || !path.exists()) => dir.join(path),
            _ => path,
        };
        std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?
    };
    let jwt = undecorate_jwt(&text);
    let claims = check_jwt::<jwt::Operator>(&jwt)?;
    Ok((jwt, claims))
}

/// The JWT inside a decorated file (between `-----BEGIN ...-----` / `------END ...------`
/// lines), or the whole trimmed text.
pub(super) fn undecorate_jwt(text: &str) -> String {
    let dashes = |l: &str| {
        let l = l.trim();
        l.len() >= 6 && l.starts_with("---") && l.ends_with("---")
    };
    let lines: Vec<&str> = text.lines().collect();
    for w in lines.windows(3) {
        let token = w[1].trim();
        if dashes(w[0]) && dashes(w[2]) && !token.is_empty() {
            return token.to_string();
        }
    }
    text.trim().to_string()
}

/// Checks a NATS JWT of kind `T` with the one JWT verifier
/// ([`jwt::decode_without_time_check`]), and says what is wrong in the
/// words of a configuration error.
pub(super) fn check_jwt<T: jwt::ClaimKind>(text: &str) -> std::result::Result<jwt::Claims<T>, String> {
    jwt::decode_without_time_check::<T>(text).map_err(|e| match e {
        JwtError::Malformed(m) if m.starts_with("expected 3 parts") => {
            "not a JWT (expected three dot-separated parts)".to_string()
        }
        JwtError::Malformed(m) => format!("not a JWT ({m})"),
        JwtError::WrongType { expected, found } => format!("not an {expected} JWT (its type is {found:?})"),
        JwtError::BadSignature => "the signature does not match the issuer".to_string(),
        other => other.to_string(),
    })
}

/// `trusted_keys` / `trusted`: operator public keys, one or an array.
pub(in crate::config) fn trusted_keys(opts: &mut Options, entry: &Entry) -> Result<()> {
    let keys = string_or_strings(entry, "an operator public key or an array of them")?;
    let mut errors = Errors::default();
    for key in &keys {
        if !is_public_key(key, 'O') {
            errors.add(invalid(
                entry,
                format!("trusted key {key:?} is not a valid public operator nkey (a 56-character key starting with O)"),
            ));
        }
    }
    errors.take()?;
    opts.trusted_keys = keys;
    Ok(())
}

/// `resolver: MEMORY`, or `resolver { type: full, dir, allow_delete, ... }`.
pub(in crate::config) fn resolver(opts: &mut Options, entry: &Entry) -> Result<()> {
    let usage = "expected MEMORY, URL(\"url\") or a map with type (full or memory) and dir";
    let block = match &entry.value.kind {
        ValueKind::String(s) => {
            let word = s.trim().to_ascii_uppercase();
            if word == "MEM" || word == "MEMORY" {
                opts.resolver = Some(ResolverConfig::Memory);
                return Ok(());
            }
            if word.starts_with("URL") {
                return Err(ConfigError::Unsupported {
                    pos: entry.key_pos.clone(),
                    key: "URL resolver".into(),
                });
            }
            return Err(invalid(entry, usage));
        }
        ValueKind::Map(block) => block,
        _ => return Err(wrong_type(entry, "MEMORY or a map")),
    };
    let mut errors = Errors::default();
    let (mut kind, mut dir, mut allow_delete, mut hard_delete, mut ttl) = (None, None, false, None, None);
    for e in block {
        let key = e.key.to_ascii_lowercase();
        let result = match key.as_str() {
            "type" => string(e).map(|s| kind = Some((s.to_ascii_uppercase(), e))),
            "dir" => string(e).map(|s| dir = Some(s.to_string())),
            "allow_delete" => boolean(e).map(|b| allow_delete = b),
            "hard_delete" => boolean(e).map(|b| hard_delete = Some((b, e))),
            "limit" => match e.value.as_i64() {
                Some(_) => Ok(()),
                None => Err(wrong_type(e, "an integer")),
            },
            // Accepted and checked, not used: Junction keeps every account JWT it has.
            "ttl" | "interval" | "timeout" | "sync" => match e.value.as_str() {
                Some(s) => parse_duration_value(e, s).map(|d| {
                    if key == "ttl" {
                        ttl = Some((d, e));
                    }
                }),
                None => Err(wrong_type(e, "a duration string such as \"2m\"")),
            },
            _ => other_key(e, &key, "resolver.", &[]),
        };
        errors.ok(result);
    }
    errors.take()?;
    let Some((kind, kind_entry)) = kind else {
        return Err(invalid(entry, usage));
    };
    match kind.as_str() {
        "MEM" | "MEMORY" => {
            opts.resolver = Some(ResolverConfig::Memory);
            Ok(())
        }
        "FULL" => {
            let Some(dir) = dir.filter(|d| !d.is_empty()) else {
                return Err(invalid(
                    entry,
                    "dir has no value and needs to point to a directory",
                ));
            };
            if std::fs::metadata(&dir).is_ok_and(|m| !m.is_dir()) {
                return Err(invalid(entry, format!("dir {dir:?} is not a directory")));
            }
            if let Some((_, e)) = ttl {
                return Err(invalid(e, "a full resolver does not take ttl"));
            }
            if let Some((_, e)) = hard_delete.filter(|_| !allow_delete) {
                return Err(invalid(e, "hard_delete has no effect without allow_delete"));
            }
            opts.resolver = Some(ResolverConfig::Full {
                dir: PathBuf::from(dir),
                allow_delete,
            });
            Ok(())
        }
        "CACHE" => Err(ConfigError::Unsupported {
            pos: kind_entry.key_pos.clone(),
            key: "resolver type CACHE".into(),
        }),
        _ => Err(invalid(
            kind_entry,
            format!("unknown resolver type \"{kind}\" ({usage})"),
        )),
    }
}

/// `resolver_preload { ACCOUNT_PUBLIC_KEY: "account JWT", ... }`, in file order.
pub(in crate::config) fn resolver_preload(opts: &mut Options, entry: &Entry) -> Result<()> {
    let Some(block) = entry.value.as_map() else {
        return Err(wrong_type(entry, "a map of account public keys to account JWTs"));
    };
    let mut errors = Errors::default();
    let mut preload = Vec::with_capacity(block.len());
    for e in block {
        if e.used_as_variable {
            continue;
        }
        let Some(jwt) = errors.ok(string(e)) else {
            continue;
        };
        match check_jwt::<jwt::Account>(jwt) {
            Ok(_) => preload.push((e.key.clone(), jwt.to_string())),
            Err(message) => errors.add(invalid(e, format!("invalid account JWT: {message}"))),
        }
    }
    errors.take()?;
    opts.resolver_preload = preload;
    Ok(())
}
