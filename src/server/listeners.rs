//! Where the server listens and what it tells clients there: the client,
//! monitoring, WebSocket and MQTT ports with their options and TLS, and
//! INFO's common fields.

use std::net::SocketAddr;
use std::sync::Arc;

use junction_nats::ServerInfo;

use crate::options::{MqttOptions, WebsocketOptions};

use super::*;

impl Server {
    /// The port clients connect to (the bound one when `-p -1` was used).
    pub fn client_port(&self) -> u16 {
        self.client_addr.lock().map_or(self.opts().port, |a| a.port())
    }

    pub fn set_http_addr(&self, addr: SocketAddr) {
        *self.http_addr.lock() = Some(addr);
    }

    pub fn http_addr(&self) -> Option<SocketAddr> {
        *self.http_addr.lock()
    }

    /// Records the running WebSocket listener and the options it was started with.
    pub fn set_websocket(&self, addr: SocketAddr, opts: WebsocketOptions) {
        *self.websocket_opts.lock() = Some(Arc::new(opts));
        *self.websocket_addr.lock() = Some(addr);
        self.client_settings.lock().clear();
        // Peers learn the WebSocket URLs for their WebSocket clients.
        if let Some(links) = self.links() {
            links.info_changed();
        }
    }

    pub fn websocket_addr(&self) -> Option<SocketAddr> {
        *self.websocket_addr.lock()
    }

    /// The WebSocket options in force.
    pub fn websocket_options(&self) -> Option<Arc<WebsocketOptions>> {
        self.websocket_opts.lock().clone()
    }

    /// Records the running MQTT listener and the options it was started with.
    pub fn set_mqtt_listener(&self, addr: SocketAddr, opts: MqttOptions) {
        *self.mqtt_listener.lock() = Some((addr, Arc::new(opts)));
        self.client_settings.lock().clear();
    }

    /// The running MQTT listener's address and options.
    pub fn mqtt_listener(&self) -> Option<(SocketAddr, Arc<MqttOptions>)> {
        self.mqtt_listener.lock().clone()
    }

    /// The MQTT options in force, when the MQTT listener runs.
    pub fn mqtt_options(&self) -> Option<Arc<MqttOptions>> {
        self.mqtt_listener().map(|(_, o)| o)
    }

    /// A reload's `mqtt {}` block, already checked to change only what may
    /// change (see `reload::fixed_options`): subscriptions made from now on
    /// take the new `ack_wait`, `max_ack_pending` and
    /// `consumer_inactive_threshold`; new connections get `tls`, the
    /// certificate already loaded by the caller.
    pub(crate) fn reload_mqtt(&self, new: &MqttOptions, tls: Option<tokio_rustls::TlsAcceptor>) {
        if let Some((_, opts)) = self.mqtt_listener.lock().as_mut() {
            *opts = Arc::new(new.clone());
        }
        self.client_settings.lock().clear();
        if let (Some(acceptor), Some(slot)) = (tls, self.mqtt_tls.lock().clone()) {
            slot.acceptor.store(Arc::new(acceptor));
        }
    }

    /// The running WebSocket listener's address and options.
    pub fn websocket_listener(&self) -> Option<(SocketAddr, Arc<WebsocketOptions>)> {
        self.websocket_addr().zip(self.websocket_options())
    }

    /// INFO's fields common to every client of this server.
    pub fn base_info(&self) -> ServerInfo {
        let addr = *self.client_addr.lock();
        ServerInfo {
            server_id: self.id.clone(),
            server_name: self.name.clone(),
            version: NATS_COMPAT_VERSION.to_string(),
            proto: 1,
            go: format!("junction {}", env!("CARGO_PKG_VERSION")),
            host: self.opts().host.clone(),
            port: addr.map_or(self.opts().port, |a| a.port()),
            headers: true,
            auth_required: self.auth_required(),
            max_payload: self.opts().max_payload,
            jetstream: self.jetstream.get().is_some(),
            cluster: self.links().map(|l| l.cluster_name()).unwrap_or_default(),
            connect_urls: self.connect_urls(false),
            ldm: self.is_lame_duck(),
            ..ServerInfo::default()
        }
    }

