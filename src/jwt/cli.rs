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

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Subcommand};
use nkeys::KeyPair;

use super::{
    decode_without_time_check, encode, format_creds, now_unix, parse_decorated_jwt, Account, AccountClaims,
    ClaimKind, Claims, Export, ExportType, Import, JwtError, Operator, OperatorClaims, Permission,
    ResponsePermission, User, UserClaims, NO_LIMIT,
};

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

/// A decoded entity of the store.
struct Entity<T> {
    name: String,
    jwt: String,
    claims: Claims<T>,
}

struct Store {
    dir: PathBuf,
}

fn check_name(kind: &str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if !ok {
        bail!("invalid {kind} name {name:?}: use letters, digits, '_', '-' and '.'");
    }
    Ok(())
}

fn write_file(path: &Path, contents: &str, secret: bool) -> Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut file = opts
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::PermissionsExt;
        // The file may have existed with wider permissions.
        file.set_permissions(fs::Permissions::from_mode(0o600))?;
    }
    std::io::Write::write_all(&mut file, contents.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

fn read_file(path: &Path) -> Result<String> {
    fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

fn read_seed(path: &Path) -> Result<KeyPair> {
    let text = read_file(path)?;
    KeyPair::from_seed(text.trim()).map_err(|e| anyhow!("bad nkey seed in {}: {e}", path.display()))
}

fn seed_of(kp: &KeyPair) -> Result<String> {
    kp.seed().map_err(|e| anyhow!("cannot export seed: {e}"))
}

/// Names of `*.<ext>` files in `dir`, sorted, without the extension.
fn names_in(dir: &Path, ext: &str) -> Result<Vec<String>> {
    let mut names = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(names),
        Err(e) => return Err(e).with_context(|| format!("listing {}", dir.display())),
    };
    for entry in entries {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) == Some(ext) {
            if let Some(stem) = path.file_stem().and_then(|s| s.to_str()) {
                if !stem.ends_with(".signing") {
                    names.push(stem.to_string());
                }
            }
        }
    }
    names.sort();
    Ok(names)
}

fn load_jwt<T: ClaimKind>(path: &Path, name: &str) -> Result<Entity<T>> {
    let jwt = parse_decorated_jwt(&read_file(path)?);
    let claims =
        decode_without_time_check::<T>(&jwt).with_context(|| format!("verifying {}", path.display()))?;
    Ok(Entity {
        name: name.to_string(),
        jwt,
        claims,
    })
}

