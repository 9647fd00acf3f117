//! Decentralized auth (operator mode): trusted operators, account JWTs from
//! a memory or directory resolver, and user JWTs presented at CONNECT.
//!
//! Accounts are named by their public keys and created the first time a
//! user of theirs connects (or at start for preloaded ones); their exports
//! and imports come from the account JWT. The system account answers
//! `$SYS.REQ.ACCOUNT.<id>.CLAIMS.UPDATE` / `.LOOKUP` (and
//! `$SYS.REQ.CLAIMS.UPDATE`), so `nsc push`-style updates and lookups work.
//!
//! Its parts: `accounts` (account JWTs applied), `users` (user JWTs
//! checked) and `claims_service`.

mod accounts;
mod claims_service;
mod users;

use std::collections::HashMap;
use std::path::PathBuf;

use parking_lot::{Mutex, RwLock};

use crate::jwt::{self, AccountClaims, JwtError, OperatorClaims};
use crate::options::{Options, ResolverConfig};

use accounts::{is_account_key, WiredImport};
pub use claims_service::{ClaimsHost, ClaimsService};

/// Where account JWTs come from.
enum Resolver {
    /// `resolver: MEMORY`: only preloaded (and pushed) JWTs, kept in memory.
    Memory,
    /// `resolver { type: full, dir }`: one `<account>.jwt` file each.
    Full { dir: PathBuf, allow_delete: bool },
}

pub struct OperatorMode {
    /// Who may sign account JWTs; a configuration reload may change it.
    trust: RwLock<Trust>,
    /// Replaced by a configuration reload.
    resolver: RwLock<Resolver>,
    /// Account JWT text by account public key.
    jwts: RwLock<HashMap<String, String>>,
    /// Decoded claims of every account set up so far.
    claims: RwLock<HashMap<String, AccountClaims>>,
    /// The imports wired for accounts' JWTs, so a reload that changes or
    /// removes an account can take them out.
    wired: Mutex<Vec<WiredImport>>,
}

/// The trusted operators and keys.
struct Trust {
    /// The operator JWTs as configured, and decoded.
    texts: Vec<String>,
    operators: Vec<OperatorClaims>,
    trusted_keys: Vec<String>,
}

impl Trust {
    fn from_options(opts: &Options) -> Result<Trust, String> {
        let mut operators = Vec::new();
        for text in &opts.operators {
            let claims = jwt::decode::<jwt::Operator>(text).map_err(|e| format!("operator JWT: {e}"))?;
            operators.push(claims);
        }
        Ok(Trust {
            texts: opts.operators.clone(),
            operators,
            trusted_keys: opts.trusted_keys.clone(),
        })
    }

    /// Whether `issuer` may sign account JWTs: an operator key or signing
    /// key, or a `trusted_keys` entry.
    fn trusts(&self, issuer: &str) -> bool {
        self.operators.iter().any(|o| o.may_sign(issuer)) || self.trusted_keys.iter().any(|k| k == issuer)
    }
}

/// Decodes an account JWT and checks it names `key` and has an issuer
/// `trust` trusts.
fn verify_account_with(trust: &Trust, key: &str, text: &str) -> Result<AccountClaims, JwtError> {
    let claims = jwt::decode::<jwt::Account>(text)?;
    if claims.sub != key {
        return Err(JwtError::BadSubject(claims.sub));
    }
    if !trust.trusts(&claims.iss) {
        return Err(JwtError::BadIssuer(claims.iss));
    }
    Ok(claims)
}

/// The resolver a configuration names (its directory created if needed).
fn resolver_from(opts: &Options) -> Result<Resolver, String> {
    Ok(match &opts.resolver {
        None | Some(ResolverConfig::Memory) => Resolver::Memory,
        Some(ResolverConfig::Full { dir, allow_delete }) => {
            std::fs::create_dir_all(dir).map_err(|e| format!("resolver dir {}: {e}", dir.display()))?;
            Resolver::Full {
                dir: dir.clone(),
                allow_delete: *allow_delete,
            }
        }
    })
}

