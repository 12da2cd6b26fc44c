//! Built-in TLS: the server certificate (the operator's PEM files, or one kv
//! makes for itself on first start and keeps in its state directory), the
//! rustls configuration (TLS 1.2 and 1.3 only, ring's primitives), and
//! `Socket`, a client connection that is either plain TCP or rustls over TCP.
//!
//! rustls is a state machine over bytes, so a TLS connection stays as
//! non-blocking as a plain one: `Socket` moves ciphertext between the socket
//! and rustls whenever the connection reads or writes, and says `WouldBlock`
//! exactly when the kernel does. Encrypted records wait in rustls only up to
//! `TLS_BUFFER`, so a client that stops reading holds no more than that.

use std::fs::{self, OpenOptions};
use std::io::{self, IoSlice, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use mio::event::Source;
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ServerConfig, ServerConnection};

/// Encrypted bytes a connection may hold before its writes say `WouldBlock`:
/// about four full TLS records, enough to keep a fast client's pipe full.
const TLS_BUFFER: usize = 64 * 1024;
/// File names inside the state directory for `--tls-self-signed`.
const SELF_SIGNED_CERT: &str = "tls-cert.pem";
const SELF_SIGNED_KEY: &str = "tls-key.pem";

/// Where the server certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsSource {
    /// `--tls-cert` and `--tls-key`: PEM files the operator provides.
    Files { cert: PathBuf, key: PathBuf },
    /// `--tls-self-signed`: kv's own certificate in `dir`, made on first start
    /// for `names` (DNS names and IP addresses) and reused afterwards.
    SelfSigned { dir: PathBuf, names: Vec<String> },
}

/// The rustls server configuration for `source`, creating the self-signed
/// certificate first if it does not exist yet.
pub fn server_config(source: &TlsSource) -> Result<Arc<ServerConfig>, String> {
    let (cert_path, key_path) = match source {
        TlsSource::Files { cert, key } => (cert.clone(), key.clone()),
        TlsSource::SelfSigned { dir, names } => ensure_self_signed(dir, names)?,
    };
    let certs = CertificateDer::pem_file_iter(&cert_path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| {
            format!(
                "{}: cannot read the TLS certificate: {e}; give a PEM file with --tls-cert",
                cert_path.display()
            )
        })?;
    if certs.is_empty() {
        return Err(format!(
            "{}: no certificate in it; give a PEM file holding \"-----BEGIN CERTIFICATE-----\"",
            cert_path.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_file(&key_path).map_err(|e| {
        format!(
            "{}: cannot read the TLS private key: {e}; give a PEM key (PKCS#8, PKCS#1 or SEC1) with --tls-key",
            key_path.display()
        )
    })?;
    let cert_fingerprint = fingerprint(&certs[0]);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| format!("TLS setup: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            format!(
                "{} with {}: {e}; does the key belong to the certificate?",
                cert_path.display(),
                key_path.display()
            )
        })?;
    // kv speaks HTTP/1.1 only; saying so stops clients from trying h2.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    // A browser shows this fingerprint for a certificate it is asked to
    // trust; comparing it with the log is how a self-signed one is checked.
    log::info!(
        "🔒 TLS certificate: {} (SHA-256 fingerprint {})",
        cert_path.display(),
        cert_fingerprint
    );
    Ok(Arc::new(config))
}

/// The DNS names (subject alternative names) of the first certificate in
/// the PEM file at `path`, for the names kv answers to (`http::host`).
/// Nothing when the file cannot be read: `server_config` says why.
pub fn certificate_names(path: &Path) -> Vec<String> {
    let Ok(Some(der)) = CertificateDer::pem_file_iter(path).map(|mut certs| certs.next()) else {
        return Vec::new();
    };
    let Ok(der) = der else { return Vec::new() };
    match webpki::EndEntityCert::try_from(&der) {
        Ok(cert) => cert.valid_dns_names().map(str::to_string).collect(),
        Err(_) => Vec::new(),
    }
}

/// A certificate's SHA-256 fingerprint as browsers and `openssl x509
/// -fingerprint -sha256` show it: upper-case hex bytes joined by colons.
fn fingerprint(der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    let hex: Vec<String> = digest.as_ref().iter().map(|b| format!("{b:02X}")).collect();
    hex.join(":")
}

/// The names a self-signed certificate covers unless told otherwise: this
/// machine's host name (and its mDNS `.local` form), and loopback.
pub fn default_names() -> Vec<String> {
    let mut names = Vec::new();
    let host = fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let host = host.trim();
    if is_dns_name(host) && host != "localhost" {
        names.push(host.to_string());
        if !host.contains('.') {
            names.push(format!("{host}.local"));
        }
    }
    names.extend(["localhost", "127.0.0.1", "::1"].map(String::from));
    names
}

/// A name rcgen accepts as a DNS subject alternative name.
fn is_dns_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// The self-signed certificate and key in `dir`, made now if neither exists.
fn ensure_self_signed(dir: &Path, names: &[String]) -> Result<(PathBuf, PathBuf), String> {
    let cert_path = dir.join(SELF_SIGNED_CERT);
    let key_path = dir.join(SELF_SIGNED_KEY);
    match (cert_path.exists(), key_path.exists()) {
        (true, true) => return Ok((cert_path, key_path)),
        (false, false) => {}
        (true, false) | (false, true) => {
            return Err(format!(
                "{}: holds only one of {SELF_SIGNED_CERT} and {SELF_SIGNED_KEY}; remove it so kv makes a new pair",
                dir.display()
            ))
        }
    }
    fs::create_dir_all(dir).map_err(|e| {
        format!(
            "{}: cannot create the state directory: {e}; choose a writable one with --state-dir",
            dir.display()
        )
    })?;
    let mut params = rcgen::CertificateParams::new(names.to_vec())
        .map_err(|e| format!("--tls-name: {e}; give DNS names or IP addresses"))?;
    let mut subject = rcgen::DistinguishedName::new();
    subject.push(
        rcgen::DnType::CommonName,
        format!(
            "kv on {}",
            names.first().map_or("localhost", String::as_str)
        ),
    );
    params.distinguished_name = subject;
    let key = rcgen::KeyPair::generate().map_err(|e| format!("TLS key generation: {e}"))?;
    let cert = params
        .self_signed(&key)
        .map_err(|e| format!("TLS certificate generation: {e}"))?;
    // The key first, readable by kv's user only, and never over an old file.
    write_new(&key_path, key.serialize_pem().as_bytes(), 0o600)?;
    write_new(&cert_path, cert.pem().as_bytes(), 0o644)?;
    log::info!(
        "🔒 Made a self-signed TLS certificate for {} in {}; give browsers {} to trust it",
        names.join(", "),
        dir.display(),
        cert_path.display()
    );
    Ok((cert_path, key_path))
}

fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), String> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .and_then(|mut file| file.write_all(bytes))
        .map_err(|e| {
            format!(
                "{}: cannot write: {e}; choose a writable --state-dir",
                path.display()
            )
        })
}

