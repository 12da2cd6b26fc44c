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

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::Engine;
use sha1::{Digest, Sha1};

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
    /// Valid Basic credentials or a live session.
    Allowed,
    /// Nothing offered (or a session that is over): ask for credentials.
    Missing,
    /// Wrong credentials: answer 401, but not before `until`.
    Refused { until: Instant },
    /// The address is serving out a delay: 429, retry after this long.
    LockedOut { retry_after: Duration },
}

struct Failures {
    count: u32,
    last: Instant,
    /// No password from this address is checked before then.
    locked_until: Instant,
}

struct Session {
    token: String,
    created: Instant,
    used: Instant,
}

pub struct Gate {
    credentials: Option<Credentials>,
    failures: HashMap<IpAddr, Failures>,
    sessions: Vec<Session>,
    /// Keyed digests of `Authorization` values that matched a hash, with last use.
    verified: Vec<([u8; 20], Instant)>,
    digest_key: [u8; 16],
}

impl Gate {
    pub fn new(credentials: Option<Credentials>) -> Gate {
        Gate {
            credentials,
            failures: HashMap::new(),
            sessions: Vec::new(),
            verified: Vec::new(),
            // Without randomness the digests are still unguessable to a
            // client; they only need to differ from one header to another.
            digest_key: random_bytes().unwrap_or_default(),
        }
    }

    pub fn enabled(&self) -> bool {
        self.credentials.is_some()
    }