impl Store {
    fn open(args: &StoreArgs) -> Store {
        let dir = args
            .dir
            .clone()
            .or_else(|| {
                std::env::var_os(DIR_ENV)
                    .filter(|v| !v.is_empty())
                    .map(PathBuf::from)
            })
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DIR));
        Store { dir }
    }

    fn operator_dir(&self) -> PathBuf {
        self.dir.join("operator")
    }
    fn account_path(&self, name: &str, ext: &str) -> PathBuf {
        self.dir.join("accounts").join(format!("{name}.{ext}"))
    }
    fn user_path(&self, account: &str, name: &str, ext: &str) -> PathBuf {
        self.dir.join("users").join(account).join(format!("{name}.{ext}"))
    }

    fn operator(&self) -> Result<Entity<Operator>> {
        let names = names_in(&self.operator_dir(), "jwt")?;
        match names.as_slice() {
            [name] => load_jwt(&self.operator_dir().join(format!("{name}.jwt")), name),
            [] => bail!(
                "no operator in {}: run `junction auth init` first",
                self.dir.display()
            ),
            _ => bail!("more than one operator JWT in {}", self.operator_dir().display()),
        }
    }

    /// The key that signs account JWTs: the operator signing key when there is one, else the operator key.
    fn account_signer(&self, op: &Entity<Operator>) -> Result<KeyPair> {
        let signing = self.operator_dir().join(format!("{}.signing.nk", op.name));
        if signing.exists() {
            return read_seed(&signing);
        }
        read_seed(&self.operator_dir().join(format!("{}.nk", op.name)))
    }

    fn account(&self, name: &str) -> Result<Entity<Account>> {
        check_name("account", name)?;
        let path = self.account_path(name, "jwt");
        if !path.exists() {
            bail!("no account {name:?} in {}", self.dir.display());
        }
        load_jwt(&path, name)
    }

    fn accounts(&self) -> Result<Vec<Entity<Account>>> {
        names_in(&self.dir.join("accounts"), "jwt")?
            .iter()
            .map(|n| self.account(n))
            .collect()
    }

    /// The named account, or the only one besides SYS when no name is given.
    fn pick_account(&self, name: Option<&str>) -> Result<String> {
        if let Some(name) = name {
            return Ok(name.to_string());
        }
        let names: Vec<String> = names_in(&self.dir.join("accounts"), "jwt")?
            .into_iter()
            .filter(|n| n != SYSTEM_ACCOUNT)
            .collect();
        match names.as_slice() {
            [only] => Ok(only.clone()),
            [] => bail!(
                "no account in {}: run `junction auth init` first",
                self.dir.display()
            ),
            _ => bail!(
                "several accounts ({}): choose one with --account",
                names.join(", ")
            ),
        }
    }

    fn users(&self, account: &str) -> Result<Vec<Entity<User>>> {
        let dir = self.dir.join("users").join(account);
        names_in(&dir, "jwt")?
            .iter()
            .map(|n| load_jwt(&dir.join(format!("{n}.jwt")), n))
            .collect()
    }

    fn save_account(&self, name: &str, jwt: &str, key: Option<&KeyPair>) -> Result<()> {
        if let Some(kp) = key {
            write_file(
                &self.account_path(name, "nk"),
                &format!("{}\n", seed_of(kp)?),
                true,
            )?;
        }
        write_file(&self.account_path(name, "jwt"), &format!("{jwt}\n"), false)
    }

    /// Re-signs an account's claims with the operator's key and saves them.
    fn resign_account(&self, name: &str, claims: &AccountClaims) -> Result<String> {
        let op = self.operator()?;
        let jwt = encode(claims, &self.account_signer(&op)?)?;
        self.save_account(name, &jwt, None)?;
        Ok(jwt)
    }

    /// Creates a user signed by the account key; writes its JWT, seed and creds file. Returns the creds path.
    fn create_user(&self, account: &str, claims: UserClaims, kp: &KeyPair) -> Result<PathBuf> {
        let acct_key = read_seed(&self.account_path(account, "nk"))?;
        let jwt = encode(&claims, &acct_key)?;
        let seed = seed_of(kp)?;
        write_file(
            &self.user_path(account, &claims.name, "nk"),
            &format!("{seed}\n"),
            true,
        )?;
        write_file(
            &self.user_path(account, &claims.name, "jwt"),
            &format!("{jwt}\n"),
            false,
        )?;
        let creds = self.user_path(account, &claims.name, "creds");
        write_file(&creds, &format_creds(&jwt, &seed), true)?;
        Ok(creds)
    }
}

fn new_account_claims(name: &str, kp: &KeyPair, js: bool) -> AccountClaims {
    let mut claims = AccountClaims::new(name, kp.public_key());
    if js {
        let j = &mut claims.nats.limits.jetstream;
        j.mem_storage = NO_LIMIT;
        j.disk_storage = NO_LIMIT;
        j.streams = NO_LIMIT;
        j.consumer = NO_LIMIT;
    }
    claims
}

