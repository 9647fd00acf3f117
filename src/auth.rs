//! Client authentication at CONNECT, for every protocol adapter alike:
//! a token, users with passwords (plain or bcrypt), nkey users signing the
//! server's nonce, and `no_auth_user`. The result is the account the client
//! lands in, its user name and its permissions.

use std::collections::HashMap;
use std::sync::Arc;

use data_encoding::BASE64URL_NOPAD;
use junction_nats::ConnectOptions;

use crate::account::Account;
use crate::account::Accounts;
use crate::options::{Options, Permissions, UserConfig};
use crate::permissions::ClientPermissions;

/// Who a connection turned out to be.
#[derive(Debug)]
pub struct Identity {
    pub account: Arc<Account>,
    /// User name or nkey; empty when no auth is configured.
    pub user: String,
    pub permissions: Option<ClientPermissions>,
    /// Per-user limits (from JWTs); `None` keeps the server's.
    pub limits: UserLimits,
    /// `iat` of the user JWT, for revocations; 0 without JWTs.
    pub issued_at: i64,
}

impl Identity {
    /// A client in `account` with no user name, permissions or limits.
    pub fn anonymous(account: Arc<Account>) -> Identity {
        Identity {
            account,
            user: String::new(),
            permissions: None,
            limits: UserLimits::default(),
            issued_at: 0,
        }
    }
}

/// Limits a user JWT (or its account) puts on one connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UserLimits {
    pub subs: Option<usize>,
    pub payload: Option<usize>,
}

/// Why authentication failed (every case answers `Authorization Violation`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no credentials")]
    NoCredentials,
    #[error("unknown user {0:?}")]
    UnknownUser(String),
    #[error("bad password for {0:?}")]
    BadPassword(String),
    #[error("bad token")]
    BadToken,
    #[error("nkey {0:?} not configured")]
    UnknownNkey(String),
    #[error("bad nonce signature for {0:?}")]
    BadSignature(String),
    #[error("connection type {0} not allowed for {1:?}")]
    ConnectionType(String, String),
    #[error("user JWT: {0}")]
    Jwt(String),
    #[error("user {0:?} is revoked")]
    Revoked(String),
    #[error("maximum account active connections exceeded")]
    AccountConnections,
}

impl AuthError {
    /// The `-ERR` text nats-server sends for this failure.
    pub fn client_message(&self) -> &'static str {
        match self {
            AuthError::AccountConnections => "maximum account active connections exceeded",
            _ => "Authorization Violation",
        }
    }
}

struct User {
    password: Option<String>,
    account: Arc<Account>,
    permissions: Option<Permissions>,
    connection_types: Vec<String>,
}

/// The authentication rules of one server.
pub struct Authenticator {
    token: Option<String>,
    users: HashMap<String, User>,
    nkeys: HashMap<String, User>,
    no_auth_user: Option<String>,
    global: Arc<Account>,
}

impl Authenticator {
    pub fn new(opts: &Options, accounts: &Accounts) -> Result<Self, String> {
        let mut auth = Authenticator {
            token: opts.authorization.clone(),
            users: HashMap::new(),
            nkeys: HashMap::new(),
            no_auth_user: opts.no_auth_user.clone(),
            global: accounts.global.clone(),
        };
        if let Some(user) = &opts.username {
            auth.users.insert(
                user.clone(),
                User {
                    password: Some(opts.password.clone().unwrap_or_default()),
                    account: accounts.global.clone(),
                    permissions: opts.default_permissions.clone(),
                    connection_types: Vec::new(),
                },
            );
        }
        for u in &opts.users {
            auth.add_user(u, opts, accounts)?;
        }
        if let Some(name) = &auth.no_auth_user {
            if !auth.users.contains_key(name) && !auth.nkeys.contains_key(name) {
                return Err(format!("no_auth_user {name:?} is not a configured user"));
            }
        }
        Ok(auth)
    }

