//! Accounts from JWTs: loaded when first used, wired with their imports
//! and exports, updated by a claims update or a reload, each change checked
//! against the operator's trust.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::account::Accounts;
use crate::account::{Account, Export};
use crate::jwt::{self, AccountClaims, ExportType};
use crate::options::{ExportKind, ImportConfig, Options, ResponseType};
use crate::subscription::Subscription;

use super::*;

impl OperatorMode {
    pub fn ensure_account(&self, accounts: &Accounts, key: &str) -> Result<Arc<Account>, String> {
        self.ensure(accounts, key, &mut HashSet::new())
    }

    fn ensure(
        &self,
        accounts: &Accounts,
        key: &str,
        visiting: &mut HashSet<String>,
    ) -> Result<Arc<Account>, String> {
        if self.claims.read().contains_key(key) {
            if let Some(a) = accounts.get(key) {
                return Ok(a);
            }
        }
        let text = self
            .fetch(key)
            .ok_or_else(|| format!("account {key} not found by the resolver"))?;
        let claims = self.verify_account(key, &text).map_err(|e| e.to_string())?;
        let account = accounts.get_or_create(key);
        apply_claims(&account, &claims);
        visiting.insert(key.to_string());
        self.claims.write().insert(key.to_string(), claims.clone());
        for import in &claims.nats.imports {
            let Some(kind) = kind_of(import.import_type.as_ref()) else {
                continue;
            };
            if !visiting.contains(&import.account) {
                if let Err(e) = self.ensure(accounts, &import.account, visiting) {
                    tracing::warn!("account {key}: import from {}: {e}", import.account);
                    continue;
                }
            }
            if !import.token.is_empty() {
                match self.check_activation(&import.token, key, &import.account, kind, &import.subject) {
                    Ok(()) => {
                        if let Some(exporter) = accounts.get(&import.account) {
                            exporter.activate(kind, &import.subject, key);
                        }
                    }
                    Err(e) => {
                        tracing::warn!("account {key}: activation for {} refused: {e}", import.subject);
                        continue;
                    }
                }
            }
            let non_empty = |s: &String| (!s.is_empty()).then(|| s.clone());
            // `local_subject` renames; the older `to` is a rename for
            // services and a prefix for streams.
            let (to, prefix) = match kind {
                ExportKind::Service => (non_empty(&import.local_subject).or(non_empty(&import.to)), None),
                ExportKind::Stream => match non_empty(&import.local_subject) {
                    Some(local) => (Some(local), None),
                    None => (None, non_empty(&import.to)),
                },
            };
            let cfg = ImportConfig {
                kind,
                account: import.account.clone(),
                subject: import.subject.clone(),
                to,
                prefix,
            };
            match accounts.wire_import(&account, &cfg) {
                Ok((owner, sub)) => self.wired.lock().push(WiredImport {
                    importer: key.to_string(),
                    exporter: import.account.clone(),
                    owner,
                    sub,
                }),
                Err(e) => tracing::warn!("account {key}: {e}"),
            }
        }
        Ok(account)
    }

    /// Checks a reload's operators, trusted keys and `resolver_preload`
    /// before anything changes: each preloaded JWT must verify against the
    /// new operators and keys.
    pub fn check_reload(&self, opts: &Options) -> Result<(), String> {
        let trust = Trust::from_options(opts)?;
        for (key, text) in &opts.resolver_preload {
            verify_account_with(&trust, key, text).map_err(|e| format!("resolver_preload {key}: {e}"))?;
        }
        Ok(())
    }

