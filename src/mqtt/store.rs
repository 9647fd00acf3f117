//! An account's MQTT state, kept in JetStream streams as nats-server keeps
//! it, so it survives restarts and shows in `junction stream ls`:
//!
//! - `$MQTT_msgs` (`$MQTT.msgs.>`, interest retention): QoS 1 and 2
//!   messages, read by one durable consumer per QoS 1/2 subscription;
//! - `$MQTT_rmsgs` (`$MQTT.rmsgs.>`, one message per subject): retained
//!   messages, also held in memory to answer subscriptions;
//! - `$MQTT_sess` (`$MQTT.sess.>`, one message per subject): one record
//!   per persistent session.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Weak};

use bytes::Bytes;
use junction_mqtt::QoS;
use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::jetstream::config::{Retention, StreamConfig};
use crate::jetstream::stream::Stream;
use crate::jetstream::JsAccount;
use crate::outlet::Producer;
use crate::subscription::Message;

pub const MSGS_STREAM: &str = "$MQTT_msgs";
pub const MSGS_PREFIX: &str = "$MQTT.msgs.";
pub const RETAINED_STREAM: &str = "$MQTT_rmsgs";
pub const RETAINED_PREFIX: &str = "$MQTT.rmsgs.";
pub const SESSIONS_STREAM: &str = "$MQTT_sess";
pub const SESSIONS_PREFIX: &str = "$MQTT.sess.";

/// The consumers of clean sessions' QoS 1/2 subscriptions: none outlives
/// its connection, so any found at start were left by a crash.
pub const CLEAN_CONSUMER_PREFIX: &str = "mqttc_";

/// The header that carries a message's MQTT QoS through the store.
pub const QOS_HEADER: &str = "Nmqtt-Pub";

/// A retained message.
#[derive(Debug, Clone)]
pub struct Retained {
    /// The NATS subject it was published on.
    pub subject: String,
    /// Its header block: the QoS mark and the MQTT 5 properties it was
    /// published with (empty for a plain QoS 0 message).
    pub headers: Bytes,
    pub payload: Bytes,
    pub qos: QoS,
    /// Unix time in nanoseconds when it was retained, for its MQTT 5
    /// message expiry.
    pub stored_at: i64,
}

/// One subscription of a persistent session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubRecord {
    pub filter: String,
    pub qos: u8,
    #[serde(default)]
    pub no_local: bool,
    #[serde(default)]
    pub retain_as_published: bool,
    /// The durable consumer delivering its QoS 1/2 messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumer: Option<String>,
    /// MQTT 5 subscription identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u32>,
}

/// What a persistent session keeps while its client is away.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub client_id: String,
    pub subs: Vec<SubRecord>,
    /// QoS 2 packets received and answered with PUBREC, awaiting PUBREL.
    #[serde(default)]
    pub qos2_in: Vec<u16>,
    /// QoS 2 packets sent and released (PUBREL), awaiting PUBCOMP.
    #[serde(default)]
    pub released: Vec<u16>,
    /// MQTT 5 session expiry in seconds (`u32::MAX` never expires; 0 is a
    /// 3.1.1 session, kept until a clean session ends it).
    #[serde(default)]
    pub expiry: u32,
    /// Unix time in seconds when the session ends, set when its client
    /// goes away; 0 while it is connected or when it never expires.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub expires_at: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl SessionRecord {
    /// Whether the session lives on after its client leaves for good
    /// (3.1.1 persistent sessions and MQTT 5's `u32::MAX`).
    pub fn never_expires(&self) -> bool {
        self.expiry == 0 || self.expiry == u32::MAX
    }
}

/// Unix time in seconds.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The MQTT state of one account.
pub struct MqttAccount {
    pub js: Arc<JsAccount>,
    pub msgs: Arc<Stream>,
    retained_stream: Arc<Stream>,
    sessions_stream: Arc<Stream>,
    /// Retained messages by subject.
    retained: RwLock<BTreeMap<String, Retained>>,
    /// Connected sessions by client id, for takeover.
    pub live: Mutex<HashMap<String, Weak<super::session::Session>>>,
    /// MQTT 5 wills waiting out their delay, by client id: a new
    /// connection with that id takes its will back.
    pub delayed_wills: Mutex<HashMap<String, DelayedWill>>,
}

/// A will published after its delay unless its client comes back first.
pub struct DelayedWill {
    /// Tells this will from a later one of the same client id.
    pub generation: u64,
    pub session: Arc<super::session::Session>,
    pub will: junction_mqtt::Will,
}

fn stream(
    js: &JsAccount,
    name: &str,
    subject: &str,
    retention: Retention,
    per_subject: i64,
) -> anyhow::Result<Arc<Stream>> {
    if let Some(s) = js.stream(name) {
        return Ok(s);
    }
    let config = StreamConfig {
        name: name.into(),
        subjects: vec![format!("{subject}>")],
        retention,
        max_msgs_per_subject: per_subject,
        ..Default::default()
    };
    js.create_stream(config)
        .map_err(|e| anyhow::anyhow!("creating MQTT stream {name}: {}", e.description))
}

