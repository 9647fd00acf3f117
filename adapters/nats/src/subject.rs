//! Subject rules of the NATS protocol: tokens separated by `.`, `*` matching
//! one token and `>` the rest, as subscriptions may use them.

/// Valid as a subscription subject: non-empty tokens, no whitespace, and `>`
/// only as the last token.
pub fn is_valid_subject(subject: &[u8]) -> bool {
    if subject.is_empty() {
        return false;
    }
    let mut saw_fwc = false;
    for token in subject.split(|&b| b == b'.') {
        if token.is_empty() || saw_fwc {
            return false;
        }
        if token
            .iter()
            .any(|&b| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0c'))
        {
            return false;
        }
        if token == b">" {
            saw_fwc = true;
        }
    }
    true
}

/// Valid and without wildcards: what a publish subject must be in pedantic mode.
pub fn is_valid_literal_subject(subject: &[u8]) -> bool {
    is_valid_subject(subject) && is_literal(subject)
}

/// No `*` or `>` token.
pub fn is_literal(subject: &[u8]) -> bool {
    subject.split(|&b| b == b'.').all(|t| t != b"*" && t != b">")
}

/// Whether a literal `subject` is matched by the pattern `filter`.
pub fn matches(filter: &[u8], subject: &[u8]) -> bool {
    let mut f = filter.split(|&b| b == b'.');
    let mut s = subject.split(|&b| b == b'.');
    loop {
        match (f.next(), s.next()) {
            (None, None) => return true,
            (Some(b">"), Some(_)) => return true,
            (Some(b"*"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            _ => return false,
        }
    }
}

/// Whether every subject that `subject` stands for (it may hold wildcards)
/// is also matched by `pattern`: nats-server's `isSubsetMatch`. The one
/// subset test of the server: permissions, exports and imports, JetStream
/// filters and the JWT tools all ask it. An empty token matches nothing.
pub fn is_subset(subject: &[u8], pattern: &[u8]) -> bool {
    let mut s = subject.split(|&b| b == b'.');
    let mut p = pattern.split(|&b| b == b'.');
    loop {
        match (p.next(), s.next()) {
            (None, None) => return true,
            (Some(b""), _) | (_, Some(b"")) => return false,
            (Some(b">"), Some(_)) => return true,
            (Some(b"*"), Some(t)) if t != b">" => {}
            (Some(a), Some(b)) if a == b && a != b"*" && a != b">" => {}
            _ => return false,
        }
    }
}

/// Whether some literal subject could match both patterns (nats-server's
/// `SubjectsCollide`).
pub fn collide(a: &[u8], b: &[u8]) -> bool {
    let mut x = a.split(|&c| c == b'.');
    let mut y = b.split(|&c| c == b'.');
    loop {
        match (x.next(), y.next()) {
            (Some(b">"), Some(_)) | (Some(_), Some(b">")) => return true,
            (Some(p), Some(q)) => {
                if p != q && p != b"*" && q != b"*" {
                    return false;
                }
            }
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subsets_and_collisions_follow_wildcards() {
        for (subject, pattern) in [
            ("a.b", "a.b"),
            ("a.b", "a.*"),
            ("a.*", "a.*"),
            ("a.b.c", "a.>"),
            ("a.>", "a.>"),
            ("a.*.c", ">"),
        ] {
            assert!(
                is_subset(subject.as_bytes(), pattern.as_bytes()),
                "{subject} in {pattern}"
            );
        }
        for (subject, pattern) in [
            ("a.*", "a.b"),
            ("a.>", "a.*"),
            ("a", "a.>"),
            ("a.b", "a.b.c"),
            ("a..b", "a..b"),
            ("a.b", "a.c"),
        ] {
            assert!(
                !is_subset(subject.as_bytes(), pattern.as_bytes()),
                "{subject} not in {pattern}"
            );
        }
        for (a, b) in [("a.*", "a.b"), ("a.*.c", "a.b.*"), ("a.>", "a.b.c"), ("*", "x")] {
            assert!(
                collide(a.as_bytes(), b.as_bytes()) && collide(b.as_bytes(), a.as_bytes()),
                "{a} ~ {b}"
            );
        }
        for (a, b) in [("a.b", "a.c"), ("a.*", "a.*.*"), ("a", "a.>")] {
            assert!(!collide(a.as_bytes(), b.as_bytes()), "{a} !~ {b}");
        }
    }

    #[test]
    fn validity() {
        for ok in ["foo", "foo.bar", "foo.*", "foo.>", ">", "*", "foo*.bar", "a.*.c"] {
            assert!(is_valid_subject(ok.as_bytes()), "{ok}");
        }
        for bad in ["", "foo..bar", ".foo", "foo.", "foo.>.bar", "a b", "foo.\tx"] {
            assert!(!is_valid_subject(bad.as_bytes()), "{bad}");
        }
        assert!(is_valid_literal_subject(b"foo*.bar"));
        assert!(!is_valid_literal_subject(b"foo.*"));
    }

    #[test]
    fn wildcard_matching() {
        assert!(matches(b"foo.*", b"foo.bar"));
        assert!(!matches(b"foo.*", b"foo.bar.baz"));
        assert!(matches(b"foo.>", b"foo.bar.baz"));
        assert!(!matches(b"foo.>", b"foo"));
        assert!(matches(b">", b"a"));
    }
}
