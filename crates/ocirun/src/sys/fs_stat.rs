//! statvfs, for the flags a remount must keep.

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
