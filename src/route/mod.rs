//! Cluster routes: this server's links to the other servers of its
//! cluster, in the protocol nats-server speaks (see `junction_nats::route`),
//! with nats-server 2.10+'s pool of routes to each peer and routes
//! dedicated to one account (see `pool`).
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
mod pool;
mod url;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::time::Duration;

use anyhow::Context as _;
use parking_lot::{Mutex, RwLock};
use tokio::net::TcpListener;

pub use conn::Route;
pub use pool::Carries;
pub use url::RouteUrl;

use pool::{Pooling, Refusal};

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
    /// Routes whose handshake is done: one to each peer server without a
    /// pool, else its pool and its dedicated routes.
    routes: RwLock<Vec<Arc<Route>>>,
    /// How routes to pooling peers share the accounts.
    pooling: Pooling,
    /// Servers (and the account, for a dedicated route) learnt by gossip
    /// that are being dialled.
    dialing: Mutex<HashSet<(String, Option<String>)>>,
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
        pooling: Pooling::new(options.pool_size, &options.accounts, &server.accounts.system.name),
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
                let placement = cluster.pooling.placement(&account.name);
                for route in cluster.routes.read().iter() {
                    if route.carries(&placement) {
                        route.send_interest(&account.name, change.subject, change.queue, change.count);
                    }
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

/// A peer told of a server (`info`): dial it while this one's pool to it
/// (or its one route) is not all there; with `route_account`, dial the
/// route dedicated to that account.
fn implicit_route(cluster: &Arc<Cluster>, info: &junction_nats::route::RouteInfo) {
    if info.server_id == cluster.server.id {
        return;
    }
    let account = if info.route_account.is_empty() {
        // A route the peer dedicated to an account may be up already: the
        // pool is what counts.
        if !cluster.wants_route(&info.server_id, None) {
            return;
        }
        None
    } else {
        if !cluster.pooling.dedicated.contains(&info.route_account)
            || cluster.has_dedicated_route(&info.server_id, &info.route_account)
        {
            return;
        }
        Some(info.route_account.clone())
    };
    match RouteUrl::parse(&info.ip) {
        Ok(mut url) => {
            if info.auth_required {
                let options = cluster.options();
                url.user = options.auth.username.clone();
                url.password = options.auth.password.clone();
            }
            tracing::debug!("connecting to {} ({}) learnt by gossip", info.server_name, url);
            cluster.dial_implicit(&info.server_id, url, account);
        }
        Err(e) => tracing::debug!("gossiped route {:?}: {e}", info.ip),
    }
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
        for route in self.one_route_per_peer() {
            route.send_lame_duck(self);
        }
    }

    fn info_changed(&self) {
        for route in self.one_route_per_peer() {
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
        let to_server = || routes.iter().filter(|r| r.server_hash() == server_hash);
        let Some(route) = to_server()
            .find(|r| r.carries(&self.pooling.placement(account)))
            .or_else(|| to_server().next())
        else {
            return false;
        };
        route.forward(account, msg, producer);
        true
    }

    fn broadcast(&self, line: &[u8]) {
        for route in self.one_route_per_peer() {
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
    /// Keeps routes to the configured `url` while it stays configured: the
    /// pool (or the one route), then those dedicated to accounts.
    fn dial_configured(&self, url: &str) {
        match RouteUrl::parse(url) {
            Ok(parsed) => {
                tokio::spawn(conn::solicit(
                    self.me.clone(),
                    parsed,
                    Some(url.to_string()),
                    None,
                ));
            }
            Err(e) => tracing::error!("route {url}: {e}"),
        }
    }

    /// Keeps routes to the server `id` learnt by gossip at `url` (for
    /// `account`, the route dedicated to it), unless that is under way.
    fn dial_implicit(&self, id: &str, url: RouteUrl, account: Option<String>) {
        let key = (id.to_string(), account);
        if !self.dialing.lock().insert(key.clone()) {
            return;
        }
        let weak = self.me.clone();
        tokio::spawn(async move {
            conn::solicit(weak.clone(), url, None, key.1.clone()).await;
            if let Some(c) = weak.upgrade() {
                c.dialing.lock().remove(&key);
            }
        });
    }

    /// The peer `id` at `url` pools its routes: keep those dedicated to
    /// accounts too, as the routes to `url` are kept (`configured`, or
    /// learnt by gossip).
    pub(super) fn keep_dedicated_routes(&self, id: &str, url: &RouteUrl, configured: Option<&str>) {
        for account in &self.pooling.dedicated {
            match configured {
                Some(text) => {
                    tokio::spawn(conn::solicit(
                        self.me.clone(),
                        url.clone(),
                        Some(text.to_string()),
                        Some(account.clone()),
                    ));
                }
                None => self.dial_implicit(id, url.clone(), Some(account.clone())),
            }
        }
    }

    /// Whether the server `id`, to which a route is up or was refused,
    /// pools its routes as this one does.
    pub(super) fn peer_pools(&self, id: &str) -> bool {
        let routes = self.routes.read();
        let (_, peer_size) = self.taken(&routes, id);
        self.pooling.pooled_with(peer_size)
    }

    /// The first route to each peer: for what is told once per server
    /// (INFO updates, gossip).
    fn one_route_per_peer(&self) -> Vec<Arc<Route>> {
        let routes = self.routes.read();
        let mut seen = HashSet::new();
        routes
            .iter()
            .filter(|r| r.peer_id().is_some_and(|id| seen.insert(id.to_string())))
            .cloned()
            .collect()
    }

    /// What the routes up to the server `id` carry, and its pool size.
    fn taken(&self, routes: &[Arc<Route>], id: &str) -> (Vec<Carries>, usize) {
        let mut peer_size = 0;
        let taken = routes
            .iter()
            .filter(|r| r.peer_id() == Some(id))
            .filter_map(|r| {
                peer_size = r.peer_info().map_or(0, |i| i.route_pool_size);
                r.carried().cloned()
            })
            .collect();
        (taken, peer_size)
    }

    /// Whether this server should dial the server `id` (once known) again:
    /// for `account`, while no route dedicated to it is up; else while the
    /// peer's pool (or its one route) is not all there.
    pub(super) fn wants_route(&self, id: &str, account: Option<&str>) -> bool {
        match account {
            Some(a) => !self.has_dedicated_route(id, a),
            None => {
                let routes = self.routes.read();
                let (taken, peer_size) = self.taken(&routes, id);
                !pool::pool_complete(&self.pooling, &taken, peer_size)
            }
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

    /// The peers whose pool (or one route) is all up, and their routes
    /// dedicated to accounts when they pool too.
    pub fn linked_peers(&self) -> usize {
        let ids: HashSet<String> = self
            .routes
            .read()
            .iter()
            .filter_map(|r| r.peer_id().map(str::to_string))
            .collect();
        ids.iter()
            .filter(|id| {
                let routes = self.routes.read();
                let (taken, peer_size) = self.taken(&routes, id);
                let dedicated_up = !self.pooling.pooled_with(peer_size)
                    || self
                        .pooling
                        .dedicated
                        .iter()
                        .all(|a| taken.contains(&Carries::Account(a.clone())));
                pool::pool_complete(&self.pooling, &taken, peer_size) && dedicated_up
            })
            .count()
    }

    /// Takes a route whose handshake is done (`info` is the peer's), in
    /// the place among the routes to that peer it asked for or is given
    /// (see `pool::place`), unless the peer is this server.
    ///
    /// Of two routes to a peer in one place (both servers dialled at once),
    /// the one dialled by the server with the lower id stays, so that both
    /// servers agree: for a peer's one route, and in the pool of a Junction
    /// peer. In the pool of a nats-server peer the first stays, as that
    /// peer decides too (should their choices differ, both routes close,
    /// and are dialled again).
    ///
    /// Then tells the peer of the interest the route carries, under each
    /// account's interest lock, so a change made meanwhile follows it; and,
    /// for the first route to a peer, tells the other peers of it.
    fn establish(&self, route: &Arc<Route>, info: &junction_nats::route::RouteInfo) -> Result<(), Refusal> {
        let peer_id = info.server_id.as_str();
        if peer_id == self.server.id {
            return Err(Refusal::Duplicate("route to self"));
        }
        let (replaced, first) = {
            let mut routes = self.routes.write();
            let (taken, _) = self.taken(&routes, peer_id);
            // The first route to the peer but for dedicated ones, which
            // peers are told of apart.
            let first = !taken.iter().any(|c| !matches!(c, Carries::Account(_)));
            let dedicated = route
                .dedicated()
                .or((!route.is_solicited() && !info.route_account.is_empty())
                    .then_some(info.route_account.as_str()));
            let carries = pool::place(
                &self.pooling,
                &taken,
                route.is_solicited(),
                dedicated,
                info.route_pool_size,
                info.route_pool_idx,
            )?;
            let mut replaced = None;
            let existing = routes
                .iter()
                .position(|r| r.peer_id() == Some(peer_id) && r.carried() == Some(&carries));
            if let Some(i) = existing {
                let we_are_lower = self.server.id.as_str() < peer_id;
                // Dialled by the lower id: by us when solicited and we are lower.
                let keeps = |r: &Route| r.is_solicited() == we_are_lower;
                let by_id = carries == Carries::All || info.go.starts_with("junction");
                if by_id && keeps(route) && !keeps(&routes[i]) {
                    replaced = Some(routes.remove(i));
                } else {
                    return Err(Refusal::Duplicate("duplicate route"));
                }
            }
            let first = first && !matches!(carries, Carries::Account(_));
            route.set_carried(carries);
            // This server's INFO waited for the place in the pool it names;
            // it goes before any interest the route carries.
            route.send_delayed_info(self);
            routes.push(route.clone());
            let first = first && replaced.is_none();
            (replaced, first)
        };
        if let Some(old) = replaced {
            old.close_duplicate();
        }
        self.tell_peers_of(route, info, first);
        for account in self.server.accounts.all() {
            if route.carries(&self.pooling.placement(&account.name)) {
                account.each_interest(|subject, queue, count| {
                    route.send_interest(&account.name, subject, queue, count);
                });
            }
        }
        if first {
            if let Some(gateways) = self.server.gateway_links() {
                for line in gateways.gossip_lines() {
                    route.send_proto(&line);
                }
            }
            self.server.client_urls_changed();
        }
        Ok(())
    }

    /// Gossip: the other peers learn of a new peer (`first`, its first
    /// route) and connect to it; of a route dedicated to an account, the
    /// other pooling peers learn (on their route dedicated to it, if any),
    /// and dial theirs.
    fn tell_peers_of(&self, route: &Route, info: &junction_nats::route::RouteInfo, first: bool) {
        let peer_id = info.server_id.as_str();
        if let Some(Carries::Account(account)) = route.carried() {
            let gossip = junction_nats::route::RouteInfo {
                route_account: account.clone(),
                ..info.clone()
            };
            let dedicated = Carries::Account(account.clone());
            let mut told = HashSet::new();
            for other in self.routes.read().iter() {
                if other.peer_id() != Some(peer_id) && other.carried() == Some(&dedicated) {
                    told.extend(other.peer_id().map(str::to_string));
                    other.send_info(&gossip);
                }
            }
            for other in self.one_route_per_peer() {
                let pooled = other.carried() != Some(&Carries::All);
                if pooled
                    && other
                        .peer_id()
                        .is_some_and(|id| id != peer_id && !told.contains(id))
                {
                    other.send_info(&gossip);
                }
            }
        } else if first {
            for other in self.one_route_per_peer() {
                if other.peer_id() != Some(peer_id) {
                    other.send_info(info);
                }
            }
        }
    }

    /// Whether a route to the server `id`, dedicated to `account`, is up.
    fn has_dedicated_route(&self, id: &str, account: &str) -> bool {
        self.routes.read().iter().any(|r| {
            r.peer_id() == Some(id) && matches!(r.carried(), Some(Carries::Account(a)) if a == account)
        })
    }

    /// Whether a route to the server `id` is up.
    fn has_route_to(&self, id: &str) -> bool {
        self.routes.read().iter().any(|r| r.peer_id() == Some(id))
    }

    /// Forgets a route that closed; with the last route to its peer, the
    /// peer's client URLs go.
    fn remove(&self, route: &Route) {
        let last = {
            let mut routes = self.routes.write();
            let before = routes.len();
            routes.retain(|r| !std::ptr::eq(r.as_ref(), route));
            routes.len() != before
                && !routes
                    .iter()
                    .any(|r| r.peer_id().is_some() && r.peer_id() == route.peer_id())
        };
        if last {
            self.server.client_urls_changed();
        }
    }
}
