//! One leaf node connection, bound to one account on each side: the
//! handshake (the hub's `INFO`, the leaf's `CONNECT`), the peer's interest
//! kept as subscriptions of kind `Leaf` in the account, the messages it
//! sends published here, and this side's interest announced to it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use junction_nats::route::{self as proto, RemoteInterest, RouteOp, RouteParser, RoutedMsg};
use parking_lot::Mutex;
use serde_json::json;
use tokio::io::{AsyncRead, AsyncWrite};

use super::LeafNodes;
use crate::account::{Account, InterestChange, MatchCache};
use crate::conn::{CloseReason, ConnCore, PeerInterest, PeerPings};
use crate::message::{ConnKind, Origin};
use crate::outlet::Producer;
use crate::subscription::{Message, Subscriber, Subscription};

/// How long a leaf node has to complete its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(2);

/// Interest by subject and queue group (the account is the connection's).
type Key = (Bytes, Option<Bytes>);

/// A hub's `INFO`, as far as a leaf reads it.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct HubInfo {
    server_id: String,
    server_name: String,
    /// Signed with the remote's credentials.
    nonce: String,
    /// The hub cluster's leaf node ports (`host:port`), to reconnect to.
    leafnode_urls: Vec<String>,
}

/// How a remote proves who it is to the hub, signing the hub's nonce with
/// a seed: a `.creds` file's user JWT, or a bare `nkey`.
pub(super) enum Credentials {
    Jwt { jwt: String, seed: String },
    Nkey { public: String, seed: String },
}

/// One of `leafnodes { remotes }`: the local account it binds, and how it
/// authenticates beyond the user and password of its URL.
#[derive(Clone)]
pub(super) struct Remote {
    pub account: Arc<Account>,
    pub credentials: Option<Arc<Credentials>>,
    /// `ws://` URLs: the hub's WebSocket port.
    pub websocket: bool,
    /// TLS to the hub: `tls {}`, or `tls://` URLs (with defaults).
    pub tls: Option<crate::tls::TlsOptions>,
    /// The hub's other leaf node ports it announced (`leafnode_urls`),
    /// tried too when the connection goes.
    pub discovered: Arc<Mutex<Vec<String>>>,
}

/// A leaf's `CONNECT`, as far as a hub reads it.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct LeafConnect {
    user: String,
    pass: String,
    server_id: String,
    name: String,
    /// Clients send `lang`; leaf nodes do not.
    lang: String,
}

/// A leaf node connection: to a hub (solicited) or from a leaf.
pub struct Leaf {
    core: ConnCore,
    solicited: bool,
    /// The peer server's name (or id), once the handshake told it.
    remote_name: OnceLock<String>,
    established: AtomicBool,
    /// The peer's interest, as subscriptions in the account here.
    interest: PeerInterest,
    /// Hub side: the leaf node ports the leaf was last told of.
    told_urls: Mutex<Vec<String>>,
    /// What this side announced to the peer, with the weight sent.
    sent: Mutex<HashMap<Key, u32>>,
    pings: PeerPings,
    /// Where a solicited leaf keeps the hub's announced leaf node ports.
    discovered: OnceLock<Arc<Mutex<Vec<String>>>>,
    /// A solicited leaf's credentials for the hub.
    credentials: OnceLock<Option<Arc<Credentials>>>,
    /// A loop was found through this connection: the leaf waits longer
    /// before connecting again.
    looped: AtomicBool,
    /// The server's system account: more stays on each side of a leaf
    /// connection bound to it (see `deny`).
    system_account: Weak<Account>,
    me: Weak<Leaf>,
}

impl std::ops::Deref for Leaf {
    type Target = ConnCore;

    fn deref(&self) -> &ConnCore {
        &self.core
    }
}

impl Leaf {
    fn new(nodes: &LeafNodes, remote: SocketAddr, solicited: bool, account: Arc<Account>) -> Arc<Leaf> {
        let server = &nodes.server;
        Arc::new_cyclic(|me| Leaf {
            core: ConnCore::new(
                server.next_client_id(),
                ConnKind::Leaf,
                "leaf",
                remote,
                account,
                server.client_settings("leaf"),
            ),
            solicited,
            remote_name: OnceLock::new(),
            established: AtomicBool::new(false),
            interest: PeerInterest::default(),
            told_urls: Mutex::new(Vec::new()),
            sent: Mutex::new(HashMap::new()),
            pings: PeerPings::default(),
            credentials: OnceLock::new(),
            discovered: OnceLock::new(),
            looped: AtomicBool::new(false),
            system_account: Arc::downgrade(&server.accounts.system),
            me: me.clone(),
        })
    }

