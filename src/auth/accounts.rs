//! The accounts file, `--state-dir/accounts.json`: who may log in, with
//! which role, as argon2 hashes (never a password). Written whole through a
//! private temporary file renamed over the old one (`sys::fs::write_private`),
//! so it is never world-readable and a `kill -9` mid-write leaves the old
//! file or the new one. Changed by `kv user ...` while kv runs: kv looks at
//! the file's stamp once a second (`changed_on_disk`) and reloads it.
//!
//! A file kv cannot read is never overwritten: kv refuses to start and says
//! what to do, since writing over it would lose every account in it.

use std::path::{Path, PathBuf};

use super::role::Role;
use super::totp::Factor;
use super::Secret;
use crate::json::{self, Value};

pub const FILE: &str = "accounts.json";
/// Longest account name: it shows in the presence list and the logs.
const MAX_NAME: usize = 32;
/// Accounts in the file: a board serves a team, not a company; bounds
/// memory and the list the UI shows.
pub const MAX_ACCOUNTS: usize = 64;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub role: Role,
    /// argon2 PHC string.
    pub hash: String,
    /// Seconds since 1970 when it was made.
    pub created: u64,
    /// The second factor, when the account has enrolled one (`totp`).
    pub totp: Option<Factor>,
}

/// The file's identity and age: a change by another process shows here.
type Stamp = Option<(std::time::SystemTime, u64, u64)>;

pub struct Accounts {
    path: PathBuf,
    list: Vec<Account>,
    stamp: Stamp,
}

impl Accounts {
    /// Reads the file in `state_dir`; none yet is no accounts.
    pub fn open(state_dir: &Path) -> Result<Accounts, String> {
        let path = state_dir.join(FILE);
        let stamp = stamp(&path);
        let list = read(&path)?;
        Ok(Accounts { path, list, stamp })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn list(&self) -> &[Account] {
        &self.list
    }

    pub fn find(&self, name: &str) -> Option<&Account> {
        self.list.iter().find(|a| a.name == name)
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// A new account, saved at once.
    pub fn add(
        &mut self,
        name: &str,
        role: Role,
        hash: String,
        created: u64,
    ) -> Result<(), String> {
        check_name(name)?;
        if self.find(name).is_some() {
            return Err(format!(
                "an account {name:?} exists already; change its password with `kv user passwd {name}`"
            ));
        }
        if self.list.len() >= MAX_ACCOUNTS {
            return Err(format!(
                "kv keeps at most {MAX_ACCOUNTS} accounts; delete one first"
            ));
        }
        Secret::hash(&hash)?;
        let mut list = self.list.clone();
        list.push(Account {
            name: name.into(),
            role,
            hash,
            created,
            totp: None,
        });
        self.save(list)
    }

    /// Stores `name`'s second factor (`None`: turned off).
    pub fn set_factor(&mut self, name: &str, factor: Option<Factor>) -> Result<(), String> {
        self.change(name, |a| a.totp = factor)
    }

    pub fn set_password(&mut self, name: &str, hash: String) -> Result<(), String> {
        Secret::hash(&hash)?;
        self.change(name, |a| a.hash = hash)
    }

    /// `spare_admin`: an admin exists besides the file's (the configured
    /// one), so the file's last admin may go.
    pub fn set_role(&mut self, name: &str, role: Role, spare_admin: bool) -> Result<(), String> {
        if role != Role::Admin {
            self.keep_an_admin(name, spare_admin, "demote")?;
        }
        self.change(name, |a| a.role = role)
    }

    pub fn remove(&mut self, name: &str, spare_admin: bool) -> Result<(), String> {
        self.keep_an_admin(name, spare_admin, "delete")?;
        let mut list = self.list.clone();
        let before = list.len();
        list.retain(|a| a.name != name);
        if list.len() == before {
            return Err(no_such(name));
        }
        self.save(list)
    }

    fn keep_an_admin(&self, name: &str, spare_admin: bool, verb: &str) -> Result<(), String> {
        let admins = self.list.iter().filter(|a| a.role == Role::Admin);
        let others = admins.filter(|a| a.name != name).count();
        let is_admin = self.find(name).is_some_and(|a| a.role == Role::Admin);
        if is_admin && others == 0 && !spare_admin {
            return Err(format!(
                "cannot {verb} {name:?}: it is the last admin; make another admin first"
            ));
        }
        Ok(())
    }

    fn change(&mut self, name: &str, f: impl FnOnce(&mut Account)) -> Result<(), String> {
        let mut list = self.list.clone();
        let account = list
            .iter_mut()
            .find(|a| a.name == name)
            .ok_or_else(|| no_such(name))?;
        f(account);
        self.save(list)
    }

    /// Writes `list` and keeps it only once it is on disk: a failed write
    /// changes nothing.
    fn save(&mut self, list: Vec<Account>) -> Result<(), String> {
        crate::sys::fs::write_private(&self.path, render(&list).as_bytes()).map_err(|e| {
            format!(
                "{}: cannot save the accounts: {e}; is --state-dir writable?",
                self.path.display()
            )
        })?;
        self.list = list;
        self.stamp = stamp(&self.path);
        Ok(())
    }

    /// Whether another process (`kv user ...`) changed the file since kv
    /// last read or wrote it: cheap, one `stat`.
    pub fn changed_on_disk(&self) -> bool {
        stamp(&self.path) != self.stamp
    }

    /// Reads the file again; returns the names whose password or role
    /// changed or that are gone (their connections must end). A file that
    /// became unreadable keeps the accounts kv has, and says so.
    pub fn reload(&mut self) -> Result<Vec<String>, String> {
        self.stamp = stamp(&self.path);
        let list = read(&self.path)?;
        let changed = self
            .list
            .iter()
            .filter(|old| !list.iter().any(|new| new == *old))
            .map(|a| a.name.clone())
            .collect();
        self.list = list;
        Ok(changed)
    }
}

fn no_such(name: &str) -> String {
    format!("no account {name:?}; `kv user list` shows them")
}

/// A name must be usable in Basic auth (no `:`) and readable in a list.
pub fn check_name(name: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "._-@".contains(c);
    if name.is_empty() || name.len() > MAX_NAME || !name.chars().all(allowed) {
        return Err(format!(
            "account name {name:?} must be 1-{MAX_NAME} letters, digits or . _ - @"
        ));
    }
    Ok(())
}

fn stamp(path: &Path) -> Stamp {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len(), meta.ino()))
}

