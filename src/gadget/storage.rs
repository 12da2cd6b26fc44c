//! The gadget's mass-storage function, created with the gadget and linked
//! after the HID functions, so the target enumerates it once, at start, and
//! the HID interface numbers never change. It has two removable LUNs, both
//! empty at first: `lun.0` a flash drive, `lun.1` a CD-ROM. Two, because a
//! host reads a LUN's device type (disk or CD-ROM) only when it enumerates
//! it: flipping one LUN's `cdrom` attribute later would leave the host
//! reading an ISO through its disk driver until the whole gadget — keyboard
//! and mouse included — was re-plugged. Attaching, ejecting and swapping
//! images only write the LUNs' attributes (`file`, `ro`, `forced_eject`);
//! the kernel opens the image itself when `file` is written and tells the
//! host the medium changed. One image is in a drive at a time.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use super::Gadget;
use crate::media::{Drive, Medium};

/// The function's directory under `functions/` and its link in the config.
const FUNCTION: &str = "mass_storage.kv";
/// The flash drive; configfs creates `lun.0` with the function.
const FLASH_LUN: &str = "lun.0";
/// The CD-ROM drive, made by kv.
const CDROM_LUN: &str = "lun.1";

/// Adds the function to a gadget being built (before it is bound).
pub(super) fn add(gadget: &Gadget) -> Result<(), String> {
    let function = gadget.dir.join("functions").join(FUNCTION);
    for lun in [FLASH_LUN, CDROM_LUN] {
        super::make_function_dir(&function.join(lun), "usb_f_mass_storage")?;
    }
    let drives = Drives::new(&function);
    // Removable: a LUN that is not must have a file at bind time, and
    // cannot be ejected.
    for (lun, cdrom) in [(&drives.flash, "0"), (&drives.cdrom, "1")] {
        lun.write("removable", "1")?;
        lun.write("cdrom", cdrom)?;
        lun.write("ro", cdrom)?;
    }
    gadget.link_function(FUNCTION)
}

/// Removes the LUNs kv made in a mass-storage function (`lun.1`...):
/// configfs refuses to remove the function while they exist, and refuses
/// to remove `lun.0`, which it made itself.
pub(super) fn remove_made_luns(function: &Path) -> Result<(), String> {
    let is_storage = function
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("mass_storage."));
    if !is_storage {
        return Ok(());
    }
    for lun in super::children(function) {
        let made = lun
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("lun.") && n != FLASH_LUN);
        if made {
            super::remove_item(&lun)?;
        }
    }
    Ok(())
}

impl Gadget {
    /// The mass-storage drives, when the gadget has them.
    pub fn drives(&self) -> Option<Drives> {
        let function = self.dir.join("functions").join(FUNCTION);
        self.config.mass_storage.then(|| Drives::new(&function))
    }
}

/// The flash drive and the CD-ROM drive the target sees.
pub struct Drives {
    flash: Lun,
    cdrom: Lun,
}

impl Drives {
    fn new(function: &Path) -> Drives {
        Drives {
            flash: Lun(function.join(FLASH_LUN)),
            cdrom: Lun(function.join(CDROM_LUN)),
        }
    }
}

impl Drive for Drives {
    fn insert(&mut self, file: &Path, medium: Medium) -> Result<(), String> {
        self.eject()?;
        let path = file
            .to_str()
            .ok_or_else(|| format!("{}: the image path is not UTF-8", file.display()))?;
        match medium {
            Medium::Cdrom => self.cdrom.write("file", path),
            Medium::Flash | Medium::FlashReadOnly => {
                // `ro` can change only while the drive is empty.
                self.flash
                    .write("ro", if medium.read_only() { "1" } else { "0" })?;
                self.flash.write("file", path)
            }
        }
    }

    fn eject(&mut self) -> Result<(), String> {
        self.flash.eject()?;
        self.cdrom.eject()
    }

    fn loaded(&self) -> Option<PathBuf> {
        self.flash.loaded().or_else(|| self.cdrom.loaded())
    }

