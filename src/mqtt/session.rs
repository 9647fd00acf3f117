//! One MQTT connection: the shared half (the connection record the server
//! registers, and the subscriber the router delivers to) and the reader
//! task that decodes packets and carries them out.
//!
//! QoS 0 subscriptions are plain subscriptions in the account's sublist. A
//! QoS 1 or 2 subscription also has a durable JetStream consumer on
//! `$MQTT_msgs`, pushing to an internal subject this session listens on
//! while connected; its messages are acknowledged to the consumer when the
//! client acknowledges them, and redelivered (with DUP) when it does not.
//! Messages an MQTT client publishes at QoS 1 or 2 carry the `Nmqtt-Pub`
//! header, so a QoS 1/2 subscription takes them from its consumer, not
//! twice.

use crate::mapping::Mapped;
use std::cell::Cell;
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use junction_mqtt::{
    connack_v3, reason, Ack, ConnAck, Connect, DecodeError, Decoder, Disconnect, Packet, Properties, Publish,
    PublishRef, QoS, SubAck, Subscribe, SubscribeOptions, UnsubAck, Unsubscribe, Version, Will,
};
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::time::{timeout_at, Instant};

use super::store::{self, MqttAccount, SessionRecord, SubRecord};
use super::{reply, topic};
use crate::account::Account;
use crate::conn::{ClientMeta, CloseReason, Connection, Counters, TlsInfo};
use crate::jetstream::consumer::{AckPolicy, ConsumerConfig, DeliverPolicy};
use crate::outlet::{Outlet, Producer, Queued, Stopped};
use crate::permissions::ClientPermissions;
use crate::router::{self, MatchCache};
use crate::server::{Server, Tally};
use crate::subscription::{Message, Subscriber, Subscription};

const MIN_READ_BUFFER: usize = 512;
const MAX_READ_BUFFER: usize = 64 * 1024;
/// Topic aliases a client may set (MQTT 5).
const TOPIC_ALIAS_MAXIMUM: u16 = 64;
/// Extra room over `max_payload` for a packet's topic and properties.
const PACKET_OVERHEAD: usize = 64 * 1024;

thread_local! {
    /// The MQTT session whose publish is being routed on this thread, for
    /// MQTT 5's no-local subscriptions (delivery happens inside the publish).
    static PUBLISHING: Cell<u64> = const { Cell::new(0) };
    /// Whether that publish has the RETAIN flag, for MQTT 5's
    /// retain-as-published subscriptions.
    static PUBLISHING_RETAINED: Cell<bool> = const { Cell::new(false) };
    /// The account (its address) whose `$MQTT_msgs` stored the QoS 1/2
    /// publish being routed: its QoS 1/2 subscriptions take it from their
    /// consumers, not from the live path. A NATS message that merely
    /// carries an `Nmqtt-Pub` header (a reply echoing a request's headers,
    /// a message passed on by a NATS client) was stored nowhere.
    static STORED_IN: Cell<usize> = const { Cell::new(0) };
}

/// What a subscription's sid says about it, so delivering needs no lookup:
/// kind, granted QoS, option flags, the MQTT 5 subscription identifier,
/// then the filter.
const KIND_CORE: u8 = b'c';
const KIND_STORED: u8 = b's';
const FLAG_NO_LOCAL: u8 = 1;
const FLAG_RETAIN_AS_PUBLISHED: u8 = 2;

fn sid_for(kind: u8, qos: QoS, options: &SubscribeOptions, id: Option<u32>, filter: &str) -> Bytes {
    let mut sid = Vec::with_capacity(7 + filter.len());
    let flags = if options.no_local { FLAG_NO_LOCAL } else { 0 }
        | if options.retain_as_published {
            FLAG_RETAIN_AS_PUBLISHED
        } else {
            0
        };
    sid.extend_from_slice(&[kind, qos as u8, flags]);
    sid.extend_from_slice(&id.unwrap_or(0).to_be_bytes());
    sid.extend_from_slice(filter.as_bytes());
    Bytes::from(sid)
}

struct SidView<'a> {
    kind: u8,
    qos: QoS,
    flags: u8,
    id: u32,
    filter: &'a [u8],
}

fn read_sid(sid: &[u8]) -> Option<SidView<'_>> {
    if sid.len() < 7 {
        return None;
    }
    Some(SidView {
        kind: sid[0],
        qos: QoS::from_bits(sid[1])?,
        flags: sid[2],
        id: u32::from_be_bytes([sid[3], sid[4], sid[5], sid[6]]),
        filter: &sid[7..],
    })
}

/// A subscription this session holds.
struct ActiveSub {
    record: SubRecord,
    /// Its subscriptions in the account's sublist: one per subject of the
    /// filter, and the one on its consumer's delivery subject.
    subs: Vec<Arc<Subscription>>,
}

/// A stored QoS 1/2 delivery waiting for room under the client's receive
/// maximum (MQTT 5): it gets its packet identifier when it goes out.
struct Held {
    topic: Vec<u8>,
    qos: QoS,
    retain: bool,
    dup: bool,
    properties: Option<Properties>,
    body: Bytes,
    ack: Option<Bytes>,
    stream_seq: u64,
}

/// An outgoing QoS 1/2 message awaiting the client's acknowledgement.
struct Inflight {
    /// The consumer's ack subject, for messages from the store.
    ack: Option<Bytes>,
    stream_seq: u64,
}

#[derive(Default)]
struct State {
    subs: HashMap<String, ActiveSub>,
    next_pid: u16,
    inflight: rustc_hash::FxHashMap<u16, Inflight>,
    /// Stream sequence → packet id, so a redelivery reuses its packet id.
    by_seq: rustc_hash::FxHashMap<u64, u16>,
    /// Outgoing QoS 2 past PUBREC, awaiting PUBCOMP.
    released: HashSet<u16>,
    /// Incoming QoS 2 answered with PUBREC, awaiting PUBREL.
    qos2_in: HashSet<u16>,
    will: Option<Will>,
    clean: bool,
    /// MQTT 5 session expiry (seconds) asked for at CONNECT or DISCONNECT.
    expiry: u32,
    mqtt: Option<Arc<MqttAccount>>,
    /// Set when this session was replaced by a newer connection with the
    /// same client id: it must not touch the shared session state.
    taken_over: bool,
    /// MQTT 5 receive maximum: QoS 1/2 messages the client takes
    /// unacknowledged, over all its subscriptions.
    receive_max: Option<u16>,
    /// The receive maximum this server announced (MQTT 5): QoS 2
    /// PUBLISHes the client may leave awaiting PUBREL; 0 for none (3.1.1).
    receive_max_in: u16,
    /// Deliveries past the receive maximum, in order, and their stream
    /// sequences (a consumer's redelivery of one is not queued twice).
    held: VecDeque<Held>,
    held_seqs: HashSet<u64>,
}

impl State {
    /// Records a stored message going out and returns its packet id: the
    /// one it had when this is a redelivery, a new one otherwise.
    fn send_out(&mut self, stream_seq: u64, ack: Option<Bytes>) -> u16 {
        let pid = match self.by_seq.get(&stream_seq) {
            Some(&pid) if stream_seq > 0 => pid,
            _ => {
                let pid = Session::next_pid(self);
                if stream_seq > 0 {
                    self.by_seq.insert(stream_seq, pid);
                }
                pid
            }
        };
        self.inflight.insert(pid, Inflight { ack, stream_seq });
        pid
    }

    /// Whether another QoS 1/2 message may go out now: the messages
    /// awaiting PUBACK, PUBREC or PUBCOMP are below the receive maximum.
    fn has_quota(&self) -> bool {
        let max = self.receive_max.map_or(usize::MAX, usize::from);
        self.inflight.len() + self.released.len() < max
    }
}

impl State {
    /// What a persistent session keeps of this state.
    fn record(&self, client_id: &str) -> SessionRecord {
        SessionRecord {
            client_id: client_id.to_string(),
            subs: self.subs.values().map(|s| s.record.clone()).collect(),
            qos2_in: self.qos2_in.iter().copied().collect(),
            released: self.released.iter().copied().collect(),
            expiry: self.expiry,
            expires_at: 0,
        }
    }
}

/// The shared half of an MQTT connection.
pub struct Session {
    pub id: u64,
    server: Arc<Server>,
    remote: SocketAddr,
    transport: &'static str,
    started: SystemTime,
    last_activity: AtomicU64,
    account: Mutex<Arc<Account>>,
    user: Mutex<String>,
    issued_at: AtomicU64,
    /// Replaced when a configuration reload changes them.
    permissions: arc_swap::ArcSwapOption<ClientPermissions>,
    /// The CONNECT user name and password, checked again on a reload.
    credentials: Mutex<Option<(Option<String>, Option<Bytes>)>>,
    counters: Counters,
    pub outlet: Arc<Outlet>,
    close_reason: Mutex<Option<CloseReason>>,
    client_id: OnceLock<String>,
    version: OnceLock<Version>,
    /// The client's maximum packet size (MQTT 5); 0 for none.
    max_packet_out: AtomicUsize,
    /// Whether any subscription of this session has MQTT 5's No Local:
    /// its QoS 1/2 publishes then carry their client id through the store.
    has_no_local: AtomicBool,
    /// Topic aliases this server set towards the client (MQTT 5).
    aliases_out: Mutex<OutAliases>,
    state: Mutex<State>,
}

