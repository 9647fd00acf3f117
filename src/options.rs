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
    /// `http: host:port` / `https: host:port` set the monitoring host too.
    pub http_host: Option<String>,
    /// `http_port` / `-m`, `http`: plain HTTP monitoring (`None` = off,
    /// `Some(0)` = a random port, written `-1`).
    pub http_port: Option<u16>,
    /// `https_port` / `-ms`, `https`: monitoring over TLS with the client
    /// port's certificate, as nats-server serves it.
    pub https_port: Option<u16>,
    /// `http_base_path`: the monitoring endpoints' prefix, as written.
    pub http_base_path: String,
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
    /// `logfile_size_limit`: the log file is rotated past this many bytes
    /// (0: never), keeping `logfile_max_num` files (0: all).
    pub log_size_limit: u64,
    pub log_max_num: usize,
    /// `jetstream` / `-js`, with `store_dir` / `-sd`.
    pub jetstream: bool,
    pub store_dir: Option<PathBuf>,
    /// `jetstream { max_memory_store, max_file_store }`; -1 is no limit.
    pub js_max_memory: i64,
    pub js_max_store: i64,
    /// `jetstream { sync_interval }`: how often file stores are fsynced;
    /// `None` is `always` (after every write).
    pub sync_interval: Option<Duration>,
    /// `jetstream { domain }`.
    pub js_domain: Option<String>,
    /// `jetstream { strict }`: refuse API requests with unknown fields, as
    /// nats-server does by default since 2.12.
    pub js_strict: bool,
    /// `connect_urls`: advertised in INFO (`client_advertise`).
    pub client_advertise: Option<String>,
    /// Users from `authorization { users = [...] }` (account `None`, i.e.
    /// `$G`) and from each `accounts { X { users = [...] } }` (account `X`).
    pub users: Vec<UserConfig>,
    /// `accounts { ... }`.
    pub accounts: Vec<AccountConfig>,
    /// Top-level `mappings { }`: subject mappings of the global account.
    pub mappings: crate::mapping::MappingConfig,
    /// `system_account` (default `$SYS`).
    pub system_account: Option<String>,
    /// `authorization { default_permissions }`, for users without their own.
    pub default_permissions: Option<Permissions>,
    /// `operator`: operator JWTs (the file contents, or the JWT text).
    pub operators: Vec<String>,
    /// `trusted_keys` / `trusted`: operator public keys trusted without a JWT.
    pub trusted_keys: Vec<String>,
    /// `resolver`.
    pub resolver: Option<ResolverConfig>,
    /// `resolver_preload { ACCOUNT_PUBLIC_KEY: "account jwt" }`.
    pub resolver_preload: Vec<(String, String)>,
    /// `websocket { ... }`; `None` when there is no such block.
    pub websocket: Option<WebsocketOptions>,
    /// `mqtt { ... }`; `None` when there is no such block (or its port is 0).
    pub mqtt: Option<MqttOptions>,
    /// `cluster {}` / `--cluster`: routes to the other servers of a cluster.
    pub cluster: Option<ClusterOptions>,
    /// `leafnodes {}`: leaf node connections accepted and made.
    pub leafnodes: Option<LeafNodeOptions>,
    /// `gateway {}`: links to the other clusters of a supercluster.
    pub gateway: Option<GatewayOptions>,
    /// `tls { }` (or `--tls*` flags): clients on the NATS port must use TLS.
    pub tls: Option<crate::tls::TlsOptions>,
    /// Closed connections kept for `/connz?state=closed` (`max_closed_clients`, default 10000).
    pub max_closed_clients: usize,
}

/// A listener's own `authorization { user, password, token, timeout }` and
/// `no_auth_user` (`websocket {}`, `mqtt {}`): they apply to that listener's
/// clients only, as in nats-server.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListenerAuth {
    pub username: Option<String>,
    pub password: Option<String>,
    pub token: Option<String>,
    /// The listener's clients' time to CONNECT, instead of `auth_timeout`.
    pub timeout: Option<Duration>,
    pub no_auth_user: Option<String>,
}