    /// Judges a request by its `Authorization` header and session cookie.
    pub fn check(
        &mut self,
        client: IpAddr,
        authorization: Option<&str>,
        session: Option<&str>,
        now: Instant,
    ) -> Verdict {
        if self.credentials.is_none() {
            return Verdict::Open;
        }
        self.expire(now);
        if let Some(token) = session {
            if self.touch_session(token, now) {
                return Verdict::Allowed;
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
            .find(|(d, _)| constant_time_eq(d, &digest))
        {
            entry.1 = now;
            return Verdict::Allowed;
        }
        let right = basic_pair(authorization).is_some_and(|(user, password)| {
            self.credentials
                .as_ref()
                .is_some_and(|c| c.verify(&user, &password))
        });
        if !right {
            return self.fail(client, now);
        }
        self.failures.remove(&key(client));
        if matches!(
            self.credentials,
            Some(Credentials {
                secret: Secret::Hash(_),
                ..
            })
        ) {
            if self.verified.len() >= MAX_VERIFIED {
                self.verified
                    .sort_by_key(|(_, used)| std::cmp::Reverse(*used));
                self.verified.truncate(MAX_VERIFIED - 1);
            }
            self.verified.push((digest, now));
        }
        Verdict::Allowed
    }

    /// `POST /api/login`: a new session token, or why not.
    pub fn login(
        &mut self,
        client: IpAddr,
        user: &str,
        password: &str,
        now: Instant,
    ) -> Result<String, Verdict> {
        if self.credentials.is_none() {
            return Err(Verdict::Open);
        }
        self.expire(now);
        if let Some(verdict) = self.locked_out(client, now) {
            return Err(verdict);
        }
        let right = self
            .credentials
            .as_ref()
            .is_some_and(|c| c.verify(user, password));
        if !right {
            return Err(self.fail(client, now));
        }
        self.failures.remove(&key(client));
        let token: String = random_bytes::<16>()
            .map_err(|e| {
                log::error!("{client}: no session: {e}");
                Verdict::Missing
            })?
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        if self.sessions.len() >= MAX_SESSIONS {
            self.sessions.sort_by_key(|s| std::cmp::Reverse(s.used));
            self.sessions.truncate(MAX_SESSIONS - 1);
        }
        self.sessions.push(Session {
            token: token.clone(),
            created: now,
            used: now,
        });
        log::info!("{client}: logged in ({} sessions)", self.sessions.len());
        Ok(token)
    }

    /// `POST /api/logout`: the session is over on the server, whatever the
    /// browser keeps.
    pub fn logout(&mut self, session: &str) -> bool {
        let before = self.sessions.len();
        self.sessions
            .retain(|s| !constant_time_eq(s.token.as_bytes(), session.as_bytes()));
        before != self.sessions.len()
    }

    /// Compares against every session so the time taken says nothing about
    /// which token came close.
    fn touch_session(&mut self, token: &str, now: Instant) -> bool {
        let mut found = false;
        for s in &mut self.sessions {
            if constant_time_eq(s.token.as_bytes(), token.as_bytes()) {
                s.used = now;
                found = true;
            }
        }
        found
    }

    fn locked_out(&self, client: IpAddr, now: Instant) -> Option<Verdict> {
        let f = self.failures.get(&key(client))?;
        (now < f.locked_until).then(|| Verdict::LockedOut {
            retry_after: f.locked_until - now,
        })
    }

    fn fail(&mut self, client: IpAddr, now: Instant) -> Verdict {
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
        let f = self.failures.entry(k).or_insert(Failures {
            count: 0,
            last: now,
            locked_until: now,
        });
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

    fn expire(&mut self, now: Instant) {
        self.sessions.retain(|s| {
            now.duration_since(s.used) < SESSION_IDLE
                && now.duration_since(s.created) < SESSION_LIFE
        });
        self.failures
            .retain(|_, f| now.duration_since(f.last) < FORGET_FAILURES || now < f.locked_until);
        self.verified
            .retain(|(_, used)| now.duration_since(*used) < VERIFIED_IDLE);
    }

    fn digest(&self, authorization: &str) -> [u8; 20] {
        let mut sha = Sha1::new();
        sha.update(self.digest_key);
        sha.update(authorization.trim().as_bytes());
        sha.finalize().into()
    }
}

/// How long the `n`th failure in a row waits: doubling from `FIRST_DELAY`.
fn delay_after(n: u32) -> Duration {
    let doublings = n.saturating_sub(1).min(16);
    (FIRST_DELAY * (1u32 << doublings)).min(MAX_DELAY)
}

/// The address failures are counted by: IPv6 clients usually own a whole
/// /64, so it counts as one; IPv4-mapped addresses count as IPv4.
fn key(ip: IpAddr) -> IpAddr {
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

    const ME: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 7));
    const OTHER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 8));
    // "admin:s3cret:x"
    const RIGHT: &str = "Basic YWRtaW46czNjcmV0Ong=";
    // "admin:s3cret" (a prefix)
    const WRONG: &str = "Basic YWRtaW46czNjcmV0";

    #[test]
    fn test_open_without_credentials() {
        let mut gate = Gate::new(None);
        assert_eq!(gate.check(ME, None, None, Instant::now()), Verdict::Open);
    }

    #[test]
    fn test_basic_accepts_exact_credentials() {
        let mut gate = Gate::new(Some(plain()));
        let now = Instant::now();
        assert_eq!(gate.check(ME, Some(RIGHT), None, now), Verdict::Allowed);
        assert_eq!(
            gate.check(ME, Some("basic  YWRtaW46czNjcmV0Ong= "), None, now),
            Verdict::Allowed
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
            let mut gate = Gate::new(Some(plain()));
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
        let mut gate = Gate::new(Some(plain()));
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
            assert_eq!(gate.check(OTHER, Some(RIGHT), None, now), Verdict::Allowed);
            now = until;
        }
        assert_eq!(
            delays,
            [500, 1000, 2000, 4000].map(Duration::from_millis).to_vec()
        );
        // Served out: the right password works and clears the count.
        assert_eq!(gate.check(ME, Some(RIGHT), None, now), Verdict::Allowed);
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
        let mut gate = Gate::new(Some(plain()));
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
        let mut gate = Gate::new(Some(plain()));
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
        let mut gate = Gate::new(Some(plain()));
        let now = Instant::now();
        let token = gate.login(ME, "admin", "s3cret:x", now).unwrap();
        assert_eq!(token.len(), 32);
        assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(gate.check(OTHER, None, Some(&token), now), Verdict::Allowed);
        assert_eq!(gate.check(ME, None, Some("0000"), now), Verdict::Missing);
        assert!(gate.logout(&token));
        assert_eq!(gate.check(ME, None, Some(&token), now), Verdict::Missing);
        assert!(matches!(
            gate.login(ME, "admin", "nope", now),
            Err(Verdict::Refused { .. })
        ));
        assert!(matches!(
            gate.login(ME, "admin", "s3cret:x", now),
            Err(Verdict::LockedOut { .. })
        ));
    }

    #[test]
    fn test_sessions_expire_and_are_bounded() {
        let mut gate = Gate::new(Some(plain()));
        let t0 = Instant::now();
        let first = gate.login(ME, "admin", "s3cret:x", t0).unwrap();
        let idle = t0 + SESSION_IDLE + Duration::from_secs(1);
        assert_eq!(gate.check(ME, None, Some(&first), idle), Verdict::Missing);
        let tokens: Vec<String> = (0..MAX_SESSIONS + 3)
            .map(|i| {
                gate.login(
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
        assert_eq!(gate.check(ME, None, Some(newest), now), Verdict::Allowed);
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
        let mut gate = Gate::new(Some(creds));
        let now = Instant::now();
        // "op:hunter2"
        let right = "Basic b3A6aHVudGVyMg==";
        assert_eq!(gate.check(ME, Some(right), None, now), Verdict::Allowed);
        assert_eq!(gate.verified.len(), 1);
        assert_eq!(gate.check(ME, Some(right), None, now), Verdict::Allowed);
        assert!(!format!("{:?}", gate.credentials).contains("argon2id$"));
        assert!(Secret::hash("$2b$10$abcdefghijklmnopqrstuv").is_err());
        assert!(Secret::hash("hunter2").is_err());
    }

    #[test]
    fn test_constant_time_eq() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(constant_time_eq(b"", b""));
    }
}
