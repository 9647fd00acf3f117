//! Subject mappings, as nats-server 2.9 has them (`mappings { }` at the top
//! of the configuration for `$G`, an account's `mappings`, a JWT's
//! `mappings` claim): a subject a client publishes to is rewritten before
//! anything else sees it (permissions, subscribers, streams), to one
//! destination or to one of several chosen by weight.

use rand::Rng;

/// Why a mapping cannot be set up, in nats-server's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    /// The source or destination is not a subject a mapping can use.
    #[error("invalid subject")]
    BadSubject,
    /// A destination token is wrong; `why` says how, `token` where.
    #[error("invalid mapping destination: {why} in {token}")]
    Destination { why: &'static str, token: String },
    /// Whitespace in a destination token.
    #[error("invalid mapping destination: invalid subject")]
    Whitespace,
    #[error("duplicate entry for {0:?}")]
    Duplicate(String),
    #[error("total weight needs to be <= 100")]
    TotalWeight,
    #[error("individual weights need to be <= 100")]
    Weight,
}

fn destination(why: &'static str, token: &str) -> MappingError {
    MappingError::Destination {
        why,
        token: token.to_string(),
    }
}

const UNKNOWN_FUNCTION: &str = "unknown function";
const NOT_ENOUGH_ARGS: &str = "not enough arguments passed to the function";
const TOO_MANY_ARGS: &str = "too many arguments passed to the function";
const INVALID_ARG: &str = "function argument is invalid or in the wrong format";
const NOT_ALL_WILDCARDS: &str = "not using all of the token wildcard(s)";

/// One destination token of a mapping whose source has wildcards.
#[derive(Debug, Clone, PartialEq)]
enum Part {
    Literal(String),
    /// The subject token at this position of the source (a `*`'s).
    Token(usize),
    /// `{{partition(n, …)}}`: FNV-1a of the tokens, modulo `n`.
    Partition(u32, Vec<usize>),
    SplitFromLeft(usize, usize),
    SplitFromRight(usize, usize),
    SliceFromLeft(usize, usize),
    SliceFromRight(usize, usize),
    Split(usize, String),
}

/// A compiled destination: the subject a source maps to.
#[derive(Debug, Clone, PartialEq)]
pub struct Transform {
    /// The source pattern, and how many tokens it has.
    source: String,
    source_tokens: usize,
    /// `None` when the source has no wildcards: the destination is used as written.
    parts: Option<Vec<Part>>,
    literal: String,
    /// The source and destination end in `>`.
    rest: bool,
}

/// Function names as nats-server matches them: the first letter of each
/// word in either case, the rest as written.
fn function_is(name: &str, words: &[&str]) -> bool {
    let mut rest = name;
    for word in words {
        let mut chars = word.chars();
        let first = chars.next().expect("non-empty word");
        let Some(c) = rest.chars().next() else {
            return false;
        };
        if c.to_ascii_lowercase() != first {
            return false;
        }
        rest = &rest[c.len_utf8()..];
        let tail = chars.as_str();
        let Some(after) = rest.strip_prefix(tail) else {
            return false;
        };
        rest = after;
    }
    rest.is_empty()
}

/// A `{{ name(args) }}` token split into its name and raw arguments.
fn function_call(token: &str) -> Option<(&str, &str)> {
    let inner = token.strip_prefix("{{")?.strip_suffix("}}")?.trim();
    let open = inner.find('(')?;
    let args = inner[open + 1..].strip_suffix(')')?;
    Some((inner[..open].trim_end(), args))
}

impl Transform {
    /// Compiles `source` → `dest` with nats-server's checks.
    pub fn new(source: &str, dest: &str) -> Result<Transform, MappingError> {
        Self::compile(source, dest, true)
    }

    /// The same, but a destination may leave some of the source's
    /// wildcards unused, as nats-server's republish allows (`q.*` → `out`).
    pub fn lenient(source: &str, dest: &str) -> Result<Transform, MappingError> {
        Self::compile(source, dest, false)
    }