    /// What `/leafz` shows of it.
    pub(super) fn view(&self, with_subs: bool) -> crate::conn::LeafView {
        let (out_msgs, out_bytes) = self.outlet.out_counts();
        let subscriptions = with_subs.then(|| {
            self.interest
                .by_account()
                .into_iter()
                .flat_map(|(_, subs)| subs)
                .collect()
        });
        crate::conn::LeafView {
            id: self.id,
            name: self.remote_name().unwrap_or_default().to_string(),
            is_spoke: self.solicited,
            account: self.account().name.clone(),
            ip: self.remote.ip().to_string(),
            port: self.remote.port(),
            in_msgs: self.counters.in_msgs.load(Ordering::Relaxed),
            out_msgs,
            in_bytes: self.counters.in_bytes.load(Ordering::Relaxed),
            out_bytes,
            num_subscriptions: self.interest.len(),
            subscriptions,
            rtt: self.pings.rtt(),
        }
    }

    /// Hub side: the cluster's leaf node ports changed, so the leaf gets
    /// an `INFO` with the new list (it reconnects to those when this hub
    /// goes), as nats-server sends it.
    pub(super) fn hub_urls_changed(&self, nodes: &LeafNodes) {
        if self.solicited || !self.established.load(Ordering::Relaxed) {
            return;
        }
        if *self.told_urls.lock() == hub_leaf_urls(nodes) {
            return;
        }
        self.send_proto(&hub_info(nodes, self));
    }

    /// The peer server's name, once known.
    pub fn remote_name(&self) -> Option<&str> {
        self.remote_name.get().map(String::as_str)
    }

    pub fn is_solicited(&self) -> bool {
        self.solicited
    }

    /// Closes the connection of a server that stops.
    pub(super) fn shut_down(&self) {
        self.close_after_flush(CloseReason::ServerShutdown);
    }

    /// An interest change in the account: the peer hears of what this side
    /// has beyond the peer's own subscriptions (never its own interest
    /// back), as `LS+` with a queue group's weight, or `LS-`.
    pub(super) fn interest_changed(&self, change: &InterestChange<'_>) {
        if !self.established.load(Ordering::Relaxed) {
            return;
        }
        self.announce(change.subject, change.queue, change.everywhere);
    }

    /// Announces `count` subscriptions to `subject`/`queue` here, less the
    /// peer's own, if that changes what the peer was told.
    fn announce(&self, subject: &[u8], queue: Option<&[u8]>, count: u32) {
        if self.stays_here(subject) {
            return;
        }
        let key: Key = (Bytes::copy_from_slice(subject), queue.map(Bytes::copy_from_slice));
        let own = u32::from(
            self.interest
                .contains(self.account().name.as_bytes(), subject, queue),
        );
        let others = count.saturating_sub(own);
        let mut sent = self.sent.lock();
        let before = sent.get(&key).copied();
        let interest = RemoteInterest {
            account: &[],
            subject,
            queue,
            weight: others,
        };
        let mut buf = BytesMut::new();
        match (before, others) {
            (Some(_), 0) => {
                sent.remove(&key);
                proto::leaf_unsub(&mut buf, &interest);
            }
            (None, 0) => return,
            // A plain subject's interest is told once; a queue group's
            // weight at every change.
            (Some(w), n) if queue.is_none() || w == n => return,
            (_, n) => {
                sent.insert(key, n);
                proto::leaf_sub(&mut buf, &interest);
            }
        }
        drop(sent);
        self.send_proto(&buf);
    }

    /// Whether interest in `subject` or a message on it must not cross
    /// this connection (see `deny`).
    fn stays_here(&self, subject: &[u8]) -> bool {
        super::deny::denied(subject, || {
            self.system_account
                .upgrade()
                .is_some_and(|system| Arc::ptr_eq(&system, &self.account()))
        })
    }

    /// The peer announced interest (`LS+`): a subscription here, or a
    /// queue group's new weight.
    fn remote_sub(&self, i: &RemoteInterest<'_>) {
        if self.stays_here(i.subject) {
            return;
        }
        let account = self.account();
        let Some(me) = self.me.upgrade() else { return };
        let i = RemoteInterest {
            account: account.name.as_bytes(),
            ..*i
        };
        self.interest.add(&account, &i, i.weight.max(1), me);
    }

