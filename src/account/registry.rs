//! The registry of accounts (`Accounts`): `$G`, the system account, the configured
//! accounts with their exports and imports wired up, and (in operator mode)
//! accounts added as their JWTs are resolved.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};

use super::imports::{ServiceImport, StreamImport, SubjectMapping};
use super::InterestListener;
use crate::account::{Account, Export, GLOBAL_ACCOUNT, SYSTEM_ACCOUNT};
use crate::mapping::Mappings;
use crate::options::ResponseType;
use crate::options::{ExportKind, ImportConfig, Options};
use crate::subscription::Subscription;

/// Why the configured accounts cannot be set up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    #[error("account {importer:?} imports from unknown account {exporter:?}")]
    UnknownExporter { importer: String, exporter: String },
    #[error("account {importer:?} may not import {kind} {subject:?} from account {exporter:?}: no matching export")]
    NotExported {
        importer: String,
        exporter: String,
        kind: &'static str,
        subject: String,
    },
    #[error("invalid import subject {0:?}")]
    InvalidSubject(String),
    #[error("account {account:?}: error adding mapping for {source_subject:?} : {message}")]
    Mapping {
        account: String,
        source_subject: String,
        message: String,
    },
}

pub struct Accounts {
    map: RwLock<HashMap<String, Arc<Account>>>,
    pub global: Arc<Account>,
    pub system: Arc<Account>,
    /// The imports the configuration file wired, so a reload can tell
    /// which to keep, drop and add.
    wired: Mutex<Vec<Wired>>,
    /// Accounts holding mappings from the configuration file.
    config_mapped: Mutex<Vec<String>>,
    /// Told of the interest of every account, also of those created later.
    /// Taken after `map`'s lock, never before.
    interest_listeners: RwLock<Vec<InterestListener>>,
    /// Set once the system account's services run: every other account
    /// imports some of them (see [`Accounts::import_system_services`]).
    system_imports: std::sync::atomic::AtomicBool,
}

/// The system account's services every other account imports, as
/// nats-server wires them: the local subject, and the system account's
/// subject with `{}` for the importing account. Each server answers, so
/// the requester gets one answer from each.
const SYSTEM_IMPORTS: [(&str, &str); 3] = [
    ("$SYS.REQ.SERVER.PING.CONNZ", "$SYS.REQ.ACCOUNT.{}.CONNZ"),
    ("$SYS.REQ.ACCOUNT.PING.CONNZ", "$SYS.REQ.ACCOUNT.{}.CONNZ"),
    ("$SYS.REQ.ACCOUNT.PING.STATZ", "$SYS.REQ.ACCOUNT.{}.STATZ"),
];

/// One configured import and the subscription that carries it.
struct Wired {
    importer: String,
    config: ImportConfig,
    /// The account whose sublist holds `sub`.
    owner: Arc<Account>,
    sub: Arc<Subscription>,
}

/// Subscribes `importer` to `local`, forwarding requests to `remote` in
/// `exporter` (a service import), answers coming back as `response_type`
/// allows.
fn service_import(
    importer: &Arc<Account>,
    exporter: &Arc<Account>,
    local: &str,
    remote: &str,
    response_type: ResponseType,
) -> Result<Arc<Subscription>, crate::sublist::SublistError> {
    let forwarder = ServiceImport {
        importer: Arc::downgrade(importer),
        exporter: Arc::downgrade(exporter),
        mapping: SubjectMapping::new(local, Some(remote), None),
        response_type,
    };
    let sub = Arc::new(Subscription::new(
        Bytes::copy_from_slice(local.as_bytes()),
        None,
        Bytes::new(),
        Arc::new(forwarder),
    ));
    importer.subscribe(sub.clone())?;
    Ok(sub)
}

/// The exports of an account as the configuration gives them.
fn configured_exports(cfg: &crate::options::AccountConfig) -> Vec<Export> {
    cfg.exports
        .iter()
        .map(|e| Export {
            kind: e.kind,
            subject: e.subject.clone(),
            accounts: (!e.accounts.is_empty()).then(|| e.accounts.clone()),
            response_type: e.response_type,
        })
        .collect()
}

