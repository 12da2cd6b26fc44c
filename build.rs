//! Embeds every file of `www/` into the binary (`$OUT_DIR/assets.rs`) with a
//! content hash for its ETag and, for text files, a gzipped copy made here
//! once (kv never compresses at run time); records the git commit for
//! `kv --version`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::{env, fs};

fn main() {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let www = root.join("www");
    println!("cargo:rerun-if-changed=www");
    let mut files = Vec::new();
    collect(&www, &mut files);
    files.sort();

    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap());
    let mut out = String::from("pub static ASSETS: &[Asset] = &[\n");
    for (i, path) in files.iter().enumerate() {
        let body = fs::read(path).unwrap();
        let rel = path
            .strip_prefix(&www)
            .unwrap()
            .to_str()
            .unwrap()
            .replace('\\', "/");
        let mime = mime(path);
        let hash = fnv1a(&body);
        // Images such as PNG are compressed already; a gzip that saves
        // nothing is not worth a second copy in the binary.
        let gzip = match mime.starts_with("text/") || mime.contains("svg") || mime.contains("json")
        {
            true => Some(gzip(&body)).filter(|gz| gz.len() < body.len()),
            false => None,
        };
        let gzip = match gzip {
            Some(gz) => {
                let gz_path = out_dir.join(format!("asset{i}.gz"));
                fs::write(&gz_path, gz).unwrap();
                format!("Some(include_bytes!({gz_path:?}))")
            }
            None => "None".into(),
        };
        writeln!(
            out,
            "    Asset {{ path: \"/{rel}\", mime: \"{mime}\", etag: \"\\\"{hash:016x}\\\"\", \
             etag_gzip: \"\\\"{hash:016x}-gz\\\"\", body: include_bytes!({path:?}), gzip: {gzip} }},",
        )
        .unwrap();
    }
    out.push_str("];\n");
    fs::write(out_dir.join("assets.rs"), out).unwrap();

    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(&root)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let commit = git(&["rev-parse", "--short=10", "HEAD"]).unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=KV_GIT_COMMIT={commit}");
    // A floor for the wall clock (`sys::clock::check_wall`): a board without an
    // RTC that reads earlier than this has not set its clock. The commit's
    // time, not the build's, so the same source builds the same binary
    // (outside git: SOURCE_DATE_EPOCH, else the build's time).
    let built = git(&["log", "-1", "--format=%ct"])
        .or_else(|| env::var("SOURCE_DATE_EPOCH").ok())
        .unwrap_or_else(|| {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
            now.map_or(0, |d| d.as_secs()).to_string()
        });
    println!("cargo:rustc-env=KV_SOURCE_TIME={built}");
    // Rebuild when HEAD moves. In a worktree `.git` is a file, so ask git
    // where HEAD and the refs really are instead of assuming `.git/`.
    for (flag, path) in [("--git-dir", "HEAD"), ("--git-common-dir", "refs/heads")] {
        if let Some(dir) = git(&["rev-parse", flag]) {
            println!(
                "cargo:rerun-if-changed={}",
                root.join(dir).join(path).display()
            );
        }
    }
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, files);
        } else if !entry.file_name().to_string_lossy().starts_with('.') {
            files.push(path);
        }
    }
}

fn mime(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "json" => "application/json",
        _ => "application/octet-stream",
    }
}

/// FNV-1a, 64 bit: a content hash is all an ETag needs.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

/// `bytes` as a gzip member (RFC 1952): a 10-byte header, raw deflate at the
/// best level, then CRC-32 and length, little-endian.
fn gzip(bytes: &[u8]) -> Vec<u8> {
    // No file name and no time stamp: the same input makes the same bytes.
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 0xff];
    out.extend(miniz_oxide::deflate::compress_to_vec(bytes, 10));
    out.extend(crc32(bytes).to_le_bytes());
    out.extend((bytes.len() as u32).to_le_bytes());
    out
}

/// CRC-32 (IEEE, reflected, as gzip uses it), bit by bit: a few hundred KB
/// once per build.
fn crc32(bytes: &[u8]) -> u32 {
    !bytes.iter().fold(!0u32, |crc, &b| {
        (0..8).fold(crc ^ b as u32, |c, _| {
            (c >> 1) ^ (0xedb8_8320 & (c & 1).wrapping_neg())
        })
    })
}
