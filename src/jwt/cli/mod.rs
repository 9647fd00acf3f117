//! `junction auth`: set up decentralized (JWT) authentication without Go tooling.
//!
//! Keys and JWTs live in a store directory (`--dir`, else `$JUNCTION_AUTH_DIR`, else `./auth`), one file per
//! entity:
//!
//! ```text
//! operator/<name>.jwt  operator/<name>.nk  [operator/<name>.signing.nk]
//! accounts/<name>.jwt  accounts/<name>.nk
//! users/<account>/<name>.jwt  users/<account>/<name>.nk  users/<account>/<name>.creds
//! ```
//!
//! Seeds (`.nk`) and creds files are written with mode 0600. `junction auth config` prints the server
//! configuration that trusts the operator and preloads every account JWT.
//!
//! Here: the commands and their arguments. Beside it: `store`, `setup` and
//! `show`.

mod setup;
mod show;
mod store;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Subcommand};

use setup::*;
use show::*;
use store::*;

const DEFAULT_DIR: &str = "auth";
const DIR_ENV: &str = "JUNCTION_AUTH_DIR";
const SYSTEM_ACCOUNT: &str = "SYS";
const SYSTEM_USER: &str = "sys";

/// Decentralized authentication: an operator signs accounts, accounts sign users, users connect with a
/// `.creds` file. The store directory is `--dir`, else `$JUNCTION_AUTH_DIR`, else `./auth`.
#[derive(Subcommand, Debug, Clone)]
pub enum AuthCommand {
    /// Create an operator, the system account SYS, an account and a user with a creds file
    Init(InitArgs),
    /// Add an account, a user, an export or an import
    Add(AddArgs),
    /// Revoke a user: records the revocation in its account JWT and re-signs it
    Revoke(RevokeArgs),
    /// Print the server configuration: trusted operator, system account and preloaded account JWTs
    Config(ConfigArgs),
    /// List the operator, accounts and users with their public keys
    List(StoreArgs),
    /// Verify a JWT (a .jwt or .creds file, or the JWT text) and print its claims
    Describe(DescribeArgs),
}

