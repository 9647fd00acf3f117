//! A connection from accept to close: its tasks, and what happens when it
//! ends (the will, kept or dropped session state).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use junction_mqtt::Will;
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncWrite};

use super::*;
use crate::conn::{CloseReason, Connection};
use crate::mqtt::store::{self, MqttAccount};
use crate::mqtt::topic;
use crate::outlet::{Producer, Stopped};
use crate::server::Server;

/// Serves one MQTT connection over any byte transport until it closes.
pub async fn serve<R, W>(
    server: Arc<Server>,
    mqtt: Arc<crate::mqtt::Mqtt>,
    remote: SocketAddr,
    transport: &'static str,
    reader: R,
    writer: W,
) where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let id = server.next_client_id();
    if server.at_max_connections() {
        // The CONNECT is not even read: nats-server closes at once too.
        drop((reader, writer));
        return;
    }
    let settings = server.client_settings(transport);
    let core = ConnCore::new(
        id,
        ConnKind::Mqtt,
        transport,
        remote,
        server.global.clone(),
        settings,
    );
    let session = Arc::new(Session {
        core,
        server: server.clone(),
        mqtt,
        credentials: Mutex::new(None),
        client_id: OnceLock::new(),
        version: OnceLock::new(),
        max_packet_out: AtomicUsize::new(0),
        has_no_local: AtomicBool::new(false),
        aliases_out: OnceLock::new(),
        state: Mutex::new(State::default()),
    });
    server.register(session.clone());
    session.outlet.attach(Box::new(writer));
    let read_task = tokio::spawn(read_loop(session.clone(), reader));
    // MQTT has no server PINGs: the client keeps the connection alive.
    let stopped = session
        .outlet
        .run_writer(
            || (session.settings().write_deadline, Duration::from_secs(3600)),
            Duration::from_secs(3600),
            || {},
        )
        .await;
    match stopped {
        Stopped::Closed | Stopped::Killed => {}
        Stopped::WriteError => session.set_reason(CloseReason::WriteError),
        Stopped::WriteDeadline => {
            server.stats.slow_consumers.fetch_add(1, Ordering::Relaxed);
            session.set_reason(CloseReason::SlowConsumerWriteDeadline);
        }
    }
    session.outlet.shut_transport().await;
    read_task.abort();
    finish(&session);
}

/// The connection is gone: publish the will if it is due, release the
/// subscriptions, and keep or drop the session.
pub(super) fn finish(session: &Arc<Session>) {
    let (subs, will, clean, mqtt, taken_over, record) = {
        let mut st = session.state.lock();
        let record = session.client_id.get().map(|id| st.record(id));
        (
            std::mem::take(&mut st.subs),
            st.will.take(),
            st.clean,
            st.mqtt.clone(),
            st.taken_over,
            record,
        )
    };
    if let Some(will) = will {
        // MQTT 5: the will waits its delay, or until the session ends if
        // that comes first; a client back in time takes it back.
        let expiry = session.state.lock().expiry;
        let delay = will.properties.will_delay_interval.unwrap_or(0).min(expiry);
        match (&mqtt, session.client_id.get()) {
            (Some(mqtt), Some(client_id)) if delay > 0 && !taken_over => {
                delay_will(mqtt, client_id, session, will, Duration::from_secs(delay.into()));
            }
            _ => publish_will_now(session, will),
        }
    }
    let account = session.account();
    for (_, sub) in subs {
        for s in &sub.subs {
            account.unsubscribe(s);
        }
        if clean && !taken_over && topic::shared(&sub.record.filter).is_none() {
            if let (Some(mqtt), Some(name)) = (&mqtt, &sub.record.consumer) {
                mqtt.msgs.remove_consumer(name);
            }
        }
    }
    if let (Some(mqtt), Some(client_id)) = (&mqtt, session.client_id.get()) {
        let mut live = mqtt.live.lock();
        if live
            .get(client_id)
            .is_some_and(|w| w.as_ptr() == Arc::as_ptr(session))
        {
            live.remove(client_id);
        }
        drop(live);
        if !taken_over {
            match (clean, record) {
                (true, _) => mqtt.delete_session(client_id),
                (false, Some(mut record)) => {
                    // MQTT 5: the session lives its expiry from now on.
                    if !record.never_expires() {
                        record.expires_at = store::unix_now() + u64::from(record.expiry);
                    }
                    mqtt.save_session(&record);
                    mqtt.schedule_expiry(&record);
                }
                _ => {}
            }
        }
    }
    session.server.unregister(session.as_ref());
    tracing::debug!(
        cid = session.id,
        reason = %session.close_reason().unwrap_or(CloseReason::ClientClosed),
        "MQTT connection closed"
    );
}

/// Publishes a will now, as its client would have.
pub(super) fn publish_will_now(session: &Arc<Session>, will: Will) {
    let mut producer = Producer::default();
    let mut reader = Reader::new(session.clone());
    reader.publish_will(will, &mut producer);
    producer.flush();
}

/// Publishes `will` after `delay` unless a connection with the same client
/// id takes it back first (`Reader::connect`).
pub(super) fn delay_will(
    mqtt: &Arc<MqttAccount>,
    client_id: &str,
    session: &Arc<Session>,
    will: Will,
    delay: Duration,
) {
    static GENERATION: AtomicU64 = AtomicU64::new(0);
    let generation = GENERATION.fetch_add(1, Ordering::Relaxed);
    mqtt.delayed_wills.lock().insert(
        client_id.to_string(),
        store::DelayedWill {
            generation,
            session: session.clone(),
            will,
        },
    );
    let (mqtt, client_id) = (mqtt.clone(), client_id.to_string());
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        let due = {
            let mut wills = mqtt.delayed_wills.lock();
            match wills.get(&client_id) {
                Some(d) if d.generation == generation => wills.remove(&client_id),
                _ => None,
            }
        };
        if let Some(d) = due {
            publish_will_now(&d.session, d.will);
        }
    });
}
