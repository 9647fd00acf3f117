//! JetStream in the server: started with it, and given to accounts from
//! JWTs as their claims say.

use std::sync::Arc;

use crate::account::Account;

use super::*;

impl Server {
    /// Starts JetStream: recovers the streams of every account that has it,
    /// and answers `$JS.API` in every account (with an error where it is off).
    pub(super) fn enable_jetstream(self: &Arc<Self>) -> anyhow::Result<()> {
        let base = self
            .opts()
            .store_dir
            .clone()
            .unwrap_or_else(|| std::env::temp_dir().join("nats"));
        let js = crate::jetstream::JetStream::new(crate::jetstream::JetStreamConfig {
            dir: base.join("jetstream"),
            max_memory: self.opts().js_max_memory,
            max_store: self.opts().js_max_store,
            sync_interval: self.opts().sync_interval,
            domain: self.opts().js_domain.clone(),
            strict: self.opts().js_strict,
        })?;
        tracing::info!("Starting JetStream");
        tracing::info!("  Store directory: \"{}\"", js.config.dir.display());
        let enabled: Vec<String> = if self.opts().accounts.is_empty() {
            vec![crate::account::GLOBAL_ACCOUNT.to_string()]
        } else {
            self.opts()
                .accounts
                .iter()
                .filter(|a| a.jetstream)
                .map(|a| a.name.clone())
                .collect()
        };
        let _ = self.jetstream.set(js.clone());
        for account in self.accounts.all() {
            if self.operator.is_some() {
                // Accounts from JWTs: their claims say whether they have JetStream.
                self.jetstream_for_account(&account);
                continue;
            }
            if Arc::ptr_eq(&account, &self.accounts.system) {
                continue;
            }
            if enabled.contains(&account.name) {
                let limits = self
                    .opts()
                    .accounts
                    .iter()
                    .find(|a| a.name == account.name)
                    .map(|a| a.jetstream_limits)
                    .unwrap_or_default();
                js.enable(&account, limits)?;
            }
            crate::jetstream::api::install(&js, &account);
        }
        js.spawn_housekeeping();
        Ok(())
    }

    /// Gives an account from a JWT its JetStream (or the API's error, when its
    /// claims have none) the first time it is seen.
    pub(crate) fn jetstream_for_account(&self, account: &Arc<Account>) {
        let (Some(js), Some(op)) = (self.jetstream.get(), &self.operator) else {
            return;
        };
        if Arc::ptr_eq(account, &self.accounts.system) || js.has_api(&account.name) {
            return;
        }
        if let Some(limits) = op.jetstream_limits(&account.name) {
            if let Err(e) = js.enable(account, limits) {
                tracing::error!("JetStream: account {}: {e:#}", account.name);
            }
        }
        crate::jetstream::api::install(js, account);
    }

    /// Applies an updated account JWT's JetStream claims to an account
    /// already loaded: new limits, or JetStream turned on or off.
    pub(crate) fn jetstream_claims_updated(&self, key: &str) {
        let (Some(js), Some(op), Some(account)) =
            (self.jetstream.get(), &self.operator, self.accounts.get(key))
        else {
            return;
        };
        if !js.has_api(key) {
            // Not seen yet: it gets its JetStream when first used.
            return;
        }
        match (op.jetstream_limits(key), js.account(key)) {
            (Some(limits), Some(acc)) => acc.set_limits(limits),
            (Some(limits), None) => {
                if let Err(e) = js.enable(&account, limits) {
                    tracing::error!("JetStream: account {key}: {e:#}");
                }
            }
            (None, Some(_)) => js.disable(key),
            (None, None) => {}
        }
    }

    /// JetStream, when enabled.
    pub fn jetstream(&self) -> Option<&Arc<crate::jetstream::JetStream>> {
        self.jetstream.get()
    }
}