/// Server-to-client topic aliases (MQTT 5): a topic sent again goes as its
/// alias with an empty topic name, as many as the client's Topic Alias
/// Maximum allows, first come first served. Decided under the outlet's
/// lock, so an alias never reaches the client before the packet that set it.
#[derive(Default)]
struct OutAliases {
    max: u16,
    by_topic: HashMap<Vec<u8>, u16>,
}

impl OutAliases {
    /// The alias for `topic`, and whether this packet sets it (it then
    /// carries the topic too). `None` when the topic goes out in full.
    fn lookup(&mut self, topic: &[u8]) -> Option<(u16, bool)> {
        // An alias costs three bytes of properties: only longer topics gain.
        if self.max == 0 || topic.len() <= 3 {
            return None;
        }
        if let Some(&alias) = self.by_topic.get(topic) {
            return Some((alias, false));
        }
        let next = self.by_topic.len() as u16 + 1;
        if next > self.max {
            return None;
        }
        self.by_topic.insert(topic.to_vec(), next);
        Some((next, true))
    }

    /// Takes back an alias just set by a packet that was not sent after all.
    fn forget(&mut self, topic: &[u8]) {
        self.by_topic.remove(topic);
    }
}

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

impl Session {
    fn version(&self) -> Version {
        self.version.get().copied().unwrap_or(Version::V311)
    }

    fn v5(&self) -> bool {
        self.version() == Version::V5
    }

    fn account(&self) -> Arc<Account> {
        self.account.lock().clone()
    }

    /// Queues one encoded packet, for `producer` to flush (or the writer).
    fn send(&self, packet: &Packet, producer: Option<&mut Producer>) {
        let mut buf = BytesMut::with_capacity(junction_mqtt::encoded_len(packet, self.version()));
        junction_mqtt::encode(packet, self.version(), &mut buf);
        self.queue(&buf, producer);
    }

    fn queue(&self, bytes: &[u8], producer: Option<&mut Producer>) {
        match (self.outlet.push_proto(bytes), producer) {
            (Queued::Yes { pending, .. }, Some(p)) => p.touch(&self.outlet, pending),
            (Queued::Yes { was_empty: true, .. }, None) => self.outlet.wake_writer(),
            (Queued::OverLimit, _) => self.slow_consumer(),
            _ => {}
        }
    }

    fn slow_consumer(&self) {
        tracing::warn!(
            cid = self.id,
            "Slow Consumer Detected: MaxPending of {} Exceeded",
            self.server.opts().max_pending
        );
        self.server.stats.slow_consumers.fetch_add(1, Ordering::Relaxed);
        self.set_reason(CloseReason::SlowConsumerPendingBytes);
        self.outlet.close_now();
    }

    fn set_reason(&self, reason: CloseReason) {
        let mut r = self.close_reason.lock();
        if r.is_none() {
            *r = Some(reason);
        }
    }

    fn close_with(&self, reason: CloseReason) {
        self.set_reason(reason);
        self.outlet.close();
    }

    /// MQTT 5: a DISCONNECT with `code` before closing.
    fn disconnect(&self, code: u8, reason: CloseReason) {
        if self.v5() {
            self.send(
                &Packet::Disconnect(Disconnect {
                    reason: code,
                    properties: Properties::default(),
                }),
                None,
            );
        }
        self.close_with(reason);
    }

    /// The next free packet identifier.
    fn next_pid(st: &mut State) -> u16 {
        for _ in 0..u16::MAX {
            st.next_pid = st.next_pid.wrapping_add(1).max(1);
            let id = st.next_pid;
            if !st.inflight.contains_key(&id) && !st.released.contains(&id) {
                return id;
            }
        }
        0
    }

    /// Sends the held deliveries the receive maximum now has room for.
    fn send_held(&self, producer: &mut Producer) {
        loop {
            let (pid, h) = {
                let mut st = self.state.lock();
                if !st.has_quota() {
                    return;
                }
                let Some(h) = st.held.pop_front() else { return };
                st.held_seqs.remove(&h.stream_seq);
                let pid = st.send_out(h.stream_seq, h.ack.clone());
                (pid, h)
            };
            self.publish_out(
                &h.topic,
                h.qos,
                h.retain,
                h.dup,
                Some(pid),
                h.properties.as_ref(),
                &h.body,
                producer,
            );
        }
    }

    /// Tells the consumers stored messages are done with: straight to
    /// this account's MQTT consumers, each taking its batch at once (no
    /// subject match, one lock), and through the router otherwise.
    fn ack_stored(&self, acks: &[Bytes], producer: &mut Producer) {
        let mqtt = self.state.lock().mqtt.clone();
        // `$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.…`
        fn parse(ack: &[u8]) -> Option<(&[u8], u64)> {
            let mut tokens = ack.split(|&b| b == b'.').skip(2);
            let stream = tokens.next()?;
            let name = tokens.next()?;
            let seq = std::str::from_utf8(tokens.nth(1)?).ok()?.parse::<u64>().ok()?;
            (stream == store::MSGS_STREAM.as_bytes()).then_some((name, seq))
        }
        let mut batch: Vec<u64> = Vec::with_capacity(acks.len());
        let mut i = 0;
        while i < acks.len() {
            let (Some(mqtt), Some((name, seq))) = (&mqtt, parse(&acks[i])) else {
                router::publish_internal_with(&self.account(), &acks[i], b"+ACK", producer);
                i += 1;
                continue;
            };
            // The run of acks for the same consumer.
            batch.clear();
            batch.push(seq);
            i += 1;
            while let Some((next, seq)) = acks.get(i).and_then(|a| parse(a)) {
                if next != name {
                    break;
                }
                batch.push(seq);
                i += 1;
            }
            if let Some(c) = std::str::from_utf8(name).ok().and_then(|n| mqtt.msgs.consumer(n)) {
                c.ack_many(&batch);
            }
        }
    }

    /// Writes one PUBLISH to the client.
    #[allow(clippy::too_many_arguments)]
    fn publish_out(
        &self,
        topic: &[u8],
        qos: QoS,
        retain: bool,
        dup: bool,
        packet_id: Option<u16>,
        properties: Option<&Properties>,
        payload: &[u8],
        producer: &mut Producer,
    ) -> bool {
        let v5 = self.v5();
        let p = PublishRef {
            dup,
            qos,
            retain,
            topic,
            packet_id,
            properties: if v5 { properties } else { None },
            payload,
        };
        let version = self.version();
        let max = self.max_packet_out.load(Ordering::Relaxed);
        if max > 0 && p.encoded_len(version) > max {
            // MQTT 5: a packet over the client's maximum is dropped.
            return false;
        }
        let encode = |buf: &mut BytesMut| {
            let alias = if v5 {
                self.aliases_out.lock().lookup(topic)
            } else {
                None
            };
            let Some((alias, sets)) = alias else {
                return p.encode(version, buf);
            };
            let mut props = properties.cloned().unwrap_or_default();
            props.topic_alias = Some(alias);
            let aliased = PublishRef {
                topic: if sets { topic } else { b"" },
                properties: Some(&props),
                ..p
            };
            if max > 0 && aliased.encoded_len(version) > max {
                // Setting the alias would push it over: it goes in full.
                if sets {
                    self.aliases_out.lock().forget(topic);
                }
                return p.encode(version, buf);
            }
            aliased.encode(version, buf)
        };
        match self.outlet.push_msg(payload.len(), encode) {
            Queued::Yes { pending, .. } => producer.touch(&self.outlet, pending),
            Queued::OverLimit => self.slow_consumer(),
            Queued::Closed => return false,
        }
        true
    }

    /// Notes whether any subscription has No Local (`has_no_local`).
    fn note_no_local(&self, st: &State) {
        let any = st.subs.values().any(|s| s.record.no_local);
        self.has_no_local.store(any, Ordering::Relaxed);
    }

    /// Removes a subscription's entries from the sublist and, unless the
    /// session keeps it, its consumer.
    fn drop_sub(&self, sub: ActiveSub, delete_consumer: bool) {
        let account = self.account();
        for s in &sub.subs {
            account.sublist.remove(s);
        }
        // A shared subscription's consumer serves the other members too.
        let shared = topic::shared(&sub.record.filter).is_some();
        if let (true, false, Some(name)) = (delete_consumer, shared, &sub.record.consumer) {
            let mqtt = self.state.lock().mqtt.clone();
            if let Some(mqtt) = mqtt {
                mqtt.msgs.remove_consumer(name);
            }
        }
    }
}

/// A header value that fits on one header line.
fn header_safe(v: &str) -> bool {
    !v.contains(['\r', '\n'])
}

