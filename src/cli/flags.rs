//! The server's command line, with nats-server's flag names.
//!
//! nats-server uses Go's flag package, where `-js`, `-sd` or `-DV` are
//! single-dash long flags. [`normalize_args`] rewrites those into clap's
//! double-dash form before parsing, so both spellings work.

use std::path::PathBuf;

use clap::Args;

use crate::options::Options;

/// Server flags, as `nats-server -h` lists them.
#[derive(Args, Debug, Default, Clone)]
pub struct ServerFlags {
    /// Bind to host address (default: 0.0.0.0)
    #[arg(short = 'a', long = "addr", visible_alias = "net", value_name = "host")]
    pub addr: Option<String>,
    /// Use port for clients (default: 4222; -1 for a random port)
    #[arg(
        short = 'p',
        long = "port",
        value_name = "port",
        allow_negative_numbers = true
    )]
    pub port: Option<i32>,
    /// Server name (default: auto)
    #[arg(
        short = 'n',
        long = "name",
        visible_alias = "server_name",
        value_name = "server_name"
    )]
    pub name: Option<String>,
    /// File to store PID
    #[arg(short = 'P', long = "pid", value_name = "file")]
    pub pid: Option<PathBuf>,
    /// Use port for http monitoring
    #[arg(
        short = 'm',
        long = "http_port",
        value_name = "port",
        allow_negative_numbers = true
    )]
    pub http_port: Option<i32>,
    /// Use port for https monitoring
    #[arg(
        long = "https_port",
        visible_alias = "ms",
        value_name = "port",
        allow_negative_numbers = true
    )]
    pub https_port: Option<i32>,
    /// Configuration file
    #[arg(short = 'c', long = "config", value_name = "file")]
    pub config: Option<PathBuf>,
    /// Test configuration and exit
    #[arg(short = 't')]
    pub test_config: bool,
    /// Send signal to junction process (ldm, stop, quit, term, reopen, reload); <pid> is a PID or a PID file
    #[arg(long = "signal", visible_alias = "sl", value_name = "signal[=pid]")]
    pub signal: Option<String>,
    /// Client URL to advertise to other servers
    #[arg(long = "client_advertise", value_name = "string")]
    pub client_advertise: Option<String>,
    /// Routes to solicit and connect (comma separated)
    #[arg(long = "routes", value_name = "rurl-1, rurl-2")]
    pub routes: Option<String>,
    /// Cluster URL for solicited routes
    #[arg(
        long = "cluster",
        visible_alias = "cluster_listen",
        value_name = "cluster-url"
    )]
    pub cluster: Option<String>,
    /// Cluster Name, if not set one will be dynamically generated
    #[arg(long = "cluster_name", value_name = "string")]
    pub cluster_name: Option<String>,
    /// Cluster URL to advertise to other servers
    #[arg(long = "cluster_advertise", value_name = "string")]
    pub cluster_advertise: Option<String>,
    /// Do not advertise known cluster information to clients
    #[arg(long = "no_advertise", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub no_advertise: Option<bool>,
    /// For implicit routes, number of connect retries
    #[arg(long = "connect_retries", value_name = "number")]
    pub connect_retries: Option<u32>,
    /// Creates a ports file in the specified directory (<executable_name>_<pid>.ports)
    #[arg(long = "ports_file_dir", value_name = "dir")]
    pub ports_file_dir: Option<PathBuf>,
    /// File to redirect log output
    #[arg(short = 'l', long = "log", value_name = "file")]
    pub log: Option<PathBuf>,
    /// Timestamp log entries (default: true)
    #[arg(short = 'T', long = "logtime", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub logtime: Option<bool>,
    /// Enable debugging output
    #[arg(short = 'D', long = "debug")]
    pub debug: bool,
    /// Trace the raw protocol
    #[arg(short = 'V', long = "trace")]
    pub trace: bool,
    /// Verbose trace
    #[arg(long = "VV")]
    pub verbose_trace: bool,
    /// Debug and trace
    #[arg(long = "DV")]
    pub debug_trace: bool,
    /// Debug and verbose trace
    #[arg(long = "DVV")]
    pub debug_verbose_trace: bool,
    /// Enable JetStream functionality
    #[arg(long = "jetstream", visible_alias = "js")]
    pub jetstream: bool,
    /// Set the storage directory
    #[arg(long = "store_dir", visible_alias = "sd", value_name = "dir")]
    pub store_dir: Option<PathBuf>,
    /// User required for connections
    #[arg(long = "user", value_name = "user")]
    pub user: Option<String>,
    /// Password required for connections
    #[arg(long = "pass", value_name = "password")]
    pub pass: Option<String>,
    /// Authorization token required for connections
    #[arg(long = "auth", value_name = "token")]
    pub auth: Option<String>,
    /// Enable TLS, do not verify clients (default: false)
    #[arg(long = "tls")]
    pub tls: bool,
    /// Server certificate file
    #[arg(long = "tlscert", value_name = "file")]
    pub tlscert: Option<PathBuf>,
    /// Private key for server certificate
    #[arg(long = "tlskey", value_name = "file")]
    pub tlskey: Option<PathBuf>,
    /// Enable TLS, verify client certificates
    #[arg(long = "tlsverify")]
    pub tlsverify: bool,
    /// Client certificate CA for verification
    #[arg(long = "tlscacert", value_name = "file")]
    pub tlscacert: Option<PathBuf>,
}

