//! Share links: view-only access for a named guest until an expiry, made by
//! an operator or admin, revocable. Kept in `--state-dir/shares.json` so a
//! restart keeps them; the link's token is kept only as its SHA-1 (a
//! 128-bit random token needs no slow hash), so the file cannot be turned
//! back into links. Expiry is wall-clock time (seconds since 1970): it must
//! mean the same after a restart.

use std::path::{Path, PathBuf};

use sha1::{Digest, Sha1};

use crate::json::{self, Value};

pub const FILE: &str = "shares.json";
pub const MIN_LIFE: u64 = 5 * 60;
pub const MAX_LIFE: u64 = 30 * 24 * 3600;
/// Live links at once: bounds the file and the list.
const MAX_SHARES: usize = 32;
const MAX_NAME: usize = 40;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Share {
    /// Public handle (for the list and revoking), not the token.
    pub id: String,
    /// The guest's name, shown in presence.
    pub name: String,
    pub by: String,
    pub created: u64,
    pub expires: u64,
    digest: String,
}

pub struct Shares {
    path: PathBuf,
    list: Vec<Share>,
}

fn digest(token: &str) -> String {
    Sha1::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Shares {
    /// Reads the file; a damaged one is reported and set aside as empty
    /// (links are cheap to make again, unlike accounts).
    pub fn open(state_dir: &Path) -> Shares {
        let path = state_dir.join(FILE);
        let list = match std::fs::read_to_string(&path) {
            Ok(text) => parse(&text).unwrap_or_else(|e| {
                log::error!("{}: damaged ({e}); no share links", path.display());
                Vec::new()
            }),
            Err(_) => Vec::new(),
        };
        Shares { path, list }
    }

    pub fn list(&self) -> &[Share] {
        &self.list
    }

    /// A new link for `name`, living `life` seconds from `now`, opened by
    /// `token` (shown once, by the caller; only its digest is kept).
    pub fn create(
        &mut self,
        name: &str,
        by: &str,
        life: u64,
        now: u64,
        token: String,
        id: String,
    ) -> Result<Share, String> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control)
        {
            return Err(format!(
                "the guest's \"name\" must be 1-{MAX_NAME} characters"
            ));
        }
        if !(MIN_LIFE..=MAX_LIFE).contains(&life) {
            return Err(format!(
                "a link lives {} minutes to {} days; send \"minutes\" within that",
                MIN_LIFE / 60,
                MAX_LIFE / 86400
            ));
        }
        if self.list.len() >= MAX_SHARES {
            return Err(format!(
                "at most {MAX_SHARES} links at once; revoke one first"
            ));
        }
        let share = Share {
            id,
            name: format!("{name} (guest)"),
            by: by.into(),
            created: now,
            expires: now + life,
            digest: digest(&token),
        };
        let mut list = self.list.clone();
        list.push(share.clone());
        self.save(list)?;
        Ok(share)
    }

    /// The live link a token opens.
    pub fn find(&self, token: &str, now: u64) -> Option<&Share> {
        let d = digest(token);
        self.list
            .iter()
            .find(|s| super::constant_time_eq(s.digest.as_bytes(), d.as_bytes()) && now < s.expires)
    }

    pub fn is_live(&self, id: &str, now: u64) -> bool {
        self.list.iter().any(|s| s.id == id && now < s.expires)
    }

    pub fn revoke(&mut self, id: &str) -> Result<(), String> {
        let mut list = self.list.clone();
        list.retain(|s| s.id != id);
        if list.len() == self.list.len() {
            return Err(format!("no share link {id:?}"));
        }
        self.save(list)
    }

    /// Forgets expired links; their ids.
    pub fn expire(&mut self, now: u64) -> Vec<String> {
        let (gone, live): (Vec<Share>, Vec<Share>) =
            self.list.iter().cloned().partition(|s| now >= s.expires);
        if gone.is_empty() {
            return Vec::new();
        }
        if let Err(e) = self.save(live) {
            log::warn!("{e}");
            self.list.retain(|s| now < s.expires);
        }
        gone.into_iter().map(|s| s.id).collect()
    }

    fn save(&mut self, list: Vec<Share>) -> Result<(), String> {
        let items = list.iter().map(|s| json(s).str("sha1", &s.digest).finish());
        let text = json::Object::new()
            .raw("shares", &json::array(items))
            .finish();
        crate::sys::fs::write_private(&self.path, text.as_bytes())
            .map_err(|e| format!("{}: cannot save share links: {e}", self.path.display()))?;
        self.list = list;
        Ok(())
    }
}

fn parse(text: &str) -> Result<Vec<Share>, String> {
    let v = Value::parse(text)?;
    let Some(Value::Array(items)) = v.get("shares") else {
        return Err("no \"shares\" list".into());
    };
    items
        .iter()
        .map(|item| {
            let text = |k: &str| {
                item.get(k)
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .ok_or(format!("a link without \"{k}\""))
            };
            let num = |k: &str| item.get(k).and_then(Value::as_i64).unwrap_or(0).max(0) as u64;
            Ok(Share {
                id: text("id")?,
                name: text("name")?,
                by: text("by")?,
                created: num("created"),
                expires: num("expires"),
                digest: text("sha1")?,
            })
        })
        .collect()
}

/// The JSON of one link, for `GET /api/shares` and the answer to a new one.
pub fn json(s: &Share) -> json::Object {
    json::Object::new()
        .str("id", &s.id)
        .str("name", &s.name)
        .str("by", &s.by)
        .num("created", s.created)
        .num("expires", s.expires)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;

    #[test]
    fn test_link_lives_until_expiry_or_revoke_and_survives_restart() {
        let dir = TempDir::new("shares");
        let mut shares = Shares::open(dir.path());
        let t0 = 1_000_000;
        let s = shares
            .create("Vendor", "ada", 600, t0, "tok1".into(), "id1".into())
            .unwrap();
        assert_eq!(s.name, "Vendor (guest)");
        assert!(shares.find("tok1", t0 + 599).is_some());
        assert!(shares.find("tok1", t0 + 600).is_none());
        assert!(shares.find("tok2", t0).is_none());
        let text = std::fs::read_to_string(dir.path().join(FILE)).unwrap();
        assert!(!text.contains("tok1"), "the token itself is never stored");
        let mut again = Shares::open(dir.path());
        assert_eq!(again.list(), shares.list());
        assert_eq!(again.expire(t0 + 599), Vec::<String>::new());
        assert_eq!(again.expire(t0 + 600), ["id1"]);
        assert!(Shares::open(dir.path()).list().is_empty());
        shares
            .create("B", "ada", 300, t0, "tok3".into(), "id3".into())
            .unwrap();
        shares.revoke("id3").unwrap();
        assert!(shares.revoke("id3").is_err());
        assert!(shares
            .create("C", "ada", 299, t0, "t".into(), "i".into())
            .is_err());
        assert!(shares
            .create("", "ada", 300, t0, "t".into(), "i".into())
            .is_err());
    }
}
