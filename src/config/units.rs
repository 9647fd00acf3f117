//! Text forms used by option values: Go-style durations, storage sizes and `host:port` addresses.

/// Parses a Go `time.ParseDuration` string such as `"2s"`, `"1m30s"`, `"500ms"`, `"1.5h"` or `"-3us"`.
/// Returns signed nanoseconds.
pub(crate) fn parse_duration(text: &str) -> Result<i128, String> {
    let invalid = || format!("invalid duration \"{text}\"");
    let (negative, mut rest) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let max = i64::MAX as u128;
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let int_end = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        let (int_part, after_int) = rest.split_at(int_end);
        let (fraction, after_number) = match after_int.strip_prefix('.') {
            Some(r) => r.split_at(r.find(|c: char| !c.is_ascii_digit()).unwrap_or(r.len())),
            None => ("", after_int),
        };
        if int_part.is_empty() && fraction.is_empty() {
            return Err(invalid());
        }
        let unit_end = after_number
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(after_number.len());
        let (unit, next) = after_number.split_at(unit_end);
        let nanos_per_unit: u128 = match unit {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => return Err(format!("missing unit in duration \"{text}\"")),
            _ => return Err(format!("unknown unit \"{unit}\" in duration \"{text}\"")),
        };
        let whole: u128 = if int_part.is_empty() {
            0
        } else if int_part.len() > 30 {
            return Err(invalid());
        } else {
            int_part.parse().map_err(|_| invalid())?
        };
        // Only the first 18 fractional digits matter at nanosecond precision.
        let fraction = &fraction[..fraction.len().min(18)];
        let part: u128 = if fraction.is_empty() {
            0
        } else {
            fraction.parse().map_err(|_| invalid())?
        };
        let scale = 10u128.pow(fraction.len() as u32);
        total = whole
            .checked_mul(nanos_per_unit)
            .and_then(|n| n.checked_add(part * nanos_per_unit / scale))
            .and_then(|n| n.checked_add(total))
            .filter(|&n| n <= max)
            .ok_or_else(invalid)?;
        rest = next;
    }
    let total = total as i128;
    Ok(if negative { -total } else { total })
}

/// A storage size as nats-server's JetStream block takes it when written as a string:
/// digits followed by one of `K`, `M`, `G`, `T` (powers of 1024); the empty string is 0.
pub(crate) fn parse_storage_size(text: &str) -> Result<i64, String> {
    if text.is_empty() {
        return Ok(0);
    }
    let mut chars = text.chars();
    let suffix = chars.next_back();
    let shift = match suffix {
        Some('K') => 10,
        Some('M') => 20,
        Some('G') => 30,
        Some('T') => 40,
        _ => {
            return Err(format!(
                "sizes written as strings must end in K, M, G or T, got \"{text}\""
            ))
        }
    };
    let n: i64 = chars
        .as_str()
        .parse()
        .map_err(|_| format!("invalid size \"{text}\""))?;
    n.checked_mul(1i64 << shift)
        .ok_or_else(|| format!("size \"{text}\" is out of range"))
}

/// Splits `host:port`, `[ipv6]:port` or `:port` (empty host) like Go's `net.SplitHostPort`.
pub(crate) fn split_host_port(text: &str) -> Result<(&str, &str), String> {
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let end = rest
            .find(']')
            .ok_or_else(|| format!("missing ']' in address \"{text}\""))?;
        let port = rest[end + 1..]
            .strip_prefix(':')
            .ok_or_else(|| format!("missing port in address \"{text}\""))?;
        (&rest[..end], port)
    } else {
        let colon = text
            .rfind(':')
            .ok_or_else(|| format!("missing port in address \"{text}\""))?;
        let host = &text[..colon];
        if host.contains(':') {
            return Err(format!(
                "too many colons in address \"{text}\" (write IPv6 hosts as [host]:port)"
            ));
        }
        (host, &text[colon + 1..])
    };
    if port.contains(':') {
        return Err(format!("too many colons in address \"{text}\""));
    }
    Ok((host, port))
}
