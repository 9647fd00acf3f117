//! The reader task of a connection: reads bytes, parses client operations
//! with the sans-IO parser and carries each one out, answering with the
//! same `+OK`/`-ERR` lines nats-server sends.

use std::borrow::Cow;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::{Buf, Bytes, BytesMut};
use junction_nats::subject::matches;
use junction_nats::{encode, ClientOp, ConnectOptions, Parser, ProtocolError};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::time::{timeout_at, Instant};

use super::{Client, CloseReason};
use crate::account::{Account, Admitted, MatchCache};
use crate::message::{ConnKind, Origin};
use crate::outlet::Producer;
use crate::server::Tally;
use crate::subscription::{Message, Subscription};

/// First read buffer size; it grows while reads fill it (up to
/// `MAX_READ_BUFFER`) and shrinks back when they do not, so idle
/// connections stay small and busy ones read in big gulps.
const MIN_READ_BUFFER: usize = 512;
const MAX_READ_BUFFER: usize = 64 * 1024;

/// Any client may ask who it is, as with nats-server.
const USER_INFO: &[u8] = b"$SYS.REQ.USER.INFO";

/// What the reader keeps for itself: nothing here is shared.
struct Reader {
    client: Arc<Client>,
    /// The client's account, kept here so publishing needs no lock.
    account: Arc<Account>,
    parser: Parser,
    opts: ConnectOptions,
    connected: bool,
    cache: MatchCache,
    tally: Tally,
    /// The outlets this read filled, flushed before the next read.
    producer: Producer,
    /// A user's own subscription limit (from its JWT).
    max_subs: Option<usize>,
    /// `-V`: log every operation the client sends, as nats-server's trace does.
    trace: bool,
    /// A user's own payload limit (from its JWT).
    max_payload: Option<usize>,
    /// The version of the connection's settings the limits above were
    /// taken from; a reload hands the connection new ones.
    settings_version: u64,
}

/// Stop reading: the connection is closing.
struct Stop;

