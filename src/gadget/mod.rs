//! kv's USB composite gadget, built by hand through configfs: one gadget of
//! kv's own name under `usb_gadget/`, with a HID function per enabled device
//! (boot keyboard, absolute mouse, relative boot mouse), bound to one UDC.
//! kv finds its `/dev/hidgN` nodes from the functions it created (their `dev`
//! numbers), never by guessing, and removes only its own gadget: a stale one
//! of its name at start, its own on exit. Other gadgets on the board are
//! never touched.
//!
//! Paths come from `GadgetConfig` so tests run against a temp dir, where
//! attributes are plain files; the real kernel is tested in `tests/vm`.

pub mod descriptor;
pub mod ethernet;
pub mod serial;
pub mod storage;
pub mod udc;

use std::fs;
use std::io::{self, ErrorKind};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use udc::UdcWatch;

/// "Multifunction Composite Gadget" of the Linux Foundation's vendor ID: the
/// documented pair for a composite gadget of Linux's own functions.
pub const DEFAULT_VENDOR: u16 = 0x1d6b;
pub const DEFAULT_PRODUCT: u16 = 0x0104;

/// Where the gadget lives and what it offers, every value checked.
#[derive(Clone, Debug)]
pub struct GadgetConfig {
    /// configfs mount point, `/sys/kernel/config`.
    pub configfs: PathBuf,
    /// `/sys/class/udc`: the controllers, and each one's `state`.
    pub udc_root: PathBuf,
    /// `/sys/dev/char`: device numbers to names (`uevent`'s DEVNAME).
    pub sys_dev_char: PathBuf,
    /// Where device nodes are, `/dev`.
    pub dev: PathBuf,
    /// The gadget's directory name under `usb_gadget/`.
    pub name: String,
    /// `--udc`; `None`: the only controller present.
    pub udc: Option<String>,
    pub vendor: u16,
    pub product: u16,
    pub serial: String,
    pub keyboard: bool,
    pub mouse_absolute: bool,
    pub mouse_relative: bool,
    /// A mass-storage function with one removable LUN (`--images`).
    pub mass_storage: bool,
    /// `--ethernet`: the network function, if any.
    pub ethernet: Option<ethernet::Ethernet>,
    /// `--serial`: a CDC ACM serial port, the target's console.
    pub serial_port: bool,
}

impl GadgetConfig {
    /// The real system's paths, all functions enabled.
    pub fn new(serial: String) -> GadgetConfig {
        GadgetConfig {
            configfs: "/sys/kernel/config".into(),
            udc_root: "/sys/class/udc".into(),
            sys_dev_char: "/sys/dev/char".into(),
            dev: "/dev".into(),
            name: "kv".into(),
            udc: None,
            vendor: DEFAULT_VENDOR,
            product: DEFAULT_PRODUCT,
            serial,
            keyboard: true,
            mouse_absolute: true,
            mouse_relative: true,
            mass_storage: false,
            ethernet: None,
            serial_port: false,
        }
    }

    fn functions(&self) -> impl Iterator<Item = Function> + '_ {
        [
            (Function::Keyboard, self.keyboard),
            (Function::MouseAbsolute, self.mouse_absolute),
            (Function::MouseRelative, self.mouse_relative),
        ]
        .into_iter()
        .filter_map(|(function, enabled)| enabled.then_some(function))
    }
}

/// A serial number stable per board that does not reveal its machine ID:
/// the first 8 bytes of SHA-1 over a kv-specific prefix and the ID, in hex.
pub fn board_serial(machine_id: &str) -> String {
    use sha1::{Digest, Sha1};
    let digest = Sha1::new()
        .chain_update(b"kv usb serial\n")
        .chain_update(machine_id.trim().as_bytes())
        .finalize();
    digest.iter().take(8).map(|b| format!("{b:02X}")).collect()
}

/// One HID function of the gadget.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Function {
    Keyboard,
    MouseAbsolute,
    MouseRelative,
}

impl Function {
    /// The function's directory under `functions/` and its link in the config.
    fn dir_name(self) -> &'static str {
        match self {
            Function::Keyboard => "hid.keyboard",
            Function::MouseAbsolute => "hid.mouse",
            Function::MouseRelative => "hid.mouse_rel",
        }
    }

    /// (protocol, subclass, report length, report descriptor). Subclass 1 is
    /// the boot interface; protocol 1 keyboard, 2 mouse, 0 none.
    fn hid(self) -> (u8, u8, usize, &'static [u8]) {
        match self {
            Function::Keyboard => (1, 1, 8, descriptor::KEYBOARD),
            Function::MouseAbsolute => (0, 0, 7, descriptor::MOUSE_ABSOLUTE),
            Function::MouseRelative => (2, 1, 5, descriptor::MOUSE_RELATIVE),
        }
    }
}

