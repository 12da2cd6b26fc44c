//! One image upload in progress: the request body goes, as it arrives, onto
//! the end of the image's partial file in the folder's hidden `.partial/`
//! directory, and nowhere else. The connection feeds it bytes at the event
//! loop's pace (never more than it holds in one read), so a 4 GB ISO costs
//! the same memory as a 4 KB one. Only `Images::finish` turns a complete
//! partial into an image; a client that goes away leaves the partial, which
//! a later request resumes from its length or deletes.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::fs::File;
use std::io::{self, Write};
use std::path::PathBuf;
use std::rc::Rc;

use super::{MediaError, Refusal};

/// Names with an upload running; an upload takes its name out when dropped.
pub type Active = Rc<RefCell<BTreeSet<String>>>;

#[derive(Debug)]
pub struct Upload {
    pub(super) name: String,
    pub(super) part: PathBuf,
    pub(super) file: File,
    /// Bytes in the partial file, including those of earlier attempts.
    pub(super) written: u64,
    /// The image's whole size: where this request's body ends.
    pub(super) total: u64,
    pub(super) overwrite: bool,
    pub(super) active: Active,
}

impl Upload {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Body bytes still to come.
    pub fn remaining(&self) -> u64 {
        self.total - self.written
    }

    pub fn written(&self) -> u64 {
        self.written
    }

    /// Appends the start of `bytes` (as much as the body still has) and
    /// returns how much was taken.
    pub fn write(&mut self, bytes: &[u8]) -> Result<usize, MediaError> {
        let take = usize::try_from(self.remaining())
            .unwrap_or(usize::MAX)
            .min(bytes.len());
        let mut chunk = bytes.get(..take).unwrap_or_default();
        // Counted write by write, not `write_all`: a disk that fills up
        // mid-chunk keeps what it took, and the resume offset told to the
        // client must be what the partial holds (issue 15, finding 7: it
        // was short by what the failed `write_all` had written).
        while !chunk.is_empty() {
            match self.file.write(chunk) {
                Ok(0) => return Err(self.write_error(io::ErrorKind::WriteZero.into())),
                Ok(n) => {
                    self.written += n as u64;
                    chunk = chunk.get(n..).unwrap_or_default();
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.write_error(e)),
            }
        }
        Ok(take)
    }

    fn write_error(&self, error: io::Error) -> MediaError {
        let kind = if error.raw_os_error() == Some(libc::ENOSPC) {
            Refusal::NoSpace
        } else {
            Refusal::Io
        };
        MediaError::new(
            kind,
            format!(
                "{}: {error} after {} bytes; free some space and resume with ?offset={}",
                self.name, self.written, self.written
            ),
        )
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        self.active.borrow_mut().remove(&self.name);
        if self.written < self.total {
            log::info!(
                "💾 Upload of {} stopped at {} of {} bytes; resumable with ?offset={}",
                self.name,
                self.written,
                self.total,
                self.written
            );
        }
    }
}
