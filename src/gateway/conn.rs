//! One gateway connection: the handshake (the accepting side's `INFO`,
//! then the dialer's `CONNECT` and `INFO`), the other cluster's interest
//! kept as subscriptions here (outbound), this cluster's interest sent
//! to it (inbound), and messages both ways.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use junction_nats::route::{
    self as proto, GatewayInfo, RemoteInterest, RouteConnect, RouteOp, RouteParser, RoutedMsg,
    GATEWAY_CMD_ALL_SUBS_COMPLETE, GATEWAY_CMD_ALL_SUBS_START, GATEWAY_CMD_GOSSIP,
};
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::Gateways;
use crate::account::Account;
use crate::conn::{AccountCaches, CloseReason, ConnCore, PeerInterest, PeerPings};
use crate::mapped_reply;
use crate::message::{ConnKind, Origin};
use crate::outlet::Producer;
use crate::route::RouteUrl;
use crate::subscription::{Message, Subscriber, Subscription};

/// How long a new gateway connection has to complete its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(2);
/// nats-server sends PINGs on gateways at least every 15 s.
const GATEWAY_MAX_PING_INTERVAL: Duration = Duration::from_secs(15);

/// A connection to or from another cluster's server.
pub struct Gateway {
    core: ConnCore,
    /// This server dialled it: messages go out on it, interest comes in.
    outbound: bool,
    /// The other cluster's gateway name: the one dialled, or the one its
    /// `CONNECT` gave.
    remote: OnceLock<String>,
    /// Its hash, as mapped replies name that cluster.
    remote_hash: OnceLock<String>,
    /// The other server's `INFO`, once received.
    peer: OnceLock<GatewayInfo>,
    /// The handshake is done: interest and messages may flow.
    established: AtomicBool,
    /// Outbound: the other cluster's interest, as subscriptions here.
    interest: PeerInterest,
    /// Inbound: accounts whose interest was all sent (interest-only mode).
    switched: Mutex<HashSet<String>>,
    /// Inbound: every account known at the start was switched; one that
    /// shows interest later is switched then.
    ready: AtomicBool,
    /// Accounts told `A-` (unknown here).
    refused_accounts: Mutex<HashSet<Bytes>>,
    /// Outbound: the URL dialled, with the credentials to present.
    dialled_url: Mutex<Option<RouteUrl>>,
    pings: PeerPings,
    gateways: Weak<Gateways>,
    me: Weak<Gateway>,
}

impl std::ops::Deref for Gateway {
    type Target = ConnCore;

    fn deref(&self) -> &ConnCore {
        &self.core
    }
}

impl Gateway {
    fn new(gateways: &Arc<Gateways>, remote: SocketAddr, outbound: bool) -> Arc<Gateway> {
        let server = &gateways.server;
        let settings = server.client_settings("gateway");
        Arc::new_cyclic(|me| Gateway {
            core: ConnCore::new(
                server.next_client_id(),
                ConnKind::Gateway,
                "gateway",
                remote,
                server.global.clone(),
                settings,
            ),
            outbound,
            remote: OnceLock::new(),
            remote_hash: OnceLock::new(),
            peer: OnceLock::new(),
            established: AtomicBool::new(false),
            interest: PeerInterest::default(),
            switched: Mutex::new(HashSet::new()),
            ready: AtomicBool::new(false),
            refused_accounts: Mutex::new(HashSet::new()),
            dialled_url: Mutex::new(None),
            pings: PeerPings::default(),
            gateways: Arc::downgrade(gateways),
            me: me.clone(),
        })
    }

    /// The other cluster's gateway name, once known.
    pub fn remote_gateway(&self) -> Option<&str> {
        self.remote.get().map(String::as_str)
    }

    /// The hash of the other cluster's name in mapped replies.
    pub(super) fn remote_hash(&self) -> Option<&[u8]> {
        let name = self.remote.get()?;
        Some(
            self.remote_hash
                .get_or_init(|| mapped_reply::hash(name))
                .as_bytes(),
        )
    }

