//! What the connections to other servers (routes, leaf nodes) share on
//! their outbound side: protocol lines written at once, messages queued
//! for the publisher's round, and their slow consumer handling.

use bytes::BytesMut;
use junction_nats::route::RoutedMsg;

use super::{CloseReason, ConnCore};
use crate::outlet::{Producer, Queued};
use crate::subscription::Message;

impl ConnCore {
    /// Queues protocol bytes for the peer server and writes them out; a
    /// peer that let `max_pending` pile up is cut off.
    pub fn send_proto(&self, bytes: &[u8]) {
        match self.outlet.push_proto(bytes) {
            Queued::Yes { .. } => self.outlet.flush(),
            Queued::OverLimit => self.close_now(CloseReason::SlowConsumerPendingBytes),
            Queued::Closed => {}
        }
    }

    /// Closes once what is queued is written.
    pub fn close_after_flush(&self, reason: CloseReason) {
        self.set_reason(reason);
        self.outlet.close();
    }

    /// Queues `msg` for the peer server, for `producer` to write out: one
    /// copy for the `queues` chosen for it there, in the dialect `encode`
    /// writes (`account` for the lines that name one).
    pub fn push_routed(
        &self,
        msg: &Message<'_>,
        account: &[u8],
        queues: &[&[u8]],
        producer: &mut Producer,
        encode: fn(&mut BytesMut, &RoutedMsg<'_>),
    ) {
        let queue_list = queues.join(&b' ');
        let routed = RoutedMsg {
            origin: None,
            account,
            subject: msg.subject,
            reply: msg.reply,
            queue_list: &queue_list,
            header_len: msg.header_len,
            payload: msg.payload,
        };
        match self
            .outlet
            .push_msg(msg.payload.len(), |buf| encode(buf, &routed))
        {
            Queued::Yes { pending, .. } => producer.touch(&self.outlet, pending),
            Queued::OverLimit => {
                tracing::warn!(
                    cid = self.id,
                    peer = self.transport,
                    "Slow Consumer Detected on a {}",
                    self.transport
                );
                self.close_now(CloseReason::SlowConsumerPendingBytes);
            }
            Queued::Closed => {}
        }
    }
}