    fn compile(source: &str, dest: &str, all_wildcards: bool) -> Result<Transform, MappingError> {
        if !junction_nats::subject::is_valid_subject(source.as_bytes()) {
            return Err(MappingError::BadSubject);
        }
        validate_destination(dest)?;
        let source_tokens: Vec<String> = source.split('.').map(str::to_string).collect();
        let dest_tokens: Vec<&str> = dest.split('.').collect();
        let rest = source_tokens.last().is_some_and(|t| t == ">");
        if rest != (dest_tokens.last() == Some(&">")) || dest_tokens.contains(&"*") {
            return Err(MappingError::BadSubject);
        }
        // Positions of the source's `*`s, for `$1`, `$2` …
        let stars: Vec<usize> = (0..source_tokens.len())
            .filter(|&i| source_tokens[i] == "*")
            .collect();
        if stars.is_empty() && !rest {
            return Ok(Transform {
                source: source.to_string(),
                source_tokens: source_tokens.len(),
                parts: None,
                literal: dest.to_string(),
                rest,
            });
        }
        let position = |index: i64, token: &str| -> Result<usize, MappingError> {
            match usize::try_from(index) {
                // As in nats-server, index 0 is the subject's first token.
                Ok(0) => Ok(0),
                Ok(n) if n <= stars.len() => Ok(stars[n - 1]),
                _ if index < 0 => Ok(0),
                _ => Err(MappingError::Destination {
                    why: "wildcard index out of range",
                    token: format!("{token}: [{index}]"),
                }),
            }
        };
        let mut parts = Vec::new();
        let mut placeholders = 0;
        let body = if rest {
            &dest_tokens[..dest_tokens.len() - 1]
        } else {
            &dest_tokens[..]
        };
        for &token in body {
            let part = if let Some(n) = token.strip_prefix('$').and_then(|n| n.parse::<i64>().ok()) {
                Part::Token(position(n, token)?)
            } else if let Some((name, args)) = function_call(token) {
                function(name, args, token, &position)?
            } else {
                Part::Literal(token.to_string())
            };
            if !matches!(part, Part::Literal(_)) {
                placeholders += 1;
            }
            parts.push(part);
        }
        if all_wildcards && placeholders < stars.len() {
            return Err(destination(NOT_ALL_WILDCARDS, dest));
        }
        Ok(Transform {
            source: source.to_string(),
            source_tokens: source_tokens.len(),
            parts: Some(parts),
            literal: dest.to_string(),
            rest,
        })
    }

    /// Whether `subject` matches the source.
    pub fn matches(&self, subject: &str) -> bool {
        junction_nats::subject::matches(self.source.as_bytes(), subject.as_bytes())
    }

    /// The destination for `subject`, which matches the source.
    pub fn apply(&self, subject: &str) -> String {
        let Some(parts) = &self.parts else {
            return self.literal.clone();
        };
        let tokens: Vec<&str> = subject.split('.').collect();
        let token = |i: usize| tokens.get(i).copied().unwrap_or_default();
        // Built in one string: this runs for every mapped publish.
        let mut out = String::with_capacity(subject.len() + self.literal.len());
        let rest = if self.rest {
            &tokens[self.source_tokens - 1..]
        } else {
            &[][..]
        };
        for (k, p) in parts.iter().enumerate() {
            if k > 0 {
                out.push('.');
            }
            match p {
                Part::Literal(l) => out.push_str(l),
                Part::Token(i) => out.push_str(token(*i)),
                Part::Partition(n, of) => {
                    let mut hash: u32 = 0x811c_9dc5;
                    for b in of.iter().flat_map(|&i| token(i).bytes()) {
                        hash ^= u32::from(b);
                        hash = hash.wrapping_mul(0x0100_0193);
                    }
                    out.push_str(itoa::Buffer::new().format(hash % n));
                }
                Part::SplitFromLeft(i, at) => out.push_str(&split_at(token(*i), *at)),
                Part::SplitFromRight(i, at) => {
                    let t = token(*i);
                    out.push_str(&split_at(t, t.len().wrapping_sub(*at)));
                }
                Part::SliceFromLeft(i, size) => out.push_str(&slices(token(*i), *size, false)),
                Part::SliceFromRight(i, size) => out.push_str(&slices(token(*i), *size, true)),
                Part::Split(i, delim) => {
                    let pieces = token(*i).split(delim.as_str()).filter(|p| !p.is_empty());
                    for (k, piece) in pieces.enumerate() {
                        if k > 0 {
                            out.push('.');
                        }
                        out.push_str(piece);
                    }
                }
            }
        }
        for (k, t) in rest.iter().enumerate() {
            if k > 0 || !parts.is_empty() {
                out.push('.');
            }
            out.push_str(t);
        }
        out
    }
}

/// `token` cut in two at byte `at`, when that is inside it.
fn split_at(token: &str, at: usize) -> String {
    if at > 0 && at < token.len() && token.is_char_boundary(at) {
        format!("{}.{}", &token[..at], &token[at..])
    } else {
        token.to_string()
    }
}