    /// What `/gatewayz` shows of it.
    pub(super) fn view(&self) -> crate::conn::GatewayView {
        let (out_msgs, out_bytes) = self.outlet.out_counts();
        let peer = self.peer.get();
        let num_subscriptions = self.interest.len();
        crate::conn::GatewayView {
            cid: self.id,
            name: self.remote.get().cloned().unwrap_or_default(),
            outbound: self.outbound,
            remote_id: peer.map(|p| p.server_id.clone()).unwrap_or_default(),
            remote_name: peer.map(|p| p.server_name.clone()).unwrap_or_default(),
            ip: self.core.remote.ip().to_string(),
            port: self.core.remote.port(),
            start: self.started,
            last_activity: self.last_activity(),
            rtt: self.pings.rtt(),
            pending: self.outlet.pending(),
            in_msgs: self.counters.in_msgs.load(Ordering::Relaxed),
            out_msgs,
            in_bytes: self.counters.in_bytes.load(Ordering::Relaxed),
            out_bytes,
            num_subscriptions,
            accounts: self.interest.by_account(),
        }
    }

    /// Sends this server's `INFO` again (its cluster's gateway URLs grew).
    pub(super) fn send_own_info(&self, gateways: &Gateways) {
        if self.established.load(Ordering::Acquire) {
            self.send_json(b"INFO ", &Gateway::info(gateways), b"\r\n");
        }
    }

    /// Closes it because this server stops.
    pub(super) fn close_for_shutdown(&self) {
        self.close_after_flush(CloseReason::ServerShutdown);
    }

    /// Inbound: all of `account`'s interest in this cluster, between the
    /// commands that switch the account to interest-only mode.
    pub(super) fn send_all_interest(&self, own_name: &str, account: &Account) {
        self.switched.lock().insert(account.name.clone());
        self.send_command(own_name, GATEWAY_CMD_ALL_SUBS_START, &account.name);
        let mut buf = BytesMut::new();
        account.each_total_interest(|subject, queue, total| {
            if total > 0 {
                let interest = RemoteInterest {
                    account: account.name.as_bytes(),
                    subject,
                    queue,
                    weight: 1,
                };
                proto::sub(&mut buf, None, &interest);
            }
        });
        self.send_proto(&buf);
        self.send_command(own_name, GATEWAY_CMD_ALL_SUBS_COMPLETE, &account.name);
    }

    /// Inbound: the accounts known at the start were all switched.
    pub(super) fn ready(&self) {
        self.ready.store(true, Ordering::Release);
    }

    /// Inbound: this cluster's first interest in a subject or queue group
    /// (`first`), or its last going away. A plain subject's goes only to
    /// an account in interest-only mode; an account seen for the first
    /// time is switched now.
    pub(super) fn send_interest(
        &self,
        own_name: &str,
        account: &str,
        subject: &[u8],
        queue: Option<&[u8]>,
        first: bool,
    ) {
        if !self.established.load(Ordering::Acquire) {
            return;
        }
        if queue.is_none() {
            let mut switched = self.switched.lock();
            if !switched.contains(account) {
                if !self.ready.load(Ordering::Acquire) {
                    // Its whole interest is about to be sent.
                    return;
                }
                switched.insert(account.to_string());
                drop(switched);
                self.send_command(own_name, GATEWAY_CMD_ALL_SUBS_START, account);
                if first {
                    self.send_interest_line(account, subject, None, true);
                }
                self.send_command(own_name, GATEWAY_CMD_ALL_SUBS_COMPLETE, account);
                return;
            }
        }
        self.send_interest_line(account, subject, queue, first);
    }

    fn send_interest_line(&self, account: &str, subject: &[u8], queue: Option<&[u8]>, first: bool) {
        let interest = RemoteInterest {
            account: account.as_bytes(),
            subject,
            queue,
            weight: 1,
        };
        let mut buf = BytesMut::with_capacity(subject.len() + account.len() + 32);
        if first {
            proto::sub(&mut buf, None, &interest);
        } else {
            proto::unsub(&mut buf, false, None, &interest);
        }
        self.send_proto(&buf);
    }

