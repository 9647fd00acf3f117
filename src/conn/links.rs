//! What the rest of the server sees of its links to other servers:
//! routes, leaf nodes and gateways. The cluster registers itself with the
//! server as [`Links`] (the others likewise), so monitoring and the other
//! link kinds can use them without knowing each other's modules.

use std::time::SystemTime;

/// One route, as `/routez` shows it.
#[derive(Debug, Clone)]
pub struct RouteView {
    pub rid: u64,
    pub remote_id: String,
    pub remote_name: String,
    /// This server dialled it.
    pub did_solicit: bool,
    /// To a URL of the configuration (not one learnt by gossip).
    pub is_configured: bool,
    /// The peer's address on this connection.
    pub ip: String,
    pub port: u16,
    pub start: SystemTime,
    pub last_activity: SystemTime,
    pub pending: usize,
    pub in_msgs: u64,
    pub out_msgs: u64,
    pub in_bytes: u64,
    pub out_bytes: u64,
    /// How many subjects and queue groups the peer has interest in.
    pub num_subscriptions: usize,
    /// That interest, as `account subject [queue]`, when asked for.
    pub subscriptions: Option<Vec<String>>,
    /// The account a route dedicated to one carries.
    pub account: Option<String>,
}

/// One leaf node connection, as `/leafz` shows it.
#[derive(Debug, Clone)]
pub struct LeafView {
    pub id: u64,
    /// The peer server's name.
    pub name: String,
    /// This server is the leaf (it dialled the hub).
    pub is_spoke: bool,
    pub account: String,
    pub ip: String,
    pub port: u16,
    pub in_msgs: u64,
    pub out_msgs: u64,
    pub in_bytes: u64,
    pub out_bytes: u64,
    pub num_subscriptions: usize,
    /// The peer's interest, when asked for.
    pub subscriptions: Option<Vec<String>>,
    /// The round trip of the last keep-alive PING.
    pub rtt: std::time::Duration,
}

/// The server's leaf node connections.
pub trait LeafLinks: Send + Sync {
    /// The leaf node port, when this server is a hub.
    fn listen_addr(&self) -> Option<std::net::SocketAddr>;
    /// `authorization { timeout }` of the leaf node port.
    fn auth_timeout(&self) -> Option<std::time::Duration>;
    /// The connections open now, with the peers' interest when `with_subs`.
    fn leafs(&self, with_subs: bool) -> Vec<LeafView>;
    /// The cluster's leaf node ports may have changed (a route came or
    /// went): leaf nodes connected here get an `INFO` with the new list.
    fn leaf_urls_changed(&self);
    /// Serves a leaf node that came through the WebSocket port
    /// (nats-server's `/leafnode` path).
    fn accept_websocket(&self, remote: std::net::SocketAddr, reader: BoxedReader, writer: BoxedWriter);
}

/// One gateway connection, as `/gatewayz` shows it.
#[derive(Debug, Clone)]
pub struct GatewayView {
    pub cid: u64,
    /// The other cluster's gateway name.
    pub name: String,
    /// This server dialled it (messages go out on it); else the other
    /// cluster's server did (interest goes out on it).
    pub outbound: bool,
    pub remote_id: String,
    pub remote_name: String,
    pub ip: String,
    pub port: u16,
    pub start: SystemTime,
    pub last_activity: SystemTime,
    pub rtt: std::time::Duration,
    pub pending: usize,
    pub in_msgs: u64,
    pub out_msgs: u64,
    pub in_bytes: u64,
    pub out_bytes: u64,
    /// Subjects and queue groups the other cluster has interest in (on an
    /// outbound connection).
    pub num_subscriptions: usize,
    /// That interest by account: each account's subjects (`subject` or
    /// `subject queue`), sorted.
    pub accounts: Vec<(String, Vec<String>)>,
}

/// The server's gateways to other clusters.
pub trait GatewayLinks: Send + Sync {
    /// This cluster's gateway name.
    fn name(&self) -> String;
    /// Where other clusters' servers connect.
    fn listen_addr(&self) -> std::net::SocketAddr;
    /// This server's gateway URL (`host:port`), which route peers learn.
    fn url(&self) -> String;
    /// The gateway URLs of this cluster's servers.
    fn cluster_urls(&self) -> Vec<String>;
    /// The gateways to other clusters, configured or learnt, with their URLs.
    fn remotes(&self) -> Vec<(String, Vec<String>, bool)>;
    /// The connections open now.
    fn connections(&self) -> Vec<GatewayView>;
    /// `INFO` lines telling a new route peer of the clusters this server
    /// has gateways to, so that it connects to them too.
    fn gossip_lines(&self) -> Vec<Vec<u8>>;
    /// A route peer told of its own gateway URL.
    fn peer_url(&self, url: &str);
    /// A route peer told of another cluster's gateway (`gateway_cmd` 1):
    /// this server connects to it too.
    fn gossiped(&self, name: &str, urls: &[String]);
    /// A message from a route with a mapped subject or reply (`_GR_.`):
    /// unmapped for this server's clients. Returns false for one that is
    /// not for this cluster.
    fn admit_routed<'a>(
        &self,
        account: &std::sync::Arc<crate::account::Account>,
        msg: &mut crate::message::Message<'a>,
    ) -> bool;
}

/// A transport's two halves, whatever it is (TCP, TLS, WebSocket frames).
pub type BoxedReader = Box<dyn tokio::io::AsyncRead + Send + Unpin>;
pub type BoxedWriter = Box<dyn tokio::io::AsyncWrite + Send + Unpin>;

/// The server's links to other servers.
pub trait Links: Send + Sync {
    /// The cluster's name.
    fn cluster_name(&self) -> String;
    /// The port routes are accepted on.
    fn listen_port(&self) -> u16;
    /// The routes whose handshake is done, with the peers' interest
    /// listed when `with_subs`.
    fn routes(&self, with_subs: bool) -> Vec<RouteView>;
    /// The client URLs the peers announced (`connect_urls` of their INFO).
    fn peer_client_urls(&self, websocket: bool) -> Vec<String>;
    /// The leaf node ports the peers announced (`leafnode_urls`).
    fn peer_leaf_urls(&self) -> Vec<String>;
    /// The server entered lame duck mode: tell the peers.
    fn lame_duck(&self);
    /// What this server tells its peers of itself changed (its WebSocket
    /// URLs): they get a new INFO.
    fn info_changed(&self);
    /// A reload's `cluster {}`: routes dialled and dropped, new credentials
    /// and advertising.
    fn reload(&self, options: &crate::options::ClusterOptions);
    /// Sends `msg` to the peer whose server id hashes to `server_hash`
    /// (an answer to a request mapped by that server). False when there
    /// is no such peer.
    fn forward_to(
        &self,
        server_hash: &[u8],
        account: &str,
        msg: &crate::message::Message<'_>,
        producer: &mut crate::outlet::Producer,
    ) -> bool;
    /// Sends an `INFO` line to every peer (a gateway to tell of).
    fn broadcast(&self, line: &[u8]);
}
