//! `junction server list`, `server ping` and `server request`: the system
//! account's services asked of every server of a cluster, printed as
//! natscli prints them. The user must belong to the system account.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use futures::StreamExt;
use serde_json::{json, Value};

use super::table::{comma, ibytes, BoxTable};
use super::{with_stdout, ConnArgs};

#[derive(clap::Args, Debug)]
pub struct ListArgs {
    /// How many servers to expect (waits for them, else for the timeout)
    pub expect: Option<usize>,
    /// Print the answers as JSON
    #[arg(short, long)]
    pub json: bool,
    #[command(flatten)]
    pub conn: ConnArgs,
}

#[derive(clap::Args, Debug)]
pub struct PingArgs {
    /// How many servers to expect; by default as many as the first answer
    /// says are active
    pub expect: Option<usize>,
    /// Include the server ID in the output
    #[arg(long)]
    pub id: bool,
    #[command(flatten)]
    pub conn: ConnArgs,
}

#[derive(clap::Args, Debug)]
pub struct RequestArgs {
    /// The endpoint: varz, connz, subsz, routez, gatewayz, leafz, accountz,
    /// jsz, healthz, statsz or idz
    pub endpoint: String,
    /// How many servers to expect
    pub expect: Option<usize>,
    /// Only servers whose name contains this
    #[arg(long)]
    pub name: Option<String>,
    /// Only servers whose host contains this
    #[arg(long)]
    pub host: Option<String>,
    /// Only servers of a cluster whose name contains this
    #[arg(long)]
    pub cluster: Option<String>,
    /// Ask the server with this ID only
    #[arg(long = "server-id")]
    pub server_id: Option<String>,
    #[command(flatten)]
    pub conn: ConnArgs,
}

/// The answers to one request: each with the time it took to arrive.
pub(super) async fn gather(
    conn: &ConnArgs,
    name: &str,
    subject: &str,
    body: Value,
    expect: Option<usize>,
) -> Result<Vec<(Value, Duration)>> {
    let client = conn.connect(name).await?;
    let inbox = client.new_inbox();
    let mut replies = client.subscribe(inbox.clone()).await?;
    let start = Instant::now();
    client
        .publish_with_reply(subject.to_string(), inbox, body.to_string().into())
        .await?;
    client.flush().await?;
    let deadline = tokio::time::Instant::now() + conn.timeout;
    // Without a count, the answers are in once none came for a while.
    let quiet = Duration::from_millis(300);
    let mut answers = Vec::new();
    let mut expect = expect;
    loop {
        let wait = match expect {
            Some(n) if answers.len() >= n => break,
            Some(_) => deadline,
            None if answers.is_empty() => deadline,
            None => deadline.min(tokio::time::Instant::now() + quiet),
        };
        let Ok(Some(msg)) = tokio::time::timeout_at(wait, replies.next()).await else {
            break;
        };
        if msg.status.is_some_and(|s| s.as_u16() == 503) {
            bail!("no responders on {subject}: ensure a system account user is used");
        }
        let value: Value = serde_json::from_slice(&msg.payload).context("decoding an answer")?;
        // `server ping` learns how many to wait for from the first answer.
        if expect.is_none() && answers.is_empty() && name == "junction server ping" {
            expect = value["statsz"]["active_servers"].as_u64().map(|n| n as usize);
        }
        answers.push((value, start.elapsed()));
    }
    Ok(answers)
}

pub(crate) async fn ping(args: PingArgs) -> Result<()> {
    let answers = gather(
        &args.conn,
        "junction server ping",
        "$SYS.REQ.SERVER.PING",
        json!({}),
        args.expect,
    )
    .await?;
    let mut out = String::new();
    let mut times = Vec::new();
    for (answer, rtt) in &answers {
        let server = &answer["server"];
        let name = server["name"].as_str().unwrap_or("");
        if args.id {
            let id = server["id"].as_str().unwrap_or("");
            out.push_str(&format!("{id} {name:<60} rtt={rtt:?}\n"));
        } else {
            out.push_str(&format!("{name:<60} rtt={rtt:?}\n"));
        }
        times.push(rtt.as_secs_f64() * 1000.0);
    }
    out.push_str("\n---- ping statistics ----\n");
    if times.is_empty() {
        out.push_str("no responses received\n");
    } else {
        let max = times.iter().cloned().fold(f64::MIN, f64::max);
        let min = times.iter().cloned().fold(f64::MAX, f64::min);
        let avg = times.iter().sum::<f64>() / times.len() as f64;
        out.push_str(&format!(
            "{} replies max: {max:.2} min: {min:.2} avg: {avg:.2}\n",
            times.len()
        ));
    }
    let expected = args.expect.or_else(|| {
        answers
            .first()
            .and_then(|(a, _)| a["statsz"]["active_servers"].as_u64())
            .map(|n| n as usize)
    });
    if let Some(n) = expected.filter(|n| *n > answers.len()) {
        out.push_str(&format!("\nMissing {} server(s)\n", n - answers.len()));
    }
    with_stdout(|w| w.write_all(out.as_bytes()))?;
    Ok(())
}

