//! The browser UI, embedded from `www/` at build time (see build.rs).

pub struct Asset {
    /// `/index.html`, `/app.js`, ...
    pub path: &'static str,
    pub mime: &'static str,
    /// Quoted content hash, for `ETag` / `If-None-Match`.
    pub etag: &'static str,
    /// The ETag of the gzipped copy: another representation, another tag.
    pub etag_gzip: &'static str,
    pub body: &'static [u8],
    /// `body` gzipped at build time; `None` where that saves nothing (images).
    pub gzip: Option<&'static [u8]>,
}

include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// The asset served at `path` (`/` is `/index.html`; browsers ask for
/// `/favicon.ico` by themselves, and get the SVG icon).
pub fn find(path: &str) -> Option<&'static Asset> {
    let path = match path {
        "/" => "/index.html",
        "/favicon.ico" => "/favicon.svg",
        path => path,
    };
    ASSETS.iter().find(|a| a.path == path)
}
