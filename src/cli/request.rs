//! `junction req`: sends a request and prints the reply with its round-trip time, as natscli
//! does; exits non-zero when nobody answers.

use std::time::Instant;

use anyhow::{Context, Result};
use async_nats::{Request, RequestErrorKind};
use bytes::Bytes;

use super::publish::read_stdin;
use super::{logln, parse_headers, print_body, print_body_compact, template, with_stdout, ConnArgs};

#[derive(clap::Args, Debug)]
pub struct ReqArgs {
    /// Subject to send the request to
    pub subject: String,
    /// Request body; read from stdin when not given
    pub body: Option<String>,
    /// Adds headers to the message using K:V format
    #[arg(short = 'H', long = "header", value_name = "K:V")]
    pub headers: Vec<String>,
    /// Send multiple requests, one after the other
    #[arg(long, default_value_t = 1)]
    pub count: u64,
    /// Show just the output received
    #[arg(short, long)]
    pub raw: bool,
    /// Force reading the body from stdin
    #[arg(long)]
    pub force_stdin: bool,
    #[command(flatten)]
    pub conn: ConnArgs,
}

pub(crate) async fn run(args: ReqArgs) -> Result<()> {
    let client = args.conn.connect("junction req").await?;
    let body = match (&args.body, args.force_stdin) {
        (Some(body), false) => body.clone(),
        _ => {
            if !args.raw {
                logln!("Reading payload from STDIN");
            }
            read_stdin().await?
        }
    };
    for i in 1..=args.count.max(1) {
        let subject = template::render(&args.subject, i, None);
        let payload = Bytes::from(template::render(&body, i, None));
        if !args.raw {
            logln!("Sending request on {subject:?}");
        }
        let mut request = Request::new().payload(payload).timeout(Some(args.conn.timeout));
        if let Some(headers) = parse_headers(&args.headers, i)? {
            request = request.headers(headers);
        }
        let start = Instant::now();
        let reply = match client.send_request(subject.clone(), request).await {
            Ok(reply) => reply,
            Err(e) if e.kind() == RequestErrorKind::NoResponders => {
                logln!("No responders are available");
                // natscli exits 0 here; a script needs to tell, so this one does not.
                std::process::exit(1);
            }
            Err(e) if e.kind() == RequestErrorKind::TimedOut => {
                anyhow::bail!("no reply on {subject:?} within {:?}", args.conn.timeout)
            }
            Err(e) => return Err(e).with_context(|| format!("request on {subject:?} failed")),
        };
        let rtt = start.elapsed();
        if !args.raw {
            logln!("Received with rtt {rtt:?}");
            if let Some(headers) = reply.headers.as_ref().filter(|h| !h.is_empty()) {
                for (name, values) in headers.iter() {
                    for value in values {
                        logln!("{name}: {value}");
                    }
                }
                logln!("");
            }
        }
        let open = with_stdout(|out| {
            if args.raw {
                print_body_compact(out, &reply.payload)
            } else {
                print_body(out, &reply.payload)
            }
        })?;
        if !open {
            break;
        }
    }
    Ok(())
}
