//! One client connection: the state shared between its reader task, its
//! writer task and the publishers delivering to it.
//!
//! Deliveries append to the client's outlet (`crate::outlet`), which the
//! producer flushes at the end of its read. A client that keeps reading
//! slows its producers down; one whose pending bytes pass `max_pending`, or
//! whose writes make no progress for `write_deadline`, is a slow consumer and
//! is cut off.

mod accept;

pub use accept::listen;
mod reader;
mod writer;

pub use crate::conn::{ClientMeta, CloseReason, Counters, TlsInfo};

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use junction_nats::encode;
pub use junction_websocket::CookieCredentials;
use parking_lot::{Mutex, RwLock};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::account::Account;
use crate::message::ConnKind;
use crate::outlet::{Outlet, Producer, Queued};
use crate::permissions::ClientPermissions;
use crate::server::Server;
use crate::subscription::{Message, Subscriber, Subscription};

fn unix_nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

/// The shared half of a connection.
pub struct Client {
    pub id: u64,
    pub server: Arc<Server>,
    /// The account, fixed by authentication at the first CONNECT.
    account: RwLock<Arc<Account>>,
    /// User name or nkey the client authenticated as.
    user: Mutex<String>,
    /// Replaced when a configuration reload changes them.
    permissions: arc_swap::ArcSwapOption<ClientPermissions>,
    /// Whether `permissions` holds any: a delivery to a client without
    /// permissions then costs one plain atomic load, not a swap's load.
    has_permissions: AtomicBool,
    /// What it authenticated with and through which listener, checked
    /// again on a configuration reload.
    credentials: Mutex<Option<(junction_nats::ConnectOptions, &'static str)>>,
    /// `iat` of the user JWT, checked against revocations.
    issued_at: AtomicU64,
    /// Credentials from the WebSocket cookies (`jwt_cookie`, `user_cookie` …), each used
    /// when CONNECT lacks it.
    pub cookies: CookieCredentials,
    /// The nonce offered in INFO, for nkey and JWT signatures.
    pub nonce: String,
    pub remote: SocketAddr,
    /// Which listener the connection came through ("nats", later "websocket", "mqtt").
    pub transport: &'static str,
    pub counters: Counters,
    headers: AtomicBool,
    no_responders: AtomicBool,
    /// What is queued for the client, and its transport.
    pub outlet: Arc<Outlet>,
    subs: Mutex<HashMap<Bytes, Arc<Subscription>>>,
    pings_out: AtomicU32,
    close_reason: Mutex<Option<CloseReason>>,
    /// `name`, `lang` and `version` from CONNECT.
    meta: Mutex<ClientMeta>,
    /// The TLS session, for clients that came through TLS.
    tls: OnceLock<TlsInfo>,
    /// When the connection was accepted.
    pub started: SystemTime,
    /// The same moment on the monotonic clock, the origin of the RTT timings.
    born: Instant,
    /// Round-trip time in nanoseconds: first estimated from accept to
    /// CONNECT, then measured by each server PING and its PONG.
    rtt: AtomicU64,
    /// Nanoseconds after `born` at which the last server PING went out.
    ping_sent: AtomicU64,
    /// Unix time in nanoseconds of the last operation received.
    last_activity: AtomicU64,
    me: Weak<Client>,
}

impl Client {
    fn new(
        id: u64,
        server: Arc<Server>,
        account: Arc<Account>,
        remote: SocketAddr,
        transport: &'static str,
        cookies: CookieCredentials,
    ) -> Arc<Self> {
        let nonce = if server.needs_nonce() {
            crate::auth::new_nonce()
        } else {
            String::new()
        };
        let outlet = Arc::new(Outlet::new(server.opts().max_pending));
        Arc::new_cyclic(|me| Client {
            id,
            server,
            account: RwLock::new(account),
            user: Mutex::new(String::new()),
            permissions: arc_swap::ArcSwapOption::empty(),
            has_permissions: AtomicBool::new(false),
            credentials: Mutex::new(None),
            issued_at: AtomicU64::new(0),
            nonce,
            cookies,
            remote,
            transport,
            counters: Counters::default(),
            headers: AtomicBool::new(false),
            no_responders: AtomicBool::new(false),
            outlet,
            subs: Mutex::new(HashMap::new()),
            pings_out: AtomicU32::new(0),
            close_reason: Mutex::new(None),
            meta: Mutex::new(ClientMeta::default()),
            tls: OnceLock::new(),
            started: SystemTime::now(),
            born: Instant::now(),
            rtt: AtomicU64::new(0),
            ping_sent: AtomicU64::new(0),
            last_activity: AtomicU64::new(unix_nanos(SystemTime::now())),
            me: me.clone(),
        })
    }

