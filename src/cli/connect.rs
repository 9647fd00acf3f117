//! Connection options shared by every client verb (`-s/--server`, `--user`, `--password`,
//! `--token`, `--creds`, `--timeout`) and the async-nats connection built from them.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use async_nats::{ConnectOptions, Event, ServerAddr};

use super::{logln, parse_duration};

/// Server used when neither `--server` nor `NATS_URL` is given.
pub const DEFAULT_URL: &str = "nats://127.0.0.1:4222";
/// `--timeout` when not given (natscli's default too).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// User/password or token authentication (`--creds` is handled by async-nats itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    None,
    UserPassword(String, String),
    Token(String),
}

/// How to reach and authenticate to the server, as in the `nats` CLI.
#[derive(clap::Args, Debug, Clone)]
pub struct ConnArgs {
    /// NATS server URL(s), comma separated [env: NATS_URL] [default: nats://127.0.0.1:4222]
    #[arg(short = 's', long = "server", value_name = "URL")]
    pub server: Option<String>,
    /// Username for user/password authentication
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// Password for user/password authentication
    #[arg(long, value_name = "PASSWORD")]
    pub password: Option<String>,
    /// Token for token authentication
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,
    /// Credentials file (JWT and NKey seed)
    #[arg(long, value_name = "FILE")]
    pub creds: Option<PathBuf>,
    /// Time to wait for the connection and for responses
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// JetStream domain: API calls go to `$JS.<domain>.API`
    #[arg(long = "js-domain", value_name = "DOMAIN")]
    pub js_domain: Option<String>,
}

impl Default for ConnArgs {
    /// What the command line gives when no option is set.
    fn default() -> Self {
        ConnArgs {
            server: None,
            user: None,
            password: None,
            token: None,
            creds: None,
            timeout: DEFAULT_TIMEOUT,
            js_domain: None,
        }
    }
}

impl ConnArgs {
    /// The server URL(s) to use: `--server`, else `NATS_URL`, else [`DEFAULT_URL`].
    pub fn url(&self) -> String {
        if let Some(s) = &self.server {
            return s.clone();
        }
        match std::env::var("NATS_URL") {
            Ok(s) if !s.trim().is_empty() => s,
            _ => DEFAULT_URL.to_string(),
        }
    }

    /// Every URL of the comma-separated list, parsed.
    pub fn addrs(&self) -> Result<Vec<ServerAddr>> {
        let url = self.url();
        url.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<ServerAddr>()
                    .with_context(|| format!("invalid server URL {s:?}"))
            })
            .collect()
    }

    /// User/password or token to send: from the options, else from the first URL
    /// (`nats://user:pass@host`, or `nats://token@host`, as nats.go reads them).
    pub fn credentials(&self, addrs: &[ServerAddr]) -> Result<Credentials> {
        if let Some(user) = &self.user {
            return Ok(Credentials::UserPassword(
                user.clone(),
                self.password.clone().unwrap_or_default(),
            ));
        }
        anyhow::ensure!(self.password.is_none(), "--password needs --user");
        if let Some(token) = &self.token {
            return Ok(Credentials::Token(token.clone()));
        }
        let first = addrs.first();
        Ok(
            match (first.and_then(|a| a.username()), first.and_then(|a| a.password())) {
                (Some(user), Some(pass)) => Credentials::UserPassword(user.to_string(), pass.to_string()),
                (Some(token), None) => Credentials::Token(token.to_string()),
                _ => Credentials::None,
            },
        )
    }

    /// Connects with async-nats. `name` is the connection name the server sees.
    pub async fn connect(&self, name: &str) -> Result<async_nats::Client> {
        let addrs = self.addrs()?;
        anyhow::ensure!(!addrs.is_empty(), "no server URL given");
        let mut opts = match &self.creds {
            Some(path) => ConnectOptions::with_credentials_file(path)
                .await
                .with_context(|| format!("could not load credentials from {}", path.display()))?,
            None => ConnectOptions::new(),
        };
        match self.credentials(&addrs)? {
            Credentials::UserPassword(user, pass) => opts = opts.user_and_password(user, pass),
            Credentials::Token(token) => opts = opts.token(token),
            Credentials::None => {}
        }
        // The initial connect also raises `Connected`; only later ones are reconnections.
        let connected_before = Arc::new(AtomicBool::new(false));
        let opts = opts
            .name(name)
            .connection_timeout(self.timeout)
            .request_timeout(Some(self.timeout))
            .event_callback(move |event| {
                let reconnect =
                    matches!(event, Event::Connected) && connected_before.swap(true, Ordering::Relaxed);
                async move {
                    match event {
                        Event::Connected if reconnect => logln!("Reconnected"),
                        Event::Disconnected => logln!("Disconnected, will attempt to reconnect"),
                        Event::SlowConsumer(sid) => logln!("Slow consumer on subscription {sid}"),
                        Event::ServerError(err) => logln!("Server error: {err}"),
                        Event::LameDuckMode => logln!("Server entered lame duck mode"),
                        _ => {}
                    }
                }
            });
        // Name servers without any credentials the URLs may hold.
        let shown = addrs
            .iter()
            .map(|a| format!("{}://{}:{}", a.scheme(), a.host(), a.port()))
            .collect::<Vec<_>>();
        let shown = shown.join(",");
        opts.connect(addrs)
            .await
            .with_context(|| format!("could not connect to {shown}"))
    }
}
