//! Who hears of clients connecting and going, and of the server going: the
//! system account's events (`$SYS.ACCOUNT.<account>.CONNECT`,
//! `…DISCONNECT`, `$SYS.SERVER.<id>.SHUTDOWN` and `…LAMEDUCK`), registered
//! with the server as [`ConnEvents`] so the connection code need not know
//! them.

use super::Connection;

/// Told of each client once it is authenticated, and again when it goes.
pub trait ConnEvents: Send + Sync {
    fn connected(&self, conn: &dyn Connection);
    fn disconnected(&self, conn: &dyn Connection);
    /// Connections other servers of the cluster have in `account`, as
    /// their events said (for account connection limits).
    fn remote_connections(&self, account: &str) -> usize;
    /// The server enters lame duck mode (`lame_duck`) or stops: the other
    /// servers hear of it before its links close.
    fn going_away(&self, lame_duck: bool);
}
