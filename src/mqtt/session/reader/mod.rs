//! The reader task: reads packets, decodes them and carries them out,
//! batching what one read brings (stored messages' writes, acks).

mod connect;
mod publish;
mod subscribe;

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use junction_mqtt::{connack_v3, reason, Ack, ConnAck, DecodeError, Decoder, Packet, Properties};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::time::{timeout_at, Instant};

use super::*;
use crate::account::Account;
use crate::account::MatchCache;
use crate::conn::CloseReason;
use crate::mqtt::store::{self, MqttAccount};
use crate::outlet::Producer;
use crate::server::Tally;

/// Stop reading: the connection is closing.
pub(super) struct Stop;

/// What the reader keeps for itself.
pub(super) struct Reader {
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

pub(super) async fn read_loop<R: AsyncRead + Unpin>(session: Arc<Session>, mut io: R) {
    let mut r = Reader::new(session.clone());
    let auth_timeout = session.settings().auth_timeout;
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
        session.touch();
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
    pub(super) fn new(session: Arc<Session>) -> Reader {
        let max_packet = session.settings().max_payload + PACKET_OVERHEAD;
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
