//! Removing a test's directory without ever deleting host files.
//!
//! A container's rootfs may still have a bind mount of a host directory on it when a test fails
//! half-way. `rm -rf` would then descend into the host directory. So removal first lists the
//! mount points under the directory (from /proc/self/mountinfo), detaches them deepest first,
//! and refuses to delete anything while one remains; the walk also never crosses a device.

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::sys;

/// Mount points at or under `dir`, deepest first.
pub fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut found: Vec<PathBuf> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(unescape)
        .map(PathBuf::from)
        .filter(|m| m.starts_with(dir))
        .collect();
    found.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    found.dedup();
    found
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
pub fn unescape(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).and_then(|o| u8::from_str_radix(std::str::from_utf8(o).ok()?, 8).ok());
        match (bytes[i], octal) {
            (b'\\', Some(v)) => {
                out.push(v);
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Detaches every mount under `dir`, deepest first. Returns the ones that would not go.
pub fn unmount_all_under(dir: &Path) -> Vec<PathBuf> {
    for m in mounts_under(dir) {
        // A mount that is already gone (its parent went first) is fine; what is left is
        // checked below.
        let _ = sys::umount_detach(&m.to_string_lossy());
    }
    mounts_under(dir)
}

/// Removes `dir` the way `rm -rf --one-file-system` would, after checking that nothing under it
/// is a mount point. Refuses, leaving everything in place, if one is.
pub fn remove_tree(dir: &Path) -> io::Result<()> {
    let left = mounts_under(dir);
    if !left.is_empty() {
        return Err(io::Error::other(format!(
            "refusing to remove {}: mount points remain under it: {left:?}",
            dir.display()
        )));
    }
    let Ok(meta) = fs::symlink_metadata(dir) else {
        return Ok(());
    };
    remove_same_dev(dir, meta.dev())
}

fn remove_same_dev(path: &Path, dev: u64) -> io::Result<()> {
    let meta = fs::symlink_metadata(path)?;
    if meta.dev() != dev {
        return Err(io::Error::other(format!("refusing to cross into another file system at {}", path.display())));
    }
    if meta.is_dir() {
        for entry in fs::read_dir(path)? {
            remove_same_dev(&entry?.path(), dev)?;
        }
        fs::remove_dir(path)
    } else {
        fs::remove_file(path)
    }
}
