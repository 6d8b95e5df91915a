//! statvfs, for the flags a remount must keep; statfs, to recognise namespace files; access
//! checks with the effective ids.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::{SysError, SysResult};

/// `f_flag` of `statvfs(path)` (`ST_*` bits).
pub fn statvfs_flags(path: &Path) -> SysResult<u64> {
    let c = CString::new(path.as_os_str().as_bytes()).map_err(|_| SysError::new("statvfs", libc::EINVAL).at(path))?;
    // SAFETY: plain data.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: valid C string and out-pointer.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } == -1 {
        return Err(SysError::last_at("statvfs", path));
    }
    Ok(st.f_flag)
}

/// `NSFS_MAGIC` (linux/magic.h): the filesystem of `/proc/PID/ns/*` files.
const NSFS_MAGIC: i64 = 0x6e73_6673;

/// Whether `fd` is a namespace file (on nsfs), e.g. a live bind mount of one.
pub fn is_nsfs(fd: std::os::fd::BorrowedFd<'_>) -> bool {
    use std::os::fd::AsRawFd;
    // SAFETY: plain data.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: valid fd and out-pointer.
    if unsafe { libc::fstatfs(fd.as_raw_fd(), &mut st) } == -1 {
        return false;
    }
    st.f_type as i64 == NSFS_MAGIC
}

/// Whether the caller may write `path`, judged with its effective ids
/// ([`faccessat(2)`](https://man7.org/linux/man-pages/man2/faccessat.2.html) with `AT_EACCESS`).
pub fn writable(path: &Path) -> bool {
    let Ok(c) = CString::new(path.as_os_str().as_bytes()) else { return false };
    // SAFETY: valid C string; faccessat only reads it.
    unsafe { libc::faccessat(libc::AT_FDCWD, c.as_ptr(), libc::W_OK, libc::AT_EACCESS) == 0 }
}

/// `renameat2(2)` with RENAME_NOREPLACE: fails with EEXIST instead of replacing `to`.
pub fn rename_noreplace(from: &Path, to: &Path) -> SysResult<()> {
    let f = CString::new(from.as_os_str().as_bytes()).map_err(|_| SysError::new("rename", libc::EINVAL).at(from))?;
    let t = CString::new(to.as_os_str().as_bytes()).map_err(|_| SysError::new("rename", libc::EINVAL).at(to))?;
    // SAFETY: valid C strings.
    let r = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            f.as_ptr(),
            libc::AT_FDCWD,
            t.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    };
    if r == -1 {
        return Err(SysError::last_at("rename", to));
    }
    Ok(())
}

/// What `fstat(2)` says about who owns `fd` and what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    /// Owning uid.
    pub uid: u32,
    /// Owning gid.
    pub gid: u32,
    /// `st_mode` (type and permission bits).
    pub mode: u32,
    /// `st_rdev`: the device number of a character or block device.
    pub rdev: u64,
}

/// Owner, type and device number of `fd`.
pub fn fstat_owner(fd: std::os::fd::BorrowedFd<'_>) -> SysResult<Owner> {
    use std::os::fd::AsRawFd;
    // SAFETY: plain data.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: valid fd and out-pointer.
    if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } == -1 {
        return Err(SysError::last("fstat"));
    }
    Ok(Owner { uid: st.st_uid, gid: st.st_gid, mode: st.st_mode, rdev: st.st_rdev })
}

/// Change the owner of `fd` ([`fchown(2)`](https://man7.org/linux/man-pages/man2/fchown.2.html)).
pub fn fchown(fd: std::os::fd::BorrowedFd<'_>, uid: u32, gid: u32) -> SysResult<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: a valid fd; no pointers.
    if unsafe { libc::fchown(fd.as_raw_fd(), uid, gid) } == -1 {
        return Err(SysError::last("fchown"));
    }
    Ok(())
}
