//! Interest as events: every subscription enters and leaves an account
//! here, so the account sees the first subscription to a subject (or
//! queue group) and the last one going away, and tells its listeners —
//! the place routes will learn what to announce to their peers (RS+/RS-
//! with queue weights). The sublist itself is private to the account.

use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use rustc_hash::FxHashMap;

use super::Account;
use crate::message::ConnKind;
use crate::sublist::{MatchResult, SublistError};
use crate::subscription::{Subscriber, Subscription};

/// A change in an account's interest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InterestChange<'a> {
    pub subject: &'a [u8],
    pub queue: Option<&'a [u8]>,
    /// This server's own subscriptions to this subject (in this queue
    /// group) after the change, reported at every change; a queue group's
    /// count is its weight.
    pub count: u32,
    /// With the subscriptions made for other servers of the cluster (one
    /// per peer): the cluster's interest, which other clusters hear of.
    pub total: u32,
    /// With other clusters' interest too (gateways'): all the interest
    /// there is here, which leaf nodes hear of.
    pub everywhere: u32,
    /// A subscription came (else one went).
    pub added: bool,
    /// The change is in another server's interest (a route's or another
    /// cluster's), which routes do not announce.
    pub remote: bool,
    /// The change is in another cluster's interest, which gateways do not
    /// announce either.
    pub other_cluster: bool,
}

impl InterestChange<'_> {
    /// Whether peers that count no plain subscriptions must hear of it: a
    /// plain subject's first subscription and its last one going, and any
    /// change of a queue group's weight (`RS+`/`RS-` between routes).
    pub fn is_announced(&self) -> bool {
        !self.remote
            && (self.queue.is_some() || (self.added && self.count == 1) || (!self.added && self.count == 0))
    }
}

/// Called for every interest change, in order, with the account's
/// interest lock held: a listener must not subscribe or unsubscribe.
pub type InterestListener = Arc<dyn Fn(&Account, &InterestChange<'_>) + Send + Sync>;

/// Subscriptions counted by subject and queue group.
type Counts = FxHashMap<(Bytes, Option<Bytes>), Count>;

/// Subscriptions to one subject (or queue group) by whose interest they are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Count {
    /// This server's own (its clients', services', leaf nodes').
    own: u32,
    /// Made for the other servers of the cluster (one per route).
    cluster: u32,
    /// Made for other clusters (one per gateway).
    other_clusters: u32,
}

impl Count {
    /// The slot a subscription counts in.
    fn slot(&mut self, sub: &Subscription) -> &mut u32 {
        if sub.other_cluster {
            &mut self.other_clusters
        } else if counted(sub) {
            &mut self.own
        } else {
            &mut self.cluster
        }
    }
}

/// The account's interest: counts of its own subscriptions and who
/// listens to their changes.
#[derive(Default)]
pub(super) struct Interest {
    counts: Mutex<Counts>,
    listeners: arc_swap::ArcSwap<Vec<InterestListener>>,
}

/// Whether a subscription is this server's own interest. One made on
/// behalf of another server is that server's, and is not announced back.
fn counted(sub: &Subscription) -> bool {
    !matches!(sub.subscriber.kind(), ConnKind::Route | ConnKind::Gateway)
}

impl Account {
    /// Adds a subscription.
    pub fn subscribe(&self, sub: Arc<Subscription>) -> Result<(), SublistError> {
        let mut counts = self.interest.counts.lock();
        self.sublist.insert(sub.clone())?;
        let entry = counts
            .entry((sub.subject.clone(), sub.queue.clone()))
            .or_default();
        *entry.slot(&sub) += 1;
        let count = *entry;
        self.tell(&sub, count, true);
        Ok(())
    }

    /// Subscribes one of the server's own services (JetStream's API, the
    /// claims service, MQTT's reply bridge) to `subject`.
    pub fn subscribe_service(&self, subject: impl Into<Bytes>, service: Arc<dyn Subscriber>) {
        let sub = Subscription::new(subject.into(), None, Bytes::new(), service);
        if let Err(e) = self.subscribe(Arc::new(sub)) {
            tracing::error!(account = %self.name, "a service could not subscribe: {e}");
        }
    }

    /// Removes a subscription; returns whether it was present.
    pub fn unsubscribe(&self, sub: &Arc<Subscription>) -> bool {
        let mut counts = self.interest.counts.lock();
        if !self.sublist.remove(sub) {
            return false;
        }
        let key = (sub.subject.clone(), sub.queue.clone());
        let count = match counts.get_mut(&key) {
            Some(entry) => {
                let slot = entry.slot(sub);
                *slot = slot.saturating_sub(1);
                let now = *entry;
                if now == Count::default() {
                    counts.remove(&key);
                }
                now
            }
            None => Count::default(),
        };
        self.tell(sub, count, false);
        true
    }

