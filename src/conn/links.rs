//! What the rest of the server sees of its links to other servers: routes
//! now, leaf nodes and gateways later. The cluster registers itself with
//! the server as [`Links`], so monitoring can list them without knowing
//! the route module.

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
}

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
    fn peer_client_urls(&self) -> Vec<String>;
    /// The server entered lame duck mode: tell the peers.
    fn lame_duck(&self);
    /// A reload's `cluster {}`: routes dialled and dropped, new credentials
    /// and advertising.
    fn reload(&self, options: &crate::options::ClusterOptions);
}
