//! Cluster routes: this server's links to the other servers of its
//! cluster, in the protocol nats-server speaks to a peer without a
//! connection pool (see `junction_nats::route`).
//!
//! Every server of a cluster connects to every other (a full mesh). Each
//! tells its peers of its own interest, per account: the first
//! subscription to a subject or queue group and the last one going (`RS+`
//! and `RS-`, a queue group with its member count). A peer's interest is a
//! subscription in the account here, of kind `Route`: the router sends a
//! message that matches it to that peer once (`RMSG`), and the peer
//! delivers it to its own subscribers only. What arrives on a route never
//! leaves on another (one hop).

mod conn;
mod url;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::time::Duration;

use anyhow::Context as _;
use parking_lot::{Mutex, RwLock};
use tokio::net::TcpListener;

pub use conn::Route;
pub use url::RouteUrl;

use crate::account::{Account, InterestChange};
use crate::options::ClusterOptions;
use crate::server::Server;

/// The cluster as this server takes part in it.
pub struct Cluster {
    me: Weak<Cluster>,
    server: Arc<Server>,
    /// The `cluster {}` options in force; a reload may change the routes,
    /// their credentials and what is advertised.
    options: arc_swap::ArcSwap<ClusterOptions>,
    /// The cluster's name: configured, or one this server made up.
    name: String,
    /// The address routes are accepted on.
    pub addr: SocketAddr,
    /// Routes whose handshake is done, one per peer server.
    routes: RwLock<Vec<Arc<Route>>>,
    /// Servers learnt by gossip that are being dialled.
    dialing: Mutex<HashSet<String>>,
    /// `cluster { tls {} }`: routes are TLS both ways.
    tls: Option<RouteTls>,
}

/// TLS for routes: this server accepts as a TLS server and dials as a TLS
/// client, presenting the same certificate both ways.
struct RouteTls {
    acceptor: tokio_rustls::TlsAcceptor,
    connector: tokio_rustls::TlsConnector,
    timeout: Duration,
    /// The name to check a peer's certificate against when it is dialled
    /// by address (learnt by gossip): the host of a configured route, as
    /// nats-server does.
    name: Option<String>,
}

impl RouteTls {
    fn new(options: &ClusterOptions) -> anyhow::Result<Option<RouteTls>> {
        let Some(tls) = &options.tls else { return Ok(None) };
        let name = options
            .routes
            .iter()
            .filter_map(|u| RouteUrl::parse(u).ok())
            .map(|u| u.host)
            .find(|h| h.parse::<std::net::IpAddr>().is_err());
        Ok(Some(RouteTls {
            acceptor: tokio_rustls::TlsAcceptor::from(crate::tls::server_config(tls).context("cluster tls")?),
            connector: tokio_rustls::TlsConnector::from(
                crate::tls::client_config(tls).context("cluster tls")?,
            ),
            timeout: tls.timeout,
            name,
        }))
    }

    /// The client side of the handshake with the peer at `url`.
    async fn connect(
        &self,
        url: &RouteUrl,
        stream: tokio::net::TcpStream,
    ) -> anyhow::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
        let host = match (url.host.parse::<std::net::IpAddr>(), &self.name) {
            (Ok(_), Some(name)) => name.clone(),
            _ => url.host.clone(),
        };
        let name = rustls::pki_types::ServerName::try_from(host)?;
        Ok(tokio::time::timeout(self.timeout, self.connector.connect(name, stream)).await??)
    }
}

