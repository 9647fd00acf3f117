//! `junction bench`: measures a server for side-by-side comparison. Three scenarios, each
//! ending by itself (bounded counts, `--max-time`):
//!
//! - throughput: N raw-TCP publishers (and optionally M counting subscribers, possibly in one
//!   queue group) move `--msgs` messages of `--size` bytes; reports publish and delivered rates;
//! - `--request`: one requester and one replier (raw TCP as well) time `--msgs` sequential
//!   requests; reports latency percentiles;
//! - `--idle-conns N`: opens N plain connections, says when all are up and holds them (until
//!   stdin closes, `--hold` passes, or SIGINT/SIGTERM) so a script can read the server's memory.
//!
//! `--json` prints one JSON object per scenario for scripts.
//!
//! Its figures and their printing are in `report`.

pub(crate) mod report;

use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use futures::{StreamExt, TryStreamExt};
use tokio::task::JoinSet;

use super::loadgen::{self, Tally, Target};
use super::{logln, parse_duration, ConnArgs};

pub use report::BenchResult;
use report::{micros, percentile, print_human, print_json, rate, secs, thousands};

/// Idle connections being opened at the same time.
const IDLE_CONNECT_CONCURRENCY: usize = 256;

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Subject to use for the benchmark
    #[arg(default_value = "junction.bench")]
    pub subject: String,
    /// Number of concurrent publishers
    #[arg(long = "pub", value_name = "N", default_value_t = 1)]
    pub pubs: usize,
    /// Number of concurrent subscribers
    #[arg(long = "sub", value_name = "N", default_value_t = 0)]
    pub subs: usize,
    /// Number of messages to publish (split among the publishers), or of requests to time
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    pub msgs: u64,
    /// Size of each message payload (bytes, or with a unit such as 1KiB)
    #[arg(long, value_name = "SIZE", default_value = "128", value_parser = parse_size)]
    pub size: usize,
    /// Subscribers join this queue group, so each message is delivered once
    #[arg(long, value_name = "GROUP")]
    pub queue: Option<String>,
    /// Measure request/reply latency instead of throughput
    #[arg(long)]
    pub request: bool,
    /// Measure JetStream: publish with PubAcks, then consume with a pull consumer
    #[arg(long)]
    pub js: bool,
    /// JetStream: store in memory instead of files
    #[arg(long)]
    pub memory: bool,
    /// JetStream: PubAcks awaited at most at once (1 publishes synchronously)
    #[arg(long, value_name = "N", default_value_t = 256)]
    pub window: usize,
    /// JetStream: messages fetched per pull request
    #[arg(long, value_name = "N", default_value_t = 500)]
    pub fetch: usize,
    /// Open this many idle connections and hold them
    #[arg(long, value_name = "N")]
    pub idle_conns: Option<usize>,
    /// How long to hold idle connections [default: until stdin is closed]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub hold: Option<Duration>,
    /// Give up on the scenario after this long
    #[arg(long, value_name = "DURATION", default_value = "120s", value_parser = parse_duration)]
    pub max_time: Duration,
    /// Print the figures as one JSON object
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub conn: ConnArgs,
}

/// A throughput scenario: raw-TCP publishers and counting subscribers.
#[derive(Debug, Clone)]
pub struct ThroughputConfig {
    pub subject: String,
    pub pubs: usize,
    pub subs: usize,
    /// Messages published in all (split among the publishers).
    pub msgs: u64,
    pub size: usize,
    /// Subscribers join this queue group.
    pub queue: Option<String>,
    pub max_time: Duration,
}

/// A request/reply latency scenario.
#[derive(Debug, Clone)]
pub struct LatencyConfig {
    pub subject: String,
    /// Timed requests.
    pub msgs: u64,
    pub size: usize,
    /// Untimed requests sent first.
    pub warmup: u64,
    pub max_time: Duration,
}

