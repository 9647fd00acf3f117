//! `junction pub`: publishes one or more messages, printing natscli's
//! `HH:MM:SS Published N bytes to "subject"` for each.

use std::io::Read;
use std::time::Duration;

use anyhow::{Context, Result};
use bytes::Bytes;

use super::{logln, parse_duration, parse_headers, template, ConnArgs};

#[derive(clap::Args, Debug)]
pub struct PubArgs {
    /// Subject to publish to
    pub subject: String,
    /// Message body; read from stdin when not given
    pub body: Option<String>,
    /// Sets a custom reply to subject
    #[arg(long, value_name = "SUBJECT")]
    pub reply: Option<String>,
    /// Adds headers to the message using K:V format
    #[arg(short = 'H', long = "header", value_name = "K:V")]
    pub headers: Vec<String>,
    /// Publish multiple messages
    #[arg(long, default_value_t = 1)]
    pub count: u64,
    /// When publishing multiple messages, sleep between publishes
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub sleep: Option<Duration>,
    /// Force reading the body from stdin
    #[arg(long)]
    pub force_stdin: bool,
    /// Show nothing but errors
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    pub conn: ConnArgs,
}

pub(crate) async fn run(args: PubArgs) -> Result<()> {
    let client = args.conn.connect("junction pub").await?;
    let body = match (&args.body, args.force_stdin) {
        (Some(body), false) => body.clone(),
        _ => {
            if !args.quiet {
                logln!("Reading payload from STDIN");
            }
            read_stdin().await?
        }
    };
    let count = args.count.max(1);
    for i in 1..=count {
        let subject = template::render(&args.subject, i, None);
        let payload = Bytes::from(template::render(&body, i, None));
        let len = payload.len();
        let headers = parse_headers(&args.headers, i)?;
        match (&args.reply, headers) {
            (None, None) => client.publish(subject.clone(), payload).await,
            (None, Some(h)) => client.publish_with_headers(subject.clone(), h, payload).await,
            (Some(r), None) => {
                client
                    .publish_with_reply(subject.clone(), r.clone(), payload)
                    .await
            }
            (Some(r), Some(h)) => {
                client
                    .publish_with_reply_and_headers(subject.clone(), r.clone(), h, payload)
                    .await
            }
        }
        .with_context(|| format!("could not publish to {subject:?}"))?;
        client.flush().await.context("could not flush to the server")?;
        if !args.quiet {
            logln!("Published {len} bytes to {subject:?}");
        }
        if let Some(sleep) = args.sleep {
            if i < count {
                tokio::time::sleep(sleep).await;
            }
        }
    }
    Ok(())
}

/// Reads the whole of stdin as the message body.
pub(crate) async fn read_stdin() -> Result<String> {
    tokio::task::spawn_blocking(|| {
        let mut buf = String::new();
        std::io::stdin().read_to_string(&mut buf).map(|_| buf)
    })
    .await
    .context("stdin reader failed")?
    .context("could not read stdin")
}