    /// The peer's interest went (`LS-`).
    fn remote_unsub(&self, accounts: &crate::account::Accounts, i: &RemoteInterest<'_>) {
        let account = self.account();
        let i = RemoteInterest {
            account: account.name.as_bytes(),
            ..*i
        };
        self.interest.remove(accounts, &i);
    }

    /// The handshake is done: the peer learns this side's interest, and the
    /// account's loop detection subject.
    fn establish(&self, nodes: &LeafNodes) {
        let account = self.account();
        self.established.store(true, Ordering::Relaxed);
        account.each_interest_everywhere(|subject, queue, count| self.announce(subject, queue, count));
        let lds = nodes.loop_subject(&account.name);
        let mut buf = BytesMut::new();
        proto::leaf_sub(
            &mut buf,
            &RemoteInterest {
                account: &[],
                subject: lds.as_bytes(),
                queue: None,
                weight: 0,
            },
        );
        self.send_proto(&buf);
        tracing::info!(
            cid = self.id,
            "Leafnode connection created for account: {} ({})",
            account.name,
            self.remote_name().unwrap_or("")
        );
    }
}

impl Subscriber for Leaf {
    fn client_id(&self) -> u64 {
        self.id
    }

    fn kind(&self) -> ConnKind {
        ConnKind::Leaf
    }

    /// Not called: the router hands peers `deliver_routed`.
    fn deliver(&self, _sub: &Subscription, _msg: &Message<'_>, _producer: &mut Producer) {}

    fn deliver_routed(
        &self,
        _sub: &Subscription,
        msg: &Message<'_>,
        queues: &[&[u8]],
        producer: &mut Producer,
    ) {
        if !self.established.load(Ordering::Relaxed) || self.stays_here(msg.routing_subject()) {
            return;
        }
        self.push_routed(msg, msg.reply, &[], queues, producer, proto::leaf_msg);
    }
}

/// This hub's leaf node port, then those of the rest of its cluster.
fn hub_leaf_urls(nodes: &LeafNodes) -> Vec<String> {
    let server = &nodes.server;
    let mut leafnode_urls = server.leaf_urls();
    if let Some(links) = server.links() {
        for url in links.peer_leaf_urls() {
            if !leafnode_urls.contains(&url) {
                leafnode_urls.push(url);
            }
        }
    }
    leafnode_urls
}

/// The hub's `INFO` for a leaf that connected.
fn hub_info(nodes: &LeafNodes, leaf: &Leaf) -> Vec<u8> {
    let server = &nodes.server;
    let leafnode_urls = hub_leaf_urls(nodes);
    *leaf.told_urls.lock() = leafnode_urls.clone();
    let info = json!({
        "server_id": server.id,
        "server_name": server.name,
        "version": crate::server::NATS_COMPAT_VERSION,
        "proto": 1,
        "go": format!("junction {}", env!("CARGO_PKG_VERSION")),
        "host": nodes.addr.map(|a| a.ip().to_string()).unwrap_or_default(),
        "port": nodes.addr.map_or(0, |a| a.port()),
        "headers": true,
        "auth_required": nodes.options.auth.username.is_some() || !nodes.users.is_empty(),
        "max_payload": server.opts().max_payload,
        "client_id": leaf.id,
        "tls_required": nodes.options.tls.is_some(),
        "tls_verify": nodes.options.tls.as_ref().is_some_and(|t| t.verify),
        // A leaf checks for these to know it reached a leaf node port.
        "leafnode_urls": leafnode_urls,
    });
    format!("INFO {info} \r\n").into_bytes()
}

/// A leaf's `CONNECT` to the hub at `url` (credentials from the URL).
fn leaf_connect(
    nodes: &LeafNodes,
    url: &crate::route::RouteUrl,
    credentials: Option<&Credentials>,
    nonce: &str,
) -> Vec<u8> {
    let server = &nodes.server;
    let mut connect = json!({
        "version": crate::server::NATS_COMPAT_VERSION,
        "server_id": server.id,
        "name": server.name,
        "headers": true,
    });
    if let Some(user) = &url.user {
        connect["user"] = json!(user);
        connect["pass"] = json!(url.password.as_deref().unwrap_or(""));
    }
    match credentials {
        Some(Credentials::Jwt { jwt, seed }) => {
            connect["jwt"] = json!(jwt);
            // A seed that cannot sign leaves the hub to refuse the connection.
            connect["sig"] = json!(crate::jwt::sign_nonce(seed, nonce).unwrap_or_default());
        }
        Some(Credentials::Nkey { public, seed }) => {
            connect["nkey"] = json!(public);
            connect["sig"] = json!(crate::jwt::sign_nonce(seed, nonce).unwrap_or_default());
        }
        None => {}
    }
    format!("CONNECT {connect}\r\n").into_bytes()
}

/// Serves a leaf node that connected to this server's leaf node port.
pub(super) async fn accepted<R, W>(nodes: Arc<LeafNodes>, remote: SocketAddr, reader: R, writer: W)
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let leaf = Leaf::new(&nodes, remote, false, nodes.hub_account());
    leaf.send_proto(&hub_info(&nodes, &leaf));
    run(nodes, leaf, (reader, writer), None, Vec::new()).await;
}