fn init(args: &InitArgs) -> Result<()> {
    let store = Store::open(&args.store);
    check_name("operator", &args.operator)?;
    check_name("account", &args.account)?;
    check_name("user", &args.user)?;
    if args.account == SYSTEM_ACCOUNT {
        bail!("{SYSTEM_ACCOUNT} is the system account, created anyway: choose another --account");
    }
    if !names_in(&store.operator_dir(), "jwt")?.is_empty() {
        bail!(
            "{} already holds an operator: use another --dir, or add accounts and users to it",
            store.dir.display()
        );
    }

    let op_kp = KeyPair::new_operator();
    let signing_kp = args.signing_key.then(KeyPair::new_operator);
    let sys_kp = KeyPair::new_account();
    let acct_kp = KeyPair::new_account();

    let mut op = OperatorClaims::new(&args.operator, op_kp.public_key());
    op.nats.system_account = sys_kp.public_key();
    if let Some(sk) = &signing_kp {
        op.nats.signing_keys.push(sk.public_key());
    }
    let op_jwt = encode(&op, &op_kp)?;
    let op_dir = store.operator_dir();
    write_file(
        &op_dir.join(format!("{}.nk", args.operator)),
        &format!("{}\n", seed_of(&op_kp)?),
        true,
    )?;
    if let Some(sk) = &signing_kp {
        write_file(
            &op_dir.join(format!("{}.signing.nk", args.operator)),
            &format!("{}\n", seed_of(sk)?),
            true,
        )?;
    }
    write_file(
        &op_dir.join(format!("{}.jwt", args.operator)),
        &format!("{op_jwt}\n"),
        false,
    )?;

    let account_signer = signing_kp.as_ref().unwrap_or(&op_kp);
    let sys_jwt = encode(
        &new_account_claims(SYSTEM_ACCOUNT, &sys_kp, false),
        account_signer,
    )?;
    store.save_account(SYSTEM_ACCOUNT, &sys_jwt, Some(&sys_kp))?;
    let acct_jwt = encode(
        &new_account_claims(&args.account, &acct_kp, args.js),
        account_signer,
    )?;
    store.save_account(&args.account, &acct_jwt, Some(&acct_kp))?;

    let sys_user = KeyPair::new_user();
    let sys_creds = store.create_user(
        SYSTEM_ACCOUNT,
        UserClaims::new(SYSTEM_USER, sys_user.public_key()),
        &sys_user,
    )?;
    let user_kp = KeyPair::new_user();
    let creds = store.create_user(
        &args.account,
        UserClaims::new(&args.user, user_kp.public_key()),
        &user_kp,
    )?;

    println!("Created in {}:", store.dir.display());
    println!("  operator {:<12} {}", args.operator, op_kp.public_key());
    if let Some(sk) = &signing_kp {
        println!("  operator signing key  {}", sk.public_key());
    }
    println!(
        "  account  {:<12} {}  (system account)",
        SYSTEM_ACCOUNT,
        sys_kp.public_key()
    );
    println!(
        "  user     {:<12} {}  {}",
        SYSTEM_USER,
        sys_user.public_key(),
        sys_creds.display()
    );
    let js = if args.js { "  (JetStream enabled)" } else { "" };
    println!("  account  {:<12} {}{js}", args.account, acct_kp.public_key());
    println!(
        "  user     {:<12} {}  {}",
        args.user,
        user_kp.public_key(),
        creds.display()
    );
    println!();
    println!("Next steps:");
    let dir_flag = dir_flag(&store);
    println!(
        "  junction auth config{dir_flag} -o server-auth.conf    # trust the operator, preload the accounts"
    );
    println!("  junction -c server-auth.conf");
    println!("  junction sub 'greet.>' --creds {}", creds.display());
    println!("  junction pub greet.hello hi --creds {}", creds.display());
    println!(
        "  junction auth add user bob{dir_flag} --account {} --allow-pub 'orders.>' --allow-sub '_INBOX.>'",
        args.account
    );
    println!(
        "After adding accounts or revoking users, run `junction auth config` again and restart the server."
    );
    Ok(())
}

/// ` --dir X` when the store is not the default one, for printed hints.
fn dir_flag(store: &Store) -> String {
    if store.dir == Path::new(DEFAULT_DIR) && std::env::var_os(DIR_ENV).is_none() {
        String::new()
    } else {
        format!(" --dir {}", store.dir.display())
    }
}

fn add_account(store: &Store, name: &str, js: bool) -> Result<()> {
    check_name("account", name)?;
    let op = store.operator()?;
    if store.account_path(name, "jwt").exists() {
        bail!("account {name:?} already exists");
    }
    let kp = KeyPair::new_account();
    let jwt = encode(&new_account_claims(name, &kp, js), &store.account_signer(&op)?)?;
    store.save_account(name, &jwt, Some(&kp))?;
    let js = if js { "  (JetStream enabled)" } else { "" };
    println!("Added account {name} {}{js}", kp.public_key());
    println!("Run `junction auth config` again so the server knows it.");
    Ok(())
}

fn add_user(store: &Store, args: &AddUserArgs) -> Result<()> {
    check_name("user", &args.name)?;
    let account = store.pick_account(args.account.as_deref())?;
    let acct = store.account(&account)?;
    if store.user_path(&account, &args.name, "jwt").exists() {
        bail!("user {:?} already exists in account {account}", args.name);
    }
    let kp = KeyPair::new_user();
    let mut claims = UserClaims::new(&args.name, kp.public_key());
    let perms = &mut claims.nats.limits;
    perms.publish = Permission {
        allow: args.allow_pub.clone(),
        deny: args.deny_pub.clone(),
    };
    perms.subscribe = Permission {
        allow: args.allow_sub.clone(),
        deny: args.deny_sub.clone(),
    };
    if let Some(max) = args.allow_pub_response {
        perms.resp = Some(ResponsePermission { max, ttl: 0 });
    }
    claims.nats.limits.bearer_token = args.bearer;
    if args.bearer && acct.claims.nats.limits.disallow_bearer {
        bail!("account {account} does not allow bearer tokens");
    }
    if let Some(expiry) = &args.expiry {
        let d = humantime::parse_duration(expiry).map_err(|e| anyhow!("bad --expiry {expiry:?}: {e}"))?;
        claims.exp = Some(now_unix().saturating_add(i64::try_from(d.as_secs()).unwrap_or(i64::MAX)));
    }
    let creds = store.create_user(&account, claims, &kp)?;
    println!(
        "Added user {} {} to account {account}",
        args.name,
        kp.public_key()
    );
    println!("Creds: {}", creds.display());
    Ok(())
}

