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

#[cfg(test)]
mod tests {
    use super::*;

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
