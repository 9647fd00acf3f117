//! A benchmark's figures and how they are printed: as JSON for scripts,
//! or as lines for people.

use std::time::Duration;

use anyhow::Result;

use crate::cli::with_stdout;

/// The figures of one scenario; only those of its mode are set.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct BenchResult {
    /// `throughput`, `request` or `idle`.
    pub mode: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub subject: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub msgs: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub size: usize,
    #[serde(skip_serializing_if = "is_zero")]
    pub pubs: usize,
    #[serde(skip_serializing_if = "is_zero")]
    pub subs: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    /// Publish side: messages, seconds until the server acknowledged the last, rates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pub_msgs: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pub_secs: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pub_msgs_per_sec: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pub_mb_per_sec: Option<f64>,
    /// Delivery side: messages received by all subscribers, seconds until the last, rates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_msgs: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_secs: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_msgs_per_sec: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_mb_per_sec: Option<f64>,
    /// Messages each subscriber received.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub per_sub_msgs: Vec<u64>,
    /// Published plus received messages over the whole run, the headline
    /// `nats bench` prints as "NATS Pub/Sub stats".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msgs_per_sec: Option<f64>,
    /// Request/reply round trips, in microseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p50_us: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p90_us: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p99_us: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_us: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_us: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub req_per_sec: Option<f64>,
    /// Idle connections held open, and the seconds it took to open them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conns: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect_secs: Option<f64>,
}

pub(crate) fn print_json(result: &BenchResult) -> Result<()> {
    let line = serde_json::to_string(result)?;
    with_stdout(|out| writeln!(out, "{line}"))?;
    Ok(())
}

pub(crate) fn print_human(r: &BenchResult) -> Result<()> {
    let mut text = String::new();
    if r.mode == "jetstream" {
        text.push_str(&format!(
            "JetStream: {} msgs of {} B on {:?}, published with PubAcks, consumed by a pull consumer with acks\n",
            thousands(r.msgs),
            r.size,
            r.subject
        ));
        for (name, mps, mbs, secs) in [
            ("Publish", r.pub_msgs_per_sec, r.pub_mb_per_sec, r.pub_secs),
            ("Consume", r.sub_msgs_per_sec, r.sub_mb_per_sec, r.sub_secs),
        ] {
            text.push_str(&format!(
                "  {name} stats: {} msgs/sec ~ {:.2} MB/sec (in {:?})\n",
                thousands(mps.unwrap_or_default() as u64),
                mbs.unwrap_or_default(),
                Duration::from_secs_f64(secs.unwrap_or_default())
            ));
        }
    } else if r.mode == "request" {
        text.push_str(&format!(
            "Request/reply latency: {} requests of {} B on {:?}, one replier\n",
            thousands(r.msgs),
            r.size,
            r.subject
        ));
        let us = |v: Option<f64>| format!("{:?}", Duration::from_secs_f64(v.unwrap_or_default() / 1e6));
        text.push_str(&format!(
            "  p50 {}  p90 {}  p99 {}  max {}  (mean {}, {} req/sec)\n",
            us(r.p50_us),
            us(r.p90_us),
            us(r.p99_us),
            us(r.max_us),
            us(r.mean_us),
            thousands(r.req_per_sec.unwrap_or_default() as u64)
        ));
    } else {
        let queue = match &r.queue {
            Some(q) => format!(" in queue group {q:?}"),
            None => String::new(),
        };
        text.push_str(&format!(
            "Throughput: {} publisher(s), {} subscriber(s){queue}, {} msgs of {} B on {:?}\n",
            r.pubs,
            r.subs,
            thousands(r.msgs),
            r.size,
            r.subject
        ));
        let line = |name: &str, msgs: Option<u64>, secs: Option<f64>, mps: Option<f64>, mbs: Option<f64>| {
            format!(
                "  {name} stats: {} msgs/sec ~ {:.2} MB/sec ({} msgs in {:?})\n",
                thousands(mps.unwrap_or_default() as u64),
                mbs.unwrap_or_default(),
                thousands(msgs.unwrap_or_default()),
                Duration::from_secs_f64(secs.unwrap_or_default())
            )
        };
        text.push_str(&line(
            "Pub",
            r.pub_msgs,
            r.pub_secs,
            r.pub_msgs_per_sec,
            r.pub_mb_per_sec,
        ));
        if r.subs > 0 {
            text.push_str(&line(
                "Sub",
                r.sub_msgs,
                r.sub_secs,
                r.sub_msgs_per_sec,
                r.sub_mb_per_sec,
            ));
            let each: Vec<String> = r.per_sub_msgs.iter().map(|&n| thousands(n)).collect();
            text.push_str(&format!("  messages per subscriber: {}\n", each.join(", ")));
            text.push_str(&format!(
                "  Pub/Sub stats: {} msgs/sec (published + received, as nats bench counts)\n",
                thousands(r.msgs_per_sec.unwrap_or_default() as u64)
            ));
        }
    }
    with_stdout(|out| out.write_all(text.as_bytes()))?;
    Ok(())
}

/// Nearest-rank percentile of sorted samples.
pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn is_zero<T: Default + PartialEq>(n: &T) -> bool {
    *n == T::default()
}

pub(crate) fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

pub(crate) fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

pub(crate) fn rate(count: u64, secs: f64) -> f64 {
    if secs > 0.0 {
        count as f64 / secs
    } else {
        0.0
    }
}

/// `1234567` as `1,234,567`.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
