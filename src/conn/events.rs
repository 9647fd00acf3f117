//! Who hears of clients connecting and going: the system account's events
//! (`$SYS.ACCOUNT.<account>.CONNECT`, `…DISCONNECT`), registered with the
//! server as [`ConnEvents`] so the connection code need not know them.

use super::Connection;

/// Told of each client once it is authenticated, and again when it goes.
pub trait ConnEvents: Send + Sync {
    fn connected(&self, conn: &dyn Connection);
    fn disconnected(&self, conn: &dyn Connection);
    /// Connections other servers of the cluster have in `account`, as
    /// their events said (for account connection limits).
    fn remote_connections(&self, account: &str) -> usize;
}
