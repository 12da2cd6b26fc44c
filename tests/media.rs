//! The images folder over real TCP against `kv --demo --images DIR`:
//! uploads streamed, resumed and refused; the hostile list (traversal names,
//! oversized uploads, a client vanishing mid-upload, deleting an attached
//! image) each get a clear error and leave the folder as it was.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{read_response, Kv, Stream};

struct Folder(PathBuf);

impl Folder {
    fn new(tag: &str) -> Folder {
        let dir = std::env::temp_dir().join(format!("kv-media-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Folder(dir)
    }

    fn arg(&self) -> &str {
        self.0.to_str().unwrap()
    }

    /// The folder's visible entries (images), sorted.
    fn entries(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.0)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().into_string().unwrap())
            .filter(|n| !n.starts_with('.'))
            .collect();
        names.sort();
        names
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 9) as u8)
        .collect()
}

/// `PUT /api/images/{target}` with `body`; (status, response body).
fn put(kv: &Kv, target: &str, body: &[u8]) -> (u16, String) {
    let mut s = kv.connect();
    let head = format!(
        "PUT /api/images/{target} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        kv.addr,
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    // A refusal comes before the body is read; the write may then fail.
    let _ = s.write_all(body);
    let (status, _, body) = read_response(&mut s);
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn send(kv: &Kv, method: &str, path: &str, body: &str) -> (u16, String) {
    let (status, _, body) = kv.send_json(method, path, body, "");
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn list(kv: &Kv) -> String {
    let (status, _, body) = kv.get("/api/images");
    assert_eq!(status, 200);
    String::from_utf8(body).unwrap()
}

fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn upload_list_attach_eject_delete() {
    let folder = Folder::new("cycle");
    let kv = Kv::demo(&["--images", folder.arg()]);
    let image = pattern(3 << 20, 7);
    let (status, body) = put(&kv, "disk%20one.img", &image);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"size\":3145728"), "{body}");
    assert_eq!(std::fs::read(folder.0.join("disk one.img")).unwrap(), image);
    let listed = list(&kv);
    assert!(
        listed.contains("{\"name\":\"disk one.img\",\"size\":3145728,"),
        "{listed}"
    );
    assert!(listed.contains("\"drive\":\"simulated\""), "{listed}");

    let (status, body) = send(
        &kv,
        "POST",
        "/api/media/attach",
        r#"{"name":"disk one.img","mode":"cdrom"}"#,
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"mode\":\"cdrom\""), "{body}");
    assert!(list(&kv).contains("\"attached\":\"cdrom\""));
    let (status, body) = send(
        &kv,
        "POST",
        "/api/media/attach",
        r#"{"name":"x","mode":"floppy"}"#,
    );
    assert_eq!(status, 400, "{body}");
    let (status, body) = send(&kv, "POST", "/api/media/eject", "");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"attached\":null"), "{body}");
    let (status, _) = send(&kv, "DELETE", "/api/images/disk%20one.img", "");
    assert_eq!(status, 200);
    assert!(folder.entries().is_empty());
    let (status, body) = send(&kv, "DELETE", "/api/images/disk%20one.img", "");
    assert_eq!(status, 404, "{body}");
}

