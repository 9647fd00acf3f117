//! The store directory: keys, JWTs and creds files, one file an entity.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use nkeys::KeyPair;

use crate::jwt::{
    decode_without_time_check, encode, format_creds, parse_decorated_jwt, Account, AccountClaims, ClaimKind,
    Claims, Operator, User, UserClaims,
};

use super::*;

/// A decoded entity of the store.
pub(super) struct Entity<T> {
    pub(super) name: String,
    pub(super) jwt: String,
    pub(super) claims: Claims<T>,
}

pub(super) struct Store {
    pub(super) dir: PathBuf,
}

pub(super) fn check_name(kind: &str, name: &str) -> Result<()> {
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

pub(super) fn write_file(path: &Path, contents: &str, secret: bool) -> Result<()> {
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

pub(super) fn read_file(path: &Path) -> Result<String> {
    fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

pub(super) fn read_seed(path: &Path) -> Result<KeyPair> {
    let text = read_file(path)?;
    KeyPair::from_seed(text.trim()).map_err(|e| anyhow!("bad nkey seed in {}: {e}", path.display()))
}

pub(super) fn seed_of(kp: &KeyPair) -> Result<String> {
    kp.seed().map_err(|e| anyhow!("cannot export seed: {e}"))
}

/// Names of `*.<ext>` files in `dir`, sorted, without the extension.
pub(super) fn names_in(dir: &Path, ext: &str) -> Result<Vec<String>> {
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

pub(super) fn load_jwt<T: ClaimKind>(path: &Path, name: &str) -> Result<Entity<T>> {
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
    pub(super) fn open(args: &StoreArgs) -> Store {
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

    pub(super) fn operator_dir(&self) -> PathBuf {
        self.dir.join("operator")
    }
    pub(super) fn account_path(&self, name: &str, ext: &str) -> PathBuf {
        self.dir.join("accounts").join(format!("{name}.{ext}"))
    }
    pub(super) fn user_path(&self, account: &str, name: &str, ext: &str) -> PathBuf {
        self.dir.join("users").join(account).join(format!("{name}.{ext}"))
    }

    pub(super) fn operator(&self) -> Result<Entity<Operator>> {
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
    pub(super) fn account_signer(&self, op: &Entity<Operator>) -> Result<KeyPair> {
        let signing = self.operator_dir().join(format!("{}.signing.nk", op.name));
        if signing.exists() {
            return read_seed(&signing);
        }
        read_seed(&self.operator_dir().join(format!("{}.nk", op.name)))
    }

    pub(super) fn account(&self, name: &str) -> Result<Entity<Account>> {
        check_name("account", name)?;
        let path = self.account_path(name, "jwt");
        if !path.exists() {
            bail!("no account {name:?} in {}", self.dir.display());
        }
        load_jwt(&path, name)
    }

    pub(super) fn accounts(&self) -> Result<Vec<Entity<Account>>> {
        names_in(&self.dir.join("accounts"), "jwt")?
            .iter()
            .map(|n| self.account(n))
            .collect()
    }

    /// The named account, or the only one besides SYS when no name is given.
    pub(super) fn pick_account(&self, name: Option<&str>) -> Result<String> {
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

    pub(super) fn users(&self, account: &str) -> Result<Vec<Entity<User>>> {
        let dir = self.dir.join("users").join(account);
        names_in(&dir, "jwt")?
            .iter()
            .map(|n| load_jwt(&dir.join(format!("{n}.jwt")), n))
            .collect()
    }

    pub(super) fn save_account(&self, name: &str, jwt: &str, key: Option<&KeyPair>) -> Result<()> {
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
    pub(super) fn resign_account(&self, name: &str, claims: &AccountClaims) -> Result<String> {
        let op = self.operator()?;
        let jwt = encode(claims, &self.account_signer(&op)?)?;
        self.save_account(name, &jwt, None)?;
        Ok(jwt)
    }

    /// Creates a user signed by the account key; writes its JWT, seed and creds file. Returns the creds path.
    pub(super) fn create_user(&self, account: &str, claims: UserClaims, kp: &KeyPair) -> Result<PathBuf> {
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
