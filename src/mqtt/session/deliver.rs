//! The session as a subscriber: a routed or stored message becomes a
//! PUBLISH to the client, at the QoS, flags and properties it is due.

use std::time::Duration;

use bytes::Bytes;
use junction_mqtt::QoS;

use super::*;
use crate::message::ConnKind;
use crate::mqtt::store;
use crate::mqtt::topic;
use crate::outlet::Producer;
use crate::subscription::{Message, Subscriber, Subscription};

impl Subscriber for Session {
    fn client_id(&self) -> u64 {
        self.id
    }

    fn kind(&self) -> ConnKind {
        self.core.kind
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
                    account.publish_internal(&ack, b"+ACK");
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
            && msg.stored_in.is_some_and(|a| a == self.account().name)
        {
            // Stored by its MQTT publisher: this subscription's consumer brings it.
            return;
        }
        if view.flags & FLAG_NO_LOCAL != 0 {
            let mine = if stored {
                let source = crate::jetstream::headers::get(headers, SOURCE_HEADER);
                source.is_some() && source.map(str::as_bytes) == self.client_id.get().map(|c| c.as_bytes())
            } else {
                msg.origin.kind == ConnKind::Mqtt && msg.origin.conn == self.id
            };
            if mine {
                return skip(producer);
            }
        }
        if let Some(perms) = self.permissions_guard().as_ref().and_then(|g| g.as_deref()) {
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
                msg.retain
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
}
