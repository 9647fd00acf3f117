//! The server: what every listener and connection shares — the options in
//! force, accounts and authentication, the registry of connections, JetStream
//! — and its lifecycle (shutdown, lame duck mode). It knows no protocol: the
//! NATS, WebSocket and MQTT listeners (`nats`, `websocket`, `mqtt`) and
//! monitoring stand on it.
//!
//! Its parts, each an `impl Server` of its own: `auth`, `clients`,
//! `listeners` and `jetstream`.

mod auth;
mod clients;
mod jetstream;
pub(crate) mod listeners;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwap;
use parking_lot::Mutex;

use crate::account::Account;
use crate::account::Accounts;
use crate::auth::Authenticator;
use crate::conn::{ConnRecord, Connection};
use crate::lifecycle::Lifecycle;
use crate::operator::{ClaimsService, OperatorMode};
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

/// Reads the configuration again, as SIGHUP has it read.
pub type Reloader = Box<dyn Fn() -> anyhow::Result<Options> + Send + Sync>;

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
    /// Connection settings by listener, made once per configuration and
    /// shared by its connections; emptied when the options change.
    client_settings: Mutex<Vec<(String, Arc<crate::conn::ClientSettings>)>>,
    /// The MQTT listener's TLS, which a reload may give a new certificate.
    pub(crate) mqtt_tls: Mutex<Option<Arc<crate::listener::TlsSlot>>>,
    pub started: SystemTime,
    /// Its routes to other servers, once the cluster has started (weak:
    /// the cluster holds the server).
    links: std::sync::OnceLock<std::sync::Weak<dyn crate::conn::Links>>,
    /// Its leaf node connections, once started (weak, as `links`).
    leaf_links: std::sync::OnceLock<std::sync::Weak<dyn crate::conn::LeafLinks>>,
    /// Reads the configuration again (from the file and flags it was
    /// started with), for a reload asked over the system account.
    reloader: std::sync::OnceLock<Reloader>,
    /// Its gateways to other clusters, once started (weak, as `links`).
    gateway_links: std::sync::OnceLock<std::sync::Weak<dyn crate::conn::GatewayLinks>>,
    /// Who hears of clients connecting and going (the system account's
    /// events), once installed.
    events: std::sync::OnceLock<std::sync::Weak<dyn crate::conn::ConnEvents>>,
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
}

impl Server {
    /// Registers the server's links to other servers (the cluster, once
    /// started).
    pub fn set_links(&self, links: std::sync::Weak<dyn crate::conn::Links>) {
        let _ = self.links.set(links);
    }

    /// Registers the server's leaf node connections.
    pub fn set_leaf_links(&self, links: std::sync::Weak<dyn crate::conn::LeafLinks>) {
        let _ = self.leaf_links.set(links);
    }

    /// Registers how the configuration is read again.
    pub fn set_reloader(&self, reloader: Reloader) {
        let _ = self.reloader.set(reloader);
    }

    /// How the configuration is read again, when the server was started
    /// from one.
    pub fn reloader(&self) -> Option<&Reloader> {
        self.reloader.get()
    }

    /// Registers the server's gateways.
    pub fn set_gateway_links(&self, links: std::sync::Weak<dyn crate::conn::GatewayLinks>) {
        let _ = self.gateway_links.set(links);
    }

    /// Its gateways, when `gateway {}` is configured.
    pub fn gateway_links(&self) -> Option<Arc<dyn crate::conn::GatewayLinks>> {
        self.gateway_links.get().and_then(std::sync::Weak::upgrade)
    }

    /// Its leaf node connections, when `leafnodes {}` is configured.
    pub fn leaf_links(&self) -> Option<Arc<dyn crate::conn::LeafLinks>> {
        self.leaf_links.get().and_then(std::sync::Weak::upgrade)
    }

    /// Registers who hears of clients connecting and going.
    pub fn set_events(&self, events: std::sync::Weak<dyn crate::conn::ConnEvents>) {
        let _ = self.events.set(events);
    }

    pub(crate) fn events(&self) -> Option<Arc<dyn crate::conn::ConnEvents>> {
        self.events.get().and_then(std::sync::Weak::upgrade)
    }

    /// Its links to other servers, when it is part of a cluster.
    pub fn links(&self) -> Option<Arc<dyn crate::conn::Links>> {
        self.links.get().and_then(std::sync::Weak::upgrade)
    }

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
            client_settings: Mutex::new(Vec::new()),
            mqtt_tls: Mutex::new(None),
            started: SystemTime::now(),
            links: std::sync::OnceLock::new(),
            events: std::sync::OnceLock::new(),
            leaf_links: std::sync::OnceLock::new(),
            gateway_links: std::sync::OnceLock::new(),
            reloader: std::sync::OnceLock::new(),
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
        self.client_settings.lock().clear();
    }

    pub fn uptime(&self) -> Duration {
        self.started_at.elapsed()
    }

    pub fn is_lame_duck(&self) -> bool {
        self.lifecycle.is_lame_duck()
    }

    /// Resolves once the server has been told to stop.
    pub async fn stopped(&self) {
        self.lifecycle.stopped().await
    }

    /// Stops accepting and closes every connection.
    pub fn shutdown(&self) {
        if !self.lifecycle.is_stopped() {
            if let Some(events) = self.events() {
                events.going_away(false);
            }
        }
        self.lifecycle.stop();
    }
}

/// A server id shaped like nats-server's: 56 base32 characters starting
/// with `N`, the prefix of a server nkey.
pub(crate) fn new_server_id() -> String {
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