pub(crate) async fn run(args: BenchArgs) -> Result<()> {
    if let Some(n) = args.idle_conns {
        let idle = bench_idle(&args.conn, n).await?;
        if args.json {
            print_json(&idle.result)?;
        } else {
            logln!(
                "All {} idle connections up in {:.2}s; holding them {}",
                thousands(n as u64),
                idle.result.connect_secs.unwrap_or_default(),
                match args.hold {
                    Some(d) => format!("for {d:?}"),
                    None => "until stdin is closed".to_string(),
                }
            );
        }
        wait_for_stop(args.hold).await;
        let open = idle.open();
        idle.close();
        if !args.json {
            logln!(
                "Closed the idle connections ({} were still open)",
                thousands(open as u64)
            );
        }
        return Ok(());
    }
    let result = if args.js {
        let cfg = super::jsbench::JsConfig {
            subject: args.subject,
            msgs: args.msgs,
            size: args.size,
            memory: args.memory,
            window: args.window,
            batch: args.fetch.max(1),
            max_time: args.max_time,
        };
        super::jsbench::bench_jetstream(&args.conn, &cfg).await?
    } else if args.request {
        let cfg = LatencyConfig {
            subject: args.subject,
            msgs: args.msgs,
            size: args.size,
            warmup: (args.msgs / 10).min(1000),
            max_time: args.max_time,
        };
        bench_request(&args.conn, &cfg).await?
    } else {
        let cfg = ThroughputConfig {
            subject: args.subject,
            pubs: args.pubs,
            subs: args.subs,
            msgs: args.msgs,
            size: args.size,
            queue: args.queue,
            max_time: args.max_time,
        };
        bench_throughput(&args.conn, &cfg).await?
    };
    if args.json {
        print_json(&result)
    } else {
        print_human(&result)
    }
}

/// Runs a throughput scenario: subscribers connect and subscribe first, then every publisher
/// starts at once; the clock stops for publishers when the server acknowledges their last
/// message, and for subscribers when the last expected message arrives.
pub async fn bench_throughput(conn: &ConnArgs, cfg: &ThroughputConfig) -> Result<BenchResult> {
    ensure!(cfg.pubs >= 1, "at least one publisher is needed");
    ensure!(
        !cfg.subject.is_empty() && !cfg.subject.contains(char::is_whitespace),
        "bad subject"
    );
    let target = Target::new(conn)?;
    let deadline = tokio::time::Instant::now() + cfg.max_time;

    let sub_line = match &cfg.queue {
        Some(q) => format!("SUB {} {q} 1\r\n", cfg.subject),
        None => format!("SUB {} 1\r\n", cfg.subject),
    };
    let subs = futures::future::try_join_all((0..cfg.subs).map(|_| target.handshake(sub_line.as_bytes())))
        .await
        .context("subscriber setup failed")?;
    let pubs = futures::future::try_join_all((0..cfg.pubs).map(|_| target.handshake(b"")))
        .await
        .context("publisher setup failed")?;

    // A queue group gets each message once; plain subscribers each get all of them.
    let expected = match (cfg.subs, &cfg.queue) {
        (0, _) => 0,
        (_, Some(_)) => cfg.msgs,
        (n, None) => cfg.msgs * n as u64,
    };
    let tally = Tally::new(expected);
    let start = Instant::now();
    let mut sub_tasks = JoinSet::new();
    for (i, (stream, buf)) in subs.into_iter().enumerate() {
        let tally = tally.clone();
        sub_tasks.spawn(async move {
            let counted = loadgen::count(stream, buf, tally.clone(), deadline).await;
            if counted.is_err() {
                // The run cannot complete: do not keep the others waiting for the deadline.
                tally.stop();
            }
            (i, counted)
        });
    }
    let mut pub_tasks = JoinSet::new();
    let per_pub = cfg.msgs / cfg.pubs as u64;
    let extra = cfg.msgs % cfg.pubs as u64;
    for (i, (stream, buf)) in pubs.into_iter().enumerate() {
        let share = per_pub + u64::from((i as u64) < extra);
        let subject = cfg.subject.clone();
        let size = cfg.size;
        pub_tasks.spawn(async move { loadgen::publish(stream, buf, &subject, size, share).await });
    }

    let mut pub_end = start;
    while let Some(joined) = tokio::time::timeout_at(deadline, pub_tasks.join_next())
        .await
        .with_context(|| format!("publishers did not finish within {:?}", cfg.max_time))?
    {
        pub_end = pub_end.max(joined.context("publisher task failed")??);
    }
    let mut per_sub = vec![0; cfg.subs];
    let mut sub_end = start;
    while let Some(joined) = sub_tasks.join_next().await {
        let (i, counted) = joined.context("subscriber task failed")?;
        let counted = counted?;
        per_sub[i] = counted.msgs;
        sub_end = sub_end.max(counted.last.unwrap_or(start));
    }
    let received: u64 = per_sub.iter().sum();
    if received < expected {
        bail!(
            "subscribers received {} of {} messages within {:?}",
            thousands(received),
            thousands(expected),
            cfg.max_time
        );
    }

    let pub_secs = secs(pub_end - start);
    let mut result = BenchResult {
        mode: "throughput".to_string(),
        subject: cfg.subject.clone(),
        msgs: cfg.msgs,
        size: cfg.size,
        pubs: cfg.pubs,
        subs: cfg.subs,
        queue: cfg.queue.clone(),
        pub_msgs: Some(cfg.msgs),
        pub_secs: Some(pub_secs),
        pub_msgs_per_sec: Some(rate(cfg.msgs, pub_secs)),
        pub_mb_per_sec: Some(rate(cfg.msgs * cfg.size as u64, pub_secs) / 1e6),
        ..BenchResult::default()
    };
    if cfg.subs > 0 {
        let sub_secs = secs(sub_end - start);
        result.sub_msgs = Some(received);
        result.sub_secs = Some(sub_secs);
        result.sub_msgs_per_sec = Some(rate(received, sub_secs));
        result.sub_mb_per_sec = Some(rate(received * cfg.size as u64, sub_secs) / 1e6);
        result.per_sub_msgs = per_sub;
        let run_secs = secs(pub_end.max(sub_end) - start);
        result.msgs_per_sec = Some(rate(cfg.msgs + received, run_secs));
    }
    Ok(result)
}

