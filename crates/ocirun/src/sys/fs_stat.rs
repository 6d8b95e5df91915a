//! statvfs, for the flags a remount must keep; access checks with the effective ids.

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

/// Whether the caller may write `path`, judged with its effective ids
/// ([`faccessat(2)`](https://man7.org/linux/man-pages/man2/faccessat.2.html) with `AT_EACCESS`).
pub fn writable(path: &Path) -> bool {
    let Ok(c) = CString::new(path.as_os_str().as_bytes()) else { return false };
    // SAFETY: valid C string; faccessat only reads it.
    unsafe { libc::faccessat(libc::AT_FDCWD, c.as_ptr(), libc::W_OK, libc::AT_EACCESS) == 0 }
}