/// `cluster { name, listen, routes, authorization { user, password,
/// timeout }, advertise, no_advertise, connect_retries }`, as nats-server
/// reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterOptions {
    /// The cluster's name; without one, a name is picked and peers may
    /// impose theirs (a dynamic name).
    pub name: Option<String>,
    pub host: String,
    /// 0 picks a free port (`-1` in the file).
    pub port: u16,
    /// Peers to connect to, as URLs (`nats://[user:pass@]host:port`).
    pub routes: Vec<String>,
    /// `host:port` peers are told to reach this server at.
    pub advertise: Option<String>,
    /// Tell clients nothing of the other servers, and peers nothing of
    /// this server's client URLs.
    pub no_advertise: bool,
    /// Attempts after the first to reach a server learnt by gossip.
    pub connect_retries: u32,
    /// Wait twice as long after each failed attempt (up to 30 s).
    pub connect_backoff: bool,
    /// `tls {}`: routes are TLS both ways, with this certificate.
    pub tls: Option<crate::tls::TlsOptions>,
    /// Credentials peers must present (`user`, `password`, `timeout`).
    pub auth: ListenerAuth,
    /// Keep-alive of routes; the server's `ping_interval` (at most 30 s, as
    /// nats-server caps it for routes) when not set.
    pub ping_interval: Option<std::time::Duration>,
    /// Unanswered PINGs before a route is stale; the server's when not set.
    pub ping_max: Option<u32>,
    /// How long a route may make no write progress before it is closed.
    pub write_deadline: Option<std::time::Duration>,
    /// Routes to each peer the accounts are spread over (`pool_size`, 3 by
    /// default as in nats-server 2.10+); negative: one route for all, as
    /// before 2.10.
    pub pool_size: i64,
    /// Accounts with a route of their own to each peer (`accounts`); the
    /// system account is one too while there is a pool.
    pub accounts: Vec<String>,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            name: None,
            host: "0.0.0.0".into(),
            port: 6222,
            routes: Vec::new(),
            advertise: None,
            no_advertise: false,
            connect_retries: 0,
            connect_backoff: false,
            tls: None,
            auth: ListenerAuth::default(),
            ping_interval: None,
            ping_max: None,
            write_deadline: None,
            pool_size: 3,
            accounts: Vec::new(),
        }
    }
}

/// `gateway { name, listen, authorization { user, password, timeout },
/// advertise, connect_retries, reject_unknown_cluster, gateways [...] }`,
/// as nats-server reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct GatewayOptions {
    /// This cluster's name among the gateways.
    pub name: String,
    pub host: String,
    /// 0 picks a free port (`-1` in the file).
    pub port: u16,
    /// `host:port` the other clusters are told to reach this server at.
    pub advertise: Option<String>,
    /// Attempts after the first to reach a gateway learnt from a peer.
    pub connect_retries: u32,
    /// Wait twice as long after each failed attempt (up to 30 s).
    pub connect_backoff: bool,
    /// Refuse gateways that are not in `gateways`.
    pub reject_unknown: bool,
    /// Credentials other clusters' servers must present.
    pub auth: ListenerAuth,
    /// `tls {}`: gateways are TLS both ways, first thing, with this
    /// certificate (and, dialling, this CA for the other cluster's).
    pub tls: Option<crate::tls::TlsOptions>,
    /// How long a gateway may make no write progress before it is closed.
    pub write_deadline: Option<Duration>,
    /// The other clusters to connect to.
    pub gateways: Vec<RemoteGateway>,
}

impl Default for GatewayOptions {
    fn default() -> Self {
        GatewayOptions {
            name: String::new(),
            host: "0.0.0.0".into(),
            port: 0,
            advertise: None,
            connect_retries: 0,
            connect_backoff: false,
            reject_unknown: false,
            auth: ListenerAuth::default(),
            tls: None,
            write_deadline: None,
            gateways: Vec::new(),
        }
    }
}