impl Accounts {
    /// Creates the accounts of `opts` and wires their imports.
    pub fn from_options(opts: &Options) -> Result<Self, AccountError> {
        let global = Arc::new(Account::new(GLOBAL_ACCOUNT));
        let mut map = HashMap::new();
        map.insert(GLOBAL_ACCOUNT.to_string(), global.clone());
        for cfg in &opts.accounts {
            let account = Arc::new(Account::new(cfg.name.clone()));
            account.set_exports(configured_exports(cfg));
            map.insert(cfg.name.clone(), account);
        }
        let system_name = opts
            .system_account
            .clone()
            .unwrap_or_else(|| SYSTEM_ACCOUNT.to_string());
        let system = map
            .entry(system_name.clone())
            .or_insert_with(|| Arc::new(Account::new(system_name)))
            .clone();
        let accounts = Accounts {
            map: RwLock::new(map),
            global,
            system,
            wired: Mutex::new(Vec::new()),
            config_mapped: Mutex::new(Vec::new()),
            interest_listeners: RwLock::new(Vec::new()),
            system_imports: std::sync::atomic::AtomicBool::new(false),
        };
        accounts.set_mappings(opts)?;
        for cfg in &opts.accounts {
            let importer = accounts.get(&cfg.name).expect("inserted above");
            for import in &cfg.imports {
                let (owner, sub) = accounts.wire_import(&importer, import)?;
                accounts.wired.lock().push(Wired {
                    importer: cfg.name.clone(),
                    config: import.clone(),
                    owner,
                    sub,
                });
            }
        }
        Ok(accounts)
    }

    /// Applies a reloaded configuration's accounts (already checked by
    /// building them with `from_options`): new accounts are created, exports
    /// replaced, imports no longer configured (or whose exporter changed
    /// its exports) unwired and new ones wired. Imports that stay are not
    /// touched, so nothing flowing through them is lost.
    pub fn reload(&self, opts: &Options) -> Result<(), AccountError> {
        self.set_mappings(opts)?;
        let mut changed_exporters = Vec::new();
        for cfg in &opts.accounts {
            let account = self.get_or_create(&cfg.name);
            let exports = configured_exports(cfg);
            if account.exports() != exports {
                account.set_exports(exports);
                changed_exporters.push(cfg.name.clone());
            }
        }
        // Accounts no longer in the file keep existing (their clients are
        // rechecked and leave) but offer nothing.
        for account in self.all() {
            let configured = opts.accounts.iter().any(|c| c.name == account.name);
            if !configured && !account.exports().is_empty() && account.name != GLOBAL_ACCOUNT {
                account.set_exports(Vec::new());
                changed_exporters.push(account.name.clone());
            }
        }
        let wanted: Vec<(String, ImportConfig)> = opts
            .accounts
            .iter()
            .flat_map(|c| c.imports.iter().map(move |i| (c.name.clone(), i.clone())))
            .collect();
        let mut wired = self.wired.lock();
        wired.retain(|w| {
            let keep = wanted.iter().any(|(n, i)| *n == w.importer && *i == w.config)
                && !changed_exporters.contains(&w.config.account);
            if !keep {
                w.owner.unsubscribe(&w.sub);
            }
            keep
        });
        for (importer, config) in wanted {
            if wired.iter().any(|w| w.importer == importer && w.config == config) {
                continue;
            }
            let account = self.get_or_create(&importer);
            let (owner, sub) = self.wire_import(&account, &config)?;
            wired.push(Wired {
                importer,
                config,
                owner,
                sub,
            });
        }
        Ok(())
    }

    /// Puts the configured subject mappings in force: the top-level ones
    /// in `$G` (unless `$G` is configured as an account), each account's in
    /// it, none in accounts the file does not name.
    fn set_mappings(&self, opts: &Options) -> Result<(), AccountError> {
        let compile = |account: &str, config| {
            Mappings::new(config).map_err(|(source, e)| AccountError::Mapping {
                account: account.to_string(),
                source_subject: source,
                message: e.to_string(),
            })
        };
        // `$G` cannot be configured as an account, so the names are distinct.
        let mut wanted = vec![(
            GLOBAL_ACCOUNT.to_string(),
            compile(GLOBAL_ACCOUNT, &opts.mappings)?,
        )];
        for cfg in &opts.accounts {
            wanted.push((cfg.name.clone(), compile(&cfg.name, &cfg.mappings)?));
        }
        wanted.retain(|(_, m)| !m.is_empty());
        // Accounts the file gave mappings before and no longer does lose
        // them; accounts from JWTs keep theirs.
        let mut mapped = self.config_mapped.lock();
        for name in mapped.iter().filter(|n| !wanted.iter().any(|(w, _)| w == *n)) {
            if let Some(account) = self.get(name) {
                account.set_mappings(Mappings::default());
            }
        }
        *mapped = wanted.iter().map(|(n, _)| n.clone()).collect();
        for (name, mappings) in wanted {
            self.get_or_create(&name).set_mappings(mappings);
        }
        Ok(())
    }

