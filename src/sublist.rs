//! The subject router's index: a trie by subject token with `*` and `>`
//! branches, plain and queue subscribers kept apart, and a generation
//! counter that tells per-connection match caches when they are stale.
//!
//! Reads take a shared lock only; the hot path usually skips even that,
//! because each connection caches its match results keyed by subject and
//! checks them against [`Sublist::generation`] (an atomic load).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::RwLock;

use crate::subscription::Subscription;

/// Why a subscription could not be inserted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SublistError {
    #[error("invalid subject")]
    InvalidSubject,
}

/// Subscribers matching one published subject: every plain subscriber, and
/// each queue group as a whole (one member of a group gets each message).
#[derive(Debug, Default)]
pub struct MatchResult {
    pub psubs: Vec<Arc<Subscription>>,
    pub qsubs: Vec<Vec<Arc<Subscription>>>,
}

impl MatchResult {
    pub fn is_empty(&self) -> bool {
        self.psubs.is_empty() && self.qsubs.is_empty()
    }
}

#[derive(Default)]
struct Node {
    next: Option<Box<Level>>,
    psubs: Vec<Arc<Subscription>>,
    qsubs: HashMap<Bytes, Vec<Arc<Subscription>>>,
}

impl Node {
    fn is_empty(&self) -> bool {
        self.psubs.is_empty() && self.qsubs.is_empty() && self.next.as_ref().is_none_or(|l| l.is_empty())
    }
}

#[derive(Default)]
struct Level {
    literal: HashMap<Bytes, Node>,
    pwc: Option<Box<Node>>,
    fwc: Option<Box<Node>>,
}

impl Level {
    fn is_empty(&self) -> bool {
        self.literal.is_empty() && self.pwc.is_none() && self.fwc.is_none()
    }
}

/// The subscription index of one account.
#[derive(Default)]
pub struct Sublist {
    root: RwLock<Level>,
    generation: AtomicU64,
    count: AtomicU64,
}

impl Sublist {
    pub fn new() -> Self {
        Sublist::default()
    }

