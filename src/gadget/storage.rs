//! The gadget's mass-storage function: one removable LUN, created with the
//! gadget and linked after the HID functions, so the target enumerates it
//! once, at start, and their interface numbers never change. Attaching,
//! ejecting and swapping images then only writes the LUN's attributes
//! (`file`, `ro`, `cdrom`, `forced_eject`); the keyboard and mouse are never
//! re-plugged. The kernel opens the image itself when `file` is written and
//! tells the host the medium changed.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use super::{configfs_error, Gadget, CONFIG};
use crate::media::{Drive, Medium};

/// The function's directory under `functions/` and its link in the config.
const FUNCTION: &str = "mass_storage.kv";
/// The one LUN; configfs creates it with the function.
const LUN: &str = "lun.0";

/// Adds the function to a gadget being built (before it is bound).
pub(super) fn add(gadget: &Gadget) -> Result<(), String> {
    let function = gadget.dir.join("functions").join(FUNCTION);
    fs::create_dir_all(function.join(LUN)).map_err(|e| match e.kind() {
        ErrorKind::NotFound => format!(
            "{}: {e} — is the usb_f_mass_storage module loaded (modprobe usb_f_mass_storage)?",
            function.display()
        ),
        _ => configfs_error(&function, e),
    })?;
    // Removable: a LUN that is not must have a file at bind time, and
    // cannot be ejected.
    let lun = Lun::new(&function);
    lun.write("removable", "1")?;
    lun.write("ro", "0")?;
    lun.write("cdrom", "0")?;
    let link = gadget.dir.join(CONFIG).join(FUNCTION);
    std::os::unix::fs::symlink(&function, &link).map_err(|e| configfs_error(&link, e))
}

impl Gadget {
    /// The mass-storage LUN, when the gadget has one.
    pub fn lun(&self) -> Option<Lun> {
        let function = self.dir.join("functions").join(FUNCTION);
        self.config.mass_storage.then(|| Lun::new(&function))
    }
}

/// The LUN's attribute directory, `functions/mass_storage.kv/lun.0`.
pub struct Lun {
    dir: PathBuf,
}

impl Lun {
    fn new(function: &Path) -> Lun {
        Lun {
            dir: function.join(LUN),
        }
    }

    fn write(&self, attribute: &str, value: &str) -> Result<(), String> {
        let path = self.dir.join(attribute);
        fs::write(&path, value).map_err(|e| {
            let hint = match e.kind() {
                ErrorKind::ResourceBusy => {
                    " — the drive still holds a medium; eject it first".to_string()
                }
                ErrorKind::NotFound if attribute == "file" => {
                    format!(" — cannot open the image {value}")
                }
                _ => String::new(),
            };
            format!("{}: {e}{hint}", path.display())
        })
    }
}

impl Drive for Lun {
    fn insert(&mut self, file: &Path, medium: Medium) -> Result<(), String> {
        // `ro` and `cdrom` can change only while the drive is empty.
        self.eject()?;
        self.write("ro", if medium.read_only() { "1" } else { "0" })?;
        self.write("cdrom", if medium == Medium::Cdrom { "1" } else { "0" })?;
        let path = file
            .to_str()
            .ok_or_else(|| format!("{}: the image path is not UTF-8", file.display()))?;
        self.write("file", path)
    }

    fn eject(&mut self) -> Result<(), String> {
        if self.loaded().is_none() {
            return Ok(());
        }
        // forced_eject works even when the host locked the medium (a
        // mounted CD-ROM); kernels before 6.0 lack it and get an empty `file`.
        if self.dir.join("forced_eject").exists() {
            self.write("forced_eject", "1")?;
        } else {
            self.write("file", "")?;
        }
        // In a temp dir (tests) nothing clears `file` by itself.
        if self.loaded().is_some() {
            self.write("file", "")?;
        }
        Ok(())
    }

    fn loaded(&self) -> Option<PathBuf> {
        let text = fs::read_to_string(self.dir.join("file")).ok()?;
        let text = text.trim_end_matches('\n');
        (!text.is_empty()).then(|| PathBuf::from(text))
    }

    fn kind(&self) -> &'static str {
        "usb"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gadget::tests::TempDir;

    fn read(path: &Path) -> String {
        fs::read_to_string(path).unwrap()
    }

    #[test]
    fn test_lun_insert_swap_eject() {
        let tmp = TempDir::new("storage-lun");
        let function = tmp.path().join(FUNCTION);
        fs::create_dir_all(function.join(LUN)).unwrap();
        let mut lun = Lun::new(&function);
        assert_eq!(lun.loaded(), None);
        lun.insert(Path::new("/images/a.iso"), Medium::Cdrom)
            .unwrap();
        let dir = function.join(LUN);
        assert_eq!(read(&dir.join("file")), "/images/a.iso");
        assert_eq!(read(&dir.join("cdrom")), "1");
        assert_eq!(read(&dir.join("ro")), "1");
        lun.insert(Path::new("/images/b.img"), Medium::Flash)
            .unwrap();
        assert_eq!(read(&dir.join("file")), "/images/b.img");
        assert_eq!(
            (read(&dir.join("cdrom")), read(&dir.join("ro"))),
            ("0".into(), "0".into())
        );
        fs::write(dir.join("forced_eject"), "").unwrap();
        lun.eject().unwrap();
        assert_eq!(read(&dir.join("forced_eject")), "1");
        assert_eq!(lun.loaded(), None);
        assert_eq!(lun.kind(), "usb");
    }
}
