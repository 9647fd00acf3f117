//! The small body template language of natscli's `pub`, `req` and `reply`: `{{Count}}`,
//! `{{Cnt}}`, `{{Unix}}`, `{{UnixNano}}`, `{{TimeStamp}}`, `{{Time}}`, `{{ID}}`,
//! `{{Random min max}}` and, when answering, `{{Request}}`. Anything else is left as written.

use rand::Rng;

const ALPHANUMERIC: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Expands the templates in `text` for message number `count`; `request` is the request body
/// when answering a request.
pub(crate) fn render(text: &str, count: u64, request: Option<&str>) -> String {
    if !text.contains("{{") {
        return text.to_string();
    }
    let now = chrono::Local::now();
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start + 2..].find("}}") else {
            break;
        };
        out.push_str(&rest[..start]);
        let inner = &rest[start + 2..start + 2 + len];
        let mut words = inner.split_whitespace();
        let name = words.next().unwrap_or("").trim_start_matches('.');
        let args: Vec<&str> = words.collect();
        match (name, request) {
            ("Count" | "Cnt", _) => out.push_str(&count.to_string()),
            ("Unix", _) => out.push_str(&now.timestamp().to_string()),
            ("UnixNano", _) => {
                let nanos = now.timestamp_nanos_opt().unwrap_or_default();
                out.push_str(&nanos.to_string())
            }
            ("TimeStamp", _) => out.push_str(&now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            ("Time", _) => out.push_str(&now.format("%-I:%M%p").to_string()),
            ("ID", _) => out.push_str(&random_string(22)),
            ("Random", _) => out.push_str(&random_between(&args)),
            ("Request", Some(req)) => out.push_str(req),
            _ => out.push_str(&rest[start..start + 4 + len]),
        }
        rest = &rest[start + 4 + len..];
    }
    out.push_str(rest);
    out
}

/// `{{Random min max}}`: a random alphanumeric string of a length between min and max.
fn random_between(args: &[&str]) -> String {
    let nums: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let (min, max) = match nums.as_slice() {
        [min, max, ..] => (*min.min(max), *min.max(max)),
        [n] => (*n, *n),
        [] => (10, 10),
    };
    let len = rand::thread_rng().gen_range(min..=max);
    random_string(len)
}

fn random_string(len: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| ALPHANUMERIC[rng.gen_range(0..ALPHANUMERIC.len())] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn expands_known_names_and_keeps_others() {
        assert_eq!(render("msg {{Count}}/{{ .Cnt }}", 7, None), "msg 7/7");
        assert_eq!(render("{{Nope}} {{Request}}", 1, None), "{{Nope}} {{Request}}");
        assert_eq!(render("got {{Request}}", 1, Some("hi")), "got hi");
        assert_eq!(render("{{Random 5 5}}", 1, None).len(), 5);
        assert_eq!(render("{{ID}}", 1, None).len(), 22);
        assert_eq!(render("open {{Count", 3, None), "open {{Count");
    }
}
