//! `kv user ...`: the accounts subcommands as argh parses them. Passwords
//! are never arguments: `auth::cli` prompts for them.

use std::path::PathBuf;

use argh::FromArgs;

#[derive(FromArgs, Debug)]
#[argh(subcommand)]
pub enum Command {
    User(User),
}

/// manage the accounts in --state-dir/accounts.json (kv picks up changes
/// while it runs); passwords are prompted for, or read as one line from
/// standard input when it is not a terminal
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "user")]
pub struct User {
    /// where the accounts file is (default: kv's --state-dir, /var/lib/kv)
    #[argh(option)]
    pub state_dir: Option<PathBuf>,

    #[argh(subcommand)]
    pub action: UserAction,
}

#[derive(FromArgs, Debug)]
#[argh(subcommand)]
pub enum UserAction {
    Add(Add),
    Passwd(Passwd),
    Del(Del),
    List(List),
    TotpReset(TotpReset),
}

/// add an account
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "add")]
pub struct Add {
    /// the account's name: letters, digits, . _ - @
    #[argh(positional)]
    pub name: String,

    /// admin, operator or viewer (default operator)
    #[argh(option, default = "String::from(\"operator\")")]
    pub role: String,
}

/// set an account's password (its open connections close)
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "passwd")]
pub struct Passwd {
    #[argh(positional)]
    /// the account's name
    pub name: String,
}

/// delete an account (its open connections close)
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "del")]
pub struct Del {
    #[argh(positional)]
    /// the account's name
    pub name: String,
}

/// list the accounts and their roles
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "list")]
pub struct List {}

/// turn an account's two-step login off (a lost phone); they log in with
/// the password alone and may enrol again
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "totp-reset")]
pub struct TotpReset {
    #[argh(positional)]
    /// the account's name
    pub name: String,
}
