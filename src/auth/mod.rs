//! Who may use kv: the credentials, the sessions, and the delays that make
//! guessing slow. The HTTP layer (`http::routes`) hands it header values and
//! turns its `Verdict` into an answer.
//!
//! One user, whose password kv holds either as given
//! (`KV_PASSWORD`, `--password-file`) or as an argon2 hash (`--password-hash`,
//! made by `kv --hash-password`). A client proves itself with HTTP Basic auth
//! on every request (scripts) or once through `POST /api/login`, which gives
//! the browser a session cookie (the UI); logging out forgets the session on
//! the server, which Basic auth can never do.
//!
//! Guessing is made slow per client address: each wrong password from an
//! address doubles the time before kv answers it, and while that time runs
//! the address is refused outright (429) without a password being checked.
//! The `Gate` only decides; the connection holds the late answer on a timer,
//! so the event loop never waits. Nothing here logs a password.
//!
//! Guessing from many addresses at once must not cost the operator either
//! (issue 15): a hash is checked on the `checker` thread, the one thread kv
//! runs beside its loop, within a global budget of checks a second and one
//! at a time per address, while the asking connection is parked. Sessions
//! and already-checked Basic credentials need no check. Each session has an
//! id its connections keep; when it ends, the loop closes them.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::Engine;
use sha1::{Digest, Sha1};

pub mod accounts;
mod checker;
pub mod cli;
pub mod factors;
pub mod role;
pub mod shares;
pub mod totp;
pub use checker::Ticket;
use checker::{Answer, Checker, Outcome};
pub use role::{Act, Principal, Role};

/// The first wrong password is answered after this; each further one from
/// the same address doubles it...
const FIRST_DELAY: Duration = Duration::from_millis(500);
/// ...up to this.
const MAX_DELAY: Duration = Duration::from_secs(30);
/// An address's failures are forgotten this long after its last one.
const FORGET_FAILURES: Duration = Duration::from_secs(15 * 60);
/// Addresses whose failures are remembered; beyond it the stalest is dropped,
/// so a flood of addresses costs bounded memory.
const MAX_TRACKED: usize = 4096;
/// Browser sessions at once; a new login beyond it ends the least recently
/// used one.
const MAX_SESSIONS: usize = 32;
/// A session unused this long is over...
const SESSION_IDLE: Duration = Duration::from_secs(12 * 3600);
/// ...and so is any session this old.
const SESSION_LIFE: Duration = Duration::from_secs(7 * 24 * 3600);
/// Basic credentials that matched a hash are remembered (as a keyed digest)
/// so the slow hash is computed once per client, not once per request.
const MAX_VERIFIED: usize = 8;
const VERIFIED_IDLE: Duration = Duration::from_secs(3600);

/// How kv knows the password.
#[derive(Clone)]
pub enum Secret {
    Plain(String),
    /// An argon2 PHC string (`$argon2id$v=19$m=...`), checked when parsed.
    Hash(String),
}

#[derive(Clone)]
pub struct Credentials {
    pub user: String,
    pub secret: Secret,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        let kind = match self.secret {
            Secret::Plain(_) => "password",
            Secret::Hash(_) => "argon2 hash",
        };
        write!(
            f,
            "Credentials {{ user: {:?}, {kind}: <hidden> }}",
            self.user
        )
    }
}

impl Secret {
    /// Accepts a stored argon2 hash, or says how to make one.
    pub fn hash(phc: &str) -> Result<Secret, String> {
        let phc = phc.trim();
        match PasswordHash::new(phc) {
            Ok(h) if h.algorithm.as_str().starts_with("argon2") => Ok(Secret::Hash(phc.into())),
            _ => Err(
                "is not an argon2 hash ($argon2id$v=19$...); make one with `kv --hash-password`"
                    .into(),
            ),
        }
    }
}

impl Credentials {
    /// Whether `user` and `password` are right. Both are always compared, in
    /// constant time for a plain password; a hash costs what its parameters say.
    pub fn verify(&self, user: &str, password: &str) -> bool {
        let user_ok = constant_time_eq(user.as_bytes(), self.user.as_bytes());
        let password_ok = match &self.secret {
            Secret::Plain(p) => constant_time_eq(password.as_bytes(), p.as_bytes()),
            Secret::Hash(phc) => PasswordHash::new(phc).is_ok_and(|h| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &h)
                    .is_ok()
            }),
        };
        user_ok & password_ok
    }
}

/// An argon2id hash of `password` with a fresh random salt, for
/// `--password-hash` (argon2's default cost: 19 MiB, 2 passes).
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::encode_b64(&random_bytes::<16>()?)
        .map_err(|e| format!("cannot encode the salt: {e}"))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash the password: {e}"))
}

/// Bytes from the kernel's random generator (getrandom(2): waits only until
/// the pool is seeded at boot, then never).
fn random_bytes<const N: usize>() -> Result<[u8; N], String> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes)
        .map_err(|e| format!("the kernel's random generator failed: {e}"))?;
    Ok(bytes)
}

/// What the gate says about a request.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// No credentials are configured: everyone may.
    Open,
    /// Valid Basic credentials, or a right password for a login.
    Allowed(Principal),
    /// A live session cookie: the connection is that session's until it ends.
    Session(Principal),
    /// Nothing offered (or a session that is over): ask for credentials.
    Missing,
    /// Wrong credentials: answer 401, but not before `until`.
    Refused { until: Instant },
    /// The address is serving out a delay: 429, retry after this long.
    LockedOut { retry_after: Duration },
    /// The password is being checked on the checker thread: the connection
    /// waits, parked, for `Gate::answers` to name this ticket.
    Pending(Ticket),
    /// No check can start now (the budget of checks is spent, or this
    /// address already has one running): 503, retry after this long.
    Busy { retry_after: Duration },
    /// A new password `principal` set was hashed (`Gate::hash`): the
    /// request runs again with it.
    Hashed {
        principal: Principal,
        hash: Result<String, String>,
    },
}

/// A session, as the connections it authenticated remember it: when it
/// ends (logout, expiry, eviction), they are closed (`Gate::take_ended`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionId(u64);

/// What is over, for the loop to close the connections it authenticated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ended {
    Session(SessionId),
    /// Every connection of this account: its password or role changed, or
    /// it was deleted (Basic auth connections have no session).
    User(String),
}

impl Ended {
    pub fn ends(&self, principal: &Principal) -> bool {
        match self {
            Ended::Session(id) => principal.session == Some(*id),
            Ended::User(name) => !principal.guest && principal.user == *name,
        }
    }
}

