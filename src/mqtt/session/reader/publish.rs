//! PUBLISH from the client (and its will): mapping, permissions, QoS 2
//! bookkeeping, storing and routing.

use std::borrow::Cow;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use junction_mqtt::{reason, Ack, Packet, Properties, Publish, QoS, Will};

use super::super::*;
use super::*;
use crate::account::Admitted;
use crate::conn::CloseReason;
use crate::message::{ConnKind, Origin};
use crate::mqtt::store;
use crate::mqtt::{reply, topic};
use crate::outlet::Producer;
use crate::subscription::Message;

impl Reader {
    pub(in crate::mqtt::session) fn publish(&mut self, mut p: Publish) -> Result<(), Stop> {
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
        let subject = match self.admit(subject) {
            Ok(Some(subject)) => subject,
            // The account's mappings send it nowhere: accepted, not delivered.
            Ok(None) => {
                self.ack_publish(&p, reason::SUCCESS);
                return Ok(());
            }
            Err(()) => {
                self.ack_publish(&p, reason::NOT_AUTHORIZED);
                return Ok(());
            }
        };
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

    /// The subject after the account's mappings (`None` when they send it
    /// nowhere), if this client may publish to it.
    fn admit(&self, subject: String) -> Result<Option<String>, ()> {
        let perms = self.session.permissions_guard();
        let admitted = self.account.admit(
            subject.as_bytes(),
            perms.as_ref().and_then(|g| g.as_deref()),
            false,
        );
        let mapped = match admitted {
            // Unchanged: the topic's own subject goes on, not a copy.
            Admitted::Subject(Cow::Borrowed(_)) => None,
            Admitted::Subject(Cow::Owned(to)) => Some(to),
            Admitted::Lost => return Ok(None),
            Admitted::Invalid(to) | Admitted::Denied(to) => {
                let to = String::from_utf8_lossy(&to);
                tracing::error!(cid = self.session.id, "Publish Violation - Subject {to:?}");
                return Err(());
            }
        };
        // Topic names and mappings are UTF-8 throughout.
        Ok(Some(match mapped {
            None => subject,
            Some(to) => {
                String::from_utf8(to).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
            }
        }))
    }

    /// PUBACK or PUBREC for a received PUBLISH.
    /// It waits while messages stored before it wait for their write.
    pub(in crate::mqtt::session) fn ack_publish(&mut self, p: &Publish, code: u8) {
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
    pub(in crate::mqtt::session) fn route(
        &mut self,
        subject: &str,
        p: &Publish,
        v5: bool,
    ) -> Result<(), String> {
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
        let mut stored_in = false;
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
                stored_in = true;
            }
        }
        let msg = Message {
            stored_in: stored_in.then_some(self.account.name.as_str()),
            retain: p.retain,
            ..Message::new(
                subject.as_bytes(),
                reply_to.as_deref().map(str::as_bytes),
                header_len,
                payload,
                Origin::new(self.session.id, ConnKind::Mqtt, true),
            )
        };
        let delivered = self
            .account
            .publish(&msg, Some(&mut self.cache), &mut self.producer) as u64;
        self.tally.out_msgs += delivered;
        self.tally.out_bytes += delivered * p.payload.len() as u64;
        Ok(())
    }

    /// Publishes a will as if its client had published it.
    pub(in crate::mqtt::session) fn publish_will(&mut self, will: Will, producer: &mut Producer) {
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
        match topic::topic_to_subject(&will.topic).map(|s| self.admit(s)) {
            Ok(Ok(Some(subject))) => {
                if let Err(e) = self.route(&subject, &p, self.session.v5()) {
                    tracing::error!(cid = self.session.id, "MQTT: publishing the will: {e}");
                }
                self.release_acks();
            }
            Ok(_) => {}
            Err(e) => tracing::debug!(cid = self.session.id, "MQTT: will topic {:?}: {e}", will.topic),
        }
        std::mem::swap(&mut self.producer, producer);
    }
}
