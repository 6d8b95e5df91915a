//! idmapped mounts (`idmap`/`ridmap` options, with the mount's `uidMappings`/`gidMappings` or,
//! without them, the container's own user namespace): a detached copy of the source tree gets
//! `MOUNT_ATTR_IDMAP` and is then moved onto the destination.

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
    m::mount_setattr(tree.as_fd(), recursive, &attr)?;
    m::move_mount_to_fd(tree.as_fd(), target)
}

fn map_text(maps: &[IdMapping]) -> String {
    maps.iter().map(|m| format!("{} {} {}\n", m.container_id, m.host_id, m.size)).collect()
}

/// A user namespace fd with the given mappings, made by a short-lived child.
pub fn userns_with(uids: &[IdMapping], gids: &[IdMapping]) -> Result<OwnedFd, SysError> {
    let (r, w) = fd::pipe()?;
    match p::clone3(libc::CLONE_NEWUSER as u64, None)? {
        Forked::Child => {
            drop(w);
            let mut b = [0u8; 1];
            let _ = fd::read(r.as_fd(), &mut b);
            p::exit_now(0);
        }
        Forked::Parent(pid) => {
            drop(r);
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
            let _ = p::waitpid(pid, false);
            res
        }
    }
}