    /// The account the client belongs to.
    pub fn account(&self) -> Arc<Account> {
        self.account.read().clone()
    }

    /// The user the client authenticated as (empty without auth).
    pub fn user(&self) -> String {
        self.user.lock().clone()
    }

    /// Binds the client to who authentication says it is.
    fn set_identity(&self, id: crate::auth::Identity) {
        *self.account.write() = id.account;
        *self.user.lock() = id.user;
        self.issued_at
            .store(id.issued_at.max(0) as u64, Ordering::Relaxed);
        self.set_permissions(id.permissions);
    }

    fn set_permissions(&self, permissions: Option<ClientPermissions>) {
        self.has_permissions
            .store(permissions.is_some(), Ordering::Release);
        self.permissions.store(permissions.map(Arc::new));
    }

    /// Keeps what the client authenticated with, for `recheck_auth`.
    pub(crate) fn keep_credentials(&self, opts: &junction_nats::ConnectOptions, kind: &'static str) {
        *self.credentials.lock() = Some((opts.clone(), kind));
    }

    /// `iat` of the user JWT the client connected with (0 without JWTs).
    pub fn issued_at(&self) -> i64 {
        self.issued_at.load(Ordering::Relaxed) as i64
    }

    pub fn permissions(&self) -> Option<Arc<ClientPermissions>> {
        self.permissions.load_full()
    }

    /// The permissions without taking a reference: for per-message checks.
    pub fn permissions_guard(&self) -> Option<arc_swap::Guard<Option<Arc<ClientPermissions>>>> {
        self.has_permissions
            .load(Ordering::Acquire)
            .then(|| self.permissions.load())
    }

    /// Whether the client negotiated headers in CONNECT.
    pub fn headers(&self) -> bool {
        self.headers.load(Ordering::Relaxed)
    }

    /// The client's name from CONNECT.
    pub fn name(&self) -> String {
        self.meta.lock().name.clone()
    }

    /// `name`, `lang` and `version` the client sent in CONNECT.
    pub fn meta(&self) -> ClientMeta {
        self.meta.lock().clone()
    }

    /// The TLS session, if the client came through TLS.
    pub fn tls(&self) -> Option<&TlsInfo> {
        self.tls.get()
    }

    pub fn set_tls(&self, info: TlsInfo) {
        let _ = self.tls.set(info);
    }

    /// The round-trip time to the client, zero until CONNECT.
    pub fn rtt(&self) -> Duration {
        Duration::from_nanos(self.rtt.load(Ordering::Relaxed))
    }

    fn since_born(&self) -> u64 {
        (self.born.elapsed().as_nanos() as u64).max(1)
    }

    /// nats-server's first estimate: how long the client took to CONNECT.
    fn estimate_rtt(&self) {
        self.rtt.store(self.since_born(), Ordering::Relaxed);
    }

    /// A server PING is going out now.
    fn ping_sent(&self) {
        self.ping_sent.store(self.since_born(), Ordering::Relaxed);
    }

    /// The PONG to the last server PING arrived.
    fn pong_received(&self) {
        let sent = self.ping_sent.load(Ordering::Relaxed);
        if sent != 0 {
            let rtt = self.since_born().saturating_sub(sent).max(1);
            self.rtt.store(rtt, Ordering::Relaxed);
        }
    }

    /// When the client last sent something.
    pub fn last_activity(&self) -> SystemTime {
        UNIX_EPOCH + std::time::Duration::from_nanos(self.last_activity.load(Ordering::Relaxed))
    }

    fn touch(&self) {
        self.last_activity
            .store(unix_nanos(SystemTime::now()), Ordering::Relaxed);
    }

    /// Bytes queued for the client and not yet written.
    pub fn pending_bytes(&self) -> usize {
        self.outlet.pending()
    }

    /// Messages and bytes delivered to this client.
    pub fn out_counts(&self) -> (u64, u64) {
        self.outlet.out_counts()
    }

    /// The subjects of the client's subscriptions.
    pub fn subscription_subjects(&self) -> Vec<String> {
        self.subs
            .lock()
            .values()
            .map(|s| String::from_utf8_lossy(&s.subject).into_owned())
            .collect()
    }

    /// Number of subscriptions the client holds.
    pub fn subscription_count(&self) -> usize {
        self.subs.lock().len()
    }