/// One of `gateway { gateways [...] }`: another cluster and where its
/// servers are.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RemoteGateway {
    pub name: String,
    /// `url` and `urls` (`nats://[user:pass@]host:port`).
    pub urls: Vec<String>,
    /// `tls {}` for dialling it, instead of the gateway's own.
    pub tls: Option<crate::tls::TlsOptions>,
}

/// `leafnodes { listen, authorization { user, password, account, timeout },
/// remotes [...] }`, as nats-server reads it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LeafNodeOptions {
    /// Where leaf nodes of this server (a hub) connect; `None` accepts none.
    pub listen: Option<(String, u16)>,
    /// Credentials the leaf nodes must present.
    pub auth: ListenerAuth,
    /// `tls {}`: leaf nodes must connect with TLS (after the hub's INFO).
    pub tls: Option<crate::tls::TlsOptions>,
    /// The account leaf nodes bind to here (`authorization { account }`);
    /// the global account by default.
    pub account: Option<String>,
    /// `authorization { users: [{ user, password, account }] }`: leaf
    /// nodes that present one of these bind to its account.
    pub users: Vec<LeafUser>,
    /// Hubs this server connects to as a leaf node.
    pub remotes: Vec<LeafRemote>,
}

/// One of `leafnodes { authorization { users } }`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LeafUser {
    pub user: String,
    pub password: String,
    /// The account its leaf connections bind (the hub's default without one).
    pub account: Option<String>,
}

/// One of `leafnodes { remotes [...] }`: a hub to connect to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LeafRemote {
    /// `url` or `urls`, tried in turn (`nats-leaf://`, `nats://`).
    pub urls: Vec<String>,
    /// The local account the connection binds (the global one by default).
    pub account: Option<String>,
    /// `credentials`: a `.creds` file (user JWT and seed) to authenticate
    /// with the hub, signing its nonce.
    pub credentials: Option<std::path::PathBuf>,
    /// `nkey` (or `seed`): a user seed; the hub's nonce is signed with it
    /// and its public key presented.
    pub nkey: Option<String>,
    /// `tls {}` (or a `tls://` URL): TLS to the hub, checked against
    /// `ca_file` (the system's roots without one), with this certificate.
    pub tls: Option<crate::tls::TlsOptions>,
}

/// `websocket { host, port, advertise, no_tls, tls, same_origin, allowed_origins, compression,
/// handshake_timeout, jwt_cookie, user_cookie, pass_cookie, token_cookie, headers,
/// no_auth_user, authorization { username/password/token, timeout } }`.
#[derive(Debug, Clone, PartialEq)]
pub struct WebsocketOptions {
    pub host: String,
    /// 0 picks a free port (`-1` in the file).
    pub port: u16,
    /// Serve plain `ws://`; nats-server requires either this or a `tls { }` block, and
    /// uses TLS whenever the block is there.
    pub no_tls: bool,
    /// `tls { }`: serve `wss://`.
    pub tls: Option<crate::tls::TlsOptions>,
    /// Only accept the Origin of the server's own host:port.
    pub same_origin: bool,
    /// Accepted `Origin` values (scheme://host[:port]); empty = any.
    pub allowed_origins: Vec<String>,
    /// Offer permessage-deflate.
    pub compression: bool,
    pub handshake_timeout: Duration,
    /// Cookie carrying a user JWT for browsers.
    pub jwt_cookie: Option<String>,
    /// Cookies carrying the user name, password and token, used when CONNECT has none.
    pub user_cookie: Option<String>,
    pub pass_cookie: Option<String>,
    pub token_cookie: Option<String>,
    /// Extra headers in the upgrade answer.
    pub headers: Vec<(String, String)>,
    /// Keep-alive PING interval for WebSocket clients, instead of `ping_interval`.
    pub ping_interval: Option<Duration>,
    /// The URL advertised for this listener (shown in `/varz`).
    pub advertise: Option<String>,
    /// Credentials that apply to WebSocket clients only.
    pub auth: ListenerAuth,
}

