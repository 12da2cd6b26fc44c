//! Accounts and roles (issue 16) on the real `kv --demo` binary over TCP:
//! a viewer watches but changes nothing, an operator manages no accounts,
//! the accounts file is made with `kv user` and survives `kill -9`.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{header, kv_binary, kv_user, Kv, Stream, TempDir, Ws};
use kv::json::Value;
use tungstenite::Message;

/// Basic credentials of the accounts `with_accounts` makes.
const VIEWER: &str = "Authorization: Basic dmVyYTp2cHc=\r\n"; // vera:vpw
const OPERATOR: &str = "Authorization: Basic b2xnYTpvcHc=\r\n"; // olga:opw
const ADMIN: &str = "Authorization: Basic YWRhOmFwdw==\r\n"; // ada:apw

/// A demo kv with an admin (ada), an operator (olga) and a viewer (vera).
fn with_accounts(tag: &str, extra: &[&str]) -> (Kv, TempDir) {
    let dir = TempDir::new(tag);
    for (name, role, password) in [
        ("ada", "admin", "apw"),
        ("olga", "operator", "opw"),
        ("vera", "viewer", "vpw"),
    ] {
        let (ok, out) = kv_user(
            &dir.0,
            &["add", name, "--role", role],
            &format!("{password}\n"),
        );
        assert!(ok, "{out}");
    }
    let state = dir.0.to_str().unwrap().to_string();
    let images = dir.0.join("images");
    let images = images.to_str().unwrap();
    let args = [&["--state-dir", &state, "--images", images], extra].concat();
    (Kv::demo(&args), dir)
}