    fn tell(&self, sub: &Subscription, count: Count, added: bool) {
        let listeners = self.interest.listeners.load();
        if listeners.is_empty() {
            return;
        }
        let total = count.own + count.cluster;
        let change = InterestChange {
            subject: &sub.subject,
            queue: sub.queue.as_deref(),
            count: count.own,
            total,
            everywhere: total + count.other_clusters,
            added,
            remote: !counted(sub) || sub.other_cluster,
            other_cluster: sub.other_cluster,
        };
        for listener in listeners.iter() {
            listener(self, &change);
        }
    }

    /// Calls `listener` for every interest change from now on, and returns
    /// the interest as it is, so that nothing falls between the two.
    pub fn on_interest(&self, listener: InterestListener) -> Vec<(Bytes, Option<Bytes>, u32)> {
        let counts = self.interest.counts.lock();
        let mut listeners = Vec::clone(&self.interest.listeners.load());
        listeners.push(listener);
        self.interest.listeners.store(Arc::new(listeners));
        counts
            .iter()
            .filter(|(_, c)| c.own > 0)
            .map(|((subject, queue), c)| (subject.clone(), queue.clone(), c.own))
            .collect()
    }

    /// Calls `f` with each subject (and queue group) this server has
    /// interest in and its count, holding the interest lock: a change
    /// cannot come between, so what `f` sends goes before any later change.
    pub fn each_interest(&self, mut f: impl FnMut(&[u8], Option<&[u8]>, u32)) {
        let counts = self.interest.counts.lock();
        for ((subject, queue), c) in counts.iter() {
            if c.own > 0 {
                f(subject, queue.as_deref(), c.own);
            }
        }
    }

    /// As [`Account::each_interest`], with the other servers of the
    /// cluster counted too (what other clusters hear of).
    pub fn each_total_interest(&self, mut f: impl FnMut(&[u8], Option<&[u8]>, u32)) {
        let counts = self.interest.counts.lock();
        for ((subject, queue), c) in counts.iter() {
            if c.own + c.cluster > 0 {
                f(subject, queue.as_deref(), c.own + c.cluster);
            }
        }
    }

    /// As [`Account::each_interest`], with all the interest there is here,
    /// other clusters' too (what leaf nodes hear of).
    pub fn each_interest_everywhere(&self, mut f: impl FnMut(&[u8], Option<&[u8]>, u32)) {
        let counts = self.interest.counts.lock();
        for ((subject, queue), c) in counts.iter() {
            f(subject, queue.as_deref(), c.own + c.cluster + c.other_clusters);
        }
    }

    /// All subscriptions whose subject matches the literal `subject`.
    pub fn matches(&self, subject: &[u8]) -> MatchResult {
        self.sublist.matches(subject)
    }

    /// Whether any subscription matches the literal `subject`.
    pub fn has_interest(&self, subject: &[u8]) -> bool {
        !self.sublist.matches(subject).is_empty()
    }

    /// Changes every time a subscription comes or goes: match results
    /// cached under an older one are stale.
    pub fn interest_generation(&self) -> u64 {
        self.sublist.generation()
    }

    /// Number of subscriptions in the account.
    pub fn subscription_count(&self) -> u64 {
        self.sublist.count()
    }