/// How often kv looks whether `kv user ...` changed the accounts file.
const ACCOUNTS_CHECK: Duration = Duration::from_secs(1);

/// argon2 checks started per second, whoever asks: the checker thread's
/// share of the board's CPU, whatever the number of addresses guessing.
const CHECKS_PER_SECOND: f64 = 4.0;
/// Checks that may start at once after a quiet while.
const CHECK_BURST: f64 = 4.0;
/// Addresses a right password came from lately (the operator's): they keep
/// a share of the budget whatever others do (`Standing`). Bounded.
const MAX_TRUSTED: usize = 16;
const TRUSTED_FOR: Duration = Duration::from_secs(7 * 24 * 3600);
/// An address refused a check (`Verdict::Busy`) waits at least this long.
const BUSY_WAIT: Duration = Duration::from_secs(1);
/// A check with no answer by then is given up (the thread died).
const CHECK_TIMEOUT: Duration = Duration::from_secs(30);

struct Failures {
    count: u32,
    last: Instant,
    /// No password from this address is checked before then.
    locked_until: Instant,
}

struct Session {
    id: SessionId,
    token: String,
    user: String,
    /// A share link's guest: the link's id.
    share: Option<String>,
    created: Instant,
    used: Instant,
}

impl Session {
    fn ends_at(&self) -> Instant {
        (self.used + SESSION_IDLE).min(self.created + SESSION_LIFE)
    }
}

/// A check on the checker thread, and what its answer will mean.
struct Pending {
    ticket: Ticket,
    client: IpAddr,
    /// Whose password is checked; or, hashing, who set it.
    user: String,
    /// Hashing a new password for this admin, not checking one.
    hashing: Option<Principal>,
    /// For Basic credentials: remembered when right.
    digest: Option<[u8; 20]>,
    since: Instant,
}

/// How far down the budget an address may reach: many guessing addresses,
/// each retrying the moment a check is free, cannot take every check from
/// the real user. The last check of the bucket is kept for addresses a right
/// password came from lately, the one before it for addresses without
/// failures; guessers that have failed get what is left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Standing {
    Trusted = 0,
    Clean = 1,
    Failed = 2,
}

/// The global budget of checks: a token bucket, whose last tokens are kept
/// by `Standing`.
struct Budget {
    tokens: f64,
    at: Instant,
}

impl Budget {
    fn take(&mut self, standing: Standing, now: Instant) -> Result<(), Duration> {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * CHECKS_PER_SECOND).min(CHECK_BURST);
        self.at = now;
        let needed = 1.0 + f64::from(standing as u8);
        if self.tokens >= needed {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (needed - self.tokens) / CHECKS_PER_SECOND,
            ))
        }
    }
}

pub struct Gate {
    /// The configured account (KV_USER/KV_PASSWORD, --password-file,
    /// --password-hash): an admin the accounts file cannot change.
    credentials: Option<Credentials>,
    /// The accounts file, when kv has a --state-dir to keep it in.
    accounts: Option<accounts::Accounts>,
    /// When to look at the accounts file next.
    accounts_check: Instant,
    /// Share links, with the accounts file.
    shares: Option<shares::Shares>,
    failures: HashMap<IpAddr, Failures>,
    sessions: Vec<Session>,
    next_session: u64,
    /// Sessions over since the loop last asked (`take_ended`). Whatever
    /// ends a session pushes its id here (logout, expiry, eviction; a
    /// changed password, once kv can change one, would end them all the
    /// same way), and the loop closes the connections it opened.
    ended: Vec<Ended>,
    /// Keyed digests of `Authorization` values that matched a hash, with
    /// last use and whose they are.
    verified: Vec<([u8; 20], Instant, String)>,
    digest_key: [u8; 16],
    /// Runs argon2 checks off the loop; started by `start_checker`.
    checker: Option<Checker>,
    pending: Vec<Pending>,
    next_ticket: u64,
    budget: Budget,
    /// Addresses right passwords came from, with when (`Standing`).
    trusted: Vec<(IpAddr, Instant)>,
}

impl Gate {
    pub fn new(credentials: Option<Credentials>, now: Instant) -> Gate {
        Gate {
            credentials,
            accounts: None,
            accounts_check: now,
            shares: None,
            failures: HashMap::new(),
            sessions: Vec::new(),
            next_session: 0,
            ended: Vec::new(),
            verified: Vec::new(),
            // Without randomness the digests are still unguessable to a
            // client; they only need to differ from one header to another.
            digest_key: random_bytes().unwrap_or_default(),
            checker: None,
            pending: Vec::new(),
            next_ticket: 0,
            budget: Budget {
                tokens: CHECK_BURST,
                at: now,
            },
            trusted: Vec::new(),
        }
    }

    /// Adds the accounts file's accounts to the configured one, and the
    /// share links.
    pub fn set_accounts(&mut self, accounts: accounts::Accounts, shares: shares::Shares) {
        self.accounts = Some(accounts);
        self.shares = Some(shares);
    }

    pub fn shares(&self) -> Option<&shares::Shares> {
        self.shares.as_ref()
    }

    /// A new share link made by `by`; the link's token, shown once.
    pub fn create_share(
        &mut self,
        name: &str,
        by: &str,
        life: u64,
    ) -> Result<(shares::Share, String), String> {
        let token = hex(&random_bytes::<16>()?);
        let id = hex(&random_bytes::<4>()?);
        let shares = self
            .shares
            .as_mut()
            .ok_or("kv keeps no share links (no --state-dir)")?;
        let share = shares.create(name, by, life, cli::unix_now(), token.clone(), id)?;
        Ok((share, token))
    }

    /// Revokes a link: its guests' connections end.
    pub fn revoke_share(&mut self, id: &str) -> Result<(), String> {
        let shares = self.shares.as_mut().ok_or("no share links")?;
        shares.revoke(id)?;
        self.end_share(id);
        Ok(())
    }

    fn end_share(&mut self, id: &str) {
        let ended = &mut self.ended;
        self.sessions.retain(|s| {
            let this = s.share.as_deref() == Some(id);
            if this {
                ended.push(Ended::Session(s.id));
            }
            !this
        });
    }