    /// Applies a reload's operators, trusted keys, `resolver` and
    /// `resolver_preload`, as nats-server applies the last two (it refuses
    /// the first two): the resolver is set up again with the new preloads
    /// (accounts pushed since start are forgotten with the old memory
    /// resolver), then every account set up so far reads its JWT again
    /// (each is verified again when the operators or keys changed). One whose JWT
    /// changed is set up anew, exports and imports, and so are the accounts
    /// importing from it; one the resolver no longer has, or whose JWT no
    /// longer verifies, is dropped, so its clients fail the recheck that
    /// follows. Returns what changed, for the log.
    pub fn reload(&self, accounts: &Accounts, opts: &Options) -> Result<Vec<String>, String> {
        let trust = Trust::from_options(opts)?;
        // New operators or keys: every account is checked again.
        let trust_changed = {
            let old = self.trust.read();
            (&old.texts, &old.trusted_keys) != (&trust.texts, &trust.trusted_keys)
        };
        *self.trust.write() = trust;
        let resolver = resolver_from(opts)?;
        *self.resolver.write() = resolver;
        let preloads: HashMap<String, String> = opts.resolver_preload.iter().cloned().collect();
        let old_jwts = std::mem::replace(&mut *self.jwts.write(), preloads);
        let known: Vec<String> = self.claims.read().keys().cloned().collect();
        let mut notes = Vec::new();
        if trust_changed {
            notes.push("trusted operators and keys".to_string());
        }
        let mut redo: Vec<String> = Vec::new();
        for key in known {
            let text = self.fetch(&key);
            if !trust_changed && text.is_some() && text.as_ref() == old_jwts.get(&key) {
                continue;
            }
            // Changed or gone: its imports, and the imports from it (its
            // exports may have changed), come out. Every account whose JWT
            // imports from it is set up again, wired before or not.
            let importers: Vec<String> = self
                .claims
                .read()
                .iter()
                .filter(|(k, c)| **k != key && c.nats.imports.iter().any(|i| i.account == key))
                .map(|(k, _)| k.clone())
                .collect();
            self.claims.write().remove(&key);
            self.unwire(|w| w.importer == key || w.exporter == key);
            redo.extend(importers);
            match text {
                Some(_) => {
                    notes.push(format!("account {key} updated"));
                    redo.push(key);
                }
                None => {
                    notes.push(format!("account {key} removed"));
                    if let Some(account) = accounts.get(&key) {
                        account.set_exports(Vec::new());
                        account.set_mappings(Default::default());
                    }
                }
            }
        }
        // Preloaded accounts are set up at once, as at start.
        for (key, _) in &opts.resolver_preload {
            if !self.claims.read().contains_key(key) && !redo.contains(key) {
                notes.push(format!("account {key} preloaded"));
                redo.push(key.clone());
            }
        }
        redo.sort();
        redo.dedup();
        for key in redo {
            self.claims.write().remove(&key);
            self.unwire(|w| w.importer == key);
            if let Err(e) = self.ensure_account(accounts, &key) {
                tracing::warn!("Reloaded: account {key} dropped: {e}");
            }
        }
        Ok(notes)
    }

    /// Takes out the wired imports `out` picks.
    fn unwire(&self, out: impl Fn(&WiredImport) -> bool) {
        self.wired.lock().retain(|w| {
            if out(w) {
                w.owner.unsubscribe(&w.sub);
                return false;
            }
            true
        });
    }

    /// Checks an activation token: issued by the exporter (or one of its
    /// signing keys) to `importer`, for a subject covering the import.
    fn check_activation(
        &self,
        token: &str,
        importer: &str,
        exporter: &str,
        kind: ExportKind,
        subject: &str,
    ) -> Result<(), String> {
        let act = jwt::decode::<jwt::Activation>(token).map_err(|e| e.to_string())?;
        if act.sub != importer {
            return Err(format!("token is for {}", act.sub));
        }
        if act.exporter() != exporter {
            return Err(format!("token is from {}", act.exporter()));
        }
        if act.iss != exporter {
            let signed_by_key = self
                .claims
                .read()
                .get(exporter)
                .is_some_and(|c| c.signing_key_list().contains(&act.iss.as_str()));
            if !signed_by_key {
                return Err("token issuer is not the exporting account".into());
            }
        }
        if kind_of(act.nats.kind.as_ref()).is_some_and(|k| k != kind) {
            return Err("token is for another kind of export".into());
        }
        if !crate::permissions::covers(act.nats.subject.as_bytes(), subject.as_bytes()) {
            return Err(format!("token is for subject {}", act.nats.subject));
        }
        Ok(())
    }

