//! Configuration reload (SIGHUP, `--signal reload`): the new options are
//! checked as a whole, refused with nats-server's message when they change
//! something that cannot change while running, and otherwise applied at
//! once: accounts, users and permissions (every connected client is checked
//! again), limits, logging levels.

use std::sync::Arc;
use std::time::SystemTime;

use crate::account::Accounts;
use crate::auth::Authenticator;
use crate::options::Options;
use crate::server::Server;

/// Why a reload was refused; the server keeps its old configuration.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// nats-server's wording, with its option names.
    #[error("config reload not supported for {option}: old={old}, new={new}")]
    NotSupported {
        option: &'static str,
        old: String,
        new: String,
    },
    #[error("{0}")]
    Invalid(String),
}

/// Options that only take effect at start, by nats-server's names for them.
fn fixed_options(old: &Options, new: &Options) -> Result<(), ReloadError> {
    fn check<T: PartialEq + std::fmt::Debug>(
        option: &'static str,
        old: &T,
        new: &T,
    ) -> Result<(), ReloadError> {
        if old == new {
            return Ok(());
        }
        let show = |v: &T| {
            let text = format!("{v:?}");
            // Plain values as nats-server prints them: no quotes, no Some().
            let text = text
                .strip_prefix("Some(")
                .and_then(|t| t.strip_suffix(')'))
                .unwrap_or(&text)
                .to_string();
            match text.as_str() {
                "None" => String::new(),
                t => t.trim_matches('"').to_string(),
            }
        };
        Err(ReloadError::NotSupported {
            option,
            old: show(old),
            new: show(new),
        })
    }
    // A random port (`-p -1`, 0 here) asks for nothing new.
    if new.port != 0 {
        check("Port", &old.port, &new.port)?;
    }
    check("Host", &old.host, &new.host)?;
    check("ServerName", &old.server_name, &new.server_name)?;
    check("HTTPHost", &old.http_host, &new.http_host)?;
    let monitor_port = crate::monitor::as_written;
    check(
        "HTTPPort",
        &monitor_port(old.http_port),
        &monitor_port(new.http_port),
    )?;
    check(
        "HTTPSPort",
        &monitor_port(old.https_port),
        &monitor_port(new.https_port),
    )?;
    check("HTTPBasePath", &old.http_base_path, &new.http_base_path)?;
    check("JetStream", &old.jetstream, &new.jetstream)?;
    check("StoreDir", &old.store_dir, &new.store_dir)?;
    check("JetStreamMaxMemory", &old.js_max_memory, &new.js_max_memory)?;
    check("JetStreamMaxStore", &old.js_max_store, &new.js_max_store)?;
    check("JetStreamDomain", &old.js_domain, &new.js_domain)?;
    check("JetStreamStrict", &old.js_strict, &new.js_strict)?;
    check("SyncInterval", &old.sync_interval, &new.sync_interval)?;
    check("SystemAccount", &old.system_account, &new.system_account)?;
    // Operator mode cannot be turned on or off. Within it the trusted
    // operators and keys may change (nats-server refuses that), and the
    // resolver and its preloads, which may not appear or go.
    let operator_mode = |o: &Options| !o.operators.is_empty() || !o.trusted_keys.is_empty();
    if operator_mode(old) != operator_mode(new) {
        check("TrustedOperators", &old.operators, &new.operators)?;
        check("TrustedKeys", &old.trusted_keys, &new.trusted_keys)?;
    }
    if old.resolver.is_some() != new.resolver.is_some() {
        return Err(ReloadError::Invalid(
            "config reload does not support moving to or from an account resolver".into(),
        ));
    }
    // Certificates and CAs reload; TLS turned on or off does not.
    check("TLSConfig", &old.tls.is_some(), &new.tls.is_some())?;
    let without_tls = |w: &Option<crate::options::WebsocketOptions>| {
        w.clone().map(|mut w| {
            let had = w.tls.take().is_some();
            (w, had)
        })
    };
    check(
        "Websocket",
        &without_tls(&old.websocket),
        &without_tls(&new.websocket),
    )?;
    // As nats-server: of the `mqtt {}` block only the acknowledgement
    // settings, the consumers' inactivity and the certificates reload.
    let mqtt_fixed = |m: &Option<crate::options::MqttOptions>| {
        m.clone().map(|mut m| {
            let had_tls = m.tls.take().is_some();
            m.ack_wait = Default::default();
            m.max_ack_pending = 0;
            m.stream_replicas = 0;
            m.consumer_inactive_threshold = None;
            m.receive_maximum = 0;
            (m, had_tls)
        })
    };
    check("MQTT", &mqtt_fixed(&old.mqtt), &mqtt_fixed(&new.mqtt))?;
    // The routes, their credentials and what is advertised reload; where
    // routes are accepted does not, as in nats-server. Nor (here) the
    // cluster's name or TLS, nor the pool and dedicated routes (which
    // nats-server moves accounts over to live).
    match (&old.cluster, &new.cluster) {
        (None, None) => {}
        (Some(o), Some(n)) => {
            check("cluster host", &o.host, &n.host)?;
            check("cluster port", &o.port, &n.port)?;
            check("cluster name", &o.name, &n.name)?;
            check("cluster tls", &o.tls, &n.tls)?;
            check("cluster pool_size", &o.pool_size, &n.pool_size)?;
            check("cluster accounts", &o.accounts, &n.accounts)?;
        }
        (o, n) => {
            let port = |c: &Option<crate::options::ClusterOptions>| c.as_ref().map_or(0, |c| c.port);
            check("cluster port", &port(o), &port(n))?;
        }
    }
    // As in nats-server, nothing of `gateway {}` reloads.
    check("Gateway", &old.gateway, &new.gateway)?;
    check("PidFile", &old.pid_file, &new.pid_file)?;
    check("PortsFileDir", &old.ports_file_dir, &new.ports_file_dir)?;
    Ok(())
}

