//! `/dev`: the default devices the spec requires (null, zero, full, random, urandom, tty),
//! the standard symlinks, `/dev/ptmx`, and `linux.devices`. Nodes are created with mknod, or,
//! inside a user namespace where mknod is not allowed, bind-mounted from the host.

use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;

use super::mounts::open_in_root;
use crate::process::sync::ChildError;
use crate::spec::Device;
use crate::sys::mount as m;
use crate::sys::SysError;

/// The devices every container gets.
pub fn default_devices() -> Vec<Device> {
    [
        ("/dev/null", 1, 3),
        ("/dev/zero", 1, 5),
        ("/dev/full", 1, 7),
        ("/dev/random", 1, 8),
        ("/dev/urandom", 1, 9),
        ("/dev/tty", 5, 0),
    ]
    .iter()
    .map(|&(path, major, minor)| Device {
        typ: "c".into(),
        path: path.into(),
        major: Some(major),
        minor: Some(minor),
        file_mode: Some(0o666),
        uid: Some(0),
        gid: Some(0),
    })
    .collect()
}

/// Create one device node inside `root`.
pub fn create(root: BorrowedFd<'_>, d: &Device, userns: bool) -> Result<(), ChildError> {
    let step = format!("device {}", d.path);
    let e = |err: SysError| ChildError::sys(step.clone(), err);
    let path = Path::new(&d.path);
    let parent = path.parent().unwrap_or(Path::new("/dev"));
    let dir = open_in_root(root, parent, true).map_err(e)?;
    let dir_path = m::proc_fd_path(dir.as_fd());
    let name = path.file_name().map(Path::new).ok_or_else(|| ChildError::msg(step.clone(), "no file name"))?;
    let full = dir_path.join(name);
    if userns {
        // Bind the host's node onto an empty file.
        let target = open_in_root(root, path, false).map_err(e)?;
        return m::mount(Some(&d.path), &m::proc_fd_path(target.as_fd()), None, libc::MS_BIND, None).map_err(e);
    }
    let kind = match d.typ.as_str() {
        "c" | "u" => libc::S_IFCHR,
        "b" => libc::S_IFBLK,
        _ => libc::S_IFIFO,
    };
    let mode = d.file_mode.unwrap_or(0o666) & 0o7777;
    match std::fs::remove_file(&full) {
        Ok(()) => {}
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => return Err(e(SysError::io("unlink", &full, &err))),
    }
    m::mknod(&full, kind | mode, d.major.unwrap_or(0) as u64, d.minor.unwrap_or(0) as u64).map_err(e)?;
    // mknod applies the umask: set the mode exactly.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&full, std::fs::Permissions::from_mode(mode))
        .map_err(|err| e(SysError::io("chmod", &full, &err)))?;
    m::lchown(&full, d.uid.unwrap_or(0), d.gid.unwrap_or(0)).map_err(e)
}

/// The standard symlinks in /dev.
pub fn symlinks(root: BorrowedFd<'_>) -> Result<(), ChildError> {
    let dev = open_in_root(root, Path::new("/dev"), true).map_err(|e| ChildError::sys("/dev", e))?;
    let dev_path = m::proc_fd_path(dev.as_fd());
    let mut links = vec![
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ];
    if Path::new("/proc/kcore").exists() {
        links.push(("core", "/proc/kcore"));
    }
    for (name, target) in links {
        let p = dev_path.join(name);
        match std::os::unix::fs::symlink(target, &p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(ChildError::sys(format!("symlink /dev/{name}"), SysError::io("symlink", &p, &e))),
        }
    }
    // /dev/ptmx must reach the container's own devpts instance.
    let ptmx = dev_path.join("ptmx");
    if std::fs::symlink_metadata(&ptmx).map(|m| !m.file_type().is_symlink()).unwrap_or(false) {
        let _ = std::fs::remove_file(&ptmx);
    }
    match std::os::unix::fs::symlink("pts/ptmx", &ptmx) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(ChildError::sys("symlink /dev/ptmx", SysError::io("symlink", &ptmx, &e))),
    }
}
