//! Two-step login (TOTP) and the audit log, through the real binary: an
//! account enrols over the API, logs in with password and code, is refused
//! without one and with a wrong one (delayed like a wrong password), logs
//! in once with each recovery code; the audit log shows the logins and a
//! media attach with their address, and no password, code or secret.
//!
//! The test computes codes with its own RFC 6238 (HMAC-SHA1 written out
//! over the `sha1` crate), not with kv's, which uses ring's HMAC.

mod common;

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use common::{header, kv_user, Kv, TempDir};
use sha1::{Digest, Sha1};

/// RFC 2104 HMAC with SHA-1 (64-byte blocks).
fn hmac_sha1(key: &[u8], message: &[u8]) -> [u8; 20] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..20].copy_from_slice(&Sha1::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.map(|b| b ^ byte);
    let inner = Sha1::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha1::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

/// RFC 4648 base32, as the otpauth URI carries the secret.
fn base32(text: &str) -> Vec<u8> {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let bits: Vec<u8> = text
        .bytes()
        .flat_map(|c| {
            let v = alphabet
                .iter()
                .position(|&a| a == c)
                .expect("base32 letter") as u8;
            (0..5).rev().map(move |i| (v >> i) & 1)
        })
        .collect();
    bits.chunks_exact(8)
        .map(|byte| byte.iter().fold(0, |acc, b| (acc << 1) | b))
        .collect()
}

/// The 6-digit TOTP code of `secret` for the 30-second step of `unix`.
fn totp(secret: &str, unix: u64) -> String {
    let mac = hmac_sha1(&base32(secret), &(unix / 30).to_be_bytes());
    let offset = (mac[19] & 0xf) as usize;
    let word = u32::from_be_bytes(mac[offset..offset + 4].try_into().unwrap()) & 0x7fff_ffff;
    format!("{:06}", word % 1_000_000)
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn test_own_totp_matches_rfc6238() {
    // RFC 6238 Appendix B, SHA-1, last 6 of the 8 digits.
    let secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"; // "12345678901234567890"
    assert_eq!(totp(secret, 59), "287082");
    assert_eq!(totp(secret, 1111111109), "081804");
    assert_eq!(totp(secret, 2000000000), "279037");
}

/// `kv user ARGS`, which must succeed; what it printed.
fn user(state_dir: &Path, args: &[&str], stdin: &str) -> String {
    let (ok, said) = kv_user(state_dir, args, stdin);
    assert!(ok, "kv user {args:?}: {said}");
    said
}

const PASSWORD: &str = "ann's long passphrase";

/// `POST /api/login` for ann; (status, head, body, how long kv took).
fn login(kv: &Kv, code: Option<&str>) -> (u16, String, String, Duration) {
    let code = code.map_or(String::new(), |c| format!(",\"code\":\"{c}\""));
    let body = format!("{{\"user\":\"ann\",\"password\":\"{PASSWORD}\"{code}}}");
    let started = Instant::now();
    let (status, head, body) = kv.send_json("POST", "/api/login", &body, "");
    (
        status,
        head,
        String::from_utf8(body).unwrap(),
        started.elapsed(),
    )
}

/// The same, waiting out a `429` (its `Retry-After`) from the wrong codes before.
fn login_when_allowed(kv: &Kv, code: Option<&str>) -> (u16, String, String, Duration) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let answer = login(kv, code);
        if answer.0 != 429 || Instant::now() > deadline {
            return answer;
        }
        let wait = header(&answer.1, "retry-after")
            .and_then(|s| s.parse().ok())
            .unwrap_or(1);
        std::thread::sleep(Duration::from_secs(wait));
    }
}

fn cookie(head: &str) -> String {
    let set = header(head, "set-cookie").expect("a session cookie");
    format!("Cookie: {}\r\n", set.split(';').next().unwrap())
}

fn json(kv: &Kv, method: &str, path: &str, body: &str, extra: &str) -> (u16, String) {
    let (status, _, body) = kv.send_json(method, path, body, extra);
    (status, String::from_utf8(body).unwrap())
}