/// Serves a leaf node on a hub with `leafnodes { tls {} }`: the INFO in
/// the clear, then TLS, then the leaf's CONNECT, as nats-server does.
pub(super) async fn accepted_tls(
    nodes: Arc<LeafNodes>,
    mut stream: tokio::net::TcpStream,
    remote: SocketAddr,
    acceptor: tokio_rustls::TlsAcceptor,
    timeout: Duration,
) {
    use tokio::io::AsyncWriteExt;
    let leaf = Leaf::new(&nodes, remote, false, nodes.hub_account());
    if stream.write_all(&hub_info(&nodes, &leaf)).await.is_err() {
        return;
    }
    match crate::tls::handshake(&acceptor, stream, timeout).await {
        Ok(tls) => run(nodes, leaf, tokio::io::split(tls), None, Vec::new()).await,
        Err(e) => tracing::warn!("leafnode TLS handshake from {remote} failed: {e}"),
    }
}

/// Reads the hub's INFO line (and whatever came with it) before anything
/// else, to know whether TLS comes next.
async fn read_info(stream: &mut tokio::net::TcpStream) -> anyhow::Result<Vec<u8>> {
    use tokio::io::AsyncReadExt;
    let mut got = Vec::with_capacity(4096);
    let read = async {
        while !got.windows(2).any(|w| w == b"\r\n") {
            if got.len() > 64 * 1024 || stream.read_buf(&mut got).await? == 0 {
                anyhow::bail!("no INFO from the hub");
            }
        }
        Ok(())
    };
    tokio::time::timeout(HANDSHAKE_TIMEOUT, read).await??;
    Ok(got)
}

/// Connects to a hub at `url` as a leaf node and serves the connection
/// until it closes; returns whether it was closed for a loop.
pub(super) async fn solicited(
    nodes: Arc<LeafNodes>,
    url: crate::route::RouteUrl,
    remote: Remote,
) -> anyhow::Result<bool> {
    let mut stream = tokio::net::TcpStream::connect(url.address()).await?;
    let _ = stream.set_nodelay(true);
    let peer = stream.peer_addr()?;
    let leaf = Leaf::new(&nodes, peer, true, remote.account.clone());
    let _ = leaf.credentials.set(remote.credentials);
    let _ = leaf.discovered.set(remote.discovered);
    if remote.websocket {
        // A hub's WebSocket port takes leaf nodes on nats-server's path;
        // `wss://` is TLS first, checked as for a `tls://` hub.
        let ws_url = format!("ws://{}/leafnode", url.address());
        match &remote.tls {
            None => {
                let halves = junction_websocket::connect(stream, &ws_url).await?;
                run(nodes, leaf.clone(), halves, Some(url), Vec::new()).await;
            }
            Some(tls) => {
                let stream = tls_connect(tls, &url, stream).await?;
                let halves = junction_websocket::connect(stream, &ws_url).await?;
                run(nodes, leaf.clone(), halves, Some(url), Vec::new()).await;
            }
        }
        return Ok(leaf.looped.load(Ordering::Relaxed));
    }
    let info = read_info(&mut stream).await?;
    let hub_wants_tls = String::from_utf8_lossy(&info).contains("\"tls_required\":true");
    match (&remote.tls, hub_wants_tls) {
        (None, false) => run(nodes, leaf.clone(), stream.into_split(), Some(url), info).await,
        (tls, _) => {
            // TLS when configured or when the hub asks, the hub checked
            // against the system's roots without a `ca_file`.
            let stream = tls_connect(&tls.clone().unwrap_or_default(), &url, stream).await?;
            run(nodes, leaf.clone(), tokio::io::split(stream), Some(url), info).await;
        }
    }
    Ok(leaf.looped.load(Ordering::Relaxed))
}

