//! Times and durations in the shapes nats-server's monitoring JSON uses.

use std::time::{Duration, SystemTime};

/// RFC 3339 with nanoseconds, UTC (`2026-11-23T12:36:26.317905939Z`).
pub fn rfc3339(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// nats-server's uptime/idle format: `1y2d3h4m5s`, leading zero units left out.
pub fn uptime(d: Duration) -> String {
    let secs = d.as_secs();
    let (mins, hrs, days) = (secs / 60, secs / 3600, secs / 86_400);
    let years = days / 365;
    if years > 0 {
        format!("{years}y{}d{}h{}m{}s", days % 365, hrs % 24, mins % 60, secs % 60)
    } else if days > 0 {
        format!("{days}d{}h{}m{}s", hrs % 24, mins % 60, secs % 60)
    } else if hrs > 0 {
        format!("{hrs}h{}m{}s", mins % 60, secs % 60)
    } else if mins > 0 {
        format!("{mins}m{}s", secs % 60)
    } else {
        format!("{secs}s")
    }
}

/// A Go `time.Duration` string for short durations (`620µs`, `1.5ms`, `2s`).
pub fn go_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        "0s".into()
    } else if nanos < 1_000 {
        format!("{nanos}ns")
    } else if nanos < 1_000_000 {
        trim(format!("{:.3}", nanos as f64 / 1e3)) + "µs"
    } else if nanos < 1_000_000_000 {
        trim(format!("{:.6}", nanos as f64 / 1e6)) + "ms"
    } else {
        // Go writes longer durations as h/m/s with fractional seconds.
        let secs = d.as_secs();
        let frac = trim(format!(
            "{:.9}",
            (secs % 60) as f64 + f64::from(d.subsec_nanos()) / 1e9
        ));
        let (hrs, mins) = (secs / 3600, secs / 60 % 60);
        if hrs > 0 {
            format!("{hrs}h{mins}m{frac}s")
        } else if mins > 0 {
            format!("{mins}m{frac}s")
        } else {
            format!("{frac}s")
        }
    }
}

fn trim(s: String) -> String {
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The time now, as the endpoints write it.
pub fn now() -> String {
    rfc3339(std::time::SystemTime::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_nats_server() {
        assert_eq!(uptime(Duration::from_secs(0)), "0s");
        assert_eq!(uptime(Duration::from_secs(3723)), "1h2m3s");
        assert_eq!(uptime(Duration::from_secs(90_061)), "1d1h1m1s");
        assert_eq!(go_duration(Duration::from_micros(620)), "620µs");
        assert_eq!(go_duration(Duration::from_micros(1500)), "1.5ms");
        assert_eq!(go_duration(Duration::from_nanos(1_234_567)), "1.234567ms");
        assert_eq!(go_duration(Duration::from_millis(2500)), "2.5s");
        assert_eq!(go_duration(Duration::from_secs(62)), "1m2s");
        assert_eq!(go_duration(Duration::from_millis(3_723_500)), "1h2m3.5s");
    }
}
