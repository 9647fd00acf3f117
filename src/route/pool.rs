//! Which route to a peer carries which account, as nats-server 2.10+
//! decides it: a pool of `pool_size` routes to each peer over which the
//! accounts spread by a hash of their name, and a route of its own for each
//! account named in `cluster { accounts }` (the system account among them).
//! A peer without a pool (before 2.10, or `pool_size: -1` on either side)
//! gets one route carrying everything.
//!
//! Each server sends an account's interest on the route its own hash picks,
//! and the peer sends what matches that interest back on the route the
//! interest came from; so two servers with pools of different sizes still
//! agree (the pool then has as many routes as the larger asks for).

/// What one route carries of the accounts' interest and messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Carries {
    /// Every account: the one route to a peer without a pool.
    All,
    /// The accounts without a route of their own whose pool index is this.
    Pool(usize),
    /// One account, whose name the route's lines leave out.
    Account(String),
}

/// The place in a pool of `size` routes of the account `name`: FNV-1a of
/// the name, modulo the size, so every server computes the same.
pub fn pool_index(size: usize, name: &str) -> usize {
    if size <= 1 {
        return 0;
    }
    let mut hash: u32 = 0x811c_9dc5;
    for &b in name.as_bytes() {
        hash ^= u32::from(b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    (hash % size as u32) as usize
}

/// How this server pools its routes (from `cluster { pool_size, accounts }`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pooling {
    /// Routes in this server's pool; 0 for none (`pool_size` negative).
    pub size: usize,
    /// Accounts with a route of their own; none without a pool.
    pub dedicated: Vec<String>,
}

impl Pooling {
    /// nats-server's rules: a pool of `pool_size` routes, and while there
    /// is one, the system account gets a route of its own too.
    pub fn new(pool_size: i64, accounts: &[String], system_account: &str) -> Pooling {
        if pool_size <= 0 {
            return Pooling {
                size: 0,
                dedicated: Vec::new(),
            };
        }
        let mut dedicated = accounts.to_vec();
        if !dedicated.iter().any(|a| a == system_account) {
            dedicated.push(system_account.to_string());
        }
        Pooling {
            size: usize::try_from(pool_size).unwrap_or(usize::MAX),
            dedicated,
        }
    }

    /// Where `account` goes among the routes to a peer, worked out once for
    /// all of them.
    pub fn placement<'a>(&self, account: &'a str) -> Placement<'a> {
        let dedicated = self.dedicated.iter().any(|a| a == account);
        Placement {
            account,
            dedicated,
            index: if dedicated {
                0
            } else {
                pool_index(self.size, account)
            },
        }
    }

    /// Whether routes to a peer announcing `peer_size` are pooled.
    pub fn pooled_with(&self, peer_size: usize) -> bool {
        self.size > 0 && peer_size > 0
    }
}

/// Where one account goes among the routes to a peer.
#[derive(Debug, Clone, Copy)]
pub struct Placement<'a> {
    account: &'a str,
    /// It has a route of its own.
    dedicated: bool,
    /// Else its place in the pool.
    index: usize,
}

impl Placement<'_> {
    /// Whether a route that carries `carries` carries this account.
    pub fn on(&self, carries: &Carries) -> bool {
        match carries {
            Carries::All => true,
            Carries::Pool(i) => !self.dedicated && *i == self.index,
            Carries::Account(a) => a == self.account,
        }
    }
}

/// Why a route may not take the place it asked for in a peer's routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Another route holds that place: closed quietly.
    Duplicate(&'static str),
    /// Told to the peer as `-ERR`, nats-server's words.
    Error(String),
    /// As `Error`, and the route is not dialled again.
    Final(String),
}

impl Refusal {
    /// What the peer is told (`-ERR`), if anything.
    pub fn error_text(&self) -> Option<&str> {
        match self {
            Refusal::Duplicate(_) => None,
            Refusal::Error(text) | Refusal::Final(text) => Some(text),
        }
    }
}

/// Where a route whose handshake is done goes among the routes to its peer.
/// `taken` lists what the routes already up carry; `solicited`: this server
/// dialled it; `dedicated`: the account it is for (this server's choice
/// when it dialled, else the peer's `route_account`); `peer_size` and
/// `peer_index`: the peer's `route_pool_size` and `route_pool_idx`.
///
/// A route this server dialled into a pool takes the first free place.
/// Any other may ask for a place already taken (both servers dialled at
/// once): which of the two stays is the caller's to settle.
pub fn place(
    pooling: &Pooling,
    taken: &[Carries],
    solicited: bool,
    dedicated: Option<&str>,
    peer_size: usize,
    peer_index: usize,
) -> Result<Carries, Refusal> {
    let pooled = pooling.pooled_with(peer_size);
    if let Some(account) = dedicated {
        if !pooled {
            return Err(Refusal::Final(format!(
                "Not possible to have a dedicated route for account {account:?} between those servers"
            )));
        }
        if !pooling.dedicated.iter().any(|a| a == account) {
            return Err(Refusal::Error(format!("No route for account {account:?}")));
        }
        return Ok(Carries::Account(account.to_string()));
    }
    if !pooled {
        return Ok(Carries::All);
    }
    let size = pooling.size.max(peer_size);
    let index = if solicited {
        // The server that dials picks the first free place and says which.
        if peer_index != 0 {
            return Err(Refusal::Error(format!(
                "Route pool index should not be set but is set to {peer_index}"
            )));
        }
        (0..size)
            .find(|i| !taken.contains(&Carries::Pool(*i)))
            .ok_or(Refusal::Duplicate("route pool size reached"))?
    } else {
        if peer_index >= size {
            return Err(Refusal::Error(format!(
                "Invalid route pool index: {peer_index} - pool size is {peer_size}"
            )));
        }
        peer_index
    };
    Ok(Carries::Pool(index))
}