    /// `GET /share/TOKEN`: a guest viewer's session token for the cookie,
    /// and the guest's name; a wrong or expired token counts as a failed
    /// login for the address.
    pub fn open_share(
        &mut self,
        client: IpAddr,
        token: &str,
        now: Instant,
    ) -> Result<(String, String), Verdict> {
        self.expire(now);
        if let Some(verdict) = self.locked_out(client, now) {
            return Err(verdict);
        }
        let unix = cli::unix_now();
        let found = self
            .shares
            .as_ref()
            .and_then(|s| s.find(token, unix))
            .cloned();
        let Some(share) = found else {
            return Err(self.fail(client, now));
        };
        let cookie = self
            .new_session(&share.name, Some(share.id.clone()), client, now)
            .map_err(|_| Verdict::Busy {
                retry_after: BUSY_WAIT,
            })?;
        Ok((cookie, share.name))
    }

    /// Forgets expired share links (wall clock `unix`): their guests'
    /// connections end.
    pub fn expire_shares(&mut self, unix: u64) {
        let gone = self
            .shares
            .as_mut()
            .map(|s| s.expire(unix))
            .unwrap_or_default();
        for id in gone {
            log::info!("🔗 share link {id} expired");
            self.end_share(&id);
        }
    }

    /// Whether anyone must log in: an account is configured or in the file.
    pub fn enabled(&self) -> bool {
        self.credentials.is_some() || self.accounts.as_ref().is_some_and(|a| !a.is_empty())
    }

    /// The configured account's name, which the accounts file cannot touch.
    pub fn configured_user(&self) -> Option<&str> {
        self.credentials.as_ref().map(|c| c.user.as_str())
    }

    pub fn accounts(&self) -> Option<&accounts::Accounts> {
        self.accounts.as_ref()
    }

    /// Changes the accounts file through `f`, then ends the connections of
    /// `user` (whose password or role changed, or who is gone).
    pub fn change_account(
        &mut self,
        user: &str,
        f: impl FnOnce(&mut accounts::Accounts, bool) -> Result<(), String>,
    ) -> Result<(), String> {
        if self.configured_user() == Some(user) {
            return Err(format!(
                "{user:?} is the account kv's configuration gives (KV_USER, --password-file or --password-hash); change it there"
            ));
        }
        let spare_admin = self.credentials.is_some();
        let accounts = self
            .accounts
            .as_mut()
            .ok_or("kv keeps no accounts file (no --state-dir)")?;
        f(accounts, spare_admin)?;
        self.end_user(user);
        Ok(())
    }

    /// A new account in the accounts file.
    pub fn add_account(&mut self, name: &str, role: Role, hash: String) -> Result<(), String> {
        if self.configured_user() == Some(name) {
            return Err(format!(
                "{name:?} is the account kv's configuration gives; pick another name"
            ));
        }
        let accounts = self
            .accounts
            .as_mut()
            .ok_or("kv keeps no accounts file (no --state-dir)")?;
        accounts.add(name, role, hash, cli::unix_now())
    }

    /// Stores `user`'s second factor (`None`: off). Their connections go
    /// on: it is they who enrol, use a code or turn it off.
    pub fn set_factor(&mut self, user: &str, factor: Option<totp::Factor>) -> Result<(), String> {
        let accounts = self
            .accounts
            .as_mut()
            .ok_or("kv keeps no accounts file (no --state-dir)")?;
        accounts.set_factor(user, factor)
    }

    /// Ends every session and connection of `user`.
    fn end_user(&mut self, user: &str) {
        self.sessions.retain(|s| s.user != user);
        self.verified.retain(|(_, _, u)| u != user);
        self.ended.push(Ended::User(user.into()));
    }

    /// The account `user` names, as the checker compares it, and its role.
    fn account(&self, user: &str) -> Option<(Credentials, Role)> {
        if let Some(c) = self.credentials.as_ref().filter(|c| c.user == user) {
            return Some((c.clone(), Role::Admin));
        }
        let a = self.accounts.as_ref()?.find(user)?;
        let credentials = Credentials {
            user: a.name.clone(),
            secret: Secret::Hash(a.hash.clone()),
        };
        Some((credentials, a.role))
    }

    /// What a wrong user name is checked against, so that it costs what a
    /// right one does and the answer time does not tell names apart: some
    /// account's hash (whose name will not match).
    fn decoy(&self) -> Option<Credentials> {
        let hashed = self.accounts.as_ref().and_then(|a| a.list().first());
        match hashed {
            Some(a) => Some(Credentials {
                user: a.name.clone(),
                secret: Secret::Hash(a.hash.clone()),
            }),
            None => self.credentials.clone(),
        }
    }

    fn principal(&self, user: &str, session: Option<SessionId>) -> Option<Principal> {
        let (_, role) = self.account(user)?;
        Some(Principal {
            user: user.into(),
            role,
            session,
            guest: false,
        })
    }

    /// Starts the checker thread, which checks hashed passwords (a plain one
    /// is compared in microseconds, in the loop); `notify` wakes the loop.
    pub fn start_checker(&mut self, notify: Box<dyn Fn() + Send>) -> std::io::Result<()> {
        self.checker = Some(Checker::spawn(notify)?);
        Ok(())
    }

    /// Judges a request by its `Authorization` header and session cookie.
    pub fn check(
        &mut self,
        client: IpAddr,
        authorization: Option<&str>,
        session: Option<&str>,
        now: Instant,
    ) -> Verdict {
        self.expire(now);
        if !self.enabled() {
            return Verdict::Open;
        }
        // A session costs no password check at all, so no flood of wrong
        // passwords can keep a logged-in browser out.
        if let Some(token) = session {
            if let Some(principal) = self.touch_session(token, now) {
                return Verdict::Session(principal);
            }
        }
        let Some(authorization) = authorization else {
            return Verdict::Missing;
        };
        // A locked-out address learns nothing, not even from a right guess.
        if let Some(verdict) = self.locked_out(client, now) {
            return verdict;
        }
        let digest = self.digest(authorization);
        if let Some(entry) = self
            .verified
            .iter_mut()
            .find(|(d, _, _)| constant_time_eq(d, &digest))
        {
            entry.1 = now;
            let user = entry.2.clone();
            if let Some(principal) = self.principal(&user, None) {
                return Verdict::Allowed(principal);
            }
        }
        match basic_pair(authorization) {
            Some((user, password)) => self.verify(client, user, password, Some(digest), now),
            None => self.fail(client, now),
        }
    }

    /// `POST /api/login`: whether `user` and `password` are right (then
    /// `start_session`), or why not, or that the answer will come later.
    pub fn check_password(
        &mut self,
        client: IpAddr,
        user: &str,
        password: &str,
        now: Instant,
    ) -> Verdict {
        self.expire(now);
        if !self.enabled() {
            return Verdict::Open;
        }
        if let Some(verdict) = self.locked_out(client, now) {
            return verdict;
        }
        self.verify(client, user.into(), password.into(), None, now)
    }