fn field<'a>(json: &'a str, name: &str) -> &'a str {
    let start = json.find(&format!("\"{name}\":\"")).expect(name) + name.len() + 4;
    &json[start..start + json[start..].find('"').unwrap()]
}

#[test]
fn test_totp_enrol_login_recovery_and_audit() {
    let dir = TempDir::new("flow");
    user(
        &dir.0,
        &["add", "ann", "--role", "admin"],
        &format!("{PASSWORD}\n"),
    );
    user(
        &dir.0,
        &["add", "vic", "--role", "viewer"],
        "vic's password\n",
    );
    let images = dir.0.join("images");
    let kv = Kv::demo(&[
        "--state-dir",
        dir.0.to_str().unwrap(),
        "--images",
        images.to_str().unwrap(),
    ]);

    // Without a factor, the password is enough.
    let (status, head, _, _) = login(&kv, None);
    assert_eq!(status, 200);
    let session = cookie(&head);
    let (status, state) = json(&kv, "GET", "/api/account/totp", "", &session);
    assert_eq!(
        (status, state.contains("\"enabled\":false")),
        (200, true),
        "{state}"
    );

    // Enrol: a secret, its URI and QR code; confirmed with the app's code.
    let (status, begun) = json(
        &kv,
        "POST",
        "/api/account/totp",
        r#"{"action":"begin"}"#,
        &session,
    );
    assert_eq!(status, 200, "{begun}");
    let secret = field(&begun, "secret").to_string();
    assert_eq!(
        field(&begun, "uri"),
        format!("otpauth://totp/kv:ann?secret={secret}&issuer=kv")
    );
    assert!(begun.contains("\"qr\":\"<svg "), "{begun}");
    let (status, wrong) = json(
        &kv,
        "POST",
        "/api/account/totp",
        r#"{"action":"confirm","code":"12"}"#,
        &session,
    );
    assert_eq!(status, 400, "{wrong}");
    let enrol_code = totp(&secret, now_unix());
    let confirm = format!("{{\"action\":\"confirm\",\"code\":\"{enrol_code}\"}}");
    let (status, confirmed) = json(&kv, "POST", "/api/account/totp", &confirm, &session);
    assert_eq!(status, 200, "{confirmed}");
    let recovery: Vec<String> = confirmed
        .split('"')
        .filter(|s| s.len() == 19 && s.matches('-').count() == 3)
        .map(str::to_string)
        .collect();
    assert_eq!(recovery.len(), 10, "{confirmed}");

    // The password alone now asks for the code.
    let (status, _, body, _) = login(&kv, None);
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("\"code_needed\":true"), "{body}");

    // Wrong codes are refused late, like wrong passwords: 0.5 s, then 1 s.
    let wrong_code = totp(&secret, now_unix() + 600);
    for least in [450, 950] {
        let (status, _, body, took) = login_when_allowed(&kv, Some(&wrong_code));
        assert_eq!(status, 401, "{body}");
        assert!(body.contains("wrong code"), "{body}");
        assert!(
            took >= Duration::from_millis(least),
            "answered after {took:?}"
        );
    }
    let next_code = totp(&secret, now_unix() + 30);

    // The next step's code logs in; used again, it is refused.
    let (status, head, body, _) = login_when_allowed(&kv, Some(&next_code));
    assert_eq!(status, 200, "{body}");
    let session = cookie(&head);
    let (status, _, body, _) = login_when_allowed(&kv, Some(&next_code));
    assert_eq!(status, 401, "a code is good once: {body}");

    // A recovery code logs in once.
    let (status, _, body, _) = login_when_allowed(&kv, Some(&recovery[3]));
    assert_eq!(status, 200, "{body}");
    let (status, _, body, _) = login_when_allowed(&kv, Some(&recovery[3]));
    assert_eq!(status, 401, "{body}");

    // Basic auth cannot carry a code: refused, saying so.
    let basic = format!(
        "Authorization: Basic {}\r\n",
        base64(&format!("ann:{PASSWORD}"))
    );
    let (status, _, body) = kv.get_with("/api/status", &basic);
    assert_eq!(status, 401);
    assert!(
        String::from_utf8_lossy(&body).contains("second factor"),
        "{}",
        String::from_utf8_lossy(&body)
    );
    let with_dead_cookie = format!("{basic}Cookie: kv_session=0123\r\n");
    let (status, _, _) = kv.get_with("/api/status", &with_dead_cookie);
    assert_eq!(
        status, 401,
        "a dead session cookie beside Basic opens nothing"
    );

    // A media attach, under the session.
    std::fs::write(images.join("disk.img"), vec![0u8; 4096]).unwrap();
    let attach = r#"{"name":"disk.img","mode":"flash"}"#;
    let (status, body) = json(&kv, "POST", "/api/media/attach", attach, &session);
    assert_eq!(status, 200, "{body}");

    // The audit log: the logins and the attach with the address, and no secret.
    let (status, audit) = json(&kv, "GET", "/api/audit?limit=100", "", &session);
    assert_eq!(status, 200, "{audit}");
    for event in [
        "login_ok",
        "login_failed",
        "totp_enrolled",
        "recovery_code_used",
        "media_attach",
    ] {
        assert!(
            audit.contains(&format!("\"event\":\"{event}\"")),
            "{event} in {audit}"
        );
    }
    assert!(audit.contains("\"address\":\"127.0.0.1\""), "{audit}");
    assert!(audit.contains("disk.img as flash"), "{audit}");
    let secrets = [PASSWORD, &secret, &enrol_code, &wrong_code, &next_code]
        .into_iter()
        .map(str::to_string)
        .chain(recovery.iter().cloned());
    for secret in secrets {
        assert!(
            !audit.contains(&secret),
            "{secret:?} in the audit log: {audit}"
        );
    }
    let on_disk = std::fs::read_to_string(dir.0.join("audit.log")).unwrap();
    assert!(!on_disk.contains(PASSWORD) && !on_disk.contains(&secret));
    let viewer = format!("Authorization: Basic {}\r\n", base64("vic:vic's password"));
    assert_eq!(
        json(&kv, "GET", "/api/audit", "", &viewer).0,
        403,
        "admins only"
    );

    // Turned off with password and code; then the password alone is enough.
    let off = format!(
        "{{\"password\":\"{PASSWORD}\",\"code\":\"{}\"}}",
        recovery[5]
    );
    let (status, body) = json(&kv, "DELETE", "/api/account/totp", &off, &session);
    assert_eq!(status, 200, "{body}");
    assert_eq!(login_when_allowed(&kv, None).0, 200);
}

