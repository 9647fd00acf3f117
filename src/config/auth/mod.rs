//! The authentication and multi-tenancy keys: `authorization`, `accounts`, `system_account`,
//! `operator`, `trusted_keys`, `resolver` and `resolver_preload`, mapped as nats-server maps them.
//!
//! Users and accounts are gathered while the file is walked and checked against each other
//! (duplicate users, unknown accounts, imports without a matching export) in [`finish`], once
//! every key has been seen, because nats-server accepts the keys in any order.
//!
//! Here: what is gathered and the cross-checks of [`finish`]. Beside it:
//! `users`, `accounts` and `operator`.

mod accounts;
mod operator;
mod users;

use std::collections::{HashMap, HashSet};

use super::error::ConfigError;
use super::read::{article, wrong_type, Result};
use super::value::{Entry, Pos, Value, ValueKind};
use crate::options::{AccountConfig, ExportKind, Options, UserConfig};

pub(super) use accounts::accounts;
pub(super) use operator::{operators, resolver, resolver_preload, system_account, trusted_keys};
pub(super) use users::authorization;

/// `authorization { }` keys that Junction does not implement yet.
const UNSUPPORTED_AUTHORIZATION: &[&str] = &["auth_callout", "auth_hook", "proxy_required"];
/// Keys of one user entry that Junction does not implement yet.
const UNSUPPORTED_USER: &[&str] = &["proxy_required"];
/// Keys of one account that Junction does not implement yet.
const UNSUPPORTED_ACCOUNT: &[&str] = &["nkey", "limits", "msg_trace", "trace_dest"];
/// Keys of one export that Junction does not implement yet.
const UNSUPPORTED_EXPORT: &[&str] = &["latency", "account_token_position"];

/// The name nats-server reserves for the global account.
const GLOBAL_ACCOUNT: &str = "$G";

/// Connection types a user may be limited to (`allowed_connection_types`).
const CONNECTION_TYPES: &[&str] = &[
    "STANDARD",
    "WEBSOCKET",
    "LEAFNODE",
    "LEAFNODE_WS",
    "MQTT",
    "MQTT_WS",
    "IN_PROCESS",
];

/// What the auth keys held, kept until every key of the file has been seen.
#[derive(Default)]
pub(super) struct AuthState {
    authorization: Option<AuthBlock>,
    accounts: Option<Vec<AccountDef>>,
    /// `system_account` was set by the file (an operator's system account does not override it).
    system_account_set: bool,
    /// The `system_account` claim of each operator JWT, in order.
    operator_system_accounts: Vec<Option<String>>,
}

/// One `authorization { }` block.
struct AuthBlock {
    pos: Pos,
    /// A single `user` was given.
    single_user: bool,
    /// A `token` was given.
    token: bool,
    /// `users = [...]` was given (even empty).
    users: Option<Vec<UserDef>>,
}

/// One configured user and where it was written.
struct UserDef {
    config: UserConfig,
    pos: Pos,
}

/// One account and where its parts were written.
struct AccountDef {
    config: AccountConfig,
    users: Vec<UserDef>,
    /// Where each export of `config.exports` was written.
    export_pos: Vec<Pos>,
    /// Where each import of `config.imports` was written.
    import_pos: Vec<Pos>,
}

/// Collects errors, flattening lists.
#[derive(Default)]
struct Errors(Vec<ConfigError>);

impl Errors {
    fn add(&mut self, error: ConfigError) {
        match error {
            ConfigError::Multiple(list) => self.0.extend(list),
            e => self.0.push(e),
        }
    }

