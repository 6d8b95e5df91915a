//! Switching to the container's root: bind the rootfs onto itself, pivot_root (or MS_MOVE +
//! chroot with `--no-pivot`), then masked and read-only paths and the read-only root.

use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;

use super::mounts::{locked_flags, open_in_root};
use crate::process::sync::ChildError;
use crate::sys::mount as m;
use crate::sys::SysError;

/// Make `/` private/slave as configured so nothing the container mounts reaches the host.
pub fn set_root_propagation(flag: u64) -> Result<(), ChildError> {
    m::mount(None, Path::new("/"), None, flag, None).map_err(|e| ChildError::sys("rootfs propagation", e))
}

/// Bind the rootfs onto itself so it is a mount point (pivot_root needs one).
pub fn bind_self(rootfs: &Path) -> Result<(), ChildError> {
    m::mount(rootfs.to_str(), rootfs, None, libc::MS_BIND | libc::MS_REC, None)
        .map_err(|e| ChildError::sys("bind rootfs", e))
}

/// How the init enters the container's root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enter {
    /// pivot_root, then detach the old root (the default).
    PivotRoot,
    /// Move the rootfs mount onto `/` and chroot (`--no-pivot`).
    MoveChroot,
    /// Only chroot: without a mount namespace the rootfs is not (and must not become) a mount
    /// point of the host, and the host's `/` cannot be moved.
    Chroot,
}

/// Enter the new root.
pub fn pivot(root: BorrowedFd<'_>, how: Enter) -> Result<(), ChildError> {
    let step = |e| ChildError::sys("pivot_root", e);
    m::fchdir(root).map_err(step)?;
    if how == Enter::Chroot {
        m::chroot(Path::new(".")).map_err(|e| ChildError::sys("chroot", e))?;
    } else if how == Enter::MoveChroot {
        m::mount(Some("."), Path::new("/"), None, libc::MS_MOVE, None).map_err(step)?;
        m::chroot(Path::new(".")).map_err(step)?;
    } else {
        // Stack the old root under the new one, then detach it.
        m::pivot_root(Path::new("."), Path::new(".")).map_err(step)?;
        // Make the old root a slave so unmounting it does not propagate to the host.
        m::mount(None, Path::new("."), None, libc::MS_SLAVE | libc::MS_REC, None).map_err(step)?;
        m::umount2(Path::new("."), libc::MNT_DETACH).map_err(step)?;
    }
    m::chdir(Path::new("/")).map_err(step)
}

/// Mask a path: a directory gets an empty read-only tmpfs, anything else /dev/null.
/// A missing path is skipped, as the spec allows.
pub fn mask(root: BorrowedFd<'_>, path: &str) -> Result<(), ChildError> {
    let step = |e| ChildError::sys(format!("maskedPaths {path}"), e);
    let fd = match m::openat2(root, Path::new(path.trim_start_matches('/')), libc::O_PATH, 0, m::RESOLVE_IN_ROOT) {
        Ok(fd) => fd,
        Err(e) if e.errno == libc::ENOENT => return Ok(()),
        Err(e) => return Err(step(e)),
    };
    let target = m::proc_fd_path(fd.as_fd());
    let is_dir = m::fstat_mode(fd.as_fd()).map_err(step)? & libc::S_IFMT == libc::S_IFDIR;
    if is_dir {
        m::mount(Some("tmpfs"), &target, Some("tmpfs"), libc::MS_RDONLY, Some("size=0k")).map_err(step)
    } else {
        m::mount(Some("/dev/null"), &target, None, libc::MS_BIND, None).map_err(step)
    }
}

/// Make a path read-only (a recursive bind of itself, remounted `ro` with the flags it already
/// had: nothing else is added, so programs under it still run). `/` makes the root read-only.
/// A missing path is skipped.
pub fn readonly(root: BorrowedFd<'_>, path: &str) -> Result<(), ChildError> {
    let step = |e| ChildError::sys(format!("readonlyPaths {path}"), e);
    let rel = path.trim_matches('/');
    if rel.split('/').all(|c| c.is_empty() || c == ".") {
        return readonly_root();
    }
    let fd = match m::openat2(root, Path::new(rel), libc::O_PATH, 0, m::RESOLVE_IN_ROOT) {
        Ok(fd) => fd,
        Err(e) if e.errno == libc::ENOENT => return Ok(()),
        Err(e) => return Err(step(e)),
    };
    let target = m::proc_fd_path(fd.as_fd());
    m::mount(target.to_str(), &target, None, libc::MS_BIND | libc::MS_REC, None).map_err(step)?;
    let fresh = super::mounts::reopen(root, Path::new(path)).map_err(step)?;
    let fpath = m::proc_fd_path(fresh.as_fd());
    m::mount(None, &fpath, None, libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | locked_flags(&fpath), None)
        .map_err(step)
}

/// Remount the root read-only.
pub fn readonly_root() -> Result<(), ChildError> {
    let locked = locked_flags(Path::new("/"));
    m::mount(None, Path::new("/"), None, libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | locked, None)
        .map_err(|e| ChildError::sys("readonly root", e))
}

/// Bind the terminal's slave onto /dev/console.
pub fn bind_console(root: BorrowedFd<'_>, pts: &Path) -> Result<(), ChildError> {
    let step = |e: SysError| ChildError::sys("/dev/console", e);
    let fd = open_in_root(root, Path::new("/dev/console"), false).map_err(step)?;
    m::mount(pts.to_str(), &m::proc_fd_path(fd.as_fd()), None, libc::MS_BIND, None).map_err(step)
}
