//! The registry of live connections and the record of closed ones:
//! connection ids and limits, closing all, lame duck mode, waiting for
//! connections to go.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::conn::{CloseReason, ConnRecord, Connection};

use super::*;

impl Server {
    pub fn num_clients(&self) -> usize {
        self.clients.lock().len()
    }

    pub fn clients(&self) -> Vec<Arc<dyn Connection>> {
        self.clients.lock().values().cloned().collect()
    }

    /// Open connections bound to the account called `account`.
    pub fn clients_in(&self, account: &str) -> Vec<Arc<dyn Connection>> {
        self.clients()
            .into_iter()
            .filter(|c| c.account().name == account)
            .collect()
    }

    pub(crate) fn register(&self, client: Arc<dyn Connection>) {
        self.clients.lock().insert(client.id(), client);
    }

    /// A client is authenticated and its CONNECT accepted: the system
    /// account's events hear of it, once.
    pub(crate) fn client_connected(&self, client: &dyn Connection) {
        if client.core().announce() {
            if let Some(events) = self.events() {
                events.connected(client);
            }
        }
    }

    pub(crate) fn unregister(&self, client: &dyn Connection) {
        self.clients.lock().remove(&client.id());
        if client.core().was_announced() {
            if let Some(events) = self.events() {
                events.disconnected(client);
            }
        }
        let max = self.opts().max_closed_clients;
        if max > 0 {
            let info = ConnRecord::of(client, true);
            let mut closed = self.closed.lock();
            if closed.len() >= max {
                closed.pop_front();
            }
            closed.push_back(info);
        }
    }

    /// Snapshots of recently closed connections.
    pub fn closed_connections(&self) -> Vec<ConnRecord> {
        self.closed.lock().iter().cloned().collect()
    }

    /// A new connection id, counted in `total_connections`.
    pub(crate) fn next_client_id(&self) -> u64 {
        self.stats.total_connections.fetch_add(1, Ordering::Relaxed);
        self.next_cid.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Whether another client would pass `max_connections`.
    pub(crate) fn at_max_connections(&self) -> bool {
        self.num_clients() >= self.opts().max_connections
    }

    /// Closes every client connection.
    pub fn close_all(&self, reason: CloseReason) {
        for client in self.clients() {
            client.close(reason);
        }
    }

    /// Enters lame duck mode: stop accepting, tell clients (`ldm` in INFO)
    /// so they reconnect elsewhere, then close them gradually over
    /// `lame_duck_duration` after `lame_duck_grace_period`, then stop.
    pub async fn lame_duck(self: Arc<Self>) {
        if !self.lifecycle.enter_lame_duck() {
            return;
        }
        tracing::info!("Entering lame duck mode, stop accepting new clients");
        if let Some(events) = self.events() {
            events.going_away(true);
        }
        // Peers first: they drop this server's client URLs from their
        // clients' INFO, so clients moving away do not come back here.
        if let Some(links) = self.links() {
            links.lame_duck();
        }
        for client in self.clients() {
            client.lame_duck();
        }
        let grace = self.opts().lame_duck_grace_period;
        let duration = self.opts().lame_duck_duration.saturating_sub(grace);
        tokio::time::sleep(grace).await;
        let clients = self.clients();
        if !clients.is_empty() {
            let pause = duration / clients.len() as u32;
            for client in clients {
                client.close(CloseReason::ServerShutdown);
                tokio::time::sleep(pause.min(Duration::from_secs(1))).await;
            }
        }
        self.shutdown();
    }

    /// Waits until every connection has gone after a shutdown.
    pub async fn wait_closed(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        while self.num_clients() > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if let Some(js) = self.jetstream() {
            js.flush_all();
        }
    }
}