    /// The value of `result`, or `None` with its error recorded.
    fn ok<T>(&mut self, result: Result<T>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.add(e);
                None
            }
        }
    }

    /// The errors so far as one result, leaving none behind.
    fn take(&mut self) -> Result<()> {
        match ConfigError::from_list(std::mem::take(&mut self.0)) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

fn invalid_at(pos: &Pos, key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::InvalidValue {
        pos: pos.clone(),
        key: key.to_string(),
        message: message.into(),
    }
}

/// A value of an array (which has no key of its own) of the wrong type; `key` names the array.
fn wrong_element(value: &Value, key: &str, expected: &'static str) -> ConfigError {
    ConfigError::WrongType {
        pos: value.pos.clone(),
        key: key.to_string(),
        expected,
        found: article(value.type_name()),
    }
}

/// A string, or an array of strings; `expected` describes both for a wrong type.
fn string_or_strings(entry: &Entry, expected: &'static str) -> Result<Vec<String>> {
    match &entry.value.kind {
        ValueKind::String(s) => Ok(vec![s.clone()]),
        ValueKind::Array(items) => {
            let mut errors = Errors::default();
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                match item.as_str() {
                    Some(s) => out.push(s.to_string()),
                    None => errors.add(wrong_element(item, &entry.key, "a string")),
                }
            }
            errors.take()?;
            Ok(out)
        }
        _ => Err(wrong_type(entry, expected)),
    }
}

// ----- authorization -----

// ----- permissions -----

// ----- accounts -----

// ----- system account, operators, trusted keys, resolver -----

// ----- cross-checks, once every key is known -----

/// Checks users and accounts against each other and writes them to `opts`.
pub(super) fn finish(opts: &mut Options, state: &mut AuthState) -> Result<()> {
    let mut errors = Errors::default();
    let auth = state.authorization.take();
    let accounts = state.accounts.take();

    // Users must be unique across the authorization block and all accounts (names and nkeys).
    let mut seen: HashSet<String> = HashSet::new();
    let auth_users = auth.as_ref().and_then(|a| a.users.as_deref()).unwrap_or_default();
    let account_users = accounts.iter().flatten().flat_map(|a| a.users.iter());
    for u in auth_users.iter().chain(account_users) {
        let (what, id) = match (&u.config.nkey, &u.config.username) {
            (Some(nkey), _) => ("nkey", nkey),
            (None, Some(name)) => ("user", name),
            (None, None) => continue,
        };
        if !seen.insert(id.clone()) {
            let key = if what == "nkey" { "nkey" } else { "user" };
            errors.add(invalid_at(&u.pos, key, format!("duplicate {what} {id:?}")));
        }
    }

    // A single user or a token cannot be combined with a users list or account users.
    if let Some(a) = &auth {
        let has_account_users = accounts.iter().flatten().any(|acc| !acc.users.is_empty());
        let others = match (a.users.is_some(), has_account_users) {
            (true, _) => Some("a users array"),
            (false, true) => Some("users in accounts"),
            (false, false) => None,
        };
        if let Some(others) = others {
            if a.single_user {
                errors.add(invalid_at(
                    &a.pos,
                    "authorization",
                    format!("a single user cannot be combined with {others}"),
                ));
            }
            if a.token {
                errors.add(invalid_at(
                    &a.pos,
                    "authorization",
                    format!("a token cannot be combined with {others}"),
                ));
            }
        }
    }

    if let Some(list) = &accounts {
        check_exports_and_imports(list, &mut errors);
    }

    // An operator's system account applies when the file names none (nats-server: with one operator).
    if !state.system_account_set {
        if let [Some(system)] = &state.operator_system_accounts[..] {
            opts.system_account = Some(system.clone());
        }
    }

    // The authorization block replaces the global account's users; `accounts` the accounts
    // and their users.
    let mut users: Vec<UserConfig> = Vec::new();
    match &auth {
        Some(a) => users.extend(a.users.iter().flatten().map(|u| u.config.clone())),
        None => users.extend(opts.users.iter().filter(|u| u.account.is_none()).cloned()),
    }
    match &accounts {
        Some(list) => {
            users.extend(list.iter().flat_map(|a| a.users.iter().map(|u| u.config.clone())));
            opts.accounts = list.iter().map(|a| a.config.clone()).collect();
        }
        None => users.extend(opts.users.iter().filter(|u| u.account.is_some()).cloned()),
    }
    opts.users = users;
    errors.take()
}