    fn add_user(&mut self, u: &UserConfig, opts: &Options, accounts: &Accounts) -> Result<(), String> {
        let account = match &u.account {
            None => accounts.global.clone(),
            Some(name) => accounts
                .get(name)
                .ok_or_else(|| format!("user refers to unknown account {name:?}"))?,
        };
        let user = User {
            password: u.password.clone(),
            account,
            // `authorization { default_permissions }` covers the users of that
            // block; account users get their account's (applied by the config).
            permissions: u.permissions.clone().or_else(|| {
                u.account
                    .is_none()
                    .then(|| opts.default_permissions.clone())
                    .flatten()
            }),
            connection_types: u
                .allowed_connection_types
                .iter()
                .map(|t| t.to_uppercase())
                .collect(),
        };
        match (&u.nkey, &u.username) {
            (Some(nkey), _) => {
                self.nkeys.insert(nkey.clone(), user);
            }
            (None, Some(name)) => {
                if self.users.insert(name.clone(), user).is_some() {
                    return Err(format!("duplicate user {name:?}"));
                }
            }
            (None, None) => return Err("a user needs a name or an nkey".into()),
        }
        Ok(())
    }

    /// Whether clients must present credentials (`auth_required` in INFO).
    pub fn required(&self) -> bool {
        self.token.is_some() || !self.users.is_empty() || !self.nkeys.is_empty()
    }

    /// Whether INFO must carry a nonce for clients to sign.
    pub fn needs_nonce(&self) -> bool {
        !self.nkeys.is_empty()
    }

    /// Checks CONNECT's credentials. `nonce` is what this connection's INFO
    /// offered; `transport` the connection type (`STANDARD`, `WEBSOCKET`, `MQTT`).
    pub fn authenticate(
        &self,
        connect: &ConnectOptions,
        nonce: &str,
        transport: &str,
    ) -> Result<Identity, AuthError> {
        if !self.required() {
            return Ok(Identity::anonymous(self.global.clone()));
        }
        if let Some(nkey) = &connect.nkey {
            let user = self
                .nkeys
                .get(nkey)
                .ok_or_else(|| AuthError::UnknownNkey(nkey.clone()))?;
            let sig = connect.sig.as_deref().unwrap_or("");
            if crate::jwt::verify_nonce(nkey, nonce, sig).is_err() {
                return Err(AuthError::BadSignature(nkey.clone()));
            }
            return identity(nkey, user, transport);
        }
        if let Some(name) = &connect.user {
            let user = self
                .users
                .get(name)
                .ok_or_else(|| AuthError::UnknownUser(name.clone()))?;
            let given = connect.pass.as_deref().unwrap_or("");
            if !user.password.as_deref().is_some_and(|p| secret_matches(p, given)) {
                return Err(AuthError::BadPassword(name.clone()));
            }
            return identity(name, user, transport);
        }
        if let Some(token) = &connect.auth_token {
            return match &self.token {
                Some(expected) if secret_matches(expected, token) => {
                    Ok(Identity::anonymous(self.global.clone()))
                }
                _ => Err(AuthError::BadToken),
            };
        }
        if let Some(name) = &self.no_auth_user {
            if let Some(user) = self.users.get(name).or_else(|| self.nkeys.get(name)) {
                return identity(name, user, transport);
            }
        }
        Err(AuthError::NoCredentials)
    }
}

impl Authenticator {
    /// The identity of the configured nkey user `nkey`, for a client that
    /// proved it holds the key another way than signing the nonce (an MQTT
    /// client giving the seed as its password).
    pub fn authenticate_nkey_holder(&self, nkey: &str, transport: &str) -> Result<Identity, AuthError> {
        let user = self
            .nkeys
            .get(nkey)
            .ok_or_else(|| AuthError::UnknownNkey(nkey.to_string()))?;
        identity(nkey, user, transport)
    }

    /// The identity of configured user `connect.user`, without checking a
    /// password (for `no_auth_user`).
    pub fn authenticate_as(&self, connect: &ConnectOptions, transport: &str) -> Result<Identity, AuthError> {
        let name = connect.user.as_deref().unwrap_or("");
        let user = self
            .users
            .get(name)
            .or_else(|| self.nkeys.get(name))
            .ok_or_else(|| AuthError::UnknownUser(name.to_string()))?;
        identity(name, user, transport)
    }
}

