//! Server mode of the binary: logging, pid and ports files, signals
//! (SIGINT/SIGTERM stop, SIGUSR1 log reopen, SIGUSR2 lame duck) and
//! `--signal` to a running server.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::signal::unix::{signal, SignalKind};
use tracing_subscriber::{reload, EnvFilter, Registry};

use crate::options::Options;
use crate::server::Server;

/// The level `-D`/`-V` (`debug`, `trace`) ask for.
fn level(opts: &Options) -> &'static str {
    if opts.trace {
        "trace"
    } else if opts.debug {
        "debug"
    } else {
        "info"
    }
}

/// `logtime`: whether log lines start with the time. A reload may turn it.
static LOGTIME: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// The time of a log line, while `logtime` is on.
struct Logtime;

impl tracing_subscriber::fmt::time::FormatTime for Logtime {
    fn format_time(&self, w: &mut tracing_subscriber::fmt::format::Writer<'_>) -> std::fmt::Result {
        if LOGTIME.load(std::sync::atomic::Ordering::Relaxed) {
            tracing_subscriber::fmt::time::SystemTime.format_time(w)
        } else {
            Ok(())
        }
    }
}

/// Applies a reloaded configuration's `logtime`.
pub fn set_logtime(on: bool) {
    LOGTIME.store(on, std::sync::atomic::Ordering::Relaxed);
}

type Filtered = tracing_subscriber::layer::Layered<reload::Layer<EnvFilter, Registry>, Registry>;
type Output = tracing_subscriber::fmt::Layer<
    Filtered,
    tracing_subscriber::fmt::format::DefaultFields,
    tracing_subscriber::fmt::format::Format<tracing_subscriber::fmt::format::Full, Logtime>,
    crate::logfile::LogOutput,
>;

/// What a configuration reload changes in the installed logger: the level
/// (`debug`, `trace`) and the output's colours, which follow where lines go.
struct LogHandles {
    level: reload::Handle<EnvFilter, Registry>,
    output: reload::Handle<Output, Filtered>,
}

static LOG_HANDLES: std::sync::OnceLock<LogHandles> = std::sync::OnceLock::new();

/// Log lines for the log file in force, or stderr: colours only on a terminal.
fn output() -> Output {
    use std::io::IsTerminal;
    let ansi = !crate::logfile::LogFile::in_use() && std::io::stderr().is_terminal();
    tracing_subscriber::fmt::layer()
        .with_timer(Logtime)
        .with_target(false)
        .with_ansi(ansi)
        .with_writer(crate::logfile::LogOutput)
}

/// Sets up tracing to stderr or the log file, at the level `-D`/`-V` ask for.
pub fn init_logging(opts: &Options) -> anyhow::Result<()> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level(opts)));
    set_logtime(opts.logtime);
    if let Some(path) = &opts.log_file {
        crate::logfile::LogFile::install(path)
            .with_context(|| format!("opening log file {}", path.display()))?;
        crate::logfile::LogFile::set_rotation(opts.log_size_limit, opts.log_max_num);
    }
    let (filter, level) = reload::Layer::new(filter);
    let (output, output_handle) = reload::Layer::new(output());
    tracing_subscriber::registry()
        .with(filter)
        .with(output)
        .try_init()
        .map_err(|e| anyhow::anyhow!("logging: {e}"))?;
    let _ = LOG_HANDLES.set(LogHandles {
        level,
        output: output_handle,
    });
    Ok(())
}

/// Applies a reloaded configuration's `debug`/`trace` to the logger.
pub fn set_log_level(opts: &Options) {
    if let Some(h) = LOG_HANDLES.get() {
        let _ = h.level.reload(EnvFilter::new(level(opts)));
    }
}

/// A reload started or stopped logging to a file: colours follow.
pub fn log_output_changed() {
    if let Some(h) = LOG_HANDLES.get() {
        let _ = h.output.reload(output());
    }
}