/// Whether the routes up to a peer announcing `peer_size` (what they carry
/// is `taken`) are all it should have, but for dedicated ones.
pub fn pool_complete(pooling: &Pooling, taken: &[Carries], peer_size: usize) -> bool {
    if taken.contains(&Carries::All) {
        return true;
    }
    if !pooling.pooled_with(peer_size) {
        return false;
    }
    let size = pooling.size.max(peer_size);
    (0..size).all(|i| taken.contains(&Carries::Pool(i)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pooling(size: i64, accounts: &[&str]) -> Pooling {
        let accounts: Vec<String> = accounts.iter().map(|a| a.to_string()).collect();
        Pooling::new(size, &accounts, "$SYS")
    }

    #[test]
    fn accounts_spread_as_nats_server_spreads_them() {
        // nats-server 2.15.1 with the default pool of 3 sent `$G`'s
        // interest on the third route of its pool (captured).
        assert_eq!(pool_index(3, "$G"), 2);
        assert_eq!(pool_index(1, "$G"), 0);
        assert_eq!(pool_index(0, "$G"), 0);
        let p = pooling(3, &["A"]);
        assert_eq!(p.dedicated, vec!["A".to_string(), "$SYS".to_string()]);
        assert!(p.placement("$G").on(&Carries::Pool(2)));
        assert!(!p.placement("$G").on(&Carries::Pool(0)));
        assert!(!p.placement("A").on(&Carries::Pool(pool_index(3, "A"))));
        assert!(p.placement("A").on(&Carries::Account("A".into())));
        assert!(p.placement("A").on(&Carries::All));
        assert_eq!(pooling(-1, &[]).dedicated, Vec::<String>::new());
    }

    #[test]
    fn a_route_takes_a_free_place_or_is_refused() {
        let p = pooling(3, &["A"]);
        // Dialled here: the first free place; none left is a duplicate.
        assert_eq!(place(&p, &[], true, None, 3, 0), Ok(Carries::Pool(0)));
        let taken = [Carries::Pool(0), Carries::Pool(2)];
        assert_eq!(place(&p, &taken, true, None, 3, 0), Ok(Carries::Pool(1)));
        let full = [Carries::Pool(0), Carries::Pool(1), Carries::Pool(2)];
        assert!(matches!(
            place(&p, &full, true, None, 3, 0),
            Err(Refusal::Duplicate(_))
        ));
        assert!(pool_complete(&p, &full, 3));
        assert!(!pool_complete(&p, &full, 5), "a larger pool on the peer counts");
        // Dialled by the peer: the place it says, taken or not.
        assert_eq!(place(&p, &taken, false, None, 3, 1), Ok(Carries::Pool(1)));
        assert_eq!(place(&p, &taken, false, None, 3, 2), Ok(Carries::Pool(2)));
        assert_eq!(
            place(&p, &[], false, None, 3, 7),
            Err(Refusal::Error(
                "Invalid route pool index: 7 - pool size is 3".into()
            ))
        );
        assert_eq!(
            place(&p, &[], true, None, 3, 1),
            Err(Refusal::Error(
                "Route pool index should not be set but is set to 1".into()
            ))
        );
        // A peer without a pool: one route for all.
        assert_eq!(place(&p, &[], true, None, 0, 0), Ok(Carries::All));
        assert!(pool_complete(&p, &[Carries::All], 0));
        assert_eq!(place(&pooling(-1, &[]), &[], false, None, 3, 1), Ok(Carries::All));
        // Dedicated routes.
        assert_eq!(
            place(&p, &[], true, Some("A"), 3, 0),
            Ok(Carries::Account("A".into()))
        );
        assert_eq!(
            place(&p, &[], false, Some("B"), 3, 0),
            Err(Refusal::Error("No route for account \"B\"".into()))
        );
        assert_eq!(
            place(&p, &[], true, Some("A"), 0, 0),
            Err(Refusal::Final(
                "Not possible to have a dedicated route for account \"A\" between those servers".into()
            ))
        );
    }
}