/// A client connection: plain TCP, or TLS over TCP. Reads give plaintext,
/// writes take plaintext; both are non-blocking like the socket below.
pub struct Socket {
    tcp: TcpStream,
    tls: Option<Box<ServerConnection>>,
    close_notified: bool,
    /// TLS bytes arrived while the handshake ran (`took_handshake_bytes`).
    handshake_bytes: bool,
}

impl Socket {
    /// Bytes written and not yet acknowledged by the peer (TLS records
    /// still inside rustls not counted).
    pub fn unacknowledged(&self) -> Option<usize> {
        crate::sys::socket::unacknowledged(&self.tcp).ok()
    }

    pub fn plain(tcp: TcpStream) -> Socket {
        Socket {
            tcp,
            tls: None,
            close_notified: false,
            handshake_bytes: false,
        }
    }

    /// A TLS server connection; the handshake runs as the connection reads.
    pub fn tls(tcp: TcpStream, config: &Arc<ServerConfig>) -> io::Result<Socket> {
        let mut conn = ServerConnection::new(Arc::clone(config)).map_err(io::Error::other)?;
        conn.set_buffer_limit(Some(TLS_BUFFER));
        Ok(Socket {
            tcp,
            tls: Some(Box::new(conn)),
            close_notified: false,
            handshake_bytes: false,
        })
    }

    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Whether handshake bytes arrived since the last call.
    pub fn took_handshake_bytes(&mut self) -> bool {
        std::mem::take(&mut self.handshake_bytes)
    }

    /// Queues TLS's close_notify (once), so the client can tell the end of a
    /// response from a cut connection; `flush` sends it. Nothing for plain TCP.
    pub fn close_notify(&mut self) {
        if let Some(tls) = self.tls.as_deref_mut() {
            if !self.close_notified {
                tls.send_close_notify();
                self.close_notified = true;
            }
        }
    }
}

/// Writes rustls's pending records to the socket. `WouldBlock` when some remain.
fn send_tls(tls: &mut ServerConnection, tcp: &mut TcpStream) -> io::Result<()> {
    while tls.wants_write() {
        match tls.write_tls(tcp) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Sends what is pending; only a broken socket is an error here.
fn send_tls_soon(tls: &mut ServerConnection, tcp: &mut TcpStream) -> io::Result<()> {
    match send_tls(tls, tcp) {
        Err(e) if e.kind() != io::ErrorKind::WouldBlock => Err(e),
        _ => Ok(()),
    }
}

/// Encrypts what `put` hands rustls's writer, after the records before it
/// have gone: a client that does not read sees `WouldBlock`, not a growing
/// buffer.
fn encrypt(
    tls: &mut ServerConnection,
    tcp: &mut TcpStream,
    len: usize,
    put: impl FnOnce(&mut rustls::Writer<'_>) -> io::Result<usize>,
) -> io::Result<usize> {
    if len == 0 {
        return Ok(0);
    }
    send_tls(tls, tcp)?;
    let n = put(&mut tls.writer())?;
    if n == 0 {
        return Err(io::ErrorKind::WouldBlock.into());
    }
    send_tls_soon(tls, tcp)?;
    Ok(n)
}

impl Read for Socket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(tls) = self.tls.as_deref_mut() else {
            return self.tcp.read(buf);
        };
        let mut eof = false;
        loop {
            match tls.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // The peer closed TCP without close_notify: an end like any other.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                Err(e) => return Err(e),
            }
            if eof {
                return Ok(0);
            }
            match tls.read_tls(&mut self.tcp) {
                Ok(0) => eof = true,
                Ok(_) => self.handshake_bytes |= tls.is_handshaking(),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // Handshake answers waiting for room go out before we wait.
                    send_tls_soon(tls, &mut self.tcp)?;
                    return Err(e);
                }
            }
            if let Err(e) = tls.process_new_packets() {
                // rustls queued an alert saying why (e.g. protocol_version
                // for a TLS 1.1 client); send it, then hang up.
                let _ = send_tls(tls, &mut self.tcp);
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("TLS: {e}"),
                ));
            }
            send_tls_soon(tls, &mut self.tcp)?;
        }
    }
}