/// `token` in pieces of `size` bytes; the short one last, or first
/// counting from the right.
fn slices(token: &str, size: usize, from_right: bool) -> String {
    let len = token.len();
    if size == 0 || size >= len {
        return token.to_string();
    }
    let mut cuts: Vec<usize> = if from_right {
        let first = len % size;
        std::iter::once(first)
            .filter(|&f| f > 0)
            .chain((first + size..len).step_by(size))
            .collect()
    } else {
        (size..len).step_by(size).collect()
    };
    cuts.retain(|&c| token.is_char_boundary(c));
    let mut pieces = Vec::new();
    let mut start = 0;
    for cut in cuts {
        pieces.push(&token[start..cut]);
        start = cut;
    }
    pieces.push(&token[start..]);
    pieces.join(".")
}

/// A function token compiled; `position` turns a wildcard number into the
/// subject token it stands for.
fn function(
    name: &str,
    args: &str,
    token: &str,
    position: &dyn Fn(i64, &str) -> Result<usize, MappingError>,
) -> Result<Part, MappingError> {
    let args: Vec<&str> = if args.trim().is_empty() {
        Vec::new()
    } else {
        args.split(',').map(str::trim_start).collect()
    };
    let int = |s: &str| {
        s.trim()
            .parse::<i64>()
            .map_err(|_| destination(INVALID_ARG, token))
    };
    let count = |n: usize| match args.len() {
        l if l < n => Err(destination(NOT_ENOUGH_ARGS, token)),
        l if l > n => Err(destination(TOO_MANY_ARGS, token)),
        _ => Ok(()),
    };
    let size = |s: &str| int(s).map(|n| usize::try_from(n).unwrap_or(0));
    if function_is(name, &["wildcard"]) {
        count(1)?;
        return Ok(Part::Token(position(int(args[0])?, token)?));
    }
    if function_is(name, &["partition"]) {
        if args.len() < 2 {
            return Err(destination(NOT_ENOUGH_ARGS, token));
        }
        // nats-server takes 0 and crashes on the first message; refused here.
        let n = u32::try_from(int(args[0])?)
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| destination(INVALID_ARG, token))?;
        let of = args[1..]
            .iter()
            .map(|a| position(int(a)?, token))
            .collect::<Result<_, _>>()?;
        return Ok(Part::Partition(n, of));
    }
    type Make = fn(usize, usize) -> Part;
    let sized: [(&[&str], Make); 4] = [
        (&["split", "from", "left"], Part::SplitFromLeft),
        (&["split", "from", "right"], Part::SplitFromRight),
        (&["slice", "from", "left"], Part::SliceFromLeft),
        (&["slice", "from", "right"], Part::SliceFromRight),
    ];
    for (words, make) in sized {
        if function_is(name, words) {
            count(2)?;
            return Ok(make(position(int(args[0])?, token)?, size(args[1])?));
        }
    }
    if function_is(name, &["split"]) {
        count(2)?;
        let delim = args[1];
        if delim.contains(' ') || delim.contains('.') {
            return Err(destination(INVALID_ARG, token));
        }
        return Ok(Part::Split(position(int(args[0])?, token)?, delim.to_string()));
    }
    Err(destination(UNKNOWN_FUNCTION, token))
}

/// nats-server's checks of a destination before it is compiled.
fn validate_destination(dest: &str) -> Result<(), MappingError> {
    let mut after_rest = false;
    for token in dest.split('.') {
        if token.is_empty() || after_rest {
            return Err(destination("invalid subject", token));
        }
        after_rest = token == ">";
        if token.len() > 4 && token.starts_with("{{") && token.ends_with("}}") {
            if function_call(token).is_none() {
                return Err(destination(UNKNOWN_FUNCTION, token));
            }
        } else if token.contains([' ', '\t', '\n', '\r', '\x0c']) {
            return Err(MappingError::Whitespace);
        }
    }
    Ok(())
}

/// One destination of a mapping as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapDest {
    pub subject: String,
    /// Percent, 0–100.
    pub weight: u8,
    /// Only used by servers in this cluster (Junction runs in none).
    pub cluster: Option<String>,
}

impl MapDest {
    pub fn new(subject: impl Into<String>, weight: u8) -> MapDest {
        MapDest {
            subject: subject.into(),
            weight,
            cluster: None,
        }
    }
}

/// The mappings configured for one account, source by source.
pub type MappingConfig = Vec<(String, Vec<MapDest>)>;

/// A destination compiled, with the weight up to and including it.
#[derive(Debug, Clone)]
struct Weighted {
    dest: MapDest,
    transform: Transform,
    cumulative: u8,
}

#[derive(Debug, Clone)]
struct Mapping {
    source: String,
    pattern: String,
    /// Destinations without a cluster, lightest first.
    dests: Vec<Weighted>,
    /// Destinations of named clusters, shown by `/accountz` only.
    clustered: Vec<Weighted>,
}

/// What a mapping made of a published subject.
#[derive(Debug, PartialEq, Eq)]
pub enum Mapped {
    /// No mapping covers it.
    Unchanged,
    To(String),
    /// The weights chose no destination: the message goes nowhere.
    Lost,
}