/// A started server: where it listens and how to stop it.
pub struct RunningServer {
    pub server: Arc<Server>,
    pub addr: SocketAddr,
    pub accept_task: tokio::task::JoinHandle<()>,
    /// Its routes, when it is part of a cluster.
    pub cluster: Option<Arc<crate::route::Cluster>>,
    /// Its leaf node connections, when `leafnodes {}` is configured.
    pub leafnodes: Option<Arc<crate::leaf::LeafNodes>>,
    /// Its gateways to other clusters, when `gateway {}` is configured.
    pub gateways: Option<Arc<crate::gateway::Gateways>>,
}

impl RunningServer {
    /// Resolves when the server has fully stopped.
    pub async fn wait(self) {
        let _ = self.accept_task.await;
    }
}

/// Starts a server with its NATS client port and its cluster routes; the
/// other listeners are started by [`serve`].
pub async fn start(opts: Options) -> anyhow::Result<RunningServer> {
    let cluster_options = opts.cluster.clone();
    let server = Server::prepare(opts)?;
    crate::system::install(&server);
    let (addr, accept_task) = crate::nats::listen(server.clone()).await?;
    let cluster = match &cluster_options {
        Some(options) => Some(crate::route::start(server.clone(), options).await?),
        None => None,
    };
    let leafnodes = match server.opts().leafnodes.clone() {
        Some(options) => Some(crate::leaf::start(server.clone(), &options).await?),
        None => None,
    };
    let gateways = match server.opts().gateway.clone() {
        Some(options) => Some(crate::gateway::start(server.clone(), &options).await?),
        None => None,
    };
    Ok(RunningServer {
        server,
        addr,
        accept_task,
        cluster,
        leafnodes,
        gateways,
    })
}

/// Runs the server until it is stopped by a signal; `reload` reads the
/// configuration again for SIGHUP.
pub async fn serve(
    opts: Options,
    reload: impl Fn() -> anyhow::Result<Options> + Send + Sync + 'static,
) -> anyhow::Result<()> {
    let running = start(opts.clone()).await?;
    let server = running.server.clone();
    server.set_reloader(Box::new(reload));
    let http = crate::monitor::start_configured(server.clone(), &opts).await?;
    // One MQTT state for the MQTT port and MQTT over WebSocket.
    let mqtt = opts.mqtt.as_ref().map(|_| Arc::new(crate::mqtt::Mqtt::default()));
    let websocket = match &opts.websocket {
        Some(ws) => {
            let addr = crate::websocket::start(server.clone(), ws, mqtt.clone()).await?;
            Some((if ws.tls.is_some() { "wss" } else { "ws" }, addr))
        }
        None => None,
    };
    if let (Some(options), Some(mqtt)) = (&opts.mqtt, mqtt) {
        crate::mqtt::start(server.clone(), options, mqtt).await?;
    }
    let pid_file = opts.pid_file.clone();
    if let Some(path) = &pid_file {
        std::fs::write(path, std::process::id().to_string())
            .with_context(|| format!("writing pid file {}", path.display()))?;
    }
    let ports_file = match &opts.ports_file_dir {
        Some(dir) => Some(write_ports_file(dir, &opts, running.addr, http, websocket)?),
        None => None,
    };
    tracing::info!(
        "Starting junction {} (NATS protocol {}), server id {}, name {}",
        env!("CARGO_PKG_VERSION"),
        crate::server::NATS_COMPAT_VERSION,
        server.id,
        server.name
    );
    tracing::info!("Server is ready");

    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut usr1 = signal(SignalKind::user_defined1())?;
    let mut usr2 = signal(SignalKind::user_defined2())?;
    let mut hup = signal(SignalKind::hangup())?;
    let accept = tokio::spawn(running.wait());
    tokio::pin!(accept);
    loop {
        tokio::select! {
            _ = term.recv() => { tracing::info!("Trapped \"terminated\" signal"); server.shutdown(); }
            _ = int.recv() => { tracing::info!("Trapped \"interrupt\" signal"); server.shutdown(); }
            _ = usr2.recv() => { tokio::spawn(server.clone().lame_duck()); }
            _ = usr1.recv() => match crate::logfile::LogFile::reopen() {
                Ok(true) => tracing::info!("Reopened log file"),
                Ok(false) => {}
                Err(e) => eprintln!("junction: reopening the log file: {e}"),
            },
            _ = hup.recv() => {
                let result = server
                    .reloader()
                    .map_or_else(|| Ok(server.opts().as_ref().clone()), |load| load())
                    .and_then(|new| server.reload(new).map_err(anyhow::Error::from));
                if let Err(e) = result {
                    tracing::error!("Failed to reload server configuration: {e:#}");
                }
            }
            _ = &mut accept => break,
        }
    }
    server.wait_closed(Duration::from_secs(5)).await;
    for path in [pid_file, ports_file].into_iter().flatten() {
        let _ = std::fs::remove_file(path);
    }
    tracing::info!("Server Exiting..");
    Ok(())
}