/// The MQTT 5 properties a server forwards become NATS headers, and back
/// (`properties_for`): user properties as themselves, the others as
/// `Nmqtt-*` headers. `source`: the publishing client's id, for No Local
/// subscriptions reading the message from the store.
fn headers_from_properties(props: &Properties, source: Option<&str>) -> Vec<u8> {
    if props.user_properties.is_empty()
        && props.message_expiry_interval.is_none()
        && props.correlation_data.is_none()
        && props.payload_format_indicator.is_none()
        && props.content_type.is_none()
        && source.is_none()
    {
        return Vec::new();
    }
    let mut block = b"NATS/1.0\r\n".to_vec();
    if let Some(secs) = props.message_expiry_interval {
        block.extend_from_slice(format!("{EXPIRY_HEADER}: {secs}\r\n").as_bytes());
    }
    if let Some(format) = props.payload_format_indicator {
        block.extend_from_slice(format!("{FORMAT_HEADER}: {format}\r\n").as_bytes());
    }
    if let Some(ct) = props.content_type.as_deref().filter(|ct| header_safe(ct)) {
        block.extend_from_slice(format!("{CONTENT_TYPE_HEADER}: {ct}\r\n").as_bytes());
    }
    if let Some(client_id) = source.filter(|id| header_safe(id)) {
        block.extend_from_slice(format!("{SOURCE_HEADER}: {client_id}\r\n").as_bytes());
    }
    if let Some(corr) = &props.correlation_data {
        // A response carries its correlation data to MQTT 5 subscribers.
        let value = data_encoding::BASE64URL_NOPAD.encode(corr);
        block.extend_from_slice(format!("{}: {value}\r\n", reply::CORRELATION_HEADER).as_bytes());
    }
    for (k, v) in &props.user_properties {
        if k.is_empty() || k.contains([':', '\r', '\n']) || v.contains(['\r', '\n']) {
            continue;
        }
        block.extend_from_slice(k.as_bytes());
        block.extend_from_slice(b": ");
        block.extend_from_slice(v.as_bytes());
        block.extend_from_slice(b"\r\n");
    }
    block.extend_from_slice(b"\r\n");
    block
}

/// The MQTT 5 properties of a delivery: user properties from NATS headers,
/// the subscription identifier, a response topic from the reply subject,
/// correlation data, and what is left of a message expiry.
fn properties_for(
    headers: &[u8],
    sub_id: u32,
    reply: Option<&[u8]>,
    age: Duration,
) -> Result<Option<Properties>, Expired> {
    let mut props = Properties::default();
    if sub_id > 0 {
        props.subscription_identifiers.push(sub_id);
    }
    for (k, v) in crate::jetstream::headers::pairs(headers) {
        let (k, v) = (k.as_str(), v.as_str());
        if k.eq_ignore_ascii_case(store::QOS_HEADER) {
            continue;
        }
        if k.eq_ignore_ascii_case(reply::CORRELATION_HEADER) {
            props.correlation_data = data_encoding::BASE64URL_NOPAD
                .decode(v.as_bytes())
                .ok()
                .map(Bytes::from);
            continue;
        }
        if k.eq_ignore_ascii_case(REPLY_HEADER)
            || k.eq_ignore_ascii_case(RETAIN_HEADER)
            || k.eq_ignore_ascii_case(SOURCE_HEADER)
        {
            continue;
        }
        if k.eq_ignore_ascii_case(FORMAT_HEADER) {
            props.payload_format_indicator = v.parse().ok();
            continue;
        }
        if k.eq_ignore_ascii_case(CONTENT_TYPE_HEADER) {
            props.content_type = Some(v.to_string());
            continue;
        }
        if k.eq_ignore_ascii_case(EXPIRY_HEADER) {
            let total = v.parse::<u64>().unwrap_or(0);
            if total > 0 && age.as_secs() >= total {
                return Err(Expired);
            }
            props.message_expiry_interval = Some(total.saturating_sub(age.as_secs()) as u32);
            continue;
        }
        props.user_properties.push((k.to_string(), v.to_string()));
    }
    if let Some(reply) = reply {
        match reply::parse(reply) {
            Some((topic, corr)) => {
                props.response_topic = Some(topic);
                props.correlation_data = corr.map(Bytes::from);
            }
            None => {
                props.response_topic =
                    Some(String::from_utf8_lossy(&topic::subject_to_topic(reply)).into_owned())
            }
        }
    }
    Ok((!props.is_empty()).then_some(props))
}

/// A stored message whose MQTT 5 expiry has passed.
struct Expired;

/// The header carrying an MQTT 5 message expiry interval (seconds).
const EXPIRY_HEADER: &str = "Nmqtt-Exp";

/// The header carrying a stored request's reply subject.
const REPLY_HEADER: &str = "Nmqtt-Reply";

/// The header marking a stored message published with the RETAIN flag.
const RETAIN_HEADER: &str = "Nmqtt-Retain";

/// The header carrying an MQTT 5 Payload Format Indicator (0 or 1).
const FORMAT_HEADER: &str = "Nmqtt-Payload-Format";

/// The header carrying an MQTT 5 Content Type.
const CONTENT_TYPE_HEADER: &str = "Nmqtt-Content-Type";

/// The header naming the client that published a stored message, for the
/// No Local subscriptions of that client.
const SOURCE_HEADER: &str = "Nmqtt-Src";

impl Subscriber for Session {
    fn client_id(&self) -> u64 {
        self.id
    }

    fn deliver(&self, sub: &Subscription, msg: &Message<'_>, producer: &mut Producer) {
        let Some(view) = read_sid(&sub.sid) else { return };
        let (headers, body) = match msg.header_len {
            Some(h) => msg.payload.split_at(h),
            None => (&[][..], msg.payload),
        };
        let stored_qos = store::qos_of(headers);
        let stored = view.kind == KIND_STORED;
        let subject = if stored {
            msg.subject
                .strip_prefix(store::MSGS_PREFIX.as_bytes())
                .unwrap_or(msg.subject)
        } else {
            msg.subject
        };
        let ack = if stored { msg.reply } else { None };
        // A stored message this client must not get is acknowledged all the
        // same, so it is not sent again. Not from here: the consumer
        // delivering it holds its own lock, which its ack handling takes.
        let skip = |_: &mut Producer| {
            if let Some(ack) = ack {
                let account = self.account();
                let ack = ack.to_vec();
                tokio::spawn(async move {
                    router::publish_internal(&account, &ack, b"+ACK");
                });
            }
        };
        // MQTT-4.7.2-1: a filter starting with a wildcard does not match `$` topics.
        if (view.filter.first() == Some(&b'+') || view.filter.first() == Some(&b'#'))
            && subject.first() == Some(&b'$')
        {
            return skip(producer);
        }
        if !stored
            && view.qos != QoS::AtMostOnce
            && stored_qos != QoS::AtMostOnce
            && STORED_IN.with(Cell::get) == Arc::as_ptr(&self.account()) as usize
        {
            // Stored by its MQTT publisher: this subscription's consumer brings it.
            return;
        }
        if view.flags & FLAG_NO_LOCAL != 0 {
            let mine = if stored {
                let source = crate::jetstream::headers::get(headers, SOURCE_HEADER);
                source.is_some() && source.map(str::as_bytes) == self.client_id.get().map(|c| c.as_bytes())
            } else {
                PUBLISHING.with(Cell::get) == self.id
            };
            if mine {
                return skip(producer);
            }
        }
        if let Some(perms) = self.permissions.load().as_ref() {
            if !perms.may_receive(subject) {
                return skip(producer);
            }
        }
        let qos = if stored {
            view.qos.min(stored_qos)
        } else {
            QoS::AtMostOnce
        };
        // MQTT-3.3.1-12/13: a live delivery has RETAIN 0, unless an MQTT 5
        // subscription asked for the publisher's flag.
        let retain = view.flags & FLAG_RETAIN_AS_PUBLISHED != 0
            && self.v5()
            && if stored {
                crate::jetstream::headers::get(headers, RETAIN_HEADER).is_some()
            } else {
                PUBLISHING_RETAINED.with(Cell::get)
            };
        let topic = topic::subject_to_topic(subject);
        // `$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<stored ns>.…`
        let mut ack_tokens = [0u64; 4];
        if let Some(a) = ack {
            for (slot, t) in ack_tokens.iter_mut().zip(a.split(|&b| b == b'.').skip(4)) {
                *slot = std::str::from_utf8(t)
                    .ok()
                    .and_then(|t| t.parse().ok())
                    .unwrap_or(0);
            }
        }
        let token = |i: usize| ack_tokens[i];
        let properties = if self.v5() {
            let age = match token(3) {
                0 => Duration::ZERO,
                stored_at => Duration::from_nanos(now_nanos().saturating_sub(stored_at)),
            };
            let reply = if stored {
                crate::jetstream::headers::get(headers, REPLY_HEADER).map(str::as_bytes)
            } else {
                msg.reply
            };
            match properties_for(headers, view.id, reply, age) {
                Ok(p) => p,
                Err(Expired) => return skip(producer),
            }
        } else {
            None
        };
        if qos == QoS::AtMostOnce {
            self.publish_out(
                &topic,
                qos,
                retain,
                false,
                None,
                properties.as_ref(),
                body,
                producer,
            );
            return skip(producer);
        }
        let (delivered, stream_seq) = if ack.is_some() {
            (token(0), token(1))
        } else {
            (1, 0)
        };
        let pid = {
            let mut st = self.state.lock();
            if stream_seq > 0 && st.held_seqs.contains(&stream_seq) {
                // Already waiting to go out.
                return;
            }
            let resend = stream_seq > 0 && st.by_seq.contains_key(&stream_seq);
            if !resend && (!st.held.is_empty() || !st.has_quota()) {
                st.held_seqs.insert(stream_seq);
                st.held.push_back(Held {
                    topic,
                    qos,
                    retain,
                    dup: delivered > 1,
                    properties,
                    body: Bytes::copy_from_slice(body),
                    ack: ack.map(Bytes::copy_from_slice),
                    stream_seq,
                });
                return;
            }
            st.send_out(stream_seq, ack.map(Bytes::copy_from_slice))
        };
        self.publish_out(
            &topic,
            qos,
            retain,
            delivered > 1,
            Some(pid),
            properties.as_ref(),
            body,
            producer,
        );
    }

