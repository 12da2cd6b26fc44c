//! dnsmasq as kv's supervised child: the command line that makes it a
//! DHCP-only server for the USB link (no DNS, no router unless asked), and
//! its life — started in the foreground, restarted with a growing delay when
//! it dies, stopped when kv exits. The event loop reports SIGCHLD and the
//! restart deadline; nothing here waits, except `stop` at exit.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::Subnet;

/// Where dnsmasq may be besides `$PATH`: services and `sudo` often run
/// without the sbin directories in it.
const SBIN: [&str; 3] = ["/usr/sbin", "/sbin", "/usr/local/sbin"];

/// The dnsmasq program: the first in `path` (a `$PATH` value), then the
/// sbin directories.
pub fn find(path: Option<&OsStr>) -> Option<PathBuf> {
    let listed = path.map(std::env::split_paths).into_iter().flatten();
    listed
        .chain(SBIN.iter().map(PathBuf::from))
        .map(|dir| dir.join("dnsmasq"))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// What dnsmasq serves on the link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dhcp {
    pub interface: String,
    pub subnet: Subnet,
    /// `--usb-gateway`: offer the board as the target's router.
    pub gateway: bool,
    /// Where dnsmasq keeps its leases and pid file; `None`: leases in its
    /// memory only, no pid file.
    pub state_dir: Option<PathBuf>,
}

/// How long a lease lasts: short enough that a target re-plugged into
/// another kv soon asks again, long enough not to chatter.
const LEASE_TIME: &str = "1h";

impl Dhcp {
    fn state_file(&self, suffix: &str) -> Option<PathBuf> {
        let dir = self.state_dir.as_ref()?;
        Some(dir.join(format!("dnsmasq-{}.{suffix}", self.interface)))
    }

    /// The pid file, by which kv finds a dnsmasq that outlived a killed kv.
    pub fn pid_file(&self) -> Option<PathBuf> {
        self.state_file("pid")
    }

    /// Every file dnsmasq writes in the state folder: removed when kv stops
    /// it for good, so a clean exit leaves nothing behind.
    pub fn state_files(&self) -> Vec<PathBuf> {
        ["pid", "leases"]
            .into_iter()
            .filter_map(|suffix| self.state_file(suffix))
            .collect()
    }

    /// dnsmasq's arguments. Every default that could reach beyond the link
    /// is switched off: no config file, no DNS (`--port=0`), no resolv.conf
    /// or hosts file, only this interface; logs go to stderr.
    pub fn argv(&self) -> Vec<String> {
        let (first, last) = self.subnet.range();
        let pid_file = self.pid_file().unwrap_or_default();
        let mut argv = vec![
            "--keep-in-foreground".to_string(),
            "--conf-file=/dev/null".into(),
            // An empty path: no pid file.
            format!("--pid-file={}", pid_file.display()),
            "--log-facility=-".into(),
            "--port=0".into(),
            "--no-resolv".into(),
            "--no-hosts".into(),
            format!("--interface={}", self.interface),
            "--bind-interfaces".into(),
            format!(
                "--dhcp-range={first},{last},{},{LEASE_TIME}",
                self.subnet.netmask()
            ),
            // kv's dnsmasq is the only DHCP server on a point-to-point link:
            // it may answer a renewal for a lease it lost when it restarted.
            "--dhcp-authoritative".into(),
        ];
        // An option with no value is never sent: without these dnsmasq would
        // offer itself as the target's router and DNS server.
        argv.push(match self.gateway {
            true => format!("--dhcp-option=option:router,{}", self.subnet.address),
            false => "--dhcp-option=option:router".into(),
        });
        argv.push("--dhcp-option=option:dns-server".into());
        argv.push(match self.state_file("leases") {
            Some(path) => format!("--dhcp-leasefile={}", path.display()),
            None => "--leasefile-ro".into(),
        });
        argv
    }

    /// What the target is offered, for the log.
    pub fn describe(&self) -> String {
        let (first, last) = self.subnet.range();
        let offered = if first == last {
            first.to_string()
        } else {
            format!("{first}-{last}")
        };
        let router = match self.gateway {
            true => format!("router {}", self.subnet.address),
            false => "no router".into(),
        };
        format!("offering {offered} ({router}, no DNS)")
    }
}

