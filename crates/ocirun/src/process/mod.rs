//! Creating the container's init process: the namespace plan (which namespaces are created by
//! clone3, which are joined or unshared by the child, whether it must fork again), the clone
//! itself, the parent's side of the sync protocol ([`sync`]) and the user namespace maps
//! ([`idmaps`]).

pub mod idmaps;
pub mod namespaces;
pub(crate) mod spawn;
pub mod sync;

use std::os::fd::BorrowedFd;

use crate::error::Result;
use crate::sys::process::{self as p, Forked};
use sync::{Channel, ChildError, Msg};

/// Fork the process that becomes the container's init (or exec'd process) with `flags`, and
/// run `child` in it. Returns the child's pid, whether it is only a middle process that
/// will report the real pid with [`Msg::Forked`], and whether the child was created directly
/// in the cgroup `cgroup` (`clone3(CLONE_INTO_CGROUP)`, pure cgroup v2).
///
/// A single-threaded caller (the CLI) gets one clone3. A multi-threaded caller (a program
/// using the library) first forks through glibc, which makes the allocator safe to use in
/// the child, and that single-threaded child then clones the real one with CLONE_PARENT
/// (never into `cgroup`: a refusal could not be logged from there; the caller places it).
///
/// A kernel that refuses `CLONE_INTO_CGROUP` (older than 5.7, a cgroup that cannot take
/// processes, no permission on a delegated tree) gets a plain clone3; the refusal is logged
/// at debug level and the caller moves the child into its cgroup instead.
#[allow(unreachable_code)]
pub(crate) fn fork_child(
    flags: u64,
    cgroup: Option<BorrowedFd<'_>>,
    sync_child: &Channel,
    child: impl FnOnce() -> std::convert::Infallible,
) -> Result<(i32, bool, bool)> {
    if p::thread_count() <= 1 {
        p::trim_heap();
        let (forked, into) = match cgroup {
            Some(fd) => match p::clone3(flags, Some(fd)) {
                Ok(f) => (f, true),
                Err(e) => {
                    log::debug!(
                        "clone3 refused CLONE_INTO_CGROUP ({e}): the init is moved into its cgroup after clone"
                    );
                    (p::clone3(flags, None)?, false)
                }
            },
            None => (p::clone3(flags, None)?, false),
        };
        return match forked {
            Forked::Child => match child() {},
            Forked::Parent(pid) => Ok((pid, false, into)),
        };
    }
    match p::fork()? {
        Forked::Parent(pid) => Ok((pid, true, false)),
        Forked::Child => match p::clone3(flags | libc::CLONE_PARENT as u64, None) {
            Ok(Forked::Child) => match child() {},
            Ok(Forked::Parent(pid)) => {
                let _ = sync_child.send(&Msg::Forked(pid));
                p::exit_now(0)
            }
            Err(e) => {
                let _ = sync_child.send(&Msg::Error(ChildError::sys("clone3", e)));
                p::exit_now(1)
            }
        },
    }
}