    fn expire(&self, _sub: &Arc<Subscription>) {}
}

impl Connection for Session {
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
        Session::account(self)
    }
    fn user(&self) -> String {
        self.user.lock().clone()
    }
    fn issued_at(&self) -> i64 {
        self.issued_at.load(Ordering::Relaxed) as i64
    }
    fn started(&self) -> SystemTime {
        self.started
    }
    fn last_activity(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_nanos(self.last_activity.load(Ordering::Relaxed))
    }
    fn rtt(&self) -> Duration {
        Duration::ZERO
    }
    fn counters(&self) -> &Counters {
        &self.counters
    }
    fn out_counts(&self) -> (u64, u64) {
        self.outlet.out_counts()
    }
    fn pending_bytes(&self) -> usize {
        self.outlet.pending()
    }
    fn subscription_subjects(&self) -> Vec<String> {
        self.state.lock().subs.keys().cloned().collect()
    }
    fn meta(&self) -> ClientMeta {
        ClientMeta::default()
    }
    fn tls(&self) -> Option<TlsInfo> {
        None
    }
    fn close_reason(&self) -> Option<CloseReason> {
        *self.close_reason.lock()
    }
    fn mqtt_client(&self) -> Option<String> {
        self.client_id.get().cloned()
    }
    fn close(&self, reason: CloseReason) {
        let code = match reason {
            CloseReason::ServerShutdown => reason::SERVER_UNAVAILABLE,
            CloseReason::DuplicateClientId => reason::SESSION_TAKEN_OVER,
            _ => reason::UNSPECIFIED_ERROR,
        };
        self.disconnect(code, reason);
    }
    fn revoke(&self) {
        self.disconnect(reason::NOT_AUTHORIZED, CloseReason::AuthenticationViolation);
    }
    fn set_max_pending(&self, bytes: usize) {
        self.outlet.set_max_pending(bytes);
    }
    fn recheck_auth(&self) {
        let Some((username, password)) = self.credentials.lock().clone() else {
            return;
        };
        let opts = self.server.mqtt.options();
        let checked = super::auth::authenticate(
            &self.server,
            opts.as_deref(),
            username.as_deref(),
            password.as_deref(),
        );
        match checked {
            Ok(id) if Arc::ptr_eq(&id.account, &Session::account(self)) => {
                *self.user.lock() = id.user;
                self.permissions.store(id.permissions.map(Arc::new));
            }
            _ => {
                tracing::info!(cid = self.id, "MQTT client no longer authorized after the reload");
                Connection::revoke(self);
            }
        }
    }
}

/// Serves one MQTT connection over any byte transport until it closes.
pub async fn serve<R, W>(
    server: Arc<Server>,
    remote: SocketAddr,
    transport: &'static str,
    reader: R,
    writer: W,
) where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let id = server.next_client_id();
    if server.at_max_connections() {
        // The CONNECT is not even read: nats-server closes at once too.
        drop((reader, writer));
        return;
    }
    let session = Arc::new(Session {
        id,
        server: server.clone(),
        remote,
        transport,
        started: SystemTime::now(),
        last_activity: AtomicU64::new(now_nanos()),
        account: Mutex::new(server.global.clone()),
        user: Mutex::new(String::new()),
        issued_at: AtomicU64::new(0),
        permissions: arc_swap::ArcSwapOption::empty(),
        credentials: Mutex::new(None),
        counters: Counters::default(),
        outlet: Arc::new(Outlet::new(server.opts().max_pending)),
        close_reason: Mutex::new(None),
        client_id: OnceLock::new(),
        version: OnceLock::new(),
        max_packet_out: AtomicUsize::new(0),
        has_no_local: AtomicBool::new(false),
        aliases_out: Mutex::new(OutAliases::default()),
        state: Mutex::new(State::default()),
    });
    server.register(session.clone());
    session.outlet.attach(Box::new(writer));
    let read_task = tokio::spawn(read_loop(session.clone(), reader));
    // MQTT has no server PINGs: the client keeps the connection alive.
    let stopped = session
        .outlet
        .run_writer(
            || (server.opts().write_deadline, Duration::from_secs(3600)),
            Duration::from_secs(3600),
            || {},
        )
        .await;
    match stopped {
        Stopped::Closed | Stopped::Killed => {}
        Stopped::WriteError => session.set_reason(CloseReason::WriteError),
        Stopped::WriteDeadline => {
            server.stats.slow_consumers.fetch_add(1, Ordering::Relaxed);
            session.set_reason(CloseReason::SlowConsumerWriteDeadline);
        }
    }
    session.outlet.shut_transport().await;
    read_task.abort();
    finish(&session);
}

/// The connection is gone: publish the will if it is due, release the
/// subscriptions, and keep or drop the session.
fn finish(session: &Arc<Session>) {
    let (subs, will, clean, mqtt, taken_over, record) = {
        let mut st = session.state.lock();
        let record = session.client_id.get().map(|id| st.record(id));
        (
            std::mem::take(&mut st.subs),
            st.will.take(),
            st.clean,
            st.mqtt.clone(),
            st.taken_over,
            record,
        )
    };
    if let Some(will) = will {
        // MQTT 5: the will waits its delay, or until the session ends if
        // that comes first; a client back in time takes it back.
        let expiry = session.state.lock().expiry;
        let delay = will.properties.will_delay_interval.unwrap_or(0).min(expiry);
        match (&mqtt, session.client_id.get()) {
            (Some(mqtt), Some(client_id)) if delay > 0 && !taken_over => {
                delay_will(mqtt, client_id, session, will, Duration::from_secs(delay.into()));
            }
            _ => publish_will_now(session, will),
        }
    }
    let account = session.account();
    for (_, sub) in subs {
        for s in &sub.subs {
            account.sublist.remove(s);
        }
        if clean && !taken_over && topic::shared(&sub.record.filter).is_none() {
            if let (Some(mqtt), Some(name)) = (&mqtt, &sub.record.consumer) {
                mqtt.msgs.remove_consumer(name);
            }
        }
    }
    if let (Some(mqtt), Some(client_id)) = (&mqtt, session.client_id.get()) {
        let mut live = mqtt.live.lock();
        if live
            .get(client_id)
            .is_some_and(|w| w.as_ptr() == Arc::as_ptr(session))
        {
            live.remove(client_id);
        }
        drop(live);
        if !taken_over {
            match (clean, record) {
                (true, _) => mqtt.delete_session(client_id),
                (false, Some(mut record)) => {
                    // MQTT 5: the session lives its expiry from now on.
                    if !record.never_expires() {
                        record.expires_at = store::unix_now() + u64::from(record.expiry);
                    }
                    mqtt.save_session(&record);
                    mqtt.schedule_expiry(&record);
                }
                _ => {}
            }
        }
    }
    session.server.unregister(session.as_ref());
    tracing::debug!(
        cid = session.id,
        reason = %session.close_reason().unwrap_or(CloseReason::ClientClosed),
        "MQTT connection closed"
    );
}

/// Publishes a will now, as its client would have.
fn publish_will_now(session: &Arc<Session>, will: Will) {
    let mut producer = Producer::default();
    let mut reader = Reader::new(session.clone());
    reader.publish_will(will, &mut producer);
    producer.flush();
}

/// Publishes `will` after `delay` unless a connection with the same client
/// id takes it back first (`Reader::connect`).
fn delay_will(mqtt: &Arc<MqttAccount>, client_id: &str, session: &Arc<Session>, will: Will, delay: Duration) {
    static GENERATION: AtomicU64 = AtomicU64::new(0);
    let generation = GENERATION.fetch_add(1, Ordering::Relaxed);
    mqtt.delayed_wills.lock().insert(
        client_id.to_string(),
        store::DelayedWill {
            generation,
            session: session.clone(),
            will,
        },
    );
    let (mqtt, client_id) = (mqtt.clone(), client_id.to_string());
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        let due = {
            let mut wills = mqtt.delayed_wills.lock();
            match wills.get(&client_id) {
                Some(d) if d.generation == generation => wills.remove(&client_id),
                _ => None,
            }
        };
        if let Some(d) = due {
            publish_will_now(&d.session, d.will);
        }
    });
}

/// Stop reading: the connection is closing.
struct Stop;

/// What the reader keeps for itself.
struct Reader {
    session: Arc<Session>,
    account: Arc<Account>,
    decoder: Decoder,
    cache: MatchCache,
    tally: Tally,
    producer: Producer,
    connected: bool,
    keep_alive: Option<Duration>,
    /// MQTT 5 topic aliases the client set.
    aliases: HashMap<u16, Bytes>,
    /// Ack subjects of stored messages the client acknowledged in this
    /// read, passed on together (`Session::ack_stored`).
    acks: Vec<Bytes>,
    /// Where QoS 1/2 messages of this read were stored with their write
    /// deferred (`Stream::accept_deferred`): written together, once, before
    /// their PUBACKs and PUBRECs go.
    unflushed: Option<Arc<MqttAccount>>,
    /// PUBACKs and PUBRECs waiting for that write, in order.
    held_acks: Vec<Packet>,
}