fn read(path: &Path) -> Result<Vec<Account>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        // Starting without them could leave kv open to anyone: refuse.
        Err(e) => {
            return Err(format!(
                "{}: cannot read the accounts: {e}; run kv as the user that owns --state-dir, or give another --state-dir",
                path.display()
            ))
        }
    };
    parse(&text).map_err(|e| {
        format!(
            "{}: the accounts file is damaged ({e}); kv will not overwrite it. Fix it, or move it away and add accounts again with `kv user add NAME`",
            path.display()
        )
    })
}

fn parse(text: &str) -> Result<Vec<Account>, String> {
    let v = Value::parse(text)?;
    let Some(Value::Array(items)) = v.get("accounts") else {
        return Err("no \"accounts\" list".into());
    };
    let mut list: Vec<Account> = Vec::new();
    for item in items {
        let field = |k: &str| item.get(k).and_then(Value::as_str);
        let name = field("name").ok_or("an account without a \"name\"")?;
        check_name(name)?;
        if list.iter().any(|a| a.name == name) {
            return Err(format!("{name:?} is listed twice"));
        }
        let role = Role::parse(field("role").unwrap_or(""))
            .map_err(|e| format!("account {name:?}: {e}"))?;
        let hash = field("hash").ok_or_else(|| format!("account {name:?} has no \"hash\""))?;
        Secret::hash(hash).map_err(|e| format!("account {name:?}: the hash {e}"))?;
        let created = item.get("created").and_then(Value::as_i64).unwrap_or(0);
        let totp = match item.get("totp") {
            None | Some(Value::Null) => None,
            Some(factor) => {
                Some(Factor::from_json(factor).map_err(|e| format!("account {name:?}: {e}"))?)
            }
        };
        list.push(Account {
            name: name.into(),
            role,
            hash: hash.into(),
            created: u64::try_from(created).unwrap_or(0),
            totp,
        });
    }
    Ok(list)
}