    /// Where clients reach this server: `client_advertise`, else the client
    /// port's address, or on every interface but loopback when it listens
    /// on all of them, as nats-server announces it.
    pub fn client_urls(&self) -> Vec<String> {
        let advertised = self.opts().client_advertise.clone();
        urls_of(advertised, *self.client_addr.lock())
    }

    /// Where leaf nodes reach this server, when it is a hub.
    pub fn leaf_urls(&self) -> Vec<String> {
        urls_of(None, self.leaf_links().and_then(|l| l.listen_addr()))
    }

    /// Where WebSocket clients reach this server: its `advertise`, else the
    /// WebSocket port's address(es) as for [`Server::client_urls`].
    pub fn websocket_urls(&self) -> Vec<String> {
        let advertised = self.websocket_options().and_then(|o| o.advertise.clone());
        urls_of(advertised, self.websocket_addr())
    }

    /// INFO's `connect_urls`: in a cluster, this server's client URLs
    /// (not in lame duck mode, when clients must go elsewhere) and those
    /// its peers announced (unless `no_advertise`); alone, only
    /// `client_advertise`. WebSocket clients get the WebSocket URLs.
    pub(crate) fn connect_urls(&self, websocket: bool) -> Vec<String> {
        let Some(links) = self.links() else {
            return if websocket {
                self.websocket_options()
                    .and_then(|o| o.advertise.clone())
                    .into_iter()
                    .collect()
            } else {
                self.opts().client_advertise.iter().cloned().collect()
            };
        };
        let mut urls = match (self.is_lame_duck(), websocket) {
            (true, _) => Vec::new(),
            (false, false) => self.client_urls(),
            (false, true) => self.websocket_urls(),
        };
        if self.opts().cluster.as_ref().is_some_and(|c| c.no_advertise) {
            return urls;
        }
        for url in links.peer_client_urls(websocket) {
            if !urls.contains(&url) {
                urls.push(url);
            }
        }
        urls
    }

    /// The cluster's client URLs changed: clients that take INFO updates
    /// get a new one.
    pub fn client_urls_changed(&self) {
        for client in self.clients() {
            client.client_urls_changed();
        }
        // The same changes (a route came or went) move the cluster's leaf
        // node ports.
        if let Some(leafs) = self.leaf_links() {
            leafs.leaf_urls_changed();
        }
    }

    /// The NATS port's TLS, when it has one.
    pub(crate) fn tls_acceptor(&self) -> Option<Arc<tokio_rustls::TlsAcceptor>> {
        self.tls.load_full()
    }

    /// Records where the client port listens (its port may have been chosen
    /// by the system, `-p -1`).
    pub(crate) fn set_client_addr(&self, addr: SocketAddr) {
        *self.client_addr.lock() = Some(addr);
    }
}

/// `advertised`, else `addr`, or every interface but loopback when `addr`
/// is unspecified (`0.0.0.0`), as `host:port`.
pub(crate) fn urls_of(advertised: Option<String>, addr: Option<SocketAddr>) -> Vec<String> {
    if let Some(advertised) = advertised {
        return vec![advertised];
    }
    let Some(addr) = addr else {
        return Vec::new();
    };
    let url = |ip: std::net::IpAddr| SocketAddr::new(ip, addr.port()).to_string();
    if !addr.ip().is_unspecified() {
        return vec![url(addr.ip())];
    }
    let found: Vec<String> = if_addrs::get_if_addrs()
        .unwrap_or_default()
        .into_iter()
        .filter(|i| !i.is_loopback())
        .map(|i| url(i.ip()))
        .collect();
    if found.is_empty() {
        vec![url(addr.ip())]
    } else {
        found
    }
}