/// What changed, for the log: nats-server writes a `Reloaded: …` line each.
fn changes(old: &Options, new: &Options) -> Vec<String> {
    let mut out = Vec::new();
    let mut note = |changed: bool, what: String| {
        if changed {
            out.push(what);
        }
    };
    note(
        old.users != new.users || old.username != new.username || old.password != new.password,
        "authorization users".into(),
    );
    note(
        old.authorization != new.authorization,
        "authorization token".into(),
    );
    note(
        old.no_auth_user != new.no_auth_user,
        format!("no_auth_user = {:?}", new.no_auth_user),
    );
    note(old.accounts != new.accounts, "accounts".into());
    note(old.mappings != new.mappings, "mappings".into());
    note(
        old.default_permissions != new.default_permissions,
        "default_permissions".into(),
    );
    // A setting that changed, logged as `name = value`.
    macro_rules! settings {
        ($($field:ident $format:literal),*) => {$(
            note(
                old.$field != new.$field,
                format!(concat!(stringify!($field), " = ", $format), new.$field),
            );
        )*};
    }
    settings!(
        max_payload "{}",
        max_connections "{}",
        max_subscriptions "{}",
        max_pending "{}",
        max_control_line "{}",
        write_deadline "{:?}",
        ping_interval "{:?}",
        ping_max "{}",
        auth_timeout "{:?}",
        lame_duck_duration "{:?}",
        lame_duck_grace_period "{:?}",
        debug "{}",
        trace "{}",
        logtime "{}"
    );
    note(
        (old.log_size_limit, old.log_max_num) != (new.log_size_limit, new.log_max_num),
        format!(
            "logfile_size_limit = {}, logfile_max_num = {}",
            new.log_size_limit, new.log_max_num
        ),
    );
    if let (Some(o), Some(n)) = (&old.mqtt, &new.mqtt) {
        note(
            o.ack_wait != n.ack_wait,
            format!("MQTT ack_wait = {:?}", n.ack_wait),
        );
        note(
            o.receive_maximum != n.receive_maximum,
            format!("MQTT receive_maximum = {}", n.receive_maximum),
        );
        note(
            o.max_ack_pending != n.max_ack_pending,
            format!("MQTT max_ack_pending = {}", n.max_ack_pending),
        );
        note(
            o.consumer_inactive_threshold != n.consumer_inactive_threshold,
            format!(
                "MQTT consumer_inactive_threshold = {:?}",
                n.consumer_inactive_threshold.unwrap_or_default()
            ),
        );
    }
    out
}

