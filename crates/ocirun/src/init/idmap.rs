//! idmapped mounts (`idmap`/`ridmap` options, with the mount's `uidMappings`/`gidMappings` or,
//! without them, the container's own user namespace): a detached mount gets `MOUNT_ATTR_IDMAP`
//! (mount_setattr(2)) and is then moved onto the destination. For a bind mount the detached
//! mount is a copy of the source tree (open_tree); for a new filesystem (tmpfs, ...) it is made
//! with fsopen/fsconfig/fsmount, since an attached mount can never be idmapped.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use crate::spec::{IdMapping, Mount};
use crate::sys::mount::{self as m, MountAttr};
use crate::sys::process::{self as p, Forked};
use crate::sys::{fd, SysError};

const MOUNT_ATTR_IDMAP: u64 = 0x100000;

/// Bind `source` onto `target` as an idmapped mount.
pub fn bind(source: &Path, target: BorrowedFd<'_>, mnt: &Mount, recursive: bool) -> Result<(), SysError> {
    let tree = m::open_tree_clone(None, source, recursive)?;
    attach(tree, target, mnt, recursive)
}

/// Mount a new `fstype` filesystem onto `target` as an idmapped mount. `data` are its
/// mount(8)-style options (`size=1m`, `mode=755`, flags without a value), `attrs` the
/// `MOUNT_ATTR_*` flags of the mount.
pub fn new_fs(
    fstype: &str,
    source: &str,
    data: &[String],
    attrs: u64,
    target: BorrowedFd<'_>,
    mnt: &Mount,
) -> Result<(), SysError> {
    let fs = m::fsopen(fstype)?;
    m::fsconfig(fs.as_fd(), m::FsConfig::String("source", source))?;
    for opt in data {
        let step = match opt.split_once('=') {
            Some((k, v)) => m::FsConfig::String(k, v),
            None => m::FsConfig::Flag(opt),
        };
        m::fsconfig(fs.as_fd(), step)?;
    }
    m::fsconfig(fs.as_fd(), m::FsConfig::Create)?;
    let tree = m::fsmount(fs.as_fd(), attrs)?;
    attach(tree, target, mnt, false)
}

/// A detached, idmapped copy of the tree at `source` with the mount's own mappings, made by
/// the runtime before the init enters a new user namespace: from inside it, the init could
/// neither write a map of host ids nor idmap a mount of the host's namespace. The init only
/// attaches it.
/// `uids`/`gids` are the mount's own mappings or, without them, the container's (the same
/// idmapping as its user namespace, which does not exist yet).
pub fn prepared_bind(
    source: &Path,
    uids: &[IdMapping],
    gids: &[IdMapping],
    recursive: bool,
) -> Result<OwnedFd, SysError> {
    let tree = m::open_tree_clone(None, source, recursive)?;
    let userns = userns_with(uids, gids)?;
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_IDMAP,
        userns_fd: std::os::fd::AsRawFd::as_raw_fd(&userns) as u64,
        ..Default::default()
    };
    m::mount_setattr(tree.as_fd(), recursive, &attr)?;
    Ok(tree)
}

/// Give the detached mount `tree` the idmapping of `mnt`: its own mappings, or without them
/// the user namespace we are in.
fn set_idmap(tree: BorrowedFd<'_>, mnt: &Mount, recursive: bool) -> Result<(), SysError> {
    let userns = if mnt.uid_mappings.is_empty() && mnt.gid_mappings.is_empty() {
        m::openat(None, Path::new("/proc/self/ns/user"), libc::O_RDONLY, 0)?
    } else {
        userns_with(&mnt.uid_mappings, &mnt.gid_mappings)?
    };
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_IDMAP,
        userns_fd: std::os::fd::AsRawFd::as_raw_fd(&userns) as u64,
        ..Default::default()
    };
    m::mount_setattr(tree, recursive, &attr)
}

/// Give the detached mount `tree` the idmapping of `mnt` and move it onto `target`.
fn attach(tree: OwnedFd, target: BorrowedFd<'_>, mnt: &Mount, recursive: bool) -> Result<(), SysError> {
    set_idmap(tree.as_fd(), mnt, recursive)?;
    m::move_mount_to_fd(tree.as_fd(), target)
}

fn map_text(maps: &[IdMapping]) -> String {
    maps.iter().map(|m| format!("{} {} {}\n", m.container_id, m.host_id, m.size)).collect()
}

/// A user namespace fd with the given mappings, made by a short-lived child.
pub fn userns_with(uids: &[IdMapping], gids: &[IdMapping]) -> Result<OwnedFd, SysError> {
    let (r, w) = fd::pipe()?;
    // The child tells its pid as the mounted /proc numbers it: in a new pid namespace our
    // /proc still belongs to the runtime's, where clone3's pid means another process.
    let (pid_r, pid_w) = fd::pipe()?;
    match p::clone3(libc::CLONE_NEWUSER as u64, None)? {
        Forked::Child => {
            drop(w);
            drop(pid_r);
            let me = std::fs::read_link("/proc/self").map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
            let _ = fd::write_all(pid_w.as_fd(), me.as_bytes());
            drop(pid_w);
            let mut b = [0u8; 1];
            let _ = fd::read(r.as_fd(), &mut b);
            p::exit_now(0);
        }
        Forked::Parent(child) => {
            drop(r);
            drop(pid_w);
            let mut buf = [0u8; 16];
            let n = fd::read(pid_r.as_fd(), &mut buf).unwrap_or(0);
            let pid = std::str::from_utf8(&buf[..n]).ok().and_then(|s| s.parse::<i32>().ok()).unwrap_or(child);
            let res = (|| {
                let write = |file: &str, text: &str| {
                    let path = format!("/proc/{pid}/{file}");
                    std::fs::write(&path, text).map_err(|e| SysError::io("write", Path::new(&path), &e))
                };
                write("uid_map", &map_text(uids))?;
                write("gid_map", &map_text(gids))?;
                m::openat(None, Path::new(&format!("/proc/{pid}/ns/user")), libc::O_RDONLY, 0)
            })();
            drop(w);
            let _ = p::waitpid(child, false);
            res
        }
    }
}