/// `<exe>_<pid>.ports` holding the URLs clients can use, as nats-server writes.
fn write_ports_file(
    dir: &Path,
    opts: &Options,
    addr: std::net::SocketAddr,
    http: Option<(&str, std::net::SocketAddr)>,
    websocket: Option<(&str, std::net::SocketAddr)>,
) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "junction".into());
    let path = dir.join(format!("{exe}_{}.ports", std::process::id()));
    let host = if opts.host == "0.0.0.0" || opts.host == "::" {
        "127.0.0.1".to_string()
    } else {
        opts.host.clone()
    };
    let mut body = serde_json::json!({ "nats": [format!("nats://{host}:{}", addr.port())] });
    if let Some((scheme, h)) = http {
        body["monitoring"] = serde_json::json!([format!("{scheme}://{host}:{}", h.port())]);
    }
    if let Some((scheme, w)) = websocket {
        body["websocket"] = serde_json::json!([format!("{scheme}://{host}:{}", w.port())]);
    }
    std::fs::write(&path, serde_json::to_vec_pretty(&body)?)
        .with_context(|| format!("writing ports file {}", path.display()))?;
    Ok(path)
}

/// `--signal name[=pid|pidfile]`: sends the matching Unix signal to a
/// running server, as `nats-server --signal` does.
pub fn send_signal(spec: &str, pid_file: Option<&Path>) -> anyhow::Result<()> {
    let (name, target) = match spec.split_once('=') {
        Some((n, t)) => (n, Some(t)),
        None => (spec, None),
    };
    let sig = match name {
        "ldm" => libc::SIGUSR2,
        "stop" | "term" => libc::SIGTERM,
        "quit" => libc::SIGINT,
        "reopen" => libc::SIGUSR1,
        "reload" => libc::SIGHUP,
        other => anyhow::bail!("unknown signal {other:?}"),
    };
    let pid_text = match (target, pid_file) {
        (Some(t), _) if t.chars().all(|c| c.is_ascii_digit()) => t.to_string(),
        (Some(t), _) => std::fs::read_to_string(t).with_context(|| format!("reading pid file {t}"))?,
        (None, Some(f)) => {
            std::fs::read_to_string(f).with_context(|| format!("reading pid file {}", f.display()))?
        }
        (None, None) => anyhow::bail!("no pid given: use --signal {name}=<pid> or set a pid file"),
    };
    let pid: i32 = pid_text.trim().parse().context("invalid pid")?;
    // SAFETY: kill(2) with a valid signal number has no memory effects.
    if unsafe { libc::kill(pid, sig) } != 0 {
        anyhow::bail!("sending signal to {pid}: {}", std::io::Error::last_os_error());
    }
    Ok(())
}
