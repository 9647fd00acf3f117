//! `object put|get|ls|rm`, the bucket made when missing.

use anyhow::{Context, Result};
use async_nats::jetstream::{self};
use futures::StreamExt;

use crate::cli::{with_stdout, ConnArgs};

use super::*;

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
