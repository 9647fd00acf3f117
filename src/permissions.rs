//! Per-user publish and subscribe permissions: allow and deny lists with
//! wildcards, and `allow_responses`, checked the way nats-server checks them.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use junction_nats::subject::matches;
use parking_lot::Mutex;

use crate::options::{Permissions, ResponsePermission, SubjectPermission};

/// Allow/deny patterns for one direction.
#[derive(Debug, Clone, Default)]
pub struct SubjectRules {
    allow: Option<Vec<Vec<u8>>>,
    deny: Vec<Vec<u8>>,
}

impl SubjectRules {
    fn from_config(p: &SubjectPermission) -> Self {
        SubjectRules {
            // An empty allow list in the config means "no restriction".
            allow: (!p.allow.is_empty()).then(|| p.allow.iter().map(|s| s.as_bytes().to_vec()).collect()),
            deny: p.deny.iter().map(|s| s.as_bytes().to_vec()).collect(),
        }
    }

    /// Whether a literal subject may be used (publishing, or receiving a message).
    pub fn permits_literal(&self, subject: &[u8]) -> bool {
        let allowed = self
            .allow
            .as_ref()
            .is_none_or(|allow| allow.iter().any(|p| matches(p, subject)));
        allowed && !self.deny.iter().any(|p| matches(p, subject))
    }

    /// Whether a subscription subject (possibly with wildcards) may be used:
    /// an allow pattern must cover all of it, and no deny pattern may.
    pub fn permits_subscription(&self, subject: &[u8]) -> bool {
        let allowed = self
            .allow
            .as_ref()
            .is_none_or(|allow| allow.iter().any(|p| covers(p, subject)));
        allowed && !self.deny.iter().any(|p| covers(p, subject))
    }

    /// Whether some messages a wildcard subscription could get are denied,
    /// so deliveries must be filtered one by one.
    pub fn has_deny(&self) -> bool {
        !self.deny.is_empty()
    }

    /// Whether the literal subject hits a deny pattern.
    pub fn denies(&self, subject: &[u8]) -> bool {
        self.deny.iter().any(|p| matches(p, subject))
    }
}

/// Whether every subject matched by `subject` is also matched by `pattern`.
pub fn covers(pattern: &[u8], subject: &[u8]) -> bool {
    junction_nats::subject::is_subset(subject, pattern)
}

/// Reply subjects a client with `allow_responses` may publish to, each
/// for a limited number of responses and time.
#[derive(Debug, Default)]
struct Replies {
    open: HashMap<Vec<u8>, (usize, Instant)>,
}

/// The permissions of one connected user.
#[derive(Debug)]
pub struct ClientPermissions {
    pub publish: Option<SubjectRules>,
    pub subscribe: Option<SubjectRules>,
    responses: Option<ResponsePermission>,
    replies: Mutex<Replies>,
}

/// Open reply subjects kept per client before the oldest are dropped.
const MAX_OPEN_REPLIES: usize = 10_000;

impl ClientPermissions {
    pub fn from_config(p: &Permissions) -> Self {
        ClientPermissions {
            publish: p.publish.as_ref().map(SubjectRules::from_config),
            subscribe: p.subscribe.as_ref().map(SubjectRules::from_config),
            responses: p.allow_responses.clone(),
            replies: Mutex::new(Replies::default()),
        }
    }

    /// Whether publishing to `subject` is allowed; uses up one response
    /// allowance when it is only allowed as a reply.
    pub fn may_publish(&self, subject: &[u8]) -> bool {
        let Some(rules) = &self.publish else {
            return true;
        };
        if rules.permits_literal(subject) {
            return true;
        }
        let Some(resp) = &self.responses else {
            return false;
        };
        let mut replies = self.replies.lock();
        let Some((left, since)) = replies.open.get_mut(subject) else {
            return false;
        };
        if resp.expires.is_some_and(|ttl| since.elapsed() > ttl) {
            replies.open.remove(subject);
            return false;
        }
        *left -= 1;
        if *left == 0 {
            replies.open.remove(subject);
        }
        true
    }

    pub fn may_subscribe(&self, subject: &[u8]) -> bool {
        self.subscribe
            .as_ref()
            .is_none_or(|r| r.permits_subscription(subject))
    }

    /// Whether a message on `subject` may be delivered to this client: a
    /// wildcard subscription does not carry messages on denied subjects.
    pub fn may_receive(&self, subject: &[u8]) -> bool {
        self.subscribe
            .as_ref()
            .is_none_or(|r| !r.has_deny() || !r.denies(subject))
    }

    /// Whether deliveries need [`ClientPermissions::note_request`].
    pub fn tracks_replies(&self) -> bool {
        self.responses.is_some() && self.publish.is_some()
    }

    /// Remembers the reply subject of a request delivered to this client,
    /// so it may answer even where it could not otherwise publish.
    pub fn note_request(&self, reply: &[u8]) {
        let Some(resp) = &self.responses else { return };
        let mut replies = self.replies.lock();
        if replies.open.len() >= MAX_OPEN_REPLIES {
            let ttl = resp.expires.unwrap_or(Duration::from_secs(120));
            replies.open.retain(|_, (_, since)| since.elapsed() < ttl);
            if replies.open.len() >= MAX_OPEN_REPLIES {
                replies.open.clear();
            }
        }
        replies
            .open
            .insert(reply.to_vec(), (resp.max.max(1), Instant::now()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(allow: &[&str], deny: &[&str]) -> SubjectPermission {
        SubjectPermission {
            allow: allow.iter().map(|s| s.to_string()).collect(),
            deny: deny.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn publish_allow_and_deny() {
        let p = ClientPermissions::from_config(&Permissions {
            publish: Some(rules(&["orders.>", "status"], &["orders.secret"])),
            ..Permissions::default()
        });
        assert!(p.may_publish(b"orders.new"));
        assert!(p.may_publish(b"status"));
        assert!(!p.may_publish(b"orders.secret"));
        assert!(!p.may_publish(b"other"));
    }

    #[test]
    fn subscribe_patterns_must_be_covered() {
        let p = ClientPermissions::from_config(&Permissions {
            subscribe: Some(rules(&["foo.*", "bar.>"], &["bar.private.>"])),
            ..Permissions::default()
        });
        assert!(p.may_subscribe(b"foo.x"));
        assert!(p.may_subscribe(b"foo.*"));
        assert!(!p.may_subscribe(b"foo.>"));
        assert!(p.may_subscribe(b"bar.>"));
        assert!(!p.may_subscribe(b"bar.private.x"));
        assert!(!p.may_subscribe(b"baz"));
        assert!(!p.may_receive(b"bar.private.x"));
        assert!(p.may_receive(b"bar.public"));
    }

    #[test]
    fn allow_responses_opens_reply_subjects_once() {
        let p = ClientPermissions::from_config(&Permissions {
            publish: Some(rules(&["nothing"], &[])),
            allow_responses: Some(ResponsePermission::default()),
            ..Permissions::default()
        });
        assert!(!p.may_publish(b"_INBOX.abc"));
        p.note_request(b"_INBOX.abc");
        assert!(p.may_publish(b"_INBOX.abc"));
        assert!(!p.may_publish(b"_INBOX.abc"), "only one response by default");
    }

    #[test]
    fn covers_follows_wildcards() {
        assert!(covers(b">", b"a.b"));
        assert!(covers(b"a.>", b"a.*"));
        assert!(!covers(b"a.*", b"a.>"));
        assert!(!covers(b"a.b", b"a.*"));
        assert!(covers(b"a.*", b"a.*"));
    }
}
