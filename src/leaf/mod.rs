//! Leaf nodes: this server as a hub that leaf nodes connect to (the
//! `leafnodes { listen }` port, 7422 by default), and as a leaf node of
//! other hubs (`leafnodes { remotes }`), with nats-server on either side.
//!
//! A leaf connection carries one account on each side (the leaf's local
//! account, the account the hub binds it to). Each side tells the other of
//! its interest in that account, less the other's own (`LS+`/`LS-`, queue
//! groups with their weight), and sends it the messages that match
//! (`LMSG`/`HMSG`). A message from a leaf node goes to the hub's clients,
//! routes and other leaf nodes, never back to the leaf. Each account has a
//! loop detection subject (`$LDS.<random>`) that both sides announce:
//! receiving one's own back means the leaf connections form a loop, and
//! that connection is closed.

mod conn;
mod deny;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::time::Duration;

use anyhow::Context as _;
use parking_lot::{Mutex, RwLock};
use tokio::net::TcpListener;

pub use conn::Leaf;

use crate::account::{Account, InterestChange};
use crate::options::LeafNodeOptions;
use crate::route::RouteUrl;
use crate::server::Server;

/// Wait between attempts to reach a hub (nats-server's reconnect delay),
/// and after a loop was detected.
const RECONNECT_DELAY: Duration = Duration::from_secs(1);
const LOOP_DELAY: Duration = Duration::from_secs(30);

/// This server's leaf node connections, both ways.
pub struct LeafNodes {
    me: Weak<LeafNodes>,
    server: Arc<Server>,
    /// The account leaf nodes that connect here are bound to.
    hub_account: Arc<Account>,
    /// `authorization { users }` with the accounts they bind.
    users: Vec<(crate::options::LeafUser, Arc<Account>)>,
    options: LeafNodeOptions,
    /// Where leaf nodes connect, when this server is a hub.
    pub addr: Option<SocketAddr>,
    leafs: RwLock<Vec<Arc<Leaf>>>,
    /// Each account's loop detection subject.
    loop_subjects: Mutex<HashMap<String, String>>,
    /// `leafnodes { tls {} }`: leaf nodes connect with TLS.
    tls: Option<tokio_rustls::TlsAcceptor>,
}

/// Starts the leaf node port and the connections to the remotes.
pub async fn start(server: Arc<Server>, options: &LeafNodeOptions) -> anyhow::Result<Arc<LeafNodes>> {
    // Accounts named by the configuration must exist.
    let hub_account = account(&server, options.account.as_deref())?;
    let users = options
        .users
        .iter()
        .map(|u| {
            let bound = match &u.account {
                Some(name) => account(&server, Some(name))?,
                None => hub_account.clone(),
            };
            Ok((u.clone(), bound))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut remotes = Vec::new();
    for remote in &options.remotes {
        let urls = remote
            .urls
            .iter()
            .map(|u| RouteUrl::parse_leaf(u).map_err(|e| anyhow::anyhow!("leafnode remote {u}: {e}")))
            .collect::<anyhow::Result<Vec<_>>>()?;
        // nats-server takes a remote's URLs all of one kind.
        let scheme = |prefix: &str| {
            remote
                .urls
                .iter()
                .any(|u| u.to_ascii_lowercase().starts_with(prefix))
        };
        let websocket = scheme("ws://") || scheme("wss://");
        let tls_url = scheme("tls://") || scheme("wss://");
        let tls = remote
            .tls
            .clone()
            .or_else(|| tls_url.then(crate::tls::TlsOptions::default));
        let credentials = match &remote.credentials {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("leafnode remote credentials {}", path.display()))?;
                let (jwt, seed) = crate::jwt::parse_creds(&text)
                    .map_err(|e| anyhow::anyhow!("leafnode remote credentials {}: {e}", path.display()))?;
                Some(Arc::new(conn::Credentials::Jwt { jwt, seed }))
            }
            None => match &remote.nkey {
                Some(seed) => {
                    let public = nkeys::KeyPair::from_seed(seed)
                        .map_err(|e| anyhow::anyhow!("leafnode remote nkey: {e}"))?
                        .public_key();
                    Some(Arc::new(conn::Credentials::Nkey {
                        public,
                        seed: seed.clone(),
                    }))
                }
                None => None,
            },
        };
        let remote = conn::Remote {
            account: account(&server, remote.account.as_deref())?,
            credentials,
            websocket,
            tls,
            discovered: Arc::default(),
        };
        remotes.push((urls, remote));
    }
    let listener = match &options.listen {
        Some((host, port)) => {
            let bind = format!("{host}:{port}");
            Some(
                TcpListener::bind(&bind)
                    .await
                    .with_context(|| format!("listening for leafnode connections on {bind}"))?,
            )
        }
        None => None,
    };
    let addr = listener.as_ref().map(|l| l.local_addr()).transpose()?;
    let tls = match &options.tls {
        Some(t) => Some(tokio_rustls::TlsAcceptor::from(
            crate::tls::server_config(t).context("leafnode tls")?,
        )),
        None => None,
    };
    let nodes = Arc::new_cyclic(|me| LeafNodes {
        me: me.clone(),
        server: server.clone(),
        hub_account: hub_account.clone(),
        users,
        options: options.clone(),
        addr,
        leafs: RwLock::new(Vec::new()),
        loop_subjects: Mutex::new(HashMap::new()),
        tls,
    });
    let links: Weak<dyn crate::conn::LeafLinks> = Arc::downgrade(&nodes) as Weak<LeafNodes>;
    server.set_leaf_links(links);
    let weak = Arc::downgrade(&nodes);
    server.accounts.on_interest_everywhere(Arc::new(
        move |account: &Account, change: &InterestChange<'_>| {
            if let Some(nodes) = weak.upgrade() {
                for leaf in nodes.leafs.read().iter() {
                    if leaf.account().name == account.name {
                        leaf.interest_changed(change);
                    }
                }
            }
        },
    ));
    if let (Some(listener), Some(addr)) = (listener, addr) {
        tracing::info!("Listening for leafnode connections on {addr}");
        tokio::spawn(crate::conn::accept_peers(
            Arc::downgrade(&nodes),
            server.lifecycle.clone(),
            listener,
            "leafnode connection",
            |n, stream, remote| match (n.tls.clone(), &n.options.tls) {
                (Some(acceptor), Some(options)) => {
                    let timeout = options.timeout;
                    tokio::spawn(conn::accepted_tls(n, stream, remote, acceptor, timeout));
                }
                _ => {
                    let (reader, writer) = stream.into_split();
                    tokio::spawn(conn::accepted(n, remote, reader, writer));
                }
            },
        ));
        // Route peers learn this leaf node port, for their leaf nodes.
        if let Some(links) = server.links() {
            links.info_changed();
        }
    }
    for (urls, remote) in remotes {
        tokio::spawn(solicit(Arc::downgrade(&nodes), urls, remote));
    }
    // A stopping server closes its leaf connections.
    let weak = Arc::downgrade(&nodes);
    tokio::spawn(async move {
        server.stopped().await;
        if let Some(nodes) = weak.upgrade() {
            for leaf in nodes.leafs() {
                leaf.shut_down();
            }
        }
    });
    Ok(nodes)
}

