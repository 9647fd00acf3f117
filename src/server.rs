//! The server: binds the client listener, accepts connections, keeps the
//! registry of live clients, and runs shutdown and lame duck mode.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwap;
use junction_nats::{ConnectOptions, ServerInfo};
use parking_lot::Mutex;

use crate::account::Account;
use crate::account::Accounts;
use crate::auth::{AuthError, Authenticator, Identity};
use crate::conn::{CloseReason, ConnRecord, Connection};
use crate::lifecycle::Lifecycle;
use crate::operator::{ClaimsHost, ClaimsService, OperatorMode};
use crate::options::{MqttOptions, Options, WebsocketOptions};

/// The NATS protocol level Junction speaks, reported as `version` in INFO:
/// clients gate features (headers, no-responders, JetStream APIs) on it, so
/// it names the nats-server release whose client protocol we match.
pub const NATS_COMPAT_VERSION: &str = "2.10.0";

/// Server-wide counters.
#[derive(Debug, Default)]
pub struct ServerStats {
    pub in_msgs: AtomicU64,
    pub in_bytes: AtomicU64,
    pub out_msgs: AtomicU64,
    pub out_bytes: AtomicU64,
    pub slow_consumers: AtomicU64,
    pub total_connections: AtomicU64,
    /// Requests per monitoring endpoint, as `http_req_stats` in `/varz`.
    pub http_requests: Mutex<BTreeMap<&'static str, u64>>,
}

impl ServerStats {
    /// Adds a batch of counts gathered by one connection's reader.
    pub fn add(&self, batch: &Tally) {
        self.in_msgs.fetch_add(batch.in_msgs, Ordering::Relaxed);
        self.in_bytes.fetch_add(batch.in_bytes, Ordering::Relaxed);
        self.out_msgs.fetch_add(batch.out_msgs, Ordering::Relaxed);
        self.out_bytes.fetch_add(batch.out_bytes, Ordering::Relaxed);
    }
}

/// Message counts a reader gathers over one read and then adds to the
/// shared counters in one go, instead of touching shared cache lines for
/// every message.
#[derive(Debug, Default, Clone, Copy)]
pub struct Tally {
    pub in_msgs: u64,
    pub in_bytes: u64,
    pub out_msgs: u64,
    pub out_bytes: u64,
}

pub struct Server {
    /// The options in force; a configuration reload replaces them.
    options: ArcSwap<Options>,
    pub id: String,
    pub name: String,
    /// `$G`, where clients land when no accounts are configured.
    pub global: Arc<Account>,
    pub accounts: Accounts,
    /// Users, tokens and nkeys; a configuration reload replaces them.
    auth: ArcSwap<Authenticator>,
    /// Decentralized JWT auth, when operators are configured.
    pub operator: Option<OperatorMode>,
    pub stats: ServerStats,
    /// The running MQTT listener's address and options.
    mqtt_listener: Mutex<Option<(SocketAddr, Arc<MqttOptions>)>>,
    /// The MQTT listener's TLS, which a reload may give a new certificate.
    pub(crate) mqtt_tls: Mutex<Option<Arc<crate::listener::TlsSlot>>>,
    pub started: SystemTime,
    clients: Mutex<HashMap<u64, Arc<dyn Connection>>>,
    next_cid: AtomicU64,
    /// Stopping and lame duck mode, shared with the listeners.
    pub lifecycle: Arc<Lifecycle>,
    client_addr: Mutex<Option<SocketAddr>>,
    http_addr: Mutex<Option<SocketAddr>>,
    websocket_addr: Mutex<Option<SocketAddr>>,
    /// The WebSocket options in force: the configured ones, replaced by those the
    /// listener was started with.
    websocket_opts: Mutex<Option<Arc<WebsocketOptions>>>,
    /// TLS for the NATS port, from `tls { }`; a reload replaces it (new
    /// connections get the new certificate, existing ones keep theirs).
    tls: arc_swap::ArcSwapOption<tokio_rustls::TlsAcceptor>,
    /// The WebSocket listener's TLS, which a reload replaces the same way.
    pub(crate) websocket_tls: Mutex<Option<Arc<crate::listener::TlsSlot>>>,
    /// The HTTPS monitoring port's TLS, which follows the NATS port's on reload.
    pub(crate) monitor_tls: Mutex<Option<Arc<crate::listener::TlsSlot>>>,
    /// Recently closed connections, newest last, for `/connz?state=closed`.
    closed: Mutex<VecDeque<ConnRecord>>,
    started_at: Instant,
    /// JetStream, when enabled (`-js`, `jetstream {}`).
    jetstream: std::sync::OnceLock<Arc<crate::jetstream::JetStream>>,
    /// When the configuration in force was loaded (start or last reload).
    pub config_load_time: Mutex<SystemTime>,
    /// Counts reloads, so readers notice new limits with one atomic load.
    config_generation: AtomicU64,
}