/// The client side of TLS with the hub at `url`, checked against its host
/// (`ca_file`, else the system's roots).
async fn tls_connect(
    tls: &crate::tls::TlsOptions,
    url: &crate::route::RouteUrl,
    stream: tokio::net::TcpStream,
) -> anyhow::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    let connector = tokio_rustls::TlsConnector::from(crate::tls::remote_client_config(tls)?);
    let name = rustls::pki_types::ServerName::try_from(url.host.clone())?;
    Ok(tokio::time::timeout(tls.timeout, connector.connect(name, stream)).await??)
}

async fn run<R, W>(
    nodes: Arc<LeafNodes>,
    leaf: Arc<Leaf>,
    (reader, writer): (R, W),
    url: Option<crate::route::RouteUrl>,
    read_before: Vec<u8>,
) where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    leaf.outlet.attach(Box::new(writer));
    nodes.add(&leaf);
    let read_task = tokio::spawn(read(nodes.clone(), leaf.clone(), reader, url, read_before));
    let keepalive = {
        let leaf = leaf.clone();
        move || {
            let s = leaf.settings();
            (
                s.write_deadline * 2,
                s.ping_interval.max(Duration::from_millis(10)),
            )
        }
    };
    leaf.write_to_peer(&leaf.pings, keepalive, || leaf.settings().ping_max)
        .await;
    read_task.abort();
    leaf.established.store(false, Ordering::Relaxed);
    nodes.remove(&leaf);
    leaf.interest.remove_all(&nodes.server.accounts);
    tracing::info!(
        cid = leaf.id,
        "Leafnode connection to {} closed: {}",
        leaf.remote_name().unwrap_or("?"),
        leaf.close_reason().unwrap_or(CloseReason::ClientClosed)
    );
}

