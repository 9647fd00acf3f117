//! One route: the handshake (`INFO` and `CONNECT` both ways, the peer's
//! credentials and cluster name checked), the peer's interest kept as
//! subscriptions here, the messages it routes published here, and the
//! messages it has interest in written to it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use bytes::BytesMut;
use junction_nats::route::{
    self as proto, RemoteInterest, RouteConnect, RouteInfo, RouteOp, RouteParser, RoutedMsg,
};
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::pool::{Carries, Placement, Refusal};
use super::{Cluster, RouteUrl};
use crate::conn::{AccountCaches, CloseReason, ConnCore, PeerInterest, PeerPings};
use crate::message::{ConnKind, Origin};
use crate::outlet::Producer;
use crate::subscription::{Message, Subscriber, Subscription};

/// How long a new route has to complete its handshake, and to wait
/// between attempts to reach a configured peer (nats-server's defaults).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(2);
const RECONNECT_DELAY: Duration = Duration::from_secs(1);
/// How long a new route must stay up before the next of the pool is
/// dialled without the usual pause.
const SETTLE_TIME: Duration = Duration::from_millis(20);
/// The longest wait between attempts with `connect_backoff`.
const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(30);

/// A route to one peer server.
pub struct Route {
    core: ConnCore,
    /// Who dialled: this server or the peer.
    solicited: bool,
    /// Dialled by this server for one account's own route.
    dedicated: Option<String>,
    /// What it carries, once its handshake is done.
    carried: OnceLock<Carries>,
    /// Dialled by this server into a pool: its `INFO` waits for the peer's,
    /// to name the place in the pool it takes.
    delays_info: bool,
    /// The peer refused it for good: not dialled again.
    no_retry: AtomicBool,
    /// Woken when the handshake is done or the route closed, whichever
    /// comes first.
    settled: tokio::sync::Notify,
    /// The URL of the configuration it was dialled to (not for routes
    /// accepted or learnt by gossip).
    configured_url: Option<String>,
    /// The peer's `INFO`, once received.
    peer: OnceLock<RouteInfo>,
    /// The hash of the peer's id, as mapped replies name its server.
    peer_hash: OnceLock<String>,
    /// The peer's client URLs: from its first INFO, then its updates.
    client_urls: Mutex<Vec<String>>,
    /// The peer's WebSocket URLs (`ws_connect_urls`), the same way.
    ws_urls: Mutex<Vec<String>>,
    /// The peer's leaf node ports (`leafnode_urls`).
    leaf_urls: Mutex<Vec<String>>,
    /// The handshake is done: interest and messages may flow.
    established: AtomicBool,
    /// The peer's interest, as subscriptions in its accounts here.
    interest: PeerInterest,
    pings: PeerPings,
    me: Weak<Route>,
}

impl std::ops::Deref for Route {
    type Target = ConnCore;

    fn deref(&self) -> &ConnCore {
        &self.core
    }
}

impl Route {
    fn new(
        cluster: &Arc<Cluster>,
        remote: SocketAddr,
        solicited: bool,
        configured_url: Option<String>,
        dedicated: Option<String>,
    ) -> Arc<Route> {
        let server = &cluster.server;
        let settings = server.client_settings("route");
        Arc::new_cyclic(|me| Route {
            core: ConnCore::new(
                server.next_client_id(),
                ConnKind::Route,
                "route",
                remote,
                server.global.clone(),
                settings,
            ),
            solicited,
            delays_info: solicited && dedicated.is_none() && cluster.pooling.size > 0,
            dedicated,
            carried: OnceLock::new(),
            no_retry: AtomicBool::new(false),
            settled: tokio::sync::Notify::new(),
            configured_url,
            peer: OnceLock::new(),
            peer_hash: OnceLock::new(),
            client_urls: Mutex::new(Vec::new()),
            ws_urls: Mutex::new(Vec::new()),
            leaf_urls: Mutex::new(Vec::new()),
            established: AtomicBool::new(false),
            interest: PeerInterest::default(),
            pings: PeerPings::default(),
            me: me.clone(),
        })
    }