    /// Compares a plain password at once; queues a hash's check, within the
    /// global budget and one at a time per address.
    fn verify(
        &mut self,
        client: IpAddr,
        user: String,
        password: String,
        digest: Option<[u8; 20]>,
        now: Instant,
    ) -> Verdict {
        let Some(account) = self.account(&user).map(|(c, _)| c).or_else(|| self.decoy()) else {
            return self.fail(client, now);
        };
        if matches!(account.secret, Secret::Plain(_)) {
            let right = account.verify(&user, &password);
            return self.settle(client, right, &user, digest, now);
        }
        if self.checker.is_none() {
            log::error!("{client}: no password checker running; cannot check a password");
            return self.busy(client, Duration::ZERO, now);
        }
        if self.pending.iter().any(|p| key(p.client) == key(client)) {
            return self.busy(client, Duration::ZERO, now);
        }
        let standing = self.standing(client, now);
        // The checker's queue is kept by standing as the budget is: on a
        // board, where a check takes a second, guessers would otherwise
        // keep every slot full and the operator's right password would
        // find no room whatever the budget said.
        if self.pending.len() + standing as usize >= checker::QUEUE {
            log::debug!("{client}: password check refused, the checker's queue is full");
            return self.busy(client, Duration::ZERO, now);
        }
        if let Err(retry_after) = self.budget.take(standing, now) {
            log::debug!("{client}: password check refused, the budget of checks is spent");
            return self.busy(client, retry_after, now);
        }
        let ticket = Ticket(self.next_ticket);
        self.next_ticket += 1;
        let queued = self
            .checker
            .as_ref()
            .is_some_and(|c| c.verify(ticket, account, user.clone(), password));
        if !queued {
            return self.busy(client, Duration::ZERO, now);
        }
        self.pending.push(Pending {
            ticket,
            client,
            user,
            hashing: None,
            digest,
            since: now,
        });
        Verdict::Pending(ticket)
    }

    /// Hashes a new password that `principal` (an admin) sets, on the
    /// checker thread: `Verdict::Pending`, then `Verdict::Hashed`; or
    /// `Busy` when the thread's queue is full or this address has a job.
    pub fn hash(
        &mut self,
        principal: &Principal,
        client: IpAddr,
        password: String,
        now: Instant,
    ) -> Verdict {
        if self.pending.iter().any(|p| key(p.client) == key(client)) {
            return Verdict::Busy {
                retry_after: BUSY_WAIT,
            };
        }
        let ticket = Ticket(self.next_ticket);
        self.next_ticket += 1;
        if !self
            .checker
            .as_ref()
            .is_some_and(|c| c.hash(ticket, password))
        {
            return Verdict::Busy {
                retry_after: BUSY_WAIT,
            };
        }
        self.pending.push(Pending {
            ticket,
            client,
            user: principal.user.clone(),
            hashing: Some(principal.clone()),
            digest: None,
            since: now,
        });
        Verdict::Pending(ticket)
    }

    /// The checks answered since the last call, each with its verdict.
    pub fn answers(&mut self, now: Instant) -> Vec<(Ticket, Verdict)> {
        let Some(checker) = &self.checker else {
            return Vec::new();
        };
        let answers: Vec<Answer> = checker.answers().collect();
        answers
            .into_iter()
            .filter_map(|answer| {
                let i = self
                    .pending
                    .iter()
                    .position(|p| p.ticket == answer.ticket)?;
                let p = self.pending.swap_remove(i);
                let verdict = match (answer.outcome, p.hashing) {
                    (Outcome::Hashed(hash), Some(principal)) => Verdict::Hashed { principal, hash },
                    (Outcome::Checked(right), None) => {
                        self.settle(p.client, right, &p.user, p.digest, now)
                    }
                    _ => return None,
                };
                Some((answer.ticket, verdict))
            })
            .collect()
    }

    fn standing(&self, client: IpAddr, now: Instant) -> Standing {
        let k = key(client);
        if self
            .trusted
            .iter()
            .any(|(ip, at)| *ip == k && now.saturating_duration_since(*at) < TRUSTED_FOR)
        {
            Standing::Trusted
        } else if self.failures.get(&k).is_none_or(|f| f.count == 0) {
            Standing::Clean
        } else {
            Standing::Failed
        }
    }

    /// What a checked password means for its address.
    fn settle(
        &mut self,
        client: IpAddr,
        right: bool,
        user: &str,
        digest: Option<[u8; 20]>,
        now: Instant,
    ) -> Verdict {
        // The account may have gone while its password was checked.
        let principal = self.principal(user, None).filter(|_| right);
        let Some(principal) = principal else {
            return self.fail(client, now);
        };
        self.failures.remove(&key(client));
        self.trusted.retain(|(ip, _)| *ip != key(client));
        if self.trusted.len() >= MAX_TRUSTED {
            self.trusted.sort_by_key(|(_, at)| std::cmp::Reverse(*at));
            self.trusted.truncate(MAX_TRUSTED - 1);
        }
        self.trusted.push((key(client), now));
        let hashed = self
            .account(user)
            .is_some_and(|(c, _)| matches!(c.secret, Secret::Hash(_)));
        if let Some(digest) = digest.filter(|_| hashed) {
            if self.verified.len() >= MAX_VERIFIED {
                self.verified
                    .sort_by_key(|(_, used, _)| std::cmp::Reverse(*used));
                self.verified.truncate(MAX_VERIFIED - 1);
            }
            self.verified.push((digest, now, user.into()));
        }
        Verdict::Allowed(principal)
    }

    /// A new session after `user`'s right password: its token for the cookie.
    pub fn start_session(
        &mut self,
        user: &str,
        client: IpAddr,
        now: Instant,
    ) -> Result<String, String> {
        self.new_session(user, None, client, now)
    }

    fn new_session(
        &mut self,
        user: &str,
        share: Option<String>,
        client: IpAddr,
        now: Instant,
    ) -> Result<String, String> {
        let token = hex(&random_bytes::<16>()?);
        if self.sessions.len() >= MAX_SESSIONS {
            self.sessions.sort_by_key(|s| std::cmp::Reverse(s.used));
            let evicted = self.sessions.split_off(MAX_SESSIONS - 1);
            self.ended
                .extend(evicted.iter().map(|s| Ended::Session(s.id)));
        }
        let id = SessionId(self.next_session);
        self.next_session += 1;
        self.sessions.push(Session {
            id,
            token: token.clone(),
            user: user.into(),
            share,
            created: now,
            used: now,
        });
        log::info!(
            "{client}: {user} logged in ({} sessions)",
            self.sessions.len()
        );
        Ok(token)
    }