/// Starts accepting routes and connecting to the configured ones.
pub async fn start(server: Arc<Server>, options: &ClusterOptions) -> anyhow::Result<Arc<Cluster>> {
    let tls = RouteTls::new(options)?;
    let bind = format!("{}:{}", options.host, options.port);
    let listener = TcpListener::bind(&bind)
        .await
        .with_context(|| format!("listening for routes on {bind}"))?;
    let addr = listener.local_addr()?;
    let name = options
        .name
        .clone()
        .unwrap_or_else(|| crate::server::new_server_id()[..22].to_string());
    let cluster = Arc::new_cyclic(|me| Cluster {
        me: me.clone(),
        server: server.clone(),
        options: arc_swap::ArcSwap::from_pointee(options.clone()),
        name,
        addr,
        routes: RwLock::new(Vec::new()),
        dialing: Mutex::new(HashSet::new()),
        tls,
    });
    let links: Weak<dyn crate::conn::Links> = Arc::downgrade(&cluster) as Weak<Cluster>;
    server.set_links(links);
    let weak = Arc::downgrade(&cluster);
    server.accounts.on_interest_everywhere(Arc::new(
        move |account: &Account, change: &InterestChange<'_>| {
            if !change.is_announced() {
                return;
            }
            if let Some(cluster) = weak.upgrade() {
                for route in cluster.routes.read().iter() {
                    route.send_interest(&account.name, change.subject, change.queue, change.count);
                }
            }
        },
    ));
    tracing::info!("Listening for route connections on {addr}");
    tokio::spawn(crate::conn::accept_peers(
        Arc::downgrade(&cluster),
        server.lifecycle.clone(),
        listener,
        "route",
        |cluster, stream, peer| {
            tokio::spawn(conn::accepted(cluster, stream, peer));
        },
    ));
    // When the server stops, its routes close at once, so peers drop its
    // interest and client URLs without waiting for PINGs to go unanswered.
    let weak = Arc::downgrade(&cluster);
    tokio::spawn(async move {
        server.lifecycle.stopped().await;
        if let Some(cluster) = weak.upgrade() {
            for route in cluster.routes() {
                route.close_unconfigured();
            }
        }
    });
    for url in &options.routes {
        cluster.dial_configured(url);
    }
    Ok(cluster)
}

/// A peer told of a server this one has no route to: dial it, once.
fn implicit_route(cluster: &Arc<Cluster>, info: &junction_nats::route::RouteInfo) {
    if info.server_id == cluster.server.id || cluster.has_route_to(&info.server_id) {
        return;
    }
    if !cluster.dialing.lock().insert(info.server_id.clone()) {
        return;
    }
    let url = match RouteUrl::parse(&info.ip) {
        Ok(mut url) => {
            if info.auth_required {
                let options = cluster.options();
                url.user = options.auth.username.clone();
                url.password = options.auth.password.clone();
            }
            url
        }
        Err(e) => {
            tracing::debug!("gossiped route {:?}: {e}", info.ip);
            cluster.dialing.lock().remove(&info.server_id);
            return;
        }
    };
    tracing::debug!("connecting to {} ({}) learnt by gossip", info.server_name, url);
    let weak = Arc::downgrade(cluster);
    let id = info.server_id.clone();
    tokio::spawn(async move {
        conn::solicit(weak.clone(), url, None).await;
        if let Some(c) = weak.upgrade() {
            c.dialing.lock().remove(&id);
        }
    });
}

impl crate::conn::Links for Cluster {
    fn cluster_name(&self) -> String {
        self.name.clone()
    }

    fn listen_port(&self) -> u16 {
        self.addr.port()
    }

    fn routes(&self, with_subs: bool) -> Vec<crate::conn::RouteView> {
        self.routes.read().iter().map(|r| r.view(with_subs)).collect()
    }

    fn lame_duck(&self) {
        for route in self.routes.read().iter() {
            route.send_lame_duck(self);
        }
    }

    fn info_changed(&self) {
        for route in self.routes.read().iter() {
            route.send_own_info(self);
        }
    }

    fn reload(&self, options: &ClusterOptions) {
        let old = self.options();
        self.options.store(Arc::new(options.clone()));
        // Routes no longer configured are closed (their dialers stop too).
        for route in self.routes.read().iter() {
            if route
                .configured_url()
                .is_some_and(|u| !options.routes.iter().any(|r| r == u))
            {
                route.close_unconfigured();
            }
        }
        for url in options.routes.iter().filter(|u| !old.routes.contains(u)) {
            self.dial_configured(url);
        }
        // Advertising may have changed.
        self.server.client_urls_changed();
    }