/// The reader: the handshake, then interest and messages.
async fn read<R: AsyncRead + Unpin>(
    nodes: Arc<LeafNodes>,
    leaf: Arc<Leaf>,
    mut reader: R,
    url: Option<crate::route::RouteUrl>,
    read_before: Vec<u8>,
) {
    let settings = leaf.settings();
    let mut parser = RouteParser::leaf(settings.max_control_line, settings.max_payload);
    let mut buf = BytesMut::with_capacity(64 * 1024);
    // What was read before TLS started (the hub's INFO) is parsed first.
    buf.extend_from_slice(&read_before);
    let mut cache = MatchCache::default();
    // The hub's account until the leaf's user names another.
    let mut account = leaf.account();
    let mut lds = nodes.loop_subject(&account.name);
    let timeout = nodes.options.auth.timeout.unwrap_or(HANDSHAKE_TIMEOUT);
    let deadline = tokio::time::Instant::now() + timeout;
    let handshake = || (!leaf.established.load(Ordering::Relaxed)).then_some(deadline);
    leaf.serve_peer(&mut reader, buf, &mut parser, handshake, |op, producer, _| {
        let established = leaf.established.load(Ordering::Relaxed);
        match op {
            RouteOp::Msg(m) if established => {
                publish(&leaf, &account, &m, &mut cache, producer);
                Ok(())
            }
            RouteOp::LeafSub { interest, .. } if established => {
                if interest.subject == lds.as_bytes() {
                    let text = format!(
                        "Loop detected for leafnode account={:?}. Delaying attempt to reconnect for {}s",
                        account.name,
                        super::LOOP_DELAY.as_secs()
                    );
                    tracing::error!(cid = leaf.id, "{text}");
                    leaf.send_err(&text);
                    leaf.looped.store(true, Ordering::Relaxed);
                    Err(CloseReason::ProtocolViolation)
                } else {
                    leaf.remote_sub(&interest);
                    Ok(())
                }
            }
            RouteOp::LeafUnsub { interest, .. } if established => {
                leaf.remote_unsub(&nodes.server.accounts, &interest);
                Ok(())
            }
            RouteOp::Ping => {
                leaf.send_proto(junction_nats::PONG);
                Ok(())
            }
            RouteOp::Pong => {
                leaf.pings.pong();
                Ok(())
            }
            RouteOp::Ok => Ok(()),
            RouteOp::Err(text) => {
                if text.windows(13).any(|w| w == b"Loop detected") {
                    leaf.looped.store(true, Ordering::Relaxed);
                }
                tracing::warn!(
                    cid = leaf.id,
                    "leaf node error from {}: {}",
                    leaf.remote_name().unwrap_or("peer"),
                    String::from_utf8_lossy(text)
                );
                Err(CloseReason::ParseError)
            }
            // The hub's INFO: the leaf answers with its CONNECT and is
            // linked. Later INFOs (URL updates) are not needed here.
            RouteOp::Info(json) if leaf.solicited => {
                let info: HubInfo = serde_json::from_slice(json).unwrap_or_default();
                if let Some(discovered) = leaf.discovered.get() {
                    if !info.leafnode_urls.is_empty() {
                        *discovered.lock() = info.leafnode_urls.clone();
                    }
                }
                if !established {
                    let name = if info.server_name.is_empty() {
                        info.server_id
                    } else {
                        info.server_name
                    };
                    let _ = leaf.remote_name.set(name);
                    if let Some(url) = &url {
                        let credentials = leaf.credentials.get().and_then(|c| c.as_deref());
                        leaf.send_proto(&leaf_connect(&nodes, url, credentials, &info.nonce));
                    }
                    leaf.establish(&nodes);
                }
                Ok(())
            }
            RouteOp::Connect(json) if !leaf.solicited && !established => match check_connect(&nodes, json) {
                Ok((name, bound)) => {
                    let _ = leaf.remote_name.set(name);
                    if let Some(bound) = bound {
                        leaf.set_account(bound);
                        account = leaf.account();
                        lds = nodes.loop_subject(&account.name);
                    }
                    leaf.establish(&nodes);
                    Ok(())
                }
                Err((text, reason)) => {
                    leaf.send_err(text);
                    Err(reason)
                }
            },
            _ => {
                leaf.send_err("Authorization Violation");
                Err(CloseReason::AuthenticationViolation)
            }
        }
    })
    .await;
}

/// Why a leaf's `CONNECT` is refused: the `-ERR` text and the close reason.
type Refusal = (&'static str, CloseReason);

/// A leaf's `CONNECT`: its credentials. Returns the leaf's name and the
/// account its user binds (when the hub has a users list), or the error to
/// send and why the connection closes.
fn check_connect(nodes: &LeafNodes, json: &[u8]) -> Result<(String, Option<Arc<Account>>), Refusal> {
    const REFUSED: Refusal = ("Authorization Violation", CloseReason::AuthenticationViolation);
    let connect: LeafConnect = serde_json::from_slice(json).map_err(|_| REFUSED)?;
    if !connect.lang.is_empty() {
        return Err((
            "attempted to connect to leaf node port",
            CloseReason::ProtocolViolation,
        ));
    }
    let auth = &nodes.options.auth;
    if let Some(user) = &auth.username {
        let ok = connect.user == *user
            && crate::auth::secret_matches(auth.password.as_deref().unwrap_or(""), &connect.pass);
        if !ok {
            return Err(REFUSED);
        }
    }
    // With a users list, the user presented names the account bound.
    let mut bound = None;
    if !nodes.users.is_empty() {
        let (_, account) = nodes
            .users
            .iter()
            .find(|(u, _)| u.user == connect.user && crate::auth::secret_matches(&u.password, &connect.pass))
            .ok_or(REFUSED)?;
        bound = Some(account.clone());
    }
    let name = if connect.name.is_empty() {
        connect.server_id
    } else {
        connect.name
    };
    Ok((name, bound))
}

/// A message the leaf node sent: published in the account here, to local
/// subscribers, the routes and the other leaf nodes, and to the queue
/// groups it names.
fn publish(
    leaf: &Leaf,
    account: &Account,
    m: &RoutedMsg<'_>,
    cache: &mut MatchCache,
    producer: &mut Producer,
) {
    leaf.count_in(m);
    if leaf.stays_here(m.subject) {
        return;
    }
    let msg = Message::routed(m, Origin::new(leaf.id, ConnKind::Leaf, true));
    account.publish(&msg, Some(cache), producer);
}