/// The configuration every function is linked into.
const CONFIG: &str = "configs/c.1";
/// US English, the string table every host reads.
const STRINGS: &str = "strings/0x409";

/// kv's gadget, created and bound; removed again when dropped.
pub struct Gadget {
    dir: PathBuf,
    config: GadgetConfig,
    udc: String,
    removed: bool,
}

impl Gadget {
    /// Creates kv's gadget (after removing a stale one of its name) and binds it.
    pub fn create(config: &GadgetConfig) -> Result<Gadget, String> {
        let gadgets = config.configfs.join("usb_gadget");
        if !gadgets.is_dir() {
            return Err(format!(
                "{}: not found — is libcomposite loaded and configfs mounted? \
                 (modprobe libcomposite; mount -t configfs none {})",
                gadgets.display(),
                config.configfs.display()
            ));
        }
        let udc = udc::choose(&config.udc_root, config.udc.as_deref())?;
        let dir = gadgets.join(&config.name);
        if fs::symlink_metadata(&dir).is_ok() {
            log::warn!(
                "🔌 Removing stale gadget {} left by an earlier kv",
                dir.display()
            );
            teardown(&dir)?;
        }
        let mut gadget = Gadget {
            dir,
            config: config.clone(),
            udc,
            removed: false,
        };
        if let Err(e) = gadget.build() {
            // Half a gadget is worse than none: it may hold the UDC.
            let _ = gadget.remove();
            return Err(e);
        }
        log::info!(
            "🔌 USB gadget {} ({:04x}:{:04x}) bound to {}",
            gadget.dir.display(),
            config.vendor,
            config.product,
            gadget.udc
        );
        Ok(gadget)
    }

    fn build(&self) -> Result<(), String> {
        let config = &self.config;
        fs::create_dir(&self.dir).map_err(|e| configfs_error(&self.dir, e))?;
        let manufacturer = "kv";
        let product = "kv keyboard and mouse";
        self.write("idVendor", format!("0x{:04x}", config.vendor))?;
        self.write("idProduct", format!("0x{:04x}", config.product))?;
        self.write("bcdDevice", "0x0100")?;
        self.write("bcdUSB", "0x0200")?;
        self.mkdir(STRINGS)?;
        self.write(&format!("{STRINGS}/manufacturer"), manufacturer)?;
        self.write(&format!("{STRINGS}/product"), product)?;
        self.write(&format!("{STRINGS}/serialnumber"), &config.serial)?;
        self.mkdir(CONFIG)?;
        // Bus powered with remote wakeup: a keypress may wake a sleeping target.
        self.write(&format!("{CONFIG}/bmAttributes"), "0xa0")?;
        self.write(&format!("{CONFIG}/MaxPower"), "100")?;
        self.mkdir(&format!("{CONFIG}/{STRINGS}"))?;
        self.write(&format!("{CONFIG}/{STRINGS}/configuration"), product)?;
        if let Some(ethernet) = &config.ethernet {
            self.add_ethernet(ethernet)?;
        }
        for function in config.functions() {
            self.add_function(function)?;
        }
        if config.mass_storage {
            storage::add(self)?;
        }
        if config.serial_port {
            serial::add(self)?;
        }
        self.write("UDC", &self.udc).map_err(|e| self.bind_error(e))
    }

    fn add_function(&self, function: Function) -> Result<(), String> {
        let name = format!("functions/{}", function.dir_name());
        let (protocol, subclass, length, report_desc) = function.hid();
        self.mkdir(&name)?;
        self.write(&format!("{name}/protocol"), protocol.to_string())?;
        self.write(&format!("{name}/subclass"), subclass.to_string())?;
        self.write(&format!("{name}/report_length"), length.to_string())?;
        self.write(&format!("{name}/report_desc"), report_desc)?;
        // Newer kernels only. Without an OUT endpoint the LED report comes
        // as SET_REPORT on ep0, which some BIOSes need; a keypress written
        // while the host sleeps wakes it.
        for optional in ["no_out_endpoint", "wakeup_on_write"] {
            let path = format!("{name}/{optional}");
            if self.dir.join(&path).exists() {
                self.write(&path, "1")?;
            }
        }
        let link = self.dir.join(CONFIG).join(function.dir_name());
        std::os::unix::fs::symlink(self.dir.join(&name), &link)
            .map_err(|e| configfs_error(&link, e))
    }