/// Go-style single-dash long flags and the clap spelling they become.
const GO_STYLE: &[&str] = &[
    "js",
    "sd",
    "sl",
    "DV",
    "DVV",
    "VV",
    "addr",
    "net",
    "port",
    "name",
    "server_name",
    "pid",
    "http_port",
    "https_port",
    "ms",
    "config",
    "signal",
    "client_advertise",
    "routes",
    "cluster",
    "cluster_listen",
    "cluster_name",
    "cluster_advertise",
    "no_advertise",
    "connect_retries",
    "ports_file_dir",
    "log",
    "logtime",
    "debug",
    "trace",
    "jetstream",
    "store_dir",
    "user",
    "pass",
    "auth",
    "tls",
    "tlscert",
    "tlskey",
    "tlsverify",
    "tlscacert",
    "help",
    "version",
];

/// Rewrites `-js` into `--js`, `-port=4222` into `--port=4222` and so on.
pub fn normalize_args(args: impl IntoIterator<Item = String>) -> Vec<String> {
    args.into_iter()
        .map(|arg| {
            if let Some(rest) = arg.strip_prefix('-') {
                if !rest.starts_with('-') {
                    let name = rest.split('=').next().unwrap_or(rest);
                    if GO_STYLE.contains(&name) {
                        return format!("-{arg}");
                    }
                }
            }
            arg
        })
        .collect()
}

impl ServerFlags {
    /// `--cluster`, `--cluster_name` and `--routes` over the `cluster {}`
    /// block, as nats-server merges them.
    fn apply_cluster(&self, opts: &mut Options) -> anyhow::Result<()> {
        if self.cluster.is_none()
            && self.cluster_name.is_none()
            && self.routes.is_none()
            && self.cluster_advertise.is_none()
            && self.no_advertise.is_none()
            && self.connect_retries.is_none()
        {
            return Ok(());
        }
        let mut cluster = opts.cluster.take().unwrap_or_default();
        if let Some(url) = &self.cluster {
            // `:-1` picks a free port, as for the client port.
            let given = url.strip_suffix(":-1").map(|u| format!("{u}:0"));
            let listen = crate::route::RouteUrl::parse(given.as_deref().unwrap_or(url))
                .map_err(|e| anyhow::anyhow!("error parsing cluster url {url:?}: {e}"))?;
            cluster.host = listen.host;
            cluster.port = listen.port;
            if listen.user.is_some() {
                cluster.auth.username = listen.user;
                cluster.auth.password = listen.password;
            }
        }
        if let Some(name) = &self.cluster_name {
            cluster.name = Some(name.clone());
        }
        if let Some(advertise) = &self.cluster_advertise {
            cluster.advertise = Some(advertise.clone());
        }
        if let Some(no) = self.no_advertise {
            cluster.no_advertise = no;
        }
        if let Some(n) = self.connect_retries {
            cluster.connect_retries = n;
        }
        if let Some(routes) = &self.routes {
            cluster.routes = Vec::new();
            for url in routes.split(',').map(str::trim).filter(|u| !u.is_empty()) {
                crate::route::RouteUrl::parse(url)
                    .map_err(|e| anyhow::anyhow!("error parsing route url {url:?}: {e}"))?;
                cluster.routes.push(url.to_string());
            }
        }
        opts.cluster = Some(cluster);
        Ok(())
    }

    /// The options as at start: the config file (`-c`) read again, then the
    /// flags over it. A reload calls this.
    pub fn load(&self) -> anyhow::Result<Options> {
        let mut opts = match &self.config {
            Some(path) => crate::config::load_options(path).map_err(|e| anyhow::anyhow!("{e}"))?,
            None => Options::default(),
        };
        self.apply(&mut opts)?;
        Ok(opts)
    }

