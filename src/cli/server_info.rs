//! `junction server info`: shows the INFO the server sent on connect (identity, version,
//! limits, features and what it knows of this client) as a readable table, or as JSON.

use std::fmt::Display;
use std::time::Instant;

use anyhow::{Context, Result};

use super::table::ibytes;
use super::{with_stdout, ConnArgs};

#[derive(clap::Args, Debug)]
pub struct ServerArgs {
    #[command(subcommand)]
    pub cmd: ServerCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum ServerCommand {
    /// Show what the server says about itself in its INFO
    #[command(visible_alias = "i")]
    Info(InfoArgs),
    /// List the servers of the cluster, with their figures (system account)
    #[command(visible_alias = "ls")]
    List(super::server_system::ListArgs),
    /// Ping every server of the cluster (system account)
    Ping(super::server_system::PingArgs),
    /// Ask every server for a monitoring endpoint's JSON (system account)
    #[command(visible_alias = "req")]
    Request(super::server_system::RequestArgs),
    /// Report on the servers' connections (system account)
    #[command(visible_alias = "rep")]
    Report(super::server_report::ReportArgs),
}

#[derive(clap::Args, Debug)]
pub struct InfoArgs {
    /// Print the INFO fields as one JSON object
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub conn: ConnArgs,
}

pub(crate) async fn run(args: ServerArgs) -> Result<()> {
    match args.cmd {
        ServerCommand::Info(args) => info(args).await,
        ServerCommand::List(args) => super::server_system::list(args).await,
        ServerCommand::Ping(args) => super::server_system::ping(args).await,
        ServerCommand::Request(args) => super::server_system::request(args).await,
        ServerCommand::Report(args) => super::server_report::run(args).await,
    }
}

async fn info(args: InfoArgs) -> Result<()> {
    let client = args.conn.connect("junction server info").await?;
    let start = Instant::now();
    client.flush().await.context("the server did not answer PING")?;
    let rtt = start.elapsed();
    let info = client.server_info();
    // Who the server says this connection is (account and user), as
    // nats-server answers `$SYS.REQ.USER.INFO`.
    let whoami = tokio::time::timeout(
        std::time::Duration::from_secs(2),
        client.request("$SYS.REQ.USER.INFO", bytes::Bytes::new()),
    )
    .await
    .ok()
    .and_then(|r| r.ok())
    .and_then(|m| serde_json::from_slice::<serde_json::Value>(&m.payload).ok())
    .map(|v| v["data"].clone())
    .unwrap_or(serde_json::Value::Null);
    let account = whoami["account"].as_str().unwrap_or("").to_string();
    let user = whoami["user"].as_str().unwrap_or("").to_string();

    if args.json {
        let value = serde_json::json!({
            "server_id": info.server_id,
            "server_name": info.server_name,
            "version": info.version,
            "go": info.go,
            "proto": info.proto,
            "host": info.host,
            "port": info.port,
            "max_payload": info.max_payload,
            "headers": info.headers,
            "jetstream": info.jetstream,
            "auth_required": info.auth_required,
            "tls_required": info.tls_required,
            "ldm": info.lame_duck_mode,
            "cluster": info.cluster,
            "domain": info.domain,
            "connect_urls": info.connect_urls,
            "client_id": info.client_id,
            "client_ip": info.client_ip,
            "account": account,
            "user": user,
            "rtt_us": rtt.as_micros(),
        });
        let text = serde_json::to_string_pretty(&value)?;
        with_stdout(|out| writeln!(out, "{text}"))?;
        return Ok(());
    }

    let heading = if info.server_name.is_empty() || info.server_name == info.server_id {
        format!("Server information for {}", info.server_id)
    } else {
        format!("Server information for {} ({})", info.server_name, info.server_id)
    };
    let mut t = Table::default();
    t.section("Server Details");
    t.row("Server ID", &info.server_id);
    t.row("Server Name", &info.server_name);
    t.row("Version", &info.version);
    if !info.go.is_empty() {
        t.row("Go Version", &info.go);
    }
    t.row("Protocol", info.proto);
    t.row("Host", format!("{}:{}", info.host, info.port));
    for (i, url) in info.connect_urls.iter().enumerate() {
        t.row(if i == 0 { "Connect URLs" } else { "" }, url);
    }
    if let Some(cluster) = info.cluster.as_ref().filter(|c| !c.is_empty()) {
        t.row("Cluster", cluster);
    }
    if let Some(domain) = info.domain.as_ref().filter(|d| !d.is_empty()) {
        t.row("Domain", domain);
    }

    t.section("Features");
    t.row("Auth Required", info.auth_required);
    t.row("TLS Required", info.tls_required);
    t.row("Headers", info.headers);
    t.row("JetStream", info.jetstream);
    t.row("Lame Duck Mode", info.lame_duck_mode);
    t.row("Maximum Payload", ibytes(info.max_payload as u64));

    t.section("This Connection");
    t.row("Client ID", info.client_id);
    t.row("Client IP", &info.client_ip);
    if !account.is_empty() {
        t.row("Account", &account);
    }
    if !user.is_empty() {
        t.row("User", &user);
    }
    t.row("URL", args.conn.url());
    t.row("RTT", format!("{rtt:?}"));

    let text = t.render(&heading);
    with_stdout(|out| out.write_all(text.as_bytes()))?;
    Ok(())
}

/// Section titles and right-aligned `name: value` rows, in the style of natscli's reports.
#[derive(Default)]
struct Table {
    /// `None` name marks a section title.
    rows: Vec<(Option<String>, String)>,
}

impl Table {
    fn section(&mut self, title: &str) {
        self.rows.push((None, title.to_string()));
    }

    fn row(&mut self, name: &str, value: impl Display) {
        self.rows.push((Some(name.to_string()), value.to_string()));
    }

    fn render(&self, heading: &str) -> String {
        let width = self
            .rows
            .iter()
            .filter_map(|(n, _)| n.as_ref().map(String::len))
            .max()
            .unwrap_or(0);
        let mut out = format!("{heading}\n");
        for (name, value) in &self.rows {
            match name {
                None => out.push_str(&format!("\n{value}:\n\n")),
                Some(n) if n.is_empty() => out.push_str(&format!("  {:width$}  {value}\n", "")),
                Some(n) => out.push_str(&format!("  {n:>width$}: {value}\n")),
            }
        }
        out
    }
}
