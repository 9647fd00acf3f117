//! `init`, `add` (accounts, users, exports, imports) and `revoke`.

use std::path::Path;

use anyhow::{anyhow, bail, Result};
use nkeys::KeyPair;

use crate::jwt::{
    encode, now_unix, AccountClaims, Export, ExportType, Import, OperatorClaims, Permission,
    ResponsePermission, User, UserClaims, NO_LIMIT,
};

use super::*;

pub(super) fn new_account_claims(name: &str, kp: &KeyPair, js: bool) -> AccountClaims {
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

pub(super) fn init(args: &InitArgs) -> Result<()> {
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
pub(super) fn dir_flag(store: &Store) -> String {
    if store.dir == Path::new(DEFAULT_DIR) && std::env::var_os(DIR_ENV).is_none() {
        String::new()
    } else {
        format!(" --dir {}", store.dir.display())
    }
}

pub(super) fn add_account(store: &Store, name: &str, js: bool) -> Result<()> {
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

pub(super) fn add_user(store: &Store, args: &AddUserArgs) -> Result<()> {
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
pub(super) fn subject_within(subject: &str, pattern: &str) -> bool {
    junction_nats::subject::is_subset(subject.as_bytes(), pattern.as_bytes())
}

pub(super) fn add_export(
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

pub(super) fn add_import(
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

pub(super) fn revoke_user(store: &Store, user: &str, account: Option<&str>) -> Result<()> {
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