    /// Why the connection closed, once it has.
    pub fn close_reason(&self) -> Option<CloseReason> {
        *self.close_reason.lock()
    }

    /// Queues raw protocol bytes (INFO, PONG, +OK, -ERR …) behind any
    /// messages already queued, keeping the order the client sees.
    pub fn queue_proto(&self, bytes: &[u8]) {
        match self.outlet.push_proto(bytes) {
            Queued::Yes { was_empty: true, .. } => self.outlet.wake_writer(),
            Queued::OverLimit => self.slow_consumer(),
            _ => {}
        }
    }

    /// Queues protocol bytes for a producer to flush at the end of its round.
    pub fn queue_proto_for(&self, bytes: &[u8], producer: &mut Producer) {
        match self.outlet.push_proto(bytes) {
            Queued::Yes { pending, .. } => producer.touch(&self.outlet, pending),
            Queued::OverLimit => self.slow_consumer(),
            Queued::Closed => {}
        }
    }

    /// Pending bytes passed `max_pending`: cut the client off.
    fn slow_consumer(&self) {
        tracing::warn!(
            cid = self.id,
            "Slow Consumer Detected: MaxPending of {} Exceeded",
            self.server.opts().max_pending
        );
        self.server.stats.slow_consumers.fetch_add(1, Ordering::Relaxed);
        self.close_now(CloseReason::SlowConsumerPendingBytes);
    }

    /// Queues `-ERR 'text'`.
    pub fn queue_err(&self, text: &str) {
        let mut buf = BytesMut::with_capacity(text.len() + 9);
        encode::err(&mut buf, text);
        self.queue_proto(&buf);
    }

    /// Closes the connection after flushing what is already queued.
    pub fn close(&self, reason: CloseReason) {
        self.set_reason(reason);
        self.outlet.close();
    }

    /// Closes the connection dropping anything still queued.
    fn close_now(&self, reason: CloseReason) {
        self.set_reason(reason);
        self.outlet.close_now();
    }

    fn set_reason(&self, reason: CloseReason) {
        let mut r = self.close_reason.lock();
        if r.is_none() {
            *r = Some(reason);
        }
    }

    pub fn is_closing(&self) -> bool {
        self.outlet.is_closing()
    }

    /// Removes every subscription of this client from its account.
    fn remove_all_subscriptions(&self) {
        let subs: Vec<_> = self.subs.lock().drain().map(|(_, s)| s).collect();
        let account = self.account();
        for sub in subs {
            account.unsubscribe(&sub);
        }
    }

    fn arc(&self) -> Option<Arc<Client>> {
        self.me.upgrade()
    }
}

impl crate::conn::Connection for Client {
    fn id(&self) -> u64 {
        self.id
    }
    fn transport(&self) -> &'static str {
        self.transport
    }
    fn remote(&self) -> SocketAddr {
        self.remote
    }
    fn account(&self) -> Arc<Account> {
        Client::account(self)
    }
    fn user(&self) -> String {
        Client::user(self)
    }
    fn issued_at(&self) -> i64 {
        Client::issued_at(self)
    }
    fn started(&self) -> SystemTime {
        self.started
    }
    fn last_activity(&self) -> SystemTime {
        Client::last_activity(self)
    }
    fn rtt(&self) -> Duration {
        Client::rtt(self)
    }
    fn counters(&self) -> &Counters {
        &self.counters
    }
    fn out_counts(&self) -> (u64, u64) {
        Client::out_counts(self)
    }
    fn pending_bytes(&self) -> usize {
        Client::pending_bytes(self)
    }
    fn subscription_subjects(&self) -> Vec<String> {
        Client::subscription_subjects(self)
    }
    fn meta(&self) -> ClientMeta {
        Client::meta(self)
    }
    fn tls(&self) -> Option<TlsInfo> {
        Client::tls(self).cloned()
    }
    fn close_reason(&self) -> Option<CloseReason> {
        Client::close_reason(self)
    }
    fn close(&self, reason: CloseReason) {
        Client::close(self, reason)
    }
    fn revoke(&self) {
        self.queue_err("Authorization Violation");
        Client::close(self, CloseReason::AuthenticationViolation);
    }
    fn set_max_pending(&self, bytes: usize) {
        self.outlet.set_max_pending(bytes);
    }
    fn max_connections_exceeded(&self) {
        self.queue_err("maximum connections exceeded");
        Client::close(self, CloseReason::MaxConnectionsExceeded);
    }
    fn recheck_auth(&self) {
        let Some((opts, kind)) = self.credentials.lock().clone() else {
            return;
        };
        match self.server.authenticate(&opts, &self.nonce, kind) {
            Ok(id) if Arc::ptr_eq(&id.account, &self.account()) => {
                *self.user.lock() = id.user;
                self.set_permissions(id.permissions);
            }
            Ok(id) => {
                tracing::info!(cid = self.id, account = %id.account.name, "Client's account changed by the reload");
                crate::conn::Connection::revoke(self);
            }
            Err(e) => {
                tracing::info!(cid = self.id, error = %e, "Client no longer authorized after the reload");
                crate::conn::Connection::revoke(self);
            }
        }
    }
    /// A new INFO with `ldm`, so the client reconnects elsewhere.
    fn lame_duck(&self) {
        self.queue_proto(&self.info());
    }
}