/// Runs a request/reply latency scenario over raw connections: one replier answering with
/// `size` bytes, one requester sending `warmup` untimed and then `msgs` timed requests, one at
/// a time.
pub async fn bench_request(conn: &ConnArgs, cfg: &LatencyConfig) -> Result<BenchResult> {
    ensure!(cfg.msgs >= 1, "at least one request is needed");
    ensure!(
        !cfg.subject.is_empty() && !cfg.subject.contains(char::is_whitespace),
        "bad subject"
    );
    let target = Target::new(conn)?;
    let deadline = tokio::time::Instant::now() + cfg.max_time;

    let (stream, buf) = target
        .handshake(format!("SUB {} 1\r\n", cfg.subject).as_bytes())
        .await?;
    let mut replier = JoinSet::new();
    let size = cfg.size;
    replier.spawn(async move { loadgen::reply(stream, buf, size).await });

    let inbox = format!("_INBOX.junction_bench.{}", rand::random::<u64>());
    let (stream, buf) = target.handshake(format!("SUB {inbox} 1\r\n").as_bytes()).await?;
    let started = Instant::now();
    let requests = loadgen::request(stream, buf, &cfg.subject, &inbox, cfg.size, cfg.warmup, cfg.msgs);
    let mut samples = tokio::select! {
        samples = tokio::time::timeout_at(deadline, requests) => samples
            .with_context(|| format!("requests did not finish within {:?}", cfg.max_time))??,
        Some(joined) = replier.join_next() => {
            joined.context("replier task failed")??;
            bail!("the server closed the replier connection");
        }
    };
    let total = secs(started.elapsed());
    replier.abort_all();

    samples.sort_unstable();
    let pct = |p: f64| micros(percentile(&samples, p));
    let sum: Duration = samples.iter().sum();
    Ok(BenchResult {
        mode: "request".to_string(),
        subject: cfg.subject.clone(),
        msgs: cfg.msgs,
        size: cfg.size,
        pubs: 1,
        subs: 1,
        p50_us: Some(pct(50.0)),
        p90_us: Some(pct(90.0)),
        p99_us: Some(pct(99.0)),
        max_us: Some(pct(100.0)),
        mean_us: Some(micros(sum) / samples.len().max(1) as f64),
        req_per_sec: Some(rate(cfg.warmup + cfg.msgs, total)),
        ..BenchResult::default()
    })
}

