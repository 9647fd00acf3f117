//! MQTT 3.1.1 and 5: the listener, the per-account MQTT state, and the
//! session (`session.rs`) that drives the `adapters/mqtt` codec and delivers
//! into the same router as NATS clients. Topics map to subjects as in
//! nats-server (`topic.rs`); retained messages, sessions and QoS 1/2
//! messages live in JetStream streams (`store.rs`).

mod auth;
pub mod reply;
mod session;
pub mod store;
pub mod topic;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use parking_lot::Mutex;
use tokio_rustls::TlsAcceptor;

pub use session::serve;

use crate::account::Account;
use crate::options::MqttOptions;
use crate::server::Server;
use store::MqttAccount;

/// The MQTT side of a server: each account's MQTT state, shared by the
/// MQTT port and MQTT over WebSocket. The listener's options live with the
/// server's other settings (`Server::mqtt_options`).
#[derive(Default)]
pub struct Mqtt {
    accounts: Mutex<HashMap<String, Arc<MqttAccount>>>,
    /// Accounts whose request/response bridge is installed.
    bridges: Mutex<std::collections::HashSet<String>>,
}

impl Mqtt {
    /// The MQTT state of `account`, opening its streams the first time.
    pub(crate) fn account(
        &self,
        server: &Server,
        account: &Arc<Account>,
    ) -> Result<Arc<MqttAccount>, String> {
        let js = server
            .jetstream()
            .and_then(|js| js.account(&account.name))
            .ok_or_else(|| format!("JetStream is not enabled for account {:?}", account.name))?;
        let mut accounts = self.accounts.lock();
        if let Some(a) = accounts.get(&account.name) {
            // The same JetStream as before (not turned off and on again).
            if Arc::ptr_eq(&a.js, &js) {
                return Ok(a.clone());
            }
        }
        let a = MqttAccount::open(js).map_err(|e| format!("{e:#}"))?;
        if self.bridges.lock().insert(account.name.clone()) {
            reply::Bridge::install(account);
        }
        accounts.insert(account.name.clone(), a.clone());
        Ok(a)
    }
}

/// Binds the MQTT port and accepts until the server stops; its sessions
/// share `mqtt` with MQTT over WebSocket.
pub async fn start(server: Arc<Server>, opts: &MqttOptions, mqtt: Arc<Mqtt>) -> anyhow::Result<SocketAddr> {
    let tls = match &opts.tls {
        Some(t) => Some(TlsAcceptor::from(
            crate::tls::server_config(t).context("mqtt TLS")?,
        )),
        None => None,
    };
    let bind = format!("{}:{}", opts.host, opts.port);
    let listener = crate::listener::bind(&bind)
        .await
        .with_context(|| format!("can't listen for MQTT clients on {bind}"))?;
    let local = listener.local_addr()?;
    server.set_mqtt_listener(local, opts.clone());
    tracing::info!("Listening for MQTT clients on mqtt://{local}");
    let tls = tls.map(|t| {
        crate::listener::TlsSlot::new(t, opts.tls.as_ref().map_or(Duration::from_secs(2), |o| o.timeout))
    });
    *server.mqtt_tls.lock() = tls.clone();
    crate::listener::spawn_accept_loop(
        server.lifecycle.clone(),
        listener,
        tls,
        ("MQTT", crate::listener::LameDuck::Refuse),
        move |stream, remote| {
            let (server, mqtt) = (server.clone(), mqtt.clone());
            async move {
                match stream {
                    crate::listener::Accepted::Tcp(tcp) => {
                        let (reader, writer) = tcp.into_split();
                        serve(server, mqtt, remote, "mqtt", reader, writer).await;
                    }
                    tls => {
                        let (reader, writer) = tokio::io::split(tls.into_stream());
                        serve(server, mqtt, remote, "mqtt", reader, writer).await;
                    }
                }
            }
        },
    );
    Ok(local)
}