    /// What the route carries, once its handshake is done.
    pub fn carried(&self) -> Option<&Carries> {
        self.carried.get()
    }

    pub(super) fn set_carried(&self, carries: Carries) {
        let _ = self.carried.set(carries);
    }

    /// Whether the route carries `account`'s interest and messages.
    pub(super) fn carries(&self, placement: &Placement<'_>) -> bool {
        self.carried.get().is_some_and(|c| placement.on(c))
    }

    /// The account this server dialled it for.
    pub(super) fn dedicated(&self) -> Option<&str> {
        self.dedicated.as_deref()
    }

    /// The account its lines leave out, on a route dedicated to one.
    fn own_account(&self) -> Option<&str> {
        match self.carried.get() {
            Some(Carries::Account(a)) => Some(a),
            _ => None,
        }
    }

    /// The account named by a line: the route's own when the line names
    /// none (a dedicated route).
    fn account_of<'a>(&'a self, named: &'a [u8]) -> &'a [u8] {
        match self.own_account() {
            Some(own) if named.is_empty() => own.as_bytes(),
            _ => named,
        }
    }

    /// The account to name in a line to the peer: none on a dedicated route.
    fn account_in_line<'a>(&self, account: &'a [u8]) -> &'a [u8] {
        if self.own_account().is_some() {
            b""
        } else {
            account
        }
    }

    /// Sends this server's `INFO` that waited for the route's place in the
    /// pool (`route_pool_idx`).
    pub(super) fn send_delayed_info(&self, cluster: &Cluster) {
        if !self.delays_info {
            return;
        }
        let index = match self.carried.get() {
            Some(Carries::Pool(i)) => *i,
            _ => 0,
        };
        let info = RouteInfo {
            route_pool_idx: index,
            ..self.info(cluster)
        };
        self.send_json(b"INFO ", &info, b" \r\n");
    }

    /// The peer's server id, once its `INFO` arrived.
    pub fn peer_id(&self) -> Option<&str> {
        self.peer.get().map(|i| i.server_id.as_str())
    }

    /// The hash of the peer's server id in mapped replies (empty until
    /// its `INFO` came).
    pub(super) fn server_hash(&self) -> &[u8] {
        match self.peer_id() {
            Some(id) => self
                .peer_hash
                .get_or_init(|| crate::mapped_reply::hash(id))
                .as_bytes(),
            None => b"",
        }
    }

    /// Sends the peer a message whatever its interest: an answer to a
    /// request that server mapped (its subject `_GR_.…`).
    pub(super) fn forward(&self, account: &str, msg: &Message<'_>, producer: &mut Producer) {
        if self.established.load(Ordering::Relaxed) {
            let account = self.account_in_line(account.as_bytes());
            self.push_routed(msg, msg.reply, account, &[], producer, proto::msg);
        }
    }

    /// The peer's `INFO`, once it arrived.
    pub fn peer_info(&self) -> Option<&RouteInfo> {
        self.peer.get()
    }

    /// Whether this server dialled the route.
    pub fn is_solicited(&self) -> bool {
        self.solicited
    }

    /// The configured URL it was dialled to.
    pub(super) fn configured_url(&self) -> Option<&str> {
        self.configured_url.as_deref()
    }

    /// Closes a route whose URL a reload took out of the configuration, or
    /// of a server that stops.
    pub(super) fn close_unconfigured(&self) {
        self.close_after_flush(CloseReason::ServerShutdown);
    }

    /// What `/routez` shows of it; the peer's interest listed only when
    /// `with_subs` (it may be long).
    pub(super) fn view(&self, with_subs: bool) -> crate::conn::RouteView {
        let (out_msgs, out_bytes) = self.outlet.out_counts();
        let peer = self.peer_info();
        let num_subscriptions = self.interest.len();
        let subscriptions = with_subs.then(|| self.interest.list());
        crate::conn::RouteView {
            rid: self.id,
            remote_id: peer.map(|p| p.server_id.clone()).unwrap_or_default(),
            remote_name: peer.map(|p| p.server_name.clone()).unwrap_or_default(),
            did_solicit: self.solicited,
            is_configured: self.configured_url.is_some(),
            ip: self.remote.ip().to_string(),
            port: self.remote.port(),
            start: self.started,
            last_activity: self.last_activity(),
            pending: self.outlet.pending(),
            in_msgs: self.counters.in_msgs.load(Ordering::Relaxed),
            out_msgs,
            in_bytes: self.counters.in_bytes.load(Ordering::Relaxed),
            out_bytes,
            num_subscriptions,
            subscriptions,
            account: self.own_account().map(str::to_string),
        }
    }

    /// The client URLs the peer announced, latest first.
    /// The leaf node ports the peer announced.
    pub(super) fn leaf_urls(&self) -> Vec<String> {
        self.leaf_urls.lock().clone()
    }

    pub(super) fn client_urls(&self, websocket: bool) -> Vec<String> {
        if websocket {
            self.ws_urls.lock().clone()
        } else {
            self.client_urls.lock().clone()
        }
    }

    /// Tells the peer this server is in lame duck mode (`ldm` in its INFO).
    pub(super) fn send_lame_duck(&self, cluster: &Cluster) {
        let info = RouteInfo {
            ldm: true,
            ..self.info(cluster)
        };
        self.send_json(b"INFO ", &info, b" \r\n");
    }

    /// Tells the peer this server's INFO again, after a change in it.
    pub(super) fn send_own_info(&self, cluster: &Cluster) {
        self.send_json(b"INFO ", &self.info(cluster), b" \r\n");
    }

    /// Tells the peer of another server of the cluster (gossip).
    pub(super) fn send_info(&self, info: &RouteInfo) {
        self.send_json(b"INFO ", info, b" \r\n");
    }

    /// Announces a change in this server's interest (`RS+`/`RS-`).
    pub(super) fn send_interest(&self, account: &str, subject: &[u8], queue: Option<&[u8]>, count: u32) {
        let interest = RemoteInterest {
            account: self.account_in_line(account.as_bytes()),
            subject,
            queue,
            weight: count,
        };
        let mut buf = BytesMut::with_capacity(subject.len() + account.len() + 32);
        if count == 0 {
            proto::unsub(&mut buf, false, None, &interest);
        } else {
            proto::sub(&mut buf, None, &interest);
        }
        self.send_proto(&buf);
    }

    /// Closes a route another one to the same peer replaced.
    pub(super) fn close_duplicate(&self) {
        self.established.store(false, Ordering::Relaxed);
        self.close_after_flush(CloseReason::DuplicateRoute);
    }

    /// This server's `INFO` for the peer.
    fn info(&self, cluster: &Cluster) -> RouteInfo {
        let server = &cluster.server;
        // `advertise` (`host:port`) stands for the listener's address.
        let options = cluster.options();
        let advertised = options
            .advertise
            .as_ref()
            .and_then(|a| RouteUrl::parse(&format!("nats://{a}")).ok())
            .map_or((cluster.addr.ip().to_string(), cluster.addr.port()), |u| {
                (u.host, u.port)
            });
        RouteInfo {
            server_id: server.id.clone(),
            server_name: server.name.clone(),
            version: crate::server::NATS_COMPAT_VERSION.to_string(),
            // The route protocol with accounts in its lines.
            proto: 2,
            go: format!("junction {}", env!("CARGO_PKG_VERSION")),
            host: advertised.0,
            port: advertised.1,
            ip: options
                .advertise
                .as_ref()
                .map(|a| format!("nats-route://{a}/"))
                .unwrap_or_default(),
            headers: true,
            auth_required: options.auth.username.is_some(),
            tls_required: cluster.tls.is_some(),
            tls_verify: options.tls.as_ref().is_some_and(|t| t.verify),
            max_payload: server.opts().max_payload,
            cluster: cluster.name.clone(),
            // `no_advertise`: peers are told nothing of this server's clients' URLs.
            connect_urls: if options.no_advertise {
                Vec::new()
            } else {
                server.client_urls()
            },
            ws_connect_urls: if options.no_advertise {
                Vec::new()
            } else {
                server.websocket_urls()
            },
            leafnode_urls: server.leaf_urls(),
            // Peers tell other clusters where this server's gateway is.
            extra: server
                .gateway_links()
                .map(|g| {
                    let mut extra = serde_json::Map::new();
                    extra.insert("gateway_url".into(), g.url().into());
                    extra
                })
                .unwrap_or_default(),
            cluster_dynamic: options.name.is_none(),
            lnoc: true,
            lnocu: true,
            route_pool_size: cluster.pooling.size,
            route_account: self.dedicated.clone().unwrap_or_default(),
            ..RouteInfo::default()
        }
    }

    /// This server's `CONNECT` to a peer it dialled at `url`.
    fn connect(&self, cluster: &Cluster, url: &RouteUrl) -> RouteConnect {
        let options = cluster.options();
        let own = &options.auth;
        RouteConnect {
            echo: true,
            user: url
                .user
                .clone()
                .or_else(|| own.username.clone())
                .unwrap_or_default(),
            pass: url
                .password
                .clone()
                .or_else(|| own.password.clone())
                .unwrap_or_default(),
            headers: true,
            tls_required: cluster.tls.is_some(),
            name: cluster.server.id.clone(),
            cluster: cluster.name.clone(),
            dynamic: options.name.is_none(),
            lnoc: true,
            lnocu: true,
            ..RouteConnect::default()
        }
    }

    /// The peer announced interest (`RS+`, `LS+`): a subscription here,
    /// or a queue group's new member count.
    fn remote_sub(&self, cluster: &Cluster, i: &RemoteInterest<'_>) {
        let i = RemoteInterest {
            account: self.account_of(i.account),
            ..*i
        };
        let Some(account) = cluster.server.accounts.get(&String::from_utf8_lossy(i.account)) else {
            tracing::debug!(cid = self.id, "interest in an unknown account ignored");
            return;
        };
        if let Some(me) = self.me.upgrade() {
            self.interest.add(&account, &i, i.weight, me);
        }
    }

    /// The peer withdrew interest (`RS-`, `LS-`).
    fn remote_unsub(&self, cluster: &Cluster, i: &RemoteInterest<'_>) {
        let i = RemoteInterest {
            account: self.account_of(i.account),
            ..*i
        };
        self.interest.remove(&cluster.server.accounts, &i);
    }
}

