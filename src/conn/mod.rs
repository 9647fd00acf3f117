//! The protocol-neutral record of a client connection: what the server's
//! registry, `/connz`, connection limits, revocations and lame duck need of
//! every client, whether it speaks NATS (over TCP or WebSocket) or MQTT.
//! Each protocol's session implements [`Connection`]; nothing outside the
//! sessions knows which protocol a connection speaks.

mod close;
mod common;
mod events;
mod links;
mod peer;
mod peer_interest;
mod record;
mod settings;

use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

pub use close::CloseReason;
pub use common::ConnCore;
pub use events::ConnEvents;
pub use links::{BoxedReader, BoxedWriter, GatewayLinks, GatewayView, LeafLinks, LeafView, Links, RouteView};
pub use peer::{accept_peers, AccountCaches, PeerPings};
pub use peer_interest::PeerInterest;
pub use record::ConnRecord;
pub use settings::ClientSettings;

use crate::account::Account;

/// Per-connection inbound message and byte counters, added by the reader
/// once per read. The outbound pair lives in the connection's outlet.
#[derive(Debug, Default)]
pub struct Counters {
    pub in_msgs: AtomicU64,
    pub in_bytes: AtomicU64,
}

/// What `/connz` shows of a client's TLS session, in nats-server's spelling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsInfo {
    /// `1.2` or `1.3`.
    pub version: String,
    /// Go's name of the cipher suite, e.g. `TLS_AES_128_GCM_SHA256`.
    pub cipher_suite: String,
    /// TLS came before INFO (`handshake_first`).
    pub handshake_first: bool,
}

/// What a client says about itself when it connects.
#[derive(Debug, Clone, Default)]
pub struct ClientMeta {
    pub name: String,
    pub lang: String,
    pub version: String,
}

/// One client connection, as the server and monitoring see it. What every
/// protocol has in common is read from its [`ConnCore`].
pub trait Connection: Send + Sync {
    fn core(&self) -> &ConnCore;
    fn id(&self) -> u64 {
        self.core().id
    }
    /// Which listener it came through: `nats`, `websocket` or `mqtt`.
    fn transport(&self) -> &'static str {
        self.core().transport
    }
    fn remote(&self) -> SocketAddr {
        self.core().remote
    }
    /// The account authentication bound it to.
    fn account(&self) -> Arc<Account> {
        self.core().account()
    }
    /// The user name or nkey it authenticated as.
    fn user(&self) -> String {
        self.core().user()
    }
    /// `iat` of its user JWT, checked against revocations.
    fn issued_at(&self) -> i64 {
        self.core().issued_at()
    }
    fn started(&self) -> SystemTime {
        self.core().started
    }
    fn last_activity(&self) -> SystemTime {
        self.core().last_activity()
    }
    fn rtt(&self) -> Duration {
        Duration::ZERO
    }
    fn counters(&self) -> &Counters {
        &self.core().counters
    }
    /// Messages and bytes sent to it.
    fn out_counts(&self) -> (u64, u64) {
        self.core().outlet.out_counts()
    }
    fn pending_bytes(&self) -> usize {
        self.core().outlet.pending()
    }
    fn subscription_subjects(&self) -> Vec<String>;
    fn meta(&self) -> ClientMeta {
        ClientMeta::default()
    }
    fn tls(&self) -> Option<TlsInfo> {
        None
    }
    fn close_reason(&self) -> Option<CloseReason> {
        self.core().close_reason()
    }
    /// The MQTT client identifier, for MQTT connections.
    fn mqtt_client(&self) -> Option<String> {
        None
    }
    /// Closes the connection for `reason`.
    fn close(&self, reason: CloseReason);
    /// Its credentials were revoked: tell the client in its protocol, then close.
    fn revoke(&self);
    /// A configuration reload changed the users: check this client's
    /// credentials again. One that no longer passes, or that would now land
    /// in another account, is revoked; one that passes takes its new
    /// permissions.
    fn recheck_auth(&self) {}
    /// The server entered lame duck mode: tell the client if its protocol can.
    fn lame_duck(&self) {}
    /// The cluster's client URLs changed: tell the client if its protocol can.
    fn client_urls_changed(&self) {}
    /// A reload lowered `max_connections` below the connections open: tell
    /// the client if its protocol can, then close.
    fn max_connections_exceeded(&self) {
        self.close(CloseReason::MaxConnectionsExceeded);
    }
}
