//! `stream ls|add|info|rm|purge|get`.

use anyhow::{bail, Context, Result};
use async_nats::jetstream::stream;
use futures::TryStreamExt;

use crate::cli::ConnArgs;

use super::*;

#[derive(clap::Args, Debug)]
pub struct StreamArgs {
    #[command(subcommand)]
    pub cmd: StreamCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum StreamCommand {
    /// List the streams
    #[command(visible_alias = "list")]
    Ls(Conn),
    /// Create a stream
    #[command(visible_alias = "create")]
    Add {
        name: String,
        /// Subjects the stream stores (default: its name)
        #[arg(long = "subjects")]
        subjects: Vec<String>,
        /// `file` or `memory`
        #[arg(long, default_value = "file")]
        storage: String,
        /// Most messages kept (-1: no limit)
        #[arg(long = "max-msgs", default_value_t = -1)]
        max_msgs: i64,
        /// Most messages kept per subject (-1: no limit)
        #[arg(long = "max-msgs-per-subject", default_value_t = -1)]
        max_msgs_per_subject: i64,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Show a stream's configuration and state
    Info {
        name: String,
        /// Print the stream info as JSON
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Delete a stream
    #[command(visible_alias = "delete")]
    Rm {
        name: String,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Remove messages from a stream
    Purge {
        name: String,
        /// Only messages on this subject
        #[arg(long)]
        subject: Option<String>,
        /// Keep this many of the newest messages
        #[arg(long)]
        keep: Option<u64>,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Print one message by sequence, or the last on a subject
    Get {
        name: String,
        seq: Option<u64>,
        /// The last message on this subject
        #[arg(long = "last-for")]
        last_for: Option<String>,
        #[command(flatten)]
        conn: ConnArgs,
    },
}

pub(crate) async fn stream(args: StreamArgs) -> Result<()> {
    match args.cmd {
        StreamCommand::Ls(c) => {
            let js = context(&c.conn, "junction stream ls").await?;
            let mut text = String::new();
            let mut streams = js.streams();
            let mut n = 0;
            while let Some(info) = streams.try_next().await.context("listing streams")? {
                n += 1;
                text.push_str(&format!(
                    "{:<20} {:>10} msgs {:>12} bytes  subjects {}\n",
                    info.config.name,
                    info.state.messages,
                    info.state.bytes,
                    info.config.subjects.join(", ")
                ));
            }
            if n == 0 {
                text.push_str("No streams defined\n");
            }
            print(text)
        }
        StreamCommand::Add {
            name,
            subjects,
            storage,
            max_msgs,
            max_msgs_per_subject,
            conn,
        } => {
            let js = context(&conn, "junction stream add").await?;
            let storage = match storage.as_str() {
                "file" => stream::StorageType::File,
                "memory" => stream::StorageType::Memory,
                other => bail!("storage must be file or memory, not {other:?}"),
            };
            let mut s = js
                .create_stream(stream::Config {
                    name: name.clone(),
                    subjects,
                    storage,
                    max_messages: max_msgs,
                    max_messages_per_subject: max_msgs_per_subject,
                    ..Default::default()
                })
                .await
                .with_context(|| format!("creating stream {name}"))?;
            let info = s.info().await?;
            print(format!("Stream {name} was created\n{}", describe_stream(info)))
        }
        StreamCommand::Info { name, json, conn } => {
            let js = context(&conn, "junction stream info").await?;
            if json {
                let raw: serde_json::Value = js
                    .request(format!("STREAM.INFO.{name}"), &serde_json::json!({}))
                    .await
                    .with_context(|| format!("stream {name}"))?;
                return print(format!("{}\n", serde_json::to_string_pretty(&raw)?));
            }
            let mut s = get_stream(&js, &name).await?;
            let info = s.info().await?;
            print(describe_stream(info))
        }
        StreamCommand::Rm { name, conn } => {
            let js = context(&conn, "junction stream rm").await?;
            js.delete_stream(&name)
                .await
                .with_context(|| format!("deleting stream {name}"))?;
            print(format!("Stream {name} was deleted\n"))
        }
        StreamCommand::Purge {
            name,
            subject,
            keep,
            conn,
        } => {
            let js = context(&conn, "junction stream purge").await?;
            let s = get_stream(&js, &name).await?;
            let purged = match (subject, keep) {
                (Some(subj), Some(k)) => s.purge().filter(subj).keep(k).await,
                (Some(subj), None) => s.purge().filter(subj).await,
                (None, Some(k)) => s.purge().keep(k).await,
                (None, None) => s.purge().await,
            }
            .with_context(|| format!("purging stream {name}"))?;
            print(format!("Purged {} messages from {name}\n", purged.purged))
        }
        StreamCommand::Get {
            name,
            seq,
            last_for,
            conn,
        } => {
            let js = context(&conn, "junction stream get").await?;
            let s = get_stream(&js, &name).await?;
            let m = match (seq, last_for) {
                (_, Some(subject)) => s.get_last_raw_message_by_subject(&subject).await,
                (Some(seq), None) => s.get_raw_message(seq).await,
                (None, None) => bail!("give a sequence or --last-for SUBJECT"),
            }
            .context("no such message")?;
            let mut text = format!(
                "Item: {name}#{} received {} on Subject {}\n\n",
                m.sequence, m.time, m.subject
            );
            for (k, vs) in m.headers.iter() {
                for v in vs {
                    text.push_str(&format!("{k}: {v}\n"));
                }
            }
            text.push_str(&String::from_utf8_lossy(&m.payload));
            text.push('\n');
            print(text)
        }
    }
}

fn describe_stream(info: &stream::Info) -> String {
    let c = &info.config;
    let s = &info.state;
    format!(
        "Information for Stream {}\n\
         \x20            Subjects: {}\n\
         \x20             Storage: {:?}\n\
         \x20           Retention: {:?}\n\
         \x20    Maximum Messages: {}\n\
         State:\n\
         \x20            Messages: {}\n\
         \x20               Bytes: {}\n\
         \x20      First Sequence: {}\n\
         \x20       Last Sequence: {}\n\
         \x20    Active Consumers: {}\n",
        c.name,
        c.subjects.join(", "),
        c.storage,
        c.retention,
        c.max_messages,
        s.messages,
        s.bytes,
        s.first_sequence,
        s.last_sequence,
        s.consumer_count,
    )
}