impl Subscriber for Route {
    fn client_id(&self) -> u64 {
        self.id
    }

    fn kind(&self) -> ConnKind {
        ConnKind::Route
    }

    /// Not called: the router hands peers `deliver_routed`.
    fn deliver(&self, _sub: &Subscription, _msg: &Message<'_>, _producer: &mut Producer) {}

    fn deliver_routed(
        &self,
        sub: &Subscription,
        msg: &Message<'_>,
        queues: &[&[u8]],
        producer: &mut Producer,
    ) {
        if !self.established.load(Ordering::Relaxed) {
            return;
        }
        // Other servers of the cluster map the reply as this one did.
        let reply = msg.routed_reply.or(msg.reply);
        let account = self.account_in_line(&sub.sid);
        self.push_routed(msg, reply, account, queues, producer, proto::msg);
    }
}

/// Serves a route a peer dialled.
pub(super) async fn accepted(cluster: Arc<Cluster>, stream: TcpStream, remote: SocketAddr) {
    let route = Route::new(&cluster, remote, false, None, None);
    let info = route.info(&cluster);
    route.send_json(b"INFO ", &info, b" \r\n");
    // With `tls {}`, TLS comes first, before INFO, as between nats-servers.
    match &cluster.tls {
        None => {
            let (reader, writer) = stream.into_split();
            run(cluster, route, reader, writer).await;
        }
        Some(tls) => match crate::tls::handshake(&tls.acceptor, stream, tls.timeout).await {
            Ok(stream) => {
                let (reader, writer) = tokio::io::split(stream);
                run(cluster, route, reader, writer).await;
            }
            Err(e) => tracing::warn!("route TLS handshake from {remote} failed: {e}"),
        },
    }
}

/// Keeps routes to the peer at `url`: the pool (or the one route), or with
/// `account` the route dedicated to it. Dials while one is missing, one at
/// a time, each served in a task of its own; checks again after a pause.
/// Once the peer is known to pool its routes too, the routes dedicated to
/// accounts are kept the same way (never tried with a peer without a pool,
/// which would take one for its only route).
///
/// Routes to a configured URL (`configured` is the URL as written) are kept
/// while it stays in the configuration. Routes learnt by gossip are dialled
/// until `connect_retries` more attempts have failed, and kept until the
/// peer has none left, as nats-server does. A route the peer refused for
/// good is not dialled again.
pub(super) async fn solicit(
    cluster: Weak<Cluster>,
    url: RouteUrl,
    configured: Option<String>,
    account: Option<String>,
) {
    let implicit = configured.is_none();
    let mut peer_id: Option<String> = None;
    let mut served = false;
    let mut dedicated_kept = account.is_some();
    let mut failures = 0u32;
    let mut delay = RECONNECT_DELAY;
    loop {
        let Some(c) = cluster.upgrade() else { return };
        if c.server.lifecycle.is_stopped() {
            return;
        }
        if let Some(text) = &configured {
            if !c.options().routes.contains(text) {
                return;
            }
        }
        if let Some(id) = &peer_id {
            if implicit && served && !c.has_route_to(id) {
                return;
            }
            if !dedicated_kept && c.peer_pools(id) {
                dedicated_kept = true;
                c.keep_dedicated_routes(id, &url, configured.as_deref());
            }
        }
        let wanted = match &peer_id {
            None => true,
            Some(id) => c.wants_route(id, account.as_deref()),
        };
        let mut pause = true;
        if wanted {
            match TcpStream::connect(url.address()).await {
                Ok(stream) => {
                    failures = 0;
                    let route = dial(&c, &url, stream, configured.clone(), account.clone());
                    route.settled.notified().await;
                    if let Some(id) = route.peer_id() {
                        peer_id = Some(id.to_string());
                    }
                    if route.no_retry.load(Ordering::Relaxed) {
                        return;
                    }
                    // Up, and still up a moment later (not closed as a
                    // duplicate by the peer): the next route of the pool
                    // is dialled at once.
                    if route.established.load(Ordering::Relaxed) {
                        served = true;
                        tokio::time::sleep(SETTLE_TIME).await;
                        pause = !route.established.load(Ordering::Relaxed);
                    }
                }
                Err(e) => {
                    tracing::debug!("connecting to route {url}: {e}");
                    failures += 1;
                    if implicit && failures > c.options().connect_retries {
                        return;
                    }
                }
            }
        }
        let backoff = c.options().connect_backoff;
        drop(c);
        if pause {
            tokio::time::sleep(delay).await;
        }
        // `connect_backoff`: twice as long after each failure, up to 30 s.
        delay = if backoff && failures > 0 {
            (delay * 2).min(MAX_RECONNECT_DELAY)
        } else {
            RECONNECT_DELAY
        };
    }
}

/// Opens a route on a connection this server made to `url`, and serves it
/// in a task of its own.
fn dial(
    c: &Arc<Cluster>,
    url: &RouteUrl,
    stream: TcpStream,
    configured: Option<String>,
    account: Option<String>,
) -> Arc<Route> {
    let _ = stream.set_nodelay(true);
    let remote = stream.peer_addr().unwrap_or_else(|_| c.addr);
    let route = Route::new(c, remote, true, configured, account);
    let connect = route.connect(c, url);
    route.send_json(b"CONNECT ", &connect, b"\r\n");
    if !route.delays_info {
        route.send_json(b"INFO ", &route.info(c), b" \r\n");
    }
    tracing::debug!("route connection to {url} opened");
    let (c, url, served) = (c.clone(), url.clone(), route.clone());
    tokio::spawn(async move {
        match &c.tls {
            None => {
                let (reader, writer) = stream.into_split();
                run(c.clone(), served.clone(), reader, writer).await;
            }
            Some(tls) => match tls.connect(&url, stream).await {
                Ok(stream) => {
                    let (reader, writer) = tokio::io::split(stream);
                    run(c.clone(), served.clone(), reader, writer).await;
                }
                Err(e) => tracing::warn!("route TLS handshake with {url} failed: {e}"),
            },
        }
        // A route that never ran settles here too.
        served.settled.notify_one();
    });
    route
}

/// nats-server sends PINGs on routes at least every 30 s, whatever the
/// clients' interval.
const ROUTE_MAX_PING_INTERVAL: Duration = Duration::from_secs(30);

/// How a route is kept alive and when it is given up: `cluster {}`'s own
/// settings, else the server's.
struct Keepalive {
    ping_interval: Duration,
    ping_max: u32,
    write_deadline: Duration,
}

impl Keepalive {
    fn of(route: &Route, cluster: &Cluster) -> Keepalive {
        let s = route.settings();
        let options = cluster.options();
        let ping_interval = options
            .ping_interval
            .unwrap_or(s.ping_interval)
            .min(ROUTE_MAX_PING_INTERVAL)
            .max(Duration::from_millis(10));
        Keepalive {
            ping_interval,
            ping_max: options.ping_max.unwrap_or(s.ping_max),
            // A route waits for the peer's slowest reader (backpressure),
            // which that peer cuts off after its own `write_deadline`; a
            // route given only as long would be cut before its reader, for
            // the peer's slow client. Twice the clients' leaves it the margin.
            write_deadline: options.write_deadline.unwrap_or(s.write_deadline * 2),
        }
    }
}

/// Serves a route until it closes, then forgets the peer's interest.
async fn run<R, W>(cluster: Arc<Cluster>, route: Arc<Route>, reader: R, writer: W)
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    route.outlet.attach(Box::new(writer));
    let read_task = tokio::spawn(read(cluster.clone(), route.clone(), reader));
    let keepalive = {
        let (route, cluster) = (route.clone(), cluster.clone());
        move || {
            let k = Keepalive::of(&route, &cluster);
            (k.write_deadline, k.ping_interval)
        }
    };
    let max_cluster = cluster.clone();
    route
        .write_to_peer(&route.pings, keepalive, || {
            Keepalive::of(&route, &max_cluster).ping_max
        })
        .await;
    read_task.abort();
    route.established.store(false, Ordering::Relaxed);
    route.settled.notify_one();
    cluster.remove(&route);
    route.interest.remove_all(&cluster.server.accounts);
    if let Some(peer) = route.peer_info() {
        tracing::info!(
            cid = route.id,
            "Route connection to {} ({}) closed: {}",
            peer.server_name,
            peer.server_id,
            route.close_reason().unwrap_or(CloseReason::ClientClosed)
        );
    }
}