    fn mkdir(&self, relative: &str) -> Result<(), String> {
        let path = self.dir.join(relative);
        // configfs made `strings`, `configs` and `functions` with the gadget;
        // a temp dir did not.
        fs::create_dir_all(&path).map_err(|e| configfs_error(&path, e))
    }

    fn write(&self, relative: &str, value: impl AsRef<[u8]>) -> Result<(), String> {
        let path = self.dir.join(relative);
        fs::write(&path, value).map_err(|e| configfs_error(&path, e))
    }

    fn bind_error(&self, error: String) -> String {
        let holder = fs::read_dir(self.dir.parent().unwrap_or(&self.dir))
            .into_iter()
            .flatten()
            .flatten()
            .map(|entry| entry.path())
            .filter(|path| *path != self.dir)
            .find(|path| {
                fs::read_to_string(path.join("UDC")).is_ok_and(|udc| udc.trim() == self.udc)
            });
        match holder {
            Some(other) => format!(
                "{error} — {} is in use by the gadget {}; unbind it \
                 (echo \"\" > {}/UDC) or choose another controller with --udc",
                self.udc,
                other.display(),
                other.display()
            ),
            None => error,
        }
    }

    /// The `/dev/hidgN` node of each enabled function, found from the
    /// device number the function reports in its `dev` attribute. The
    /// gadget only makes the devices: whoever drives them opens these.
    pub fn nodes(&self) -> Result<Vec<(Function, PathBuf)>, String> {
        self.config
            .functions()
            .map(|function| {
                let attr = self
                    .dir
                    .join("functions")
                    .join(function.dir_name())
                    .join("dev");
                let text = fs::read_to_string(&attr).map_err(|e| configfs_error(&attr, e))?;
                let number = DeviceNumber::parse(&text).ok_or_else(|| {
                    format!("{}: {:?} is not MAJOR:MINOR", attr.display(), text.trim())
                })?;
                Ok((function, self.node_of(number)?))
            })
            .collect()
    }

    /// `/sys/dev/char/MAJ:MIN/uevent` names the node; without sysfs, the
    /// character device in `/dev` with that number.
    fn node_of(&self, number: DeviceNumber) -> Result<PathBuf, String> {
        let uevent = self
            .config
            .sys_dev_char
            .join(number.to_string())
            .join("uevent");
        if let Ok(text) = fs::read_to_string(&uevent) {
            let name = text.lines().find_map(|line| line.strip_prefix("DEVNAME="));
            // DEVNAME is relative to /dev; never let it climb out.
            if let Some(name) = name.filter(|n| !n.split('/').any(|part| part == "..")) {
                return Ok(self.config.dev.join(name));
            }
        }
        let found = fs::read_dir(&self.config.dev)
            .into_iter()
            .flatten()
            .flatten()
            .find(|entry| {
                entry.metadata().is_ok_and(|meta| {
                    meta.file_type().is_char_device() && meta.rdev() == number.rdev()
                })
            });
        found.map(|entry| entry.path()).ok_or_else(|| {
            format!(
                "no device node for the HID function's device {number} in {} — \
                 is devtmpfs mounted (or udev running)?",
                self.config.dev.display()
            )
        })
    }

    /// Watches whether a host has configured the gadget, from `now` on.
    pub fn udc_watch(&self, now: std::time::Instant) -> UdcWatch {
        UdcWatch::new(&self.config.udc_root, &self.dir, now)
    }

    /// Unbinds and removes the gadget. Close its `/dev/hidgN` first.
    pub fn remove(&mut self) -> Result<(), String> {
        if self.removed {
            return Ok(());
        }
        self.removed = true;
        teardown(&self.dir)
    }
}

impl Drop for Gadget {
    fn drop(&mut self) {
        if self.removed {
            return;
        }
        match self.remove() {
            Ok(()) => log::info!("🔌 USB gadget {} removed", self.dir.display()),
            Err(e) => log::warn!("{e}"),
        }
    }
}

/// A character device's MAJOR:MINOR, as the `dev` attribute shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct DeviceNumber {
    major: u32,
    minor: u32,
}

