//! The device nodes of the HID sinks (`/dev/hidgN`), watched with inotify in
//! the directories that hold them, so kv hears at once when one goes away.
//!
//! Why it matters: when a gadget is unbound from its controller, `f_hid`
//! deletes its character device, and on rebind initialises it anew. A file
//! still open from before the unbind then points into a cdev the kernel has
//! re-initialised, and closing it later corrupts a kernel list (Linux 6.1:
//! `list_del corruption` in `cd_forget`, then soft lockups: a crashed board).
//! So kv closes a node's file as soon as the node vanishes, before anyone
//! can bind the gadget again, and opens it anew when the host is back.

use std::os::fd::RawFd;
use std::path::{Path, PathBuf};

use crate::sys::inotify::{Change, DirWatch};

pub struct NodeWatch {
    /// One watch per directory holding a node (all of them in `/dev`, usually).
    dirs: Vec<(PathBuf, DirWatch)>,
}

impl NodeWatch {
    /// Watches the directories of `nodes`. A directory that cannot be
    /// watched is logged and left out: the UDC state, read every 250 ms,
    /// still says when the gadget leaves its controller, only later.
    pub fn new<'a>(nodes: impl IntoIterator<Item = &'a Path>) -> NodeWatch {
        let mut dirs: Vec<(PathBuf, DirWatch)> = Vec::new();
        for node in nodes {
            let Some(dir) = node.parent() else { continue };
            if dirs.iter().any(|(d, _)| d == dir) {
                continue;
            }
            match DirWatch::new(dir) {
                Ok(watch) => dirs.push((dir.to_path_buf(), watch)),
                Err(e) => log::warn!(
                    "⌨️  cannot watch {} for HID nodes going away: {e}; an unbound gadget is \
                     noticed only by its UDC state",
                    dir.display()
                ),
            }
        }
        NodeWatch { dirs }
    }

    /// The inotify descriptors, to poll for readable.
    pub fn fds(&self) -> impl Iterator<Item = RawFd> + '_ {
        self.dirs.iter().map(|(_, watch)| watch.fd())
    }

    /// The nodes in `nodes` that went away since the last call, in any
    /// order. When the kernel's event queue overflowed, every one of them
    /// counts as gone: reopening a node that stayed is harmless.
    pub fn vanished<'a>(&self, nodes: impl IntoIterator<Item = &'a Path>) -> Vec<PathBuf> {
        let mut deleted: Vec<PathBuf> = Vec::new();
        let mut overflowed: Vec<&Path> = Vec::new();
        for (dir, watch) in &self.dirs {
            match watch.read_changes() {
                Ok(changes) => {
                    for change in changes {
                        match change {
                            Change::Deleted(name) => deleted.push(dir.join(name)),
                            Change::Overflow => overflowed.push(dir),
                            Change::Created(_) => {}
                        }
                    }
                }
                Err(e) => {
                    log::warn!("⌨️  reading the watch on {}: {e}", dir.display());
                    overflowed.push(dir);
                }
            }
        }
        nodes
            .into_iter()
            .filter(|node| {
                deleted.iter().any(|d| d == node)
                    || node.parent().is_some_and(|dir| overflowed.contains(&dir))
            })
            .map(Path::to_path_buf)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;

    #[test]
    fn test_vanished_names_only_watched_nodes_that_went() {
        let dir = TempDir::new("hid-nodes");
        let (a, b) = (dir.path().join("hidg0"), dir.path().join("hidg1"));
        std::fs::write(&a, b"").unwrap();
        std::fs::write(&b, b"").unwrap();
        let watch = NodeWatch::new([a.as_path(), b.as_path()]);
        assert_eq!(watch.fds().count(), 1, "one directory, one watch");
        assert!(watch.vanished([a.as_path(), b.as_path()]).is_empty());
        std::fs::write(dir.path().join("video0"), b"").unwrap();
        std::fs::remove_file(dir.path().join("video0")).unwrap();
        std::fs::remove_file(&b).unwrap();
        // Gone and back before kv looked: still gone, the file kv holds is stale.
        std::fs::remove_file(&a).unwrap();
        std::fs::write(&a, b"").unwrap();
        let mut gone = watch.vanished([a.as_path(), b.as_path()]);
        gone.sort();
        assert_eq!(gone, [a.clone(), b]);
        assert!(watch.vanished([a.as_path()]).is_empty(), "read once");
    }

    #[test]
    fn test_unwatchable_directory_left_out() {
        let watch = NodeWatch::new([Path::new("/nonexistent-kv/hidg0")]);
        assert_eq!(watch.fds().count(), 0);
        assert!(watch
            .vanished([Path::new("/nonexistent-kv/hidg0")])
            .is_empty());
    }
}
