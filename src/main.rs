//! The `junction` binary: a NATS server by default, and the NATS quick-start
//! client verbs (`pub`, `sub`, `req`, `reply`, `server info`, `bench`).

use clap::Parser;
use junction::cli::ClientCommand;
use junction::cli::{normalize_args, ServerFlags};
use junction::options::Options;

/// mimalloc rather than glibc's malloc: buffers are freed on another
/// worker thread than the one that allocated them (a message read by one
/// connection, stored, and delivered by another), and glibc then takes the
/// allocating arena's lock; under MQTT QoS 1 load that lock was where the
/// workers waited most.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(
    name = "junction",
    about = "A NATS server: native NATS, WebSocket and MQTT through one router"
)]
#[command(disable_version_flag = true, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(flatten)]
    server: ServerFlags,
    /// Show version
    #[arg(short = 'v', long = "version")]
    version: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    #[command(flatten)]
    Client(ClientCommand),
    /// Set up decentralized JWT auth: operator, accounts, users, creds files
    Auth {
        #[command(subcommand)]
        cmd: junction::jwt::cli::AuthCommand,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse_from(normalize_args(std::env::args()));
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("junction: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    if cli.version {
        println!("junction: v{}", env!("CARGO_PKG_VERSION"));
        return Ok(());
    }
    match cli.command {
        Some(Command::Auth { cmd }) => return junction::jwt::cli::run(cmd),
        Some(Command::Client(command)) => {
            return tokio::runtime::Runtime::new()?.block_on(junction::cli::run(command));
        }
        None => {}
    }
    let runtime = tokio::runtime::Runtime::new()?;
    let flags = cli.server;
    let mut opts = match &flags.config {
        Some(path) => junction::config::load_options(path).map_err(|e| anyhow::anyhow!("{e}"))?,
        None => Options::default(),
    };
    if let Some(signal) = &flags.signal {
        let pid_file = flags.pid.as_deref().or(opts.pid_file.as_deref());
        return junction::run::send_signal(signal, pid_file);
    }
    flags.apply(&mut opts)?;
    if flags.test_config {
        match &flags.config {
            Some(path) => println!("junction: configuration file {} is valid", path.display()),
            None => println!("junction: no configuration file given; flags are valid"),
        }
        return Ok(());
    }
    junction::run::init_logging(&opts)?;
    raise_open_files_limit();
    runtime.block_on(junction::run::serve(opts, move || flags.load()))
}

/// Lifts the soft limit on open files to the hard one, as Go's runtime does
/// for nats-server, so a server holding many clients is not capped at the
/// shell's usual 1024.
fn raise_open_files_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed in.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                tracing::debug!("could not raise the open files limit");
            }
        }
    }
}
