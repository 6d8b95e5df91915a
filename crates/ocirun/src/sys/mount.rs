//! Mounts and the filesystem calls that build the container's root: mount(2), the new mount API
//! (open_tree, move_mount, mount_setattr, fsopen/fsconfig/fsmount), pivot_root, chroot, mknod
//! and openat2.

use std::ffi::CString;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::{SysError, SysResult};

fn cstr(path: &Path) -> SysResult<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| SysError::new("path", libc::EINVAL).at(path))
}

/// `mount(2)`. `data` is filesystem-specific options.
pub fn mount(
    source: Option<&str>,
    target: &Path,
    fstype: Option<&str>,
    flags: u64,
    data: Option<&str>,
) -> SysResult<()> {
    let t = cstr(target)?;
    let s = source.map(|s| CString::new(s).unwrap_or_default());
    let f = fstype.map(|s| CString::new(s).unwrap_or_default());
    let d = data.map(|s| CString::new(s).unwrap_or_default());
    let p = |c: &Option<CString>| c.as_ref().map_or(std::ptr::null(), |c| c.as_ptr());
    // SAFETY: all pointers are valid C strings or null, alive across the call.
    let r = unsafe { libc::mount(p(&s), t.as_ptr(), p(&f), flags as libc::c_ulong, p(&d).cast()) };
    if r == -1 {
        return Err(SysError::last_at("mount", target));
    }
    Ok(())
}

/// `umount2(2)`.
pub fn umount2(target: &Path, flags: i32) -> SysResult<()> {
    let t = cstr(target)?;
    // SAFETY: valid C string.
    if unsafe { libc::umount2(t.as_ptr(), flags) } == -1 {
        return Err(SysError::last_at("umount", target));
    }
    Ok(())
}

/// `pivot_root(2)`.
pub fn pivot_root(new_root: &Path, put_old: &Path) -> SysResult<()> {
    let n = cstr(new_root)?;
    let o = cstr(put_old)?;
    // SAFETY: valid C strings.
    if unsafe { libc::syscall(libc::SYS_pivot_root, n.as_ptr(), o.as_ptr()) } == -1 {
        return Err(SysError::last_at("pivot_root", new_root));
    }
    Ok(())
}

/// `chroot(2)`.
pub fn chroot(path: &Path) -> SysResult<()> {
    let p = cstr(path)?;
    // SAFETY: valid C string.
    if unsafe { libc::chroot(p.as_ptr()) } == -1 {
        return Err(SysError::last_at("chroot", path));
    }
    Ok(())
}

/// `chdir(2)`.
pub fn chdir(path: &Path) -> SysResult<()> {
    let p = cstr(path)?;
    // SAFETY: valid C string.
    if unsafe { libc::chdir(p.as_ptr()) } == -1 {
        return Err(SysError::last_at("chdir", path));
    }
    Ok(())
}

/// `fchdir(2)`.
pub fn fchdir(fd: BorrowedFd<'_>) -> SysResult<()> {
    // SAFETY: valid fd.
    if unsafe { libc::fchdir(fd.as_raw_fd()) } == -1 {
        return Err(SysError::last("fchdir"));
    }
    Ok(())
}

/// `mknod(2)`.
pub fn mknod(path: &Path, mode: u32, major: u64, minor: u64) -> SysResult<()> {
    let p = cstr(path)?;
    let dev = libc::makedev(major as u32, minor as u32);
    // SAFETY: valid C string.
    if unsafe { libc::mknod(p.as_ptr(), mode as libc::mode_t, dev) } == -1 {
        return Err(SysError::last_at("mknod", path));
    }
    Ok(())
}

/// `mkfifo(3)`.
pub fn mkfifo(path: &Path, mode: u32) -> SysResult<()> {
    let p = cstr(path)?;
    // SAFETY: valid C string.
    if unsafe { libc::mkfifo(p.as_ptr(), mode as libc::mode_t) } == -1 {
        return Err(SysError::last_at("mkfifo", path));
    }
    Ok(())
}

/// `lchown(2)`.
pub fn lchown(path: &Path, uid: u32, gid: u32) -> SysResult<()> {
    let p = cstr(path)?;
    // SAFETY: valid C string.
    if unsafe { libc::lchown(p.as_ptr(), uid, gid) } == -1 {
        return Err(SysError::last_at("chown", path));
    }
    Ok(())
}

/// `openat2(2)` flags for resolving inside a root.
pub const RESOLVE_IN_ROOT: u64 = 0x10;