    /// `POST /api/logout`: the session is over on the server, whatever the
    /// browser keeps, and so is every connection it opened.
    pub fn logout(&mut self, session: &str) -> bool {
        let before = self.sessions.len();
        let ended = &mut self.ended;
        self.sessions.retain(|s| {
            let this = constant_time_eq(s.token.as_bytes(), session.as_bytes());
            if this {
                ended.push(Ended::Session(s.id));
            }
            !this
        });
        before != self.sessions.len()
    }

    /// The sessions that ended since the last call: the loop closes the
    /// connections they opened.
    pub fn take_ended(&mut self) -> Vec<Ended> {
        std::mem::take(&mut self.ended)
    }

    /// When the next session ends or check is given up, if any.
    pub fn poll_at(&self) -> Option<Instant> {
        let sessions = self.sessions.iter().map(Session::ends_at);
        let checks = self.pending.iter().map(|p| p.since + CHECK_TIMEOUT);
        let file = self.accounts.as_ref().map(|_| self.accounts_check);
        sessions.chain(checks).chain(file).min()
    }

    /// The live session of a cookie's token, if any (not counted as a use).
    /// Compares against every session so the time taken says nothing about
    /// which token came close.
    pub fn session_of(&self, token: Option<&str>) -> Option<SessionId> {
        let token = token?;
        let mut found = None;
        for s in &self.sessions {
            if constant_time_eq(s.token.as_bytes(), token.as_bytes()) {
                found = Some(s.id);
            }
        }
        found
    }

    /// Like `session_of`, and counts as a use: who the session is.
    fn touch_session(&mut self, token: &str, now: Instant) -> Option<Principal> {
        let id = self.session_of(Some(token))?;
        let session = self.sessions.iter_mut().find(|s| s.id == id)?;
        session.used = now;
        let user = session.user.clone();
        match session.share.clone() {
            Some(share) => {
                let live = self.shares.as_ref()?.is_live(&share, cli::unix_now());
                live.then_some(Principal {
                    user,
                    role: Role::Viewer,
                    session: Some(id),
                    guest: true,
                })
            }
            None => self.principal(&user, Some(id)),
        }
    }

    fn locked_out(&self, client: IpAddr, now: Instant) -> Option<Verdict> {
        let f = self.failures.get(&key(client))?;
        (now < f.locked_until).then(|| Verdict::LockedOut {
            retry_after: f.locked_until - now,
        })
    }

    /// No check could start: the address may not ask again for a while
    /// (at least `BUSY_WAIT`; meanwhile it gets 429 for free), so guessing
    /// addresses that retry at once take no more of the budget than the
    /// real user retrying once a second. Not a failure: the address stays
    /// clean (`Budget::take`).
    fn busy(&mut self, client: IpAddr, retry_after: Duration, now: Instant) -> Verdict {
        let retry_after = retry_after.max(BUSY_WAIT);
        let f = self.record(client, now);
        f.locked_until = f.locked_until.max(now + retry_after);
        Verdict::Busy { retry_after }
    }

    /// The address's record, made room for within `MAX_TRACKED`.
    fn record(&mut self, client: IpAddr, now: Instant) -> &mut Failures {
        let k = key(client);
        if !self.failures.contains_key(&k) && self.failures.len() >= MAX_TRACKED {
            if let Some(stalest) = self
                .failures
                .iter()
                .min_by_key(|(_, f)| f.last)
                .map(|(k, _)| *k)
            {
                self.failures.remove(&stalest);
            }
        }
        self.failures.entry(k).or_insert(Failures {
            count: 0,
            last: now,
            locked_until: now,
        })
    }

    fn fail(&mut self, client: IpAddr, now: Instant) -> Verdict {
        let f = self.record(client, now);
        f.count = f.count.saturating_add(1);
        f.last = now;
        let delay = delay_after(f.count);
        f.locked_until = now + delay;
        log::warn!(
            "{client}: failed login ({} in a row); answering in {:.1} s and refusing this address until then",
            f.count,
            delay.as_secs_f64()
        );
        Verdict::Refused {
            until: f.locked_until,
        }
    }

    /// Forgets what is over: sessions (their connections are closed by the
    /// loop, `take_ended`), old failures and digests, checks that never
    /// got an answer.
    pub fn expire(&mut self, now: Instant) {
        let ended = &mut self.ended;
        self.sessions.retain(|s| {
            let live = now < s.ends_at();
            if !live {
                ended.push(Ended::Session(s.id));
            }
            live
        });
        self.failures
            .retain(|_, f| now.duration_since(f.last) < FORGET_FAILURES || now < f.locked_until);
        self.verified
            .retain(|(_, used, _)| now.duration_since(*used) < VERIFIED_IDLE);
        self.pending.retain(|p| now < p.since + CHECK_TIMEOUT);
        if now >= self.accounts_check {
            self.accounts_check = now + ACCOUNTS_CHECK;
            self.reload_accounts();
            self.expire_shares(cli::unix_now());
        }
    }

    /// Takes in what `kv user ...` changed in the accounts file: whoever's
    /// password or role changed, or who is gone, is logged out.
    fn reload_accounts(&mut self) {
        let Some(accounts) = self.accounts.as_mut().filter(|a| a.changed_on_disk()) else {
            return;
        };
        match accounts.reload() {
            Ok(changed) => {
                log::info!(
                    "👥 {}: reloaded, {} accounts",
                    accounts.path().display(),
                    accounts.list().len()
                );
                for user in changed {
                    self.end_user(&user);
                }
            }
            Err(e) => log::error!("{e}; keeping the accounts read before"),
        }
    }

    fn digest(&self, authorization: &str) -> [u8; 20] {
        let mut sha = Sha1::new();
        sha.update(self.digest_key);
        sha.update(authorization.trim().as_bytes());
        sha.finalize().into()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// How long the `n`th failure in a row waits: doubling from `FIRST_DELAY`.
fn delay_after(n: u32) -> Duration {
    let doublings = n.saturating_sub(1).min(16);
    (FIRST_DELAY * (1u32 << doublings)).min(MAX_DELAY)
}

/// The address failures (and connections, `event_loop`) are counted by:
/// IPv6 clients usually own a whole /64, so it counts as one; IPv4-mapped
/// addresses count as IPv4.
pub fn key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut s = v6.segments();
                s[4..].fill(0);
                IpAddr::V6(s.into())
            }
        },
    }
}