#[test]
fn hostile_list_leaves_folder_unchanged() {
    let folder = Folder::new("hostile");
    let kv = Kv::demo(&["--images", folder.arg(), "--max-image-size", "4M"]);
    let keep = pattern(100_000, 1);
    assert_eq!(put(&kv, "keep.iso", &keep).0, 200);
    let attached = pattern(5000, 2);
    assert_eq!(put(&kv, "attached.img", &attached).0, 200);
    let (status, body) = send(
        &kv,
        "POST",
        "/api/media/attach",
        r#"{"name":"attached.img","mode":"flash"}"#,
    );
    assert_eq!(status, 200, "{body}");
    let before = folder.entries();
    let list_before = list(&kv);

    // Traversal and other names that are not one plain file in the folder.
    for bad in [
        "..",
        "%2e%2e",
        "..%2f..%2fetc%2fpasswd",
        "a%2fb",
        "a%5cb",
        ".hidden",
        ".partial",
        "con",
        "NUL.iso",
        "x%00y",
        "%ff",
        "",
    ] {
        let (status, body) = put(&kv, bad, b"evil");
        assert_eq!(status, 400, "{bad:?}: {body}");
        assert!(body.contains("\"error\""), "{bad:?}: {body}");
        let (status, _) = send(&kv, "DELETE", &format!("/api/images/{bad}"), "");
        assert!(status == 400 || status == 405, "DELETE {bad:?}: {status}");
    }
    let (status, body) = put(&kv, "sub/evil.img", b"evil");
    assert_eq!(status, 400, "{body}");

    // Oversized: refused from the head alone, the body never read.
    let mut s = kv.connect();
    write!(
        s,
        "PUT /api/images/big.iso HTTP/1.1\r\nHost: {}\r\nContent-Length: 5000000\r\n\r\n",
        kv.addr
    )
    .unwrap();
    let (status, _, body) = read_response(&mut s);
    let body = String::from_utf8_lossy(&body);
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("--max-image-size"), "{body}");
    drop(s);

    // Exists, attached, no Content-Length, wrong resume offset, cross-site.
    let (status, body) = put(&kv, "keep.iso", b"new");
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("overwrite=1"), "{body}");
    let (status, body) = put(&kv, "attached.img?overwrite=1", b"new");
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("eject"), "{body}");
    let (status, _, body) =
        kv.request("PUT /api/images/n.img HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    assert_eq!(status, 411, "{}", String::from_utf8_lossy(&body));
    let (status, body) = put(&kv, "n.img?offset=10", b"x");
    assert_eq!(status, 409, "{body}");
    let (status, _, _) = kv.request(
        "PUT /api/images/n.img HTTP/1.1\r\nHost: {addr}\r\nOrigin: http://evil.example\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx",
    );
    assert_eq!(status, 403);
    let (status, _, _) = kv.request(
        "PUT /api/images/n.img HTTP/1.1\r\nHost: {addr}\r\nContent-Type: text/plain\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx",
    );
    assert_eq!(status, 415);

    // Deleting the attached image.
    let (status, body) = send(&kv, "DELETE", "/api/images/attached.img", "");
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("eject it first"), "{body}");

    // A client vanishing mid-upload: no image, only a resumable partial.
    let mut s = kv.connect();
    write!(
        s,
        "PUT /api/images/half.img HTTP/1.1\r\nHost: {}\r\nContent-Length: 2000000\r\n\r\n",
        kv.addr
    )
    .unwrap();
    s.write_all(&pattern(700_000, 3)).unwrap();
    drop(s);
    wait_for("the vanished upload to end", || {
        let l = list(&kv);
        l.contains("\"name\":\"half.img\",\"size\":700000,") && l.contains("\"uploading\":false")
    });

    assert_eq!(folder.entries(), before);
    let list_after = list(&kv);
    let images = |l: &str| l.split("\"partial\"").next().unwrap().to_string();
    assert_eq!(images(&list_after), images(&list_before));
    assert_eq!(std::fs::read(folder.0.join("keep.iso")).unwrap(), keep);
    assert_eq!(
        std::fs::read(folder.0.join("attached.img")).unwrap(),
        attached
    );

    // The partial resumes from its length, or goes when asked.
    let whole = pattern(2_000_000, 3);
    let (status, body) = put(&kv, "half.img?offset=700000", &whole[700_000..]);
    assert_eq!(status, 200, "{body}");
    assert_eq!(std::fs::read(folder.0.join("half.img")).unwrap(), whole);
    assert!(list(&kv).contains("\"partial\":[]"));
}

#[test]
fn upload_refused_when_disk_too_small() {
    let folder = Folder::new("full");
    let kv = Kv::demo(&["--images", folder.arg()]);
    let mut s = kv.connect();
    write!(
        s,
        "PUT /api/images/huge.iso HTTP/1.1\r\nHost: {}\r\nExpect: 100-continue\r\nContent-Length: 4000000000000000000\r\n\r\n",
        kv.addr
    )
    .unwrap();
    let (status, _, body) = read_response(&mut s);
    let body = String::from_utf8_lossy(&body);
    assert_eq!(status, 507, "{body}");
    assert!(body.contains("free"), "{body}");
    assert!(folder.entries().is_empty());
    assert!(list(&kv).contains("\"partial\":[]"));
}

/// A viewer keeps getting frames while a large upload runs.
#[test]
fn video_flows_during_upload() {
    let folder = Folder::new("flow");
    let kv = Kv::demo(&["--images", folder.arg(), "-f", "30"]);
    let mut stream = Stream::open(&kv);
    stream.next_part();
    let addr = kv.addr.clone();
    let size = 64 << 20;
    let uploader = std::thread::spawn(move || {
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        write!(
            s,
            "PUT /api/images/big.img HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {size}\r\n\r\n"
        )
        .unwrap();
        let chunk = vec![0x5au8; 1 << 20];
        let started = Instant::now();
        for _ in 0..64 {
            s.write_all(&chunk).unwrap();
        }
        let (status, _, _) = read_response(&mut s);
        (status, started.elapsed())
    });
    let mut frames = 0;
    while !uploader.is_finished() {
        stream.next_part();
        frames += 1;
    }
    let (status, took) = uploader.join().unwrap();
    assert_eq!(status, 200);
    let expected = took.as_secs_f64() * 30.0;
    eprintln!(
        "upload of 64 MiB took {took:?}; {frames} frames meanwhile (~{expected:.0} at 30 fps)"
    );
    assert!(
        frames as f64 >= expected * 0.5 - 2.0,
        "{frames} frames during a {took:?} upload"
    );
    assert_eq!(
        std::fs::metadata(Path::new(&folder.0).join("big.img"))
            .unwrap()
            .len(),
        size as u64
    );
}
