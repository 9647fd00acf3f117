//! Gateways: this cluster's links to the other clusters of a supercluster,
//! in the protocol nats-server speaks between gateways.
//!
//! Every server keeps one connection to each other cluster, to one of its
//! servers (outbound), and accepts connections from the other clusters'
//! servers (inbound). Messages go out on outbound connections only; the
//! interest that decides which go out comes back on inbound ones. Each
//! server tells the servers connected to it of the interest of its whole
//! cluster, per account, and sends every account in interest-only mode at
//! once (nats-server 2.9's `gateway_iom`): a command, all the account's
//! interest, a command. Queue groups are announced always, with weight 1;
//! a queue group's message crosses only when no member in the cluster can
//! take it.
//!
//! A request that crosses soon after its requester subscribed has its
//! reply mapped to the requester's server (`_GR_.<cluster>.<server>.`, see
//! `mapped_reply`), so the answer finds its way back before that interest
//! has spread.

mod conn;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use tokio::net::TcpListener;

pub use crate::mapped_reply::hash;
pub use conn::Gateway;

use crate::account::{Account, InterestChange};
use crate::mapped_reply;
use crate::message::Message;
use crate::options::GatewayOptions;
use crate::route::RouteUrl;
use crate::server::Server;

/// How long after start the configured gateways are dialled, so that the
/// cluster forms first and its gateway URLs are known (nats-server's).
const SOLICIT_DELAY: Duration = Duration::from_secs(1);
/// Wait between attempts to reach a gateway.
const RECONNECT_DELAY: Duration = Duration::from_secs(1);
/// The longest wait between attempts with `connect_backoff`.
const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(30);
/// How long a subscription counts as recent: a request whose reply it
/// matches has its reply mapped (nats-server's `recSubExp`).
const RECENT_SUB: Duration = Duration::from_secs(2);

/// Another cluster's gateway, configured or learnt.
struct Remote {
    /// URLs to reach its servers: configured, then announced.
    urls: Vec<RouteUrl>,
    /// Learnt from a peer, not configured.
    implicit: bool,
    /// TLS to dial it with: its own `tls {}`, else the gateway's.
    tls: Option<Dialer>,
    /// The name its certificates are checked against when it is dialled by
    /// address (a URL it announced): the host of a configured URL, as
    /// nats-server does.
    tls_name: Option<String>,
}

/// The client side of TLS toward another cluster.
#[derive(Clone)]
struct Dialer {
    connector: tokio_rustls::TlsConnector,
    timeout: Duration,
}

impl Dialer {
    fn new(options: &crate::tls::TlsOptions) -> anyhow::Result<Dialer> {
        Ok(Dialer {
            connector: tokio_rustls::TlsConnector::from(
                crate::tls::remote_client_config(options).context("gateway tls")?,
            ),
            timeout: options.timeout,
        })
    }

    /// The handshake with the server at `url`, checked against its host,
    /// or against `name` when the URL is an address.
    async fn connect(
        &self,
        url: &RouteUrl,
        name: Option<String>,
        stream: tokio::net::TcpStream,
    ) -> anyhow::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
        let host = match (url.host.parse::<std::net::IpAddr>(), name) {
            (Ok(_), Some(name)) => name,
            _ => url.host.clone(),
        };
        let name = rustls::pki_types::ServerName::try_from(host)?;
        Ok(tokio::time::timeout(self.timeout, self.connector.connect(name, stream)).await??)
    }
}