pub(super) async fn run<R: AsyncRead + Unpin>(client: Arc<Client>, mut reader: R) {
    let server = client.server.clone();
    let settings_version = client.settings_version();
    let settings = Arc::clone(&client.settings());
    let mut r = Reader {
        parser: Parser::new(settings.max_control_line, settings.max_payload),
        opts: ConnectOptions::default(),
        connected: false,
        cache: MatchCache::default(),
        tally: Tally::default(),
        producer: Producer::default(),
        account: client.account(),
        trace: settings.trace,
        max_subs: None,
        max_payload: None,
        settings_version,
        client,
    };
    let auth_deadline = server
        .auth_required_for(r.client.transport)
        .then(|| Instant::now() + settings.auth_timeout);
    let mut buf = BytesMut::with_capacity(MIN_READ_BUFFER);
    let mut size = MIN_READ_BUFFER;
    loop {
        if buf.capacity() - buf.len() < size / 2 {
            buf.reserve(size);
        }
        let read = reader.read_buf(&mut buf);
        let n = match auth_deadline {
            Some(deadline) if !r.connected => match timeout_at(deadline, read).await {
                Ok(r) => r,
                Err(_) => {
                    r.client.queue_err("Authentication Timeout");
                    r.client.close(CloseReason::AuthenticationTimeout);
                    return;
                }
            },
            _ => read.await,
        };
        let n = match n {
            Ok(0) => {
                r.client.close(CloseReason::ClientClosed);
                return;
            }
            Ok(n) => n,
            Err(e) => {
                // A peer that resets instead of closing still just left.
                let reason = match e.kind() {
                    std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted => {
                        CloseReason::ClientClosed
                    }
                    _ => CloseReason::ReadError,
                };
                r.client.close(reason);
                return;
            }
        };
        if n >= size && size < MAX_READ_BUFFER {
            size *= 2;
        } else if n < size / 4 && size > MIN_READ_BUFFER {
            size /= 2;
        }
        let version = r.client.settings_version();
        if version != r.settings_version {
            // A reload handed new settings: connected clients take them too.
            r.settings_version = version;
            let now = r.client.settings();
            r.parser.max_payload = r.max_payload.map_or(now.max_payload, |m| m.min(now.max_payload));
            r.parser.max_control_line = now.max_control_line;
            r.trace = now.trace;
        }
        let mut at = 0;
        loop {
            match r.parser.parse(&buf[at..]) {
                Ok(Some((op, used))) => {
                    at += used;
                    if r.process(op).is_err() {
                        r.flush_tally();
                        return;
                    }
                    if r.producer.is_behind() {
                        // A subscriber is behind: let it drain before routing
                        // the rest of this read.
                        r.settle().await;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    r.protocol_error(e);
                    return;
                }
            }
        }
        buf.advance(at);
        r.flush_tally();
        r.client.touch();
        // Write out what this read queued, and wait for any subscriber that
        // is behind, before reading more: TCP then slows the publisher down.
        r.settle().await;
        if r.client.is_closing() {
            return;
        }
    }
}

impl Reader {
    /// Flushes every outlet this read filled; waits for those behind.
    async fn settle(&mut self) {
        self.producer.flush_and_wait(Some(&self.client.outlet)).await;
    }

    /// Queues protocol bytes for this client, written at the end of the read.
    fn proto(&mut self, bytes: &[u8]) {
        self.client.queue_proto_for(bytes, &mut self.producer);
    }

    /// Queues `-ERR 'text'` for this client.
    fn err(&mut self, text: &str) {
        let mut buf = BytesMut::with_capacity(text.len() + 9);
        encode::err(&mut buf, text);
        self.proto(&buf);
    }

    /// Adds this read's message counts to the shared counters.
    fn flush_tally(&mut self) {
        let t = std::mem::take(&mut self.tally);
        if t.in_msgs > 0 {
            let c = &self.client.counters;
            c.in_msgs.fetch_add(t.in_msgs, Ordering::Relaxed);
            c.in_bytes.fetch_add(t.in_bytes, Ordering::Relaxed);
            self.client.server.stats.add(&t);
        }
    }

    fn protocol_error(&self, e: ProtocolError) {
        if let Some(text) = e.client_message() {
            self.client.queue_err(text);
        }
        let reason = match e {
            ProtocolError::MaxPayload { .. } => CloseReason::MaxPayloadExceeded,
            ProtocolError::MaxControlLine => CloseReason::MaxControlLineExceeded,
            _ => CloseReason::ParseError,
        };
        tracing::debug!(cid = self.client.id, error = %e, "client protocol error");
        self.client.close(reason);
    }

    fn ok(&mut self) {
        if self.opts.verbose {
            self.proto(junction_nats::OK);
        }
    }

    fn process(&mut self, op: ClientOp<'_>) -> Result<(), Stop> {
        if self.trace {
            trace_op(&self.client, &op);
        }
        // With auth on, nothing but CONNECT is accepted first.
        if !self.connected
            && !matches!(op, ClientOp::Connect(_))
            && self.client.server.auth_required_for(self.client.transport)
        {
            self.client.queue_err("Authorization Violation");
            self.client.close(CloseReason::AuthenticationViolation);
            return Err(Stop);
        }
        match op {
            ClientOp::Pub {
                subject,
                reply,
                header_len,
                payload,
            } => self.publish(subject, reply, header_len, payload),
            ClientOp::Sub { subject, queue, sid } => {
                self.subscribe(subject, queue, sid);
                Ok(())
            }
            ClientOp::Unsub { sid, max } => {
                self.unsubscribe(sid, max);
                Ok(())
            }
            ClientOp::Ping => {
                self.proto(junction_nats::PONG);
                Ok(())
            }
            ClientOp::Pong => {
                self.client.pings_out.store(0, Ordering::Relaxed);
                self.client.pong_received();
                Ok(())
            }
            ClientOp::Connect(json) => self.connect(json),
            ClientOp::Ok | ClientOp::Info(_) => Ok(()),
            ClientOp::Err(_) => {
                self.client.close(CloseReason::ClientClosed);
                Err(Stop)
            }
        }
    }

    fn connect(&mut self, json: &[u8]) -> Result<(), Stop> {
        let mut opts: ConnectOptions = match serde_json::from_slice(json) {
            Ok(o) => o,
            Err(_) => {
                self.client.close(CloseReason::ProtocolViolation);
                return Err(Stop);
            }
        };
        let server = &self.client.server;
        if !self.connected {
            // Browsers may carry their credentials in cookies instead of CONNECT;
            // as in nats-server, a cookie fills a field CONNECT left empty.
            let cookies = &self.client.cookies;
            for (field, cookie) in [
                (&mut opts.jwt, &cookies.jwt),
                (&mut opts.user, &cookies.user),
                (&mut opts.pass, &cookies.pass),
                (&mut opts.auth_token, &cookies.token),
            ] {
                if field.as_deref().unwrap_or_default().is_empty() && cookie.is_some() {
                    field.clone_from(cookie);
                }
            }
            let kind = match self.client.transport {
                "websocket" => "WEBSOCKET",
                "mqtt" => "MQTT",
                _ => "STANDARD",
            };
            match server.authenticate(&opts, &self.client.nonce, kind) {
                Ok(id) => {
                    self.account = id.account.clone();
                    if let Some(max) = id.limits.payload {
                        self.parser.max_payload = self.parser.max_payload.min(max);
                        self.max_payload = Some(max);
                    }
                    self.max_subs = id.limits.subs;
                    self.client.set_identity(id);
                    self.client.keep_credentials(&opts, kind);
                }
                Err(e) => {
                    tracing::debug!(cid = self.client.id, error = %e, "authentication failed");
                    self.client.queue_err(e.client_message());
                    self.client.close(CloseReason::AuthenticationViolation);
                    return Err(Stop);
                }
            }
        }
        if opts.protocol > 1 || opts.protocol < 0 {
            self.client.queue_err("invalid client protocol");
            self.client.close(CloseReason::BadClientProtocolVersion);
            return Err(Stop);
        }
        if opts.no_responders && !opts.headers {
            self.client.queue_err("no responders requires headers support");
            self.client.close(CloseReason::ProtocolViolation);
            return Err(Stop);
        }
        self.client.estimate_rtt();
        self.client.headers.store(opts.headers, Ordering::Relaxed);
        // Protocol 1 clients take INFO updates (the cluster's client URLs).
        self.client
            .info_updates
            .store(opts.protocol >= 1, Ordering::Relaxed);
        self.client
            .no_responders
            .store(opts.no_responders, Ordering::Relaxed);
        *self.client.meta.lock() = super::ClientMeta {
            name: opts.name.clone(),
            lang: opts.lang.clone(),
            version: opts.version.clone(),
        };
        self.opts = opts;
        self.connected = true;
        self.ok();
        self.client.server.client_connected(self.client.as_ref());
        Ok(())
    }

    fn publish(
        &mut self,
        subject: &[u8],
        reply: Option<&[u8]>,
        header_len: Option<usize>,
        payload: &[u8],
    ) -> Result<(), Stop> {
        if header_len.is_some() && !self.opts.headers {
            // nats-server drops a client that sends HPUB without having
            // negotiated headers, without a word.
            self.client.close(CloseReason::ProtocolViolation);
            return Err(Stop);
        }
        self.tally.in_msgs += 1;
        self.tally.in_bytes += payload.len() as u64;
        // Read the permissions through the swap's guard: no reference
        // count per publish.
        let guard = self.client.permissions_guard();
        let perms = guard.as_ref().and_then(|g| g.as_deref());
        let admitted = self.account.admit(subject, perms, self.opts.pedantic);
        drop(guard);
        let to = match &admitted {
            Admitted::Subject(to) | Admitted::Invalid(to) | Admitted::Denied(to) => to,
            Admitted::Lost => {
                self.trace_mapping(subject, "");
                self.ok();
                return Ok(());
            }
        };
        if let Cow::Owned(mapped) = to {
            self.trace_mapping(subject, &String::from_utf8_lossy(mapped));
        }
        let subject: &[u8] = to;
        match &admitted {
            Admitted::Invalid(_) => {
                self.err("Invalid Publish Subject");
                self.ok();
                return Ok(());
            }
            // A refused publish gets its -ERR alone, no +OK (nats-server
            // 2.9.10); an accepted one is acknowledged before it is delivered.
            Admitted::Denied(_) => {
                let subject = String::from_utf8_lossy(subject);
                tracing::error!(cid = self.client.id, "Publish Violation - Subject {subject:?}");
                self.err(&format!("Permissions Violation for Publish to {subject:?}"));
                return Ok(());
            }
            _ => {}
        }
        self.ok();
        if subject == USER_INFO {
            if let Some(reply) = reply {
                self.user_info(reply);
                return Ok(());
            }
        }
        let origin = Origin::new(self.client.id, ConnKind::Client, self.opts.echo);
        let msg = Message::new(subject, reply, header_len, payload, origin);
        let delivered = self
            .account
            .publish(&msg, Some(&mut self.cache), &mut self.producer) as u64;
        self.tally.out_msgs += delivered;
        self.tally.out_bytes += delivered * payload.len() as u64;
        if delivered == 0 && self.opts.no_responders {
            if let Some(reply) = reply {
                self.no_responders(reply);
            }
        }
        Ok(())
    }

    /// `-V`'s line for a mapped publish, as nats-server writes it (a lost
    /// one maps to nothing).
    fn trace_mapping(&self, from: &[u8], to: &str) {
        let c = &self.client;
        let from = String::from_utf8_lossy(from);
        tracing::trace!("{} - cid:{} - <<- [MAPPING {from} -> {to}]", c.remote, c.id);
    }

    /// Answers `$SYS.REQ.USER.INFO`: the account and user of this connection.
    fn user_info(&mut self, reply: &[u8]) {
        let server = &self.client.server;
        let body = serde_json::json!({
            "server": {"name": server.name, "host": server.opts().host, "id": server.id,
                       "ver": crate::server::NATS_COMPAT_VERSION},
            "data": {"user": self.client.user(), "account": self.account.name},
        });
        let payload = serde_json::to_vec(&body).unwrap_or_default();
        self.account
            .publish_internal_with(reply, &payload, &mut self.producer);
    }

    /// Tells a requester nobody is listening: a `503` status message to its
    /// own subscription on the reply subject, as nats-server does.
    fn no_responders(&mut self, reply: &[u8]) {
        let sid = {
            let subs = self.client.subs.lock();
            subs.values()
                .find(|s| matches(&s.subject, reply))
                .map(|s| s.sid.clone())
        };
        if let Some(sid) = sid {
            let mut buf = BytesMut::new();
            encode::hmsg(&mut buf, reply, &sid, None, 16, b"NATS/1.0 503\r\n\r\n");
            self.proto(&buf);
        }
    }

    fn subscribe(&mut self, subject: &[u8], queue: Option<&[u8]>, sid: &[u8]) {
        let client = &self.client;
        let server_max = client.settings().max_subscriptions;
        let max_subs = match self.max_subs {
            Some(user) if server_max > 0 => user.min(server_max),
            Some(user) => user,
            None => server_max,
        };
        let mut subs = client.subs.lock();
        if subs.contains_key(sid) {
            // A repeated sid is accepted and ignored, as by nats-server.
            drop(subs);
            self.ok();
            return;
        }
        if max_subs > 0 && subs.len() >= max_subs {
            drop(subs);
            self.err("maximum subscriptions exceeded");
            return;
        }
        if let Some(perms) = client.permissions() {
            if !perms.may_subscribe(subject) {
                drop(subs);
                let subject = String::from_utf8_lossy(subject);
                let text = match queue {
                    Some(q) => format!(
                        "Permissions Violation for Subscription to {subject:?} using queue {:?}",
                        String::from_utf8_lossy(q)
                    ),
                    None => format!("Permissions Violation for Subscription to {subject:?}"),
                };
                self.err(&text);
                return;
            }
        }
        let Some(me) = client.arc() else { return };
        let sid = Bytes::copy_from_slice(sid);
        let queue = queue.map(Bytes::copy_from_slice);
        let sub = Arc::new(Subscription::new(
            Bytes::copy_from_slice(subject),
            queue,
            sid.clone(),
            me,
        ));
        if self.account.subscribe(sub.clone()).is_err() {
            drop(subs);
            self.err("Invalid Subject");
            return;
        }
        subs.insert(sid, sub);
        drop(subs);
        self.ok();
    }

    fn unsubscribe(&mut self, sid: &[u8], max: Option<u64>) {
        let client = self.client.clone();
        let mut subs = client.subs.lock();
        if let Some(sub) = subs.get(sid).cloned() {
            let keep = matches!(max, Some(m) if m > 0 && !sub.set_max(m));
            if !keep {
                subs.remove(sid);
                drop(subs);
                self.account.unsubscribe(&sub);
            }
        }
        self.ok();
    }
}

/// Logs one inbound operation in nats-server's trace shape: `<<- [OP args]`.
fn trace_op(client: &Client, op: &ClientOp<'_>) {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let line = match op {
        ClientOp::Connect(json) => format!("CONNECT {}", text(json)),
        ClientOp::Pub {
            subject,
            reply,
            header_len,
            payload,
        } => {
            let reply = reply.map(|r| format!(" {}", text(r))).unwrap_or_default();
            match header_len {
                Some(h) => format!("HPUB {}{reply} {h} {}", text(subject), payload.len()),
                None => format!("PUB {}{reply} {}", text(subject), payload.len()),
            }
        }
        ClientOp::Sub { subject, queue, sid } => match queue {
            Some(q) => format!("SUB {} {} {}", text(subject), text(q), text(sid)),
            None => format!("SUB {} {}", text(subject), text(sid)),
        },
        ClientOp::Unsub { sid, max } => match max {
            Some(m) => format!("UNSUB {} {m}", text(sid)),
            None => format!("UNSUB {}", text(sid)),
        },
        ClientOp::Ping => "PING".into(),
        ClientOp::Pong => "PONG".into(),
        ClientOp::Ok => "+OK".into(),
        ClientOp::Err(e) => format!("-ERR {}", text(e)),
        ClientOp::Info(i) => format!("INFO {}", text(i)),
    };
    tracing::trace!("{} - cid:{} - <<- [{line}]", client.remote, client.id);
}