/// kv checks at most 4 passwords a second (issue 15's budget): a test that
/// logs in quickly again and again gets 503 with Retry-After, as any fast
/// client would, and then 429 until that time has passed; it retries as a
/// client should. (Whether kv answers so is tests/security.rs's business.)
fn patiently<T>(mut ask: impl FnMut() -> (u16, T)) -> (u16, T) {
    for _ in 0..100 {
        let (status, answer) = ask();
        if status != 503 && status != 429 {
            return (status, answer);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("kv answered 503 or 429 (checking other passwords) for 10 s");
}

fn get(kv: &Kv, path: &str, extra: &str) -> (u16, String, Vec<u8>) {
    let (status, (head, body)) = patiently(|| {
        let (status, head, body) = kv.get_with(path, extra);
        (status, (head, body))
    });
    (status, head, body)
}

fn send(kv: &Kv, method: &str, path: &str, json: &str, extra: &str) -> (u16, String, Vec<u8>) {
    let (status, (head, body)) = patiently(|| {
        let (status, head, body) = kv.send_json(method, path, json, extra);
        (status, (head, body))
    });
    (status, head, body)
}

fn origin(kv: &Kv) -> String {
    format!("Origin: http://{}\r\n", kv.addr)
}

/// `/ws` opened with Basic credentials `auth` (an `Authorization` line).
fn ws_as(kv: &Kv, path: &str, auth: &str) -> Ws {
    let value = auth
        .trim_end()
        .strip_prefix("Authorization: ")
        .unwrap()
        .to_string();
    let origin = format!("http://{}", kv.addr);
    let (status, ws) =
        patiently(
            || match kv.ws_at(path, Some(&origin), &[("Authorization", &value)]) {
                Ok(ws) => (101, Some(ws)),
                Err(status) => (status, None),
            },
        );
    ws.unwrap_or_else(|| panic!("upgrade: {status}"))
}

/// The next text message of `type` `kind`, skipping others.
fn next_message(ws: &mut Ws, kind: &str) -> String {
    let want = format!("\"type\":\"{kind}\"");
    loop {
        if let Message::Text(text) = ws.read().unwrap() {
            if text.contains(&want) {
                return text.to_string();
            }
        }
    }
}

fn press(ws: &mut Ws, code: &str) {
    for down in [true, false] {
        let msg = format!(r#"{{"type":"key","code":"{code}","down":{down}}}"#);
        ws.send(Message::text(msg)).unwrap();
    }
}

#[test]
fn test_viewer_watches_but_every_change_is_refused() {
    let (kv, _dir) = with_accounts("viewer", &[]);
    // Watches: /stream, /ws/video, the status.
    let mut stream = Stream::open_with(&kv, VIEWER);
    assert!(!stream.next_part().1.is_empty());
    let mut video = ws_as(&kv, "/ws/video", VIEWER);
    let frame = loop {
        if let Message::Binary(bytes) = video.read().unwrap() {
            break bytes;
        }
    };
    assert!(frame.len() > 28);
    for path in [
        "/api/status",
        "/api/session",
        "/api/images",
        "/api/macros",
        "/snapshot.jpg",
    ] {
        assert_eq!(get(&kv, path, VIEWER).0, 200, "{path}");
    }
    let (_, _, session) = get(&kv, "/api/session", VIEWER);
    let session = String::from_utf8(session).unwrap();
    assert!(
        session.contains(r#""user":"vera","role":"viewer""#),
        "{session}"
    );

    // Changes nothing: every state-changing route is 403 and names the role.
    let before = get(&kv, "/api/status", VIEWER).2;
    let extra = format!("{}{VIEWER}", origin(&kv));
    for (method, path, body) in [
        ("POST", "/api/video/mode", r#"{"width":640,"height":480}"#),
        ("POST", "/api/hid/release", "{}"),
        ("POST", "/api/hid/layout", r#"{"layout":"de"}"#),
        ("POST", "/api/hid/settings", r#"{"jiggle_seconds":60}"#),
        ("POST", "/api/media/attach", r#"{"name":"a.img"}"#),
        ("POST", "/api/media/eject", "{}"),
        ("PUT", "/api/images/a.img", "xxxx"),
        ("DELETE", "/api/images/a.img", ""),
        ("POST", "/api/macros", "[]"),
        ("POST", "/api/wol", r#"{"mac":"aa:bb:cc:dd:ee:ff"}"#),
        ("POST", "/api/accounts", r#"{"name":"x","role":"admin"}"#),
    ] {
        let (status, _, body) = send(&kv, method, path, body, &extra);
        let body = String::from_utf8_lossy(&body);
        assert_eq!(status, 403, "{method} {path}: {body}");
        assert!(body.contains("\"needed\":\""), "{method} {path}: {body}");
    }
    assert!(!kv
        .get_with("/api/images", VIEWER)
        .2
        .windows(5)
        .any(|w| w == b"a.img"));
    assert_eq!(get(&kv, "/api/status", VIEWER).2, before);

    // Every input message on /ws is answered with an error and types nothing.
    let mut ws = ws_as(&kv, "/ws", VIEWER);
    next_message(&mut ws, "status");
    for msg in [
        r#"{"type":"key","code":"KeyA","down":true}"#,
        r#"{"type":"key","code":"KeyA","down":false}"#,
        r#"{"type":"abs","x":100,"y":100,"buttons":1}"#,
        r#"{"type":"rel","dx":5,"dy":5}"#,
        r#"{"type":"wheel","dy":1}"#,
        r#"{"type":"release"}"#,
        r#"{"type":"paste","text":"viewer typed"}"#,
    ] {
        ws.send(Message::text(msg)).unwrap();
        let error = next_message(&mut ws, "error");
        assert!(error.contains("operator"), "{msg}: {error}");
    }
    // An operator's key after them shows what reached the target: only it.
    let mut op = ws_as(&kv, "/ws", OPERATOR);
    next_message(&mut op, "status");
    press(&mut op, "KeyZ");
    let screen = kv.wait_screen(OPERATOR, "z");
    assert!(screen.contains('z'), "{screen}");
    assert!(
        !screen.contains('a') && !screen.contains("viewer typed"),
        "{screen}"
    );
}

#[test]
fn test_operator_controls_but_cannot_manage_accounts() {
    let (kv, _dir) = with_accounts("operator", &[]);
    let extra = format!("{}{OPERATOR}", origin(&kv));
    assert_eq!(send(&kv, "POST", "/api/hid/release", "{}", &extra).0, 200);
    let (status, _, body) = get(&kv, "/api/accounts", OPERATOR);
    assert_eq!(status, 403);
    assert!(String::from_utf8_lossy(&body).contains("\"needed\":\"admin\""));
    for (method, path) in [("POST", "/api/accounts"), ("DELETE", "/api/accounts/vera")] {
        let (status, _, _) = send(&kv, method, path, r#"{"role":"admin"}"#, &extra);
        assert_eq!(status, 403, "{method} {path}");
    }
    let (_, _, session) = get(&kv, "/api/session", ADMIN);
    assert!(String::from_utf8_lossy(&session).contains(r#""role":"admin""#));
}

/// An upgrade keeps what it had: KV_USER/KV_PASSWORD is an admin, beside
/// the accounts file's accounts.
#[test]
fn test_legacy_single_user_config_logs_in_as_admin() {
    let dir = TempDir::new("legacy");
    let (ok, out) = kv_user(&dir.0, &["add", "vera", "--role", "viewer"], "vpw\n");
    assert!(ok, "{out}");
    let state = dir.0.to_str().unwrap();
    let kv = Kv::start(
        &["--demo", "--state-dir", state],
        &[("KV_USER", "op"), ("KV_PASSWORD", "pw")],
    );
    let login = r#"{"user":"op","password":"pw"}"#;
    let (status, head, _) = send(&kv, "POST", "/api/login", login, &origin(&kv));
    assert_eq!(status, 200);
    let cookie = header(&head, "set-cookie").unwrap();
    let pair = cookie.split(';').next().unwrap();
    let (_, _, body) = get(&kv, "/api/session", &format!("Cookie: {pair}\r\n"));
    let body = String::from_utf8(body).unwrap();
    assert!(body.contains(r#""user":"op","role":"admin""#), "{body}");
    let (_, _, body) = get(&kv, "/api/session", VIEWER);
    assert!(String::from_utf8_lossy(&body).contains(r#""role":"viewer""#));
    assert_eq!(
        get(&kv, "/api/session", "Authorization: Basic b3A6eA==\r\n").0,
        401
    );
}

#[test]
fn test_kv_user_refuses_bad_input_and_never_overwrites_a_damaged_file() {
    let dir = TempDir::new("cli");
    let (ok, out) = kv_user(&dir.0, &["add", "ann", "--role", "root"], "pw\n");
    assert!(!ok && out.contains("admin, operator, viewer"), "{out}");
    let (ok, out) = kv_user(&dir.0, &["add", "a:b"], "pw\n");
    assert!(!ok && out.contains("letters, digits"), "{out}");
    let (ok, out) = kv_user(&dir.0, &["add", "ann"], "\n");
    assert!(!ok && out.contains("empty password"), "{out}");
    let (ok, out) = kv_user(&dir.0, &["passwd", "nobody"], "pw\n");
    assert!(!ok && out.contains("no account"), "{out}");
    let (ok, out) = kv_user(&dir.0, &["add", "ann", "--role", "admin"], "pw\n");
    assert!(ok, "{out}");
    let (ok, out) = kv_user(&dir.0, &["list"], "");
    assert!(ok && out.contains("ann") && out.contains("admin"), "{out}");
    let (ok, out) = kv_user(&dir.0, &["del", "ann"], "");
    assert!(!ok && out.contains("last admin"), "{out}");

    let file = dir.0.join("accounts.json");
    std::fs::write(&file, "{\"accounts\":[").unwrap();
    let (ok, out) = kv_user(&dir.0, &["add", "bob"], "pw\n");
    assert!(!ok && out.contains("damaged"), "{out}");
    let kv = Command::new(kv_binary())
        .args(["--demo", "-b", "127.0.0.1", "-p", "0", "--state-dir"])
        .arg(&dir.0)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&kv.stderr).into_owned();
    assert!(
        !kv.status.success(),
        "kv started with a damaged accounts file"
    );
    assert!(
        said.contains("damaged") && said.contains("will not overwrite"),
        "{said}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "{\"accounts\":[");
}

/// `kill -9` of kv while it rewrites the accounts file again and again
/// (role changes through the API, no hashing in between) leaves the old
/// file or the new one, whole, readable by its owner only; and a `kill -9`
/// of `kv user passwd` as well.
#[test]
fn test_accounts_file_survives_kill_9_during_writes() {
    use std::os::unix::fs::PermissionsExt;
    let (mut kv, dir) = with_accounts("kill9", &[]);
    let file = dir.0.join("accounts.json");
    let check = || {
        let text = std::fs::read_to_string(&file).unwrap();
        let v = Value::parse(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        let Some(Value::Array(accounts)) = v.get("accounts") else {
            panic!("{text}")
        };
        assert_eq!(accounts.len(), 3, "{text}");
        let olga = accounts[1].get("role").and_then(Value::as_str).unwrap();
        assert!(["operator", "viewer"].contains(&olga), "{text}");
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}");
    };
    for round in 0..5 {
        let admin = format!("{}{ADMIN}", origin(&kv));
        let mut writes = 0;
        // Enough writes that the kill lands among them, whatever the speed.
        while writes < 20 + 7 * round {
            let role = ["viewer", "operator"][writes % 2];
            let body = format!(r#"{{"role":"{role}"}}"#);
            let (status, _, _) = send(&kv, "POST", "/api/accounts/olga", &body, &admin);
            assert_eq!(status, 200);
            writes += 1;
        }
        // One more write on the way while kv dies.
        let mut last = kv.connect();
        let body = r#"{"role":"viewer"}"#;
        write!(
            last,
            "POST /api/accounts/olga HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{admin}\r\n{body}",
            kv.addr,
            body.len()
        )
        .unwrap();
        kv.kill_9();
        check();
        let state = dir.0.to_str().unwrap();
        let images = dir.0.join("images");
        kv = Kv::demo(&["--state-dir", state, "--images", images.to_str().unwrap()]);
    }
    drop(kv);
    // `kv user passwd` killed at varying points (mostly while hashing).
    for kill in 0..6u64 {
        let mut child = Command::new(kv_binary())
            .args(["user", "--state-dir"])
            .arg(&dir.0)
            .args(["passwd", "vera"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let _ = child.stdin.take().unwrap().write_all(b"new\n");
        std::thread::sleep(Duration::from_millis(50 + 150 * kill));
        let _ = child.kill();
        let _ = child.wait();
        check();
    }
}

/// Reads `ws` until kv closes it; how long that took since `t0`.
fn closed_after(ws: &mut Ws, t0: Instant) -> Duration {
    ws.get_mut()
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    loop {
        match ws.read() {
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                panic!("the WebSocket is still open {:?} later", t0.elapsed())
            }
            Err(_) => return t0.elapsed(),
        }
    }
}

/// Logs in with a password; the session cookie line.
fn login(kv: &Kv, user: &str, password: &str) -> String {
    let body = format!(r#"{{"user":"{user}","password":"{password}"}}"#);
    let (status, head, _) = send(&kv, "POST", "/api/login", &body, &origin(kv));
    assert_eq!(status, 200, "login {user}");
    let cookie = header(&head, "set-cookie").unwrap();
    format!("Cookie: {}\r\n", cookie.split(';').next().unwrap())
}

fn ws_with_cookie(kv: &Kv, cookie: &str) -> Ws {
    let value = cookie.trim_end().strip_prefix("Cookie: ").unwrap();
    let origin = format!("http://{}", kv.addr);
    let mut ws = kv.ws(Some(&origin), &[("Cookie", value)]).expect("upgrade");
    next_message(&mut ws, "status");
    ws
}

#[test]
fn test_admin_manages_accounts_and_changes_end_connections_within_a_second() {
    let (kv, _dir) = with_accounts("admin-api", &[]);
    let admin = format!("{}{ADMIN}", origin(&kv));
    let (status, _, body) = get(&kv, "/api/accounts", ADMIN);
    let body = String::from_utf8(body).unwrap();
    assert_eq!(status, 200);
    assert!(
        body.contains(r#"{"name":"vera","role":"viewer","#),
        "{body}"
    );

    // Add, then log in as the new account.
    let add = r#"{"name":"nina","role":"operator","password":"npw"}"#;
    let (status, _, body) = send(&kv, "POST", "/api/accounts", add, &admin);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let (status, _, body) = send(&kv, "POST", "/api/accounts", add, &admin);
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&body).contains("exists already"));

    // A password change ends the account's session and its connections.
    let nina = login(&kv, "nina", "npw");
    let mut ws = ws_with_cookie(&kv, &nina);
    let change = r#"{"password":"npw2"}"#;
    // Timed from the answer: the new password is hashed first.
    assert_eq!(
        send(&kv, "POST", "/api/accounts/nina", change, &admin).0,
        200
    );
    let t0 = Instant::now();
    assert!(closed_after(&mut ws, t0) < Duration::from_secs(1));
    assert_eq!(get(&kv, "/api/session", &nina).0, 401);
    let nina = login(&kv, "nina", "npw2");

    // A role change, too; then the new role holds.
    let mut ws = ws_with_cookie(&kv, &nina);
    let t0 = Instant::now();
    let change = r#"{"role":"viewer"}"#;
    assert_eq!(
        send(&kv, "POST", "/api/accounts/nina", change, &admin).0,
        200
    );
    assert!(closed_after(&mut ws, t0) < Duration::from_secs(1));
    let nina = login(&kv, "nina", "npw2");
    let (_, _, body) = get(&kv, "/api/session", &nina);
    assert!(String::from_utf8_lossy(&body).contains(r#""role":"viewer""#));

    // Basic-auth connections of a deleted account close as well.
    let mut ws = ws_as(&kv, "/ws", OPERATOR);
    next_message(&mut ws, "status");
    let t0 = Instant::now();
    assert_eq!(send(&kv, "DELETE", "/api/accounts/olga", "", &admin).0, 200);
    assert!(closed_after(&mut ws, t0) < Duration::from_secs(1));
    assert_eq!(get(&kv, "/api/status", OPERATOR).0, 401);

    // The last admin stays.
    let (status, _, body) = send(&kv, "DELETE", "/api/accounts/ada", "", &admin);
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&body).contains("last admin"));
}

/// `kv user` while kv runs: kv takes the change in within a second or so
/// and ends the changed account's connections.
#[test]
fn test_cli_change_while_running_ends_connections() {
    let (kv, dir) = with_accounts("cli-live", &[]);
    let mut ws = ws_as(&kv, "/ws", VIEWER);
    next_message(&mut ws, "status");
    let (ok, out) = kv_user(&dir.0, &["passwd", "vera"], "other\n");
    assert!(ok, "{out}");
    let t0 = Instant::now();
    // The file check runs once a second.
    assert!(closed_after(&mut ws, t0) < Duration::from_secs(2));
    assert_eq!(get(&kv, "/api/status", VIEWER).0, 401);
    assert_eq!(
        get(
            &kv,
            "/api/status",
            "Authorization: Basic dmVyYTpvdGhlcg==\r\n"
        )
        .0,
        200
    );
}

/// The `you` seat id of a `presence` message.
fn seat_of(presence: &str) -> u64 {
    let v = Value::parse(presence).unwrap();
    v.get("you").and_then(Value::as_i64).unwrap() as u64
}

/// The seat id in control, by a `presence` message.
fn holder(presence: &str) -> Option<u64> {
    let v = Value::parse(presence).unwrap();
    let Some(Value::Array(people)) = v.get("people") else {
        panic!("{presence}")
    };
    people
        .iter()
        .find(|p| p.get("control").and_then(Value::as_bool) == Some(true))
        .and_then(|p| p.get("id").and_then(Value::as_i64))
        .map(|id| id as u64)
}

/// Presence messages until one `satisfies`; returns it.
fn presence_until(ws: &mut Ws, satisfies: impl Fn(&str) -> bool) -> String {
    loop {
        let p = next_message(ws, "presence");
        if satisfies(&p) {
            return p;
        }
    }
}

/// Issue 16: with one controller, a key the holder keeps down is released
/// when control passes; the next controller's typing is not shifted.
#[test]
fn test_control_handover_releases_held_keys_on_the_demo_target() {
    let (kv, _dir) = with_accounts("control", &["--control", "single"]);
    let mut olga = ws_as(&kv, "/ws", OPERATOR);
    next_message(&mut olga, "status");
    let olga_seat = seat_of(&next_message(&mut olga, "presence"));
    let mut ada = ws_as(&kv, "/ws", ADMIN);
    next_message(&mut ada, "status");
    let ada_seat = seat_of(&next_message(&mut ada, "presence"));
    // Everyone sees everyone, with role and who controls.
    let seen = presence_until(&mut olga, |p| p.contains("\"user\":\"ada\""));
    assert!(
        seen.contains(r#""user":"olga","role":"operator""#),
        "{seen}"
    );

    // Olga types first, so she is in control; she holds Shift.
    press(&mut olga, "KeyX");
    assert!(kv.wait_screen(ADMIN, "x").contains('x'));
    presence_until(&mut ada, |p| holder(p) == Some(olga_seat));
    let down = r#"{"type":"key","code":"ShiftLeft","down":true}"#;
    olga.send(Message::text(down)).unwrap();
    press(&mut olga, "KeyY");
    assert!(kv.wait_screen(ADMIN, "xY").contains("xY"));

    // Ada's keys are refused while Olga is in control.
    press(&mut ada, "KeyQ");
    let refused = next_message(&mut ada, "error");
    assert!(refused.contains("olga is in control"), "{refused}");

    // Ada asks; Olga sees it and grants; her Shift is released.
    let ask = r#"{"type":"control","action":"request"}"#;
    ada.send(Message::text(ask)).unwrap();
    presence_until(&mut olga, |p| p.contains("\"asking\":true"));
    let grant = format!(r#"{{"type":"control","action":"grant","to":{ada_seat}}}"#);
    olga.send(Message::text(grant)).unwrap();
    presence_until(&mut ada, |p| holder(p) == Some(ada_seat));
    press(&mut ada, "KeyZ");
    let screen = kv.wait_screen(ADMIN, "xYz");
    assert!(screen.contains("xYz"), "Shift stayed down: {screen}");
    // Olga's input is refused now.
    press(&mut olga, "KeyW");
    assert!(next_message(&mut olga, "error").contains("ada is in control"));
    let (status, _, body) = get(&kv, "/api/presence", VIEWER);
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&body).contains("\"single\":true"));
}

/// A share link makes a named guest viewer who watches until the link is
/// revoked; then the connection it opened closes within a second. A guest
/// changes nothing and makes no links.
#[test]
fn test_share_link_guest_watches_until_revoked() {
    let (kv, _dir) = with_accounts("share", &[]);
    let operator = format!("{}{OPERATOR}", origin(&kv));
    let make = r#"{"name":"Vendor","minutes":60}"#;
    let (status, _, body) = send(&kv, "POST", "/api/shares", make, &operator);
    let body = String::from_utf8(body).unwrap();
    assert_eq!(status, 200, "{body}");
    let made = Value::parse(&body).unwrap();
    let link = made
        .get("link")
        .and_then(Value::as_str)
        .unwrap()
        .to_string();
    let id = made.get("id").and_then(Value::as_str).unwrap().to_string();
    // The whole address, by the name the operator reached kv by, and as a
    // QR code for a phone (the code itself is decoded in src/qr.rs's test).
    let url = made.get("url").and_then(Value::as_str).unwrap();
    assert_eq!(url, format!("http://{}{link}", kv.addr));
    let qr = made.get("qr").and_then(Value::as_str).unwrap();
    assert!(qr.starts_with("<svg") || qr.starts_with("<?xml"), "{qr}");
    let too_short = r#"{"name":"Vendor","minutes":1}"#;
    assert_eq!(
        send(&kv, "POST", "/api/shares", too_short, &operator).0,
        400
    );
    assert_eq!(get(&kv, "/api/shares", VIEWER).0, 403);

    let (status, head, _) = kv.get(&link);
    assert_eq!(status, 303);
    assert_eq!(header(&head, "location"), Some("/"));
    let cookie = header(&head, "set-cookie").unwrap();
    let guest = format!("Cookie: {}\r\n", cookie.split(';').next().unwrap());
    let (_, _, session) = get(&kv, "/api/session", &guest);
    let session = String::from_utf8(session).unwrap();
    assert!(
        session.contains(r#""user":"Vendor (guest)","role":"viewer","guest":true"#),
        "{session}"
    );
    let mut ws = ws_with_cookie(&kv, &guest);
    let mut stream = Stream::open_with(&kv, &guest);
    assert!(!stream.next_part().1.is_empty());
    let extra = format!("{}{guest}", origin(&kv));
    assert_eq!(send(&kv, "POST", "/api/hid/release", "{}", &extra).0, 403);
    assert_eq!(send(&kv, "POST", "/api/shares", make, &extra).0, 403);
    let (_, _, list) = get(&kv, "/api/shares", OPERATOR);
    assert!(String::from_utf8_lossy(&list).contains("Vendor (guest)"));

    let t0 = Instant::now();
    assert_eq!(
        send(&kv, "DELETE", &format!("/api/shares/{id}"), "", &operator).0,
        200
    );
    assert!(closed_after(&mut ws, t0) < Duration::from_secs(1));
    assert_eq!(get(&kv, "/api/status", &guest).0, 401);
    assert_eq!(kv.get(&link).0, 401);
}