impl Server {
    /// Applies `new` in place of the options in force, or refuses it as a
    /// whole and keeps serving on the old ones.
    pub fn reload(self: &Arc<Self>, new: Options) -> Result<(), ReloadError> {
        let old = self.opts();
        fixed_options(&old, &new)?;
        // Checked in full before anything changes: a file that cannot be
        // set up is refused, not half applied.
        let trial = Accounts::from_options(&new).map_err(|e| ReloadError::Invalid(e.to_string()))?;
        Authenticator::new(&new, &trial).map_err(ReloadError::Invalid)?;
        if let Some(op) = &self.operator {
            op.check_reload(&new).map_err(ReloadError::Invalid)?;
        }
        // A new log file is opened before anything changes, too. `Some(None)`:
        // lines go back to stderr.
        let log_file = match (&old.log_file, &new.log_file) {
            (old, Some(n)) if old.as_ref() != Some(n) => Some(Some((
                n.clone(),
                crate::logfile::LogFile::open_for_reload(n)
                    .map_err(|e| ReloadError::Invalid(format!("opening log file {}: {e}", n.display())))?,
            ))),
            (Some(_), None) => Some(None),
            _ => None,
        };
        // New certificates are loaded before anything changes, too: an
        // acceptor for each listener whose TLS files changed.
        let acceptor = |old: Option<&crate::tls::TlsOptions>,
                        new: Option<&crate::tls::TlsOptions>,
                        what: &str| match (old, new) {
            (Some(o), Some(n)) if o != n => crate::tls::server_config(n)
                .map(|c| Some(tokio_rustls::TlsAcceptor::from(c)))
                .map_err(|e| ReloadError::Invalid(format!("{what}TLS: {e}"))),
            _ => Ok(None),
        };
        let nats_tls = acceptor(old.tls.as_ref(), new.tls.as_ref(), "")?;
        // The HTTPS monitoring port serves the NATS port's certificate.
        let monitor_tls = match (&nats_tls, &new.tls, self.monitor_tls.lock().clone()) {
            (Some(_), Some(tls), Some(slot)) => Some((
                crate::monitor::https::acceptor(tls)
                    .map_err(|e| ReloadError::Invalid(format!("TLS: {e}")))?,
                slot,
            )),
            _ => None,
        };
        let mqtt_tls = acceptor(
            old.mqtt.as_ref().and_then(|m| m.tls.as_ref()),
            new.mqtt.as_ref().and_then(|m| m.tls.as_ref()),
            "mqtt ",
        )?;
        let ws_tls = acceptor(
            old.websocket.as_ref().and_then(|w| w.tls.as_ref()),
            new.websocket.as_ref().and_then(|w| w.tls.as_ref()),
            "websocket ",
        )?;

        self.accounts
            .reload(&new)
            .map_err(|e| ReloadError::Invalid(e.to_string()))?;
        let auth = Authenticator::new(&new, &self.accounts).map_err(ReloadError::Invalid)?;
        let mut changed = changes(&old, &new);
        if let Some(op) = &self.operator {
            let notes = op.reload(&self.accounts, &new).map_err(ReloadError::Invalid)?;
            changed.extend(notes);
        }
        let levels = (old.debug, old.trace) != (new.debug, new.trace);
        let new = Arc::new(new);
        self.replace_config(new.clone(), auth);
        // As nats-server switches its logger: the lines from here on go to
        // the new file, or to stderr.
        match log_file {
            Some(Some((path, file))) => {
                crate::logfile::LogFile::move_to(&path, file);
                crate::run::log_output_changed();
                tracing::info!("Reloaded: log_file = {}", path.display());
            }
            Some(None) => {
                crate::logfile::LogFile::stop();
                crate::run::log_output_changed();
                tracing::info!("Reloaded: log_file = ");
            }
            None => {}
        }
        if let (Some(links), Some(cluster)) = (self.links(), &new.cluster) {
            if old.cluster.as_ref() != Some(cluster) {
                links.reload(cluster);
                tracing::info!("Reloaded: cluster");
            }
        }
        if let Some(a) = nats_tls {
            self.replace_tls(a);
            tracing::info!("Reloaded: tls");
        }
        if let Some((a, slot)) = monitor_tls {
            slot.acceptor.store(Arc::new(a));
        }
        if let (Some(a), Some(slot)) = (ws_tls, self.websocket_tls.lock().clone()) {
            slot.acceptor.store(Arc::new(a));
            tracing::info!("Reloaded: websocket tls");
        }
        if let (Some(o), Some(n)) = (&old.mqtt, &new.mqtt) {
            if o != n {
                if mqtt_tls.is_some() {
                    tracing::info!("Reloaded: mqtt tls");
                }
                self.reload_mqtt(n, mqtt_tls);
            }
        }
        if let Some(js) = self.jetstream() {
            // Accounts the file now gives JetStream get it, and every
            // account answers the JetStream API.
            for cfg in new.accounts.iter().filter(|a| a.jetstream) {
                if let Some(account) = self.accounts.get(&cfg.name) {
                    if js.account(&cfg.name).is_none() {
                        if let Err(e) = js.enable(&account, cfg.jetstream_limits) {
                            tracing::error!("JetStream: account {}: {e:#}", cfg.name);
                        }
                    }
                }
            }
            for account in self.accounts.all() {
                if !Arc::ptr_eq(&account, &self.accounts.system) && !js.has_api(&account.name) {
                    crate::jetstream::api::install(js, &account);
                }
            }
        }
        if levels {
            crate::run::set_log_level(&new);
        }
        crate::logfile::LogFile::set_rotation(new.log_size_limit, new.log_max_num);
        crate::run::set_logtime(new.logtime);
        for what in &changed {
            tracing::info!("Reloaded: {what}");
        }
        // Every client is checked against the new users: removed or no
        // longer valid ones are told and closed, the others take their new
        // permissions.
        for client in self.clients() {
            client.recheck_auth();
            client
                .core()
                .set_settings(self.client_settings(client.transport()));
        }
        // A lower `max_connections` closes the newest connections past it,
        // as nats-server closes some (it picks them at random).
        let mut open: Vec<_> = self
            .clients()
            .into_iter()
            .filter(|c| c.close_reason().is_none())
            .collect();
        if open.len() > new.max_connections {
            open.sort_by_key(|c| std::cmp::Reverse(c.id()));
            let excess = open.len() - new.max_connections;
            for client in &open[..excess] {
                client.max_connections_exceeded();
            }
            tracing::info!("Closed {excess} connections to fall within max_connections");
        }
        *self.config_load_time.lock() = SystemTime::now();
        tracing::info!("Reloaded server configuration");
        Ok(())
    }
}