impl Write for Socket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.tls.as_deref_mut() {
            None => self.tcp.write(buf),
            Some(tls) => encrypt(tls, &mut self.tcp, buf.len(), |w| w.write(buf)),
        }
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self.tls.as_deref_mut() {
            None => self.tcp.write_vectored(bufs),
            Some(tls) => {
                let len = bufs.iter().map(|b| b.len()).sum();
                encrypt(tls, &mut self.tcp, len, |w| w.write_vectored(bufs))
            }
        }
    }

    /// Sends the TLS records still waiting in rustls; `WouldBlock` while
    /// some remain. Plain TCP holds nothing.
    fn flush(&mut self) -> io::Result<()> {
        match self.tls.as_deref_mut() {
            None => Ok(()),
            Some(tls) => send_tls(tls, &mut self.tcp),
        }
    }
}

impl std::os::fd::AsRawFd for Socket {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.tcp.as_raw_fd()
    }
}

impl Source for Socket {
    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        self.tcp.register(registry, token, interests)
    }

    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        self.tcp.reregister(registry, token, interests)
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        self.tcp.deregister(registry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("kv-tls-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn test_self_signed_made_once_then_reused() {
        let dir = temp_dir("once");
        let source = TlsSource::SelfSigned {
            dir: dir.clone(),
            names: vec!["kv.test".into(), "127.0.0.1".into()],
        };
        server_config(&source).unwrap();
        let cert = fs::read(dir.join(SELF_SIGNED_CERT)).unwrap();
        let key_mode = fs::metadata(dir.join(SELF_SIGNED_KEY)).unwrap();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&key_mode.permissions()) & 0o777,
            0o600
        );
        server_config(&source).unwrap();
        assert_eq!(fs::read(dir.join(SELF_SIGNED_CERT)).unwrap(), cert);
        fs::remove_dir_all(&dir).unwrap();
    }

    /// A `--tls-cert`'s names are names kv answers to (`http::host`).
    #[test]
    fn test_certificate_names_are_its_dns_names() {
        let dir = temp_dir("names");
        let names = vec!["kv.example.net".into(), "127.0.0.1".into()];
        server_config(&TlsSource::SelfSigned {
            dir: dir.clone(),
            names,
        })
        .unwrap();
        assert_eq!(
            certificate_names(&dir.join(SELF_SIGNED_CERT)),
            ["kv.example.net"]
        );
        assert!(certificate_names(&dir.join("missing.pem")).is_empty());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn test_self_signed_half_a_pair_is_refused() {
        let dir = temp_dir("half");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(SELF_SIGNED_CERT), "x").unwrap();
        let source = TlsSource::SelfSigned {
            dir: dir.clone(),
            names: vec!["localhost".into()],
        };
        let e = server_config(&source).unwrap_err();
        assert!(e.contains("only one"), "{e}");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn test_files_missing_or_not_pem_name_the_path() {
        let dir = temp_dir("files");
        fs::create_dir_all(&dir).unwrap();
        let junk = dir.join("junk.pem");
        fs::write(&junk, "not a certificate").unwrap();
        let source = TlsSource::Files {
            cert: junk.clone(),
            key: junk.clone(),
        };
        let e = server_config(&source).unwrap_err();
        assert!(
            e.contains("junk.pem") && e.contains("no certificate"),
            "{e}"
        );
        let source = TlsSource::Files {
            cert: dir.join("missing.pem"),
            key: junk,
        };
        let e = server_config(&source).unwrap_err();
        assert!(e.contains("missing.pem") && e.contains("--tls-cert"), "{e}");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn test_fingerprint_is_sha256_in_colon_hex() {
        // SHA-256 of the empty string, a published test vector.
        assert_eq!(
            fingerprint(b""),
            "E3:B0:C4:42:98:FC:1C:14:9A:FB:F4:C8:99:6F:B9:24:\
             27:AE:41:E4:64:9B:93:4C:A4:95:99:1B:78:52:B8:55"
        );
    }

    #[test]
    fn test_dns_names() {
        assert!(is_dns_name("kv-board.lan"));
        assert!(!is_dns_name(""));
        assert!(!is_dns_name("a..b"));
        assert!(!is_dns_name("bad name"));
    }
}
