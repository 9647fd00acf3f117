//! What a session keeps under its lock: its subscriptions, the QoS 1/2
//! messages in flight both ways, and deliveries held back by the client's
//! receive maximum.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use bytes::Bytes;
use junction_mqtt::{Properties, QoS, Will};

use super::*;
use crate::mqtt::store::{MqttAccount, SessionRecord, SubRecord};
use crate::subscription::Subscription;

/// A subscription this session holds.
pub(super) struct ActiveSub {
    pub(super) record: SubRecord,
    /// Its subscriptions in the account's sublist: one per subject of the
    /// filter, and the one on its consumer's delivery subject.
    pub(super) subs: Vec<Arc<Subscription>>,
}

/// A stored QoS 1/2 delivery waiting for room under the client's receive
/// maximum (MQTT 5): it gets its packet identifier when it goes out.
pub(super) struct Held {
    pub(super) topic: Vec<u8>,
    pub(super) qos: QoS,
    pub(super) retain: bool,
    pub(super) dup: bool,
    pub(super) properties: Option<Properties>,
    pub(super) body: Bytes,
    pub(super) ack: Option<Bytes>,
    pub(super) stream_seq: u64,
}

/// An outgoing QoS 1/2 message awaiting the client's acknowledgement.
pub(super) struct Inflight {
    /// The consumer's ack subject, for messages from the store.
    pub(super) ack: Option<Bytes>,
    pub(super) stream_seq: u64,
}

#[derive(Default)]
pub(super) struct State {
    pub(super) subs: HashMap<String, ActiveSub>,
    pub(super) next_pid: u16,
    pub(super) inflight: rustc_hash::FxHashMap<u16, Inflight>,
    /// Stream sequence → packet id, so a redelivery reuses its packet id.
    pub(super) by_seq: rustc_hash::FxHashMap<u64, u16>,
    /// Outgoing QoS 2 past PUBREC, awaiting PUBCOMP.
    pub(super) released: HashSet<u16>,
    /// Incoming QoS 2 answered with PUBREC, awaiting PUBREL.
    pub(super) qos2_in: HashSet<u16>,
    pub(super) will: Option<Will>,
    pub(super) clean: bool,
    /// MQTT 5 session expiry (seconds) asked for at CONNECT or DISCONNECT.
    pub(super) expiry: u32,
    pub(super) mqtt: Option<Arc<MqttAccount>>,
    /// Set when this session was replaced by a newer connection with the
    /// same client id: it must not touch the shared session state.
    pub(super) taken_over: bool,
    /// MQTT 5 receive maximum: QoS 1/2 messages the client takes
    /// unacknowledged, over all its subscriptions.
    pub(super) receive_max: Option<u16>,
    /// The receive maximum this server announced (MQTT 5): QoS 2
    /// PUBLISHes the client may leave awaiting PUBREL; 0 for none (3.1.1).
    pub(super) receive_max_in: u16,
    /// Deliveries past the receive maximum, in order, and their stream
    /// sequences (a consumer's redelivery of one is not queued twice).
    pub(super) held: VecDeque<Held>,
    pub(super) held_seqs: HashSet<u64>,
}

impl State {
    /// Records a stored message going out and returns its packet id: the
    /// one it had when this is a redelivery, a new one otherwise.
    pub(super) fn send_out(&mut self, stream_seq: u64, ack: Option<Bytes>) -> u16 {
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
    pub(super) fn has_quota(&self) -> bool {
        let max = self.receive_max.map_or(usize::MAX, usize::from);
        self.inflight.len() + self.released.len() < max
    }
}

impl State {
    /// What a persistent session keeps of this state.
    pub(super) fn record(&self, client_id: &str) -> SessionRecord {
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