    fn send_command(&self, own_name: &str, cmd: u8, account: &str) {
        self.send_json(b"INFO ", &GatewayInfo::command(own_name, cmd, account), b"\r\n");
    }

    /// Outbound: answers to requests the other cluster mapped to its
    /// servers go out here, whatever its interest: a subscription to
    /// `_GR_.<its hash>.>` in `account`.
    pub(super) fn expect_answers(&self, account: &Account, hash: &[u8]) {
        let mut subject = mapped_reply::PREFIX.to_vec();
        subject.extend_from_slice(hash);
        subject.extend_from_slice(b".>");
        let interest = RemoteInterest {
            account: account.name.as_bytes(),
            subject: &subject,
            queue: None,
            weight: 1,
        };
        if let Some(me) = self.me.upgrade() {
            self.interest.add(account, &interest, 1, me);
        }
    }

    /// The other cluster's interest (`RS+`): a subscription here, a queue
    /// group's with weight 1 as nats-server announces them all.
    fn remote_sub(&self, gateways: &Gateways, i: &RemoteInterest<'_>) {
        let Some(account) = gateways.server.accounts.get(&String::from_utf8_lossy(i.account)) else {
            tracing::debug!(cid = self.id, "gateway interest in an unknown account ignored");
            return;
        };
        if let Some(me) = self.me.upgrade() {
            self.interest.add(&account, i, 1, me);
        }
    }

    /// This server's `INFO` for the other cluster.
    fn info(gateways: &Gateways) -> GatewayInfo {
        let server = &gateways.server;
        let (host, port) = match RouteUrl::parse(&format!("nats://{}", gateways.url)) {
            Ok(u) => (u.host, u.port),
            Err(_) => (gateways.addr.ip().to_string(), gateways.addr.port()),
        };
        GatewayInfo {
            server_id: server.id.clone(),
            server_name: server.name.clone(),
            version: crate::server::NATS_COMPAT_VERSION.to_string(),
            proto: 1,
            go: format!("junction {}", env!("CARGO_PKG_VERSION")),
            host,
            port,
            headers: true,
            auth_required: gateways.options.auth.username.is_some(),
            tls_required: gateways.tls.is_some(),
            tls_verify: gateways.options.tls.as_ref().is_some_and(|t| t.verify),
            max_payload: server.opts().max_payload,
            gateway: gateways.name.clone(),
            gateway_urls: gateways.cluster_urls.lock().clone(),
            gateway_url: gateways.url.clone(),
            gateway_nrp: true,
            gateway_iom: true,
            ..GatewayInfo::default()
        }
    }
}

impl Subscriber for Gateway {
    fn client_id(&self) -> u64 {
        self.id
    }

    fn kind(&self) -> ConnKind {
        ConnKind::Gateway
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
        let Some(gateways) = self.gateways.upgrade() else {
            return;
        };
        let mapped;
        let reply = match msg.reply {
            Some(reply) if gateways.maps_reply(&sub.sid, reply) => {
                mapped = [&gateways.reply_prefix[..], reply].concat();
                Some(&mapped[..])
            }
            other => other,
        };
        self.push_routed(msg, reply, &sub.sid, queues, producer, proto::msg);
    }
}

/// Serves a connection another cluster's server made: with `tls {}`,
/// TLS first, then this server's `INFO`, as between nats-servers.
pub(super) async fn accepted(gateways: Arc<Gateways>, stream: TcpStream, remote: SocketAddr) {
    let gateway = Gateway::new(&gateways, remote, false);
    match &gateways.tls {
        None => {
            gateway.send_json(b"INFO ", &Gateway::info(&gateways), b"\r\n");
            let (reader, writer) = stream.into_split();
            run(gateways, gateway, reader, writer).await;
        }
        Some((acceptor, dialer)) => match crate::tls::handshake(acceptor, stream, dialer.timeout).await {
            Ok(stream) => {
                gateway.send_json(b"INFO ", &Gateway::info(&gateways), b"\r\n");
                let (reader, writer) = tokio::io::split(stream);
                run(gateways, gateway, reader, writer).await;
            }
            Err(e) => tracing::warn!("gateway TLS handshake from {remote} failed: {e}"),
        },
    }
}