/// Idle connections held open by [`bench_idle`]; dropping it (or [`IdleConns::close`])
/// closes them all.
pub struct IdleConns {
    pub result: BenchResult,
    tasks: JoinSet<()>,
}

impl IdleConns {
    /// How many connections are still open (the server has not closed them).
    pub fn open(&self) -> usize {
        self.tasks.len()
    }

    /// Closes every connection.
    pub fn close(mut self) {
        self.tasks.abort_all();
    }
}

/// Opens `conns` plain client connections (CONNECT, PING, wait for PONG) and keeps them
/// open, answering the server's PINGs, until the returned value is closed or dropped.
pub async fn bench_idle(conn: &ConnArgs, conns: usize) -> Result<IdleConns> {
    let target = Target::new(conn)?;
    let started = Instant::now();
    let streams: Vec<_> = futures::stream::iter(0..conns)
        .map(|_| target.handshake(b""))
        .buffer_unordered(IDLE_CONNECT_CONCURRENCY)
        .try_collect()
        .await
        .context("opening idle connections failed")?;
    let connect_secs = secs(started.elapsed());
    let mut tasks = JoinSet::new();
    for (stream, _) in streams {
        tasks.spawn(loadgen::hold(stream));
    }
    Ok(IdleConns {
        result: BenchResult {
            mode: "idle".to_string(),
            conns: Some(conns),
            connect_secs: Some(connect_secs),
            ..BenchResult::default()
        },
        tasks,
    })
}

/// Waits for `hold` to pass, or (without it) for stdin to be closed; SIGINT and SIGTERM
/// end the wait too.
async fn wait_for_stop(hold: Option<Duration>) {
    let stdin_closed = async {
        match hold {
            Some(d) => tokio::time::sleep(d).await,
            None => {
                // A plain thread, not the blocking pool: the runtime must not wait on it
                // when a signal ends the hold instead.
                let (tx, rx) = tokio::sync::oneshot::channel();
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
                    let _ = tx.send(());
                });
                let _ = rx.await;
            }
        }
    };
    let terminate = async {
        #[cfg(unix)]
        if let Ok(mut sig) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            sig.recv().await;
            return;
        }
        std::future::pending::<()>().await
    };
    tokio::select! {
        _ = stdin_closed => {}
        _ = terminate => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

/// A payload size: bytes, or a number with a unit (`KB`=1000, `KiB`/`K`=1024, `MB`, `MiB`/`M`).
fn parse_size(s: &str) -> Result<usize, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let num: usize = num.parse().map_err(|_| format!("invalid size {s:?}"))?;
    let mult = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1000,
        "k" | "ki" | "kib" => 1024,
        "mb" => 1_000_000,
        "m" | "mi" | "mib" => 1024 * 1024,
        _ => return Err(format!("invalid size unit in {s:?}")),
    };
    num.checked_mul(mult)
        .ok_or_else(|| format!("size {s:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::{parse_size, percentile, thousands};
    use std::time::Duration;

    #[test]
    fn sizes_and_numbers() {
        assert_eq!(parse_size("16"), Ok(16));
        assert_eq!(parse_size("1KiB"), Ok(1024));
        assert_eq!(parse_size("1kb"), Ok(1000));
        assert!(parse_size("1 parsec").is_err());
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(thousands(123), "123");
    }

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_micros).collect();
        assert_eq!(percentile(&v, 50.0), Duration::from_micros(50));
        assert_eq!(percentile(&v, 99.0), Duration::from_micros(99));
        assert_eq!(percentile(&v, 100.0), Duration::from_micros(100));
        assert_eq!(percentile(&[], 50.0), Duration::ZERO);
    }
}