/// The reader: the handshake first, then interest and messages.
async fn read<R: AsyncRead + Unpin>(cluster: Arc<Cluster>, route: Arc<Route>, mut reader: R) {
    let settings = route.settings();
    let mut parser = RouteParser::new(settings.max_control_line, settings.max_payload);
    let mut caches = AccountCaches::default();
    // An accepted route must CONNECT first, and then say who it is.
    let mut connected = route.solicited;
    let deadline = tokio::time::Instant::now() + cluster.options().auth.timeout.unwrap_or(HANDSHAKE_TIMEOUT);
    let handshake = || (!route.established.load(Ordering::Relaxed)).then_some(deadline);
    let buf = BytesMut::with_capacity(64 * 1024);
    route
        .serve_peer(
            &mut reader,
            buf,
            &mut parser,
            handshake,
            |op, producer, parser| match op {
                RouteOp::Msg(m) => {
                    publish(&cluster, &route, &m, &mut caches, producer);
                    Ok(())
                }
                RouteOp::Sub(i) | RouteOp::LeafSub { interest: i, .. } => {
                    route.remote_sub(&cluster, &i);
                    Ok(())
                }
                RouteOp::Unsub(i) | RouteOp::LeafUnsub { interest: i, .. } => {
                    route.remote_unsub(&cluster, &i);
                    Ok(())
                }
                RouteOp::Ping => {
                    route.send_proto(junction_nats::PONG);
                    Ok(())
                }
                RouteOp::Pong => {
                    route.pings.pong();
                    Ok(())
                }
                RouteOp::Ok => Ok(()),
                // Gateway interest: not spoken between routes.
                RouteOp::AccountSub(_) | RouteOp::AccountUnsub(_) => Err(CloseReason::ParseError),
                RouteOp::Err(text) => {
                    tracing::warn!(
                        cid = route.id,
                        "route error from peer: {}",
                        String::from_utf8_lossy(text)
                    );
                    Err(CloseReason::ParseError)
                }
                RouteOp::Connect(json) => {
                    check_connect(&cluster, json)
                        .map(|()| connected = true)
                        .map_err(|text| {
                            tracing::warn!(cid = route.id, "route refused: {text}");
                            route.send_err(text);
                            CloseReason::AuthenticationViolation
                        })
                }
                RouteOp::Info(json) if connected => on_info(&cluster, &route, json, parser),
                RouteOp::Info(_) => Err(CloseReason::AuthenticationViolation),
            },
        )
        .await;
}

