//! Basic authentication: the one user kv knows, compared in constant time so a
//! response's timing tells nothing about how much of a guess was right.

use base64::Engine;

#[derive(Clone)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

impl Credentials {
    /// Whether an `Authorization` header value carries these credentials.
    pub fn check(&self, authorization: Option<&str>) -> bool {
        let Some(value) = authorization else {
            return false;
        };
        let Some((scheme, encoded)) = value.trim().split_once(' ') else {
            return false;
        };
        if !scheme.eq_ignore_ascii_case("basic") {
            return false;
        }
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
            return false;
        };
        let expected = format!("{}:{}", self.user, self.password);
        constant_time_eq(&decoded, expected.as_bytes())
    }
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

    fn creds() -> Credentials {
        Credentials {
            user: "admin".into(),
            password: "s3cret:x".into(),
        }
    }

    #[test]
    fn test_check_accepts_exact_credentials() {
        // "admin:s3cret:x"
        assert!(creds().check(Some("Basic YWRtaW46czNjcmV0Ong=")));
        assert!(creds().check(Some("basic  YWRtaW46czNjcmV0Ong= ")));
    }

    #[test]
    fn test_check_refuses_everything_else() {
        for bad in [
            None,
            Some(""),
            Some("Basic"),
            Some("Bearer YWRtaW46czNjcmV0Ong="),
            Some("Basic !!!"),
        ] {
            assert!(!creds().check(bad), "{bad:?}");
        }
        // "admin:s3cret" (prefix) and "admin:s3cret:xx" (longer)
        assert!(!creds().check(Some("Basic YWRtaW46czNjcmV0")));
        assert!(!creds().check(Some("Basic YWRtaW46czNjcmV0Onh4")));
    }

    #[test]
    fn test_constant_time_eq() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(constant_time_eq(b"", b""));
    }
}