    /// Every subscription, for monitoring.
    pub fn subscriptions(&self) -> Vec<Arc<Subscription>> {
        self.sublist.all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Message;
    use crate::outlet::Producer;
    use crate::subscription::Subscriber;

    struct Probe(ConnKind);

    impl Subscriber for Probe {
        fn client_id(&self) -> u64 {
            1
        }
        fn kind(&self) -> ConnKind {
            self.0
        }
        fn deliver(&self, _: &Subscription, _: &Message<'_>, _: &mut Producer) {}
    }

    fn sub(subject: &'static str, queue: Option<&'static str>, kind: ConnKind) -> Arc<Subscription> {
        Arc::new(Subscription::new(
            Bytes::from_static(subject.as_bytes()),
            queue.map(|q| Bytes::from_static(q.as_bytes())),
            Bytes::from_static(b"1"),
            Arc::new(Probe(kind)),
        ))
    }

    type Seen = Arc<Mutex<Vec<(String, Option<String>, u32)>>>;

    fn listen(account: &Account) -> Seen {
        let seen: Seen = Arc::default();
        let into = seen.clone();
        account.on_interest(Arc::new(move |_, c| {
            if !c.is_announced() {
                return;
            }
            let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
            into.lock().push((text(c.subject), c.queue.map(text), c.count));
        }));
        seen
    }

    #[test]
    fn plain_interest_is_reported_first_and_last() {
        let account = Account::new("A");
        let seen = listen(&account);
        let (a, b) = (
            sub("foo.*", None, ConnKind::Client),
            sub("foo.*", None, ConnKind::Mqtt),
        );
        account.subscribe(a.clone()).unwrap();
        account.subscribe(b.clone()).unwrap();
        assert!(account.unsubscribe(&a));
        assert!(!account.unsubscribe(&a), "already gone: no event");
        assert!(account.unsubscribe(&b));
        assert_eq!(
            *seen.lock(),
            vec![("foo.*".into(), None, 1), ("foo.*".into(), None, 0)]
        );
    }

    #[test]
    fn queue_groups_report_their_weight_at_every_change() {
        let account = Account::new("A");
        let seen = listen(&account);
        let (a, b) = (
            sub("q", Some("g"), ConnKind::Client),
            sub("q", Some("g"), ConnKind::Internal),
        );
        account.subscribe(a.clone()).unwrap();
        account.subscribe(b.clone()).unwrap();
        account.subscribe(sub("q", Some("h"), ConnKind::Client)).unwrap();
        account.unsubscribe(&b);
        account.unsubscribe(&a);
        let g = |n| ("q".to_string(), Some("g".to_string()), n);
        assert_eq!(
            *seen.lock(),
            vec![g(1), g(2), ("q".into(), Some("h".into()), 1), g(1), g(0)]
        );
    }

    #[test]
    fn every_change_is_reported_with_the_other_servers_interest_apart() {
        let account = Account::new("A");
        // (count, total, added, remote) of each change.
        type Changes = Arc<Mutex<Vec<(u32, u32, bool, bool)>>>;
        let all: Changes = Arc::default();
        let into = all.clone();
        account.on_interest(Arc::new(move |_, c| {
            into.lock().push((c.count, c.total, c.added, c.remote))
        }));
        let (a, b, r) = (
            sub("foo", None, ConnKind::Client),
            sub("foo", None, ConnKind::Leaf),
            sub("foo", None, ConnKind::Route),
        );
        account.subscribe(a.clone()).unwrap();
        account.subscribe(r.clone()).unwrap();
        account.subscribe(b.clone()).unwrap();
        account.unsubscribe(&a);
        account.unsubscribe(&r);
        account.unsubscribe(&b);
        assert_eq!(
            *all.lock(),
            vec![
                (1, 1, true, false),
                (1, 2, true, true),
                (2, 3, true, false),
                (1, 2, false, false),
                (1, 1, false, true),
                (0, 0, false, false),
            ]
        );
        let mut total = Vec::new();
        account.subscribe(r).unwrap();
        account.each_total_interest(|s, _, n| total.push((s.to_vec(), n)));
        assert_eq!(total, vec![(b"foo".to_vec(), 1)]);
        let mut own = Vec::new();
        account.each_interest(|s, _, n| own.push((s.to_vec(), n)));
        assert!(own.is_empty());
    }

    #[test]
    fn other_servers_interest_is_not_announced_but_is_delivered_to() {
        let account = Account::new("A");
        let seen = listen(&account);
        let routed = sub("foo", None, ConnKind::Route);
        account.subscribe(routed.clone()).unwrap();
        assert!(account.has_interest(b"foo"));
        account.unsubscribe(&routed);
        assert!(seen.lock().is_empty());
    }

    #[test]
    fn a_late_listener_gets_the_interest_so_far() {
        let account = Account::new("A");
        account.subscribe(sub("a", None, ConnKind::Client)).unwrap();
        account.subscribe(sub("b", Some("g"), ConnKind::Client)).unwrap();
        account.subscribe(sub("b", Some("g"), ConnKind::Client)).unwrap();
        let mut now = account.on_interest(Arc::new(|_, _| {}));
        now.sort();
        assert_eq!(
            now,
            vec![
                (Bytes::from_static(b"a"), None, 1),
                (Bytes::from_static(b"b"), Some(Bytes::from_static(b"g")), 2)
            ]
        );
    }

    #[test]
    fn an_invalid_subject_changes_nothing() {
        let account = Account::new("A");
        let seen = listen(&account);
        assert!(account.subscribe(sub("a..b", None, ConnKind::Client)).is_err());
        assert!(seen.lock().is_empty());
        assert!(account.on_interest(Arc::new(|_, _| {})).is_empty());
    }
}
