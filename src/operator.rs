//! Decentralized auth (operator mode): trusted operators, account JWTs from
//! a memory or directory resolver, and user JWTs presented at CONNECT.
//!
//! Accounts are named by their public keys and created the first time a
//! user of theirs connects (or at start for preloaded ones); their exports
//! and imports come from the account JWT. The system account answers
//! `$SYS.REQ.ACCOUNT.<id>.CLAIMS.UPDATE` / `.LOOKUP` (and
//! `$SYS.REQ.CLAIMS.UPDATE`), so `nsc push`-style updates and lookups work.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use junction_nats::ConnectOptions;
use parking_lot::{Mutex, RwLock};

use crate::account::Accounts;
use crate::account::{Account, Export};
use crate::auth::{AuthError, Identity, UserLimits};
use crate::jwt::{self, AccountClaims, ExportType, JwtError, OperatorClaims};
use crate::options::{
    ExportKind, ImportConfig, Options, Permissions, ResolverConfig, ResponsePermission, ResponseType,
    SubjectPermission,
};
use crate::outlet::Producer;
use crate::permissions::ClientPermissions;
use crate::subscription::{Message, Subscriber, Subscription};

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

/// One import wired from an account JWT: the subscription that carries it.
struct WiredImport {
    importer: String,
    exporter: String,
    owner: Arc<Account>,
    sub: Arc<Subscription>,
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