impl Default for WebsocketOptions {
    fn default() -> Self {
        WebsocketOptions {
            host: "0.0.0.0".into(),
            port: 8080,
            no_tls: true,
            tls: None,
            same_origin: false,
            allowed_origins: Vec::new(),
            compression: false,
            handshake_timeout: Duration::from_secs(2),
            jwt_cookie: None,
            user_cookie: None,
            pass_cookie: None,
            token_cookie: None,
            headers: Vec::new(),
            ping_interval: None,
            advertise: None,
            auth: ListenerAuth::default(),
        }
    }
}

/// `mqtt { host, port, tls, no_auth_user, authorization { username, password,
/// token, timeout }, ack_wait, max_ack_pending, js_domain, stream_replicas,
/// consumer_inactive_threshold }`, as nats-server reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct MqttOptions {
    pub host: String,
    /// 0 picks a free port (`-1` in the file).
    pub port: u16,
    pub tls: Option<crate::tls::TlsOptions>,
    /// Credentials that apply to MQTT clients only.
    pub auth: ListenerAuth,
    /// How long a QoS 1 or 2 message waits for its acknowledgement before it
    /// is sent again.
    pub ack_wait: Duration,
    /// QoS 1 and 2 messages a subscription may have unacknowledged at once.
    pub max_ack_pending: u16,
    /// The JetStream domain MQTT's streams live in.
    pub js_domain: Option<String>,
    /// Accepted for compatibility; a single server keeps one replica.
    pub stream_replicas: i64,
    /// How long the consumer of a session that has gone away is kept.
    pub consumer_inactive_threshold: Option<Duration>,
    /// MQTT 5 Receive Maximum announced in CONNACK: the QoS 1 and 2
    /// PUBLISHes a client may have unacknowledged towards the server.
    pub receive_maximum: u16,
}

/// The MQTT 5 Receive Maximum announced when the `mqtt {}` block sets
/// none. mosquitto announces 20; more lets a client keep its link busy
/// while acknowledgements travel, and still bounds what it leaves unsettled.
pub const DEFAULT_MQTT_RECEIVE_MAXIMUM: u16 = 1024;

impl Default for MqttOptions {
    fn default() -> Self {
        MqttOptions {
            host: "0.0.0.0".into(),
            port: 1883,
            tls: None,
            auth: ListenerAuth::default(),
            ack_wait: Duration::from_secs(30),
            max_ack_pending: 1024,
            js_domain: None,
            stream_replicas: 0,
            consumer_inactive_threshold: None,
            receive_maximum: DEFAULT_MQTT_RECEIVE_MAXIMUM,
        }
    }
}

/// One configured user: user/password (plain or bcrypt), or an nkey.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserConfig {
    pub username: Option<String>,
    pub password: Option<String>,
    /// Public user nkey (`U...`).
    pub nkey: Option<String>,
    /// The account the user belongs to; `None` is the global account `$G`.
    pub account: Option<String>,
    pub permissions: Option<Permissions>,
    /// `allowed_connection_types` (e.g. `STANDARD`, `WEBSOCKET`, `MQTT`); empty = all.
    pub allowed_connection_types: Vec<String>,
}

/// `permissions { publish, subscribe, allow_responses }`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Permissions {
    pub publish: Option<SubjectPermission>,
    pub subscribe: Option<SubjectPermission>,
    pub allow_responses: Option<ResponsePermission>,
}

/// Allow and deny lists of subjects (wildcards allowed). A bare list or
/// string in the config is an allow list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SubjectPermission {
    pub allow: Vec<String>,
    pub deny: Vec<String>,
}

/// `allow_responses`: may publish to reply subjects of requests received,
/// `max` times each (default 1) within `expires` (default: no limit).
#[derive(Debug, Clone, PartialEq)]
pub struct ResponsePermission {
    pub max: usize,
    pub expires: Option<Duration>,
}

impl Default for ResponsePermission {
    fn default() -> Self {
        ResponsePermission {
            max: 1,
            expires: None,
        }
    }
}