    fn kind(&self) -> &'static str {
        "usb"
    }
}

/// One LUN's attribute directory, `functions/mass_storage.kv/lun.N`.
struct Lun(PathBuf);

impl Lun {
    fn write(&self, attribute: &str, value: &str) -> Result<(), String> {
        let path = self.0.join(attribute);
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

    fn loaded(&self) -> Option<PathBuf> {
        let text = fs::read_to_string(self.0.join("file")).ok()?;
        let text = text.trim_end_matches('\n');
        (!text.is_empty()).then(|| PathBuf::from(text))
    }

    fn eject(&self) -> Result<(), String> {
        if self.loaded().is_none() {
            return Ok(());
        }
        // forced_eject works even when the host locked the medium (a
        // mounted CD-ROM); kernels before 6.0 lack it and get an empty `file`.
        if self.0.join("forced_eject").exists() {
            self.write("forced_eject", "1")?;
        }
        // In a temp dir (tests), or without forced_eject, clear `file`.
        if self.loaded().is_some() {
            self.write("file", "")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gadget::tests::system;
    use crate::gadget::CONFIG;
    use crate::testutil::TempDir;

    fn read(path: &Path) -> String {
        fs::read_to_string(path).unwrap()
    }

    #[test]
    fn test_drives_insert_swap_eject() {
        let tmp = TempDir::new("storage-drives");
        let function = tmp.path().join(FUNCTION);
        let (flash, cdrom) = (function.join(FLASH_LUN), function.join(CDROM_LUN));
        fs::create_dir_all(&flash).unwrap();
        fs::create_dir_all(&cdrom).unwrap();
        let mut drives = Drives::new(&function);
        assert_eq!(drives.loaded(), None);
        drives
            .insert(Path::new("/images/a.iso"), Medium::Cdrom)
            .unwrap();
        assert_eq!(read(&cdrom.join("file")), "/images/a.iso");
        assert_eq!(drives.loaded(), Some(PathBuf::from("/images/a.iso")));
        fs::write(cdrom.join("forced_eject"), "").unwrap();
        drives
            .insert(Path::new("/images/b.img"), Medium::FlashReadOnly)
            .unwrap();
        assert_eq!(read(&cdrom.join("forced_eject")), "1");
        assert_eq!(read(&cdrom.join("file")), "");
        assert_eq!(read(&flash.join("file")), "/images/b.img");
        assert_eq!(read(&flash.join("ro")), "1");
        drives
            .insert(Path::new("/images/b.img"), Medium::Flash)
            .unwrap();
        assert_eq!(read(&flash.join("ro")), "0");
        drives.eject().unwrap();
        assert_eq!(drives.loaded(), None);
        assert_eq!(drives.kind(), "usb");
    }

    #[test]
    fn test_gadget_with_mass_storage() {
        let (_root, mut config) = system("storage-gadget");
        let plain = Gadget::create(&config).unwrap();
        assert!(plain.drives().is_none());
        drop(plain);
        config.mass_storage = true;
        let gadget = Gadget::create(&config).unwrap();
        let dir = config.configfs.join("usb_gadget/kv");
        let function = dir.join("functions").join(FUNCTION);
        for lun in [FLASH_LUN, CDROM_LUN] {
            assert_eq!(read(&function.join(lun).join("removable")), "1");
        }
        assert_eq!(read(&function.join(FLASH_LUN).join("cdrom")), "0");
        assert_eq!(read(&function.join(CDROM_LUN).join("cdrom")), "1");
        assert_eq!(read(&function.join(CDROM_LUN).join("ro")), "1");
        assert!(fs::symlink_metadata(dir.join(CONFIG).join(FUNCTION)).is_ok_and(|m| m.is_symlink()));
        assert_eq!(read(&dir.join("UDC")), "dummy_udc.0");
        let mut drives = gadget.drives().unwrap();
        drives.insert(Path::new("/i/a.img"), Medium::Flash).unwrap();
        assert_eq!(read(&function.join(FLASH_LUN).join("file")), "/i/a.img");
    }
}