/// Stops a dnsmasq that a killed kv left running (it dropped root, which
/// cleared any parent-death signal): the one whose pid `pid_file` holds, if
/// its command line names that same pid file, so nothing else is touched.
/// Runs once at startup, before the loop: it may wait up to 2 s.
pub fn stop_stale(pid_file: &Path) {
    let Some(pid) = std::fs::read_to_string(pid_file)
        .ok()
        .and_then(|text| text.trim().parse::<u32>().ok())
    else {
        return;
    };
    let proc = PathBuf::from(format!("/proc/{pid}"));
    let ours = |proc: &Path| {
        let cmdline = std::fs::read(proc.join("cmdline")).unwrap_or_default();
        let wanted = format!("--pid-file={}", pid_file.display());
        cmdline
            .split(|b| *b == 0)
            .any(|arg| arg == wanted.as_bytes())
    };
    if !ours(&proc) {
        return;
    }
    log::warn!("📡 Stopping dnsmasq (pid {pid}) left running by an earlier kv");
    if let Err(e) = crate::sys::process::terminate(pid) {
        log::warn!("📡 dnsmasq (pid {pid}): cannot send SIGTERM: {e}");
        return;
    }
    // Not kv's child: it is gone when its command line is (a zombie has none).
    let deadline = Instant::now() + Duration::from_secs(2);
    while ours(&proc) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The delay before the next start after dnsmasq died: 1 s, doubling with
/// each death in a row up to a minute; a run of 30 s or more counts as
/// healthy and starts the series again.
#[derive(Debug, Default)]
pub struct Backoff {
    failures: u32,
}

impl Backoff {
    const FIRST: Duration = Duration::from_secs(1);
    const MAX: Duration = Duration::from_secs(60);
    const HEALTHY: Duration = Duration::from_secs(30);

    pub fn after_exit(&mut self, ran_for: Duration) -> Duration {
        if ran_for >= Self::HEALTHY {
            self.failures = 0;
        }
        let delay = Self::FIRST
            .checked_mul(1u32.checked_shl(self.failures).unwrap_or(u32::MAX))
            .map_or(Self::MAX, |d| d.min(Self::MAX));
        self.failures = self.failures.saturating_add(1);
        delay
    }
}

/// Where the supervised process is in its life.
#[derive(Debug)]
enum State {
    Running {
        child: Child,
        since: Instant,
    },
    /// Dead, to be started again at `at`.
    Waiting {
        at: Instant,
    },
    Stopped,
}

/// A supervised dnsmasq (any program, for tests).
pub struct Supervised {
    program: PathBuf,
    args: Vec<String>,
    state: State,
    backoff: Backoff,
    /// Starts after the first.
    restarts: u32,
}

impl Supervised {
    /// Starts `program` now.
    pub fn start(program: PathBuf, args: Vec<String>, now: Instant) -> Supervised {
        let mut supervised = Supervised {
            program,
            args,
            state: State::Waiting { at: now },
            backoff: Backoff::default(),
            restarts: 0,
        };
        supervised.spawn(now);
        supervised
    }

    fn name(&self) -> String {
        let name = self.program.file_name().unwrap_or(self.program.as_os_str());
        name.to_string_lossy().into_owned()
    }

    fn spawn(&mut self, now: Instant) {
        let mut command = Command::new(&self.program);
        command
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        crate::sys::process::prepare_child(&mut command);
        self.state = match command.spawn() {
            Ok(child) => {
                log::info!("📡 {} started (pid {})", self.name(), child.id());
                State::Running { child, since: now }
            }
            Err(e) => {
                let delay = self.backoff.after_exit(Duration::ZERO);
                log::warn!(
                    "📡 {}: cannot start: {e}; retrying in {} s",
                    self.program.display(),
                    delay.as_secs()
                );
                State::Waiting { at: now + delay }
            }
        };
    }

    /// When the loop must call `poll` (a restart is due).
    pub fn poll_at(&self) -> Option<Instant> {
        match self.state {
            State::Waiting { at } => Some(at),
            _ => None,
        }
    }

    pub fn poll(&mut self, now: Instant) {
        if self.poll_at().is_some_and(|at| at <= now) {
            self.restarts = self.restarts.saturating_add(1);
            self.spawn(now);
        }
    }

    /// A child exited (SIGCHLD): reaps it if it was this one and schedules
    /// the restart.
    pub fn on_child_exit(&mut self, now: Instant) {
        let State::Running { child, since } = &mut self.state else {
            return;
        };
        let status = match child.try_wait() {
            Ok(Some(status)) => status.to_string(),
            Ok(None) => return,
            Err(e) => format!("lost ({e})"),
        };
        let delay = self
            .backoff
            .after_exit(now.saturating_duration_since(*since));
        log::warn!(
            "📡 {} exited ({status}); restarting in {} s",
            self.name(),
            delay.as_secs()
        );
        self.state = State::Waiting { at: now + delay };
    }

    pub fn pid(&self) -> Option<u32> {
        match &self.state {
            State::Running { child, .. } => Some(child.id()),
            _ => None,
        }
    }

    pub fn restarts(&self) -> u32 {
        self.restarts
    }

    /// Stops it for good: SIGTERM, then a bounded wait for it to go (kv is
    /// leaving the loop, so a short wait blocks no one), SIGKILL if it did
    /// not.
    pub fn stop(&mut self) {
        let State::Running { mut child, .. } = std::mem::replace(&mut self.state, State::Stopped)
        else {
            return;
        };
        let name = self.name();
        if let Err(e) = crate::sys::process::terminate(child.id()) {
            log::warn!("📡 {name} (pid {}): cannot send SIGTERM: {e}", child.id());
        }
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            match child.try_wait() {
                Ok(Some(_)) | Err(_) => {
                    log::info!("📡 {name} stopped");
                    return;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
        log::warn!("📡 {name} ignored SIGTERM for 2 s; killing it");
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dhcp() -> Dhcp {
        Dhcp {
            interface: "usb0".into(),
            subnet: Subnet::parse("10.55.0.1/30").unwrap(),
            gateway: false,
            state_dir: Some("/run/kv".into()),
        }
    }

    #[test]
    fn test_argv_dhcp_only_no_router_no_dns() {
        let argv = dhcp().argv();
        for wanted in [
            "--keep-in-foreground",
            "--port=0",
            "--interface=usb0",
            "--bind-interfaces",
            "--conf-file=/dev/null",
            "--dhcp-range=10.55.0.2,10.55.0.2,255.255.255.252,1h",
            "--dhcp-option=option:router",
            "--dhcp-option=option:dns-server",
            "--dhcp-leasefile=/run/kv/dnsmasq-usb0.leases",
            "--pid-file=/run/kv/dnsmasq-usb0.pid",
        ] {
            assert!(
                argv.iter().any(|a| a == wanted),
                "{wanted} missing: {argv:?}"
            );
        }
        // Debug mode would log every packet and keep root.
        assert!(!argv
            .iter()
            .any(|a| a == "-d" || a == "--no-daemon" || a == "--log-dhcp"));
        assert_eq!(dhcp().describe(), "offering 10.55.0.2 (no router, no DNS)");
    }

    #[test]
    fn test_state_files_pid_and_leases_or_none() {
        let mut d = dhcp();
        d.state_dir = Some("/run/kv".into());
        assert_eq!(
            d.state_files(),
            [
                PathBuf::from("/run/kv/dnsmasq-usb0.pid"),
                PathBuf::from("/run/kv/dnsmasq-usb0.leases")
            ]
        );
        d.state_dir = None;
        assert!(d.state_files().is_empty());
    }

    #[test]
    fn test_argv_gateway_and_no_lease_file() {
        let mut d = dhcp();
        d.gateway = true;
        d.state_dir = None;
        d.subnet = Subnet::parse("192.168.77.1/24").unwrap();
        let argv = d.argv();
        assert!(argv.contains(&"--dhcp-option=option:router,192.168.77.1".to_string()));
        assert!(argv.contains(&"--dhcp-option=option:dns-server".to_string()));
        assert!(argv.contains(&"--leasefile-ro".to_string()));
        assert!(argv.contains(&"--pid-file=".to_string()));
        assert!(
            argv.contains(&"--dhcp-range=192.168.77.2,192.168.77.254,255.255.255.0,1h".to_string())
        );
        assert_eq!(
            d.describe(),
            "offering 192.168.77.2-192.168.77.254 (router 192.168.77.1, no DNS)"
        );
    }

    #[test]
    fn test_backoff_doubles_caps_and_resets() {
        let mut b = Backoff::default();
        let quick = Duration::from_millis(200);
        let delays: Vec<u64> = (0..9).map(|_| b.after_exit(quick).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        for _ in 0..100 {
            assert_eq!(b.after_exit(quick), Backoff::MAX, "no overflow");
        }
        assert_eq!(
            b.after_exit(Duration::from_secs(45)).as_secs(),
            1,
            "healthy run resets"
        );
        assert_eq!(b.after_exit(quick).as_secs(), 2);
    }

    #[test]
    fn test_find_in_path_then_sbin() {
        let dir = std::env::temp_dir().join(format!("kv-dnsmasq-find-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fake = dir.join("dnsmasq");
        std::fs::write(&fake, "#!/bin/sh\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o644)).unwrap();
        let path = std::env::join_paths([&dir]).unwrap();
        assert_ne!(find(Some(&path)), Some(fake.clone()), "not executable");
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(find(Some(&path)), Some(fake));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Waits (in a test only) until the child has exited, as SIGCHLD would say.
    fn exited(s: &mut Supervised, now: Instant) {
        for _ in 0..500 {
            s.on_child_exit(now);
            if s.pid().is_none() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("child never exited");
    }

    #[test]
    fn test_running_exit_restarts_with_backoff() {
        let t0 = Instant::now();
        let mut s = Supervised::start("/bin/sh".into(), vec!["-c".into(), "exit 3".into()], t0);
        assert!(s.pid().is_some());
        assert_eq!(s.poll_at(), None, "running: no deadline");
        exited(&mut s, t0);
        assert_eq!(s.poll_at(), Some(t0 + Duration::from_secs(1)));
        s.poll(t0 + Duration::from_millis(500));
        assert_eq!(s.restarts(), 0, "not before the deadline");
        let t1 = t0 + Duration::from_secs(1);
        s.poll(t1);
        assert_eq!(s.restarts(), 1);
        exited(&mut s, t1);
        assert_eq!(s.poll_at(), Some(t1 + Duration::from_secs(2)), "doubled");
    }

    #[test]
    fn test_running_stop_terminates() {
        // As in kv: SIGTERM blocked in the parent for its signalfd.
        let _signals = crate::sys::signal::Signals::new().expect("signalfd");
        let t0 = Instant::now();
        let mut s = Supervised::start("/bin/sleep".into(), vec!["30".into()], t0);
        let pid = s.pid().expect("running");
        s.on_child_exit(t0);
        assert_eq!(
            s.pid(),
            Some(pid),
            "a SIGCHLD for another child changes nothing"
        );
        let started = Instant::now();
        s.stop();
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "SIGTERM was enough"
        );
        assert!(!Path::new(&format!("/proc/{pid}")).exists(), "reaped");
        assert_eq!((s.pid(), s.poll_at()), (None, None));
        s.poll(t0 + Duration::from_secs(100));
        assert_eq!(s.pid(), None, "stopped for good");
    }

    #[test]
    fn test_stop_stale_only_its_own() {
        let dir = std::env::temp_dir().join(format!("kv-dnsmasq-stale-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pid_file = dir.join("dnsmasq-usb0.pid");
        let arg = format!("--pid-file={}", pid_file.display());
        let mut command = Command::new("/bin/sh");
        command.args(["-c", "while :; do sleep 0.1; done", "sh", &arg]);
        crate::sys::process::prepare_child(&mut command);
        let mut stale = command.spawn().unwrap();
        // A pid file naming another process (this test) changes nothing.
        std::fs::write(&pid_file, format!("{}\n", std::process::id())).unwrap();
        stop_stale(&pid_file);
        std::fs::write(&pid_file, format!("{}\n", stale.id())).unwrap();
        assert_eq!(stale.try_wait().unwrap(), None, "still running");
        stop_stale(&pid_file);
        // stop_stale returns once the process has let its command line go,
        // which it does on its way out, a moment before its parent (this
        // test) can reap it: the reaping may wait that moment.
        let cmdline = std::fs::read(format!("/proc/{}/cmdline", stale.id())).unwrap_or_default();
        assert!(cmdline.is_empty(), "still running after stop_stale");
        let deadline = Instant::now() + Duration::from_secs(2);
        let status = loop {
            if let Some(status) = stale.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = stale.kill();
                panic!("not reaped 2 s after stop_stale: {:?}", stale.wait());
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(libc::SIGTERM)
        );
        stop_stale(&dir.join("missing.pid"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn test_waiting_spawn_failure_retries() {
        let t0 = Instant::now();
        let mut s = Supervised::start("/nonexistent/dnsmasq".into(), vec![], t0);
        assert_eq!(s.pid(), None);
        assert_eq!(s.poll_at(), Some(t0 + Duration::from_secs(1)));
        s.poll(t0 + Duration::from_secs(1));
        assert_eq!(s.poll_at(), Some(t0 + Duration::from_secs(3)));
    }
}
