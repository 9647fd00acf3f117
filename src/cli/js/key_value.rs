//! `kv put|get|del|ls|history|watch`, the bucket made when missing.

use anyhow::{bail, Context, Result};
use async_nats::jetstream::{self, kv};
use futures::{StreamExt, TryStreamExt};

use crate::cli::ConnArgs;

use super::*;

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
