//! One client connection: the state shared between its reader task, its
//! writer task and the publishers delivering to it.
//!
//! Deliveries append to the client's outlet (`crate::outlet`), which the
//! producer flushes at the end of its read. A client that keeps reading
//! slows its producers down; one whose pending bytes pass `max_pending`, or
//! whose writes make no progress for `write_deadline`, is a slow consumer and
//! is cut off.

mod accept;
mod reader;
mod writer;

pub use accept::listen;

use crate::conn::ConnCore;
pub use crate::conn::{ClientMeta, CloseReason, Counters, TlsInfo};

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use junction_nats::encode;
pub use junction_websocket::CookieCredentials;
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::account::Account;
use crate::message::ConnKind;
use crate::outlet::{Producer, Queued};
use crate::server::Server;
use crate::subscription::{Message, Subscriber, Subscription};

/// The shared half of a NATS connection: the connection core (reached
/// through `Deref`, so `client.id` or `client.outlet` read the core's) and
/// what the NATS protocol adds.
pub struct Client {
    core: ConnCore,
    pub server: Arc<Server>,
    /// What it authenticated with and through which listener, checked
    /// again on a configuration reload.
    credentials: Mutex<Option<(junction_nats::ConnectOptions, &'static str)>>,
    /// Credentials from the WebSocket cookies (`jwt_cookie`, `user_cookie` …), each used
    /// when CONNECT lacks it.
    pub cookies: CookieCredentials,
    /// The nonce offered in INFO, for nkey and JWT signatures.
    pub nonce: String,
    headers: AtomicBool,
    no_responders: AtomicBool,
    /// CONNECT said `protocol: 1`: the client takes INFO updates.
    info_updates: AtomicBool,
    subs: Mutex<HashMap<Bytes, Arc<Subscription>>>,
    pings_out: AtomicU32,
    /// `name`, `lang` and `version` from CONNECT.
    meta: Mutex<ClientMeta>,
    /// The TLS session, for clients that came through TLS.
    tls: OnceLock<TlsInfo>,
    /// The moment of accepting on the monotonic clock, the origin of the
    /// RTT timings.
    born: Instant,
    /// Round-trip time in nanoseconds: first estimated from accept to
    /// CONNECT, then measured by each server PING and its PONG.
    rtt: AtomicU64,
    /// Nanoseconds after `born` at which the last server PING went out.
    ping_sent: AtomicU64,
    me: Weak<Client>,
}

impl std::ops::Deref for Client {
    type Target = ConnCore;

    fn deref(&self) -> &ConnCore {
        &self.core
    }
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
        let settings = server.client_settings(transport);
        Arc::new_cyclic(|me| Client {
            core: ConnCore::new(id, ConnKind::Client, transport, remote, account, settings),
            server,
            credentials: Mutex::new(None),
            nonce,
            cookies,
            headers: AtomicBool::new(false),
            no_responders: AtomicBool::new(false),
            info_updates: AtomicBool::new(false),
            subs: Mutex::new(HashMap::new()),
            pings_out: AtomicU32::new(0),
            meta: Mutex::new(ClientMeta::default()),
            tls: OnceLock::new(),
            born: Instant::now(),
            rtt: AtomicU64::new(0),
            ping_sent: AtomicU64::new(0),
            me: me.clone(),
        })
    }

    /// Keeps what the client authenticated with, for `recheck_auth`.
    pub(crate) fn keep_credentials(&self, opts: &junction_nats::ConnectOptions, kind: &'static str) {
        *self.credentials.lock() = Some((opts.clone(), kind));
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
        self.core.slow_consumer(&self.server.stats.slow_consumers);
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
    fn core(&self) -> &ConnCore {
        &self.core
    }
    fn rtt(&self) -> Duration {
        Client::rtt(self)
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
    fn close(&self, reason: CloseReason) {
        Client::close(self, reason)
    }
    fn revoke(&self) {
        self.queue_err("Authorization Violation");
        Client::close(self, CloseReason::AuthenticationViolation);
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
                self.core.set_user(id.user, id.permissions);
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
        self.queue_proto(&self.info_with_ldm(true));
    }

    fn client_urls_changed(&self) {
        if self.info_updates.load(Ordering::Relaxed) {
            self.queue_proto(&self.info());
        }
    }
}

impl Subscriber for Client {
    fn client_id(&self) -> u64 {
        self.id
    }

    fn kind(&self) -> ConnKind {
        self.core.kind
    }

    fn deliver(&self, sub: &Subscription, msg: &Message<'_>, producer: &mut Producer) {
        let perms = self.permissions_guard();
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
