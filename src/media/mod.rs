//! Virtual media: the images folder (`--images`), uploads into it, and the
//! one drive the target sees. `Images` owns the folder's rules — names
//! confined to it, partial uploads kept apart in `.partial/` until complete,
//! nothing overwritten unless asked, an attached image neither deleted nor
//! replaced — and which image is in the drive. The drive itself sits behind
//! `Drive`: the gadget's mass-storage LUN (`gadget::storage`), or a
//! simulated one in `--demo`, which says so in every answer.

pub mod name;
pub mod upload;

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use crate::json;
pub use upload::Upload;

/// Partial uploads, hidden from the list (image names never start with '.').
const PARTIAL_DIR: &str = ".partial";

/// What kind of refusal or failure a `MediaError` is: the caller branches on
/// it (the HTTP layer picks a status), the message says what to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The request itself is wrong (an empty image, an unfinished upload,
    /// an image too big for the CD-ROM).
    Invalid,
    /// No such image or partial upload.
    Missing,
    /// The folder's rules forbid it now (attached, uploading, would overwrite).
    Conflict,
    /// Over `--max-image-size`.
    TooLarge,
    /// The images folder's file system is full.
    NoSpace,
    /// The drive is not there or refused the image.
    NoDrive,
    /// Reading or writing the folder failed.
    Io,
}

/// A refusal or failure, with what to do about it.
#[derive(Debug, PartialEq, Eq)]
pub struct MediaError {
    pub kind: Refusal,
    pub message: String,
}

impl MediaError {
    pub fn new(kind: Refusal, message: impl Into<String>) -> MediaError {
        MediaError {
            kind,
            message: message.into(),
        }
    }
}

/// How the target sees an attached image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Medium {
    /// A removable flash drive the target may write to.
    Flash,
    /// A removable flash drive, write-protected.
    FlashReadOnly,
    /// A CD-ROM drive (always read-only), for ISO images.
    Cdrom,
}

impl Medium {
    pub const NAMES: [&'static str; 3] = ["flash", "flash-ro", "cdrom"];

    pub fn parse(text: &str) -> Option<Medium> {
        match text {
            "flash" => Some(Medium::Flash),
            "flash-ro" => Some(Medium::FlashReadOnly),
            "cdrom" => Some(Medium::Cdrom),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Medium::Flash => "flash",
            Medium::FlashReadOnly => "flash-ro",
            Medium::Cdrom => "cdrom",
        }
    }

    pub fn read_only(self) -> bool {
        self != Medium::Flash
    }
}

/// The most the target's USB CD-ROM shows of an image. The kernel's
/// mass-storage function caps a CD-ROM LUN at 256 minutes of 75 frames a
/// second (the largest address in the minute:second:frame form a disc's
/// table of contents uses), less one frame, of 2,048 bytes: about 2.36 GB.
/// Of a bigger image it silently serves the first part, logging only
/// "file too big" — an installer cut off there fails late and strangely,
/// so kv refuses and points to the flash drive, which has no such cap.
/// Measured the same on Debian's 6.1 and 6.12 kernels
/// (tests/vm/scenarios/51-cdrom-limit.sh).
pub const CDROM_MAX_SIZE: u64 = (256 * 60 * 75 - 1) * 2048;

/// The drive the target sees: it holds one image file or none.
pub trait Drive {
    /// Puts `file` in the drive as `medium`, taking out whatever was in it.
    fn insert(&mut self, file: &Path, medium: Medium) -> Result<(), String>;
    /// Takes the medium out, even if the target locked the drive's door.
    fn eject(&mut self) -> Result<(), String>;
    /// The file in the drive now (the target may have ejected it itself).
    fn loaded(&self) -> Option<PathBuf>;
    /// "usb" for the gadget's LUN, "simulated" for the demo's.
    fn kind(&self) -> &'static str;
}

/// The demo's drive: it remembers what was inserted and nothing sees it.
#[derive(Default)]
pub struct SimulatedDrive {
    file: Option<PathBuf>,
}

impl Drive for SimulatedDrive {
    fn insert(&mut self, file: &Path, _medium: Medium) -> Result<(), String> {
        self.file = Some(file.to_path_buf());
        Ok(())
    }