/// This server's gateways.
pub struct Gateways {
    me: Weak<Gateways>,
    server: Arc<Server>,
    options: GatewayOptions,
    /// This cluster's gateway name and its hash in mapped replies.
    name: String,
    hash: String,
    /// This server's id's hash in mapped replies.
    server_hash: String,
    /// `_GR_.<cluster>.<server>.`: how this server maps replies.
    reply_prefix: Vec<u8>,
    pub addr: SocketAddr,
    /// This server's gateway URL (`host:port`).
    url: String,
    /// The gateway URLs of this cluster's servers, this one's first.
    cluster_urls: Mutex<Vec<String>>,
    remotes: Mutex<HashMap<String, Remote>>,
    /// `tls {}`: accepted gateways do TLS first, and gateways are dialled
    /// with it unless their own says otherwise.
    tls: Option<(tokio_rustls::TlsAcceptor, Dialer)>,
    /// One connection to each other cluster, by its name.
    outbound: RwLock<HashMap<String, Arc<Gateway>>>,
    /// Connections from other clusters' servers.
    inbound: RwLock<Vec<Arc<Gateway>>>,
    /// Subscriptions of the last seconds, by account: a request whose reply
    /// matches one has its reply mapped.
    recent: Mutex<VecDeque<(Instant, String, Bytes)>>,
}

