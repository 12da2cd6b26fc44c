//! `kv user add|passwd|del|list`: the accounts file from the command line.
//! A running kv notices the change within a second and ends the sessions
//! of whoever's password or role changed.

use std::path::Path;

use super::accounts::Accounts;
use super::role::Role;
use crate::config::user_args::{User, UserAction};

/// Runs one `kv user` subcommand; `state_dir` is kv's own when the
/// subcommand names none.
pub fn run(user: User, state_dir: &Path) -> Result<(), String> {
    let state_dir = user.state_dir.as_deref().unwrap_or(state_dir);
    let mut accounts = Accounts::open(state_dir)?;
    let path = accounts.path().display().to_string();
    match user.action {
        UserAction::Add(add) => {
            super::accounts::check_name(&add.name)?;
            let role = Role::parse(&add.role).map_err(|e| format!("--role: {e}"))?;
            if accounts.find(&add.name).is_some() {
                return Err(format!(
                    "an account {:?} exists already; change its password with `kv user passwd {}`",
                    add.name, add.name
                ));
            }
            let hash = super::hash_password(&new_password(&add.name)?)?;
            accounts.add(&add.name, role, hash, unix_now())?;
            println!("added {} ({}) to {path}", add.name, role.name());
        }
        UserAction::Passwd(passwd) => {
            if accounts.find(&passwd.name).is_none() {
                return Err(format!(
                    "no account {:?} in {path}; add it with `kv user add`",
                    passwd.name
                ));
            }
            let hash = super::hash_password(&new_password(&passwd.name)?)?;
            accounts.set_password(&passwd.name, hash)?;
            println!("changed the password of {}", passwd.name);
        }
        UserAction::Del(del) => {
            accounts.remove(&del.name, false)?;
            println!("deleted {} from {path}", del.name);
        }
        UserAction::TotpReset(reset) => {
            let had = accounts.find(&reset.name).map(|a| a.totp.is_some());
            match had {
                None => return Err(format!("no account {:?} in {path}", reset.name)),
                Some(false) => println!("{} has no two-step login; nothing to do", reset.name),
                Some(true) => {
                    accounts.set_factor(&reset.name, None)?;
                    println!(
                        "turned off the two-step login of {}: the password alone logs in",
                        reset.name
                    );
                }
            }
        }
        UserAction::List(_) => {
            if accounts.is_empty() {
                println!("no accounts in {path}; add one with `kv user add NAME --role admin`");
            }
            for a in accounts.list() {
                println!("{:<32} {:<8} created {}", a.name, a.role.name(), a.created);
            }
        }
    }
    Ok(())
}

/// Seconds since 1970, for an account's `created`.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The new password: typed twice without echo at a terminal, or one line
/// of standard input from a script.
fn new_password(name: &str) -> Result<String, String> {
    use crate::sys::tty;
    if !tty::stdin_is_tty() {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| format!("cannot read the password from standard input: {e}"))?;
        return checked(line);
    }
    let ask = |prompt: &str| {
        eprint!("{prompt}");
        tty::read_hidden_line().map_err(|e| format!("cannot read the password: {e}"))
    };
    let first = checked(ask(&format!("New password for {name}: "))?)?;
    let again = checked(ask("Again: ")?)?;
    if first != again {
        return Err("the two passwords differ; nothing changed, try again".into());
    }
    Ok(first)
}

fn checked(line: String) -> Result<String, String> {
    let password = line.trim_end_matches(['\n', '\r']);
    if password.is_empty() {
        return Err("empty password; nothing changed".into());
    }
    Ok(password.to_string())
}
