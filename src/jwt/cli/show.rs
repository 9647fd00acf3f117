//! `config` (the server configuration that trusts the operator), `list`
//! and `describe`.

use std::fs;
use std::path::Path;

use anyhow::Result;

use crate::jwt::{
    decode_without_time_check, now_unix, parse_decorated_jwt, Account, AccountClaims, ExportType, JwtError,
    Operator, User, UserClaims,
};

use super::*;

pub(super) fn conf_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The server configuration block for the store.
pub(super) fn config_text(store: &Store, full: Option<&Path>) -> Result<String> {
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

pub(super) fn config(args: &ConfigArgs) -> Result<()> {
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

pub(super) fn user_status(acct: &AccountClaims, user: &UserClaims, now: i64) -> String {
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

pub(super) fn list(store: &Store) -> Result<()> {
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

pub(super) fn describe(input: &str) -> Result<()> {
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
