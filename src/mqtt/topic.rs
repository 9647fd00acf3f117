//! MQTT topics and NATS subjects, mapped as nats-server maps them so the two
//! protocols share one subject space:
//!
//! | MQTT | NATS |
//! |---|---|
//! | `/` between levels | `.` |
//! | an empty level (leading, trailing or doubled `/`) | the token `/` |
//! | `.` inside a level | `//` |
//! | `+` | `*` |
//! | `#` | `>`, and `a/#` also matches `a` |
//!
//! A space cannot be carried in a subject, so a topic with one is refused.

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    #[error("empty topic")]
    Empty,
    #[error("wildcard in a topic name")]
    Wildcard,
    #[error("a topic with whitespace cannot be a NATS subject")]
    Whitespace,
    #[error("'#' must be the last level, '+' and '#' must be a whole level")]
    BadFilter,
}

fn level_to_token(level: &str, out: &mut String) {
    if level.is_empty() {
        out.push('/');
    } else {
        for c in level.chars() {
            if c == '.' {
                out.push_str("//");
            } else {
                out.push(c);
            }
        }
    }
}

fn check_chars(topic: &str) -> Result<(), TopicError> {
    if topic.is_empty() {
        return Err(TopicError::Empty);
    }
    if topic.chars().any(char::is_whitespace) {
        return Err(TopicError::Whitespace);
    }
    Ok(())
}

/// The subject a PUBLISH topic name is delivered on.
pub fn topic_to_subject(topic: &str) -> Result<String, TopicError> {
    check_chars(topic)?;
    let mut out = String::with_capacity(topic.len() + 4);
    for (i, level) in topic.split('/').enumerate() {
        if level.contains(['+', '#']) {
            return Err(TopicError::Wildcard);
        }
        // A whole token `*` or `>` would be a NATS wildcard.
        if level == "*" || level == ">" {
            return Err(TopicError::Wildcard);
        }
        if i > 0 {
            out.push('.');
        }
        level_to_token(level, &mut out);
    }
    Ok(out)
}

/// The subjects a topic filter subscribes to: one, or two for `a/#`, which
/// matches `a` itself as well as everything below it.
pub fn filter_to_subjects(filter: &str) -> Result<Vec<String>, TopicError> {
    check_chars(filter)?;
    let levels: Vec<&str> = filter.split('/').collect();
    let mut out = String::with_capacity(filter.len() + 4);
    for (i, level) in levels.iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        match *level {
            "+" => out.push('*'),
            "#" if i == levels.len() - 1 => out.push('>'),
            l if l.contains(['+', '#']) => return Err(TopicError::BadFilter),
            "*" | ">" => return Err(TopicError::BadFilter),
            l => level_to_token(l, &mut out),
        }
    }
    if levels.len() > 1 && levels.last() == Some(&"#") {
        // `a/#` is also `a`: the parent level without the wildcard.
        let parent = out[..out.len() - 2].to_string();
        return Ok(vec![out, parent]);
    }
    Ok(vec![out])
}

/// The MQTT topic of a NATS subject.
pub fn subject_to_topic(subject: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(subject.len());
    for (i, token) in subject.split(|&b| b == b'.').enumerate() {
        if i > 0 {
            out.push(b'/');
        }
        if token == b"/" {
            continue;
        }
        let mut j = 0;
        while j < token.len() {
            if token[j] == b'/' && token.get(j + 1) == Some(&b'/') {
                out.push(b'.');
                j += 2;
            } else {
                out.push(token[j]);
                j += 1;
            }
        }
    }
    out
}

/// Whether a filter starts with a wildcard, which must not match topics
/// starting with `$` (MQTT-4.7.2-1).
pub fn starts_with_wildcard(filter: &str) -> bool {
    filter.starts_with('+') || filter.starts_with('#')
}

/// A shared subscription `$share/<group>/<filter>`: its group and filter.
pub fn shared(filter: &str) -> Option<(&str, &str)> {
    let rest = filter.strip_prefix("$share/")?;
    let (group, filter) = rest.split_once('/')?;
    (!group.is_empty() && !group.contains(['+', '#']) && !filter.is_empty()).then_some((group, filter))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_become_subjects_and_back() {
        for (topic, subject) in [
            ("sensors/cold-1/temp", "sensors.cold-1.temp"),
            ("/sensors/temp", "/.sensors.temp"),
            ("sensors/temp/", "sensors.temp./"),
            ("sensors//temp", "sensors./.temp"),
            ("//sensors/temp", "/./.sensors.temp"),
            ("cold-1.temp", "cold-1//temp"),
            ("spBv1.0/plant1", "spBv1//0.plant1"),
            ("a", "a"),
            ("$SYS/x", "$SYS.x"),
        ] {
            assert_eq!(topic_to_subject(topic).unwrap(), subject, "{topic}");
            assert_eq!(
                String::from_utf8(subject_to_topic(subject.as_bytes())).unwrap(),
                topic
            );
        }
        assert_eq!(topic_to_subject("a b"), Err(TopicError::Whitespace));
        assert_eq!(topic_to_subject("a/+"), Err(TopicError::Wildcard));
        assert_eq!(topic_to_subject("a/#"), Err(TopicError::Wildcard));
        assert_eq!(topic_to_subject("a/*"), Err(TopicError::Wildcard));
        assert_eq!(topic_to_subject(""), Err(TopicError::Empty));
    }

    #[test]
    fn filters_become_subjects() {
        assert_eq!(filter_to_subjects("a/+/c").unwrap(), ["a.*.c"]);
        assert_eq!(filter_to_subjects("#").unwrap(), [">"]);
        assert_eq!(filter_to_subjects("a/#").unwrap(), ["a.>", "a"]);
        assert_eq!(filter_to_subjects("/#").unwrap(), ["/.>", "/"]);
        assert_eq!(filter_to_subjects("+/x.y").unwrap(), ["*.x//y"]);
        assert_eq!(filter_to_subjects("a/#/b"), Err(TopicError::BadFilter));
        assert_eq!(filter_to_subjects("a+"), Err(TopicError::BadFilter));
        assert_eq!(filter_to_subjects("a/b#"), Err(TopicError::BadFilter));
        assert!(starts_with_wildcard("+/a") && starts_with_wildcard("#") && !starts_with_wildcard("a/#"));
        assert_eq!(shared("$share/g/a/+"), Some(("g", "a/+")));
        assert_eq!(shared("$share/g"), None);
        assert_eq!(shared("a/b"), None);
    }
}