/// An accepted route's `CONNECT`: its credentials and cluster name.
fn check_connect(cluster: &Cluster, json: &[u8]) -> Result<(), &'static str> {
    let connect: RouteConnect = serde_json::from_slice(json).map_err(|_| "Authorization Violation")?;
    let options = cluster.options();
    let auth = &options.auth;
    if let Some(user) = &auth.username {
        let ok = connect.user == *user
            && crate::auth::secret_matches(auth.password.as_deref().unwrap_or(""), &connect.pass);
        if !ok {
            return Err("Authorization Violation");
        }
    }
    if options.name.is_some() && !connect.dynamic && connect.cluster != cluster.name {
        return Err("Rejecting connection, cluster name does not match");
    }
    Ok(())
}

/// The peer's `INFO`. The first completes the handshake. A later one about
/// another server is gossip: a peer tells of a server that joined it, and
/// this server connects to that one too, so the cluster becomes a full
/// mesh however it was seeded.
fn on_info(
    cluster: &Arc<Cluster>,
    route: &Arc<Route>,
    json: &[u8],
    parser: &mut RouteParser,
) -> Result<(), CloseReason> {
    let mut info: RouteInfo = serde_json::from_slice(json).map_err(|_| CloseReason::ParseError)?;
    if gateway_news(cluster, &info) {
        return Ok(());
    }
    if let Some(peer) = route.peer.get() {
        if info.server_id != peer.server_id {
            super::implicit_route(cluster, &info);
        } else {
            // The peer's own update, told on one of its routes: its client
            // URLs (lame duck empties them).
            let (urls, ws_urls) = if info.ldm {
                (Vec::new(), Vec::new())
            } else {
                (info.connect_urls, info.ws_connect_urls)
            };
            let (mut leaf_urls_changed, mut changed) = (false, false);
            for r in cluster
                .routes()
                .iter()
                .filter(|r| r.peer_id() == Some(&peer.server_id))
            {
                leaf_urls_changed |= *r.leaf_urls.lock() != info.leafnode_urls;
                *r.leaf_urls.lock() = info.leafnode_urls.clone();
                changed |= *r.client_urls.lock() != urls || *r.ws_urls.lock() != ws_urls;
                *r.client_urls.lock() = urls.clone();
                *r.ws_urls.lock() = ws_urls.clone();
            }
            if leaf_urls_changed {
                if let Some(leafs) = cluster.server.leaf_links() {
                    leafs.leaf_urls_changed();
                }
            }
            if changed {
                cluster.server.client_urls_changed();
            }
        }
        return Ok(());
    }
    if cluster.options().name.is_some() && !info.cluster_dynamic && info.cluster != cluster.name {
        tracing::warn!(
            "Rejecting route from {}: cluster name {:?} does not match {:?}",
            info.server_name,
            info.cluster,
            cluster.name
        );
        return Err(CloseReason::AuthenticationViolation);
    }
    parser.leaf_unsub_origin = info.lnocu;
    // A route dedicated to one account: its lines name none. (The peer
    // sends interest only once it has this server's INFO, after its own.)
    parser.account_omitted =
        route.dedicated.is_some() || (!route.solicited && !info.route_account.is_empty());
    if info.ip.is_empty() {
        // Where peers can reach it: its address as seen here, its route port.
        let host = route.remote.ip();
        info.ip = match host {
            std::net::IpAddr::V6(h) => format!("nats-route://[{h}]:{}/", info.port),
            std::net::IpAddr::V4(h) => format!("nats-route://{h}:{}/", info.port),
        };
    }
    // Nonces are not used between servers, and this INFO will be gossiped.
    info.nonce.clear();
    let id = info.server_id.clone();
    let name = info.server_name.clone();
    *route.client_urls.lock() = info.connect_urls.clone();
    *route.ws_urls.lock() = info.ws_connect_urls.clone();
    *route.leaf_urls.lock() = info.leafnode_urls.clone();
    let _ = route.peer.set(info);
    let info = route.peer.get().expect("set above");
    if let Err(refusal) = cluster.establish(route, info) {
        let Some(text) = refusal.error_text() else {
            tracing::debug!(cid = route.id, "route to {name} ({id}) dropped: {refusal:?}");
            return Err(CloseReason::DuplicateRoute);
        };
        tracing::warn!(cid = route.id, "route to {name} ({id}) refused: {text}");
        route
            .no_retry
            .store(matches!(refusal, Refusal::Final(_)), Ordering::Relaxed);
        route.send_err(text);
        return Err(CloseReason::ProtocolViolation);
    }
    route.established.store(true, Ordering::Relaxed);
    route.settled.notify_one();
    match route.carried() {
        Some(Carries::Account(account)) => tracing::info!(
            cid = route.id,
            "Route connection created with {name} ({id}) for account {account:?}"
        ),
        _ => tracing::info!(cid = route.id, "Route connection created with {name} ({id})"),
    }
    Ok(())
}

