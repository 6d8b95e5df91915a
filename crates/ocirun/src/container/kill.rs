//! `kill`: signal a container's init through a pidfd after checking it is still the process
//! we started (no pid-reuse race), or with `--all` every process in its cgroup.

use super::Runtime;
use crate::error::{Error, Result};
use crate::state::ContainerState;
use crate::sys::process as p;
use std::os::fd::AsFd;

impl Runtime {
    /// Send `signal` to the container's init, or to all its processes with `all`.
    pub fn kill(&self, id: &str, signal: i32, all: bool) -> Result<()> {
        let (_dir, st, status) = self.open(id)?;
        if !status.can_kill() {
            if all && status == crate::state::Status::Stopped {
                // The init is gone; whatever it left in the cgroup still gets the signal, and
                // that is a success (containerd's shim kills --all after every exit).
                for pid in super::cgroup::pids(&st)? {
                    let _ = p::kill(pid, signal);
                }
                return Ok(());
            }
            return Err(Error::NotRunning { id: id.into() });
        }
        if all {
            for pid in super::cgroup::pids(&st)? {
                let _ = p::kill(pid, signal);
            }
        }
        let sent = signal_init(&st, signal);
        // A task frozen by the v1 freezer takes SIGKILL only once thawed: without this a
        // paused container would stay paused with the kill pending. Other signals wait for
        // `resume`, as they do in runc.
        if signal == libc::SIGKILL {
            super::cgroup::thaw(&st);
        }
        sent
    }
}

/// Signal the init if it is still ours.
pub(crate) fn signal_init(st: &ContainerState, signal: i32) -> Result<()> {
    let pidfd = match p::pidfd_open(st.pid) {
        Ok(fd) => fd,
        Err(e) if e.errno == libc::ESRCH => return Err(Error::NotRunning { id: st.id.clone() }),
        Err(e) => return Err(e.into()),
    };
    // With the pidfd held, the pid cannot be reused: check it is still our init.
    if !st.init_alive() {
        return Err(Error::NotRunning { id: st.id.clone() });
    }
    p::pidfd_send_signal(pidfd.as_fd(), signal)?;
    Ok(())
}