/// One entry of `accounts { ... }`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AccountConfig {
    pub name: String,
    pub exports: Vec<ExportConfig>,
    pub imports: Vec<ImportConfig>,
    /// `jetstream: enabled` (or a limits block) for this account.
    pub jetstream: bool,
    /// The account's JetStream limits (`jetstream { max_mem, max_store … }`).
    pub jetstream_limits: JsLimits,
    /// `mappings { }`: the account's subject mappings.
    pub mappings: crate::mapping::MappingConfig,
}

/// JetStream limits of an account; -1 is no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsLimits {
    pub max_memory: i64,
    pub max_store: i64,
    pub max_streams: i64,
    pub max_consumers: i64,
    /// Most unacknowledged messages of one consumer; also its default.
    pub max_ack_pending: i64,
    /// Largest `max_bytes` of one memory stream.
    pub memory_max_stream_bytes: i64,
    /// Largest `max_bytes` of one file stream.
    pub storage_max_stream_bytes: i64,
    /// Streams must set `max_bytes`.
    pub max_bytes_required: bool,
    /// The JWT has tiered limits but none for one replica (`R1`), which is
    /// every stream here: streams can't be created.
    pub no_tier: bool,
}

impl Default for JsLimits {
    fn default() -> Self {
        JsLimits {
            max_memory: -1,
            max_store: -1,
            max_streams: -1,
            max_consumers: -1,
            max_ack_pending: -1,
            memory_max_stream_bytes: -1,
            storage_max_stream_bytes: -1,
            max_bytes_required: false,
            no_tier: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExportKind {
    #[default]
    Stream,
    Service,
}

/// How many responses a service import may send back per request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResponseType {
    #[default]
    Singleton,
    Stream,
    Chunked,
}

/// `{ stream: "subj" }` or `{ service: "subj", response_type: ... }`, with
/// `accounts: [...]` making it private to those accounts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExportConfig {
    pub kind: ExportKind,
    pub subject: String,
    /// Accounts allowed to import; empty means public.
    pub accounts: Vec<String>,
    pub response_type: ResponseType,
}

/// `{ stream: { account, subject }, prefix | to }` or
/// `{ service: { account, subject }, to }`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportConfig {
    pub kind: ExportKind,
    /// The exporting account.
    pub account: String,
    /// The subject as exported.
    pub subject: String,
    /// Local subject to map to (`to`).
    pub to: Option<String>,
    /// Prefix prepended locally (stream imports, `prefix`).
    pub prefix: Option<String>,
}

/// `resolver: MEMORY` or `resolver { type: full, dir: ..., allow_delete }`.
#[derive(Debug, Clone, PartialEq)]
pub enum ResolverConfig {
    Memory,
    Full { dir: PathBuf, allow_delete: bool },
}

impl Default for Options {
    fn default() -> Self {
        Options {
            server_name: None,
            host: "0.0.0.0".to_string(),
            port: 4222,
            http_host: None,
            http_port: None,
            https_port: None,
            http_base_path: String::new(),
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
            log_size_limit: 0,
            log_max_num: 0,
            jetstream: false,
            store_dir: None,
            sync_interval: Some(Duration::from_secs(120)),
            js_domain: None,
            js_strict: true,
            js_max_memory: -1,
            js_max_store: -1,
            client_advertise: None,
            users: Vec::new(),
            accounts: Vec::new(),
            mappings: Vec::new(),
            system_account: None,
            default_permissions: None,
            operators: Vec::new(),
            trusted_keys: Vec::new(),
            resolver: None,
            resolver_preload: Vec::new(),
            websocket: None,
            mqtt: None,
            cluster: None,
            leafnodes: None,
            gateway: None,
            tls: None,
            max_closed_clients: 10_000,
        }
    }
}

impl Options {
    /// The rules that tie one option to another, checked once the file and
    /// the command-line flags are merged, as nats-server checks them: a
    /// flag may satisfy what the file alone does not (`-js` for an
    /// `mqtt {}` block). The monitoring ports' rules are checked when
    /// monitoring starts, from the same merged options.
    pub fn check_merged(&self) -> Result<(), String> {
        if self.mqtt.is_some() && !self.jetstream {
            return Err("mqtt requires JetStream to be enabled if running in standalone mode".into());
        }
        Ok(())
    }
}
