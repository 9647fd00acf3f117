//! The interest a peer server (a route, a leaf node, another cluster's
//! gateway) announced, kept as subscriptions in its accounts here, one per
//! account, subject and queue group.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use bytes::Bytes;
use junction_nats::route::RemoteInterest;
use parking_lot::Mutex;

use crate::account::{Account, Accounts};
use crate::subscription::{Subscriber, Subscription};

/// Account, subject and queue group.
type Key = (Bytes, Bytes, Option<Bytes>);

fn key(i: &RemoteInterest<'_>) -> Key {
    (
        Bytes::copy_from_slice(i.account),
        Bytes::copy_from_slice(i.subject),
        i.queue.map(Bytes::copy_from_slice),
    )
}

/// A peer's subscriptions here.
#[derive(Default)]
pub struct PeerInterest {
    subs: Mutex<HashMap<Key, Arc<Subscription>>>,
}

impl PeerInterest {
    /// Subscribes `subscriber` in `account` (named by `i.account`) to what
    /// `i` announces, with `weight`; a known subject or queue group only
    /// takes the new weight. The subscription is recorded before the
    /// account hears of it, so the interest event it causes can be told
    /// for the peer's own.
    pub fn add(
        &self,
        account: &Account,
        i: &RemoteInterest<'_>,
        weight: u32,
        subscriber: Arc<dyn Subscriber>,
    ) {
        let key = key(i);
        let sub = {
            let mut subs = self.subs.lock();
            if let Some(sub) = subs.get(&key) {
                sub.set_weight(weight);
                return;
            }
            let sub = Arc::new(Subscription::new(
                key.1.clone(),
                key.2.clone(),
                // The router hands a peer one of its subscriptions: this
                // says which account the message is in.
                key.0.clone(),
                subscriber,
            ));
            sub.set_weight(weight);
            subs.insert(key.clone(), sub.clone());
            sub
        };
        if let Err(e) = account.subscribe(sub) {
            tracing::debug!(account = %account.name, "a peer's interest was refused: {e}");
            self.subs.lock().remove(&key);
        }
    }

    /// The interest `i` went: its subscription leaves its account.
    pub fn remove(&self, accounts: &Accounts, i: &RemoteInterest<'_>) {
        let Some(sub) = self.subs.lock().remove(&key(i)) else {
            return;
        };
        if let Some(account) = accounts.get(&String::from_utf8_lossy(i.account)) {
            account.unsubscribe(&sub);
        }
    }

    /// Every subscription leaves its account (the peer went).
    pub fn remove_all(&self, accounts: &Accounts) {
        let subs: Vec<_> = self.subs.lock().drain().collect();
        for ((account, _, _), sub) in subs {
            if let Some(account) = accounts.get(&String::from_utf8_lossy(&account)) {
                account.unsubscribe(&sub);
            }
        }
    }

    /// Whether the peer announced this subject (and queue group).
    pub fn contains(&self, account: &[u8], subject: &[u8], queue: Option<&[u8]>) -> bool {
        let key = (
            Bytes::copy_from_slice(account),
            Bytes::copy_from_slice(subject),
            queue.map(Bytes::copy_from_slice),
        );
        self.subs.lock().contains_key(&key)
    }

    pub fn len(&self) -> usize {
        self.subs.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The interest by account, each as `subject` or `subject queue`,
    /// sorted: what the monitoring endpoints list.
    pub fn by_account(&self) -> Vec<(String, Vec<String>)> {
        let mut by_account: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (account, subject, queue) in self.subs.lock().keys() {
            let text = |b: &Bytes| String::from_utf8_lossy(b).into_owned();
            let entry = match queue {
                Some(q) => format!("{} {}", text(subject), text(q)),
                None => text(subject),
            };
            by_account.entry(text(account)).or_default().push(entry);
        }
        by_account
            .into_iter()
            .map(|(account, mut subs)| {
                subs.sort();
                (account, subs)
            })
            .collect()
    }

    /// All of it as `account subject [queue]`, sorted (`/routez`).
    pub fn list(&self) -> Vec<String> {
        let mut list: Vec<String> = self
            .by_account()
            .into_iter()
            .flat_map(|(account, subs)| subs.into_iter().map(move |s| format!("{account} {s}")))
            .collect();
        list.sort();
        list
    }
}
