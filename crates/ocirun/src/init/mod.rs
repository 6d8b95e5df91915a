//! The container's init: everything that runs inside the new namespaces before the user's
//! program, as one ordered list of steps ([`setup`]), then the wait for `start` and the final
//! switch to the user's identity and program ([`exec::finish`]), seccomp last: after the
//! filter only the exec (with a notify listener, the hand-over of its fd and the wait for
//! `start` too).
//!
//! The child is a copy of the runtime made by clone3 (no re-exec of our binary): it already
//! holds the parsed spec and everything the parent prepared in [`InitArgs`].

pub mod caps;
pub mod cgroupfs;
pub mod copyup;
pub mod devices;
pub mod exec;
pub mod exec_init;
pub mod idmap;
pub mod mounts;
pub mod rlimits;
pub mod rootfs;
pub mod selfexec;
pub mod setup;

use std::os::fd::OwnedFd;
use std::path::PathBuf;

use crate::process::sync::{Channel, ChildError, Msg};
use crate::spec::Spec;
use crate::sys::process as p;

/// Everything the parent prepares for the child before clone.
pub struct InitArgs {
    /// The validated config.
    pub spec: Spec,
    /// Absolute bundle path.
    pub bundle: PathBuf,
    /// Absolute rootfs path.
    pub rootfs: PathBuf,
    /// Child end of the sync socket.
    pub sync: Channel,
    /// FIFO the init blocks on until `start` writes to it.
    pub exec_fifo: OwnedFd,
    /// FIFO on which the init reports a failure after `start` (EOF = exec happened).
    pub status_fifo: OwnedFd,
    /// Connected console socket, when the process has a terminal.
    pub console: Option<OwnedFd>,
    /// The fds after stdio to pass on (`--preserve-fds`, `LISTEN_FDS`): those of 3..3+N the
    /// caller holds, found before the runtime opened any of its own. The runtime's fds that
    /// land in that range (in its holes) are not passed: a kept lock or sync fd would hang
    /// `start` or `run`.
    pub pass_fds: Vec<i32>,
    /// Use MS_MOVE + chroot instead of pivot_root.
    pub no_pivot: bool,
    /// Do not create a new session keyring.
    pub no_new_keyring: bool,
    /// Namespaces to join, user first: (CLONE_NEW* flag, fd).
    pub join: Vec<(i32, OwnedFd)>,
    /// Namespaces to create with unshare in the child.
    pub unshare_flags: i32,
    /// Whether the child must fork once more so pid/time namespaces apply.
    pub needs_fork: bool,
    /// Whether a new user namespace was created (the child becomes its root after the maps).
    pub new_userns: bool,
    /// Whether the child creates the user namespace itself (after joining others).
    pub late_userns: bool,
    /// Whether the container has a user namespace at all.
    pub userns: bool,
    /// Whether the container has its own cgroup namespace.
    pub cgroupns: bool,
    /// Whether the container has its own mount namespace.
    pub mountns: bool,
    /// Capability sets, computed in the parent.
    pub caps: Option<caps::CapSets>,
    /// `cgroup.procs` of the container's cgroup in each hierarchy, opened by the parent: the
    /// init writes "0" to them as its last set-up step, so what the runtime itself touched
    /// stays charged to the runtime's cgroup.
    pub cgroup_procs: Vec<std::fs::File>,
    /// The container's cgroup directories, bind-mounted at /sys/fs/cgroup.
    pub cgroup_dirs: Vec<PathBuf>,
    /// Seccomp filter compiled in the parent.
    pub seccomp: Option<crate::seccomp::CompiledFilter>,
    /// (dev, ino) of the runtime's binary, which the container must never execute.
    pub own_binary: Option<(u64, u64)>,
    /// Bind mount sources opened by the runtime, one per entry of `mounts` (see
    /// [`mounts::open_bind_sources`]).
    pub bind_sources: Vec<Option<OwnedFd>>,
}

/// Entry point of the child: never returns.
pub fn run(args: InitArgs) -> ! {
    // Drop every fd the runtime had open (state locks, ...) except ours and the caller's
    // stdio and preserved fds: a lock fd kept here would keep the container locked.
    if let Err(e) = crate::sys::fd::close_all_except(&args.keep_fds()) {
        let _ = args.sync.send(&Msg::Error(ChildError::sys("close inherited fds", e)));
        p::exit_now(1);
    }
    crate::sys::process::reset_signal_handlers();
    crate::sys::process::unblock_all_signals();
    match setup::setup(&args) {
        Ok(plan) => exec::finish(&args, plan),
        Err(e) => {
            let _ = args.sync.send(&Msg::Error(e));
            p::exit_now(1)
        }
    }
}

impl InitArgs {
    fn keep_fds(&self) -> Vec<i32> {
        use std::os::fd::AsRawFd;
        let mut k: Vec<i32> = (0..3).chain(self.pass_fds.iter().copied()).collect();
        k.extend([self.sync.0.as_raw_fd(), self.exec_fifo.as_raw_fd(), self.status_fifo.as_raw_fd()]);
        k.extend(self.console.iter().map(|c| c.as_raw_fd()));
        k.extend(self.cgroup_procs.iter().map(|c| c.as_raw_fd()));
        k.extend(self.join.iter().map(|(_, f)| f.as_raw_fd()));
        k.extend(self.bind_sources.iter().flatten().map(|f| f.as_raw_fd()));
        k
    }
}

/// Wait for the parent's `Continue`; anything else aborts.
pub(crate) fn wait_continue(sync: &Channel, step: &str) -> Result<(), ChildError> {
    match sync.recv() {
        Ok(Some(Msg::Continue)) => Ok(()),
        Ok(Some(other)) => Err(ChildError::msg(step, format!("unexpected message {other:?} from the runtime"))),
        Ok(None) => p::exit_now(1),
        Err(e) => Err(ChildError::sys(step, e)),
    }
}