fn render(list: &[Account]) -> String {
    let accounts = list.iter().map(|a| {
        json::Object::new()
            .str("name", &a.name)
            .str("role", a.role.name())
            .str("hash", &a.hash)
            .num("created", a.created)
            .raw(
                "totp",
                &a.totp.as_ref().map_or("null".into(), Factor::to_json),
            )
            .finish()
    });
    let mut text = json::Object::new()
        .num("version", 1)
        .raw("accounts", &json::array(accounts))
        .finish();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;

    /// A valid PHC string, cheap to make (the store never checks passwords).
    fn phc(salt: &str) -> String {
        use argon2::password_hash::{PasswordHasher, SaltString};
        argon2::Argon2::new(
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            argon2::Params::new(8, 1, 1, None).unwrap(),
        )
        .hash_password(b"pw", &SaltString::encode_b64(salt.as_bytes()).unwrap())
        .unwrap()
        .to_string()
    }

    #[test]
    fn test_missing_file_is_no_accounts_and_add_round_trips() {
        let dir = TempDir::new("accounts-add");
        let mut accounts = Accounts::open(dir.path()).unwrap();
        assert!(accounts.is_empty());
        accounts
            .add("alice", Role::Admin, phc("salt-alice-0001"), 7)
            .unwrap();
        accounts
            .add("bob", Role::Viewer, phc("salt-bob-000001"), 8)
            .unwrap();
        let again = Accounts::open(dir.path()).unwrap();
        assert_eq!(again.list(), accounts.list());
        assert_eq!(again.find("bob").unwrap().role, Role::Viewer);
        assert!(accounts
            .add("bob", Role::Admin, phc("salt-bob-000002"), 9)
            .unwrap_err()
            .contains("exists already"));
        assert!(accounts
            .add("b:b", Role::Admin, phc("salt-bob-000002"), 9)
            .is_err());
        assert!(accounts
            .add("carol", Role::Admin, "hunter2".into(), 9)
            .is_err());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(accounts.path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "readable by others: {mode:o}");
    }

    #[test]
    fn test_last_admin_stays() {
        let dir = TempDir::new("accounts-admin");
        let mut accounts = Accounts::open(dir.path()).unwrap();
        accounts
            .add("root", Role::Admin, phc("salt-root-00001"), 1)
            .unwrap();
        accounts
            .add("op", Role::Operator, phc("salt-op-0000001"), 1)
            .unwrap();
        assert!(accounts
            .remove("root", false)
            .unwrap_err()
            .contains("last admin"));
        assert!(accounts
            .set_role("root", Role::Viewer, false)
            .unwrap_err()
            .contains("last admin"));
        // With the configured admin beside it, it may go.
        accounts.set_role("root", Role::Operator, true).unwrap();
        accounts.set_role("op", Role::Admin, false).unwrap();
        accounts.remove("root", false).unwrap();
        assert!(accounts
            .remove("nobody", false)
            .unwrap_err()
            .contains("no account"));
        assert_eq!(accounts.list().len(), 1);
    }

    #[test]
    fn test_damaged_file_is_refused_and_kept() {
        let dir = TempDir::new("accounts-damaged");
        let path = dir.path().join(FILE);
        for bad in [
            "{\"accounts\":[{\"name\":\"a\"",
            "{}",
            "{\"accounts\":[{\"name\":\"a\",\"role\":\"god\",\"hash\":\"x\"}]}",
        ] {
            std::fs::write(&path, bad).unwrap();
            let e = Accounts::open(dir.path()).err().unwrap();
            assert!(
                e.contains("damaged") && e.contains("will not overwrite"),
                "{e}"
            );
            assert_eq!(std::fs::read_to_string(&path).unwrap(), bad);
        }
    }

    #[test]
    fn test_reload_names_who_changed() {
        let dir = TempDir::new("accounts-reload");
        let mut kv = Accounts::open(dir.path()).unwrap();
        let mut cli = Accounts::open(dir.path()).unwrap();
        cli.add("a", Role::Admin, phc("salt-a-00000001"), 1)
            .unwrap();
        cli.add("b", Role::Operator, phc("salt-b-00000001"), 1)
            .unwrap();
        cli.add("c", Role::Viewer, phc("salt-c-00000001"), 1)
            .unwrap();
        assert!(kv.changed_on_disk());
        assert_eq!(kv.reload().unwrap(), Vec::<String>::new());
        assert!(!kv.changed_on_disk());
        cli.set_password("a", phc("salt-a-00000002")).unwrap();
        cli.set_role("b", Role::Viewer, false).unwrap();
        cli.remove("c", false).unwrap();
        assert!(kv.changed_on_disk());
        assert_eq!(kv.reload().unwrap(), ["a", "b", "c"]);
        assert_eq!(kv.list(), cli.list());
    }
}