    /// Changes every time a subscription is inserted or removed.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Number of subscriptions held.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    pub fn insert(&self, sub: Arc<Subscription>) -> Result<(), SublistError> {
        if !junction_nats::subject::is_valid_subject(&sub.subject) {
            return Err(SublistError::InvalidSubject);
        }
        let mut level = self.root.write();
        let mut level: &mut Level = &mut level;
        let mut tokens = sub.subject.split(|&b| b == b'.').peekable();
        let mut offset = 0;
        loop {
            let token = tokens.next().ok_or(SublistError::InvalidSubject)?;
            let start = offset;
            offset += token.len() + 1;
            let node: &mut Node = match token {
                b"*" => level.pwc.get_or_insert_with(Box::default),
                b">" => level.fwc.get_or_insert_with(Box::default),
                _ => level
                    .literal
                    .entry(sub.subject.slice(start..start + token.len()))
                    .or_default(),
            };
            if tokens.peek().is_none() {
                match &sub.queue {
                    None => node.psubs.push(sub.clone()),
                    Some(q) => node.qsubs.entry(q.clone()).or_default().push(sub.clone()),
                }
                break;
            }
            level = node.next.get_or_insert_with(Box::default);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.generation.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    /// Removes `sub`; returns whether it was present.
    pub fn remove(&self, sub: &Arc<Subscription>) -> bool {
        let mut root = self.root.write();
        let tokens: Vec<&[u8]> = sub.subject.split(|&b| b == b'.').collect();
        let removed = remove_from(&mut root, &tokens, sub);
        if removed {
            self.count.fetch_sub(1, Ordering::Relaxed);
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
        removed
    }

    /// All subscriptions whose subject matches the literal `subject`.
    pub fn matches(&self, subject: &[u8]) -> MatchResult {
        let mut result = MatchResult::default();
        // Subjects with empty tokens match nothing (nats-server does the same).
        if subject.is_empty() {
            return result;
        }
        let tokens: smallvec_tokens::Tokens = smallvec_tokens::Tokens::new(subject);
        if tokens.has_empty() {
            return result;
        }
        let root = self.root.read();
        let mut queues: Vec<(Bytes, Vec<Arc<Subscription>>)> = Vec::new();
        collect(&root, tokens.as_slice(), &mut result.psubs, &mut queues);
        result.qsubs = queues.into_iter().map(|(_, members)| members).collect();
        result
    }

    /// Every subscription, for monitoring and tests.
    pub fn all(&self) -> Vec<Arc<Subscription>> {
        fn walk(level: &Level, out: &mut Vec<Arc<Subscription>>) {
            let nodes = level
                .literal
                .values()
                .chain(level.pwc.as_deref())
                .chain(level.fwc.as_deref());
            for node in nodes {
                out.extend(node.psubs.iter().cloned());
                out.extend(node.qsubs.values().flatten().cloned());
                if let Some(next) = &node.next {
                    walk(next, out);
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.root.read(), &mut out);
        out
    }
}

fn add_node(
    node: &Node,
    psubs: &mut Vec<Arc<Subscription>>,
    queues: &mut Vec<(Bytes, Vec<Arc<Subscription>>)>,
) {
    psubs.extend(node.psubs.iter().cloned());
    for (name, members) in &node.qsubs {
        // The same group may be reached through several branches (say `a.*`
        // and `a.>`); it still delivers each message to just one member.
        match queues.iter_mut().find(|(n, _)| n == name) {
            Some((_, all)) => all.extend(members.iter().cloned()),
            None => queues.push((name.clone(), members.clone())),
        }
    }
}

fn collect(
    level: &Level,
    tokens: &[&[u8]],
    psubs: &mut Vec<Arc<Subscription>>,
    queues: &mut Vec<(Bytes, Vec<Arc<Subscription>>)>,
) {
    let (token, rest) = match tokens.split_first() {
        Some(t) => t,
        None => return,
    };
    if let Some(fwc) = &level.fwc {
        add_node(fwc, psubs, queues);
    }
    let last = rest.is_empty();
    for node in [level.pwc.as_deref(), level.literal.get(*token)]
        .into_iter()
        .flatten()
    {
        if last {
            add_node(node, psubs, queues);
        } else if let Some(next) = &node.next {
            collect(next, rest, psubs, queues);
        }
    }
}

fn remove_from(level: &mut Level, tokens: &[&[u8]], sub: &Arc<Subscription>) -> bool {
    let Some((token, rest)) = tokens.split_first() else {
        return false;
    };
    let node = match *token {
        b"*" => level.pwc.as_deref_mut(),
        b">" => level.fwc.as_deref_mut(),
        t => level.literal.get_mut(t),
    };
    let Some(node) = node else {
        return false;
    };
    let removed = if rest.is_empty() {
        match &sub.queue {
            None => remove_sub(&mut node.psubs, sub),
            Some(q) => {
                let removed = node.qsubs.get_mut(q).is_some_and(|m| remove_sub(m, sub));
                if node.qsubs.get(q).is_some_and(|m| m.is_empty()) {
                    node.qsubs.remove(q);
                }
                removed
            }
        }
    } else {
        match node.next.as_deref_mut() {
            Some(next) => remove_from(next, rest, sub),
            None => false,
        }
    };
    if removed && node.is_empty() {
        match *token {
            b"*" => level.pwc = None,
            b">" => level.fwc = None,
            t => {
                level.literal.remove(t);
            }
        }
    }
    removed
}

fn remove_sub(list: &mut Vec<Arc<Subscription>>, sub: &Arc<Subscription>) -> bool {
    match list.iter().position(|s| Arc::ptr_eq(s, sub)) {
        Some(i) => {
            list.swap_remove(i);
            true
        }
        None => false,
    }
}

/// Splitting a subject into tokens without allocating for the common case.
mod smallvec_tokens {
    const INLINE: usize = 16;

    pub struct Tokens<'a> {
        inline: [&'a [u8]; INLINE],
        len: usize,
        spill: Vec<&'a [u8]>,
    }

    impl<'a> Tokens<'a> {
        pub fn new(subject: &'a [u8]) -> Self {
            let mut t = Tokens {
                inline: [&[]; INLINE],
                len: 0,
                spill: Vec::new(),
            };
            for token in subject.split(|&b| b == b'.') {
                if t.len < INLINE {
                    t.inline[t.len] = token;
                } else {
                    if t.spill.is_empty() {
                        t.spill.extend_from_slice(&t.inline);
                    }
                    t.spill.push(token);
                }
                t.len += 1;
            }
            t
        }

        pub fn as_slice(&self) -> &[&'a [u8]] {
            if self.len <= INLINE {
                &self.inline[..self.len]
            } else {
                &self.spill
            }
        }

        pub fn has_empty(&self) -> bool {
            self.as_slice().iter().any(|t| t.is_empty())
        }
    }
}