/// The user and password of a `Basic` `Authorization` value.
fn basic_pair(authorization: &str) -> Option<(String, String)> {
    let (scheme, encoded) = authorization.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// Compares every byte whatever the first difference; only the lengths leak.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        diff |= (a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0)) as usize;
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain() -> Credentials {
        Credentials {
            user: "admin".into(),
            secret: Secret::Plain("s3cret:x".into()),
        }
    }

    fn allowed() -> Verdict {
        allowed_as("admin")
    }

    fn allowed_as(user: &str) -> Verdict {
        Verdict::Allowed(Principal {
            user: user.into(),
            role: Role::Admin,
            session: None,
            guest: false,
        })
    }

    const ME: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 7));
    const OTHER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 8));
    // "admin:s3cret:x"
    const RIGHT: &str = "Basic YWRtaW46czNjcmV0Ong=";
    // "admin:s3cret" (a prefix)
    const WRONG: &str = "Basic YWRtaW46czNjcmV0";

    #[test]
    fn test_open_without_credentials() {
        let mut gate = Gate::new(None, Instant::now());
        assert_eq!(gate.check(ME, None, None, Instant::now()), Verdict::Open);
    }

    #[test]
    fn test_basic_accepts_exact_credentials() {
        let mut gate = Gate::new(Some(plain()), Instant::now());
        let now = Instant::now();
        assert_eq!(gate.check(ME, Some(RIGHT), None, now), allowed());
        assert_eq!(
            gate.check(ME, Some("basic  YWRtaW46czNjcmV0Ong= "), None, now),
            allowed()
        );
        assert_eq!(gate.check(ME, None, None, now), Verdict::Missing);
    }

    #[test]
    fn test_basic_refuses_everything_else() {
        let t0 = Instant::now();
        for (i, bad) in [
            "",
            "Basic",
            "Bearer YWRtaW46czNjcmV0Ong=",
            "Basic !!!",
            WRONG,
            "Basic YWRtaW46czNjcmV0Onh4", // "admin:s3cret:xx"
        ]
        .into_iter()
        .enumerate()
        {
            let mut gate = Gate::new(Some(plain()), Instant::now());
            let now = t0 + Duration::from_secs(i as u64);
            assert!(
                matches!(
                    gate.check(ME, Some(bad), None, now),
                    Verdict::Refused { .. }
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn test_refused_delay_doubles_and_locks_out_meanwhile() {
        let mut gate = Gate::new(Some(plain()), Instant::now());
        let mut now = Instant::now();
        let mut delays = Vec::new();
        for _ in 0..4 {
            let Verdict::Refused { until } = gate.check(ME, Some(WRONG), None, now) else {
                panic!("expected a refusal");
            };
            delays.push(until - now);
            // While the delay runs, even the right password is not checked.
            assert!(matches!(
                gate.check(ME, Some(RIGHT), None, now),
                Verdict::LockedOut { .. }
            ));
            // Another address is not affected.
            assert_eq!(gate.check(OTHER, Some(RIGHT), None, now), allowed());
            now = until;
        }
        assert_eq!(
            delays,
            [500, 1000, 2000, 4000].map(Duration::from_millis).to_vec()
        );
        // Served out: the right password works and clears the count.
        assert_eq!(gate.check(ME, Some(RIGHT), None, now), allowed());
        let Verdict::Refused { until } = gate.check(ME, Some(WRONG), None, now) else {
            panic!()
        };
        assert_eq!(until - now, FIRST_DELAY);
    }

    #[test]
    fn test_delay_is_capped() {
        assert_eq!(delay_after(1), FIRST_DELAY);
        assert_eq!(delay_after(50), MAX_DELAY);
        assert_eq!(delay_after(u32::MAX), MAX_DELAY);
    }

    #[test]
    fn test_failures_forgotten_after_a_while() {
        let mut gate = Gate::new(Some(plain()), Instant::now());
        let t0 = Instant::now();
        gate.check(ME, Some(WRONG), None, t0);
        gate.check(ME, Some(WRONG), None, t0 + Duration::from_secs(1));
        let later = t0 + FORGET_FAILURES + Duration::from_secs(2);
        let Verdict::Refused { until } = gate.check(ME, Some(WRONG), None, later) else {
            panic!()
        };
        assert_eq!(until - later, FIRST_DELAY);
    }

    #[test]
    fn test_failure_table_is_bounded() {
        let mut gate = Gate::new(Some(plain()), Instant::now());
        let now = Instant::now();
        for i in 0..(MAX_TRACKED as u32 + 100) {
            let ip = IpAddr::V4(i.into());
            gate.check(ip, Some(WRONG), None, now + Duration::from_micros(i.into()));
        }
        assert_eq!(gate.failures.len(), MAX_TRACKED);
    }

    #[test]
    fn test_ipv6_counts_per_64() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(key(a), key(b));
        assert_ne!(key(a), key(c));
        let mapped: IpAddr = "::ffff:10.0.0.7".parse().unwrap();
        assert_eq!(key(mapped), ME);
    }

    #[test]
    fn test_session_login_check_logout() {
        let mut gate = Gate::new(Some(plain()), Instant::now());
        let now = Instant::now();
        let token = login(&mut gate, ME, "admin", "s3cret:x", now).unwrap();
        assert_eq!(token.len(), 32);
        assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
        assert!(matches!(
            gate.check(OTHER, None, Some(&token), now),
            Verdict::Session(_)
        ));
        assert_eq!(gate.check(ME, None, Some("0000"), now), Verdict::Missing);
        assert!(gate.logout(&token));
        assert_eq!(gate.check(ME, None, Some(&token), now), Verdict::Missing);
        assert!(matches!(
            login(&mut gate, ME, "admin", "nope", now),
            Err(Verdict::Refused { .. })
        ));
        assert!(matches!(
            login(&mut gate, ME, "admin", "s3cret:x", now),
            Err(Verdict::LockedOut { .. })
        ));
    }

    #[test]
    fn test_sessions_expire_and_are_bounded() {
        let mut gate = Gate::new(Some(plain()), Instant::now());
        let t0 = Instant::now();
        let first = login(&mut gate, ME, "admin", "s3cret:x", t0).unwrap();
        let idle = t0 + SESSION_IDLE + Duration::from_secs(1);
        assert_eq!(gate.check(ME, None, Some(&first), idle), Verdict::Missing);
        let tokens: Vec<String> = (0..MAX_SESSIONS + 3)
            .map(|i| {
                login(
                    &mut gate,
                    ME,
                    "admin",
                    "s3cret:x",
                    idle + Duration::from_secs(i as u64),
                )
                .unwrap()
            })
            .collect();
        assert_eq!(gate.sessions.len(), MAX_SESSIONS);
        let now = idle + Duration::from_secs(100);
        assert_eq!(
            gate.check(ME, None, Some(&tokens[0]), now),
            Verdict::Missing
        );
        let newest = tokens.last().unwrap();
        assert!(matches!(
            gate.check(ME, None, Some(newest), now),
            Verdict::Session(_)
        ));
    }

    #[test]
    fn test_hash_round_trip_and_cache() {
        let phc = hash_password("hunter2").unwrap();
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        let creds = Credentials {
            user: "op".into(),
            secret: Secret::hash(&phc).unwrap(),
        };
        assert!(creds.verify("op", "hunter2"));
        assert!(!creds.verify("op", "hunter3"));
        assert!(!creds.verify("po", "hunter2"));
        let now = Instant::now();
        let mut gate = Gate::new(Some(creds), now);
        gate.start_checker(Box::new(|| {})).unwrap();
        // "op:hunter2"
        let right = "Basic b3A6aHVudGVyMg==";
        let Verdict::Pending(ticket) = gate.check(ME, Some(right), None, now) else {
            panic!("a hash is checked on the checker thread");
        };
        assert_eq!(answer(&mut gate, now), (ticket, allowed_as("op")));
        assert_eq!(gate.verified.len(), 1);
        // Remembered: no second check.
        assert_eq!(gate.check(ME, Some(right), None, now), allowed_as("op"));
        assert!(!format!("{:?}", gate.credentials).contains("argon2id$"));
        assert!(Secret::hash("$2b$10$abcdefghijklmnopqrstuv").is_err());
        assert!(Secret::hash("hunter2").is_err());
    }

    /// A login as `POST /api/login` makes it with a plain password.
    fn login(
        gate: &mut Gate,
        client: IpAddr,
        user: &str,
        password: &str,
        now: Instant,
    ) -> Result<String, Verdict> {
        match gate.check_password(client, user, password, now) {
            Verdict::Allowed(_) => Ok(gate.start_session(user, client, now).unwrap()),
            other => Err(other),
        }
    }

    /// The next `n` answers of the checker thread, waiting up to 10 s.
    fn answers(gate: &mut Gate, now: Instant, n: usize) -> Vec<(Ticket, Verdict)> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut got = Vec::new();
        while got.len() < n {
            assert!(
                Instant::now() < deadline,
                "no answer from the checker in 10 s"
            );
            got.extend(gate.answers(now));
            std::thread::sleep(Duration::from_millis(5));
        }
        got
    }

    fn answer(gate: &mut Gate, now: Instant) -> (Ticket, Verdict) {
        answers(gate, now, 1).remove(0)
    }

    fn hashed() -> Credentials {
        Credentials {
            user: "admin".into(),
            // A cheap hash (m=8 KiB, t=1) of "s3cret:x": the budget is what is tested.
            secret: Secret::hash(
                &Argon2::new(
                    argon2::Algorithm::Argon2id,
                    argon2::Version::V0x13,
                    argon2::Params::new(8, 1, 1, None).unwrap(),
                )
                .hash_password(
                    b"s3cret:x",
                    &SaltString::encode_b64(b"0123456789abcdef").unwrap(),
                )
                .unwrap()
                .to_string(),
            )
            .unwrap(),
        }
    }

    /// Issue 15, finding 2: wrong passwords from many addresses each ran
    /// argon2 in the loop. Now a hash is never checked in the caller's
    /// turn, checks start within a global budget and one at a time per
    /// address, and a session needs no check at all.
    #[test]
    fn test_attack_wrong_passwords_from_200_addresses_are_budgeted_off_the_loop() {
        let t0 = Instant::now();
        let mut gate = Gate::new(Some(hashed()), t0);
        gate.start_checker(Box::new(|| {})).unwrap();
        let session = {
            let Verdict::Pending(_) = gate.check_password(ME, "admin", "s3cret:x", t0) else {
                panic!()
            };
            assert_eq!(answer(&mut gate, t0).1, allowed());
            gate.start_session("admin", ME, t0).unwrap()
        };
        let verdicts: Vec<Verdict> = (1..=200u32)
            .map(|i| {
                let ip = IpAddr::V4(std::net::Ipv4Addr::from(0x7f00_0000 + i));
                gate.check(ip, Some(WRONG), None, t0)
            })
            .collect();
        let started = verdicts
            .iter()
            .filter(|v| matches!(v, Verdict::Pending(_)))
            .count();
        // The login took one check and the last is kept for its address.
        assert_eq!(started, CHECK_BURST as usize - 2, "{verdicts:?}");
        assert!(verdicts[started..]
            .iter()
            .all(|v| matches!(v, Verdict::Busy { .. })));
        // The session is served without a check meanwhile.
        assert!(matches!(
            gate.check(OTHER, None, Some(&session), t0),
            Verdict::Session(_)
        ));
        // One check at a time per address.
        let first = IpAddr::V4(std::net::Ipv4Addr::from(0x7f00_0001));
        assert!(matches!(
            gate.check(first, Some(RIGHT), None, t0),
            Verdict::Busy { .. }
        ));
        // A second later the budget lets the real user's password through.
        let later = t0 + Duration::from_secs(1);
        for (_, verdict) in answers(&mut gate, later, started) {
            assert!(matches!(verdict, Verdict::Refused { .. }));
        }
        let Verdict::Pending(ticket) = gate.check(OTHER, Some(RIGHT), None, later) else {
            panic!("the real user's check should start");
        };
        assert_eq!(answer(&mut gate, later), (ticket, allowed()));
    }

    /// On a board a check takes about a second, so checks wait in the
    /// checker's queue however slowly the budget lets them start: guessers
    /// may not fill it, or the operator's right password finds no room.
    /// The last slot is kept for trusted addresses, as the last token is.
    #[test]
    fn test_attack_slow_checks_leave_the_queue_room_for_the_operator() {
        let t0 = Instant::now();
        let mut gate = Gate::new(Some(hashed()), t0);
        gate.start_checker(Box::new(|| {})).unwrap();
        let Verdict::Pending(_) = gate.check_password(ME, "admin", "s3cret:x", t0) else {
            panic!()
        };
        answer(&mut gate, t0);
        // A guesser a second, each with a full budget; no answer is taken
        // (the checks are still running, as far as the gate knows).
        let verdicts: Vec<Verdict> = (1..=10u32)
            .map(|i| {
                let ip = IpAddr::V4(std::net::Ipv4Addr::from(0x7f00_0100 + i));
                gate.check(ip, Some(WRONG), None, t0 + Duration::from_secs(i.into()))
            })
            .collect();
        let queued = verdicts
            .iter()
            .take_while(|v| matches!(v, Verdict::Pending(_)))
            .count();
        assert_eq!(queued, checker::QUEUE - 1, "{verdicts:?}");
        assert!(verdicts[queued..]
            .iter()
            .all(|v| matches!(v, Verdict::Busy { .. })));
        let later = t0 + Duration::from_secs(11);
        let Verdict::Pending(ticket) = gate.check(ME, Some(RIGHT), None, later) else {
            panic!("the operator's check should find room");
        };
        let got = answers(&mut gate, later, queued + 1);
        assert!(got.contains(&(ticket, allowed())), "{got:?}");
    }

    /// Guessing addresses retrying the moment a check is free leave the
    /// last check for the operator's address, the one before for addresses
    /// that have not failed.
    #[test]
    fn test_attack_budget_keeps_checks_for_trusted_and_clean_addresses() {
        let t0 = Instant::now();
        let mut budget = Budget {
            tokens: CHECK_BURST,
            at: t0,
        };
        assert!(budget.take(Standing::Failed, t0).is_ok());
        assert!(budget.take(Standing::Failed, t0).is_ok());
        assert!(budget.take(Standing::Failed, t0).is_err());
        assert!(budget.take(Standing::Clean, t0).is_ok());
        assert!(budget.take(Standing::Clean, t0).is_err());
        assert!(budget.take(Standing::Trusted, t0).is_ok());
        assert_eq!(
            budget.take(Standing::Trusted, t0),
            Err(Duration::from_secs_f64(1.0 / CHECKS_PER_SECOND))
        );
        let mut gate = Gate::new(Some(plain()), t0);
        assert_eq!(gate.standing(ME, t0), Standing::Clean);
        gate.check(ME, Some(WRONG), None, t0);
        assert_eq!(gate.standing(ME, t0), Standing::Failed);
        let later = t0 + Duration::from_secs(1);
        assert_eq!(gate.check(ME, Some(RIGHT), None, later), allowed());
        assert_eq!(gate.standing(ME, later), Standing::Trusted);
        assert_eq!(gate.standing(ME, later + TRUSTED_FOR), Standing::Clean);
    }

    /// Issue 15, finding 4: the loop is told of every session that ends,
    /// however it ends, to close the connections it opened.
    #[test]
    fn test_attack_ended_sessions_are_reported_to_close_their_connections() {
        let t0 = Instant::now();
        let mut gate = Gate::new(Some(plain()), t0);
        let token = login(&mut gate, ME, "admin", "s3cret:x", t0).unwrap();
        let Verdict::Session(id) = gate.check(ME, None, Some(&token), t0) else {
            panic!()
        };
        assert!(gate.logout(&token));
        assert_eq!(gate.take_ended(), [Ended::Session(id.session.unwrap())]);
        assert_eq!(gate.take_ended(), []);
        let token = login(&mut gate, ME, "admin", "s3cret:x", t0).unwrap();
        let Verdict::Session(id) = gate.check(ME, None, Some(&token), t0) else {
            panic!()
        };
        let ends = gate.poll_at().unwrap();
        assert_eq!(ends, t0 + SESSION_IDLE);
        gate.expire(ends - Duration::from_secs(1));
        assert_eq!(gate.take_ended(), []);
        gate.expire(ends);
        assert_eq!(gate.take_ended(), [Ended::Session(id.session.unwrap())]);
        // Evicted by the 33rd login.
        let first = login(&mut gate, ME, "admin", "s3cret:x", ends).unwrap();
        let Verdict::Session(first) = gate.check(ME, None, Some(&first), ends) else {
            panic!()
        };
        for i in 1..=MAX_SESSIONS as u64 {
            login(
                &mut gate,
                ME,
                "admin",
                "s3cret:x",
                ends + Duration::from_secs(i),
            )
            .unwrap();
        }
        assert_eq!(gate.take_ended(), [Ended::Session(first.session.unwrap())]);
    }

    /// A share link's guest is a viewer until the link expires (a test
    /// clock: wall-clock seconds given) or is revoked; then the session
    /// ends and the loop is told to close its connections.
    #[test]
    fn test_share_guest_until_expiry_or_revoke() {
        let dir = crate::testutil::TempDir::new("gate-shares");
        let t0 = Instant::now();
        let mut gate = Gate::new(Some(plain()), t0);
        gate.set_accounts(
            accounts::Accounts::open(dir.path()).unwrap(),
            shares::Shares::open(dir.path()),
        );
        let (share, token) = gate.create_share("Vendor", "admin", 600).unwrap();
        assert!(matches!(
            gate.open_share(ME, "nope", t0),
            Err(Verdict::Refused { .. })
        ));
        let (cookie, name) = gate.open_share(OTHER, &token, t0).unwrap();
        assert_eq!(name, "Vendor (guest)");
        let Verdict::Session(guest) = gate.check(OTHER, None, Some(&cookie), t0) else {
            panic!()
        };
        assert_eq!((guest.role, guest.guest), (Role::Viewer, true));
        gate.take_ended();
        gate.expire_shares(share.expires - 1);
        assert_eq!(gate.take_ended(), []);
        gate.expire_shares(share.expires);
        assert_eq!(gate.take_ended(), [Ended::Session(guest.session.unwrap())]);
        assert_eq!(gate.check(OTHER, None, Some(&cookie), t0), Verdict::Missing);
        assert!(gate.open_share(OTHER, &token, t0).is_err());

        let (share, token) = gate.create_share("Phone", "admin", 300).unwrap();
        // After the failed tries' delay.
        let t1 = t0 + Duration::from_secs(1);
        let (cookie, _) = gate.open_share(OTHER, &token, t1).unwrap();
        gate.revoke_share(&share.id).unwrap();
        assert_eq!(gate.take_ended().len(), 1);
        assert_eq!(gate.check(OTHER, None, Some(&cookie), t1), Verdict::Missing);
    }

    #[test]
    fn test_constant_time_eq() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(constant_time_eq(b"", b""));
    }
}