fn identity(name: &str, user: &User, transport: &str) -> Result<Identity, AuthError> {
    if !user.connection_types.is_empty() && !user.connection_types.iter().any(|t| t == transport) {
        return Err(AuthError::ConnectionType(transport.to_string(), name.to_string()));
    }
    Ok(Identity {
        account: user.account.clone(),
        user: name.to_string(),
        permissions: user.permissions.as_ref().map(ClientPermissions::from_config),
        limits: UserLimits::default(),
        issued_at: 0,
    })
}

/// A fresh nonce for INFO: 11 random bytes, base64 URL-safe, as nats-server sends.
pub fn new_nonce() -> String {
    let bytes: [u8; 11] = rand::random();
    BASE64URL_NOPAD.encode(&bytes)
}

/// Compares a configured secret (plain or bcrypt) with what a client sent.
pub(crate) fn secret_matches(configured: &str, given: &str) -> bool {
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

    fn auth(opts: &Options) -> Authenticator {
        let accounts = Accounts::from_options(opts).unwrap();
        Authenticator::new(opts, &accounts).unwrap()
    }

    #[test]
    fn token_plain_and_bcrypt() {
        let mut opts = Options {
            authorization: Some("s3cret".into()),
            ..Options::default()
        };
        let a = auth(&opts);
        assert!(a
            .authenticate(&connect(r#"{"auth_token":"s3cret"}"#), "", "STANDARD")
            .is_ok());
        assert_eq!(
            a.authenticate(&connect(r#"{"auth_token":"nope"}"#), "", "STANDARD")
                .unwrap_err(),
            AuthError::BadToken
        );
        assert!(a.authenticate(&connect(r#"{}"#), "", "STANDARD").is_err());
        opts.authorization = Some(bcrypt::hash("s3cret", 4).unwrap());
        let a = auth(&opts);
        assert!(a
            .authenticate(&connect(r#"{"auth_token":"s3cret"}"#), "", "STANDARD")
            .is_ok());
        assert!(a
            .authenticate(&connect(r#"{"auth_token":"s3cre"}"#), "", "STANDARD")
            .is_err());
    }

    #[test]
    fn users_land_in_their_accounts() {
        let opts = Options {
            users: vec![
                UserConfig {
                    username: Some("a".into()),
                    password: Some("pa".into()),
                    account: Some("A".into()),
                    ..UserConfig::default()
                },
                UserConfig {
                    username: Some("g".into()),
                    password: Some("pg".into()),
                    ..UserConfig::default()
                },
            ],
            accounts: vec![crate::options::AccountConfig {
                name: "A".into(),
                ..Default::default()
            }],
            ..Options::default()
        };
        let a = auth(&opts);
        let id = a
            .authenticate(&connect(r#"{"user":"a","pass":"pa"}"#), "", "STANDARD")
            .unwrap();
        assert_eq!(id.account.name, "A");
        let id = a
            .authenticate(&connect(r#"{"user":"g","pass":"pg"}"#), "", "STANDARD")
            .unwrap();
        assert_eq!(id.account.name, "$G");
        assert!(a
            .authenticate(&connect(r#"{"user":"a","pass":"pg"}"#), "", "STANDARD")
            .is_err());
    }

    #[test]
    fn nkey_users_sign_the_nonce() {
        let kp = nkeys::KeyPair::new_user();
        let opts = Options {
            users: vec![UserConfig {
                nkey: Some(kp.public_key()),
                ..UserConfig::default()
            }],
            ..Options::default()
        };
        let a = auth(&opts);
        assert!(a.needs_nonce());
        let nonce = new_nonce();
        let sig = BASE64URL_NOPAD.encode(&kp.sign(nonce.as_bytes()).unwrap());
        let good = format!(r#"{{"nkey":"{}","sig":"{sig}"}}"#, kp.public_key());
        assert!(a.authenticate(&connect(&good), &nonce, "STANDARD").is_ok());
        assert!(a
            .authenticate(&connect(&good), "other-nonce", "STANDARD")
            .is_err());
        let other = nkeys::KeyPair::new_user();
        let wrong = format!(r#"{{"nkey":"{}","sig":"{sig}"}}"#, other.public_key());
        assert!(a.authenticate(&connect(&wrong), &nonce, "STANDARD").is_err());
    }
}
