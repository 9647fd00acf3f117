//! JetStream from the command line, as the NATS quick-starts use natscli:
//! `stream ls|add|info|rm|purge|get`, `consumer ls|add|info|next|rm`,
//! `kv put|get|del|ls|history|watch`, `account info` and `rtt`. Everything
//! goes through async-nats' JetStream API, so it works against any server.
//!
//! Here: the connection, `account info` and `rtt`. Beside it: `streams`,
//! `consumers`, `key_value` and `objects`.

mod consumers;
mod key_value;
mod objects;
mod streams;

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use async_nats::jetstream::{self};

use super::{with_stdout, ConnArgs};

pub use consumers::*;
pub use key_value::*;
pub use objects::*;
pub use streams::*;

#[derive(clap::Args, Debug)]
pub struct Conn {
    #[command(flatten)]
    pub conn: ConnArgs,
}

#[derive(clap::Args, Debug)]
pub struct AccountArgs {
    #[command(subcommand)]
    pub cmd: AccountCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum AccountCommand {
    /// The connected account's JetStream usage and limits
    Info(Conn),
}

async fn context(conn: &ConnArgs, name: &str) -> Result<jetstream::Context> {
    let client = conn.connect(name).await?;
    Ok(match &conn.js_domain {
        Some(domain) => jetstream::with_domain(client, domain),
        None => jetstream::new(client),
    })
}

/// The stream `name`, or an error that names it.
async fn get_stream(js: &jetstream::Context, name: &str) -> Result<jetstream::stream::Stream> {
    js.get_stream(name)
        .await
        .with_context(|| format!("stream {name}"))
}

fn print(text: String) -> Result<()> {
    with_stdout(|out| out.write_all(text.as_bytes()))?;
    Ok(())
}

pub(crate) async fn account(args: AccountArgs) -> Result<()> {
    match args.cmd {
        AccountCommand::Info(c) => {
            let js = context(&c.conn, "junction account info").await?;
            let a = js
                .query_account()
                .await
                .context("JetStream account information")?;
            let limit = |n: Option<i64>| match n {
                Some(n) if n >= 0 => n.to_string(),
                _ => "unlimited".to_string(),
            };
            print(
                format!(
                    "JetStream Account Information:\n\n\
                 Account Usage:\n\
                 \x20   Storage: {} bytes\n\
                 \x20    Memory: {} bytes\n\
                 \x20   Streams: {}\n\
                 \x20 Consumers: {}\n\n\
                 Account Limits:\n\
                 \x20   Max Storage: {}\n\
                 \x20    Max Memory: {}\n\
                 \x20   Max Streams: {}\n\
                 \x20 Max Consumers: {}\n",
                    a.storage,
                    a.memory,
                    a.streams,
                    a.consumers,
                    limit(a.limits.max_storage),
                    limit(a.limits.max_memory),
                    limit(a.limits.max_streams),
                    limit(a.limits.max_consumers),
                ) + &a
                    .domain
                    .map(|d| format!("\nJetStream Domain: {d}\n"))
                    .unwrap_or_default(),
            )
        }
    }
}

/// `junction rtt`: the round trip to the server, averaged over `iterations` PINGs.
#[derive(clap::Args, Debug)]
pub struct RttArgs {
    /// How many round trips to average
    #[arg(long, default_value_t = 5)]
    pub iterations: u32,
    #[command(flatten)]
    pub conn: ConnArgs,
}

pub(crate) async fn rtt(args: RttArgs) -> Result<()> {
    let client = args.conn.connect("junction rtt").await?;
    let n = args.iterations.max(1);
    let mut total = Duration::ZERO;
    for _ in 0..n {
        let t = Instant::now();
        client.flush().await.context("the server did not answer PING")?;
        total += t.elapsed();
    }
    print(format!("{}:\n\n   {:?}\n", args.conn.url(), total / n))
}
