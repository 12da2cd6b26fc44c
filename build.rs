//! Embeds every file of `www/` into the binary (`$OUT_DIR/assets.rs`) with a
//! content hash for its ETag, and records the git commit for `kv --version`.

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

    let mut out = String::from("pub static ASSETS: &[Asset] = &[\n");
    for path in &files {
        let body = fs::read(path).unwrap();
        let rel = path
            .strip_prefix(&www)
            .unwrap()
            .to_str()
            .unwrap()
            .replace('\\', "/");
        writeln!(
            out,
            "    Asset {{ path: \"/{rel}\", mime: \"{}\", etag: \"\\\"{:016x}\\\"\", body: include_bytes!({:?}) }},",
            mime(path),
            fnv1a(&body),
            path
        )
        .unwrap();
    }
    out.push_str("];\n");
    fs::write(
        PathBuf::from(env::var("OUT_DIR").unwrap()).join("assets.rs"),
        out,
    )
    .unwrap();

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