/// Serves a connection this server made to the gateway `name` at `url`
/// (`remote`), over TLS already when it is to be.
pub(super) async fn solicited<S>(
    gateways: Arc<Gateways>,
    name: String,
    url: RouteUrl,
    remote: SocketAddr,
    stream: S,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let gateway = Gateway::new(&gateways, remote, true);
    let _ = gateway.remote.set(name);
    tracing::debug!(
        "Creating outbound gateway connection to {:?} at {url}",
        gateway.remote_gateway()
    );
    *gateway.dialled_url.lock() = Some(url);
    let (reader, writer) = tokio::io::split(stream);
    run(gateways, gateway, reader, writer).await;
}

/// Serves a gateway connection until it closes, then forgets the other
/// cluster's interest.
async fn run<R, W>(gateways: Arc<Gateways>, gateway: Arc<Gateway>, reader: R, writer: W)
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    gateway.outlet.attach(Box::new(writer));
    let read_task = tokio::spawn(read(gateways.clone(), gateway.clone(), reader));
    let timing = {
        let (gateway, gateways) = (gateway.clone(), gateways.clone());
        move || {
            let s = gateway.settings();
            let ping = s
                .ping_interval
                .min(GATEWAY_MAX_PING_INTERVAL)
                .max(Duration::from_millis(10));
            // As a route's: the other cluster's slowest reader slows it.
            (
                gateways.options.write_deadline.unwrap_or(s.write_deadline * 2),
                ping,
            )
        }
    };
    let ping_max = {
        let gateway = gateway.clone();
        move || gateway.settings().ping_max
    };
    gateway.write_to_peer(&gateway.pings, timing, ping_max).await;
    read_task.abort();
    gateway.established.store(false, Ordering::Relaxed);
    gateways.remove(&gateway);
    gateway.interest.remove_all(&gateways.server.accounts);
    if let Some(peer) = gateway.peer.get() {
        tracing::info!(
            cid = gateway.id,
            "Gateway connection {} {:?} ({}) closed: {}",
            if gateway.outbound { "to" } else { "from" },
            gateway.remote_gateway().unwrap_or_default(),
            peer.server_id,
            gateway.close_reason().unwrap_or(CloseReason::ClientClosed)
        );
    }
}

/// The reader: the handshake first, then interest and messages.
async fn read<R: AsyncRead + Unpin>(gateways: Arc<Gateways>, gateway: Arc<Gateway>, mut reader: R) {
    let settings = gateway.settings();
    let mut parser = RouteParser::new(settings.max_control_line, settings.max_payload);
    let mut caches = AccountCaches::default();
    // An accepted connection must CONNECT first.
    let mut connected = gateway.outbound;
    let deadline = tokio::time::Instant::now() + gateways.options.auth.timeout.unwrap_or(HANDSHAKE_TIMEOUT);
    let handshake = || (!gateway.established.load(Ordering::Relaxed)).then_some(deadline);
    let buf = BytesMut::with_capacity(64 * 1024);
    gateway
        .serve_peer(&mut reader, buf, &mut parser, handshake, |op, producer, _| {
            let established = gateway.established.load(Ordering::Relaxed);
            match op {
                RouteOp::Msg(m) if established => {
                    publish(&gateways, &gateway, &m, &mut caches, producer);
                    Ok(())
                }
                RouteOp::Sub(i) if established && gateway.outbound => {
                    gateway.remote_sub(&gateways, &i);
                    Ok(())
                }
                RouteOp::Unsub(i) if established && gateway.outbound => {
                    gateway.interest.remove(&gateways.server.accounts, &i);
                    Ok(())
                }
                // The other cluster has no interest in an account at all,
                // or again: what it announced per subject says as much.
                RouteOp::AccountSub(_) | RouteOp::AccountUnsub(_) => Ok(()),
                RouteOp::Ping => {
                    gateway.send_proto(junction_nats::PONG);
                    Ok(())
                }
                RouteOp::Pong => {
                    gateway.pings.pong();
                    Ok(())
                }
                RouteOp::Ok => Ok(()),
                RouteOp::Err(text) => {
                    tracing::warn!(
                        cid = gateway.id,
                        "gateway error from {:?}: {}",
                        gateway.remote_gateway().unwrap_or_default(),
                        String::from_utf8_lossy(text)
                    );
                    Err(CloseReason::ParseError)
                }
                RouteOp::Connect(json) if !gateway.outbound && !connected => {
                    check_connect(&gateways, &gateway, json).map(|()| connected = true)
                }
                RouteOp::Info(json) if connected => on_info(&gateways, &gateway, json),
                _ => Err(CloseReason::ProtocolViolation),
            }
        })
        .await;
}

