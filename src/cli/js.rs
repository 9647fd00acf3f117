//! JetStream from the command line, as the NATS quick-starts use natscli:
//! `stream ls|add|info|rm|purge|get`, `consumer ls|add|info|next|rm`,
//! `kv put|get|del|ls|history|watch`, `account info` and `rtt`. Everything
//! goes through async-nats' JetStream API, so it works against any server.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use async_nats::jetstream::{self, consumer::pull, kv, stream};
use futures::{StreamExt, TryStreamExt};

use super::{with_stdout, ConnArgs};

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

#[derive(clap::Args, Debug)]
pub struct Conn {
    #[command(flatten)]
    pub conn: ConnArgs,
}

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

#[derive(clap::Args, Debug)]
pub struct KvArgs {
    #[command(subcommand)]
    pub cmd: KvCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum KvCommand {
    /// Create a bucket
    Add {
        bucket: String,
        /// Values kept per key
        #[arg(long, default_value_t = 1)]
        history: i64,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Set a key (the bucket is created if missing)
    Put {
        bucket: String,
        key: String,
        value: String,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Print a key's value
    Get {
        bucket: String,
        key: String,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Delete a key
    #[command(visible_alias = "rm")]
    Del {
        bucket: String,
        key: String,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// List the keys of a bucket
    #[command(visible_alias = "keys")]
    Ls {
        bucket: String,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Print every kept value of a key
    History {
        bucket: String,
        key: String,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Print changes to the bucket (or the keys matching KEY) as they happen
    Watch {
        bucket: String,
        key: Option<String>,
        /// Stop after this many changes
        #[arg(long)]
        count: Option<usize>,
        #[command(flatten)]
        conn: ConnArgs,
    },
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

fn print(text: String) -> Result<()> {
    with_stdout(|out| out.write_all(text.as_bytes()))?;
    Ok(())
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
            let mut s = js
                .get_stream(&name)
                .await
                .with_context(|| format!("stream {name}"))?;
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
            let s = js
                .get_stream(&name)
                .await
                .with_context(|| format!("stream {name}"))?;
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
            let s = js
                .get_stream(&name)
                .await
                .with_context(|| format!("stream {name}"))?;
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

pub(crate) async fn consumer(args: ConsumerArgs) -> Result<()> {
    match args.cmd {
        ConsumerCommand::Ls { stream, conn } => {
            let js = context(&conn, "junction consumer ls").await?;
            let s = js
                .get_stream(&stream)
                .await
                .with_context(|| format!("stream {stream}"))?;
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
            let s = js
                .get_stream(&stream)
                .await
                .with_context(|| format!("stream {stream}"))?;
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
            let s = js
                .get_stream(&stream)
                .await
                .with_context(|| format!("stream {stream}"))?;
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
            let s = js
                .get_stream(&stream)
                .await
                .with_context(|| format!("stream {stream}"))?;
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
            let s = js
                .get_stream(&stream)
                .await
                .with_context(|| format!("stream {stream}"))?;
            s.delete_consumer(&name)
                .await
                .with_context(|| format!("deleting consumer {stream} > {name}"))?;
            print(format!("Consumer {stream} > {name} was deleted\n"))
        }
    }
}

async fn bucket(js: &jetstream::Context, name: &str, create: bool) -> Result<kv::Store> {
    match js.get_key_value(name).await {
        Ok(s) => Ok(s),
        Err(_) if create => js
            .create_key_value(kv::Config {
                bucket: name.to_string(),
                ..Default::default()
            })
            .await
            .with_context(|| format!("creating bucket {name}")),
        Err(e) => Err(anyhow::anyhow!("bucket {name}: {e}")),
    }
}

pub(crate) async fn kv(args: KvArgs) -> Result<()> {
    match args.cmd {
        KvCommand::Add {
            bucket: name,
            history,
            conn,
        } => {
            let js = context(&conn, "junction kv add").await?;
            js.create_key_value(kv::Config {
                bucket: name.clone(),
                history,
                ..Default::default()
            })
            .await
            .with_context(|| format!("creating bucket {name}"))?;
            print(format!("Bucket {name} was created\n"))
        }
        KvCommand::Put {
            bucket: name,
            key,
            value,
            conn,
        } => {
            let js = context(&conn, "junction kv put").await?;
            let store = bucket(&js, &name, true).await?;
            store
                .put(&key, value.clone().into())
                .await
                .with_context(|| format!("putting {key}"))?;
            print(format!("{value}\n"))
        }
        KvCommand::Get {
            bucket: name,
            key,
            conn,
        } => {
            let js = context(&conn, "junction kv get").await?;
            let store = bucket(&js, &name, false).await?;
            match store.entry(&key).await? {
                Some(e) if e.operation == kv::Operation::Put => print(format!(
                    "{name} > {key} revision: {} created @ {}\n\n{}\n",
                    e.revision,
                    e.created,
                    String::from_utf8_lossy(&e.value)
                )),
                _ => bail!("{name} > {key}: key not found"),
            }
        }
        KvCommand::Del {
            bucket: name,
            key,
            conn,
        } => {
            let js = context(&conn, "junction kv del").await?;
            let store = bucket(&js, &name, false).await?;
            store
                .delete(&key)
                .await
                .with_context(|| format!("deleting {key}"))?;
            print(format!("Deleted {name} > {key}\n"))
        }
        KvCommand::Ls { bucket: name, conn } => {
            let js = context(&conn, "junction kv ls").await?;
            let store = bucket(&js, &name, false).await?;
            let mut keys: Vec<String> = store.keys().await?.try_collect().await?;
            keys.sort();
            if keys.is_empty() {
                return print(format!("No keys found in bucket {name}\n"));
            }
            print(keys.iter().map(|k| format!("{k}\n")).collect())
        }
        KvCommand::History {
            bucket: name,
            key,
            conn,
        } => {
            let js = context(&conn, "junction kv history").await?;
            let store = bucket(&js, &name, false).await?;
            let mut text = String::new();
            let mut history = store.history(&key).await?;
            while let Some(e) = history.try_next().await? {
                text.push_str(&format!(
                    "{:>6} {:<8} {}\n",
                    e.revision,
                    format!("{:?}", e.operation).to_uppercase(),
                    String::from_utf8_lossy(&e.value)
                ));
            }
            print(text)
        }
        KvCommand::Watch {
            bucket: name,
            key,
            count,
            conn,
        } => {
            let js = context(&conn, "junction kv watch").await?;
            let store = bucket(&js, &name, false).await?;
            let mut watch = match &key {
                Some(k) => store.watch(k).await?,
                None => store.watch_all().await?,
            };
            let mut seen = 0;
            while let Some(e) = watch.next().await {
                let e = e?;
                print(format!(
                    "[{}] {} {} > {}: {}\n",
                    chrono::Local::now().format("%Y-%m-%d %H:%M:%S"),
                    format!("{:?}", e.operation).to_uppercase(),
                    name,
                    e.key,
                    String::from_utf8_lossy(&e.value)
                ))?;
                seen += 1;
                if count.is_some_and(|c| seen >= c) {
                    break;
                }
            }
            Ok(())
        }
    }
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

#[derive(clap::Args, Debug)]
pub struct ObjectArgs {
    #[command(subcommand)]
    pub cmd: ObjectCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum ObjectCommand {
    /// Store a file (the bucket is created if missing)
    Put {
        bucket: String,
        file: std::path::PathBuf,
        /// The object's name (default: the file name)
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Write an object to a file, or to stdout
    Get {
        bucket: String,
        name: String,
        /// Where to write it
        #[arg(short = 'O', long = "output")]
        output: Option<std::path::PathBuf>,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// List the objects of a bucket
    #[command(visible_alias = "list")]
    Ls {
        bucket: String,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Delete an object
    #[command(visible_alias = "del")]
    Rm {
        bucket: String,
        name: String,
        #[command(flatten)]
        conn: ConnArgs,
    },
}

async fn object_bucket(
    js: &jetstream::Context,
    name: &str,
    create: bool,
) -> Result<jetstream::object_store::ObjectStore> {
    match js.get_object_store(name).await {
        Ok(s) => Ok(s),
        Err(_) if create => js
            .create_object_store(jetstream::object_store::Config {
                bucket: name.to_string(),
                ..Default::default()
            })
            .await
            .with_context(|| format!("creating bucket {name}")),
        Err(e) => Err(anyhow::anyhow!("bucket {name}: {e}")),
    }
}

pub(crate) async fn object(args: ObjectArgs) -> Result<()> {
    use tokio::io::AsyncReadExt;
    match args.cmd {
        ObjectCommand::Put {
            bucket,
            file,
            name,
            conn,
        } => {
            let js = context(&conn, "junction object put").await?;
            let store = object_bucket(&js, &bucket, true).await?;
            let name = match name {
                Some(n) => n,
                None => file
                    .file_name()
                    .and_then(|n| n.to_str())
                    .map(str::to_string)
                    .context("give --name for this file")?,
            };
            let mut f = tokio::fs::File::open(&file)
                .await
                .with_context(|| format!("{}", file.display()))?;
            let info = store
                .put(name.as_str(), &mut f)
                .await
                .map_err(|e| anyhow::anyhow!("storing {name}: {e}"))?;
            print(format!(
                "Stored {bucket} > {name}: {} bytes in {} chunks, digest {}\n",
                info.size,
                info.chunks,
                info.digest.unwrap_or_default()
            ))
        }
        ObjectCommand::Get {
            bucket,
            name,
            output,
            conn,
        } => {
            let js = context(&conn, "junction object get").await?;
            let store = object_bucket(&js, &bucket, false).await?;
            let mut object = store
                .get(&name)
                .await
                .map_err(|e| anyhow::anyhow!("{bucket} > {name}: {e}"))?;
            let mut data = Vec::new();
            object.read_to_end(&mut data).await?;
            match output {
                Some(path) => {
                    tokio::fs::write(&path, &data)
                        .await
                        .with_context(|| format!("{}", path.display()))?;
                    eprintln!("Wrote {} bytes to {}", data.len(), path.display());
                    Ok(())
                }
                None => {
                    with_stdout(|out| out.write_all(&data))?;
                    Ok(())
                }
            }
        }
        ObjectCommand::Ls { bucket, conn } => {
            let js = context(&conn, "junction object ls").await?;
            let store = object_bucket(&js, &bucket, false).await?;
            let mut list = store.list().await.map_err(|e| anyhow::anyhow!("{e}"))?;
            let mut text = String::new();
            while let Some(info) = list.next().await {
                let info = info.map_err(|e| anyhow::anyhow!("{e}"))?;
                text.push_str(&format!(
                    "{:<30} {:>12} bytes  {}\n",
                    info.name,
                    info.size,
                    info.modified.map(|m| m.to_string()).unwrap_or_default()
                ));
            }
            if text.is_empty() {
                text = format!("No objects in bucket {bucket}\n");
            }
            print(text)
        }
        ObjectCommand::Rm { bucket, name, conn } => {
            let js = context(&conn, "junction object rm").await?;
            let store = object_bucket(&js, &bucket, false).await?;
            store
                .delete(&name)
                .await
                .map_err(|e| anyhow::anyhow!("{bucket} > {name}: {e}"))?;
            print(format!("Deleted {bucket} > {name}\n"))
        }
    }
}