/// True when every message on `subject` also matches `pattern` (both may hold wildcards).
fn subject_within(subject: &str, pattern: &str) -> bool {
    junction_nats::subject::is_subset(subject.as_bytes(), pattern.as_bytes())
}

fn add_export(
    store: &Store,
    account: &str,
    subject: &str,
    service: bool,
    name: Option<String>,
) -> Result<()> {
    let mut acct = store.account(account)?;
    let kind = if service {
        ExportType::Service
    } else {
        ExportType::Stream
    };
    if acct.claims.nats.exports.iter().any(|e| e.subject == subject) {
        bail!("account {account} already exports {subject}");
    }
    acct.claims.nats.exports.push(Export {
        name: name.unwrap_or_else(|| subject.to_string()),
        subject: subject.to_string(),
        export_type: Some(kind),
        ..Export::default()
    });
    store.resign_account(account, &acct.claims)?;
    let what = if service { "service" } else { "stream" };
    println!("Account {account} exports {what} {subject}");
    println!("Run `junction auth config` again so the server knows it.");
    Ok(())
}

fn add_import(
    store: &Store,
    account: &str,
    from: &str,
    subject: &str,
    service: bool,
    local_subject: Option<String>,
) -> Result<()> {
    let mut acct = store.account(account)?;
    let src = store.account(from)?;
    let kind = if service {
        ExportType::Service
    } else {
        ExportType::Stream
    };
    let exported = src
        .claims
        .nats
        .exports
        .iter()
        .any(|e| e.export_type == Some(kind) && subject_within(subject, &e.subject));
    if !exported {
        let what = if service { "service" } else { "stream" };
        eprintln!("warning: account {from} has no {what} export covering {subject}");
    }
    acct.claims.nats.imports.push(Import {
        name: subject.to_string(),
        subject: subject.to_string(),
        account: src.claims.sub.clone(),
        local_subject: local_subject.clone().unwrap_or_default(),
        import_type: Some(kind),
        ..Import::default()
    });
    store.resign_account(account, &acct.claims)?;
    let local = local_subject.map(|l| format!(" as {l}")).unwrap_or_default();
    println!("Account {account} imports {subject} from {from}{local}");
    println!("Run `junction auth config` again so the server knows it.");
    Ok(())
}

fn revoke_user(store: &Store, user: &str, account: Option<&str>) -> Result<()> {
    let account = store.pick_account(account)?;
    let mut acct = store.account(&account)?;
    let public_key = if user.starts_with('U') && KeyPair::from_public_key(user).is_ok() {
        user.to_string()
    } else {
        check_name("user", user)?;
        let path = store.user_path(&account, user, "jwt");
        if !path.exists() {
            bail!("no user {user:?} in account {account}");
        }
        load_jwt::<User>(&path, user)?.claims.sub
    };
    acct.claims.revoke_at(&public_key, now_unix());
    store.resign_account(&account, &acct.claims)?;
    println!("Revoked user {user} ({public_key}) in account {account}");
    println!("Run `junction auth config` again and restart the server to apply it.");
    Ok(())
}

fn conf_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The server configuration block for the store.
fn config_text(store: &Store, full: Option<&Path>) -> Result<String> {
    let op = store.operator()?;
    let accounts = store.accounts()?;
    let op_path = store.operator_dir().join(format!("{}.jwt", op.name));
    let op_path = fs::canonicalize(&op_path).unwrap_or(op_path);
    let mut out = String::new();
    out.push_str(&format!(
        "# Decentralized auth for operator {:?}, from `junction auth config`.\n",
        op.name
    ));
    out.push_str(&format!(
        "operator: {}\n",
        conf_string(&op_path.display().to_string())
    ));
    let system = &op.claims.nats.system_account;
    if !system.is_empty() {
        out.push_str(&format!("system_account: {system}\n"));
    }
    match full {
        Some(dir) => {
            let dir = conf_string(&dir.display().to_string());
            out.push_str(&format!(
                "resolver: {{\n  type: full\n  dir: {dir}\n  allow_delete: false\n}}\n"
            ));
        }
        None => out.push_str("resolver: MEMORY\n"),
    }
    out.push_str("resolver_preload: {\n");
    for acct in &accounts {
        out.push_str(&format!(
            "  # {}\n  {}: \"{}\"\n",
            acct.name, acct.claims.sub, acct.jwt
        ));
    }
    out.push_str("}\n");
    Ok(out)
}