#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// `openat2(2)` relative to `dir` with `resolve` flags (e.g. [`RESOLVE_IN_ROOT`]).
pub fn openat2(dir: BorrowedFd<'_>, path: &Path, flags: i32, mode: u32, resolve: u64) -> SysResult<OwnedFd> {
    let p = cstr(path)?;
    let how = OpenHow { flags: (flags | libc::O_CLOEXEC) as u64, mode: mode as u64, resolve };
    loop {
        // SAFETY: valid fd, C string and open_how of the right size.
        let r = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dir.as_raw_fd(),
                p.as_ptr(),
                &how as *const OpenHow,
                std::mem::size_of::<OpenHow>(),
            )
        };
        if r < 0 {
            let e = super::last_errno();
            if e == libc::EAGAIN || e == libc::EINTR {
                continue;
            }
            return Err(SysError::new("openat2", e).at(path));
        }
        // SAFETY: fresh fd owned by us.
        return Ok(unsafe { OwnedFd::from_raw_fd(r as RawFd) });
    }
}

/// `openat(2)`.
pub fn openat(dir: Option<BorrowedFd<'_>>, path: &Path, flags: i32, mode: u32) -> SysResult<OwnedFd> {
    let p = cstr(path)?;
    let d = dir.map_or(libc::AT_FDCWD, |d| d.as_raw_fd());
    // SAFETY: valid fd (or AT_FDCWD) and C string.
    let r = unsafe { libc::openat(d, p.as_ptr(), flags | libc::O_CLOEXEC, mode as libc::c_uint) };
    if r < 0 {
        return Err(SysError::last_at("open", path));
    }
    // SAFETY: fresh fd owned by us.
    Ok(unsafe { OwnedFd::from_raw_fd(r) })
}

/// `mkdirat(2)`.
pub fn mkdirat(dir: BorrowedFd<'_>, name: &Path, mode: u32) -> SysResult<()> {
    let p = cstr(name)?;
    // SAFETY: valid fd and C string.
    if unsafe { libc::mkdirat(dir.as_raw_fd(), p.as_ptr(), mode as libc::mode_t) } == -1 {
        return Err(SysError::last_at("mkdir", name));
    }
    Ok(())
}

/// `fstat(2)`: returns (st_mode, st_rdev).
pub fn fstat_mode(fd: BorrowedFd<'_>) -> SysResult<u32> {
    // SAFETY: stat is plain data.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: valid fd and out-pointer.
    if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } == -1 {
        return Err(SysError::last("fstat"));
    }
    Ok(st.st_mode)
}

/// `mount_setattr(2)` attributes.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct MountAttr {
    /// MOUNT_ATTR_* to set.
    pub attr_set: u64,
    /// MOUNT_ATTR_* to clear.
    pub attr_clr: u64,
    /// Propagation (MS_SHARED, ...).
    pub propagation: u64,
    /// User namespace fd for MOUNT_ATTR_IDMAP.
    pub userns_fd: u64,
}

/// `AT_RECURSIVE`.
pub const AT_RECURSIVE: u32 = 0x8000;

/// `mount_setattr(2)` on the mount at `fd` (empty path).
pub fn mount_setattr(fd: BorrowedFd<'_>, recursive: bool, attr: &MountAttr) -> SysResult<()> {
    let empty = c"";
    let flags = libc::AT_EMPTY_PATH as u32 | if recursive { AT_RECURSIVE } else { 0 };
    // SAFETY: valid fd, empty C string and attr struct of the right size.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            empty.as_ptr(),
            flags,
            attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if r == -1 {
        return Err(SysError::last("mount_setattr"));
    }
    Ok(())
}

/// `open_tree(2)` with OPEN_TREE_CLONE: a detached copy of the mount at `path`.
pub fn open_tree_clone(dir: Option<BorrowedFd<'_>>, path: &Path, recursive: bool) -> SysResult<OwnedFd> {
    const OPEN_TREE_CLONE: u32 = 1;
    let p = cstr(path)?;
    let d = dir.map_or(libc::AT_FDCWD, |d| d.as_raw_fd());
    let mut flags = OPEN_TREE_CLONE | libc::O_CLOEXEC as u32;
    if recursive {
        flags |= AT_RECURSIVE;
    }
    if p.as_bytes().is_empty() {
        flags |= libc::AT_EMPTY_PATH as u32;
    }
    // SAFETY: valid fd and C string.
    let r = unsafe { libc::syscall(libc::SYS_open_tree, d, p.as_ptr(), flags) };
    if r < 0 {
        return Err(SysError::last_at("open_tree", path));
    }
    // SAFETY: fresh fd owned by us.
    Ok(unsafe { OwnedFd::from_raw_fd(r as RawFd) })
}