    pub fn get(&self, name: &str) -> Option<Arc<Account>> {
        self.map.read().get(name).cloned()
    }

    /// The account called `name`, created empty if it does not exist yet.
    pub fn get_or_create(&self, name: &str) -> Arc<Account> {
        if let Some(a) = self.get(name) {
            return a;
        }
        let mut created = false;
        let account = self
            .map
            .write()
            .entry(name.to_string())
            .or_insert_with(|| {
                created = true;
                let account = Arc::new(Account::new(name));
                // Before anyone can subscribe in it.
                for listener in self.interest_listeners.read().iter() {
                    account.on_interest(listener.clone());
                }
                account
            })
            .clone();
        if created && self.system_imports.load(std::sync::atomic::Ordering::Acquire) {
            self.import_system_services_into(&account);
        }
        account
    }

    /// Every account but the system account imports some of its services
    /// (`SYSTEM_IMPORTS`), those created later too: a user of any account
    /// can list its account's connections, on every server, as in
    /// nats-server.
    pub fn import_system_services(&self) {
        if self
            .system_imports
            .swap(true, std::sync::atomic::Ordering::AcqRel)
        {
            return;
        }
        for account in self.all() {
            self.import_system_services_into(&account);
        }
    }

    fn import_system_services_into(&self, importer: &Arc<Account>) {
        if Arc::ptr_eq(importer, &self.system) {
            return;
        }
        for (local, remote) in SYSTEM_IMPORTS {
            let remote = remote.replace("{}", &importer.name);
            // One answer from each server.
            if let Err(e) = service_import(importer, &self.system, local, &remote, ResponseType::Stream) {
                tracing::error!(account = %importer.name, "the system account's {local} was not imported: {e}");
            }
        }
    }

    /// Tells `listener` of every interest change in every account, those
    /// there are and those created later (routes announce them to peers).
    pub fn on_interest_everywhere(&self, listener: InterestListener) {
        let map = self.map.write();
        self.interest_listeners.write().push(listener.clone());
        for account in map.values() {
            account.on_interest(listener.clone());
        }
    }

    /// Subscriptions in all accounts.
    pub fn subscription_count(&self) -> u64 {
        self.map.read().values().map(|a| a.subscription_count()).sum()
    }

    pub fn all(&self) -> Vec<Arc<Account>> {
        let mut all: Vec<_> = self.map.read().values().cloned().collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    /// Connects `importer` to an export of another account; returns the
    /// subscription that carries it and the account whose sublist holds it.
    pub fn wire_import(
        &self,
        importer: &Arc<Account>,
        import: &ImportConfig,
    ) -> Result<(Arc<Account>, Arc<Subscription>), AccountError> {
        let exporter = self
            .get(&import.account)
            .ok_or_else(|| AccountError::UnknownExporter {
                importer: importer.name.clone(),
                exporter: import.account.clone(),
            })?;
        let kind_name = match import.kind {
            ExportKind::Stream => "stream",
            ExportKind::Service => "service",
        };
        let export = exporter
            .export_for(import.kind, &import.subject, &importer.name)
            .ok_or_else(|| AccountError::NotExported {
                importer: importer.name.clone(),
                exporter: exporter.name.clone(),
                kind: kind_name,
                subject: import.subject.clone(),
            })?;
        let invalid = || AccountError::InvalidSubject(import.subject.clone());
        match import.kind {
            ExportKind::Stream => {
                let forwarder = StreamImport {
                    importer: Arc::downgrade(importer),
                    mapping: SubjectMapping::new(
                        &import.subject,
                        import.to.as_deref(),
                        import.prefix.as_deref(),
                    ),
                };
                let sub = Arc::new(Subscription::new(
                    Bytes::from(import.subject.clone()),
                    None,
                    Bytes::new(),
                    Arc::new(forwarder),
                ));
                exporter.subscribe(sub.clone()).map_err(|_| invalid())?;
                Ok((exporter, sub))
            }
            ExportKind::Service => {
                let local = import.to.as_deref().unwrap_or(&import.subject);
                let sub = service_import(importer, &exporter, local, &import.subject, export.response_type)
                    .map_err(|_| invalid())?;
                Ok((importer.clone(), sub))
            }
        }
    }
}
