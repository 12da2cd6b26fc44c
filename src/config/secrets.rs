//! Who may log in and how the connection is encrypted: credentials from the
//! environment, `--password-file` or `--password-hash`, and `--tls-*`.

use super::{Args, Env};
use crate::auth::{Credentials, Secret};
use crate::tls::TlsSource;

/// The one user kv knows: from --password-file, --password-hash /
/// KV_PASSWORD_HASH, or KV_USER/KV_PASSWORD, in that order. A password file
/// may hold an argon2 hash in place of the password.
pub(super) fn credentials(
    password_file: Option<&std::path::Path>,
    password_hash: Option<&str>,
    env: Env,
) -> Result<Option<Credentials>, String> {
    let env_user = env("KV_USER").filter(|u| !u.is_empty());
    if let Some(path) = password_file {
        let text = std::fs::read_to_string(path).map_err(|e| {
            format!(
                "--password-file {}: {e}; create it with \"user:password\" on one line",
                path.display()
            )
        })?;
        let line = text.lines().next().unwrap_or("").trim_end_matches('\r');
        let (user, password) = match line.split_once(':') {
            Some((u, p)) if !u.starts_with('$') => (u.to_string(), p.to_string()),
            _ => (env_user.unwrap_or_else(|| "admin".into()), line.to_string()),
        };
        if user.is_empty() || password.is_empty() {
            return Err(format!(
                "--password-file {}: empty user or password; write \"user:password\"",
                path.display()
            ));
        }
        let secret = if password.starts_with("$argon2") {
            Secret::hash(&password)
                .map_err(|e| format!("--password-file {}: the hash {e}", path.display()))?
        } else {
            Secret::Plain(password)
        };
        return Ok(Some(Credentials { user, secret }));
    }
    let hash = password_hash
        .map(|h| ("--password-hash", h.to_string()))
        .or_else(|| env("KV_PASSWORD_HASH").map(|h| ("KV_PASSWORD_HASH", h)))
        .filter(|(_, h)| !h.is_empty());
    if let Some((from, hash)) = hash {
        let secret = Secret::hash(&hash).map_err(|e| format!("{from} {e}"))?;
        let user = env_user.unwrap_or_else(|| "admin".into());
        return Ok(Some(Credentials { user, secret }));
    }
    match (env_user, env("KV_PASSWORD").filter(|p| !p.is_empty())) {
        (Some(user), Some(password)) => Ok(Some(Credentials {
            user,
            secret: Secret::Plain(password),
        })),
        (None, None) => Ok(None),
        (Some(_), None) => Err(
            "KV_USER is set but KV_PASSWORD is not; set both, or neither to run without login"
                .into(),
        ),
        (None, Some(password)) => Ok(Some(Credentials {
            user: "admin".into(),
            secret: Secret::Plain(password),
        })),
    }
}