/// An accepted connection's `CONNECT`: from a gateway, with the
/// credentials of `gateway { authorization }`, and one configured here
/// when unknown ones are refused.
fn check_connect(gateways: &Gateways, gateway: &Gateway, json: &[u8]) -> Result<(), CloseReason> {
    let connect: RouteConnect = serde_json::from_slice(json).map_err(|_| CloseReason::ParseError)?;
    if connect.gateway.is_empty() {
        gateway.send_err("attempted to connect to gateway port");
        return Err(CloseReason::ProtocolViolation);
    }
    let auth = &gateways.options.auth;
    if let Some(user) = &auth.username {
        let ok = connect.user == *user
            && crate::auth::secret_matches(auth.password.as_deref().unwrap_or(""), &connect.pass);
        if !ok {
            tracing::warn!(
                cid = gateway.id,
                "gateway {:?} refused: bad credentials",
                connect.gateway
            );
            gateway.send_err("Authorization Violation");
            return Err(CloseReason::AuthenticationViolation);
        }
    }
    if gateways.options.reject_unknown && !gateways.remotes.lock().contains_key(&connect.gateway) {
        tracing::warn!(
            cid = gateway.id,
            "Rejecting connection from gateway {:?}",
            connect.gateway
        );
        gateway.send_err(&format!("Connection to gateway {:?} rejected", gateways.name));
        return Err(CloseReason::AuthenticationViolation);
    }
    let _ = gateway.remote.set(connect.gateway);
    Ok(())
}

/// The other server's `INFO`. On an outbound connection the first one is
/// checked (the right gateway), answered with `CONNECT` and this server's
/// `INFO`, and later ones tell of other gateways or switch accounts. On an
/// inbound one, the first completes the handshake.
fn on_info(gateways: &Arc<Gateways>, gateway: &Arc<Gateway>, json: &[u8]) -> Result<(), CloseReason> {
    let info: GatewayInfo = serde_json::from_slice(json).map_err(|_| CloseReason::ParseError)?;
    let expected = gateway.remote_gateway().unwrap_or_default().to_string();
    if gateway.peer.get().is_some() {
        if info.gateway_cmd == GATEWAY_CMD_GOSSIP && info.gateway != expected {
            gateways.learn(&info.gateway, &info.gateway_urls);
        } else if info.gateway == expected && !info.gateway_urls.is_empty() {
            gateways.learn(&expected, &info.gateway_urls);
        }
        // The commands switching an account to interest-only need nothing
        // here: every `RS+` is kept, in any mode.
        return Ok(());
    }
    if !gateway.outbound {
        return inbound_established(gateways, gateway, info);
    }
    if info.gateway.is_empty() {
        gateway.send_err(&format!(
            "Attempt to connect to gateway {expected:?} using wrong port"
        ));
        return Err(CloseReason::ProtocolViolation);
    }
    if info.gateway != expected {
        tracing::warn!(
            cid = gateway.id,
            "Failing connection to gateway {expected:?}, remote gateway name is {:?}",
            info.gateway
        );
        gateway.send_err(&format!(
            "Connection from {:?} rejected, wanted to connect to {expected:?}, this is {:?}",
            gateways.name, info.gateway
        ));
        return Err(CloseReason::ProtocolViolation);
    }
    gateways.learn(&expected, &info.gateway_urls);
    let url = gateway.dialled_url.lock().clone();
    let own = &gateways.options.auth;
    let connect = RouteConnect {
        user: url
            .as_ref()
            .and_then(|u| u.user.clone())
            .or_else(|| own.username.clone())
            .unwrap_or_default(),
        pass: url
            .as_ref()
            .and_then(|u| u.password.clone())
            .or_else(|| own.password.clone())
            .unwrap_or_default(),
        name: gateways.server.id.clone(),
        gateway: gateways.name.clone(),
        tls_required: gateways
            .remotes
            .lock()
            .get(&expected)
            .is_some_and(|r| r.tls.is_some()),
        ..RouteConnect::default()
    };
    gateway.send_json(b"CONNECT ", &connect, b"\r\n");
    gateway.send_json(b"INFO ", &Gateway::info(gateways), b"\r\n");
    let id = info.server_id.clone();
    let urls = info.gateway_urls.clone();
    let _ = gateway.peer.set(info);
    if !gateways.register_outbound(&expected, gateway) {
        tracing::debug!(
            cid = gateway.id,
            "a second outbound connection to {expected:?} dropped"
        );
        return Err(CloseReason::DuplicateRoute);
    }
    gateway.established.store(true, Ordering::Release);
    tracing::info!(
        cid = gateway.id,
        "Outbound gateway connection to {expected:?} ({id}) registered"
    );
    // The other servers of this cluster connect to that cluster too.
    if let Some(links) = gateways.server.links() {
        links.broadcast(&super::gossip_line(&gateways.server, expected, urls));
    }
    Ok(())
}

