//! A message on its way through the server, and where it came from: the
//! publishing connection and its kind travel with it, so that every
//! receiver can decide by the message alone (`echo`, MQTT's No Local and
//! retain-as-published, and one-hop forwarding between routes).

/// What kind of connection a message entered through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnKind {
    /// A NATS client, over TCP or WebSocket.
    Client,
    /// An MQTT client, over TCP or WebSocket.
    Mqtt,
    /// Another server of this cluster.
    Route,
    /// A leaf node connection.
    Leaf,
    /// A gateway to another cluster.
    Gateway,
    /// The server itself: JetStream, system services, imports.
    Internal,
}

/// The connection a message entered through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    /// The connection id; 0 for the server itself.
    pub conn: u64,
    pub kind: ConnKind,
    /// Whether the publisher receives its own messages (NATS `echo`).
    pub echo: bool,
}

impl Origin {
    /// Messages the server publishes itself.
    pub const INTERNAL: Origin = Origin {
        conn: 0,
        kind: ConnKind::Internal,
        echo: true,
    };

    pub fn new(conn: u64, kind: ConnKind, echo: bool) -> Origin {
        Origin { conn, kind, echo }
    }

    /// Whether a subscription of connection `conn` must not receive it:
    /// the publisher asked for no echo of its own messages.
    pub fn skips(&self, conn: u64) -> bool {
        !self.echo && self.conn == conn
    }
}

/// A message on its way from one publisher to its subscribers. `payload`
/// holds the header block (when `header_len` is set) followed by the body.
/// It borrows the publisher's read buffer: each receiver copies it once,
/// straight into its own outbound buffer behind its own `MSG` line.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    pub subject: &'a [u8],
    pub reply: Option<&'a [u8]>,
    pub header_len: Option<usize>,
    pub payload: &'a [u8],
    /// Imports this message has crossed (see `imports.rs`).
    pub hops: u8,
    pub origin: Origin,
    /// Published with MQTT's RETAIN flag (for retain-as-published).
    pub retain: bool,
    /// The name of the account whose MQTT message stream stored this QoS
    /// 1/2 publish: that account's QoS 1/2 MQTT subscriptions take it from
    /// their consumers, not from here. A message that merely carries MQTT's
    /// headers (a reply echoing a request's) was stored nowhere.
    pub stored_in: Option<&'a str>,
    /// The reply as other servers of the cluster get it, when it differs
    /// from `reply`: a reply another cluster mapped to its origin server
    /// (`_GR_.…`), which this server's clients see without the prefix.
    pub routed_reply: Option<&'a [u8]>,
    /// For a message from a route: the queue groups it is meant for here,
    /// separated by spaces (empty: none). Other messages may go to any
    /// queue group (`None`).
    pub queues: Option<&'a [u8]>,
    /// A JetStream delivery: the subject its receivers subscribed to (a
    /// pull request's reply, a push consumer's deliver subject), while
    /// clients see the stream's subject (`subject`). Other servers get it
    /// under this subject, with the stream's subject after an `@` in the
    /// reply (`$JS.ACK.…@<subject>`), as nats-server sends it.
    pub delivered_to: Option<&'a [u8]>,
}

impl<'a> Message<'a> {
    /// A message the server publishes itself.
    pub fn internal(
        subject: &'a [u8],
        reply: Option<&'a [u8]>,
        header_len: Option<usize>,
        payload: &'a [u8],
    ) -> Self {
        Message::new(subject, reply, header_len, payload, Origin::INTERNAL)
    }

    /// A message another server sent (`RMSG`, `HMSG`, `LMSG`) on the
    /// connection `origin`, for the queue groups it names; a JetStream
    /// delivery's stream subject taken off its reply (see `delivered_to`).
    pub fn routed(m: &junction_nats::route::RoutedMsg<'a>, origin: Origin) -> Self {
        let mut msg = Message::new(m.subject, m.reply, m.header_len, m.payload, origin);
        msg.queues = Some(m.queue_list);
        if let Some((shown, ack)) = m.reply.and_then(junction_nats::route::subject_in_reply) {
            msg.delivered_to = Some(m.subject);
            msg.subject = shown;
            msg.reply = Some(ack);
        }
        msg
    }

    /// The subject the message goes to: what its receivers subscribed to.
    pub fn routing_subject(&self) -> &'a [u8] {
        self.delivered_to.unwrap_or(self.subject)
    }

    /// Changes the subject the message goes to (unmapping another
    /// cluster's prefix, say); clients still see a JetStream delivery
    /// under its stream subject.
    pub fn set_routing_subject(&mut self, subject: &'a [u8]) {
        match self.delivered_to {
            Some(_) => self.delivered_to = Some(subject),
            None => self.subject = subject,
        }
    }

    pub fn new(
        subject: &'a [u8],
        reply: Option<&'a [u8]>,
        header_len: Option<usize>,
        payload: &'a [u8],
        origin: Origin,
    ) -> Self {
        Message {
            subject,
            reply,
            header_len,
            payload,
            hops: 0,
            origin,
            retain: false,
            stored_in: None,
            routed_reply: None,
            queues: None,
            delivered_to: None,
        }
    }
}