/// Starts accepting gateways and, a moment later, connecting to the
/// configured ones.
pub async fn start(server: Arc<Server>, options: &GatewayOptions) -> anyhow::Result<Arc<Gateways>> {
    let bind = format!("{}:{}", options.host, options.port);
    let listener = TcpListener::bind(&bind)
        .await
        .with_context(|| format!("listening for gateways on {bind}"))?;
    let addr = listener.local_addr()?;
    let url = crate::server::listeners::urls_of(options.advertise.clone(), Some(addr))
        .into_iter()
        .next()
        .unwrap_or_else(|| addr.to_string());
    let tls = match &options.tls {
        Some(t) => Some((
            tokio_rustls::TlsAcceptor::from(crate::tls::server_config(t).context("gateway tls")?),
            Dialer::new(t)?,
        )),
        None => None,
    };
    let mut remotes = HashMap::new();
    for remote in options.gateways.iter().filter(|g| g.name != options.name) {
        let urls = remote
            .urls
            .iter()
            .map(|u| RouteUrl::parse(u).map_err(|e| anyhow::anyhow!("gateway {} url {u}: {e}", remote.name)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let tls = match &remote.tls {
            Some(t) => Some(Dialer::new(t)?),
            None => tls.as_ref().map(|(_, d)| d.clone()),
        };
        let tls_name = urls
            .iter()
            .map(|u| u.host.clone())
            .find(|h| h.parse::<std::net::IpAddr>().is_err());
        remotes.insert(
            remote.name.clone(),
            Remote {
                urls,
                implicit: false,
                tls,
                tls_name,
            },
        );
    }
    let gateways = Arc::new_cyclic(|me| Gateways {
        me: me.clone(),
        reply_prefix: mapped_reply::prefix(&options.name, &server.id),
        hash: mapped_reply::hash(&options.name),
        server_hash: mapped_reply::hash(&server.id),
        name: options.name.clone(),
        server: server.clone(),
        options: options.clone(),
        addr,
        cluster_urls: Mutex::new(vec![url.clone()]),
        url,
        remotes: Mutex::new(remotes),
        tls,
        outbound: RwLock::new(HashMap::new()),
        inbound: RwLock::new(Vec::new()),
        recent: Mutex::new(VecDeque::new()),
    });
    let links: Weak<dyn crate::conn::GatewayLinks> = Arc::downgrade(&gateways) as Weak<Gateways>;
    server.set_gateway_links(links);
    let weak = Arc::downgrade(&gateways);
    server.accounts.on_interest_everywhere(Arc::new(
        move |account: &Account, change: &InterestChange<'_>| {
            if let Some(gateways) = weak.upgrade() {
                gateways.interest_changed(account, change);
            }
        },
    ));
    tracing::info!("Gateway name is {}", gateways.name);
    tracing::info!("Listening for gateways connections on {addr}");
    tokio::spawn(crate::conn::accept_peers(
        Arc::downgrade(&gateways),
        server.lifecycle.clone(),
        listener,
        "gateway",
        |gateways, stream, peer| {
            tokio::spawn(conn::accepted(gateways, stream, peer));
        },
    ));
    let weak = Arc::downgrade(&gateways);
    tokio::spawn(async move {
        let lifecycle = server.lifecycle.clone();
        tokio::select! {
            () = tokio::time::sleep(SOLICIT_DELAY) => {}
            () = lifecycle.stopped() => return,
        }
        let Some(g) = weak.upgrade() else { return };
        let names: Vec<String> = g.remotes.lock().keys().cloned().collect();
        for name in names {
            g.dial(name);
        }
        drop(g);
        lifecycle.stopped().await;
        if let Some(g) = weak.upgrade() {
            for gw in g.all() {
                gw.close_for_shutdown();
            }
        }
    });
    Ok(gateways)
}

impl Gateways {
    /// Keeps a connection to the gateway `name` while this server runs;
    /// one learnt from a peer is given up after `connect_retries` failed
    /// attempts, unless that cluster connected to this one.
    fn dial(&self, name: String) {
        let weak = self.me.clone();
        tokio::spawn(async move {
            let mut failures = 0u32;
            let mut delay = RECONNECT_DELAY;
            loop {
                let Some(g) = weak.upgrade() else { return };
                if g.server.lifecycle.is_stopped() {
                    return;
                }
                let (url, implicit, tls) = {
                    let remotes = g.remotes.lock();
                    let Some(remote) = remotes.get(&name) else { return };
                    let Some(url) = pick_url(&remote.urls) else { return };
                    (
                        url,
                        remote.implicit,
                        remote.tls.clone().map(|d| (d, remote.tls_name.clone())),
                    )
                };
                match tokio::net::TcpStream::connect(url.address()).await {
                    Ok(stream) => {
                        failures = 0;
                        let _ = stream.set_nodelay(true);
                        let remote = stream.peer_addr().unwrap_or(g.addr);
                        match tls {
                            None => conn::solicited(g.clone(), name.clone(), url, remote, stream).await,
                            Some((dialer, tls_name)) => match dialer.connect(&url, tls_name, stream).await {
                                Ok(stream) => {
                                    conn::solicited(g.clone(), name.clone(), url, remote, stream).await
                                }
                                Err(e) => {
                                    tracing::warn!("gateway {name:?} TLS handshake with {url} failed: {e}")
                                }
                            },
                        }
                    }
                    Err(e) => {
                        tracing::debug!("connecting to gateway {name:?} at {url}: {e}");
                        failures += 1;
                        if implicit && failures > g.options.connect_retries && !g.has_inbound_from(&name) {
                            g.remotes.lock().remove(&name);
                            return;
                        }
                    }
                }
                let backoff = g.options.connect_backoff;
                drop(g);
                let jitter = Duration::from_millis(rand::random::<u64>() % 100);
                tokio::time::sleep(delay + jitter).await;
                // `connect_backoff`: twice as long after each failure, up
                // to 30 s.
                delay = if backoff && failures > 0 {
                    (delay * 2).min(MAX_RECONNECT_DELAY)
                } else {
                    RECONNECT_DELAY
                };
            }
        });
    }

    /// Learns of the gateway `name` at `urls`: a new one is dialled; a
    /// known one gains the URLs it did not have.
    fn learn(&self, name: &str, urls: &[String]) {
        if name == self.name {
            return;
        }
        let parsed: Vec<RouteUrl> = urls
            .iter()
            .filter_map(|u| RouteUrl::parse(&format!("nats://{}", u.trim_start_matches("nats://"))).ok())
            .collect();
        let mut remotes = self.remotes.lock();
        if let Some(remote) = remotes.get_mut(name) {
            for url in parsed {
                if !remote.urls.iter().any(|u| u.address() == url.address()) {
                    remote.urls.push(url);
                }
            }
            return;
        }
        if parsed.is_empty() || (self.options.reject_unknown) {
            return;
        }
        remotes.insert(
            name.to_string(),
            Remote {
                urls: parsed,
                implicit: true,
                tls: self.tls.as_ref().map(|(_, d)| d.clone()),
                tls_name: None,
            },
        );
        drop(remotes);
        tracing::debug!("connecting to gateway {name:?} learnt from a peer");
        self.dial(name.to_string());
    }

    /// Whether a server of the cluster `name` is connected to this one.
    fn has_inbound_from(&self, name: &str) -> bool {
        self.inbound
            .read()
            .iter()
            .any(|g| g.remote_gateway() == Some(name))
    }

    /// Every gateway connection open now.
    fn all(&self) -> Vec<Arc<Gateway>> {
        let mut all: Vec<_> = self.outbound.read().values().cloned().collect();
        all.extend(self.inbound.read().iter().cloned());
        all
    }

    /// Takes an outbound connection whose handshake is done; false when
    /// one to that cluster is up already.
    fn register_outbound(&self, name: &str, gateway: &Arc<Gateway>) -> bool {
        let mut outbound = self.outbound.write();
        if outbound.contains_key(name) {
            return false;
        }
        outbound.insert(name.to_string(), gateway.clone());
        true
    }

    /// Takes an inbound connection: from now on it hears of interest
    /// changes. Then tells it of all queue groups and switches every
    /// account to interest-only mode, sending its interest.
    fn register_inbound(&self, gateway: &Arc<Gateway>) {
        self.inbound.write().push(gateway.clone());
        for account in self.server.accounts.all() {
            gateway.send_all_interest(&self.name, &account);
        }
        gateway.ready();
    }

    /// Forgets a connection that closed.
    fn remove(&self, gateway: &Gateway) {
        self.outbound
            .write()
            .retain(|_, g| !std::ptr::eq(g.as_ref(), gateway));
        self.inbound
            .write()
            .retain(|g| !std::ptr::eq(g.as_ref(), gateway));
    }

    /// Tells the inbound connections of a change in this cluster's interest.
    fn interest_changed(&self, account: &Account, change: &InterestChange<'_>) {
        // One hop: another cluster's interest is not told to the others.
        if change.other_cluster {
            return;
        }
        let first = change.added && change.total == 1;
        let last = !change.added && change.total == 0;
        if change.added {
            self.note_recent(&account.name, change.subject);
        }
        if !first && !last {
            return;
        }
        for gateway in self.inbound.read().iter() {
            gateway.send_interest(&self.name, &account.name, change.subject, change.queue, first);
        }
    }

    fn note_recent(&self, account: &str, subject: &[u8]) {
        let now = Instant::now();
        let mut recent = self.recent.lock();
        while recent
            .front()
            .is_some_and(|(at, _, _)| now.duration_since(*at) >= RECENT_SUB)
        {
            recent.pop_front();
        }
        recent.push_back((now, account.to_string(), Bytes::copy_from_slice(subject)));
    }

    /// Whether a request's `reply` must be mapped to this server: a
    /// subscription matching it came in the last seconds, and its interest
    /// may not have reached the other clusters yet.
    fn maps_reply(&self, account: &[u8], reply: &[u8]) -> bool {
        let now = Instant::now();
        let mut recent = self.recent.lock();
        while recent
            .front()
            .is_some_and(|(at, _, _)| now.duration_since(*at) >= RECENT_SUB)
        {
            recent.pop_front();
        }
        recent
            .iter()
            .any(|(_, a, subject)| a.as_bytes() == account && crate::permissions::covers(subject, reply))
    }

    /// A message with a mapped reply arrived (over a gateway or a route):
    /// this server's clients answer its plain reply, which goes back to
    /// the mapping cluster through the outbound connection to it.
    fn routed_reply(&self, account: &Arc<Account>, routed: mapped_reply::Routed<'_>, full: &[u8]) {
        account.track_gateway_reply(routed.plain, full);
        let outbound = self.outbound.read();
        if let Some(gateway) = outbound
            .values()
            .find(|g| g.remote_hash() == Some(routed.cluster))
        {
            gateway.expect_answers(account, routed.cluster);
        }
    }

    /// A message whose subject is mapped to this cluster arrived from
    /// another cluster: to its server (over a route), or here.
    fn unmap_subject<'a>(&self, routed: &mapped_reply::Routed<'a>) -> Option<&'a [u8]> {
        (routed.cluster == self.hash.as_bytes()).then_some(routed.plain)
    }

    /// This server's own mapped replies come back here.
    fn is_this_server(&self, server_hash: &[u8]) -> bool {
        self.server_hash.as_bytes() == server_hash
    }

    /// A mapped reply on a message from a route or a gateway: this
    /// server's clients see the plain reply, other servers of the cluster
    /// the mapped one, and answers go back to the mapping cluster.
    fn unmap_reply(&self, account: &Arc<Account>, msg: &mut Message<'_>) {
        if let Some(full) = msg.reply {
            if let Some(routed) = mapped_reply::parse(full) {
                msg.reply = Some(routed.plain);
                msg.routed_reply = Some(full);
                self.routed_reply(account, routed, full);
            }
        }
    }
}

