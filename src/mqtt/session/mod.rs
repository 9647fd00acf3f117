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
//!
//! Here: the `Session` (the shared half) and how it writes to its client.
//! Beside it: `deliver` (the session as a subscriber), `connection` (as the
//! server's connection record), `lifecycle` (accept to close, wills),
//! `reader` (the reader task: CONNECT, PUBLISH, SUBSCRIBE), `properties`
//! (MQTT 5 properties and NATS headers), `sid`, `state` and `aliases`.

mod aliases;
mod connection;
mod deliver;
mod lifecycle;
mod properties;
mod reader;
mod sid;
mod state;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use junction_mqtt::{Disconnect, Packet, Properties, PublishRef, QoS, Version};
use parking_lot::Mutex;

use super::store;
use super::topic;
use crate::conn::{CloseReason, ConnCore};
use crate::message::ConnKind;
use crate::outlet::{Producer, Queued};
use crate::server::Server;

use aliases::OutAliases;
pub use lifecycle::serve;
use properties::*;
use reader::{read_loop, Reader};
use sid::*;
use state::*;

const MIN_READ_BUFFER: usize = 512;
const MAX_READ_BUFFER: usize = 64 * 1024;
/// Topic aliases a client may set (MQTT 5).
const TOPIC_ALIAS_MAXIMUM: u16 = 64;
/// Extra room over `max_payload` for a packet's topic and properties.
const PACKET_OVERHEAD: usize = 64 * 1024;

/// The shared half of an MQTT connection: the connection core (reached
/// through `Deref`) and what MQTT adds.
pub struct Session {
    core: ConnCore,
    server: Arc<Server>,
    /// The accounts' MQTT state.
    mqtt: Arc<super::Mqtt>,
    /// The CONNECT user name and password, checked again on a reload.
    credentials: Mutex<Option<(Option<String>, Option<Bytes>)>>,
    client_id: OnceLock<String>,
    version: OnceLock<Version>,
    /// The client's maximum packet size (MQTT 5); 0 for none.
    max_packet_out: AtomicUsize,
    /// Whether any subscription of this session has MQTT 5's No Local:
    /// its QoS 1/2 publishes then carry their client id through the store.
    has_no_local: AtomicBool,
    /// Topic aliases this server set towards the client (MQTT 5).
    aliases_out: OnceLock<Mutex<OutAliases>>,
    state: Mutex<State>,
}

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

impl std::ops::Deref for Session {
    type Target = ConnCore;

    fn deref(&self) -> &ConnCore {
        &self.core
    }
}

impl Session {
    fn version(&self) -> Version {
        self.version.get().copied().unwrap_or(Version::V311)
    }

    fn v5(&self) -> bool {
        self.version() == Version::V5
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
        self.core.slow_consumer(&self.server.stats.slow_consumers);
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
                self.account().publish_internal_with(&acks[i], b"+ACK", producer);
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
            // Set only for a client that takes aliases: others pay no lock.
            let alias = self.aliases_out.get().and_then(|a| a.lock().lookup(topic));
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
                    if let Some(a) = self.aliases_out.get() {
                        a.lock().forget(topic);
                    }
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
            account.unsubscribe(s);
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