/// An account's mappings, tried in order; the first whose source matches
/// decides.
#[derive(Debug, Clone, Default)]
pub struct Mappings {
    list: Vec<Mapping>,
}

impl Mappings {
    /// Compiles `config` with nats-server's rules. An error names the
    /// mapping it is about.
    pub fn new(config: &MappingConfig) -> Result<Mappings, (String, MappingError)> {
        let mut all = Mappings::default();
        for (source, dests) in config {
            all.add(source, dests)?;
        }
        Ok(all)
    }

    /// Adds (or replaces) the mapping of `source`.
    pub fn add(&mut self, source: &str, dests: &[MapDest]) -> Result<(), (String, MappingError)> {
        let mapping = Mapping::new(source, dests).map_err(|e| (source.to_string(), e))?;
        match self.list.iter_mut().find(|m| m.source == source) {
            Some(same) => *same = mapping,
            None => self.list.push(mapping),
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The subject `subject` is published to after mapping.
    pub fn map(&self, subject: &str) -> Mapped {
        let Some(m) = self
            .list
            .iter()
            .find(|m| junction_nats::subject::matches(m.pattern.as_bytes(), subject.as_bytes()))
        else {
            return Mapped::Unchanged;
        };
        let chosen = match m.dests.as_slice() {
            [only] if only.cumulative == 100 => Some(only),
            dests => {
                let w = rand::thread_rng().gen_range(0..100u8);
                dests.iter().find(|d| w < d.cumulative)
            }
        };
        match chosen {
            Some(d) => Mapped::To(d.transform.apply(subject)),
            None => Mapped::Lost,
        }
    }

    /// `/accountz`'s `mappings`: each source's destinations with their
    /// cumulative weights, as nats-server shows them.
    pub fn to_json(&self) -> serde_json::Value {
        let mut out = serde_json::Map::new();
        for m in &self.list {
            let list: Vec<serde_json::Value> = m
                .dests
                .iter()
                .chain(&m.clustered)
                .map(|d| {
                    let mut v = serde_json::json!({"subject": d.dest.subject, "weight": d.cumulative});
                    if let Some(c) = &d.dest.cluster {
                        v["cluster"] = c.clone().into();
                    }
                    v
                })
                .collect();
            out.insert(m.source.clone(), list.into());
        }
        out.into()
    }
}

impl Mapping {
    fn new(source: &str, dests: &[MapDest]) -> Result<Mapping, MappingError> {
        let mut total: u32 = 0;
        for (i, d) in dests.iter().enumerate() {
            if d.weight > 100 {
                return Err(MappingError::Weight);
            }
            total += u32::from(d.weight);
            if total > 100 {
                return Err(MappingError::TotalWeight);
            }
            if dests[..i].iter().any(|o| o.subject == d.subject) {
                return Err(MappingError::Duplicate(d.subject.clone()));
            }
        }
        let group = |cluster: Option<&String>| -> Result<Vec<Weighted>, MappingError> {
            let mut picked: Vec<MapDest> = dests
                .iter()
                .filter(|d| d.cluster.as_ref() == cluster)
                .cloned()
                .collect();
            let sum: u32 = picked.iter().map(|d| u32::from(d.weight)).sum();
            // What the weights leave goes to the subject itself, unless it
            // is listed: then that share is lost.
            if sum != 100 && !picked.iter().any(|d| d.subject == source) {
                picked.push(MapDest {
                    subject: identity(source),
                    weight: (100 - sum) as u8,
                    cluster: cluster.cloned(),
                });
            }
            picked.sort_by_key(|d| d.weight);
            let mut cumulative = 0u8;
            picked
                .into_iter()
                .map(|dest| {
                    cumulative += dest.weight;
                    Ok(Weighted {
                        transform: Transform::new(source, &dest.subject)?,
                        dest,
                        cumulative,
                    })
                })
                .collect()
        };
        let dests_plain = group(None)?;
        let mut clustered: Vec<Weighted> = Vec::new();
        for c in dests.iter().filter_map(|d| d.cluster.as_ref()) {
            if !clustered.iter().any(|w| w.dest.cluster.as_ref() == Some(c)) {
                clustered.extend(group(Some(c))?);
            }
        }
        Ok(Mapping {
            source: source.to_string(),
            pattern: source.to_string(),
            dests: dests_plain,
            clustered,
        })
    }
}

/// The destination that keeps a subject as it is: each `*` as its `$n`.
fn identity(source: &str) -> String {
    let mut n = 0;
    source
        .split('.')
        .map(|t| {
            if t == "*" {
                n += 1;
                format!("${n}")
            } else {
                t.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests;