/// The MQTT QoS a header block marks (0 without the header).
pub fn qos_of(headers: &[u8]) -> QoS {
    crate::jetstream::headers::get(headers, QOS_HEADER)
        .and_then(|v| v.parse::<u8>().ok())
        .and_then(QoS::from_bits)
        .unwrap_or_default()
}

/// The header block that marks a message as published by MQTT at `qos`.
pub fn qos_headers(qos: QoS) -> &'static [u8] {
    match qos {
        QoS::AtMostOnce => b"NATS/1.0\r\nNmqtt-Pub: 0\r\n\r\n",
        QoS::AtLeastOnce => b"NATS/1.0\r\nNmqtt-Pub: 1\r\n\r\n",
        QoS::ExactlyOnce => b"NATS/1.0\r\nNmqtt-Pub: 2\r\n\r\n",
    }
}

/// The subject a session record is kept under: a digest of the client id,
/// which may hold characters a subject cannot.
fn session_subject(client_id: &str) -> String {
    let digest = sha2::Sha256::digest(client_id.as_bytes());
    let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    format!("{SESSIONS_PREFIX}{hex}")
}

/// Stores one message in `stream` as if it had been captured there.
fn put(
    stream: &Stream,
    subject: &str,
    headers: &[u8],
    payload: &[u8],
    producer: &mut Producer,
) -> Result<(), String> {
    if headers.is_empty() {
        return put_body(stream, subject, None, payload, producer, false);
    }
    let joined = [headers, payload].concat();
    put_body(stream, subject, Some(headers.len()), &joined, producer, false)
}

/// `put` for a body that is already the header block followed by the
/// payload (`header_len` bytes of headers). `deferred`: the write may wait
/// for `Stream::flush_held` (`Stream::accept_deferred`).
fn put_body(
    stream: &Stream,
    subject: &str,
    header_len: Option<usize>,
    body: &[u8],
    producer: &mut Producer,
    deferred: bool,
) -> Result<(), String> {
    let msg = Message::internal(subject.as_bytes(), None, header_len, body);
    let stored = if deferred {
        stream.accept_deferred(&msg, producer)
    } else {
        stream.accept(&msg, producer)
    };
    stored.map(|_| ()).map_err(|e| e.description)
}

impl MqttAccount {
    /// Opens (creating if needed) the account's MQTT streams and loads its
    /// retained messages.
    pub fn open(js: Arc<JsAccount>) -> anyhow::Result<Arc<MqttAccount>> {
        let msgs = stream(&js, MSGS_STREAM, MSGS_PREFIX, Retention::Interest, 0)?;
        let retained_stream = stream(&js, RETAINED_STREAM, RETAINED_PREFIX, Retention::Limits, 1)?;
        let sessions_stream = stream(&js, SESSIONS_STREAM, SESSIONS_PREFIX, Retention::Limits, 1)?;
        for c in msgs.consumers() {
            if c.name.starts_with(CLEAN_CONSUMER_PREFIX) {
                msgs.remove_consumer(&c.name);
            }
        }
        let mut retained = BTreeMap::new();
        for seq in retained_stream.last_per_subject(&[format!("{RETAINED_PREFIX}>")]) {
            if let Ok(Some(m)) = retained_stream.get(seq) {
                let subject = String::from_utf8_lossy(&m.subject[RETAINED_PREFIX.len()..]).into_owned();
                let qos = qos_of(&m.headers);
                retained.insert(
                    subject.clone(),
                    Retained {
                        subject,
                        headers: m.headers.clone(),
                        payload: m.payload.clone(),
                        qos,
                        stored_at: m.time,
                    },
                );
            }
        }
        let account = Arc::new(MqttAccount {
            js,
            msgs,
            retained_stream,
            sessions_stream,
            retained: RwLock::new(retained),
            live: Mutex::new(HashMap::new()),
            delayed_wills: Mutex::new(HashMap::new()),
        });
        account.sweep_sessions();
        Ok(account)
    }

    /// Stores a QoS 1 or 2 message for the QoS 1/2 subscriptions: `body` is
    /// its header block (which marks the QoS), `header_len` bytes, then its
    /// payload. `Ok` means it is in the store (or nobody subscribes to it
    /// at QoS 1/2), to be written to disk by `flush_stored`.
    pub fn store(
        &self,
        subject: &str,
        header_len: usize,
        body: &[u8],
        producer: &mut Producer,
    ) -> Result<(), String> {
        let stored_subject = [MSGS_PREFIX, subject].concat();
        // Written with the rest of the read: the session calls
        // `flush_stored` before it acknowledges.
        put_body(
            &self.msgs,
            &stored_subject,
            Some(header_len),
            body,
            producer,
            true,
        )
    }

    /// Writes the messages `store` left in memory.
    pub fn flush_stored(&self) -> Result<(), String> {
        self.msgs.flush_held().map_err(|e| e.description)
    }