impl DeviceNumber {
    fn parse(text: &str) -> Option<DeviceNumber> {
        let (major, minor) = text.trim().split_once(':')?;
        Some(DeviceNumber {
            major: major.parse().ok()?,
            minor: minor.parse().ok()?,
        })
    }

    /// The kernel's `new_encode_dev`, as `stat` reports `st_rdev`.
    fn rdev(self) -> u64 {
        let (major, minor) = (u64::from(self.major), u64::from(self.minor));
        (minor & 0xff) | ((major & 0xfff) << 8) | ((minor & !0xff) << 12) | ((major & !0xfff) << 32)
    }
}

impl std::fmt::Display for DeviceNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "{}:{}", self.major, self.minor)
    }
}

/// Unbinds the gadget at `dir` and removes it. configfs removes a gadget only
/// in reverse order of creation: links out of the configs, then the configs'
/// strings and the configs, the functions, the strings, the gadget itself.
fn teardown(dir: &Path) -> Result<(), String> {
    let udc = dir.join("UDC");
    if fs::read_to_string(&udc).is_ok_and(|bound| !bound.trim().is_empty()) {
        fs::write(&udc, "\n").map_err(|e| configfs_error(&udc, e))?;
    }
    ethernet::teardown_os_desc(dir)?;
    for config in children(&dir.join("configs")) {
        for entry in children(&config) {
            if fs::symlink_metadata(&entry).is_ok_and(|m| m.file_type().is_symlink()) {
                fs::remove_file(&entry).map_err(|e| configfs_error(&entry, e))?;
            }
        }
        for strings in children(&config.join("strings")) {
            remove_item(&strings)?;
        }
        remove_item(&config)?;
    }
    for function in children(&dir.join("functions")) {
        storage::remove_made_luns(&function)?;
        remove_item(&function)?;
    }
    for strings in children(&dir.join("strings")) {
        remove_item(&strings)?;
    }
    remove_item(dir)
}

/// The directories in `dir` (none if it cannot be read).
fn children(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| fs::symlink_metadata(path).is_ok_and(|m| m.is_dir() || m.is_symlink()))
        .collect();
    found.sort();
    found
}

/// Removes one configfs item (a directory kv made). configfs takes the
/// attributes with it; in a temp dir standing in for configfs they are plain
/// files (and the default groups plain directories) that must go first.
/// On configfs itself the first `rmdir` succeeds, or unlinking an attribute
/// fails (EPERM) and the error of the `rmdir` is what gets reported.
fn remove_item(dir: &Path) -> Result<(), String> {
    match fs::remove_dir(dir) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() != ErrorKind::DirectoryNotEmpty => {
            return Err(configfs_error(dir, e));
        }
        Err(_) => {}
    }
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        let kind = entry.file_type().map_err(|e| configfs_error(&path, e))?;
        if kind.is_dir() {
            remove_item(&path)?;
        } else {
            let _ = fs::remove_file(&path);
        }
    }
    fs::remove_dir(dir).map_err(|e| configfs_error(dir, e))
}

/// Makes a function's directory, or one inside it: configfs answers ENOENT
/// when the kernel module that provides the function is not loaded.
fn make_function_dir(path: &Path, module: &str) -> Result<(), String> {
    fs::create_dir_all(path).map_err(|e| match e.kind() {
        ErrorKind::NotFound => format!(
            "{}: {e} — is the {module} module loaded (modprobe {module})?",
            path.display()
        ),
        _ => configfs_error(path, e),
    })
}

impl Gadget {
    /// Links the function `functions/NAME` into the configuration.
    fn link_function(&self, name: &str) -> Result<(), String> {
        let link = self.dir.join(CONFIG).join(name);
        std::os::unix::fs::symlink(self.dir.join("functions").join(name), &link)
            .map_err(|e| configfs_error(&link, e))
    }
}

