//! The browser UI, embedded from `www/` at build time (see build.rs).

pub struct Asset {
    /// `/index.html`, `/app.js`, ...
    pub path: &'static str,
    pub mime: &'static str,
    /// Quoted content hash, for `ETag` / `If-None-Match`.
    pub etag: &'static str,
    pub body: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// The asset served at `path` (`/` is `/index.html`).
pub fn find(path: &str) -> Option<&'static Asset> {
    let path = if path == "/" { "/index.html" } else { path };
    ASSETS.iter().find(|a| a.path == path)
}