async fn read_loop<R: AsyncRead + Unpin>(session: Arc<Session>, mut io: R) {
    let server = session.server.clone();
    let mut r = Reader::new(session.clone());
    let auth_timeout = server
        .mqtt
        .options()
        .and_then(|o| o.auth_timeout)
        .filter(|d| !d.is_zero())
        .unwrap_or(server.opts().auth_timeout);
    let mut deadline = Instant::now() + auth_timeout;
    let mut buf = BytesMut::with_capacity(MIN_READ_BUFFER);
    let mut size = MIN_READ_BUFFER;
    loop {
        if buf.capacity() - buf.len() < size / 2 {
            buf.reserve(size);
        }
        let read = io.read_buf(&mut buf);
        let n = if !r.connected || r.keep_alive.is_some() {
            match timeout_at(deadline, read).await {
                Ok(n) => n,
                Err(_) if !r.connected => {
                    session.close_with(CloseReason::AuthenticationTimeout);
                    return;
                }
                Err(_) => {
                    // MQTT-3.1.2-24: nothing for one and a half keep-alives.
                    tracing::debug!(cid = session.id, "MQTT keep alive timeout");
                    session.disconnect(reason::KEEP_ALIVE_TIMEOUT, CloseReason::StaleConnection);
                    return;
                }
            }
        } else {
            read.await
        };
        match n {
            Ok(0) => {
                session.close_with(CloseReason::ClientClosed);
                return;
            }
            Ok(n) => {
                if n >= size && size < MAX_READ_BUFFER {
                    size *= 2;
                } else if n < size / 4 && size > MIN_READ_BUFFER {
                    size /= 2;
                }
            }
            Err(_) => {
                session.close_with(CloseReason::ReadError);
                return;
            }
        }
        loop {
            match r.decoder.decode(&mut buf) {
                Ok(Some(packet)) => {
                    if r.handle(packet).is_err() {
                        r.settle().await;
                        return;
                    }
                    if r.producer.is_behind() {
                        r.settle().await;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    r.decode_error(e);
                    r.settle().await;
                    return;
                }
            }
        }
        r.flush_tally();
        session.last_activity.store(now_nanos(), Ordering::Relaxed);
        if let Some(k) = r.keep_alive {
            deadline = Instant::now() + k;
        }
        r.settle().await;
        if session.outlet.is_closing() {
            return;
        }
    }
}

impl Reader {
    fn new(session: Arc<Session>) -> Reader {
        let max_packet = session.server.opts().max_payload + PACKET_OVERHEAD;
        Reader {
            account: session.account(),
            decoder: Decoder::server(max_packet),
            cache: MatchCache::default(),
            tally: Tally::default(),
            producer: Producer::default(),
            connected: false,
            keep_alive: None,
            aliases: HashMap::new(),
            acks: Vec::new(),
            unflushed: None,
            held_acks: Vec::new(),
            session,
        }
    }

    /// Writes the messages stored with a deferred write, then sends the
    /// acks that waited for it.
    fn release_acks(&mut self) {
        if let Some(mqtt) = self.unflushed.take() {
            if let Err(e) = mqtt.flush_stored() {
                tracing::error!(cid = self.session.id, "MQTT: writing stored messages: {e}");
                // Not stored after all: no ack, and the client sends them
                // again when it reconnects.
                self.held_acks.clear();
                self.session
                    .disconnect(reason::IMPLEMENTATION_SPECIFIC_ERROR, CloseReason::WriteError);
                return;
            }
        }
        for packet in self.held_acks.drain(..) {
            self.session.send(&packet, Some(&mut self.producer));
        }
    }

    async fn settle(&mut self) {
        self.release_acks();
        if !self.acks.is_empty() {
            let acks = std::mem::take(&mut self.acks);
            self.session.ack_stored(&acks, &mut self.producer);
            self.acks = acks;
            self.acks.clear();
        }
        self.producer.flush_and_wait(Some(&self.session.outlet)).await;
    }

    fn flush_tally(&mut self) {
        let t = std::mem::take(&mut self.tally);
        if t.in_msgs > 0 {
            let c = &self.session.counters;
            c.in_msgs.fetch_add(t.in_msgs, Ordering::Relaxed);
            c.in_bytes.fetch_add(t.in_bytes, Ordering::Relaxed);
            self.session.server.stats.add(&t);
        }
    }

    fn send(&mut self, packet: Packet) {
        // Acks waiting for a write go first: packets leave in the order
        // they were answered.
        self.release_acks();
        self.session.send(&packet, Some(&mut self.producer));
    }

    fn decode_error(&mut self, e: DecodeError) {
        tracing::debug!(cid = self.session.id, "MQTT: {e}");
        match (&e, self.connected) {
            (DecodeError::UnsupportedVersion(_) | DecodeError::ProtocolName, false) => {
                // 3.1.1's answer to an unknown protocol level, understood by every version.
                self.send(Packet::ConnAck(ConnAck {
                    code: connack_v3::UNACCEPTABLE_PROTOCOL_VERSION,
                    ..Default::default()
                }));
                self.session.close_with(CloseReason::BadClientProtocolVersion);
            }
            (DecodeError::TooLarge(_), _) => {
                self.session
                    .disconnect(e.reason(), CloseReason::MaxPayloadExceeded);
            }
            _ if self.connected => self
                .session
                .disconnect(e.reason(), CloseReason::ProtocolViolation),
            _ => self.session.close_with(CloseReason::ProtocolViolation),
        }
    }

    fn handle(&mut self, packet: Packet) -> Result<(), Stop> {
        match packet {
            Packet::Connect(c) => self.connect(*c),
            Packet::Publish(p) => self.publish(p),
            Packet::PubAck(a) => {
                self.acked(a.packet_id, false);
                Ok(())
            }
            Packet::PubRec(a) => {
                self.acked(a.packet_id, true);
                self.send(Packet::PubRel(Ack::new(a.packet_id)));
                Ok(())
            }
            Packet::PubComp(a) => {
                let removed = self.session.state.lock().released.remove(&a.packet_id);
                if removed {
                    self.save_session();
                    self.session.send_held(&mut self.producer);
                }
                Ok(())
            }
            Packet::PubRel(a) => {
                let known = self.session.state.lock().qos2_in.remove(&a.packet_id);
                if known {
                    self.save_session();
                }
                let reason = if known || !self.session.v5() {
                    reason::SUCCESS
                } else {
                    reason::PACKET_IDENTIFIER_NOT_FOUND
                };
                self.send(Packet::PubComp(Ack {
                    packet_id: a.packet_id,
                    reason,
                    properties: Properties::default(),
                }));
                Ok(())
            }
            Packet::Subscribe(s) => {
                self.subscribe(s);
                Ok(())
            }
            Packet::Unsubscribe(u) => {
                self.unsubscribe(u);
                Ok(())
            }
            Packet::PingReq => {
                self.send(Packet::PingResp);
                Ok(())
            }
            Packet::Disconnect(d) => {
                let mut st = self.session.state.lock();
                if let Some(expiry) = d.properties.session_expiry_interval {
                    if st.expiry == 0 && expiry != 0 {
                        // MQTT-3.14.2.2.2: a session that ends with its
                        // connection cannot be kept from its DISCONNECT. Not
                        // a valid DISCONNECT, so the will goes.
                        drop(st);
                        self.session
                            .disconnect(reason::PROTOCOL_ERROR, CloseReason::ProtocolViolation);
                        return Err(Stop);
                    }
                    st.expiry = expiry;
                    st.clean = expiry == 0;
                }
                // MQTT 5 may ask for the will anyway (reason 0x04).
                if d.reason != reason::DISCONNECT_WITH_WILL {
                    st.will = None;
                }
                drop(st);
                self.session.close_with(CloseReason::ClientClosed);
                Err(Stop)
            }
            Packet::Auth(_) => {
                self.session
                    .disconnect(reason::PROTOCOL_ERROR, CloseReason::ProtocolViolation);
                Err(Stop)
            }
            Packet::ConnAck(_) | Packet::SubAck(_) | Packet::UnsubAck(_) | Packet::PingResp => {
                self.session
                    .disconnect(reason::PROTOCOL_ERROR, CloseReason::ProtocolViolation);
                Err(Stop)
            }
        }
    }

    /// CONNACK with `code` (a 3.1.1 return code or an MQTT 5 reason) and close.
    fn refuse(&mut self, v3: u8, v5: u8, why: CloseReason) -> Result<(), Stop> {
        let code = if self.session.v5() { v5 } else { v3 };
        self.send(Packet::ConnAck(ConnAck {
            code,
            ..Default::default()
        }));
        self.session.close_with(why);
        Err(Stop)
    }

    fn connect(&mut self, c: Connect) -> Result<(), Stop> {
        let session = self.session.clone();
        let _ = session.version.set(c.version);
        let v5 = c.version == Version::V5;
        if v5 && c.properties.authentication_method.is_some() {
            // Enhanced authentication is not offered.
            return self.refuse(
                connack_v3::NOT_AUTHORIZED,
                reason::BAD_AUTHENTICATION_METHOD,
                CloseReason::AuthenticationViolation,
            );
        }
        let mut client_id = c.client_id.clone();
        let mut assigned = None;
        if client_id.is_empty() {
            // MQTT-3.1.3-8: 3.1.1 accepts an empty id only with a clean session.
            if !v5 && !c.clean_start {
                return self.refuse(
                    connack_v3::IDENTIFIER_REJECTED,
                    reason::CLIENT_IDENTIFIER_NOT_VALID,
                    CloseReason::ProtocolViolation,
                );
            }
            client_id = assigned_client_id();
            assigned = Some(client_id.clone());
        }
        let server = session.server.clone();
        let opts = server.mqtt.options();
        let id = match super::auth::authenticate(
            &server,
            opts.as_deref(),
            c.username.as_deref(),
            c.password.as_deref(),
        ) {
            Ok(id) => id,
            Err(e) => {
                tracing::error!(cid = session.id, client_id = %client_id, "MQTT authentication error: {e}");
                return self.refuse(
                    connack_v3::NOT_AUTHORIZED,
                    reason::BAD_USER_NAME_OR_PASSWORD,
                    CloseReason::AuthenticationViolation,
                );
            }
        };
        *session.account.lock() = id.account.clone();
        *session.user.lock() = id.user.clone();
        session
            .issued_at
            .store(id.issued_at.max(0) as u64, Ordering::Relaxed);
        session.permissions.store(id.permissions.map(Arc::new));
        *session.credentials.lock() = Some((c.username.clone(), c.password.clone()));
        self.account = id.account.clone();
        let mqtt = match server.mqtt.account(&server, &id.account) {
            Ok(m) => m,
            Err(e) => {
                tracing::error!(cid = session.id, "MQTT: {e}");
                return self.refuse(
                    connack_v3::SERVER_UNAVAILABLE,
                    reason::SERVER_UNAVAILABLE,
                    CloseReason::ServerShutdown,
                );
            }
        };
        let _ = session.client_id.set(client_id.clone());
        // Session takeover: the older connection with this id goes.
        let previous = mqtt
            .live
            .lock()
            .insert(client_id.clone(), Arc::downgrade(&session));
        if let Some(old) = previous.and_then(|w| w.upgrade()) {
            let will = {
                let mut st = old.state.lock();
                st.taken_over = true;
                // Its subscriptions now belong to this connection.
                let account = old.account();
                for sub in st.subs.values() {
                    for s in &sub.subs {
                        account.sublist.remove(s);
                    }
                }
                st.subs.clear();
                st.will.take()
            };
            Connection::close(old.as_ref(), CloseReason::DuplicateClientId);
            if let Some(will) = will {
                let mut other = Reader::new(old.clone());
                other.publish_will(will, &mut self.producer);
            }
        }
        let expiry = c.properties.session_expiry_interval.unwrap_or(0);
        let clean = c.clean_start;
        // A will still waiting out its delay: the client is back in time,
        // so it is not sent, unless this connection ends the old session.
        let delayed = mqtt.delayed_wills.lock().remove(&client_id);
        if let (Some(d), true) = (delayed, clean) {
            let mut other = Reader::new(d.session.clone());
            other.publish_will(d.will, &mut self.producer);
        }
        // MQTT 5 keeps a session only while its expiry says so.
        let keep = if v5 { expiry > 0 } else { !clean };
        let record = if clean {
            if let Some(old) = mqtt.load_session(&client_id) {
                for sub in &old.subs {
                    if let Some(name) = &sub.consumer {
                        mqtt.msgs.remove_consumer(name);
                    }
                }
                mqtt.delete_session(&client_id);
            }
            None
        } else {
            mqtt.load_session(&client_id)
        };
        let session_present = record.is_some();
        {
            let mut st = session.state.lock();
            st.clean = !keep;
            st.expiry = expiry;
            st.mqtt = Some(mqtt.clone());
            st.will = c.will.clone();
            st.receive_max = c.properties.receive_maximum;
            st.receive_max_in = if v5 {
                opts.as_ref()
                    .map_or(crate::options::DEFAULT_MQTT_RECEIVE_MAXIMUM, |o| {
                        o.receive_maximum
                    })
            } else {
                0
            };
            if let Some(r) = &record {
                st.qos2_in = r.qos2_in.iter().copied().collect();
                st.released = r.released.iter().copied().collect();
            }
        }
        if let Some(max) = c.properties.maximum_packet_size {
            session.max_packet_out.store(max as usize, Ordering::Relaxed);
        }
        if v5 {
            // The client takes topic aliases from the server up to this.
            session.aliases_out.lock().max = c.properties.topic_alias_maximum.unwrap_or(0);
        }
        let mut props = Properties::default();
        if v5 {
            props.assigned_client_identifier = assigned;
            props.topic_alias_maximum = Some(TOPIC_ALIAS_MAXIMUM);
            props.retain_available = Some(1);
            props.wildcard_subscription_available = Some(1);
            props.subscription_identifier_available = Some(1);
            props.shared_subscription_available = Some(1);
            props.maximum_packet_size = Some((server.opts().max_payload + PACKET_OVERHEAD) as u32);
            props.receive_maximum = Some(session.state.lock().receive_max_in);
        }
        self.send(Packet::ConnAck(ConnAck {
            session_present,
            code: 0,
            properties: props,
        }));
        self.connected = true;
        self.keep_alive = (c.keep_alive > 0).then(|| Duration::from_millis(c.keep_alive as u64 * 1500));
        // Restore a persistent session's subscriptions, and release again
        // the QoS 2 messages whose PUBCOMP had not come (MQTT-4.4.0-1).
        if let Some(record) = record {
            for sub in record.subs {
                self.add_subscription(sub, true);
            }
            for packet_id in record.released {
                self.send(Packet::PubRel(Ack::new(packet_id)));
            }
        }
        Ok(())
    }

    fn acked(&mut self, packet_id: u16, qos2: bool) {
        let inflight = {
            let mut st = self.session.state.lock();
            let inflight = st.inflight.remove(&packet_id);
            if let Some(i) = &inflight {
                st.by_seq.remove(&i.stream_seq);
                if qos2 {
                    st.released.insert(packet_id);
                }
            }
            inflight
        };
        if qos2 && inflight.is_some() {
            // The PUBREL this answers must go out again if the session resumes.
            self.save_session();
        }
        if let Some(ack) = inflight.and_then(|i| i.ack) {
            self.acks.push(ack);
        }
        if !qos2 {
            self.session.send_held(&mut self.producer);
        }
    }

    fn publish(&mut self, mut p: Publish) -> Result<(), Stop> {
        if !self.connected {
            self.session.close_with(CloseReason::ProtocolViolation);
            return Err(Stop);
        }
        self.tally.in_msgs += 1;
        self.tally.in_bytes += p.payload.len() as u64;
        let v5 = self.session.v5();
        if let Some(alias) = p.properties.topic_alias {
            if alias == 0 || alias > TOPIC_ALIAS_MAXIMUM {
                self.session
                    .disconnect(reason::TOPIC_ALIAS_INVALID, CloseReason::ProtocolViolation);
                return Err(Stop);
            }
            if p.topic.is_empty() {
                match self.aliases.get(&alias) {
                    Some(t) => p.topic = t.clone(),
                    None => {
                        self.session
                            .disconnect(reason::PROTOCOL_ERROR, CloseReason::ProtocolViolation);
                        return Err(Stop);
                    }
                }
            } else {
                self.aliases.insert(alias, p.topic.clone());
            }
        }
        let subject = match topic::topic_to_subject(p.topic_str()) {
            Ok(s) => s,
            Err(e) => {
                tracing::debug!(cid = self.session.id, "MQTT: topic {:?}: {e}", p.topic_str());
                self.session
                    .disconnect(reason::TOPIC_NAME_INVALID, CloseReason::ProtocolViolation);
                return Err(Stop);
            }
        };
        let Some(subject) = self.mapped(subject) else {
            // The account's mappings send it nowhere: accepted, not delivered.
            self.ack_publish(&p, reason::SUCCESS);
            return Ok(());
        };
        let allowed = self
            .session
            .permissions
            .load()
            .as_ref()
            .is_none_or(|perms| perms.may_publish(subject.as_bytes()));
        if !allowed {
            tracing::error!(cid = self.session.id, "Publish Violation - Subject {subject:?}");
            self.ack_publish(&p, reason::NOT_AUTHORIZED);
            return Ok(());
        }
        if p.qos == QoS::ExactlyOnce {
            let pid = p.packet_id.unwrap_or(0);
            let mut st = self.session.state.lock();
            let max = usize::from(st.receive_max_in);
            if max > 0 && !st.qos2_in.contains(&pid) && st.qos2_in.len() >= max {
                // MQTT-3.3.4-9: more unacknowledged QoS 2 PUBLISHes than
                // the Receive Maximum this server announced.
                drop(st);
                tracing::debug!(cid = self.session.id, "MQTT: receive maximum {max} exceeded");
                self.session
                    .disconnect(reason::RECEIVE_MAXIMUM_EXCEEDED, CloseReason::ProtocolViolation);
                return Err(Stop);
            }
            let seen = !st.qos2_in.insert(pid);
            drop(st);
            if seen {
                // A resent QoS 2 PUBLISH before PUBREL: delivered once already.
                self.ack_publish(&p, reason::SUCCESS);
                return Ok(());
            }
        }
        match self.route(&subject, &p, v5) {
            Ok(()) => {
                if p.qos == QoS::ExactlyOnce {
                    // Kept with the session: a resend after a restart is
                    // recognised as already delivered.
                    self.save_session();
                }
                self.ack_publish(&p, reason::SUCCESS)
            }
            Err(e) => {
                tracing::error!(
                    cid = self.session.id,
                    "MQTT: storing a QoS {} message: {e}",
                    p.qos as u8
                );
                if p.qos == QoS::ExactlyOnce {
                    self.session
                        .state
                        .lock()
                        .qos2_in
                        .remove(&p.packet_id.unwrap_or(0));
                }
                if v5 {
                    self.ack_publish(&p, reason::IMPLEMENTATION_SPECIFIC_ERROR);
                }
                // A 3.1.1 client gets no PUBACK and sends again.
            }
        }
        Ok(())
    }

    /// The subject after the account's mappings; `None` when they send it nowhere.
    fn mapped(&self, subject: String) -> Option<String> {
        match self.account.map_subject(subject.as_bytes()) {
            Mapped::Unchanged => Some(subject),
            Mapped::To(to) => Some(to),
            Mapped::Lost => None,
        }
    }

    /// PUBACK or PUBREC for a received PUBLISH.
    /// It waits while messages stored before it wait for their write.
    fn ack_publish(&mut self, p: &Publish, code: u8) {
        let Some(packet_id) = p.packet_id else { return };
        let ack = Ack {
            packet_id,
            reason: code,
            properties: Properties::default(),
        };
        let packet = match p.qos {
            QoS::AtMostOnce => return,
            QoS::AtLeastOnce => Packet::PubAck(ack),
            QoS::ExactlyOnce => Packet::PubRec(ack),
        };
        if self.unflushed.is_some() || !self.held_acks.is_empty() {
            self.held_acks.push(packet);
        } else {
            self.session.send(&packet, Some(&mut self.producer));
        }
    }

    /// Stores (QoS 1/2, retained) and routes a publication.
    fn route(&mut self, subject: &str, p: &Publish, v5: bool) -> Result<(), String> {
        // The client id goes with a stored message only when one of this
        // client's subscriptions has No Local (it is read back from there).
        let source = (p.qos != QoS::AtMostOnce && self.session.has_no_local.load(Ordering::Relaxed))
            .then(|| self.session.client_id.get().map(String::as_str))
            .flatten();
        let mut headers = if v5 {
            headers_from_properties(&p.properties, source)
        } else {
            Vec::new()
        };
        let reply_to = match (&p.properties.response_topic, v5) {
            (Some(topic), true) => Some(reply::reply_subject(
                topic,
                p.properties.correlation_data.as_deref(),
            )),
            _ => None,
        };
        if p.qos != QoS::AtMostOnce {
            let mark = store::qos_headers(p.qos);
            if headers.is_empty() {
                headers = mark.to_vec();
            } else {
                // One block: the QoS line before the user properties' end.
                headers.truncate(headers.len() - 2);
                headers.extend_from_slice(&mark[b"NATS/1.0\r\n".len()..]);
            }
        }
        // The header block and payload together, once for the store and the
        // subscribers both.
        let joined;
        let (header_len, payload) = if headers.is_empty() {
            (None, &p.payload[..])
        } else {
            joined = [&headers[..], &p.payload[..]].concat();
            (Some(headers.len()), &joined[..])
        };
        let mqtt = self.session.state.lock().mqtt.clone();
        let mut stored_in = 0;
        if let Some(mqtt) = &mqtt {
            // The stored copies keep the request's reply subject and the
            // RETAIN flag in headers: a consumer's delivery has its ack
            // subject as the reply, and is not a retained publish.
            let extra = reply_to.is_some() || p.retain;
            let stored_headers = if extra {
                let mut stored = if headers.is_empty() {
                    b"NATS/1.0\r\n".to_vec()
                } else {
                    headers[..headers.len() - 2].to_vec()
                };
                if let Some(reply) = &reply_to {
                    stored.extend_from_slice(format!("{REPLY_HEADER}: {reply}\r\n").as_bytes());
                }
                if p.retain {
                    stored.extend_from_slice(format!("{RETAIN_HEADER}: 1\r\n").as_bytes());
                }
                stored.extend_from_slice(b"\r\n");
                stored
            } else {
                Vec::new()
            };
            // Retained first: a subscription made while this publish is
            // under way then finds it retained, or gets it live, or both;
            // never neither.
            if p.retain {
                mqtt.retain(subject, &stored_headers, &p.payload)?;
            }
            if p.qos != QoS::AtMostOnce {
                if extra {
                    let len = stored_headers.len();
                    let stored = [&stored_headers[..], &p.payload[..]].concat();
                    mqtt.store(subject, len, &stored, &mut self.producer)?;
                } else {
                    // A QoS 1/2 publish always has its QoS header.
                    mqtt.store(subject, headers.len(), payload, &mut self.producer)?;
                }
                self.unflushed = Some(mqtt.clone());
                stored_in = Arc::as_ptr(&self.account) as usize;
            }
        }
        let result = self.cache.lookup(&self.account.sublist, subject.as_bytes());
        if result.is_empty() {
            return Ok(());
        }
        let msg = Message {
            subject: subject.as_bytes(),
            reply: reply_to.as_deref().map(str::as_bytes),
            header_len,
            payload,
            hops: 0,
        };
        PUBLISHING.with(|c| c.set(self.session.id));
        PUBLISHING_RETAINED.with(|c| c.set(p.retain));
        let outer = STORED_IN.with(|c| c.replace(stored_in));
        let delivered = router::deliver(&result, &msg, None, &mut self.producer) as u64;
        STORED_IN.with(|c| c.set(outer));
        PUBLISHING.with(|c| c.set(0));
        PUBLISHING_RETAINED.with(|c| c.set(false));
        self.tally.out_msgs += delivered;
        self.tally.out_bytes += delivered * p.payload.len() as u64;
        Ok(())
    }

    /// Publishes a will as if its client had published it.
    fn publish_will(&mut self, will: Will, producer: &mut Producer) {
        std::mem::swap(&mut self.producer, producer);
        let p = Publish {
            dup: false,
            qos: will.qos,
            retain: will.retain,
            topic: Bytes::from(will.topic.clone()),
            packet_id: None,
            properties: will.properties.clone(),
            payload: will.payload.clone(),
        };
        self.connected = true;
        match topic::topic_to_subject(&will.topic).map(|s| self.mapped(s)) {
            Ok(None) => {}
            Ok(Some(subject)) => {
                let allowed = self
                    .session
                    .permissions
                    .load()
                    .as_ref()
                    .is_none_or(|perms| perms.may_publish(subject.as_bytes()));
                if allowed {
                    if let Err(e) = self.route(&subject, &p, self.session.v5()) {
                        tracing::error!(cid = self.session.id, "MQTT: publishing the will: {e}");
                    }
                    self.release_acks();
                }
            }
            Err(e) => tracing::debug!(cid = self.session.id, "MQTT: will topic {:?}: {e}", will.topic),
        }
        std::mem::swap(&mut self.producer, producer);
    }

    fn subscribe(&mut self, s: Subscribe) {
        let sub_id = s.properties.subscription_identifiers.first().copied();
        let mut codes = Vec::with_capacity(s.filters.len());
        let mut retained_for = Vec::new();
        for (filter, options) in s.filters {
            let record = SubRecord {
                filter,
                qos: options.qos as u8,
                no_local: options.no_local,
                retain_as_published: options.retain_as_published,
                consumer: None,
                id: sub_id,
            };
            let existed = self.session.state.lock().subs.contains_key(&record.filter);
            let code = self.add_subscription(record.clone(), false);
            codes.push(code);
            if code < 0x80 {
                let send_retained = match options.retain_handling {
                    0 => true,
                    1 => !existed,
                    _ => false,
                };
                if send_retained {
                    retained_for.push(record);
                }
            }
        }
        self.send(Packet::SubAck(SubAck {
            packet_id: s.packet_id,
            codes,
            properties: Properties::default(),
        }));
        // Retained messages follow the SUBACK, as mosquitto sends them.
        for record in &retained_for {
            self.send_retained(record);
        }
        self.save_session();
    }

    /// Adds (or replaces) one subscription; the SUBACK code.
    fn add_subscription(&mut self, mut record: SubRecord, restoring: bool) -> u8 {
        let v5 = self.session.v5();
        let failure = |code: u8| if v5 { code } else { 0x80 };
        let (queue, filter) = match topic::shared(&record.filter) {
            Some((group, f)) => (Some(group.to_string()), f.to_string()),
            None => (None, record.filter.clone()),
        };
        let subjects = match topic::filter_to_subjects(&filter) {
            Ok(s) => s,
            Err(_) => return failure(reason::TOPIC_FILTER_INVALID),
        };
        if let Some(perms) = self.session.permissions.load().as_ref() {
            if !subjects.iter().all(|s| perms.may_subscribe(s.as_bytes())) {
                tracing::error!(
                    cid = self.session.id,
                    "Subscription Violation - Filter {filter:?}"
                );
                return failure(reason::NOT_AUTHORIZED);
            }
        }
        let qos = QoS::from_bits(record.qos).unwrap_or_default();
        let options = SubscribeOptions {
            qos,
            no_local: record.no_local,
            retain_as_published: record.retain_as_published,
            retain_handling: 0,
        };
        // A subscription with the same filter is replaced.
        let old = self.session.state.lock().subs.remove(&record.filter);
        let old_consumer = old.as_ref().and_then(|o| o.record.consumer.clone());
        if let Some(old) = old {
            self.session.drop_sub(old, false);
        }
        let me: Arc<dyn Subscriber> = self.session.clone();
        let queue_bytes = queue.as_ref().map(|q| Bytes::from(q.clone()));
        let mut subs = Vec::new();
        let core_sid = sid_for(KIND_CORE, qos, &options, record.id, &filter);
        for subject in &subjects {
            let sub = Arc::new(Subscription::new(
                Bytes::from(subject.clone()),
                queue_bytes.clone(),
                core_sid.clone(),
                me.clone(),
            ));
            if self.account.sublist.insert(sub.clone()).is_ok() {
                subs.push(sub);
            }
        }
        let mut granted = qos;
        if qos != QoS::AtMostOnce {
            match self.stored_subscription(
                &record,
                queue.as_deref(),
                &filter,
                &subjects,
                old_consumer,
                restoring,
            ) {
                Ok((name, sub)) => {
                    record.consumer = Some(name);
                    subs.push(sub);
                }
                Err(e) => {
                    // Without the store, the subscription still gets QoS 0.
                    tracing::error!(
                        cid = self.session.id,
                        "MQTT: QoS {} subscription {filter:?}: {e}",
                        qos as u8
                    );
                    granted = QoS::AtMostOnce;
                    record.qos = 0;
                    record.consumer = None;
                }
            }
        }
        let mut st = self.session.state.lock();
        st.subs.insert(record.filter.clone(), ActiveSub { record, subs });
        self.session.note_no_local(&st);
        granted as u8
    }

    /// The durable consumer and delivery subscription of a QoS 1/2
    /// subscription.
    fn stored_subscription(
        &mut self,
        record: &SubRecord,
        queue: Option<&str>,
        filter: &str,
        subjects: &[String],
        old_consumer: Option<String>,
        restoring: bool,
    ) -> Result<(String, Arc<Subscription>), String> {
        let mqtt = self.session.state.lock().mqtt.clone().ok_or("no MQTT state")?;
        let client_id = self.session.client_id.get().cloned().unwrap_or_default();
        // Members of a shared subscription share one consumer.
        let owner = match queue {
            Some(group) => format!("$share/{group}"),
            None => client_id,
        };
        // A clean session's consumers carry their own prefix: one left
        // behind by a crash is found and deleted when the account's MQTT
        // state opens again, before any session exists.
        let clean = self.session.state.lock().clean && queue.is_none();
        // A session taken back keeps its consumers and what they hold for
        // it, even when this connection ends it (MQTT 5 clean start 0 with
        // no session expiry: the session resumes, then ends with this
        // connection).
        let name = match (&record.consumer, restoring) {
            (Some(name), true) if mqtt.msgs.consumer(name).is_some() => name.clone(),
            _ => consumer_name(&owner, filter, clean),
        };
        let deliver = format!("$MQTT.sub.{name}");
        let opts = self.session.server.mqtt.options();
        let ack_wait = opts.as_ref().map_or(Duration::from_secs(30), |o| o.ack_wait);
        // The client's receive maximum is kept over all its subscriptions
        // by the session (`Held`), not by each consumer.
        let max_ack_pending = opts.as_ref().map_or(1024, |o| o.max_ack_pending) as i64;
        let inactive_threshold = opts
            .as_ref()
            .and_then(|o| o.consumer_inactive_threshold)
            .map_or(0, |d| d.as_nanos() as i64);
        let existing = mqtt.msgs.consumer(&name);
        let consumer = match existing {
            Some(c) => c,
            None => {
                if let Some(old) = old_consumer.filter(|o| *o != name) {
                    mqtt.msgs.remove_consumer(&old);
                }
                let config = ConsumerConfig {
                    durable_name: name.clone(),
                    deliver_policy: DeliverPolicy::New,
                    ack_policy: AckPolicy::Explicit,
                    ack_wait: ack_wait.as_nanos() as i64,
                    max_ack_pending,
                    filter_subjects: subjects
                        .iter()
                        .map(|s| format!("{}{s}", store::MSGS_PREFIX))
                        .collect(),
                    deliver_subject: Some(deliver.clone()),
                    deliver_group: queue.map(str::to_string),
                    // `consumer_inactive_threshold`: a session away that long
                    // loses its stored messages, as with nats-server.
                    inactive_threshold,
                    ..Default::default()
                };
                mqtt.msgs
                    .add_consumer(Some(name.clone()), config, "")
                    .map_err(|e| e.description)?
            }
        };
        let options = SubscribeOptions {
            qos: QoS::from_bits(record.qos).unwrap_or_default(),
            no_local: record.no_local,
            retain_as_published: record.retain_as_published,
            retain_handling: 0,
        };
        let sid = sid_for(KIND_STORED, options.qos, &options, record.id, filter);
        let me: Arc<dyn Subscriber> = self.session.clone();
        let sub = Arc::new(Subscription::new(
            Bytes::from(deliver),
            queue.map(|q| Bytes::from(q.to_string())),
            sid,
            me,
        ));
        self.account
            .sublist
            .insert(sub.clone())
            .map_err(|e| format!("{e:?}"))?;
        if restoring {
            // Messages sent before the client went away are sent again now.
            consumer.redeliver_pending_now();
        }
        Ok((name, sub))
    }

    /// Sends the retained messages matching a new subscription.
    fn send_retained(&mut self, record: &SubRecord) {
        let Some(mqtt) = self.session.state.lock().mqtt.clone() else {
            return;
        };
        if topic::shared(&record.filter).is_some() {
            // MQTT 5: no retained messages for shared subscriptions.
            return;
        }
        let Ok(subjects) = topic::filter_to_subjects(&record.filter) else {
            return;
        };
        let sub_qos = QoS::from_bits(record.qos).unwrap_or_default();
        let v5 = self.session.v5();
        let now = now_nanos();
        for r in mqtt.retained_matching(&subjects, topic::starts_with_wildcard(&record.filter)) {
            if let Some(perms) = self.session.permissions.load().as_ref() {
                if !perms.may_receive(r.subject.as_bytes()) {
                    continue;
                }
            }
            // The properties it was published with, its expiry counted down.
            let age = Duration::from_nanos(now.saturating_sub(r.stored_at.max(0) as u64));
            let reply = crate::jetstream::headers::get(&r.headers, REPLY_HEADER).map(str::as_bytes);
            let props = match properties_for(&r.headers, record.id.unwrap_or(0), reply, age) {
                Ok(props) => props.filter(|_| v5),
                Err(Expired) => continue,
            };
            let qos = sub_qos.min(r.qos);
            let pid = (qos != QoS::AtMostOnce).then(|| {
                let mut st = self.session.state.lock();
                let pid = Session::next_pid(&mut st);
                st.inflight.insert(
                    pid,
                    Inflight {
                        ack: None,
                        stream_seq: 0,
                    },
                );
                pid
            });
            let topic = topic::subject_to_topic(r.subject.as_bytes());
            self.session.publish_out(
                &topic,
                qos,
                true,
                false,
                pid,
                props.as_ref(),
                &r.payload,
                &mut self.producer,
            );
        }
    }

    fn unsubscribe(&mut self, u: Unsubscribe) {
        let mut codes = Vec::with_capacity(u.filters.len());
        for filter in &u.filters {
            let removed = {
                let mut st = self.session.state.lock();
                let removed = st.subs.remove(filter);
                self.session.note_no_local(&st);
                removed
            };
            codes.push(match removed {
                Some(sub) => {
                    self.session.drop_sub(sub, true);
                    reason::SUCCESS
                }
                None => reason::NO_SUBSCRIPTION_EXISTED,
            });
        }
        self.send(Packet::UnsubAck(UnsubAck {
            packet_id: u.packet_id,
            codes,
            properties: Properties::default(),
        }));
        self.save_session();
    }

    /// Writes a persistent session's record after its subscriptions changed.
    fn save_session(&self) {
        let st = self.session.state.lock();
        if st.clean {
            return;
        }
        let (Some(mqtt), Some(client_id)) = (&st.mqtt, self.session.client_id.get()) else {
            return;
        };
        let record = st.record(client_id);
        let mqtt = mqtt.clone();
        drop(st);
        mqtt.save_session(&record);
    }
}

/// An identifier for a client that connected without one (22 characters,
/// as the specification guarantees every server accepts).
fn assigned_client_id() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    (0..22)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// A consumer name for a subscription: stable for the same client and
/// filter, and a valid consumer name whatever the filter holds.
fn consumer_name(owner: &str, filter: &str, clean: bool) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("{owner}\u{0}{filter}").as_bytes());
    let hex: String = digest[..10].iter().map(|b| format!("{b:02x}")).collect();
    let prefix = if clean {
        store::CLEAN_CONSUMER_PREFIX
    } else {
        "mqtt_"
    };
    format!("{prefix}{hex}")
}