/// Where the store is.
#[derive(Args, Debug, Clone, Default)]
pub struct StoreArgs {
    /// Store directory [default: $JUNCTION_AUTH_DIR or ./auth]
    #[arg(long, global = true, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// `junction auth init`.
#[derive(Args, Debug, Clone)]
pub struct InitArgs {
    /// Operator name
    #[arg(long, value_name = "NAME", default_value = "junction")]
    pub operator: String,
    /// Account to create besides SYS
    #[arg(long, value_name = "NAME", default_value = "APP")]
    pub account: String,
    /// User to create in that account
    #[arg(long, value_name = "NAME", default_value = "app")]
    pub user: String,
    /// Give the account unlimited JetStream
    #[arg(long)]
    pub js: bool,
    /// Also create an operator signing key and sign accounts with it (the operator key then stays offline)
    #[arg(long)]
    pub signing_key: bool,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `junction auth add ...`.
#[derive(Args, Debug, Clone)]
pub struct AddArgs {
    #[command(subcommand)]
    pub what: AddCommand,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// What `junction auth add` adds.
#[derive(Subcommand, Debug, Clone)]
pub enum AddCommand {
    /// Add an account signed by the operator
    Account {
        /// Account name
        name: String,
        /// Give the account unlimited JetStream
        #[arg(long)]
        js: bool,
    },
    /// Add a user to an account and write its creds file
    User(AddUserArgs),
    /// Export a stream or service from an account to all accounts
    Export {
        /// Exporting account
        #[arg(long, value_name = "ACCOUNT")]
        account: String,
        /// Subject to export (wildcards allowed)
        #[arg(long, value_name = "SUBJECT")]
        subject: String,
        /// Export a service (request/reply) instead of a stream
        #[arg(long)]
        service: bool,
        /// Export name [default: the subject]
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
    },
    /// Import another account's exported stream or service into an account
    Import {
        /// Importing account
        #[arg(long, value_name = "ACCOUNT")]
        account: String,
        /// Exporting account
        #[arg(long, value_name = "ACCOUNT")]
        from: String,
        /// Subject exported by the other account
        #[arg(long, value_name = "SUBJECT")]
        subject: String,
        /// Import a service instead of a stream
        #[arg(long)]
        service: bool,
        /// Subject it appears as in the importing account [default: the same]
        #[arg(long, value_name = "SUBJECT")]
        local_subject: Option<String>,
    },
}

/// `junction auth add user`.
#[derive(Args, Debug, Clone, Default)]
pub struct AddUserArgs {
    /// User name
    pub name: String,
    /// Account of the user [default: the only account besides SYS]
    #[arg(long, value_name = "ACCOUNT")]
    pub account: Option<String>,
    /// Subject the user may publish to (repeatable; none: all not denied)
    #[arg(long, value_name = "SUBJECT")]
    pub allow_pub: Vec<String>,
    /// Subject the user may subscribe to (repeatable; none: all not denied)
    #[arg(long, value_name = "SUBJECT")]
    pub allow_sub: Vec<String>,
    /// Subject the user may not publish to (repeatable)
    #[arg(long, value_name = "SUBJECT")]
    pub deny_pub: Vec<String>,
    /// Subject the user may not subscribe to (repeatable)
    #[arg(long, value_name = "SUBJECT")]
    pub deny_sub: Vec<String>,
    /// Allow publishing to reply subjects of received requests, this many replies each
    #[arg(long, value_name = "N", num_args = 0..=1, default_missing_value = "1")]
    pub allow_pub_response: Option<i64>,
    /// Validity of the user JWT, e.g. 1h, 30d [default: no expiry]
    #[arg(long, value_name = "DURATION")]
    pub expiry: Option<String>,
    /// Make the JWT a bearer token: connecting needs no nonce signature
    #[arg(long)]
    pub bearer: bool,
}

/// `junction auth revoke ...`.
#[derive(Args, Debug, Clone)]
pub struct RevokeArgs {
    #[command(subcommand)]
    pub what: RevokeCommand,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// What `junction auth revoke` revokes.
#[derive(Subcommand, Debug, Clone)]
pub enum RevokeCommand {
    /// Revoke a user's JWTs issued until now
    User {
        /// User name or public key
        name: String,
        /// Account of the user [default: the only account besides SYS]
        #[arg(long, value_name = "ACCOUNT")]
        account: Option<String>,
    },
}

/// `junction auth config`.
#[derive(Args, Debug, Clone, Default)]
pub struct ConfigArgs {
    /// Use a full account resolver storing JWTs in this directory instead of `resolver: MEMORY`
    #[arg(long, value_name = "DIR")]
    pub full: Option<PathBuf>,
    /// Write the configuration to this file instead of printing it
    #[arg(long, short = 'o', value_name = "FILE")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `junction auth describe`.
#[derive(Args, Debug, Clone)]
pub struct DescribeArgs {
    /// A .jwt or .creds file, or JWT text
    pub jwt: String,
}

/// Runs one `junction auth` command.
pub fn run(cmd: AuthCommand) -> Result<()> {
    match cmd {
        AuthCommand::Init(args) => init(&args),
        AuthCommand::Add(AddArgs { what, store }) => {
            let store = Store::open(&store);
            match what {
                AddCommand::Account { name, js } => add_account(&store, &name, js),
                AddCommand::User(args) => add_user(&store, &args),
                AddCommand::Export {
                    account,
                    subject,
                    service,
                    name,
                } => add_export(&store, &account, &subject, service, name),
                AddCommand::Import {
                    account,
                    from,
                    subject,
                    service,
                    local_subject,
                } => add_import(&store, &account, &from, &subject, service, local_subject),
            }
        }
        AuthCommand::Revoke(RevokeArgs {
            what: RevokeCommand::User { name, account },
            store,
        }) => revoke_user(&Store::open(&store), &name, account.as_deref()),
        AuthCommand::Config(args) => config(&args),
        AuthCommand::List(store) => list(&Store::open(&store)),
        AuthCommand::Describe(args) => describe(&args.jwt),
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Entry points for the module's tests.
    use std::path::Path;

    use super::*;

    pub fn config_text_for(dir: &Path, full: Option<&Path>) -> Result<String> {
        config_text(
            &Store::open(&StoreArgs {
                dir: Some(dir.to_path_buf()),
            }),
            full,
        )
    }

    pub fn subject_within_for(subject: &str, pattern: &str) -> bool {
        subject_within(subject, pattern)
    }
}