/// The `INFO` that tells route peers of the gateway `name` at `urls`
/// (`gateway_cmd` 1), with an id that is not this server's, as
/// nats-server sends it.
fn gossip_line(server: &Server, name: String, urls: Vec<String>) -> Vec<u8> {
    let gossip = junction_nats::route::GatewayInfo {
        server_id: format!("GW{}", server.id),
        server_name: server.name.clone(),
        gateway: name,
        gateway_urls: urls,
        gateway_cmd: junction_nats::route::GATEWAY_CMD_GOSSIP,
        ..Default::default()
    };
    let mut line = b"INFO ".to_vec();
    // Plain strings and numbers: serializing cannot fail.
    let _ = serde_json::to_writer(&mut line, &gossip);
    line.extend_from_slice(b"\r\n");
    line
}

/// One of `urls`, at random, as nats-server picks.
fn pick_url(urls: &[RouteUrl]) -> Option<RouteUrl> {
    if urls.is_empty() {
        return None;
    }
    Some(urls[rand::random::<usize>() % urls.len()].clone())
}

impl crate::conn::GatewayLinks for Gateways {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn listen_addr(&self) -> SocketAddr {
        self.addr
    }

    fn url(&self) -> String {
        self.url.clone()
    }

    fn cluster_urls(&self) -> Vec<String> {
        self.cluster_urls.lock().clone()
    }

