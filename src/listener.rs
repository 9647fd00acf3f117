//! Binding a listening socket the way nats-server does: with a backlog of
//! 4096, so a burst of connections waits in the kernel's accept queue
//! instead of having its SYNs dropped (a client then waits a second for the
//! retransmission) while the accept loop catches up.

use std::io;
use std::net::SocketAddr;

use tokio::net::{lookup_host, TcpListener, TcpSocket};

/// nats-server's listen backlog (Go asks for `net.core.somaxconn`, 4096 on
/// current kernels).
pub const BACKLOG: u32 = 4096;

/// Binds `host:port` (a name is resolved; the first address that binds wins).
pub async fn bind(addr: &str) -> io::Result<TcpListener> {
    let mut last = None;
    for addr in lookup_host(addr).await? {
        match bind_addr(addr) {
            Ok(l) => return Ok(l),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address to listen on")))
}

fn bind_addr(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // As std and Go do on Unix: a restarted server can bind at once.
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn binds_a_free_port_on_a_name() {
        let l = bind("localhost:0").await.unwrap();
        assert_ne!(l.local_addr().unwrap().port(), 0);
    }

    #[tokio::test]
    async fn a_port_in_use_is_an_error() {
        let l = bind("127.0.0.1:0").await.unwrap();
        let err = bind(&l.local_addr().unwrap().to_string()).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
    }
}
