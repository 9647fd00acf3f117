//! `junction sub`: subscribes to one or more subjects (optionally in a queue group) and prints
//! every message the way natscli does: `[#1] Received on "subject"`, headers, body.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use futures::StreamExt;

use super::{logln, parse_duration, print_body, print_body_compact, print_headers, with_stdout, ConnArgs};

#[derive(clap::Args, Debug)]
pub struct SubArgs {
    /// Subjects to subscribe to
    #[arg(required = true)]
    pub subjects: Vec<String>,
    /// Subscribe to a named queue group
    #[arg(long, value_name = "GROUP")]
    pub queue: Option<String>,
    /// Quit after receiving this many messages
    #[arg(long)]
    pub count: Option<u64>,
    /// Show the raw data received
    #[arg(short, long)]
    pub raw: bool,
    /// Do not render any data, shows only headers
    #[arg(long)]
    pub headers_only: bool,
    /// Prints only the messages' subjects
    #[arg(long)]
    pub subjects_only: bool,
    /// Show timestamps in output
    #[arg(short = 't', long = "timestamp")]
    pub timestamps: bool,
    /// Show time since start in output
    #[arg(short = 'd', long = "delta-time")]
    pub delta_time: bool,
    /// Unsubscribe after this amount of time without any traffic
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub wait: Option<Duration>,
    #[command(flatten)]
    pub conn: ConnArgs,
}

pub(crate) async fn run(args: SubArgs) -> Result<()> {
    let client = args.conn.connect("junction sub").await?;
    let mut subs = Vec::with_capacity(args.subjects.len());
    for subject in &args.subjects {
        let sub = match &args.queue {
            Some(q) => client.queue_subscribe(subject.clone(), q.clone()).await,
            None => client.subscribe(subject.clone()).await,
        }
        .with_context(|| format!("could not subscribe to {subject:?}"))?;
        subs.push(sub);
    }
    client
        .flush()
        .await
        .context("could not flush subscriptions to the server")?;
    if !args.raw {
        logln!("Subscribing on {}", args.subjects.join(", "));
    }

    let mut messages = futures::stream::select_all(subs);
    let start = Instant::now();
    let mut counter = 0u64;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        let idle = args.wait.unwrap_or(Duration::MAX);
        let msg = tokio::select! {
            msg = messages.next() => msg,
            _ = &mut ctrl_c => return Ok(()),
            _ = tokio::time::sleep(idle), if args.wait.is_some() => return Ok(()),
        };
        let Some(msg) = msg else {
            anyhow::bail!("the subscription was closed");
        };
        counter += 1;
        let stamp = if args.timestamps {
            format!(" @ {}", chrono::Local::now().format("%b %e %H:%M:%S%.6f"))
        } else if args.delta_time {
            format!(" @ {:?}", start.elapsed())
        } else {
            String::new()
        };
        let open = with_stdout(|out| {
            if args.raw {
                return print_body_compact(out, &msg.payload);
            }
            write!(out, "[#{counter}]{stamp} Received on {:?}", msg.subject.as_str())?;
            if let Some(reply) = &msg.reply {
                write!(out, " with reply {:?}", reply.as_str())?;
            }
            writeln!(out)?;
            if !args.subjects_only {
                print_headers(out, msg.headers.as_ref())?;
                if !args.headers_only {
                    print_body(out, &msg.payload)?;
                }
            }
            Ok(())
        })?;
        if !open || args.count.is_some_and(|n| counter >= n) {
            return Ok(());
        }
    }
}