/// `move_mount(2)` of the detached mount `from` onto the object at `to_fd` (empty path).
pub fn move_mount_to_fd(from: BorrowedFd<'_>, to_fd: BorrowedFd<'_>) -> SysResult<()> {
    const MOVE_MOUNT_F_EMPTY_PATH: u32 = 0x4;
    const MOVE_MOUNT_T_EMPTY_PATH: u32 = 0x40;
    let empty = c"";
    // SAFETY: valid fds and empty C strings.
    let r = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            from.as_raw_fd(),
            empty.as_ptr(),
            to_fd.as_raw_fd(),
            empty.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        )
    };
    if r == -1 {
        return Err(SysError::last("move_mount"));
    }
    Ok(())
}

/// Path of an fd through procfs, to hand an fd-resolved object to path-based calls.
pub fn proc_fd_path(fd: BorrowedFd<'_>) -> std::path::PathBuf {
    std::path::PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// (st_dev, st_ino) of the file behind `fd`.
pub fn fstat_id(fd: BorrowedFd<'_>) -> SysResult<(u64, u64)> {
    // SAFETY: stat is plain data.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: valid fd and out-pointer.
    if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } == -1 {
        return Err(SysError::last("fstat"));
    }
    Ok((st.st_dev, st.st_ino))
}

fn cstring(s: &str, op: &'static str) -> SysResult<CString> {
    CString::new(s).map_err(|_| SysError::new(op, libc::EINVAL))
}

/// `fsopen(2)`: a filesystem context for `fstype`, to configure with [`fsconfig`].
pub fn fsopen(fstype: &str) -> SysResult<OwnedFd> {
    const FSOPEN_CLOEXEC: u32 = 1;
    let t = cstring(fstype, "fsopen")?;
    // SAFETY: valid C string.
    let r = unsafe { libc::syscall(libc::SYS_fsopen, t.as_ptr(), FSOPEN_CLOEXEC) };
    if r < 0 {
        return Err(SysError::last("fsopen"));
    }
    // SAFETY: fresh fd owned by us.
    Ok(unsafe { OwnedFd::from_raw_fd(r as RawFd) })
}

/// One `fsconfig(2)` step on a filesystem context.
#[derive(Debug, Clone, Copy)]
pub enum FsConfig<'a> {
    /// `FSCONFIG_SET_FLAG key`.
    Flag(&'a str),
    /// `FSCONFIG_SET_STRING key=value`.
    String(&'a str, &'a str),
    /// `FSCONFIG_CMD_CREATE`: make the superblock.
    Create,
}

/// `fsconfig(2)`.
pub fn fsconfig(fs: BorrowedFd<'_>, step: FsConfig<'_>) -> SysResult<()> {
    const SET_FLAG: u32 = 0;
    const SET_STRING: u32 = 1;
    const CMD_CREATE: u32 = 6;
    let (cmd, key, value) = match step {
        FsConfig::Flag(k) => (SET_FLAG, Some(cstring(k, "fsconfig")?), None),
        FsConfig::String(k, v) => (SET_STRING, Some(cstring(k, "fsconfig")?), Some(cstring(v, "fsconfig")?)),
        FsConfig::Create => (CMD_CREATE, None, None),
    };
    let kp = key.as_ref().map_or(std::ptr::null(), |k| k.as_ptr());
    let vp = value.as_ref().map_or(std::ptr::null(), |v| v.as_ptr());
    // SAFETY: valid fd; key and value are NUL-terminated or null as the command requires.
    let r = unsafe { libc::syscall(libc::SYS_fsconfig, fs.as_raw_fd(), cmd, kp, vp, 0) };
    if r == -1 {
        return Err(SysError::last("fsconfig"));
    }
    Ok(())
}

/// `fsmount(2)`: a detached mount of the created filesystem context, with `MOUNT_ATTR_*` flags.
pub fn fsmount(fs: BorrowedFd<'_>, attrs: u64) -> SysResult<OwnedFd> {
    const FSMOUNT_CLOEXEC: u32 = 1;
    // SAFETY: valid fd and plain integer arguments.
    let r = unsafe { libc::syscall(libc::SYS_fsmount, fs.as_raw_fd(), FSMOUNT_CLOEXEC, attrs as libc::c_uint) };
    if r < 0 {
        return Err(SysError::last("fsmount"));
    }
    // SAFETY: fresh fd owned by us.
    Ok(unsafe { OwnedFd::from_raw_fd(r as RawFd) })
}
