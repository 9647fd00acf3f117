//! The `junction` binary's command line: the server's flags (`flags`, with
//! nats-server's names), and client mode: the NATS quick-start verbs (`pub`,
//! `sub`, `req`, `reply`, `server info`, and JetStream's `stream`,
//! `consumer`, `kv`, `account info`, `rtt`) with natscli's output, plus
//! `bench`, the load generator that the side-by-side benchmark script drives.

use std::io::Write as _;
use std::time::Duration;

use anyhow::Result;

pub mod bench;
pub mod connect;
pub mod flags;
pub mod js;
pub mod jsbench;
mod loadgen;
pub mod publish;
pub mod reply;
pub mod request;
pub mod server_info;
mod server_report;
mod server_system;
pub mod subscribe;
mod table;
mod template;

pub use flags::{normalize_args, ServerFlags};

pub use bench::BenchArgs;
pub use connect::ConnArgs;
pub use publish::PubArgs;
pub use reply::ReplyArgs;
pub use request::ReqArgs;
pub use server_info::ServerArgs;
pub use subscribe::SubArgs;

/// The client verbs, to be mounted as subcommands of the `junction` binary.
#[derive(clap::Subcommand, Debug)]
pub enum ClientCommand {
    /// Publish a message (natscli's `nats pub`)
    #[command(visible_alias = "publish")]
    Pub(PubArgs),
    /// Subscribe to subjects and print what arrives (natscli's `nats sub`)
    #[command(visible_alias = "subscribe")]
    Sub(SubArgs),
    /// Send a request and print the reply (natscli's `nats req`)
    #[command(visible_alias = "request")]
    Req(ReqArgs),
    /// Answer requests on a subject (natscli's `nats reply`)
    Reply(ReplyArgs),
    /// Inspect the server
    Server(ServerArgs),
    /// Measure throughput, latency or idle-connection cost of a server
    Bench(BenchArgs),
    /// Manage JetStream streams
    Stream(js::StreamArgs),
    /// Manage JetStream consumers and read from them
    Consumer(js::ConsumerArgs),
    /// Use key-value buckets
    Kv(js::KvArgs),
    /// Use object stores
    Object(js::ObjectArgs),
    /// The connected account
    Account(js::AccountArgs),
    /// Measure the round trip to the server
    Rtt(js::RttArgs),
}

/// Runs one client verb to completion.
pub async fn run(cmd: ClientCommand) -> anyhow::Result<()> {
    match cmd {
        ClientCommand::Pub(args) => publish::run(args).await,
        ClientCommand::Sub(args) => subscribe::run(args).await,
        ClientCommand::Req(args) => request::run(args).await,
        ClientCommand::Reply(args) => reply::run(args).await,
        ClientCommand::Server(args) => server_info::run(args).await,
        ClientCommand::Bench(args) => bench::run(args).await,
        ClientCommand::Stream(args) => js::stream(args).await,
        ClientCommand::Consumer(args) => js::consumer(args).await,
        ClientCommand::Kv(args) => js::kv(args).await,
        ClientCommand::Object(args) => js::object(args).await,
        ClientCommand::Account(args) => js::account(args).await,
        ClientCommand::Rtt(args) => js::rtt(args).await,
    }
}

/// Prints one status line to stderr prefixed with the local wall-clock time, the way
/// natscli's logger does (`HH:MM:SS message`). Message bodies go to stdout instead.
macro_rules! logln {
    ($($arg:tt)*) => {
        eprintln!("{} {}", chrono::Local::now().format("%H:%M:%S"), format_args!($($arg)*))
    };
}
pub(crate) use logln;

/// Parses a duration given on the command line: Go style (`2s`, `300ms`, `1m30s`) or a plain
/// number of seconds.
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<f64>() {
        if secs.is_finite() && secs >= 0.0 {
            return Ok(Duration::from_secs_f64(secs));
        }
    }
    humantime::parse_duration(s).map_err(|e| format!("invalid duration {s:?}: {e}"))
}

/// Builds a header map from `K:V` strings (`-H` options). Values may use the body templates.
pub(crate) fn parse_headers(hdrs: &[String], seq: u64) -> anyhow::Result<Option<async_nats::HeaderMap>> {
    if hdrs.is_empty() {
        return Ok(None);
    }
    let mut map = async_nats::HeaderMap::new();
    for h in hdrs {
        let Some((k, v)) = h.split_once(':') else {
            anyhow::bail!("invalid header {h:?}");
        };
        let name: async_nats::HeaderName = k
            .trim()
            .parse()
            .map_err(|_| anyhow::anyhow!("invalid header name in {h:?}"))?;
        let value: async_nats::HeaderValue = template::render(v.trim(), seq, None)
            .parse()
            .map_err(|_| anyhow::anyhow!("invalid header value in {h:?}"))?;
        map.append(name, value);
    }
    Ok(Some(map))
}

/// Prints headers as `Name: value` lines followed by a blank line, as natscli does.
pub(crate) fn print_headers(
    out: &mut dyn std::io::Write,
    headers: Option<&async_nats::HeaderMap>,
) -> std::io::Result<()> {
    let Some(headers) = headers.filter(|h| !h.is_empty()) else {
        return Ok(());
    };
    for (name, values) in headers.iter() {
        for value in values {
            writeln!(out, "{name}: {value}")?;
        }
    }
    writeln!(out)
}

/// Prints a message body on its own line (`nil body` when empty), as natscli does.
pub(crate) fn print_body_compact(out: &mut dyn std::io::Write, data: &[u8]) -> std::io::Result<()> {
    if data.is_empty() {
        return writeln!(out, "nil body");
    }
    out.write_all(data)?;
    if !data.ends_with(b"\n") {
        writeln!(out)?;
    }
    Ok(())
}

/// Prints a message body followed by a blank line, as natscli does.
pub(crate) fn print_body(out: &mut dyn std::io::Write, data: &[u8]) -> std::io::Result<()> {
    print_body_compact(out, data)?;
    writeln!(out)
}

/// Runs `f` on locked stdout and flushes; a closed stdout (`| head`) is reported as `false`
/// so that the verb can stop quietly.
pub(crate) fn with_stdout(f: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>) -> Result<bool> {
    let mut out = std::io::stdout().lock();
    match f(&mut out).and_then(|()| out.flush()) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(anyhow::Error::new(e).context("could not write to stdout")),
    }
}

#[cfg(test)]
mod tests {
    use super::{parse_duration, parse_headers};
    use std::time::Duration;

    #[test]
    fn durations_as_go_writes_them() {
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("300ms"), Ok(Duration::from_millis(300)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn headers_from_k_v() {
        let map = parse_headers(&["A: 1".into(), "n:{{Count}}".into()], 7)
            .ok()
            .flatten();
        let map = map.expect("headers");
        assert_eq!(map.get("A").map(|v| v.as_str()), Some("1"));
        assert_eq!(map.get("n").map(|v| v.as_str()), Some("7"));
        assert!(parse_headers(&["no colon".into()], 1).is_err());
        assert!(parse_headers(&["bad name:x".into()], 1).is_err());
    }
}