/// Exports may only name defined accounts; imports must name a defined account that exports
/// the subject to the importer.
fn check_exports_and_imports(accounts: &[AccountDef], errors: &mut Errors) {
    let by_name: HashMap<&str, &AccountDef> = accounts.iter().map(|a| (a.config.name.as_str(), a)).collect();
    let kind_name = |k: ExportKind| match k {
        ExportKind::Stream => "stream",
        ExportKind::Service => "service",
    };
    for account in accounts {
        for (export, pos) in account.config.exports.iter().zip(&account.export_pos) {
            for name in &export.accounts {
                if !by_name.contains_key(name.as_str()) {
                    errors.add(invalid_at(
                        pos,
                        kind_name(export.kind),
                        format!("account {name:?} (allowed to import) is not defined"),
                    ));
                }
            }
        }
        for (import, pos) in account.config.imports.iter().zip(&account.import_pos) {
            let kind = kind_name(import.kind);
            let Some(exporter) = by_name.get(import.account.as_str()) else {
                errors.add(invalid_at(
                    pos,
                    kind,
                    format!("account {:?} is not defined", import.account),
                ));
                continue;
            };
            let exported = exporter.config.exports.iter().any(|e| {
                e.kind == import.kind
                    && (e.subject == import.subject || export_covers(&e.subject, &import.subject))
                    && (e.accounts.is_empty() || e.accounts.contains(&account.config.name))
            });
            if !exported {
                errors.add(invalid_at(
                    pos,
                    kind,
                    format!(
                        "account {:?} does not export {kind} {:?} to account {:?}",
                        import.account, import.subject, account.config.name
                    ),
                ));
            }
        }
    }
}

// ----- subjects and keys -----

/// nats-server's `IsValidSubject`: non-empty tokens without whitespace, `>` only last.
fn is_valid_subject(subject: &str) -> bool {
    if subject.is_empty() {
        return false;
    }
    let mut tokens = subject.split('.').peekable();
    while let Some(t) = tokens.next() {
        if t.is_empty()
            || t.contains([' ', '\t', '\n', '\r', '\x0c'])
            || (t == ">" && tokens.peek().is_some())
        {
            return false;
        }
    }
    true
}

/// A valid subject without wildcard tokens.
fn is_literal_subject(subject: &str) -> bool {
    is_valid_subject(subject) && subject.split('.').all(|t| t != "*" && t != ">")
}

/// Whether every subject of `import` is within the export pattern `export` (nats-server's
/// `isSubsetMatch`).
fn export_covers(export: &str, import: &str) -> bool {
    junction_nats::subject::is_subset(import.as_bytes(), export.as_bytes())
}

/// A public nkey of the kind whose encoded form starts with `first` (`U` user, `O` operator):
/// 56 base32 characters with a valid checksum.
fn is_public_key(key: &str, first: char) -> bool {
    key.starts_with(first) && nkeys::from_public_key(key).is_ok()
}

#[cfg(test)]
pub(super) mod test_support {
    //! Signed JWTs for tests.

    use data_encoding::BASE64URL_NOPAD;

    /// A JWT of claim type `kind` for `subject`, signed by `issuer`, with `extra` merged into
    /// the `nats` claims.
    pub fn jwt(issuer: &nkeys::KeyPair, subject: &str, kind: &str, extra: serde_json::Value) -> String {
        let mut nats = serde_json::json!({ "type": kind, "version": 2 });
        if let (Some(n), Some(e)) = (nats.as_object_mut(), extra.as_object()) {
            n.extend(e.clone());
        }
        let claims = serde_json::json!({
            "jti": "TESTJTI",
            "iat": 1_700_000_000,
            "iss": issuer.public_key(),
            "name": "test",
            "sub": subject,
            "nats": nats,
        });
        let header = BASE64URL_NOPAD.encode(br#"{"typ":"JWT","alg":"ed25519-nkey"}"#);
        let payload = BASE64URL_NOPAD.encode(claims.to_string().as_bytes());
        let signed = format!("{header}.{payload}");
        let signature = issuer.sign(signed.as_bytes()).unwrap();
        format!("{signed}.{}", BASE64URL_NOPAD.encode(&signature))
    }
}