#[test]
fn test_totp_reset_from_the_command_line() {
    let dir = TempDir::new("reset");
    user(
        &dir.0,
        &["add", "ann", "--role", "admin"],
        &format!("{PASSWORD}\n"),
    );
    let kv = Kv::demo(&["--state-dir", dir.0.to_str().unwrap()]);
    let (_, head, _, _) = login(&kv, None);
    let session = cookie(&head);
    let (_, begun) = json(
        &kv,
        "POST",
        "/api/account/totp",
        r#"{"action":"begin"}"#,
        &session,
    );
    let confirm = format!(
        "{{\"action\":\"confirm\",\"code\":\"{}\"}}",
        totp(field(&begun, "secret"), now_unix())
    );
    assert_eq!(
        json(&kv, "POST", "/api/account/totp", &confirm, &session).0,
        200
    );
    assert_eq!(login(&kv, None).0, 401);
    // The phone is lost: the board's admin turns the factor off.
    let said = user(&dir.0, &["totp-reset", "ann"], "");
    assert!(said.contains("ann"), "{said}");
    // The running kv reads the file again within a second or so.
    let deadline = Instant::now() + Duration::from_secs(10);
    while login(&kv, None).0 != 200 {
        assert!(Instant::now() < deadline, "kv still asks ann for a code");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn base64(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}
