//! `consumer ls|add|info|next|rm`.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use async_nats::jetstream::{self, consumer::pull};
use futures::{StreamExt, TryStreamExt};

use crate::cli::ConnArgs;

use super::*;

#[derive(clap::Args, Debug)]
pub struct ConsumerArgs {
    #[command(subcommand)]
    pub cmd: ConsumerCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum ConsumerCommand {
    /// List a stream's consumers
    #[command(visible_alias = "list")]
    Ls {
        stream: String,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Create a durable pull consumer with explicit acks
    #[command(visible_alias = "create")]
    Add {
        stream: String,
        name: String,
        /// Only messages on this subject
        #[arg(long)]
        filter: Option<String>,
        /// `all`, `new` or `last`
        #[arg(long, default_value = "all")]
        deliver: String,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Show a consumer's state
    Info {
        stream: String,
        name: String,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Fetch and acknowledge messages from a pull consumer
    Next {
        stream: String,
        name: String,
        /// How many messages
        #[arg(long, default_value_t = 1)]
        count: usize,
        /// Do not acknowledge them
        #[arg(long = "no-ack")]
        no_ack: bool,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Delete a consumer
    #[command(visible_alias = "delete")]
    Rm {
        stream: String,
        name: String,
        #[command(flatten)]
        conn: ConnArgs,
    },
}

pub(crate) async fn consumer(args: ConsumerArgs) -> Result<()> {
    match args.cmd {
        ConsumerCommand::Ls { stream, conn } => {
            let js = context(&conn, "junction consumer ls").await?;
            let s = get_stream(&js, &stream).await?;
            let mut names: Vec<String> = s.consumer_names().try_collect().await?;
            names.sort();
            if names.is_empty() {
                return print(format!("No consumers defined on {stream}\n"));
            }
            print(names.iter().map(|n| format!("{n}\n")).collect())
        }
        ConsumerCommand::Add {
            stream,
            name,
            filter,
            deliver,
            conn,
        } => {
            let js = context(&conn, "junction consumer add").await?;
            let s = get_stream(&js, &stream).await?;
            let deliver_policy = match deliver.as_str() {
                "all" => jetstream::consumer::DeliverPolicy::All,
                "new" => jetstream::consumer::DeliverPolicy::New,
                "last" => jetstream::consumer::DeliverPolicy::Last,
                other => bail!("deliver must be all, new or last, not {other:?}"),
            };
            s.create_consumer(pull::Config {
                durable_name: Some(name.clone()),
                filter_subject: filter.unwrap_or_default(),
                deliver_policy,
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                ..Default::default()
            })
            .await
            .with_context(|| format!("creating consumer {name}"))?;
            print(format!("Consumer {stream} > {name} was created\n"))
        }
        ConsumerCommand::Info {
            stream,
            name,
            json,
            conn,
        } => {
            let js = context(&conn, "junction consumer info").await?;
            if json {
                let raw: serde_json::Value = js
                    .request(format!("CONSUMER.INFO.{stream}.{name}"), &serde_json::json!({}))
                    .await
                    .with_context(|| format!("consumer {stream} > {name}"))?;
                return print(format!("{}\n", serde_json::to_string_pretty(&raw)?));
            }
            let s = get_stream(&js, &stream).await?;
            let info = s
                .consumer_info(&name)
                .await
                .with_context(|| format!("consumer {stream} > {name}"))?;
            print(format!(
                "Information for Consumer {stream} > {name}\n\
                 \x20  Last Delivered Message: Consumer sequence: {} Stream sequence: {}\n\
                 \x20    Acknowledgment Floor: Consumer sequence: {} Stream sequence: {}\n\
                 \x20        Outstanding Acks: {}\n\
                 \x20    Redelivered Messages: {}\n\
                 \x20    Unprocessed Messages: {}\n\
                 \x20           Waiting Pulls: {}\n",
                info.delivered.consumer_sequence,
                info.delivered.stream_sequence,
                info.ack_floor.consumer_sequence,
                info.ack_floor.stream_sequence,
                info.num_ack_pending,
                info.num_redelivered,
                info.num_pending,
                info.num_waiting,
            ))
        }
        ConsumerCommand::Next {
            stream,
            name,
            count,
            no_ack,
            conn,
        } => {
            let js = context(&conn, "junction consumer next").await?;
            let s = get_stream(&js, &stream).await?;
            let c: jetstream::consumer::Consumer<pull::Config> = s
                .get_consumer(&name)
                .await
                .map_err(|e| anyhow::anyhow!("consumer {stream} > {name}: {e}"))?;
            let mut msgs = c
                .fetch()
                .max_messages(count)
                .expires(Duration::from_secs(2))
                .messages()
                .await?;
            let mut text = String::new();
            let mut got = 0;
            while let Some(m) = msgs.next().await {
                let m = m.map_err(|e| anyhow::anyhow!("{e}"))?;
                let info = m.info().map_err(|e| anyhow::anyhow!("{e}"))?;
                text.push_str(&format!(
                    "[{}] subj: {} / tries: {} / cons seq: {} / str seq: {} / pending: {}\n\n{}\n\n",
                    chrono::Local::now().format("%H:%M:%S"),
                    m.subject,
                    info.delivered,
                    info.consumer_sequence,
                    info.stream_sequence,
                    info.pending,
                    String::from_utf8_lossy(&m.payload)
                ));
                if !no_ack {
                    m.double_ack().await.map_err(|e| anyhow::anyhow!("{e}"))?;
                    text.push_str("Acknowledged message\n\n");
                }
                got += 1;
            }
            if got == 0 {
                bail!("no message received");
            }
            print(text)
        }
        ConsumerCommand::Rm { stream, name, conn } => {
            let js = context(&conn, "junction consumer rm").await?;
            let s = get_stream(&js, &stream).await?;
            s.delete_consumer(&name)
                .await
                .with_context(|| format!("deleting consumer {stream} > {name}"))?;
            print(format!("Consumer {stream} > {name} was deleted\n"))
        }
    }
}
