//! Wake-on-LAN against the real binary: the magic packet kv sends is received
//! by a UDP listener on port 9 inside a network namespace this test creates,
//! joined to the host by a veth pair; kv sends to that link's directed
//! broadcast (`--wol-to`), as it would to a target on another subnet.
//! Creating namespaces needs root (CI runs as root); without it the test
//! says so loudly and stops.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use common::{header, Kv};

/// "op:pw"
const AUTH: &str = "Authorization: Basic b3A6cHc=\r\n";

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        == Some("0")
}

fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .expect("run ip (iproute2)");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A namespace holding one end of a veth pair, `10.213.N.2/24`, whose other
/// end on the host is `10.213.N.1/24`; deleted (with the pair) on drop.
struct Namespace {
    name: String,
    broadcast: String,
}

impl Namespace {
    fn new() -> Namespace {
        let id = std::process::id();
        let name = format!("kvwol{id}");
        let (host, inside) = (format!("kvw{id}h"), format!("kvw{id}n"));
        let net = format!("10.213.{}", id % 250 + 1);
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        ip(&["netns", "add", &name]);
        let ns = Namespace {
            name,
            broadcast: format!("{net}.255"),
        };
        ip(&[
            "link", "add", &host, "type", "veth", "peer", "name", &inside,
        ]);
        ip(&["link", "set", &inside, "netns", &ns.name]);
        ip(&["addr", "add", &format!("{net}.1/24"), "dev", &host]);
        ip(&["link", "set", &host, "up"]);
        let exec = |args: &[&str]| ip(&[&["netns", "exec", &ns.name, "ip"], args].concat());
        exec(&["addr", "add", &format!("{net}.2/24"), "dev", &inside]);
        exec(&["link", "set", &inside, "up"]);
        exec(&["link", "set", "lo", "up"]);
        ns
    }

    /// A listener on UDP port 9 in the namespace that prints each datagram as
    /// hex, one a line; started and bound once this returns.
    fn listen(&self) -> (Child, impl Iterator<Item = String>) {
        const SCRIPT: &str = r#"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 9))
s.settimeout(20)
print("ready", flush=True)
while True:
    data, _ = s.recvfrom(1024)
    print(data.hex(), flush=True)
"#;
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.name, "python3", "-c", SCRIPT])
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the listener");
        let mut lines = BufReader::new(child.stdout.take().unwrap())
            .lines()
            .map_while(Result::ok);
        assert_eq!(lines.next().as_deref(), Some("ready"));
        (child, lines)
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

fn magic_hex(mac: &str) -> String {
    let mac = mac.replace(':', "");
    format!("{}{}", "ff".repeat(6), mac.repeat(16))
}

fn wake(kv: &Kv, body: &str) -> (u16, String) {
    let (status, _, body) = kv.send_json("POST", "/api/wol", body, AUTH);
    (status, String::from_utf8(body).unwrap())
}

#[test]
fn test_wol_magic_packet_reaches_a_listener_in_a_network_namespace() {
    if !is_root() {
        eprintln!("\n\n*** SKIPPED test_wol_magic_packet_reaches_a_listener_in_a_network_namespace: not root, cannot create a network namespace; run cargo test as root (CI does) ***\n\n");
        return;
    }
    let ns = Namespace::new();
    let (mut listener, mut packets) = ns.listen();
    let state = std::env::temp_dir().join(format!("kv-wol-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&state);
    let kv = Kv::start(
        &[
            "--demo",
            "--wol-mac",
            "02:00:00:00:00:01",
            "--wol-to",
            &ns.broadcast,
            "--state-dir",
            state.to_str().unwrap(),
        ],
        &[("KV_USER", "op"), ("KV_PASSWORD", "pw")],
    );

    // Refused: no credentials, a foreign page, a form, bad MACs.
    let (status, _, _) = kv.send_json("POST", "/api/wol", "{}", "");
    assert_eq!(status, 401);
    let foreign = format!("{AUTH}Origin: http://evil.example\r\n");
    assert_eq!(kv.send_json("POST", "/api/wol", "{}", &foreign).0, 403);
    let form = kv.request(&format!("POST /api/wol HTTP/1.1\r\nHost: {{addr}}\r\n{AUTH}Content-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"));
    assert_eq!(form.0, 415);
    for bad in [
        r#"{"mac":"aa:bb:cc"}"#,
        r#"{"mac":"zz:bb:cc:dd:ee:ff"}"#,
        r#"{"mac":7}"#,
        "not json",
    ] {
        let (status, body) = wake(&kv, bad);
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(body.contains("aa:bb:cc:dd:ee:ff"), "{bad}: {body}");
    }

    // `{}` wakes --wol-mac; a MAC given is woken and remembered.
    let (status, body) = wake(&kv, "{}");
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains(&format!("\"sent\":[\"{}:9\"]", ns.broadcast)),
        "{body}"
    );
    assert_eq!(packets.next().unwrap(), magic_hex("02:00:00:00:00:01"));
    let origin = format!("{AUTH}Origin: http://{}\r\n", kv.addr);
    let (status, _, body) = kv.send_json(
        "POST",
        "/api/wol",
        r#"{"mac":"AA-BB-CC-DD-EE-FF"}"#,
        &origin,
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(packets.next().unwrap(), magic_hex("aa:bb:cc:dd:ee:ff"));
    let (status, head, body) = kv.get_with("/api/wol", AUTH);
    assert_eq!(status, 200);
    assert_eq!(header(&head, "content-type"), Some("application/json"));
    assert_eq!(
        String::from_utf8(body).unwrap(),
        r#"{"mac":"aa:bb:cc:dd:ee:ff"}"#
    );
    assert_eq!(
        std::fs::read_to_string(state.join("wol-mac")).unwrap(),
        "aa:bb:cc:dd:ee:ff\n"
    );
    let _ = listener.kill();
    let _ = listener.wait();
    let _ = std::fs::remove_dir_all(&state);
}