    /// Applies a pushed account JWT: stores it and refreshes the account.
    pub fn update(&self, accounts: &Accounts, text: &str) -> Result<String, String> {
        let claims = jwt::decode::<jwt::Account>(text.trim()).map_err(|e| e.to_string())?;
        let key = claims.sub.clone();
        let claims = self
            .verify_account(&key, text.trim())
            .map_err(|e| e.to_string())?;
        if let Resolver::Full { dir, .. } = &*self.resolver.read() {
            std::fs::write(dir.join(format!("{key}.jwt")), text.trim()).map_err(|e| e.to_string())?;
        }
        self.jwts.write().insert(key.clone(), text.trim().to_string());
        if let Some(account) = accounts.get(&key) {
            apply_claims(&account, &claims);
        }
        self.claims.write().insert(key.clone(), claims);
        Ok(key)
    }
}

/// One import wired from an account JWT: the subscription that carries it.
pub(super) struct WiredImport {
    importer: String,
    exporter: String,
    owner: Arc<Account>,
    sub: Arc<Subscription>,
}

pub(super) fn is_account_key(key: &str) -> bool {
    key.len() == 56 && key.starts_with('A') && key.chars().all(|c| c.is_ascii_alphanumeric())
}

fn kind_of(t: Option<&ExportType>) -> Option<ExportKind> {
    match t {
        Some(ExportType::Stream) => Some(ExportKind::Stream),
        Some(ExportType::Service) => Some(ExportKind::Service),
        _ => None,
    }
}

/// What an account JWT offers and rewrites: its exports and its subject
/// mappings.
fn apply_claims(account: &Account, claims: &AccountClaims) {
    set_exports(account, claims);
    account.set_mappings(claim_mappings(claims));
}

/// The claim's `mappings` (`{"src": [{"subject", "weight", "cluster"}]}`,
/// a weight of 0 or none being 100). As nats-server does, one that cannot
/// be set up is left out and the rest apply.
fn claim_mappings(claims: &AccountClaims) -> crate::mapping::Mappings {
    let mut all = crate::mapping::Mappings::default();
    for (source, dests) in &claims.nats.mappings {
        let dests: Vec<crate::mapping::MapDest> = dests
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter_map(|d| {
                let weight = d["weight"].as_u64().filter(|w| *w > 0).unwrap_or(100);
                Some(crate::mapping::MapDest {
                    subject: d["subject"].as_str()?.to_string(),
                    weight: u8::try_from(weight).unwrap_or(u8::MAX),
                    cluster: d["cluster"]
                        .as_str()
                        .filter(|c| !c.is_empty())
                        .map(str::to_string),
                })
            })
            .collect();
        if let Err((_, e)) = all.add(source, &dests) {
            tracing::warn!("account {}: mapping {source:?}: {e}", claims.sub);
        }
    }
    all
}

fn set_exports(account: &Account, claims: &AccountClaims) {
    let exports = claims
        .nats
        .exports
        .iter()
        .filter_map(|e| {
            Some(Export {
                kind: kind_of(e.export_type.as_ref())?,
                subject: e.subject.clone(),
                // Private exports admit only importers with an activation token.
                accounts: e.token_req.then(Vec::new),
                response_type: match e.response_type.to_ascii_lowercase().as_str() {
                    "stream" => ResponseType::Stream,
                    "chunked" => ResponseType::Chunked,
                    _ => ResponseType::Singleton,
                },
            })
        })
        .collect();
    account.set_exports(exports);
}