/// A started server: where it listens and how to stop it.
pub struct RunningServer {
    pub server: Arc<Server>,
    pub addr: SocketAddr,
    pub accept_task: tokio::task::JoinHandle<()>,
}

impl RunningServer {
    /// Resolves when the server has fully stopped.
    pub async fn wait(self) {
        let _ = self.accept_task.await;
    }
}

impl Server {
    /// Builds a server from options; fails on an inconsistent account or
    /// user setup (unknown accounts, imports without exports …).
    pub fn new(opts: Options) -> anyhow::Result<Arc<Self>> {
        let id = new_server_id();
        let name = opts.server_name.clone().unwrap_or_else(|| id.clone());
        let accounts = Accounts::from_options(&opts)?;
        let auth = Authenticator::new(&opts, &accounts).map_err(|e| anyhow::anyhow!(e))?;
        let operator = OperatorMode::from_options(&opts).map_err(|e| anyhow::anyhow!(e))?;
        if let Some(op) = &operator {
            // Preloaded accounts (the system account among them) are set up now.
            for (key, _) in &opts.resolver_preload {
                op.ensure_account(&accounts, key)
                    .map_err(|e| anyhow::anyhow!(e))?;
            }
        }
        let tls = match &opts.tls {
            Some(t) => Some(tokio_rustls::TlsAcceptor::from(
                crate::tls::server_config(t).map_err(|e| anyhow::anyhow!("TLS: {e}"))?,
            )),
            None => None,
        };
        let websocket_opts = opts.websocket.clone().map(Arc::new);
        Ok(Arc::new(Server {
            tls: arc_swap::ArcSwapOption::from(tls.map(Arc::new)),
            websocket_tls: Mutex::new(None),
            monitor_tls: Mutex::new(None),
            options: ArcSwap::from_pointee(opts),
            name,
            id,
            global: accounts.global.clone(),
            accounts,
            auth: ArcSwap::from_pointee(auth),
            operator,
            stats: ServerStats::default(),
            mqtt_listener: Mutex::new(None),
            mqtt_tls: Mutex::new(None),
            started: SystemTime::now(),
            clients: Mutex::new(HashMap::new()),
            next_cid: AtomicU64::new(0),
            lifecycle: Arc::default(),
            client_addr: Mutex::new(None),
            http_addr: Mutex::new(None),
            websocket_addr: Mutex::new(None),
            websocket_opts: Mutex::new(websocket_opts),
            closed: Mutex::new(VecDeque::new()),
            started_at: Instant::now(),
            jetstream: std::sync::OnceLock::new(),
            config_load_time: Mutex::new(SystemTime::now()),
            config_generation: AtomicU64::new(0),
        }))
    }

    /// Builds a server and starts what runs inside it before any listener
    /// does: the operator's claims service and JetStream.
    pub fn prepare(opts: Options) -> anyhow::Result<Arc<Self>> {
        let server = Server::new(opts)?;
        if server.operator.is_some() {
            ClaimsService::install(server.clone());
        }
        if server.opts().jetstream {
            server.enable_jetstream()?;
        }
        Ok(server)
    }