    /// Retains `payload` on `subject` with its header block (QoS mark and
    /// properties), or clears the subject's retained message when
    /// `payload` is empty.
    pub fn retain(&self, subject: &str, headers: &[u8], payload: &[u8]) -> Result<(), String> {
        let stored_subject = format!("{RETAINED_PREFIX}{subject}");
        if payload.is_empty() {
            self.retained.write().remove(subject);
            return self
                .retained_stream
                .purge(Some(&stored_subject), None, None)
                .map(|_| ())
                .map_err(|e| e.description);
        }
        put(
            &self.retained_stream,
            &stored_subject,
            headers,
            payload,
            &mut Producer::default(),
        )?;
        self.retained.write().insert(
            subject.to_string(),
            Retained {
                subject: subject.to_string(),
                headers: Bytes::copy_from_slice(headers),
                payload: Bytes::copy_from_slice(payload),
                qos: qos_of(headers),
                stored_at: crate::jetstream::clock::now_nanos(),
            },
        );
        Ok(())
    }

    /// Retained messages whose subject matches one of `subjects` (NATS
    /// wildcards), skipping `$` subjects when the filter starts with a
    /// wildcard.
    pub fn retained_matching(&self, subjects: &[String], skip_dollar: bool) -> Vec<Retained> {
        self.retained
            .read()
            .values()
            .filter(|r| !(skip_dollar && r.subject.starts_with('$')))
            .filter(|r| {
                subjects
                    .iter()
                    .any(|s| junction_nats::subject::matches(s.as_bytes(), r.subject.as_bytes()))
            })
            .cloned()
            .collect()
    }

    /// A persistent session's record; one whose expiry has passed is ended
    /// here (`end_session`) and not returned.
    pub fn load_session(&self, client_id: &str) -> Option<SessionRecord> {
        let record = self.read_session(&session_subject(client_id))?;
        if record.client_id != client_id {
            return None;
        }
        if record.expires_at != 0 && record.expires_at <= unix_now() {
            self.end_session(&record);
            return None;
        }
        Some(record)
    }

    fn read_session(&self, subject: &str) -> Option<SessionRecord> {
        let m = self.sessions_stream.last_for(subject).ok()??;
        serde_json::from_slice(&m.payload).ok()
    }

    /// Ends a session: its subscriptions' consumers (and what they still
    /// held) and its record go.
    pub fn end_session(&self, record: &SessionRecord) {
        for sub in &record.subs {
            if let Some(name) = &sub.consumer {
                if !sub.filter.starts_with("$share/") {
                    self.msgs.remove_consumer(name);
                }
            }
        }
        self.delete_session(&record.client_id);
    }

    /// Ends the session of `client_id` when its expiry has come and no
    /// client took it back meanwhile: a newer record (a reconnect, or a
    /// later disconnect) carries another `expires_at`.
    pub fn expire_session(&self, client_id: &str, expires_at: u64) {
        if self.live.lock().contains_key(client_id) {
            return;
        }
        if let Some(record) = self.read_session(&session_subject(client_id)) {
            if record.client_id == client_id && record.expires_at == expires_at {
                tracing::debug!("MQTT: session {client_id:?} expired");
                self.end_session(&record);
            }
        }
    }

    /// Schedules `expire_session` for a record saved with `expires_at`.
    pub fn schedule_expiry(self: &Arc<Self>, record: &SessionRecord) {
        if record.expires_at == 0 {
            return;
        }
        let wait = record.expires_at.saturating_sub(unix_now());
        let (mqtt, client_id, expires_at) =
            (Arc::downgrade(self), record.client_id.clone(), record.expires_at);
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        handle.spawn(async move {
            tokio::time::sleep(std::time::Duration::from_secs(wait)).await;
            if let Some(mqtt) = mqtt.upgrade() {
                mqtt.expire_session(&client_id, expires_at);
            }
        });
    }

    /// At start: sessions whose expiry passed while the server was down
    /// end now, and the others get their timers. A session whose client
    /// was connected when the server stopped counts as gone from then.
    fn sweep_sessions(self: &Arc<Self>) {
        let now = unix_now();
        for seq in self
            .sessions_stream
            .last_per_subject(&[format!("{SESSIONS_PREFIX}>")])
        {
            let Ok(Some(m)) = self.sessions_stream.get(seq) else {
                continue;
            };
            let Ok(mut record) = serde_json::from_slice::<SessionRecord>(&m.payload) else {
                continue;
            };
            if record.never_expires() {
                continue;
            }
            if record.expires_at == 0 {
                record.expires_at = now + u64::from(record.expiry);
                self.save_session(&record);
            }
            if record.expires_at <= now {
                self.end_session(&record);
            } else {
                self.schedule_expiry(&record);
            }
        }
    }

    pub fn save_session(&self, record: &SessionRecord) {
        let subject = session_subject(&record.client_id);
        let body = serde_json::to_vec(record).unwrap_or_default();
        if let Err(e) = put(
            &self.sessions_stream,
            &subject,
            b"",
            &body,
            &mut Producer::default(),
        ) {
            tracing::error!("MQTT: saving session {:?}: {e}", record.client_id);
        }
    }

    pub fn delete_session(&self, client_id: &str) {
        let _ = self
            .sessions_stream
            .purge(Some(&session_subject(client_id)), None, None);
    }
}