/// An inbound connection's first `INFO`: it starts hearing of this
/// cluster's interest, this server connects back to that cluster (if it
/// was not already), and learns of the other gateways known here.
fn inbound_established(
    gateways: &Arc<Gateways>,
    gateway: &Arc<Gateway>,
    info: GatewayInfo,
) -> Result<(), CloseReason> {
    let name = gateway.remote_gateway().unwrap_or(&info.gateway).to_string();
    let id = info.server_id.clone();
    let urls = info.gateway_urls.clone();
    let _ = gateway.peer.set(info);
    gateway.established.store(true, Ordering::Release);
    tracing::info!(
        cid = gateway.id,
        "Inbound gateway connection from {name:?} ({id}) registered"
    );
    gateways.register_inbound(gateway);
    gateways.learn(&name, &urls);
    for (other, known, _) in crate::conn::GatewayLinks::remotes(gateways.as_ref()) {
        if other == name || known.is_empty() {
            continue;
        }
        let gossip = GatewayInfo {
            server_id: gateways.server.id.clone(),
            gateway: other,
            gateway_urls: known,
            gateway_cmd: GATEWAY_CMD_GOSSIP,
            ..GatewayInfo::default()
        };
        gateway.send_json(b"INFO ", &gossip, b"\r\n");
    }
    Ok(())
}

/// A message from the other cluster: delivered in this cluster. One
/// mapped to this cluster goes to the server that mapped it.
fn publish(
    gateways: &Gateways,
    gateway: &Gateway,
    m: &RoutedMsg<'_>,
    caches: &mut AccountCaches,
    producer: &mut Producer,
) {
    gateway.count_in(m);
    let Some((account, cache)) = caches.get(&gateways.server.accounts, m.account) else {
        // Unknown here: the other cluster is told not to send more.
        if gateway
            .refused_accounts
            .lock()
            .insert(Bytes::copy_from_slice(m.account))
        {
            let mut b = BytesMut::new();
            proto::account_interest(&mut b, false, m.account);
            gateway.send_proto(&b);
        }
        return;
    };
    let mut msg = Message::routed(m, Origin::new(gateway.id, ConnKind::Gateway, true));
    if let Some(routed) = mapped_reply::parse(m.subject) {
        let Some(plain) = gateways.unmap_subject(&routed) else {
            return;
        };
        if !gateways.is_this_server(routed.server) {
            if let Some(links) = gateways.server.links() {
                if links.forward_to(routed.server, &account.name, &msg, producer) {
                    return;
                }
            }
        }
        msg.set_routing_subject(plain);
    }
    gateways.unmap_reply(account, &mut msg);
    account.publish(&msg, Some(cache), producer);
}