    fn forward_to(
        &self,
        server_hash: &[u8],
        account: &str,
        msg: &crate::message::Message<'_>,
        producer: &mut crate::outlet::Producer,
    ) -> bool {
        let routes = self.routes.read();
        let Some(route) = routes.iter().find(|r| r.server_hash() == server_hash) else {
            return false;
        };
        route.forward(account, msg, producer);
        true
    }

    fn broadcast(&self, line: &[u8]) {
        for route in self.routes.read().iter() {
            route.send_proto(line);
        }
    }

    fn peer_leaf_urls(&self) -> Vec<String> {
        let mut urls = Vec::new();
        for route in self.routes.read().iter() {
            for url in route.leaf_urls() {
                if !urls.contains(&url) {
                    urls.push(url);
                }
            }
        }
        urls
    }

    fn peer_client_urls(&self, websocket: bool) -> Vec<String> {
        let mut urls = Vec::new();
        for route in self.routes.read().iter() {
            for url in route.client_urls(websocket) {
                if !urls.contains(&url) {
                    urls.push(url);
                }
            }
        }
        urls
    }
}

impl Cluster {
    /// Keeps a route to the configured `url`, while it stays configured.
    fn dial_configured(&self, url: &str) {
        match RouteUrl::parse(url) {
            Ok(parsed) => {
                tokio::spawn(conn::solicit(self.me.clone(), parsed, Some(url.to_string())));
            }
            Err(e) => tracing::error!("route {url}: {e}"),
        }
    }

    /// The options in force.
    fn options(&self) -> Arc<ClusterOptions> {
        self.options.load_full()
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Routes with a peer, for monitoring.
    pub fn routes(&self) -> Vec<Arc<Route>> {
        self.routes.read().clone()
    }

    /// Takes a route whose handshake is done, unless the peer is this
    /// server. When both servers dialled each other at once, both keep the
    /// route dialled by the server with the lower id and close the other.
    /// Then tells the peer of all interest here, under each account's
    /// interest lock, so a change made meanwhile follows it.
    fn establish(&self, route: &Arc<Route>, peer_id: &str) -> Result<(), &'static str> {
        if peer_id == self.server.id {
            return Err("route to self");
        }
        let replaced = {
            let mut routes = self.routes.write();
            let existing = routes.iter().position(|r| r.peer_id() == Some(peer_id));
            let replaced = match existing {
                None => None,
                Some(i) => {
                    let we_are_lower = self.server.id.as_str() < peer_id;
                    // Dialled by the lower id: by us when solicited and we are lower.
                    let keeps = |r: &Route| r.is_solicited() == we_are_lower;
                    if keeps(route) && !keeps(&routes[i]) {
                        Some(routes.remove(i))
                    } else {
                        return Err("duplicate route");
                    }
                }
            };
            routes.push(route.clone());
            replaced
        };
        if let Some(old) = replaced {
            old.close_duplicate();
        }
        // The other peers learn of this one and connect to it.
        if let Some(info) = route.peer_info() {
            for other in self.routes.read().iter() {
                if other.peer_id() != Some(peer_id) {
                    other.send_info(info);
                }
            }
        }
        for account in self.server.accounts.all() {
            account.each_interest(|subject, queue, count| {
                route.send_interest(&account.name, subject, queue, count);
            });
        }
        if let Some(gateways) = self.server.gateway_links() {
            for line in gateways.gossip_lines() {
                route.send_proto(&line);
            }
        }
        self.server.client_urls_changed();
        Ok(())
    }

    /// Whether a route to the server `id` is up.
    fn has_route_to(&self, id: &str) -> bool {
        self.routes.read().iter().any(|r| r.peer_id() == Some(id))
    }

    /// Forgets a route that closed; its peer's client URLs go with it.
    fn remove(&self, route: &Route) {
        let removed = {
            let mut routes = self.routes.write();
            let before = routes.len();
            routes.retain(|r| !std::ptr::eq(r.as_ref(), route));
            routes.len() != before
        };
        if removed {
            self.server.client_urls_changed();
        }
    }
}