    fn eject(&mut self) -> Result<(), String> {
        self.file = None;
        Ok(())
    }

    fn loaded(&self) -> Option<PathBuf> {
        self.file.clone()
    }

    fn kind(&self) -> &'static str {
        "simulated"
    }
}

struct Attached {
    name: String,
    medium: Medium,
}

pub struct Images {
    dir: PathBuf,
    partial_dir: PathBuf,
    max_image_size: Option<u64>,
    drive: Option<Box<dyn Drive>>,
    attached: Option<Attached>,
    active: upload::Active,
}

impl Images {
    /// Opens (creating if missing) the images folder. `drive` is `None`
    /// when there is no gadget: images can be managed, not attached.
    pub fn open(
        dir: &Path,
        max_image_size: Option<u64>,
        drive: Option<Box<dyn Drive>>,
    ) -> Result<Images, String> {
        let partial_dir = dir.join(PARTIAL_DIR);
        fs::create_dir_all(&partial_dir).map_err(|e| {
            format!(
                "--images {}: cannot create the folder: {e}; check the path and its permissions",
                partial_dir.display()
            )
        })?;
        // The mass-storage LUN opens files by absolute path.
        let dir = fs::canonicalize(dir).map_err(|e| format!("--images {}: {e}", dir.display()))?;
        Ok(Images {
            partial_dir: dir.join(PARTIAL_DIR),
            dir,
            max_image_size,
            drive,
            attached: None,
            active: Default::default(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Forgets an attachment the target ended itself (it ejected the medium).
    fn sync_drive(&mut self) {
        let loaded = self.drive.as_ref().and_then(|d| d.loaded());
        if loaded.is_none() && self.attached.take().is_some() {
            log::info!("💿 The target ejected the medium");
        }
    }

    fn is_attached(&mut self, name: &str) -> bool {
        self.sync_drive();
        self.attached.as_ref().is_some_and(|a| a.name == name)
    }

    /// The partial file of an upload, never through a symlink (kv runs as
    /// root, and whoever else can write in `.partial/` — a share of the
    /// images folder — must not make it write, then rename, a file of their
    /// choosing; issue 15, finding 5). Starting over unlinks what is there
    /// (a symlink itself, not its target) and makes a new file that nobody
    /// can have slipped in (O_EXCL); resuming appends to a regular file
    /// that still holds exactly `offset` bytes.
    fn open_partial(&self, part: &Path, offset: u64) -> Result<File, MediaError> {
        let mut options = OpenOptions::new();
        options.write(true).custom_flags(libc::O_NOFOLLOW);
        if offset == 0 {
            match fs::remove_file(part) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    return Err(io_error(&self.dir, part, "cannot remove the old", e))
                }
                _ => {}
            }
            options.create_new(true);
        } else {
            options.append(true);
        }
        let file = options
            .open(part)
            .map_err(|e| io_error(&self.dir, part, "cannot open", e))?;
        let meta = file
            .metadata()
            .map_err(|e| io_error(&self.dir, part, "cannot read", e))?;
        if !meta.file_type().is_file() || (offset > 0 && meta.len() != offset) {
            return Err(MediaError::new(
                Refusal::Conflict,
                "the partial upload changed while resuming; start again at offset 0".to_string(),
            ));
        }
        Ok(file)
    }

    /// `GET /api/images`: images, partial uploads, the drive and the room left.
    pub fn list_json(&mut self) -> Result<String, MediaError> {
        self.sync_drive();
        let entries = |dir: &Path| -> Result<Vec<(String, u64, u64)>, MediaError> {
            let read = fs::read_dir(dir).map_err(|e| io_error(&self.dir, dir, "cannot list", e))?;
            let mut found: Vec<_> = read
                .flatten()
                .filter_map(|entry| {
                    let name = entry.file_name().into_string().ok()?;
                    name::check(&name).ok()?;
                    // Symlinks are not followed: images live in the folder.
                    let meta = entry.metadata().ok().filter(|m| m.file_type().is_file())?;
                    let modified = meta
                        .modified()
                        .ok()
                        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                        .map_or(0, |d| d.as_secs());
                    Some((name, meta.len(), modified))
                })
                .collect();
            found.sort();
            Ok(found)
        };
        let image = |(name, size, modified): &(String, u64, u64)| {
            let attached = self.attached.as_ref().filter(|a| a.name == *name);
            json::Object::new()
                .str("name", name)
                .num("size", size)
                .num("modified", modified)
                .opt_str("attached", attached.map(|a| a.medium.as_str()))
                .finish()
        };
        let partial = |(name, size, modified): &(String, u64, u64)| {
            json::Object::new()
                .str("name", name)
                .num("size", size)
                .num("modified", modified)
                .bool("uploading", self.active.borrow().contains(name))
                .finish()
        };
        let images = json::array(entries(&self.dir)?.iter().map(image));
        let partial = json::array(entries(&self.partial_dir)?.iter().map(partial));
        let free = crate::sys::fs::free_space(&self.dir).unwrap_or(0);
        let max = self.max_image_size.map_or("null".into(), |m| m.to_string());
        Ok(json::Object::new()
            .raw("images", &images)
            .raw("partial", &partial)
            .raw("attached", &self.attached_json())
            .opt_str("drive", self.drive.as_ref().map(|d| d.kind()))
            .num("free", free)
            .raw("max_image_size", &max)
            .num("cdrom_max_size", CDROM_MAX_SIZE)
            .finish())
    }

    /// The attached image and how the target sees it, or `null`.
    fn attached_json(&self) -> String {
        self.attached.as_ref().map_or("null".into(), |a| {
            json::Object::new()
                .str("name", &a.name)
                .str("mode", a.medium.as_str())
                .finish()
        })
    }

    /// Starts (offset 0) or resumes (offset = the partial's length) the
    /// upload of `name`, whose body is `length` bytes: refused up front when
    /// the image would be too big, the disk too full, or the name taken.
    pub fn begin_upload(
        &mut self,
        name: &str,
        offset: u64,
        length: u64,
        overwrite: bool,
    ) -> Result<Upload, MediaError> {
        let conflict = |m: String| Err(MediaError::new(Refusal::Conflict, m));
        if self.active.borrow().contains(name) {
            return conflict(format!(
                "{name}: another upload of this name is running; wait for it or pick another name"
            ));
        }
        if self.is_attached(name) {
            return conflict(format!(
                "{name} is attached to the target; eject it before replacing it"
            ));
        }
        let dest = self.dir.join(name);
        if let Ok(meta) = fs::symlink_metadata(&dest) {
            if !meta.file_type().is_file() {
                return conflict(format!(
                    "{name}: exists and is not an image file; pick another name"
                ));
            }
            if !overwrite {
                return conflict(format!(
                    "{name} already exists; add ?overwrite=1 to replace it, or pick another name"
                ));
            }
        }
        let total = offset.saturating_add(length);
        if total == 0 {
            return Err(MediaError::new(
                Refusal::Invalid,
                format!("{name}: an empty image is no use; send its bytes with Content-Length"),
            ));
        }
        if let Some(max) = self.max_image_size.filter(|max| total > *max) {
            return Err(MediaError::new(
                Refusal::TooLarge,
                format!("{name} would be {total} bytes; this kv takes images up to {max} bytes (--max-image-size)"),
            ));
        }
        let part = self.partial_dir.join(name);
        let held = fs::symlink_metadata(&part)
            .ok()
            .filter(|m| m.file_type().is_file())
            .map(|m| m.len());
        if offset > 0 && held != Some(offset) {
            return conflict(match held {
                Some(h) => format!(
                    "{name}: the partial upload holds {h} bytes, not {offset}; resume with ?offset={h}"
                ),
                None => format!("{name}: no partial upload to resume; start at offset 0"),
            });
        }
        // Starting over frees what the old partial held.
        let reclaimed = if offset == 0 { held.unwrap_or(0) } else { 0 };
        let free = crate::sys::fs::free_space(&self.dir)
            .map_err(|e| io_error(&self.dir, &self.dir, "cannot read the free space of", e))?
            .saturating_add(reclaimed);
        if length > free {
            return Err(MediaError::new(
                Refusal::NoSpace,
                format!(
                    "{name} needs {length} bytes but the images folder has only {free} free; delete images or pick a bigger disk"
                ),
            ));
        }
        let file = self.open_partial(&part, offset)?;
        self.active.borrow_mut().insert(name.to_string());
        log::info!("💾 Upload of {name}: {length} bytes from offset {offset} of {total}");
        Ok(Upload {
            name: name.to_string(),
            part,
            file,
            written: offset,
            total,
            overwrite,
            active: self.active.clone(),
        })
    }

    /// Turns a complete upload into an image; returns the image as JSON.
    pub fn finish(&mut self, upload: Upload) -> Result<String, MediaError> {
        let name = upload.name().to_string();
        if upload.remaining() > 0 {
            return Err(MediaError::new(
                Refusal::Invalid,
                format!("{name}: upload is not complete"),
            ));
        }
        // Checked again: the world may have changed while the bytes came.
        if self.is_attached(&name) {
            return Err(MediaError::new(
                Refusal::Conflict,
                format!("{name} was attached during the upload; the upload stays partial — eject it and resume"),
            ));
        }
        let dest = self.dir.join(&name);
        if !upload.overwrite && fs::symlink_metadata(&dest).is_ok() {
            return Err(MediaError::new(
                Refusal::Conflict,
                format!("{name} appeared during the upload; add ?overwrite=1 to replace it"),
            ));
        }
        // No fsync: it would stall the loop for seconds on an SD card, and
        // the target reads the image through the same page cache.
        fs::rename(&upload.part, &dest)
            .map_err(|e| io_error(&self.dir, &dest, "cannot rename to", e))?;
        crate::metrics::UPLOADS.inc();
        log::info!("💾 Uploaded {name} ({} bytes)", upload.written());
        Ok(json::Object::new()
            .bool("ok", true)
            .str("name", &name)
            .num("size", upload.written())
            .finish())
    }

    /// Deletes image `name`, or with `partial` its partial upload.
    pub fn delete(&mut self, name: &str, partial: bool) -> Result<(), MediaError> {
        let path = if partial {
            if self.active.borrow().contains(name) {
                return Err(MediaError::new(
                    Refusal::Conflict,
                    format!("{name}: its upload is running; stop it first"),
                ));
            }
            self.partial_dir.join(name)
        } else {
            if self.is_attached(name) {
                return Err(MediaError::new(
                    Refusal::Conflict,
                    format!("{name} is attached to the target; eject it first"),
                ));
            }
            self.dir.join(name)
        };
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_file() => {}
            _ => {
                return Err(MediaError::new(
                    Refusal::Missing,
                    format!(
                        "no {}{name} in the images folder",
                        if partial { "partial upload " } else { "image " },
                    ),
                ))
            }
        }
        fs::remove_file(&path).map_err(|e| io_error(&self.dir, &path, "cannot delete", e))?;
        log::info!("🗑️  Deleted {}", path.display());
        Ok(())
    }

    /// Puts image `name` in the drive (taking out what was there).
    pub fn attach(&mut self, name: &str, medium: Medium) -> Result<(), MediaError> {
        let path = self.dir.join(name);
        let size = match fs::symlink_metadata(&path) {
            Ok(m) if m.file_type().is_file() => m.len(),
            _ => {
                return Err(MediaError::new(
                    Refusal::Missing,
                    format!("no image {name} in the images folder"),
                ))
            }
        };
        if medium == Medium::Cdrom && size > CDROM_MAX_SIZE {
            return Err(too_big_for_cdrom(name, size));
        }
        if self.active.borrow().contains(name) {
            return Err(MediaError::new(
                Refusal::Conflict,
                format!("{name} is being replaced by an upload; wait for it to finish"),
            ));
        }
        let drive = self.drive.as_mut().ok_or_else(no_drive)?;
        // Whatever happens next, the old medium is out.
        self.attached = None;
        drive
            .insert(&path, medium)
            .map_err(|e| MediaError::new(Refusal::NoDrive, e))?;
        log::info!(
            "💿 Attached {name} as {} ({})",
            medium.as_str(),
            drive.kind()
        );
        self.attached = Some(Attached {
            name: name.to_string(),
            medium,
        });
        Ok(())
    }

    /// Takes the medium out of the drive (nothing in it is fine too).
    pub fn eject(&mut self) -> Result<(), MediaError> {
        let drive = self.drive.as_mut().ok_or_else(no_drive)?;
        drive
            .eject()
            .map_err(|e| MediaError::new(Refusal::NoDrive, e))?;
        if let Some(a) = self.attached.take() {
            log::info!("⏏️  Ejected {}", a.name);
        }
        Ok(())
    }

    /// What the drive holds, as kv's status shows it.
    pub fn status_json(&mut self) -> String {
        self.sync_drive();
        json::Object::new()
            .opt_str("drive", self.drive.as_ref().map(|d| d.kind()))
            .raw("attached", &self.attached_json())
            .finish()
    }
}

fn too_big_for_cdrom(name: &str, size: u64) -> MediaError {
    let gb = |bytes: u64| format!("{:.2} GB", bytes as f64 / 1e9);
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_or_else(|_| "this kernel".into(), |r| format!("Linux {}", r.trim()));
    MediaError::new(
        Refusal::Invalid,
        format!(
            "{name} is {} ({size} bytes); the USB CD-ROM of {kernel} shows only the first {} \
             ({CDROM_MAX_SIZE} bytes) of an image, so the target would read a cut-off disc; \
             attach it as a flash drive instead (mode \"flash-ro\"): hybrid ISOs, as most \
             Linux installers are, boot from one",
            gb(size),
            gb(CDROM_MAX_SIZE),
        ),
    )
}

fn no_drive() -> MediaError {
    MediaError::new(
        Refusal::NoDrive,
        "no USB drive: start kv with --gadget (and --images) to attach images to the target",
    )
}

/// A failed file operation: the log gets the absolute path for the
/// operator, the client only the path inside the images folder (where kv
/// keeps its files is none of a client's business).
fn io_error(dir: &Path, path: &Path, what: &str, error: io::Error) -> MediaError {
    log::warn!("images: {what} {}: {error}", path.display());
    let shown = match path.strip_prefix(dir) {
        Ok(inside) if !inside.as_os_str().is_empty() => inside.display().to_string(),
        _ => "the images folder".to_string(),
    };
    MediaError::new(Refusal::Io, format!("{what} {shown}: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;

    fn folder(tag: &str, max: Option<u64>) -> (TempDir, Images) {
        let tmp = TempDir::new(tag);
        let drive: Box<dyn Drive> = Box::new(SimulatedDrive::default());
        let images = Images::open(&tmp.path().join("images"), max, Some(drive)).unwrap();
        (tmp, images)
    }

    fn upload(images: &mut Images, name: &str, bytes: &[u8]) {
        let mut up = images
            .begin_upload(name, 0, bytes.len() as u64, false)
            .unwrap();
        assert_eq!(up.write(bytes).unwrap(), bytes.len());
        images.finish(up).unwrap();
    }

    fn image_names(images: &Images) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(images.dir())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().into_string().unwrap())
            .filter(|n| !n.starts_with('.'))
            .collect();
        names.sort();
        names
    }

    #[test]
    fn test_upload_complete_becomes_image() {
        let (_tmp, mut images) = folder("media-complete", None);
        upload(&mut images, "a.img", b"hello");
        assert_eq!(fs::read(images.dir().join("a.img")).unwrap(), b"hello");
        let list = images.list_json().unwrap();
        assert!(list.contains("{\"name\":\"a.img\",\"size\":5,"), "{list}");
        assert!(list.contains("\"partial\":[]"), "{list}");
        assert!(list.contains("\"drive\":\"simulated\""), "{list}");
    }

    #[test]
    fn test_upload_body_bounded_by_length() {
        let (_tmp, mut images) = folder("media-bounded", None);
        let mut up = images.begin_upload("a.img", 0, 3, false).unwrap();
        assert_eq!(up.write(b"abcdef").unwrap(), 3);
        assert_eq!(up.remaining(), 0);
        images.finish(up).unwrap();
        assert_eq!(fs::read(images.dir().join("a.img")).unwrap(), b"abc");
    }

    #[test]
    fn test_upload_dropped_leaves_resumable_partial() {
        let (_tmp, mut images) = folder("media-resume", None);
        let mut up = images.begin_upload("b.iso", 0, 10, false).unwrap();
        up.write(b"0123").unwrap();
        drop(up);
        assert!(image_names(&images).is_empty());
        let list = images.list_json().unwrap();
        assert!(
            list.contains("\"partial\":[{\"name\":\"b.iso\",\"size\":4,"),
            "{list}"
        );
        assert!(list.contains("\"images\":[]"), "{list}");
        let wrong = images.begin_upload("b.iso", 3, 7, false).unwrap_err();
        assert_eq!(wrong.kind, Refusal::Conflict);
        assert!(wrong.message.contains("?offset=4"), "{}", wrong.message);
        let mut up = images.begin_upload("b.iso", 4, 6, false).unwrap();
        up.write(b"456789").unwrap();
        images.finish(up).unwrap();
        assert_eq!(fs::read(images.dir().join("b.iso")).unwrap(), b"0123456789");
        assert!(images.list_json().unwrap().contains("\"partial\":[]"));
    }

    #[test]
    fn test_upload_refusals() {
        let (_tmp, mut images) = folder("media-refuse", Some(100));
        upload(&mut images, "a.img", b"x");
        let status = |r: Result<Upload, MediaError>| r.err().map(|e| e.kind);
        assert_eq!(
            status(images.begin_upload("a.img", 0, 5, false)),
            Some(Refusal::Conflict)
        );
        assert_eq!(
            status(images.begin_upload("b.img", 0, 101, false)),
            Some(Refusal::TooLarge)
        );
        assert_eq!(
            status(images.begin_upload("b.img", 0, 0, false)),
            Some(Refusal::Invalid)
        );
        assert_eq!(
            status(images.begin_upload("c.img", 5, 5, false)),
            Some(Refusal::Conflict)
        );
        let (_tmp2, mut unlimited) = folder("media-refuse-free", None);
        assert_eq!(
            status(unlimited.begin_upload("huge.img", 0, u64::MAX / 2, false)),
            Some(Refusal::NoSpace)
        );
        let _running = images.begin_upload("d.img", 0, 5, false).unwrap();
        assert_eq!(
            status(images.begin_upload("d.img", 0, 5, false)),
            Some(Refusal::Conflict)
        );
        assert_eq!(
            images.delete("d.img", true).unwrap_err().kind,
            Refusal::Conflict
        );
    }

    #[test]
    fn test_upload_overwrite_only_when_asked() {
        let (_tmp, mut images) = folder("media-overwrite", None);
        upload(&mut images, "a.img", b"old");
        let mut up = images.begin_upload("a.img", 0, 3, true).unwrap();
        up.write(b"new").unwrap();
        images.finish(up).unwrap();
        assert_eq!(fs::read(images.dir().join("a.img")).unwrap(), b"new");
    }

    #[test]
    fn test_attached_cannot_be_deleted_or_overwritten() {
        let (_tmp, mut images) = folder("media-attached", None);
        upload(&mut images, "a.iso", b"iso");
        images.attach("a.iso", Medium::Cdrom).unwrap();
        assert!(images
            .list_json()
            .unwrap()
            .contains("\"attached\":\"cdrom\""));
        assert_eq!(
            images.delete("a.iso", false).unwrap_err().kind,
            Refusal::Conflict
        );
        assert_eq!(
            images.begin_upload("a.iso", 0, 3, true).unwrap_err().kind,
            Refusal::Conflict
        );
        images.eject().unwrap();
        images.delete("a.iso", false).unwrap();
        assert!(image_names(&images).is_empty());
    }

    #[test]
    fn test_attach_missing_and_without_drive() {
        let (tmp, mut images) = folder("media-nodrive", None);
        assert_eq!(
            images.attach("nope.img", Medium::Flash).unwrap_err().kind,
            Refusal::Missing
        );
        let mut bare = Images::open(&tmp.path().join("bare"), None, None).unwrap();
        upload(&mut bare, "a.img", b"x");
        let e = bare.attach("a.img", Medium::Flash).unwrap_err();
        assert_eq!(e.kind, Refusal::NoDrive);
        assert!(e.message.contains("--gadget"), "{}", e.message);
    }

    #[test]
    fn test_target_ejected_itself() {
        let (_tmp, mut images) = folder("media-target-eject", None);
        upload(&mut images, "a.img", b"x");
        images.attach("a.img", Medium::FlashReadOnly).unwrap();
        if let Some(drive) = images.drive.as_mut() {
            drive.eject().unwrap();
        }
        assert!(images.status_json().ends_with("\"attached\":null}"));
        images.delete("a.img", false).unwrap();
    }

    #[test]
    fn test_cdrom_refuses_images_past_its_cap() {
        let (_tmp, mut images) = folder("media-cdrom-cap", None);
        for (name, size) in [("at.iso", CDROM_MAX_SIZE), ("over.iso", CDROM_MAX_SIZE + 1)] {
            let file = File::create(images.dir().join(name)).unwrap();
            file.set_len(size).unwrap(); // sparse: nothing is written
        }
        images.attach("at.iso", Medium::Cdrom).unwrap();
        let e = images.attach("over.iso", Medium::Cdrom).unwrap_err();
        assert_eq!(e.kind, Refusal::Invalid);
        assert!(e.message.contains("2.36 GB"), "{}", e.message);
        assert!(e.message.contains("flash-ro"), "{}", e.message);
        // The refusal took nothing out of the drive; as a flash drive it fits.
        assert!(images.status_json().contains("\"name\":\"at.iso\""));
        images.attach("over.iso", Medium::FlashReadOnly).unwrap();
        let list = images.list_json().unwrap();
        assert!(
            list.contains(&format!("\"cdrom_max_size\":{CDROM_MAX_SIZE}")),
            "{list}"
        );
    }

    #[test]
    fn test_list_skips_hidden_symlinks_and_odd_names() {
        let (_tmp, mut images) = folder("media-list", None);
        fs::write(images.dir().join("ok.img"), b"1").unwrap();
        fs::write(images.dir().join("bad:name"), b"1").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", images.dir().join("link.img")).unwrap();
        fs::create_dir(images.dir().join("sub")).unwrap();
        let list = images.list_json().unwrap();
        assert!(list.contains("\"ok.img\""), "{list}");
        for absent in ["bad:name", "link.img", "sub", ".partial"] {
            assert!(!list.contains(absent), "{absent} in {list}");
        }
        assert_eq!(
            images.delete("link.img", false).unwrap_err().kind,
            Refusal::Missing
        );
        assert!(fs::symlink_metadata(images.dir().join("link.img")).is_ok());
    }
}