fn config(args: &ConfigArgs) -> Result<()> {
    let store = Store::open(&args.store);
    let text = config_text(&store, args.full.as_deref())?;
    match &args.out {
        Some(path) => {
            write_file(path, &text, false)?;
            println!(
                "Wrote {}; start the server with `junction -c {}`",
                path.display(),
                path.display()
            );
        }
        None => print!("{text}"),
    }
    Ok(())
}

fn user_status(acct: &AccountClaims, user: &UserClaims, now: i64) -> String {
    let mut notes = Vec::new();
    if acct.is_user_revoked(user) {
        notes.push("revoked".to_string());
    }
    if user.is_expired_at(now) {
        notes.push("expired".to_string());
    } else if let Some(exp) = user.exp.filter(|e| *e > 0) {
        notes.push(format!(
            "expires in {}",
            humantime::format_duration(std::time::Duration::from_secs((exp - now).max(0) as u64))
        ));
    }
    if user.nats.limits.bearer_token {
        notes.push("bearer".to_string());
    }
    if notes.is_empty() {
        String::new()
    } else {
        format!("  ({})", notes.join(", "))
    }
}

fn list(store: &Store) -> Result<()> {
    let op = store.operator()?;
    let now = now_unix();
    println!("Store {}", store.dir.display());
    println!("Operator {}  {}", op.name, op.claims.sub);
    for sk in &op.claims.nats.signing_keys {
        println!("  signing key  {sk}");
    }
    let accounts = store.accounts()?;
    let name_of = |key: &str| -> String {
        accounts
            .iter()
            .find(|a| a.claims.sub == key)
            .map_or_else(|| key.to_string(), |a| a.name.clone())
    };
    for acct in &accounts {
        let mut notes = Vec::new();
        if acct.claims.sub == op.claims.nats.system_account {
            notes.push("system account");
        }
        if acct.claims.nats.limits.jetstream_enabled() {
            notes.push("JetStream");
        }
        if !op.claims.did_sign(&acct.claims) {
            notes.push("NOT signed by this operator");
        }
        let notes = if notes.is_empty() {
            String::new()
        } else {
            format!("  ({})", notes.join(", "))
        };
        println!("Account {}  {}{notes}", acct.name, acct.claims.sub);
        for e in &acct.claims.nats.exports {
            let kind = if e.export_type == Some(ExportType::Service) {
                "service"
            } else {
                "stream"
            };
            println!("  exports {kind} {}", e.subject);
        }
        for i in &acct.claims.nats.imports {
            let kind = if i.import_type == Some(ExportType::Service) {
                "service"
            } else {
                "stream"
            };
            let local = if i.local_subject.is_empty() {
                String::new()
            } else {
                format!(" as {}", i.local_subject)
            };
            println!(
                "  imports {kind} {} from {}{local}",
                i.subject,
                name_of(&i.account)
            );
        }
        for user in store.users(&acct.name)? {
            println!(
                "  user {:<12} {}{}",
                user.name,
                user.claims.sub,
                user_status(&acct.claims, &user.claims, now)
            );
        }
    }
    Ok(())
}

fn describe(input: &str) -> Result<()> {
    let text = if input.trim_start().starts_with("eyJ") {
        input.to_string()
    } else {
        read_file(Path::new(input))?
    };
    let jwt = parse_decorated_jwt(&text);
    let (kind, json, times) = match decode_without_time_check::<User>(&jwt) {
        Ok(c) => ("user", serde_json::to_string_pretty(&c)?, c.check_times()),
        Err(JwtError::WrongType { .. }) => match decode_without_time_check::<Account>(&jwt) {
            Ok(c) => ("account", serde_json::to_string_pretty(&c)?, c.check_times()),
            Err(JwtError::WrongType { .. }) => {
                let c = decode_without_time_check::<Operator>(&jwt)?;
                ("operator", serde_json::to_string_pretty(&c)?, c.check_times())
            }
            Err(e) => return Err(e.into()),
        },
        Err(e) => return Err(e.into()),
    };
    println!("{json}");
    match times {
        Ok(()) => println!("Valid {kind} JWT (signature verified)"),
        Err(e) => println!("{kind} JWT with a valid signature, but: {e}"),
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod testing {
    //! Entry points for the module's tests.
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
