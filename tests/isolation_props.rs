//! Property test of account isolation at the router: with random accounts,
//! stream exports and imports, subscriptions and publishes, a message
//! reaches a subscription if and only if it was published in the same
//! account, or an export and a matching import connect the two accounts.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use junction::account::Accounts;
use junction::options::{AccountConfig, ExportConfig, ExportKind, ImportConfig, Options};
use junction::outlet::Producer;
use junction::subscription::{Message, Subscriber, Subscription};
use junction_nats::subject::matches;
use proptest::prelude::*;

/// Records what it receives.
#[derive(Default)]
struct Probe {
    got: Mutex<Vec<String>>,
}

impl Subscriber for Probe {
    fn client_id(&self) -> u64 {
        1
    }
    fn deliver(&self, _sub: &Subscription, msg: &Message<'_>, _producer: &mut Producer) {
        self.got
            .lock()
            .unwrap()
            .push(String::from_utf8_lossy(msg.subject).into_owned());
    }
    fn expire(&self, _sub: &Arc<Subscription>) {}
}

const SUBJECTS: [&str; 6] = ["a", "a.b", "a.c", "b.b", "b.c.d", "c"];
const PATTERNS: [&str; 8] = ["a", "a.*", "a.b", "b.>", ">", "*", "imp.a.b", "imp.>"];
const EXPORTS: [&str; 4] = ["a.>", "a.b", "b.>", ">"];

/// Accounts 0 and 1 export; accounts 2 and 3 import (so no chains).
#[derive(Debug, Clone)]
struct Setup {
    exports: Vec<(usize, usize, Option<usize>)>,
    imports: Vec<(usize, usize, usize, bool)>,
    subs: Vec<(usize, usize)>,
    pubs: Vec<(usize, usize)>,
}

fn setup() -> impl Strategy<Value = Setup> {
    (
        prop::collection::vec((0..2usize, 0..EXPORTS.len(), prop::option::of(2..4usize)), 0..4),
        prop::collection::vec((2..4usize, 0..2usize, 0..EXPORTS.len(), any::<bool>()), 0..4),
        prop::collection::vec((0..4usize, 0..PATTERNS.len()), 1..10),
        prop::collection::vec((0..4usize, 0..SUBJECTS.len()), 1..10),
    )
        .prop_map(|(exports, imports, subs, pubs)| Setup {
            exports,
            imports,
            subs,
            pubs,
        })
}

fn name(i: usize) -> String {
    format!("ACC{i}")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn messages_cross_accounts_only_through_imports(s in setup()) {
        let mut opts = Options::default();
        for i in 0..4 {
            opts.accounts.push(AccountConfig { name: name(i), ..Default::default() });
        }
        for &(acc, subj, private_to) in &s.exports {
            opts.accounts[acc].exports.push(ExportConfig {
                kind: ExportKind::Stream,
                subject: EXPORTS[subj].into(),
                accounts: private_to.map(name).into_iter().collect(),
                ..Default::default()
            });
        }
        // Only imports that some export allows are configured; an import
        // with no matching export is refused (tested elsewhere).
        let mut valid_imports = Vec::new();
        for &(importer, exporter, subj, prefixed) in &s.imports {
            let subject = EXPORTS[subj];
            let allowed = opts.accounts[exporter].exports.iter().any(|e| {
                junction::permissions::covers(e.subject.as_bytes(), subject.as_bytes())
                    && (e.accounts.is_empty() || e.accounts.contains(&name(importer)))
            });
            if allowed {
                opts.accounts[importer].imports.push(ImportConfig {
                    kind: ExportKind::Stream,
                    account: name(exporter),
                    subject: subject.into(),
                    prefix: prefixed.then(|| "imp".to_string()),
                    ..Default::default()
                });
                valid_imports.push((importer, exporter, subject, prefixed));
            }
        }
        let accounts = Accounts::from_options(&opts).unwrap();
        let probes: Vec<(usize, &str, Arc<Probe>)> = s
            .subs
            .iter()
            .map(|&(acc, p)| (acc, PATTERNS[p], Arc::new(Probe::default())))
            .collect();
        for (acc, pattern, probe) in &probes {
            let sub = Subscription::new(Bytes::from(*pattern), None, Bytes::from_static(b"1"), probe.clone());
            accounts.get(&name(*acc)).unwrap().subscribe(Arc::new(sub)).unwrap();
        }
        for &(acc, subj) in &s.pubs {
            let subject = SUBJECTS[subj];
            let account = accounts.get(&name(acc)).unwrap();
            let msg = Message::internal(subject.as_bytes(), None, None, b"x");
            account.publish(&msg, None, &mut Producer::default());
        }
        for (acc, pattern, probe) in &probes {
            let mut expected = Vec::new();
            for &(pub_acc, subj) in &s.pubs {
                let subject = SUBJECTS[subj];
                if pub_acc == *acc && matches(pattern.as_bytes(), subject.as_bytes()) {
                    expected.push(subject.to_string());
                }
                for &(importer, exporter, imported, prefixed) in &valid_imports {
                    if importer != *acc || exporter != pub_acc || !matches(imported.as_bytes(), subject.as_bytes()) {
                        continue;
                    }
                    let local = if prefixed { format!("imp.{subject}") } else { subject.to_string() };
                    if matches(pattern.as_bytes(), local.as_bytes()) {
                        expected.push(local);
                    }
                }
            }
            let mut got = probe.got.lock().unwrap().clone();
            got.sort();
            expected.sort();
            prop_assert_eq!(got, expected, "subscriber {} in {}", pattern, name(*acc));
        }
    }
}