/// `--tls-cert`/`--tls-key` or `--tls-self-signed` into where the certificate
/// comes from.
pub(super) fn tls_source(args: &Args) -> Result<Option<TlsSource>, String> {
    if !args.tls_name.is_empty() && !args.tls_self_signed {
        return Err("--tls-name names what --tls-self-signed makes a certificate for; add --tls-self-signed".into());
    }
    match (&args.tls_cert, &args.tls_key, args.tls_self_signed) {
        (None, None, false) => Ok(None),
        (Some(_), _, true) | (_, Some(_), true) => Err(
            "--tls-self-signed and --tls-cert/--tls-key exclude each other; use your certificate or kv's own"
                .into(),
        ),
        (Some(cert), Some(key), false) => Ok(Some(TlsSource::Files {
            cert: cert.clone(),
            key: key.clone(),
        })),
        (Some(_), None, false) => Err("--tls-cert needs --tls-key, the certificate's private key".into()),
        (None, Some(_), false) => Err("--tls-key needs --tls-cert, the key's certificate".into()),
        (None, None, true) => Ok(Some(TlsSource::SelfSigned {
            dir: args.state_dir.clone(),
            names: if args.tls_name.is_empty() {
                crate::tls::default_names()
            } else {
                args.tls_name.clone()
            },
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::{args, no_env};
    use crate::config::Config;

    #[test]
    fn test_credentials_from_env_and_file() {
        let env = |k: &str| match k {
            "KV_USER" => Some("op".to_string()),
            "KV_PASSWORD" => Some("pw".to_string()),
            _ => None,
        };
        let c = Config::from_args(args(&[]), &env)
            .unwrap()
            .credentials
            .unwrap();
        assert_eq!((c.user.as_str(), plain(&c)), ("op", "pw"));
        let only_user = |k: &str| (k == "KV_USER").then(|| "op".to_string());
        assert!(Config::from_args(args(&[]), &only_user)
            .unwrap_err()
            .contains("KV_PASSWORD"));

        let path = std::env::temp_dir().join(format!("kv-test-pw-{}", std::process::id()));
        std::fs::write(&path, "alice:a:b\n").unwrap();
        let c =
            Config::from_args(args(&["--password-file", path.to_str().unwrap()]), &no_env).unwrap();
        let c = c.credentials.unwrap();
        assert_eq!((c.user.as_str(), plain(&c)), ("alice", "a:b"));
        std::fs::remove_file(&path).unwrap();
        let e =
            Config::from_args(args(&["--password-file", "/nonexistent/kv"]), &no_env).unwrap_err();
        assert!(e.contains("/nonexistent/kv"), "{e}");
    }

    fn plain(c: &Credentials) -> &str {
        match &c.secret {
            Secret::Plain(p) => p,
            Secret::Hash(_) => panic!("expected a plain password"),
        }
    }

    #[test]
    fn test_debug_hides_password() {
        let c = Credentials {
            user: "u".into(),
            secret: Secret::Plain("hunter2".into()),
        };
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn test_password_hash_from_flag_env_and_file() {
        // Made by `kv --hash-password` for "pw".
        let phc = crate::auth::hash_password("pw").unwrap();
        let c = Config::from_args(args(&["--password-hash", &phc]), &no_env)
            .unwrap()
            .credentials
            .unwrap();
        assert_eq!(c.user, "admin");
        assert!(c.verify("admin", "pw"));
        let env = |k: &str| match k {
            "KV_USER" => Some("op".to_string()),
            "KV_PASSWORD_HASH" => Some(phc.clone()),
            _ => None,
        };
        let c = Config::from_args(args(&[]), &env)
            .unwrap()
            .credentials
            .unwrap();
        assert!(c.verify("op", "pw") && !c.verify("op", "px"));
        let e = Config::from_args(args(&["--password-hash", "pw"]), &no_env).unwrap_err();
        assert!(
            e.contains("--password-hash") && e.contains("kv --hash-password"),
            "{e}"
        );

        let path = std::env::temp_dir().join(format!("kv-test-hash-{}", std::process::id()));
        std::fs::write(&path, format!("alice:{phc}\n")).unwrap();
        let c = Config::from_args(args(&["--password-file", path.to_str().unwrap()]), &no_env)
            .unwrap()
            .credentials
            .unwrap();
        std::fs::remove_file(&path).unwrap();
        assert!(c.verify("alice", "pw"));
    }

    #[test]
    fn test_tls_flags() {
        let c = Config::from_args(
            args(&[
                "--tls-cert",
                "/c.pem",
                "--tls-key",
                "/k.pem",
                "--http-port",
                "127.0.0.1:8080",
            ]),
            &no_env,
        )
        .unwrap();
        assert_eq!(
            c.tls,
            Some(TlsSource::Files {
                cert: "/c.pem".into(),
                key: "/k.pem".into()
            })
        );
        assert_eq!(c.http_listen.unwrap().to_string(), "127.0.0.1:8080");
        let c = Config::from_args(
            args(&[
                "--tls-self-signed",
                "--state-dir",
                "/s",
                "--tls-name",
                "kv.lan",
                "--http-port",
                "80",
            ]),
            &no_env,
        )
        .unwrap();
        assert_eq!(
            c.tls,
            Some(TlsSource::SelfSigned {
                dir: "/s".into(),
                names: vec!["kv.lan".into()]
            })
        );
        assert_eq!(c.http_listen.unwrap().to_string(), "0.0.0.0:80");
        assert!(Config::from_args(args(&[]), &no_env).unwrap().tls.is_none());
    }

    #[test]
    fn test_tls_refusals_name_the_flag() {
        let refuse = |list: &[&str], want: &str| {
            let e = Config::from_args(args(list), &no_env).unwrap_err();
            assert!(e.contains(want), "{e}");
        };
        refuse(&["--tls-cert", "/c.pem"], "--tls-key");
        refuse(&["--tls-key", "/k.pem"], "--tls-cert");
        refuse(&["--tls-self-signed", "--tls-cert", "/c.pem"], "exclude");
        refuse(&["--tls-name", "kv.lan"], "--tls-self-signed");
        refuse(&["--http-port", "8080"], "plain HTTP");
        refuse(&["--tls-self-signed", "--http-port", "3000"], "HTTPS port");
        refuse(&["--tls-self-signed", "--http-port", "x"], "--http-port");
    }
}
