//! User credentials (`.creds`) files and decorated JWT/seed blocks, in the layout `nsc` writes.
//!
//! A creds file is a user JWT between `-----BEGIN NATS USER JWT-----` and `------END NATS USER JWT------`
//! lines, a warning banner, and the user's nkey seed between `-----BEGIN USER NKEY SEED-----` and
//! `------END USER NKEY SEED------` lines. Parsing finds dash-delimited blocks the way the Go library and the
//! Rust client do: the first block is the JWT, the second the seed.

use super::JwtError;

const SEED_BANNER: &str = "************************* IMPORTANT *************************\n\
NKEY Seed printed below can be used to sign and prove identity.\n\
NKEYs are sensitive and should be treated as secrets.\n\n";
const SEED_FOOTER: &str = "*************************************************************\n";

/// A JWT wrapped in `-----BEGIN NATS <KIND> JWT-----` lines (`kind` such as `user`, `account`, `operator`).
pub fn format_decorated_jwt(kind: &str, jwt: &str) -> String {
    let kind = kind.to_ascii_uppercase();
    format!(
        "-----BEGIN NATS {kind} JWT-----\n{}\n------END NATS {kind} JWT------\n\n",
        jwt.trim()
    )
}

/// A seed wrapped in the warning banner and `-----BEGIN <KIND> NKEY SEED-----` lines, the kind taken from the
/// seed's prefix (`SU` user, `SA` account, `SO` operator).
pub fn format_decorated_seed(seed: &str) -> Result<String, JwtError> {
    let seed = seed.trim();
    let kind = match seed.get(..2) {
        Some("SU") => "USER",
        Some("SA") => "ACCOUNT",
        Some("SO") => "OPERATOR",
        _ => {
            return Err(JwtError::Key(
                "seed is not an operator, account or user seed".into(),
            ))
        }
    };
    Ok(format!(
        "{SEED_BANNER}-----BEGIN {kind} NKEY SEED-----\n{seed}\n------END {kind} NKEY SEED------\n\n{SEED_FOOTER}"
    ))
}

/// The text of a `.creds` file for a user JWT and the user's seed, byte for byte as `nsc` writes it.
pub fn format_creds(user_jwt: &str, user_seed: &str) -> String {
    let seed = user_seed.trim();
    format!(
        "{}{SEED_BANNER}-----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n\n{SEED_FOOTER}",
        format_decorated_jwt("user", user_jwt)
    )
}

fn is_marker(line: &str) -> bool {
    let line = line.trim();
    line.len() >= 6 && line.starts_with("---") && line.ends_with("---")
}

fn is_token(line: &str) -> bool {
    let line = line.trim();
    !line.is_empty()
        && line
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '='))
}

/// The contents of every `---…---` / token / `---…---` block, in order.
fn decorated_blocks(text: &str) -> Vec<&str> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i + 2 < lines.len() {
        if is_marker(lines[i]) && is_token(lines[i + 1]) && is_marker(lines[i + 2]) {
            out.push(lines[i + 1].trim());
            i += 3;
        } else {
            i += 1;
        }
    }
    out
}

/// The JWT in a decorated file (the first block), or the whole text trimmed when it has no blocks
/// (what nats-server does with its `operator:` file).
pub fn parse_decorated_jwt(text: &str) -> String {
    match decorated_blocks(text).first() {
        Some(jwt) => (*jwt).to_string(),
        None => text.trim().to_string(),
    }
}

/// Reads a `.creds` file: returns `(user_jwt, seed)`. The seed is checked to be a valid nkey seed and the JWT
/// to have three parts; neither is verified against the other (see [`super::decode`]).
pub fn parse_creds(text: &str) -> Result<(String, String), JwtError> {
    let blocks = decorated_blocks(text);
    let jwt = blocks
        .first()
        .copied()
        .ok_or_else(|| JwtError::Creds("no user JWT block found".into()))?;
    if jwt.split('.').count() != 3 {
        return Err(JwtError::Creds("the first block is not a JWT".into()));
    }
    let seed = match blocks.get(1) {
        Some(s) => *s,
        // Like the Go library, fall back to a bare line that looks like a seed.
        None => text
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with("SU") || l.starts_with("SA") || l.starts_with("SO"))
            .ok_or_else(|| JwtError::Creds("no nkey seed found".into()))?,
    };
    if !seed.starts_with('S') {
        return Err(JwtError::Creds("the second block is not an nkey seed".into()));
    }
    nkeys::KeyPair::from_seed(seed).map_err(|e| JwtError::Creds(format!("bad nkey seed: {e}")))?;
    Ok((jwt.to_string(), seed.to_string()))
}