/// What a peer's `INFO` says of gateways: its own gateway URL, or another
/// cluster's gateway this server must connect to too (`gateway_cmd` 1,
/// which is all such an `INFO` is about: returns true).
fn gateway_news(cluster: &Cluster, info: &RouteInfo) -> bool {
    let text = |key: &str| info.extra.get(key).and_then(|v| v.as_str()).unwrap_or_default();
    let gossip = info.extra.get("gateway_cmd").and_then(|v| v.as_u64()) == Some(1);
    let Some(gateways) = cluster.server.gateway_links() else {
        return gossip;
    };
    if gossip {
        let urls: Vec<String> = info
            .extra
            .get("gateway_urls")
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default();
        gateways.gossiped(text("gateway"), &urls);
        return true;
    }
    if !text("gateway_url").is_empty() {
        gateways.peer_url(text("gateway_url"));
    }
    false
}

/// A message the peer routed: delivered to this server's subscribers.
fn publish(
    cluster: &Cluster,
    route: &Route,
    m: &RoutedMsg<'_>,
    caches: &mut AccountCaches,
    producer: &mut Producer,
) {
    route.count_in(m);
    // An account unknown here: dropped.
    let Some((account, cache)) = caches.get(&cluster.server.accounts, route.account_of(m.account)) else {
        return;
    };
    let mut msg = Message::routed(m, Origin::new(route.id, ConnKind::Route, true));
    // A subject or reply mapped by another cluster (`_GR_.`) is unmapped
    // for the clients here.
    let mapped = |s: &[u8]| s.starts_with(crate::mapped_reply::PREFIX);
    if mapped(m.subject) || m.reply.is_some_and(mapped) {
        if let Some(gateways) = cluster.server.gateway_links() {
            if !gateways.admit_routed(account, &mut msg) {
                return;
            }
        }
    }
    account.publish(&msg, Some(cache), producer);
}
