//! Server options: everything the command line and the configuration file
//! can set, with nats-server's defaults.

use std::path::PathBuf;
use std::time::Duration;

/// Options for one server, after the config file and the command line have
/// both been applied (flags win, as in nats-server).
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// `server_name` / `-n`; defaults to the server id.
    pub server_name: Option<String>,
    /// `host` / `listen` / `-a` (default `0.0.0.0`).
    pub host: String,
    /// `port` / `-p` (default 4222; `-1` picks a random port, stored as 0).
    pub port: u16,
    /// `http_port` / `-m`, `http: host:port` (0 = off).
    pub http_host: Option<String>,
    pub http_port: u16,
    /// `max_payload` (default 1 MiB).
    pub max_payload: usize,
    /// `max_control_line` (default 4 KiB).
    pub max_control_line: usize,
    /// `max_connections` (default 64K).
    pub max_connections: usize,
    /// `max_subscriptions` per connection (0 = unlimited).
    pub max_subscriptions: usize,
    /// `max_pending` bytes buffered for one client before it is a slow consumer (default 64 MiB).
    pub max_pending: usize,
    /// `write_deadline` (default 10s).
    pub write_deadline: Duration,
    /// `ping_interval` (default 2m).
    pub ping_interval: Duration,
    /// `ping_max` outstanding pings before a connection is stale (default 2).
    pub ping_max: u32,
    /// `authorization { timeout }` / `auth_timeout` (default 2s).
    pub auth_timeout: Duration,
    /// `lame_duck_duration` (default 2m) and `lame_duck_grace_period` (default 10s).
    pub lame_duck_duration: Duration,
    pub lame_duck_grace_period: Duration,
    /// `authorization { user, password, token }` / `--user`, `--pass`, `--auth`.
    pub username: Option<String>,
    pub password: Option<String>,
    pub authorization: Option<String>,
    /// `no_auth_user`.
    pub no_auth_user: Option<String>,
    /// `log_file` / `-l`.
    pub log_file: Option<PathBuf>,
    /// `pid_file` / `-P`.
    pub pid_file: Option<PathBuf>,
    /// `ports_file_dir` / `--ports_file_dir`.
    pub ports_file_dir: Option<PathBuf>,
    /// `debug` / `-D`, `trace` / `-V`, `logtime`.
    pub debug: bool,
    pub trace: bool,
    pub logtime: bool,
    /// `jetstream` / `-js`, with `store_dir` / `-sd`.
    pub jetstream: bool,
    pub store_dir: Option<PathBuf>,
    /// `connect_urls`: advertised in INFO (`client_advertise`).
    pub client_advertise: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            server_name: None,
            host: "0.0.0.0".to_string(),
            port: 4222,
            http_host: None,
            http_port: 0,
            max_payload: 1024 * 1024,
            max_control_line: 4096,
            max_connections: 64 * 1024,
            max_subscriptions: 0,
            max_pending: 64 * 1024 * 1024,
            write_deadline: Duration::from_secs(10),
            ping_interval: Duration::from_secs(120),
            ping_max: 2,
            auth_timeout: Duration::from_secs(2),
            lame_duck_duration: Duration::from_secs(120),
            lame_duck_grace_period: Duration::from_secs(10),
            username: None,
            password: None,
            authorization: None,
            no_auth_user: None,
            log_file: None,
            pid_file: None,
            ports_file_dir: None,
            debug: false,
            trace: false,
            logtime: true,
            jetstream: false,
            store_dir: None,
            client_advertise: None,
        }
    }
}
