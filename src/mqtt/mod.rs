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

/// The server's MQTT side: the listener's options and each account's state.
#[derive(Default)]
pub struct Mqtt {
    opts: Mutex<Option<(SocketAddr, Arc<MqttOptions>)>>,
    /// The listener's TLS, which a reload may give a new certificate.
    tls: Mutex<Option<Arc<crate::listener::TlsSlot>>>,
    accounts: Mutex<HashMap<String, Arc<MqttAccount>>>,
    /// Accounts whose request/response bridge is installed.
    bridges: Mutex<std::collections::HashSet<String>>,
}

impl Mqtt {
    /// The running listener's address and options.
    pub fn listener(&self) -> Option<(SocketAddr, Arc<MqttOptions>)> {
        self.opts.lock().clone()
    }

    pub fn options(&self) -> Option<Arc<MqttOptions>> {
        self.listener().map(|(_, o)| o)
    }

    /// A reload's `mqtt {}` block, already checked to change only what may
    /// change (see `reload::fixed_options`): subscriptions made from now on
    /// take the new `ack_wait`, `max_ack_pending` and
    /// `consumer_inactive_threshold`; new connections get `tls`, the
    /// certificate already loaded by the caller.
    pub(crate) fn reload(&self, new: &MqttOptions, tls: Option<TlsAcceptor>) {
        if let Some((_, opts)) = self.opts.lock().as_mut() {
            *opts = Arc::new(new.clone());
        }
        if let (Some(acceptor), Some(slot)) = (tls, self.tls.lock().clone()) {
            slot.acceptor.store(Arc::new(acceptor));
        }
    }

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

/// Binds the MQTT port and accepts until the server stops.
pub async fn start(server: Arc<Server>, opts: &MqttOptions) -> anyhow::Result<SocketAddr> {
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
    *server.mqtt.opts.lock() = Some((local, Arc::new(opts.clone())));
    tracing::info!("Listening for MQTT clients on mqtt://{local}");
    let tls = tls.map(|t| {
        crate::listener::TlsSlot::new(t, opts.tls.as_ref().map_or(Duration::from_secs(2), |o| o.timeout))
    });
    *server.mqtt.tls.lock() = tls.clone();
    crate::listener::spawn_accept_loop(
        server.lifecycle.clone(),
        listener,
        tls,
        ("MQTT", crate::listener::LameDuck::Refuse),
        move |stream, remote| {
            let server = server.clone();
            async move {
                match stream {
                    crate::listener::Accepted::Tcp(tcp) => {
                        let (reader, writer) = tcp.into_split();
                        serve(server, remote, "mqtt", reader, writer).await;
                    }
                    tls => {
                        let (reader, writer) = tokio::io::split(tls.into_stream());
                        serve(server, remote, "mqtt", reader, writer).await;
                    }
                }
            }
        },
    );
    Ok(local)
}