fn configfs_error(path: &Path, error: io::Error) -> String {
    let hint = match error.kind() {
        ErrorKind::PermissionDenied => " — is kv running as root?",
        ErrorKind::NotFound => " — is the usb_f_hid module loaded (modprobe usb_f_hid)?",
        ErrorKind::ResourceBusy => " — is another gadget bound to this controller?",
        ErrorKind::DirectoryNotEmpty => " — something else still links to it; remove that first",
        _ => "",
    };
    format!("{}: {error}{hint}", path.display())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::testutil::TempDir;

    /// A fake system: configfs with `usb_gadget/`, one UDC, /sys/dev/char, /dev.
    pub(crate) fn system(tag: &str) -> (TempDir, GadgetConfig) {
        let root = TempDir::new(tag);
        let mut config = GadgetConfig::new(board_serial("0123456789abcdef"));
        config.configfs = root.path().join("config");
        config.udc_root = root.path().join("udc");
        config.sys_dev_char = root.path().join("sys-dev-char");
        config.dev = root.path().join("dev");
        for dir in [
            "config/usb_gadget",
            "udc/dummy_udc.0",
            "sys-dev-char",
            "dev",
        ] {
            fs::create_dir_all(root.path().join(dir)).expect("fake system");
        }
        (root, config)
    }

    fn read(path: &Path) -> String {
        fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    #[test]
    fn test_create_writes_gadget_and_binds() {
        let (_root, config) = system("create");
        let gadget = Gadget::create(&config).expect("created");
        let dir = config.configfs.join("usb_gadget/kv");
        assert_eq!(read(&dir.join("idVendor")), "0x1d6b");
        assert_eq!(read(&dir.join("idProduct")), "0x0104");
        assert_eq!(read(&dir.join("configs/c.1/bmAttributes")), "0xa0");
        assert_eq!(read(&dir.join("strings/0x409/serialnumber")).len(), 16);
        let keyboard = dir.join("functions/hid.keyboard");
        assert_eq!(read(&keyboard.join("protocol")), "1");
        assert_eq!(read(&keyboard.join("subclass")), "1");
        assert_eq!(read(&keyboard.join("report_length")), "8");
        assert_eq!(
            fs::read(keyboard.join("report_desc")).unwrap(),
            descriptor::KEYBOARD
        );
        assert!(
            !keyboard.join("no_out_endpoint").exists(),
            "only where the kernel has it"
        );
        let mouse = dir.join("functions/hid.mouse");
        assert_eq!(read(&mouse.join("protocol")), "0");
        assert_eq!(read(&mouse.join("report_length")), "7");
        let rel = dir.join("functions/hid.mouse_rel");
        assert_eq!(
            (read(&rel.join("protocol")), read(&rel.join("subclass"))),
            ("2".into(), "1".into())
        );
        assert_eq!(read(&rel.join("report_length")), "5");
        let link = fs::read_link(dir.join("configs/c.1/hid.mouse_rel")).expect("linked");
        assert_eq!(link, rel);
        assert_eq!(read(&dir.join("UDC")), "dummy_udc.0");
        drop(gadget);
        assert!(!dir.exists(), "removed when dropped");
    }

    #[test]
    fn test_create_disabled_functions_and_ids() {
        let (_root, mut config) = system("disabled");
        config.mouse_absolute = false;
        config.mouse_relative = false;
        (config.vendor, config.product) = (0x16c0, 0x048a);
        let _gadget = Gadget::create(&config).expect("created");
        let dir = config.configfs.join("usb_gadget/kv");
        assert_eq!(read(&dir.join("idVendor")), "0x16c0");
        assert_eq!(read(&dir.join("idProduct")), "0x048a");
        assert!(dir.join("functions/hid.keyboard").is_dir());
        assert!(!dir.join("functions/hid.mouse").exists());
        assert!(!dir.join("configs/c.1/hid.mouse_rel").exists());
    }

    #[test]
    fn test_stale_gadget_replaced_others_untouched() {
        let (_root, config) = system("stale");
        let other = config.configfs.join("usb_gadget/other");
        fs::create_dir_all(other.join("functions/hid.usb0")).unwrap();
        fs::write(other.join("UDC"), "\n").unwrap();
        // What a killed kv leaves: bound, linked, with a function of a name
        // this kv no longer makes.
        let stale = config.configfs.join("usb_gadget/kv");
        fs::create_dir_all(stale.join("functions/hid.old")).unwrap();
        fs::create_dir_all(stale.join("configs/c.1/strings/0x409")).unwrap();
        std::os::unix::fs::symlink(
            stale.join("functions/hid.old"),
            stale.join("configs/c.1/hid.old"),
        )
        .unwrap();
        fs::write(stale.join("UDC"), "dummy_udc.0\n").unwrap();
        let gadget = Gadget::create(&config).expect("stale one replaced");
        assert!(!stale.join("functions/hid.old").exists());
        assert!(stale.join("functions/hid.keyboard").is_dir());
        drop(gadget);
        assert!(
            other.join("functions/hid.usb0").is_dir(),
            "other gadget untouched"
        );
        assert_eq!(read(&other.join("UDC")), "\n");
        assert!(!stale.exists());
    }

    #[test]
    fn test_teardown_reverse_order() {
        let (_root, config) = system("teardown");
        let mut gadget = Gadget::create(&config).expect("created");
        gadget.remove().expect("removed");
        assert!(!config.configfs.join("usb_gadget/kv").exists());
        assert!(config.configfs.join("usb_gadget").is_dir());
        gadget.remove().expect("second remove is a no-op");
    }

    #[test]
    fn test_create_refusals_name_the_fix() {
        let (root, mut config) = system("refusals");
        config.configfs = root.path().join("nothing");
        let e = Gadget::create(&config).err().expect("no configfs");
        assert!(e.contains("modprobe libcomposite"), "{e}");
        let (_root, mut config) = system("refusals-udc");
        fs::create_dir(config.udc_root.join("other_udc.1")).unwrap();
        let e = Gadget::create(&config).err().expect("two UDCs");
        assert!(e.contains("--udc"), "{e}");
        config.udc = Some("other_udc.1".into());
        let _gadget = Gadget::create(&config).expect("chosen");
    }

    #[test]
    fn test_bound_nodes_from_dev_attribute() {
        let (_root, config) = system("nodes");
        let gadget = Gadget::create(&config).expect("created");
        let functions = config.configfs.join("usb_gadget/kv/functions");
        // The kernel numbers hidg minors in creation order; make the glob
        // order disagree to show it is not what kv goes by.
        for (name, minor, node) in [
            ("hid.keyboard", 2, "hidg2"),
            ("hid.mouse", 0, "hidg0"),
            ("hid.mouse_rel", 1, "hidg1"),
        ] {
            fs::write(functions.join(name).join("dev"), format!("236:{minor}\n")).unwrap();
            let sys = config.sys_dev_char.join(format!("236:{minor}"));
            fs::create_dir_all(&sys).unwrap();
            fs::write(
                sys.join("uevent"),
                format!("MAJOR=236\nMINOR={minor}\nDEVNAME={node}\n"),
            )
            .unwrap();
            fs::write(config.dev.join(node), b"").unwrap();
        }
        let nodes = gadget.nodes().expect("nodes");
        assert_eq!(
            nodes,
            [
                (Function::Keyboard, config.dev.join("hidg2")),
                (Function::MouseAbsolute, config.dev.join("hidg0")),
                (Function::MouseRelative, config.dev.join("hidg1")),
            ]
        );
    }

    #[test]
    fn test_bound_nodes_missing_says_why() {
        let (_root, config) = system("nodes-missing");
        let gadget = Gadget::create(&config).expect("created");
        let e = gadget.nodes().unwrap_err();
        assert!(e.contains("hid.keyboard/dev"), "{e}");
        let functions = config.configfs.join("usb_gadget/kv/functions");
        fs::write(functions.join("hid.keyboard/dev"), "junk").unwrap();
        let e = gadget.nodes().unwrap_err();
        assert!(e.contains("MAJOR:MINOR"), "{e}");
        fs::write(functions.join("hid.keyboard/dev"), "236:0").unwrap();
        let e = gadget.nodes().unwrap_err();
        assert!(e.contains("236:0") && e.contains("devtmpfs"), "{e}");
    }

    #[test]
    fn test_device_number_rdev() {
        let n = DeviceNumber::parse("236:1\n").expect("parses");
        assert_eq!(n.rdev(), (236 << 8) | 1);
        assert_eq!(n.to_string(), "236:1");
        let big = DeviceNumber {
            major: 511,
            minor: 300,
        };
        assert_eq!(
            big.rdev(),
            (300 & 0xff) | (511 << 8) | ((300 & !0xff) << 12)
        );
        assert!(DeviceNumber::parse("236").is_none());
        assert!(DeviceNumber::parse("a:b").is_none());
    }

    #[test]
    fn test_board_serial_stable_and_hides_id() {
        let a = board_serial("5c1f0e3e8b5b4a4e9d7c2f1a0b3c4d5e\n");
        assert_eq!(a, board_serial("5c1f0e3e8b5b4a4e9d7c2f1a0b3c4d5e"));
        assert_eq!(a.len(), 16);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, board_serial("another board"));
        assert!(!a.to_lowercase().contains("5c1f0e3e"));
    }
}
