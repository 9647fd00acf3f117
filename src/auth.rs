//! Client authentication at CONNECT: a single token or a single
//! user/password pair from `authorization { … }` or `--auth`/`--user`/`--pass`.
//! Passwords and tokens starting with `$2` are bcrypt hashes, as in nats-server.

use junction_nats::ConnectOptions;

use crate::options::Options;

/// Whether clients must authenticate (`auth_required` in INFO).
pub fn required(opts: &Options) -> bool {
    opts.authorization.is_some() || opts.username.is_some()
}

/// Whether `connect` carries the credentials the server requires.
pub fn check(opts: &Options, connect: &ConnectOptions) -> bool {
    if let Some(token) = &opts.authorization {
        return connect
            .auth_token
            .as_deref()
            .is_some_and(|given| secret_matches(token, given));
    }
    if let Some(user) = &opts.username {
        let pass = opts.password.as_deref().unwrap_or("");
        return connect.user.as_deref() == Some(user.as_str())
            && secret_matches(pass, connect.pass.as_deref().unwrap_or(""));
    }
    true
}

/// Compares a configured secret (plain or bcrypt) with what a client sent.
fn secret_matches(configured: &str, given: &str) -> bool {
    if configured.starts_with("$2") {
        bcrypt::verify(given, configured).unwrap_or(false)
    } else {
        constant_time_eq(configured.as_bytes(), given.as_bytes())
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connect(json: &str) -> ConnectOptions {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn token_plain_and_bcrypt() {
        let mut opts = Options {
            authorization: Some("s3cret".into()),
            ..Options::default()
        };
        assert!(check(&opts, &connect(r#"{"auth_token":"s3cret"}"#)));
        assert!(!check(&opts, &connect(r#"{"auth_token":"nope"}"#)));
        assert!(!check(&opts, &connect(r#"{}"#)));
        opts.authorization = Some(bcrypt::hash("s3cret", 4).unwrap());
        assert!(check(&opts, &connect(r#"{"auth_token":"s3cret"}"#)));
        assert!(!check(&opts, &connect(r#"{"auth_token":"s3cre"}"#)));
    }

    #[test]
    fn user_and_password() {
        let opts = Options {
            username: Some("derek".into()),
            password: Some("pw".into()),
            ..Options::default()
        };
        assert!(required(&opts));
        assert!(check(&opts, &connect(r#"{"user":"derek","pass":"pw"}"#)));
        assert!(!check(&opts, &connect(r#"{"user":"derek","pass":"px"}"#)));
        assert!(!check(&opts, &connect(r#"{"user":"x","pass":"pw"}"#)));
    }
}