pub(crate) async fn list(args: ListArgs) -> Result<()> {
    let answers = gather(
        &args.conn,
        "junction server list",
        "$SYS.REQ.SERVER.PING",
        json!({}),
        args.expect,
    )
    .await?;
    if answers.is_empty() {
        bail!(
            "no results received, ensure the account used has system privileges and appropriate permissions"
        );
    }
    if args.json {
        let list: Vec<&Value> = answers.iter().map(|(a, _)| a).collect();
        let text = serde_json::to_string_pretty(&list)?;
        with_stdout(|w| writeln!(w, "{text}"))?;
        return Ok(());
    }
    let mut t = BoxTable::new(
        "Server Overview",
        &[
            "Name", "Cluster", "Host", "Version", "JS", "Conns", "Subs", "Routes", "GWs", "Mem", "CPU %",
            "Cores", "Slow", "Uptime", "RTT",
        ],
    );
    let (mut conns, mut subs, mut mem, mut slow, mut js) = (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut clusters: Vec<&str> = Vec::new();
    for (answer, rtt) in &answers {
        let (server, stats) = (&answer["server"], &answer["statsz"]);
        let n = |v: &Value| v.as_u64().unwrap_or(0);
        let jetstream = if server["jetstream"] == true {
            js += 1;
            server["domain"].as_str().unwrap_or("yes")
        } else {
            "no"
        };
        if let Some(c) = server["cluster"].as_str().filter(|c| !c.is_empty()) {
            if !clusters.contains(&c) {
                clusters.push(c);
            }
        }
        conns += n(&stats["connections"]);
        subs += n(&stats["subscriptions"]);
        mem += n(&stats["mem"]);
        slow += n(&stats["slow_consumers"]);
        let uptime = uptime_of(server["time"].as_str(), stats["start"].as_str());
        t.row(vec![
            server["name"].as_str().unwrap_or("").into(),
            server["cluster"].as_str().unwrap_or("").into(),
            server["host"].as_str().unwrap_or("").into(),
            server["ver"].as_str().unwrap_or("").into(),
            jetstream.into(),
            comma(n(&stats["connections"])),
            comma(n(&stats["subscriptions"])),
            stats["routes"].as_array().map_or(0, Vec::len).to_string(),
            stats["gateways"].as_array().map_or(0, Vec::len).to_string(),
            ibytes(n(&stats["mem"])),
            format!("{:.0}", stats["cpu"].as_f64().unwrap_or(0.0)),
            n(&stats["cores"]).to_string(),
            comma(n(&stats["slow_consumers"])),
            uptime,
            format!("{}ms", rtt.as_millis()),
        ]);
    }
    t.footer(vec![
        String::new(),
        clusters.len().to_string(),
        answers.len().to_string(),
        String::new(),
        js.to_string(),
        comma(conns),
        comma(subs),
        String::new(),
        String::new(),
        ibytes(mem),
        String::new(),
        String::new(),
        comma(slow),
        String::new(),
        String::new(),
    ]);
    let text = t.render();
    with_stdout(|w| w.write_all(text.as_bytes()))?;
    Ok(())
}

/// The time between a server's start and its answer, as nats-server
/// writes uptimes.
fn uptime_of(now: Option<&str>, start: Option<&str>) -> String {
    let parse = |t: Option<&str>| t.and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
    match (parse(now), parse(start)) {
        (Some(now), Some(start)) => crate::monitor::time::uptime((now - start).to_std().unwrap_or_default()),
        _ => String::new(),
    }
}

pub(crate) async fn request(args: RequestArgs) -> Result<()> {
    let endpoint = args.endpoint.to_ascii_uppercase();
    const ENDPOINTS: [&str; 11] = [
        "VARZ", "CONNZ", "SUBSZ", "ROUTEZ", "GATEWAYZ", "LEAFZ", "ACCOUNTZ", "JSZ", "HEALTHZ", "STATSZ",
        "IDZ",
    ];
    if !ENDPOINTS.contains(&endpoint.as_str()) {
        bail!(
            "unknown endpoint {:?}: one of {}",
            args.endpoint,
            ENDPOINTS.join(", ").to_ascii_lowercase()
        );
    }
    let subject = match &args.server_id {
        Some(id) => format!("$SYS.REQ.SERVER.{id}.{endpoint}"),
        None => format!("$SYS.REQ.SERVER.PING.{endpoint}"),
    };
    let mut filter = serde_json::Map::new();
    for (key, value) in [
        ("server_name", &args.name),
        ("host", &args.host),
        ("cluster", &args.cluster),
    ] {
        if let Some(v) = value {
            filter.insert(key.into(), json!(v));
        }
    }
    let expect = args.expect.or(args.server_id.as_ref().map(|_| 1));
    let answers = gather(
        &args.conn,
        "junction server request",
        &subject,
        Value::Object(filter),
        expect,
    )
    .await?;
    if answers.is_empty() {
        bail!(
            "no results received, ensure the account used has system privileges and appropriate permissions"
        );
    }
    let mut out = String::new();
    for (answer, _) in &answers {
        out.push_str(&serde_json::to_string_pretty(answer)?);
        out.push('\n');
    }
    with_stdout(|w| w.write_all(out.as_bytes()))?;
    Ok(())
}