    /// Authenticates a client presenting a user JWT.
    pub fn authenticate(
        &self,
        accounts: &Accounts,
        connect: &ConnectOptions,
        nonce: &str,
        transport: &str,
    ) -> Result<Identity, AuthError> {
        let text = connect.jwt.as_deref().ok_or(AuthError::NoCredentials)?;
        let user = jwt::decode::<jwt::User>(text).map_err(|e| AuthError::Jwt(e.to_string()))?;
        let account_key = user.account().to_string();
        let account = self
            .ensure_account(accounts, &account_key)
            .map_err(AuthError::Jwt)?;
        let claims = self
            .claims
            .read()
            .get(&account_key)
            .cloned()
            .ok_or_else(|| AuthError::Jwt("account claims missing".into()))?;
        claims
            .check_times()
            .map_err(|e| AuthError::Jwt(format!("account: {e}")))?;
        if !claims.did_sign(&user) {
            return Err(AuthError::Jwt(
                "user JWT issuer is not known to its account".into(),
            ));
        }
        if claims.is_user_revoked(&user) {
            return Err(AuthError::Revoked(user.sub.clone()));
        }
        let limits = &user.nats.limits;
        if limits.bearer_token {
            if claims.nats.limits.disallow_bearer {
                return Err(AuthError::Jwt(
                    "bearer tokens are not allowed in this account".into(),
                ));
            }
        } else {
            let sig = connect.sig.as_deref().unwrap_or("");
            if jwt::verify_nonce(&user.sub, nonce, sig).is_err() {
                return Err(AuthError::BadSignature(user.sub.clone()));
            }
        }
        if !limits.allowed_connection_types.is_empty()
            && !limits
                .allowed_connection_types
                .iter()
                .any(|t| t.eq_ignore_ascii_case(transport))
        {
            return Err(AuthError::ConnectionType(transport.to_string(), user.sub.clone()));
        }
        let perms =
            if user.has_empty_permissions() || (limits.publish.is_empty() && limits.subscribe.is_empty()) {
                permissions_from(
                    &claims.nats.default_permissions.publish,
                    &claims.nats.default_permissions.subscribe,
                    claims.nats.default_permissions.resp.as_ref(),
                )
            } else {
                permissions_from(&limits.publish, &limits.subscribe, limits.resp.as_ref())
            };
        Ok(Identity {
            account,
            user: user.sub.clone(),
            permissions: perms.map(|p| ClientPermissions::from_config(&p)),
            limits: UserLimits {
                subs: positive(limits.subs).or(positive(claims.nats.limits.subs)),
                payload: positive(limits.payload).or(positive(claims.nats.limits.payload)),
            },
            issued_at: user.iat,
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

fn is_account_key(key: &str) -> bool {
    key.len() == 56 && key.starts_with('A') && key.chars().all(|c| c.is_ascii_alphanumeric())
}

fn positive(n: i64) -> Option<usize> {
    (n > 0).then_some(n as usize)
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

fn permissions_from(
    publish: &jwt::Permission,
    subscribe: &jwt::Permission,
    resp: Option<&jwt::ResponsePermission>,
) -> Option<Permissions> {
    let rules = |p: &jwt::Permission| {
        (!p.is_empty()).then(|| SubjectPermission {
            allow: p.allow.clone(),
            deny: p.deny.clone(),
        })
    };
    let p = Permissions {
        publish: rules(publish),
        subscribe: rules(subscribe),
        allow_responses: resp.map(|r| ResponsePermission {
            max: if r.max > 0 { r.max as usize } else { 1 },
            expires: (r.ttl > 0).then(|| std::time::Duration::from_nanos(r.ttl as u64)),
        }),
    };
    (p.publish.is_some() || p.subscribe.is_some() || p.allow_responses.is_some()).then_some(p)
}

/// What the claims service needs of the server it runs in.
pub trait ClaimsHost: Send + Sync {
    fn operator(&self) -> Option<&OperatorMode>;
    fn accounts(&self) -> &Accounts;
    /// The server's name and id, for the responses.
    fn identity(&self) -> (&str, &str);
    /// An account JWT was updated: revocations and JetStream limits follow.
    fn claims_updated(&self, account: &str);
}

/// The system account's handler for account JWT updates and lookups.
pub struct ClaimsService {
    host: std::sync::Weak<dyn ClaimsHost>,
}

impl ClaimsService {
    /// Subscribes the service in `host`'s system account.
    pub fn install(host: Arc<dyn ClaimsHost>) {
        let system = host.accounts().system.clone();
        let service: Arc<dyn Subscriber> = Arc::new(ClaimsService {
            host: Arc::downgrade(&host),
        });
        for subject in [
            "$SYS.REQ.ACCOUNT.*.CLAIMS.UPDATE",
            "$SYS.REQ.CLAIMS.UPDATE",
            "$SYS.REQ.ACCOUNT.*.CLAIMS.LOOKUP",
        ] {
            let sub = Subscription::new(
                Bytes::from_static(subject.as_bytes()),
                None,
                Bytes::new(),
                service.clone(),
            );
            let _ = system.subscribe(Arc::new(sub));
        }
    }
}

impl Subscriber for ClaimsService {
    fn client_id(&self) -> u64 {
        0
    }

    fn deliver(&self, _sub: &Subscription, msg: &Message<'_>, producer: &mut Producer) {
        let Some(host) = self.host.upgrade() else {
            return;
        };
        let Some(operator) = host.operator() else {
            return;
        };
        let subject = String::from_utf8_lossy(msg.subject).into_owned();
        let body = &msg.payload[msg.header_len.unwrap_or(0)..];
        let response = if subject.ends_with(".CLAIMS.LOOKUP") {
            let key = subject.split('.').nth(3).unwrap_or("");
            operator.lookup(key).unwrap_or_default().into_bytes()
        } else {
            let text = String::from_utf8_lossy(body);
            let data = match operator.update(host.accounts(), &text) {
                Ok(key) => {
                    host.claims_updated(&key);
                    serde_json::json!({"account": key, "code": 200, "message": "jwt updated"})
                }
                Err(e) => serde_json::json!({"code": 400, "description": e}),
            };
            let (name, id) = host.identity();
            let body = serde_json::json!({"server": {"name": name, "id": id}, "data": data});
            serde_json::to_vec(&body).unwrap_or_default()
        };
        if let Some(reply) = msg.reply {
            host.accounts()
                .system
                .publish_internal_with(reply, &response, producer);
        }
    }

    fn expire(&self, _sub: &Arc<Subscription>) {}
}
