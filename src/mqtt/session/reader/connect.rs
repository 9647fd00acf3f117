//! CONNECT: authentication, takeover, the session taken back or started,
//! and CONNACK; the acknowledgements of what the server sent.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use junction_mqtt::{connack_v3, reason, Ack, ConnAck, Connect, Packet, Properties, Version};

use super::super::*;
use super::*;
use crate::conn::{CloseReason, Connection};

impl Reader {
    /// CONNACK with `code` (a 3.1.1 return code or an MQTT 5 reason) and close.
    pub(in crate::mqtt::session) fn refuse(&mut self, v3: u8, v5: u8, why: CloseReason) -> Result<(), Stop> {
        let code = if self.session.v5() { v5 } else { v3 };
        self.send(Packet::ConnAck(ConnAck {
            code,
            ..Default::default()
        }));
        self.session.close_with(why);
        Err(Stop)
    }

    pub(in crate::mqtt::session) fn connect(&mut self, c: Connect) -> Result<(), Stop> {
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
        let opts = server.mqtt_options();
        let id = match crate::mqtt::auth::authenticate(
            &server,
            opts.as_deref().map(|o| &o.auth),
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
        let account = id.account.clone();
        session.set_identity(id);
        *session.credentials.lock() = Some((c.username.clone(), c.password.clone()));
        self.account = account.clone();
        let mqtt = match session.mqtt.account(&server, &account) {
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
                        account.unsubscribe(s);
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
                mqtt.end_session(&old);
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
            if let Some(max) = c.properties.topic_alias_maximum.filter(|&m| m > 0) {
                let _ = session.aliases_out.set(Mutex::new(OutAliases {
                    max,
                    by_topic: Default::default(),
                }));
            }
        }
        let mut props = Properties::default();
        if v5 {
            props.assigned_client_identifier = assigned;
            props.topic_alias_maximum = Some(TOPIC_ALIAS_MAXIMUM);
            props.retain_available = Some(1);
            props.wildcard_subscription_available = Some(1);
            props.subscription_identifier_available = Some(1);
            props.shared_subscription_available = Some(1);
            props.maximum_packet_size = Some((session.settings().max_payload + PACKET_OVERHEAD) as u32);
            props.receive_maximum = Some(session.state.lock().receive_max_in);
        }
        self.send(Packet::ConnAck(ConnAck {
            session_present,
            code: 0,
            properties: props,
        }));
        self.connected = true;
        server.client_connected(session.as_ref());
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

    pub(in crate::mqtt::session) fn acked(&mut self, packet_id: u16, qos2: bool) {
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
}
