//! `junction server report connections`: every server's connections
//! (`$SYS.REQ.SERVER.PING.CONNZ`), sorted and totalled as natscli's
//! `nats server report connections` prints them, with a count per server.

use std::collections::HashMap;

use anyhow::{bail, Result};
use serde_json::{json, Value};

use super::server_system::gather;
use super::table::{comma, ibytes, BoxTable};
use super::{with_stdout, ConnArgs};

#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    #[command(subcommand)]
    pub cmd: ReportCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum ReportCommand {
    /// Report on connections, across every server (system account)
    #[command(visible_aliases = ["conn", "connz", "conns"])]
    Connections(ConnectionsArgs),
}

#[derive(clap::Args, Debug)]
pub struct ConnectionsArgs {
    /// How many servers to expect (waits for them, else for the timeout)
    pub expect: Option<usize>,
    /// Limit the report to one account
    #[arg(long)]
    pub account: Option<String>,
    /// Sort by in-bytes, out-bytes, in-msgs, out-msgs, uptime, cid or subs
    #[arg(long, default_value = "subs", value_parser = ["in-bytes", "out-bytes", "in-msgs", "out-msgs", "uptime", "cid", "subs"])]
    pub sort: String,
    /// Show the top results only
    #[arg(long, default_value_t = 1000)]
    pub top: usize,
    /// Only connections with interest in this subject
    #[arg(long)]
    pub subject: Option<String>,
    /// Only connections of this user
    #[arg(long)]
    pub username: Option<String>,
    /// open, closed or all
    #[arg(long, default_value = "open", value_parser = ["open", "closed", "all"])]
    pub state: String,
    /// Reverse the sort
    #[arg(short = 'R', long)]
    pub reverse: bool,
    /// Print the connections as JSON
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub conn: ConnArgs,
}

pub(crate) async fn run(args: ReportArgs) -> Result<()> {
    match args.cmd {
        ReportCommand::Connections(args) => connections(args).await,
    }
}

/// One connection and the server that has it.
struct Row {
    conn: Value,
    server: Value,
}

impl Row {
    fn n(&self, key: &str) -> u64 {
        self.conn[key].as_u64().unwrap_or(0)
    }

    fn subs(&self) -> u64 {
        self.conn["subscriptions_list"]
            .as_array()
            .map_or_else(|| self.n("subscriptions"), |l| l.len() as u64)
    }
}

async fn connections(args: ConnectionsArgs) -> Result<()> {
    let state = match args.state.as_str() {
        "closed" => 1,
        "all" => 2,
        _ => 0,
    };
    let mut body = json!({"subscriptions": true, "auth": true, "state": state, "limit": 1024});
    for (key, value) in [
        ("acc", &args.account),
        ("user", &args.username),
        ("filter_subject", &args.subject),
    ] {
        if let Some(v) = value {
            body[key] = json!(v);
        }
    }
    let answers = gather(
        &args.conn,
        "junction server report",
        "$SYS.REQ.SERVER.PING.CONNZ",
        body,
        args.expect,
    )
    .await?;
    if answers.is_empty() {
        bail!("did not get results from any servers");
    }
    let mut rows: Vec<Row> = Vec::new();
    for (answer, _) in &answers {
        if let Some(e) = answer.get("error") {
            bail!("invalid response received: {e}");
        }
        for conn in answer["data"]["connections"].as_array().into_iter().flatten() {
            rows.push(Row {
                conn: conn.clone(),
                server: answer["server"].clone(),
            });
        }
    }
    if args.json {
        let list: Vec<Value> = rows
            .iter()
            .map(|r| {
                let mut v = r.conn.clone();
                v["server"] = r.server.clone();
                v
            })
            .collect();
        let text = serde_json::to_string_pretty(&list)?;
        with_stdout(|w| writeln!(w, "{text}"))?;
        return Ok(());
    }
    let text = render(&mut rows, &args);
    with_stdout(|w| w.write_all(text.as_bytes()))?;
    Ok(())
}

