//! `junction reply`: answers requests on a subject from queue group `NATS-RPLY-22` (natscli's
//! default), printing each request as natscli does and replying with a fixed (templated) body
//! or, in echo mode, with the request itself.

use std::time::Duration;

use anyhow::{Context, Result};
use bytes::Bytes;
use futures::StreamExt;
use rand::Rng;

use super::{logln, parse_duration, parse_headers, template, with_stdout, ConnArgs};

#[derive(clap::Args, Debug)]
pub struct ReplyArgs {
    /// Subject to subscribe to
    pub subject: String,
    /// Reply body (may use templates such as {{Request}} and {{Count}})
    pub body: Option<String>,
    /// Echo back what is received
    #[arg(long)]
    pub echo: bool,
    /// Queue group name
    #[arg(short, long, default_value = "NATS-RPLY-22", value_name = "GROUP")]
    pub queue: String,
    /// Inject a random sleep delay between replies up to this duration max
    #[arg(long, value_name = "MAX", value_parser = parse_duration)]
    pub sleep: Option<Duration>,
    /// Adds headers to the reply using K:V format
    #[arg(short = 'H', long = "header", value_name = "K:V")]
    pub headers: Vec<String>,
    /// Quit after receiving this many messages
    #[arg(long)]
    pub count: Option<u64>,
    #[command(flatten)]
    pub conn: ConnArgs,
}

pub(crate) async fn run(mut args: ReplyArgs) -> Result<()> {
    let client = args.conn.connect("junction reply").await?;
    if args.body.is_none() && !args.echo {
        logln!("No body or command supplied, enabling echo mode");
        args.echo = true;
    }
    let mut sub = client
        .queue_subscribe(args.subject.clone(), args.queue.clone())
        .await
        .with_context(|| format!("could not subscribe to {:?}", args.subject))?;
    client
        .flush()
        .await
        .context("could not flush the subscription to the server")?;
    logln!("Listening on {:?} in group {:?}", args.subject, args.queue);

    let headers_supported = client.server_info().headers;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut counter = 0u64;
    loop {
        let msg = tokio::select! {
            msg = sub.next() => msg,
            _ = &mut ctrl_c => break,
        };
        let Some(msg) = msg else {
            anyhow::bail!("the subscription was closed");
        };
        logln!("[#{counter}] Received on subject {:?}:", msg.subject.as_str());
        if let Some(headers) = &msg.headers {
            for (name, values) in headers.iter() {
                for value in values {
                    logln!("{name}: {value}");
                }
            }
        }
        let open = with_stdout(|out| {
            writeln!(out)?;
            out.write_all(&msg.payload)?;
            writeln!(out)
        })?;
        if !open {
            break;
        }
        if let Some(max) = args.sleep.filter(|d| !d.is_zero()) {
            let nanos = rand::thread_rng().gen_range(0..max.as_nanos().min(u64::MAX as u128) as u64);
            tokio::time::sleep(Duration::from_nanos(nanos)).await;
        }

        let mut headers = parse_headers(&args.headers, counter)?.unwrap_or_default();
        let payload = if args.echo {
            // Echo the headers too, and count replies, where the server takes headers.
            if headers_supported {
                for (name, values) in msg.headers.iter().flat_map(|h| h.iter()) {
                    for value in values {
                        headers.append(name.clone(), value.clone());
                    }
                }
                headers.append("NATS-Reply-Counter", counter.to_string());
            }
            msg.payload.clone()
        } else {
            let request = String::from_utf8_lossy(&msg.payload);
            let body = args.body.as_deref().unwrap_or_default();
            Bytes::from(template::render(body, counter, Some(&request)))
        };
        match &msg.reply {
            Some(reply) => {
                let sent = if headers.is_empty() {
                    client.publish(reply.clone(), payload).await
                } else {
                    client.publish_with_headers(reply.clone(), headers, payload).await
                };
                if let Err(e) = sent {
                    logln!("Could not publish reply: {e}");
                }
            }
            None => logln!("Could not publish reply: the message has no reply subject"),
        }
        counter += 1;
        if args.count.is_some_and(|n| counter >= n) {
            break;
        }
    }
    logln!("Draining...");
    client.flush().await.context("could not flush the last replies")?;
    client.drain().await.context("could not drain the connection")?;
    logln!("Exiting");
    Ok(())
}
