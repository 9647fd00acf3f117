//! SUBSCRIBE and UNSUBSCRIBE: subscriptions in the sublist, the durable
//! consumers of QoS 1/2 ones, retained messages, the saved session.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use junction_mqtt::{
    reason, Packet, Properties, QoS, SubAck, Subscribe, SubscribeOptions, UnsubAck, Unsubscribe,
};

use super::super::*;
use super::*;
use crate::jetstream::consumer::{AckPolicy, ConsumerConfig, DeliverPolicy};
use crate::mqtt::store::{self, SubRecord};
use crate::mqtt::topic;
use crate::subscription::{Subscriber, Subscription};

impl Reader {
    pub(in crate::mqtt::session) fn subscribe(&mut self, s: Subscribe) {
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
    pub(in crate::mqtt::session) fn add_subscription(
        &mut self,
        mut record: SubRecord,
        restoring: bool,
    ) -> u8 {
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
        if let Some(perms) = self.session.permissions() {
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
            if self.account.subscribe(sub.clone()).is_ok() {
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
    pub(in crate::mqtt::session) fn stored_subscription(
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
        let opts = self.session.server.mqtt_options();
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
            .subscribe(sub.clone())
            .map_err(|e| format!("{e:?}"))?;
        if restoring {
            // Messages sent before the client went away are sent again now.
            consumer.redeliver_pending_now();
        }
        Ok((name, sub))
    }

    /// Sends the retained messages matching a new subscription.
    pub(in crate::mqtt::session) fn send_retained(&mut self, record: &SubRecord) {
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
            if let Some(perms) = self.session.permissions() {
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

    pub(in crate::mqtt::session) fn unsubscribe(&mut self, u: Unsubscribe) {
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
    pub(in crate::mqtt::session) fn save_session(&self) {
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