/// The account called `name`, or the global account.
fn account(server: &Server, name: Option<&str>) -> anyhow::Result<Arc<Account>> {
    match name {
        None => Ok(server.global.clone()),
        Some(name) => server
            .accounts
            .get(name)
            .ok_or_else(|| anyhow::anyhow!("leafnode account {name:?} does not exist")),
    }
}

/// Keeps a connection to one hub: its URLs in turn, again after a pause
/// when the connection goes, until the server stops.
async fn solicit(nodes: Weak<LeafNodes>, urls: Vec<RouteUrl>, remote: conn::Remote) {
    let mut next = 0;
    loop {
        let Some(n) = nodes.upgrade() else { return };
        if n.server.lifecycle.is_stopped() {
            return;
        }
        // WebSocket remotes keep to their own URLs.
        let candidates = if remote.websocket {
            urls.clone()
        } else {
            with_discovered(&urls, &remote.discovered.lock())
        };
        let url = candidates[next % candidates.len()].clone();
        next += 1;
        let server = n.server.clone();
        let mut delay = RECONNECT_DELAY;
        tokio::select! {
            result = conn::solicited(n, url.clone(), remote.clone()) => match result {
                Ok(true) => delay = LOOP_DELAY,
                Ok(false) => {}
                Err(e) => tracing::debug!("connecting to leafnode hub {url}: {e}"),
            },
            _ = server.stopped() => return,
        }
        drop(server);
        tokio::time::sleep(delay).await;
    }
}

/// The configured URLs, then the hub's other leaf node ports it announced,
/// with the credentials of the first configured URL (as nats-server does).
fn with_discovered(urls: &[RouteUrl], discovered: &[String]) -> Vec<RouteUrl> {
    let mut all = urls.to_vec();
    for address in discovered {
        let Ok(mut url) = RouteUrl::parse_leaf(&format!("nats-leaf://{address}")) else {
            continue;
        };
        if all.iter().any(|u| u.host == url.host && u.port == url.port) {
            continue;
        }
        url.user = urls[0].user.clone();
        url.password = urls[0].password.clone();
        all.push(url);
    }
    all
}

impl crate::conn::LeafLinks for LeafNodes {
    fn listen_addr(&self) -> Option<SocketAddr> {
        self.addr
    }

    fn auth_timeout(&self) -> Option<Duration> {
        self.options.auth.timeout
    }

    fn leafs(&self, with_subs: bool) -> Vec<crate::conn::LeafView> {
        self.leafs.read().iter().map(|l| l.view(with_subs)).collect()
    }

    fn leaf_urls_changed(&self) {
        for leaf in self.leafs.read().iter() {
            leaf.hub_urls_changed(self);
        }
    }

    fn accept_websocket(
        &self,
        remote: SocketAddr,
        reader: crate::conn::BoxedReader,
        writer: crate::conn::BoxedWriter,
    ) {
        if let Some(nodes) = self.me.upgrade() {
            tokio::spawn(conn::accepted(nodes, remote, reader, writer));
        }
    }
}

impl LeafNodes {
    /// The leaf connections open now.
    pub fn leafs(&self) -> Vec<Arc<Leaf>> {
        self.leafs.read().clone()
    }

    fn add(&self, leaf: &Arc<Leaf>) {
        self.leafs.write().push(leaf.clone());
    }

    fn remove(&self, leaf: &Leaf) {
        self.leafs.write().retain(|l| !std::ptr::eq(l.as_ref(), leaf));
    }

    /// The account leaf nodes that connect here are bound to.
    fn hub_account(&self) -> Arc<Account> {
        self.hub_account.clone()
    }

    /// The loop detection subject of `account` on this server.
    fn loop_subject(&self, account: &str) -> String {
        self.loop_subjects
            .lock()
            .entry(account.to_string())
            .or_insert_with(|| format!("$LDS.{}", &crate::server::new_server_id()[1..23]))
            .clone()
    }
}