    /// Applies the flags over options read from a config file: flags win.
    pub fn apply(&self, opts: &mut Options) -> anyhow::Result<()> {
        if let Some(a) = &self.addr {
            opts.host = a.clone();
        }
        if let Some(p) = self.port {
            opts.port = port_value(p, "port")?;
        }
        if let Some(n) = &self.name {
            opts.server_name = Some(n.clone());
        }
        if let Some(p) = &self.pid {
            opts.pid_file = Some(p.clone());
        }
        if let Some(p) = self.http_port {
            opts.http_port = monitor_port_value(p, "http_port")?;
        }
        if let Some(p) = self.https_port {
            opts.https_port = monitor_port_value(p, "https_port")?;
        }
        self.apply_cluster(opts)?;
        if let Some(a) = &self.client_advertise {
            opts.client_advertise = Some(a.clone());
        }
        if let Some(d) = &self.ports_file_dir {
            opts.ports_file_dir = Some(d.clone());
        }
        if let Some(l) = &self.log {
            opts.log_file = Some(l.clone());
        }
        if let Some(t) = self.logtime {
            opts.logtime = t;
        }
        if self.debug || self.debug_trace || self.debug_verbose_trace {
            opts.debug = true;
        }
        if self.trace || self.verbose_trace || self.debug_trace || self.debug_verbose_trace {
            opts.trace = true;
        }
        if self.jetstream {
            opts.jetstream = true;
        }
        if let Some(d) = &self.store_dir {
            opts.store_dir = Some(d.clone());
        }
        if let Some(u) = &self.user {
            opts.username = Some(u.clone());
        }
        if let Some(p) = &self.pass {
            opts.password = Some(p.clone());
        }
        if let Some(t) = &self.auth {
            opts.authorization = Some(t.clone());
        }
        // As nats-server: any TLS flag overrides the file's TLS settings as a whole.
        if self.tls
            || self.tlsverify
            || self.tlscert.is_some()
            || self.tlskey.is_some()
            || self.tlscacert.is_some()
        {
            if self.tlscert.is_none() {
                anyhow::bail!("TLS Server certificate must be present and valid");
            }
            if self.tlskey.is_none() {
                anyhow::bail!("TLS Server private key must be present and valid");
            }
            let tls = crate::tls::TlsOptions {
                cert_file: self.tlscert.clone(),
                key_file: self.tlskey.clone(),
                ca_file: self.tlscacert.clone(),
                verify: self.tlsverify,
                ..crate::tls::TlsOptions::default()
            };
            crate::tls::server_config(&tls).map_err(|e| anyhow::anyhow!("TLS: {e}"))?;
            opts.tls = Some(tls);
        }
        opts.check_merged().map_err(anyhow::Error::msg)
    }
}

/// `-1` means "any free port", which the OS picks when we bind port 0.
fn port_value(p: i32, flag: &str) -> anyhow::Result<u16> {
    match p {
        -1 => Ok(0),
        0..=65535 => Ok(p as u16),
        _ => anyhow::bail!("invalid value {p} for --{flag}: must be -1 or 0..65535"),
    }
}

/// A monitoring port flag: 0 is off, -1 a random port.
fn monitor_port_value(p: i32, flag: &str) -> anyhow::Result<Option<u16>> {
    Ok((p != 0).then_some(port_value(p, flag)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_style_flags_become_double_dash() {
        let args = [
            "junction", "-js", "-sd", "/tmp/x", "-p", "-1", "-DV", "-port=5", "-m", "8222",
        ];
        let out = normalize_args(args.iter().map(|s| s.to_string()));
        assert_eq!(
            out,
            ["junction", "--js", "--sd", "/tmp/x", "-p", "-1", "--DV", "--port=5", "-m", "8222"]
        );
    }

    #[derive(clap::Parser)]
    struct Cmd {
        #[command(flatten)]
        server: ServerFlags,
    }

    fn options(args: &[&str]) -> Options {
        use clap::Parser;
        let args = normalize_args(["junction"].iter().chain(args).map(|s| s.to_string()));
        let mut opts = Options::default();
        Cmd::parse_from(args).server.apply(&mut opts).unwrap();
        opts
    }

    #[test]
    fn monitoring_port_flags_as_nats_server_reads_them() {
        assert_eq!(options(&["-m", "8222"]).http_port, Some(8222));
        assert_eq!(options(&["-m", "-1"]).http_port, Some(0));
        assert_eq!(options(&["-m", "0"]).http_port, None);
        assert_eq!(options(&["-ms", "-1"]).https_port, Some(0));
        assert_eq!(options(&["--https_port", "8443"]).https_port, Some(8443));
    }
}