impl OperatorMode {
    /// `None` when no operator or trusted key is configured.
    pub fn from_options(opts: &Options) -> Result<Option<Self>, String> {
        if opts.operators.is_empty() && opts.trusted_keys.is_empty() {
            return Ok(None);
        }
        let mode = OperatorMode {
            trust: RwLock::new(Trust::from_options(opts)?),
            resolver: RwLock::new(resolver_from(opts)?),
            jwts: RwLock::new(HashMap::new()),
            claims: RwLock::new(HashMap::new()),
            wired: Mutex::new(Vec::new()),
        };
        for (key, text) in &opts.resolver_preload {
            mode.verify_account(key, text)
                .map_err(|e| format!("resolver_preload {key}: {e}"))?;
            mode.jwts.write().insert(key.clone(), text.clone());
        }
        Ok(Some(mode))
    }

    /// Decodes an account JWT and checks it names `key` and has a trusted issuer.
    fn verify_account(&self, key: &str, text: &str) -> Result<AccountClaims, JwtError> {
        verify_account_with(&self.trust.read(), key, text)
    }

    /// The JWT of account `key`, from memory or the resolver directory.
    fn fetch(&self, key: &str) -> Option<String> {
        if let Some(text) = self.jwts.read().get(key) {
            return Some(text.clone());
        }
        if let Resolver::Full { dir, .. } = &*self.resolver.read() {
            if !is_account_key(key) {
                return None;
            }
            let text = std::fs::read_to_string(dir.join(format!("{key}.jwt"))).ok()?;
            let text = text.trim().to_string();
            self.jwts.write().insert(key.to_string(), text.clone());
            return Some(text);
        }
        None
    }

    /// Sets up account `key` from its JWT (once), with its exports and imports.
    /// The JetStream limits an account JWT grants; `None` when it has no
    /// JetStream (no memory or disk storage).
    pub fn jetstream_limits(&self, key: &str) -> Option<crate::options::JsLimits> {
        let claims = self.claims.read();
        let limits = &claims.get(key)?.nats.limits;
        if !limits.jetstream_enabled() {
            return None;
        }
        // Tiered limits are per replica count; every stream of a single
        // server has one replica, so only `R1` applies.
        let js = if limits.tiered_limits.is_empty() {
            &limits.jetstream
        } else {
            match limits.tiered_limits.get("R1") {
                Some(tier) => tier,
                None => {
                    return Some(crate::options::JsLimits {
                        no_tier: true,
                        ..Default::default()
                    })
                }
            }
        };
        // In a JWT, 0 streams, consumers, ack pending or stream bytes
        // means no limit; 0 bytes of a storage kind means that kind is off.
        let count = |n: i64| if n == 0 { -1 } else { n };
        Some(crate::options::JsLimits {
            max_memory: js.mem_storage,
            max_store: js.disk_storage,
            max_streams: count(js.streams),
            max_consumers: count(js.consumer),
            max_ack_pending: count(js.max_ack_pending),
            memory_max_stream_bytes: count(js.mem_max_stream_bytes),
            storage_max_stream_bytes: count(js.disk_max_stream_bytes),
            max_bytes_required: js.max_bytes_required,
            no_tier: false,
        })
    }

    /// The account's `conn` limit, if it has one.
    pub fn max_connections(&self, account: &str) -> Option<usize> {
        self.claims
            .read()
            .get(account)
            .and_then(|c| positive(c.nats.limits.conn))
    }

    /// Whether a connected user (public key, JWT issued at) is now revoked.
    pub fn is_revoked(&self, account: &str, user: &str, issued_at: i64) -> bool {
        self.claims
            .read()
            .get(account)
            .is_some_and(|c| c.is_revoked(user, issued_at))
    }

    /// The JWT of an account, for lookups.
    pub fn lookup(&self, key: &str) -> Option<String> {
        self.fetch(key)
    }

    /// Whether the directory resolver allows deleting accounts.
    pub fn allows_delete(&self) -> bool {
        matches!(
            *self.resolver.read(),
            Resolver::Full {
                allow_delete: true,
                ..
            }
        )
    }
}

fn positive(n: i64) -> Option<usize> {
    (n > 0).then_some(n as usize)
}