    fn remotes(&self) -> Vec<(String, Vec<String>, bool)> {
        let mut list: Vec<_> = self
            .remotes
            .lock()
            .iter()
            .map(|(name, r)| {
                let urls = r.urls.iter().map(|u| u.address()).collect();
                (name.clone(), urls, r.implicit)
            })
            .collect();
        list.sort();
        list
    }

    fn connections(&self) -> Vec<crate::conn::GatewayView> {
        self.all().iter().map(|g| g.view()).collect()
    }

    fn gossip_lines(&self) -> Vec<Vec<u8>> {
        let names: Vec<String> = self.outbound.read().keys().cloned().collect();
        let remotes = self.remotes.lock();
        names
            .into_iter()
            .filter_map(|name| {
                let urls = remotes.get(&name)?.urls.iter().map(|u| u.address()).collect();
                Some(gossip_line(&self.server, name, urls))
            })
            .collect()
    }

    fn peer_url(&self, url: &str) {
        {
            let mut urls = self.cluster_urls.lock();
            if urls.iter().any(|u| u == url) {
                return;
            }
            urls.push(url.to_string());
        }
        // The other clusters' servers connected here learn of this
        // cluster's new server (an INFO with the new `gateway_urls`), so
        // they can move to it, as nats-server tells them.
        let inbound: Vec<_> = self.inbound.read().clone();
        for gateway in inbound {
            gateway.send_own_info(self);
        }
    }

    fn gossiped(&self, name: &str, urls: &[String]) {
        self.learn(name, urls);
    }

    fn admit_routed<'a>(&self, account: &Arc<Account>, msg: &mut Message<'a>) -> bool {
        if let Some(routed) = mapped_reply::parse(msg.routing_subject()) {
            match self.unmap_subject(&routed) {
                Some(plain) => msg.set_routing_subject(plain),
                None => return false,
            }
        }
        self.unmap_reply(account, msg);
        true
    }
}
