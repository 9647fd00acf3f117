//! Reading and writing NATS header blocks (`NATS/1.0[ code text]\r\nKey:
//! value\r\n…\r\n\r\n`) where JetStream needs them: the publish
//! expectations, and the status messages of pull requests.

/// The value of the first header called `key` (exact case, as nats-server
/// looks them up).
pub fn get<'a>(block: &'a [u8], key: &str) -> Option<&'a str> {
    // Line by line over the bytes: this runs on every stored publish that
    // has headers, so no validation of the whole block and no allocation.
    let key = key.as_bytes();
    let mut lines = block.split(|&b| b == b'\n').skip(1);
    lines.find_map(|line| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let value = line.strip_prefix(key)?.strip_prefix(b":")?;
        std::str::from_utf8(value).ok().map(str::trim)
    })
}

/// Whether the block may hold any `Nats-…` header (those JetStream acts on).
pub fn has_nats_headers(block: &[u8]) -> bool {
    memchr::memmem::find(block, b"Nats-").is_some()
}

/// The `Key: value` pairs of a header block, in order.
pub fn pairs(block: &[u8]) -> Vec<(String, String)> {
    std::str::from_utf8(block)
        .unwrap_or_default()
        .split("\r\n")
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect()
}

/// A header block with a status line and `headers`.
pub fn status(code: u16, description: &str, headers: &[(&str, String)]) -> Vec<u8> {
    let mut out = format!("NATS/1.0 {code}");
    if !description.is_empty() {
        out.push(' ');
        out.push_str(description);
    }
    out.push_str("\r\n");
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    out.into_bytes()
}

/// A header block without a status line.
pub fn block(headers: &[(&str, String)]) -> Vec<u8> {
    let mut out = String::from("NATS/1.0\r\n");
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_values_and_writes_status_blocks() {
        let b = b"NATS/1.0\r\nNats-Msg-Id: abc\r\nX: 1\r\n\r\n";
        assert_eq!(get(b, "Nats-Msg-Id"), Some("abc"));
        assert_eq!(get(b, "X"), Some("1"));
        assert_eq!(get(b, "nats-msg-id"), None);
        assert_eq!(
            status(404, "No Messages", &[]),
            b"NATS/1.0 404 No Messages\r\n\r\n"
        );
        assert_eq!(
            status(408, "Request Timeout", &[("Nats-Pending-Messages", "1".into())]),
            b"NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 1\r\n\r\n"
        );
    }
}
