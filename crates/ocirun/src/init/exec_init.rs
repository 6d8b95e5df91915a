//! The child side of `exec`: join every namespace of the running container at once (setns
//! with a pidfd), fork once more when a pid or time namespace needs it, join the container's
//! cgroup, then the same final steps as the init (attributes, terminal, user, capabilities,
//! seccomp from the cache, and after the filter nothing but the exec) and execve. The runtime binary is never re-executed or copied.

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use super::caps::CapSets;
use super::exec;
use crate::process::sync::{Channel, ChildError, Msg};
use crate::seccomp::CompiledFilter;
use crate::spec::{Linux, Process};
use crate::sys::process::{self as p, Forked};
use crate::sys::{fd, SysError};

/// What the parent prepares for the exec child.
pub struct ExecArgs {
    /// The process to run.
    pub process: Process,
    /// The container's linux section (personality, memory policy).
    pub linux: Option<Linux>,
    /// pidfd of the container's init.
    pub pidfd: OwnedFd,
    /// CLONE_NEW* flags of the namespaces to join.
    pub ns_flags: i32,
    /// Whether to fork after joining (pid or time namespace).
    pub needs_fork: bool,
    /// Whether the container has a user namespace.
    pub userns: bool,
    /// Child end of the sync socket.
    pub sync: Channel,
    /// cgroup.procs files to join.
    pub cgroup_procs: Vec<File>,
    /// Capability sets.
    pub caps: Option<CapSets>,
    /// The container's seccomp filter.
    pub seccomp: Option<CompiledFilter>,
    /// Socket to send the pty master to.
    pub console: Option<OwnedFd>,
    /// The fds of 3..3+N (`--preserve-fds`) the caller holds, found before the runtime opened
    /// any of its own (see [`crate::init::InitArgs::pass_fds`]).
    pub pass_fds: Vec<i32>,
    /// (dev, ino) of the runtime's binary, which the container must never execute.
    pub own_binary: Option<(u64, u64)>,
}

impl ExecArgs {
    fn keep_fds(&self) -> Vec<i32> {
        let mut k: Vec<i32> = (0..3).chain(self.pass_fds.iter().copied()).collect();
        k.extend([self.pidfd.as_raw_fd(), self.sync.0.as_raw_fd()]);
        k.extend(self.console.iter().map(|c| c.as_raw_fd()));
        k.extend(self.cgroup_procs.iter().map(|c| c.as_raw_fd()));
        k
    }
}

/// Entry point of the exec child: never returns.
pub fn run(a: ExecArgs) -> ! {
    let e = steps(&a);
    let err = match e {
        Ok(never) => match never {},
        Err(e) => e,
    };
    let _ = a.sync.send(&Msg::Error(err));
    p::exit_now(1)
}

fn sys(step: &'static str) -> impl Fn(SysError) -> ChildError {
    move |e| ChildError::sys(step, e)
}

fn steps(a: &ExecArgs) -> Result<std::convert::Infallible, ChildError> {
    fd::close_all_except(&a.keep_fds()).map_err(sys("close inherited fds"))?;
    p::reset_signal_handlers();
    p::unblock_all_signals();
    p::set_pdeathsig(libc::SIGKILL).map_err(sys("pdeathsig"))?;
    // Until execve, keep other processes of the container away from our /proc/PID (exe, mem).
    p::set_dumpable(false).map_err(sys("prctl(PR_SET_DUMPABLE)"))?;
    p::setns(a.pidfd.as_fd(), a.ns_flags).map_err(sys("join the container's namespaces"))?;
    if a.needs_fork {
        match p::clone3(libc::CLONE_PARENT as u64, None).map_err(sys("fork into the pid namespace"))? {
            Forked::Parent(pid) => {
                let _ = a.sync.send(&Msg::InitPid(pid));
                p::exit_now(0)
            }
            Forked::Child => p::set_pdeathsig(libc::SIGKILL).map_err(sys("pdeathsig"))?,
        }
    }
    crate::cgroups::join_self(&a.cgroup_procs)
        .map_err(|errno| ChildError::sys("join the container's cgroup", SysError::new("write cgroup.procs", errno)))?;
    exec::set_process_attributes(&a.process, a.linux.as_ref())?;
    // Its own session and process group, as runc gives it (crun 1.8 leaves it in the
    // caller's): a kill(0, ...) inside must not reach the caller's process group.
    p::setsid().map_err(sys("setsid"))?;
    if a.process.terminal {
        let console =
            a.console.as_ref().ok_or_else(|| ChildError::msg("terminal", "a terminal needs a console socket"))?;
        let (master, slave) = fd::open_pty(std::path::Path::new("/dev/ptmx")).map_err(sys("open /dev/ptmx"))?;
        if let Some(size) = a.process.console_size {
            fd::set_winsize(slave.as_fd(), size.height as u16, size.width as u16).map_err(sys("console size"))?;
        }
        fd::send_with_fd(console.as_fd(), b"/dev/ptmx", Some(master.as_fd())).map_err(sys("send the pty master"))?;
        drop(master);
        fd::set_controlling_tty(slave.as_fd()).map_err(sys("controlling terminal"))?;
        for i in 0..3 {
            fd::dup2(slave.as_fd(), i).map_err(sys("terminal stdio"))?;
        }
    }
    let plan = exec::prepare(&a.process, None, a.own_binary)?;
    super::setup::chdir_cwd(&a.process.cwd)?;
    // The process must outlive `ocirun exec -d`; the sync socket closes on exec, which tells
    // the runtime that exec happened.
    p::set_pdeathsig(0).map_err(sys("pdeathsig"))?;
    let filter = a.seccomp.as_ref();
    exec::last_steps(&a.process, a.caps.as_ref(), a.userns, &a.pass_fds, filter.is_some())?;
    match filter.filter(|f| f.uses_notify()) {
        // The notify fd goes to the runtime for the listener; the sendmsg that carries it is
        // the one call between the filter and the exec (the runtime checked it is allowed).
        Some(f) => {
            let notify = crate::seccomp::install(f).map_err(|e| ChildError::msg("seccomp", e.to_string()))?;
            let notify = notify.ok_or_else(|| ChildError::msg("seccomp", "the kernel returned no notify fd"))?;
            a.sync
                .send_fd(&Msg::SeccompFd, notify.as_fd())
                .map_err(sys("hand the seccomp notify fd to the runtime"))?;
            // Still open (close-on-exec): closing it would be one more call under the filter.
            Err(exec::seal_and_exec(filter, true, &plan))
        }
        None => Err(exec::seal_and_exec(filter, false, &plan)),
    }
}