impl Subscriber for Client {
    fn client_id(&self) -> u64 {
        self.id
    }

    fn kind(&self) -> ConnKind {
        ConnKind::Client
    }

    fn deliver(&self, sub: &Subscription, msg: &Message<'_>, producer: &mut Producer) {
        let perms = self
            .has_permissions
            .load(Ordering::Acquire)
            .then(|| self.permissions.load());
        if let Some(perms) = perms.as_ref().and_then(|p| p.as_ref()) {
            if !perms.may_receive(msg.subject) {
                return;
            }
            if let (Some(reply), true) = (msg.reply, perms.tracks_replies()) {
                perms.note_request(reply);
            }
        }
        let headers = self.headers();
        // Payload bytes are counted, as nats-server counts them (not the MSG line).
        let counted = match msg.header_len {
            Some(h) if !headers => msg.payload.len() - h,
            _ => msg.payload.len(),
        };
        let queued = self.outlet.push_msg(counted, |buf| match msg.header_len {
            Some(h) if headers => encode::hmsg(buf, msg.subject, &sub.sid, msg.reply, h, msg.payload),
            // Clients that did not ask for headers get the body alone.
            Some(h) => encode::msg(buf, msg.subject, &sub.sid, msg.reply, &msg.payload[h..]),
            None => encode::msg(buf, msg.subject, &sub.sid, msg.reply, msg.payload),
        });
        match queued {
            Queued::Yes { pending, .. } => producer.touch(&self.outlet, pending),
            Queued::OverLimit => self.slow_consumer(),
            Queued::Closed => {}
        }
    }

    fn expire(&self, sub: &Arc<Subscription>) {
        let mut subs = self.subs.lock();
        if subs.get(&sub.sid).is_some_and(|s| Arc::ptr_eq(s, sub)) {
            subs.remove(&sub.sid);
        }
        drop(subs);
        self.account().unsubscribe(sub);
    }
}

/// Runs one connection over any byte transport until it closes.
pub async fn serve<R, W>(
    server: Arc<Server>,
    id: u64,
    remote: SocketAddr,
    transport: &'static str,
    cookies: CookieCredentials,
    reader: R,
    writer: W,
) where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let client = register(server.clone(), id, remote, transport, cookies);
    client.queue_proto(&client.info());
    run(client, reader, writer).await;
}

/// Creates and registers a client that will be served once its transport is ready (for
/// TLS, after INFO has gone out in the clear and the handshake is done).
pub fn register(
    server: Arc<Server>,
    id: u64,
    remote: SocketAddr,
    transport: &'static str,
    cookies: CookieCredentials,
) -> Arc<Client> {
    let client = Client::new(
        id,
        server.clone(),
        server.global.clone(),
        remote,
        transport,
        cookies,
    );
    server.register(client.clone());
    client
}

/// Serves a registered client until it closes.
pub async fn run<R, W>(client: Arc<Client>, reader: R, writer: W)
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    client.outlet.attach(Box::new(writer));
    let read_task = tokio::spawn(reader::run(client.clone(), reader));
    writer::run(client.clone()).await;
    read_task.abort();
    finish(&client);
}

/// Drops a registered client that never got to be served (a failed TLS handshake).
pub fn abandon(client: &Arc<Client>, reason: CloseReason) {
    client.set_reason(reason);
    finish(client);
}

fn finish(client: &Arc<Client>) {
    client.remove_all_subscriptions();
    client.server.unregister(client.as_ref());
    tracing::debug!(
        cid = client.id,
        reason = %client.close_reason().unwrap_or(CloseReason::ClientClosed),
        "connection closed"
    );
}
