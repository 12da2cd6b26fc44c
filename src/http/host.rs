//! The names kv answers to. A browser decides what is same-origin by the
//! name in the address bar, so a foreign page whose own name is made to
//! resolve to kv's address (DNS rebinding) sends kv requests with a
//! `Host` and `Origin` of that foreign name, which agree with each other.
//! Checking `Origin` against `Host` cannot catch that; checking `Host`
//! against the names kv is really known by does (issue 15, finding 1).
//!
//! Known: any IP literal (no page can own one), `localhost`, the machine's
//! host name and `<host>.local`, each `--host-name` and `--tls-name`, and
//! the DNS names of a `--tls-cert` (a wildcard `*.example.org` covering
//! one label, as in the certificate's own rules).

use std::net::IpAddr;

/// The names (lower case, no trailing dot) kv answers to besides IP literals.
#[derive(Clone, Debug, Default)]
pub struct KnownNames {
    names: Vec<String>,
}

impl KnownNames {
    /// `localhost`, the host name as the kernel has it (and its `.local`
    /// form), plus `extra` (from --host-name and --tls-name).
    pub fn new(host_name: &str, extra: &[String]) -> KnownNames {
        let mut names = vec!["localhost".to_string()];
        let host = normalise(host_name);
        if !host.is_empty() {
            names.push(format!("{host}.local"));
            names.push(host);
        }
        names.extend(extra.iter().map(|n| normalise(n)));
        names.sort();
        names.dedup();
        KnownNames { names }
    }

    /// Whether a `Host` header value (`name`, `name:port`, `1.2.3.4:80`,
    /// `[::1]:80`) names kv. None (HTTP/1.0 scripts) is let through: every
    /// browser sends `Host`.
    pub fn knows(&self, host: Option<&str>) -> bool {
        let Some(host) = host else { return true };
        let name = name_of(host);
        if name.parse::<IpAddr>().is_ok() {
            return true;
        }
        let name = normalise(name);
        self.names
            .iter()
            .any(|known| match known.strip_prefix("*.") {
                Some(parent) => name
                    .split_once('.')
                    .is_some_and(|(label, rest)| !label.is_empty() && rest == parent),
                None => *known == name,
            })
    }
}

/// The name part of a `Host` value, without port or IPv6 brackets.
fn name_of(host: &str) -> &str {
    let host = host.trim();
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or("");
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

fn normalise(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// The answer for a name kv does not know, saying what to do about it.
pub fn misdirected(host: Option<&str>) -> super::response::Response {
    let name = name_of(host.unwrap_or(""));
    super::response::Response::error(
        super::Status::MisdirectedRequest,
        &format!(
            "kv does not answer to the name {name:?} (a guard against DNS rebinding); \
             reach it by its IP address, or if {name:?} is its name start kv with --host-name {name}"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> KnownNames {
        KnownNames::new(
            "kvboard\n",
            &["KV.example.org.".to_string(), "*.lan.example".to_string()],
        )
    }

    #[test]
    fn test_ip_literals_and_own_names_are_known() {
        let k = known();
        for host in [
            "127.0.0.1:8080",
            "192.168.1.20",
            "[::1]:80",
            "[fe80::1]",
            "localhost:8080",
            "LOCALHOST",
            "kvboard",
            "kvboard.local:443",
            "kv.example.org",
            "kv.example.org.:80",
            "board.lan.example",
        ] {
            assert!(k.knows(Some(host)), "{host}");
        }
        assert!(k.knows(None));
    }

    /// Issue 15, finding 1: a rebound name reached kv.
    #[test]
    fn test_attack_dns_rebinding_names_are_not_known() {
        let k = known();
        for host in [
            "attacker.example:8080",
            "127.0.0.1.attacker.example",
            "kvboard.attacker.example",
            "localhost.attacker.example",
            "",
            "kv.example.org:80:80",
            "lan.example",
            "a.b.lan.example",
            ".lan.example",
        ] {
            assert!(!k.knows(Some(host)), "{host}");
        }
        let answer = misdirected(Some("attacker.example:8080"));
        assert_eq!(answer.status, crate::http::Status::MisdirectedRequest);
        let body = String::from_utf8(answer.body).unwrap();
        assert!(body.contains("--host-name attacker.example"), "{body}");
    }
}