/// The tables: the top connections with totals, then the connections per
/// server.
fn render(rows: &mut [Row], args: &ConnectionsArgs) -> String {
    rows.sort_by(|a, b| {
        let order = match args.sort.as_str() {
            "in-bytes" => a.n("in_bytes").cmp(&b.n("in_bytes")),
            "out-bytes" => a.n("out_bytes").cmp(&b.n("out_bytes")),
            "in-msgs" => a.n("in_msgs").cmp(&b.n("in_msgs")),
            "out-msgs" => a.n("out_msgs").cmp(&b.n("out_msgs")),
            // Newest first, as natscli's "started after".
            "uptime" => b.conn["start"].as_str().cmp(&a.conn["start"].as_str()),
            "cid" => a.n("cid").cmp(&b.n("cid")),
            _ => a.subs().cmp(&b.subs()),
        };
        if args.reverse {
            order.reverse()
        } else {
            order
        }
    });
    let total = rows.len();
    let limit = if args.top > 0 && args.top <= total {
        args.top
    } else {
        total
    };
    let show_reason = args.state != "open";
    let mut headers = vec![
        "CID",
        "Name",
        "Server",
        "Cluster",
        "IP",
        "Account",
        "Uptime",
        "In Msgs",
        "Out Msgs",
        "In Bytes",
        "Out Bytes",
        "Subs",
    ];
    if show_reason {
        headers.push("Reason");
    }
    let title = format!(
        "Top {limit} Connections out of {} by {}",
        comma(total as u64),
        args.sort
    );
    let mut t = BoxTable::new(&title, &headers);
    let (mut in_msgs, mut out_msgs, mut in_bytes, mut out_bytes, mut subs) = (0, 0, 0, 0, 0);
    let mut per_server: Vec<(String, String, usize)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (i, row) in rows.iter().enumerate() {
        let text = |v: &Value| v.as_str().unwrap_or("").to_string();
        let mut name = text(&row.conn["name"]);
        if name.is_empty() {
            name = text(&row.conn["mqtt_client"]);
        }
        if name.chars().count() > 40 {
            name = name.chars().take(40).collect::<String>() + " ..";
        }
        in_msgs += row.n("in_msgs");
        out_msgs += row.n("out_msgs");
        in_bytes += row.n("in_bytes");
        out_bytes += row.n("out_bytes");
        subs += row.subs();
        let server = text(&row.server["name"]);
        let cluster = text(&row.server["cluster"]);
        let at = *index.entry(server.clone()).or_insert_with(|| {
            per_server.push((server.clone(), cluster.clone(), 0));
            per_server.len() - 1
        });
        per_server[at].2 += 1;
        if i >= limit {
            continue;
        }
        let mut account = text(&row.conn["account"]);
        if account.len() > 46 {
            account = format!("{} ..", &account[..12]);
        }
        let kind = row.conn["kind"].as_str().unwrap_or("Client");
        let cid = match kind {
            "Client" => row.n("cid").to_string(),
            other => format!("{}{}", &other[..1], row.n("cid")),
        };
        let mut cells = vec![
            cid,
            name,
            server,
            cluster,
            format!("{}:{}", text(&row.conn["ip"]), row.n("port")),
            account,
            text(&row.conn["uptime"]),
            comma(row.n("in_msgs")),
            comma(row.n("out_msgs")),
            ibytes(row.n("in_bytes")),
            ibytes(row.n("out_bytes")),
            comma(row.subs()),
        ];
        if show_reason {
            cells.push(text(&row.conn["reason"]));
        }
        t.row(cells);
    }
    if total > 1 {
        let mut cells = vec![
            String::new(),
            format!("Totals for {} connections", comma(total as u64)),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            comma(in_msgs),
            comma(out_msgs),
            ibytes(in_bytes),
            ibytes(out_bytes),
            comma(subs),
        ];
        if show_reason {
            cells.push(String::new());
        }
        t.footer(cells);
    }
    let mut out = t.render();
    if !per_server.is_empty() {
        per_server.sort_by_key(|(_, _, n)| *n);
        let mut t = BoxTable::new("Connections per server", &["Server", "Cluster", "Connections"]);
        for (server, cluster, n) in per_server {
            t.row(vec![server, cluster, n.to_string()]);
        }
        out.push('\n');
        out.push_str(&t.render());
    }
    out
}