    /// Starts JetStream: recovers the streams of every account that has it,
    /// and answers `$JS.API` in every account (with an error where it is off).
    fn enable_jetstream(self: &Arc<Self>) -> anyhow::Result<()> {
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

    /// The options in force (replaced as a whole by a reload).
    pub fn opts(&self) -> Arc<Options> {
        self.options.load_full()
    }

    /// The users, tokens and nkeys in force.
    pub fn auth(&self) -> Arc<Authenticator> {
        self.auth.load_full()
    }

    /// Puts a reloaded NATS port certificate in force (`reload.rs`).
    pub(crate) fn replace_tls(&self, acceptor: tokio_rustls::TlsAcceptor) {
        self.tls.store(Some(Arc::new(acceptor)));
    }

    /// Puts reloaded options and users in force (`reload.rs`).
    pub(crate) fn replace_config(&self, opts: Arc<Options>, auth: Authenticator) {
        self.auth.store(Arc::new(auth));
        self.options.store(opts);
        self.config_generation.fetch_add(1, Ordering::Release);
    }

    /// Which configuration is in force (it changes with each reload).
    pub fn config_generation(&self) -> u64 {
        self.config_generation.load(Ordering::Acquire)
    }

    /// JetStream, when enabled.
    pub fn jetstream(&self) -> Option<&Arc<crate::jetstream::JetStream>> {
        self.jetstream.get()
    }

    pub fn uptime(&self) -> Duration {
        self.started_at.elapsed()
    }

    pub fn auth_required(&self) -> bool {
        self.operator.is_some() || self.auth().required()
    }

    /// Whether clients of this transport must CONNECT with credentials: the
    /// `websocket` block's own user, token or `no_auth_user` turn auth on for
    /// WebSocket clients even when the server has none, as in nats-server.
    pub fn auth_required_for(&self, transport: &str) -> bool {
        self.auth_required()
            || (transport == "websocket"
                && self.websocket_options().is_some_and(|ws| {
                    ws.username.is_some() || ws.token.is_some() || ws.no_auth_user.is_some()
                }))
    }

    /// How long clients of this transport have to CONNECT when auth is required: the
    /// `websocket { authorization { timeout } }` for WebSocket clients, `auth_timeout` otherwise.
    pub fn auth_timeout_for(&self, transport: &str) -> Duration {
        let ws = (transport == "websocket")
            .then(|| self.websocket_options().and_then(|w| w.auth_timeout))
            .flatten();
        ws.filter(|d| !d.is_zero()).unwrap_or(self.opts().auth_timeout)
    }

    /// The keep-alive PING interval for clients of this transport.
    pub fn ping_interval_for(&self, transport: &str) -> Duration {
        let ws = (transport == "websocket")
            .then(|| self.websocket_options().and_then(|w| w.ping_interval))
            .flatten();
        ws.filter(|d| !d.is_zero()).unwrap_or(self.opts().ping_interval)
    }

    /// Whether INFO carries a nonce for nkey or JWT signatures.
    pub fn needs_nonce(&self) -> bool {
        self.operator.is_some() || self.auth().needs_nonce()
    }

    /// Authenticates a CONNECT, whatever the method; `transport` is the
    /// connection type (`STANDARD`, `WEBSOCKET`, `MQTT`).
    pub fn authenticate(
        &self,
        connect: &ConnectOptions,
        nonce: &str,
        transport: &str,
    ) -> Result<Identity, AuthError> {
        if transport == "WEBSOCKET" {
            if let Some(ws) = self.websocket_options() {
                let own = ListenerCredentials {
                    username: ws.username.as_deref(),
                    password: ws.password.as_deref(),
                    token: ws.token.as_deref(),
                    no_auth_user: ws.no_auth_user.as_deref(),
                };
                if let Some(id) = self.listener_credentials(&own, connect, transport)? {
                    return Ok(id);
                }
            }
        }
        match &self.operator {
            Some(op) if connect.jwt.is_some() => {
                let id = op.authenticate(&self.accounts, connect, nonce, transport)?;
                self.jetstream_for_account(&id.account);
                if let Some(max) = op.max_connections(&id.account.name) {
                    let name = &id.account.name;
                    // The connection being authenticated is still counted in `$G`.
                    if self.clients_in(name).len() >= max {
                        return Err(AuthError::AccountConnections);
                    }
                }
                Ok(id)
            }
            Some(_) if !self.auth().required() => Err(AuthError::NoCredentials),
            _ => self.auth().authenticate(connect, nonce, transport),
        }
    }

    /// A listener's own `authorization { user, password | token }` and
    /// `no_auth_user` (`websocket {}`, `mqtt {}`), which apply to its clients
    /// only, as in nats-server. `Ok(None)` means they do not decide and the
    /// server-wide rules apply.
    pub(crate) fn listener_credentials(
        &self,
        own: &ListenerCredentials<'_>,
        connect: &ConnectOptions,
        transport: &str,
    ) -> Result<Option<Identity>, AuthError> {
        let anonymous = Identity::anonymous(self.global.clone());
        if let Some(token) = own.token {
            return match &connect.auth_token {
                Some(given) if crate::auth::secret_matches(token, given) => Ok(Some(anonymous)),
                _ => Err(AuthError::BadToken),
            };
        }
        if let Some(user) = own.username {
            let ok = connect.user.as_deref() == Some(user)
                && crate::auth::secret_matches(
                    own.password.unwrap_or(""),
                    connect.pass.as_deref().unwrap_or(""),
                );
            return if ok {
                Ok(Some(Identity {
                    user: user.to_string(),
                    ..anonymous
                }))
            } else {
                Err(AuthError::BadPassword(user.to_string()))
            };
        }
        let no_credentials = connect.user.is_none()
            && connect.auth_token.is_none()
            && connect.nkey.is_none()
            && connect.jwt.is_none();
        if let (Some(name), true) = (own.no_auth_user, no_credentials) {
            let as_user = ConnectOptions {
                user: Some(name.to_string()),
                ..connect.clone()
            };
            return self.auth().authenticate_as(&as_user, transport).map(Some);
        }
        Ok(None)
    }

    /// Disconnects clients of `account` whose user JWT is now revoked.
    pub fn enforce_revocations(&self, account: &str) {
        let Some(op) = &self.operator else { return };
        for client in self.clients_in(account) {
            if op.is_revoked(account, &client.user(), client.issued_at()) {
                client.revoke();
            }
        }
    }

    pub fn is_lame_duck(&self) -> bool {
        self.lifecycle.is_lame_duck()
    }

    pub fn num_clients(&self) -> usize {
        self.clients.lock().len()
    }

    pub fn clients(&self) -> Vec<Arc<dyn Connection>> {
        self.clients.lock().values().cloned().collect()
    }

    /// Open connections bound to the account called `account`.
    pub fn clients_in(&self, account: &str) -> Vec<Arc<dyn Connection>> {
        self.clients()
            .into_iter()
            .filter(|c| c.account().name == account)
            .collect()
    }

    pub(crate) fn register(&self, client: Arc<dyn Connection>) {
        self.clients.lock().insert(client.id(), client);
    }

    pub(crate) fn unregister(&self, client: &dyn Connection) {
        self.clients.lock().remove(&client.id());
        let max = self.opts().max_closed_clients;
        if max > 0 {
            let info = ConnRecord::of(client, true);
            let mut closed = self.closed.lock();
            if closed.len() >= max {
                closed.pop_front();
            }
            closed.push_back(info);
        }
    }

    /// Snapshots of recently closed connections.
    pub fn closed_connections(&self) -> Vec<ConnRecord> {
        self.closed.lock().iter().cloned().collect()
    }

    /// The port clients connect to (the bound one when `-p -1` was used).
    pub fn client_port(&self) -> u16 {
        self.client_addr.lock().map_or(self.opts().port, |a| a.port())
    }

    pub fn set_http_addr(&self, addr: SocketAddr) {
        *self.http_addr.lock() = Some(addr);
    }

    pub fn http_addr(&self) -> Option<SocketAddr> {
        *self.http_addr.lock()
    }

    /// Records the running WebSocket listener and the options it was started with.
    pub fn set_websocket(&self, addr: SocketAddr, opts: WebsocketOptions) {
        *self.websocket_opts.lock() = Some(Arc::new(opts));
        *self.websocket_addr.lock() = Some(addr);
    }

    pub fn websocket_addr(&self) -> Option<SocketAddr> {
        *self.websocket_addr.lock()
    }

    /// The WebSocket options in force.
    pub fn websocket_options(&self) -> Option<Arc<WebsocketOptions>> {
        self.websocket_opts.lock().clone()
    }

    /// Records the running MQTT listener and the options it was started with.
    pub fn set_mqtt_listener(&self, addr: SocketAddr, opts: MqttOptions) {
        *self.mqtt_listener.lock() = Some((addr, Arc::new(opts)));
    }

    /// The running MQTT listener's address and options.
    pub fn mqtt_listener(&self) -> Option<(SocketAddr, Arc<MqttOptions>)> {
        self.mqtt_listener.lock().clone()
    }

    /// The MQTT options in force, when the MQTT listener runs.
    pub fn mqtt_options(&self) -> Option<Arc<MqttOptions>> {
        self.mqtt_listener().map(|(_, o)| o)
    }

    /// A reload's `mqtt {}` block, already checked to change only what may
    /// change (see `reload::fixed_options`): subscriptions made from now on
    /// take the new `ack_wait`, `max_ack_pending` and
    /// `consumer_inactive_threshold`; new connections get `tls`, the
    /// certificate already loaded by the caller.
    pub(crate) fn reload_mqtt(&self, new: &MqttOptions, tls: Option<tokio_rustls::TlsAcceptor>) {
        if let Some((_, opts)) = self.mqtt_listener.lock().as_mut() {
            *opts = Arc::new(new.clone());
        }
        if let (Some(acceptor), Some(slot)) = (tls, self.mqtt_tls.lock().clone()) {
            slot.acceptor.store(Arc::new(acceptor));
        }
    }

    /// The running WebSocket listener's address and options.
    pub fn websocket_listener(&self) -> Option<(SocketAddr, Arc<WebsocketOptions>)> {
        self.websocket_addr().zip(self.websocket_options())
    }

    /// Resolves once the server has been told to stop.
    pub async fn stopped(&self) {
        self.lifecycle.stopped().await
    }

    /// INFO's fields common to every client of this server.
    pub fn base_info(&self) -> ServerInfo {
        let addr = *self.client_addr.lock();
        ServerInfo {
            server_id: self.id.clone(),
            server_name: self.name.clone(),
            version: NATS_COMPAT_VERSION.to_string(),
            proto: 1,
            go: format!("junction {}", env!("CARGO_PKG_VERSION")),
            host: self.opts().host.clone(),
            port: addr.map_or(self.opts().port, |a| a.port()),
            headers: true,
            auth_required: self.auth_required(),
            max_payload: self.opts().max_payload,
            jetstream: self.jetstream.get().is_some(),
            connect_urls: self.opts().client_advertise.iter().cloned().collect(),
            ldm: self.is_lame_duck(),
            ..ServerInfo::default()
        }
    }

    /// A new connection id, counted in `total_connections`.
    pub(crate) fn next_client_id(&self) -> u64 {
        self.stats.total_connections.fetch_add(1, Ordering::Relaxed);
        self.next_cid.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Whether another client would pass `max_connections`.
    pub(crate) fn at_max_connections(&self) -> bool {
        self.num_clients() >= self.opts().max_connections
    }

    /// Closes every client connection.
    pub fn close_all(&self, reason: CloseReason) {
        for client in self.clients() {
            client.close(reason);
        }
    }

    /// Stops accepting and closes every connection.
    pub fn shutdown(&self) {
        self.lifecycle.stop();
    }

    /// The NATS port's TLS, when it has one.
    pub(crate) fn tls_acceptor(&self) -> Option<Arc<tokio_rustls::TlsAcceptor>> {
        self.tls.load_full()
    }

    /// Records where the client port listens (its port may have been chosen
    /// by the system, `-p -1`).
    pub(crate) fn set_client_addr(&self, addr: SocketAddr) {
        *self.client_addr.lock() = Some(addr);
    }

    /// Enters lame duck mode: stop accepting, tell clients (`ldm` in INFO)
    /// so they reconnect elsewhere, then close them gradually over
    /// `lame_duck_duration` after `lame_duck_grace_period`, then stop.
    pub async fn lame_duck(self: Arc<Self>) {
        if !self.lifecycle.enter_lame_duck() {
            return;
        }
        tracing::info!("Entering lame duck mode, stop accepting new clients");
        for client in self.clients() {
            client.lame_duck();
        }
        let grace = self.opts().lame_duck_grace_period;
        let duration = self.opts().lame_duck_duration.saturating_sub(grace);
        tokio::time::sleep(grace).await;
        let clients = self.clients();
        if !clients.is_empty() {
            let pause = duration / clients.len() as u32;
            for client in clients {
                client.close(CloseReason::ServerShutdown);
                tokio::time::sleep(pause.min(Duration::from_secs(1))).await;
            }
        }
        self.shutdown();
    }

    /// Waits until every connection has gone after a shutdown.
    pub async fn wait_closed(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        while self.num_clients() > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if let Some(js) = self.jetstream() {
            js.flush_all();
        }
    }
}

impl ClaimsHost for Server {
    fn operator(&self) -> Option<&OperatorMode> {
        self.operator.as_ref()
    }

    fn accounts(&self) -> &Accounts {
        &self.accounts
    }

    fn identity(&self) -> (&str, &str) {
        (&self.name, &self.id)
    }

    fn claims_updated(&self, account: &str) {
        self.enforce_revocations(account);
        self.jetstream_claims_updated(account);
    }
}

/// A listener's own credentials (see `Server::listener_credentials`).
pub struct ListenerCredentials<'a> {
    pub username: Option<&'a str>,
    pub password: Option<&'a str>,
    pub token: Option<&'a str>,
    pub no_auth_user: Option<&'a str>,
}

/// A server id shaped like nats-server's: 56 base32 characters starting
/// with `N`, the prefix of a server nkey.
fn new_server_id() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut rng = rand::thread_rng();
    let mut id = String::with_capacity(56);
    id.push('N');
    for _ in 0..55 {
        id.push(ALPHABET[rng.gen_range(0..ALPHABET.len())] as char);
    }
    id
}
