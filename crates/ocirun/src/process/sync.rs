//! Messages between the runtime (parent) and the container's init (child) over a
//! `SOCK_SEQPACKET` socket pair, one JSON message per packet.
//!
//! ```text
//!  parent (ocirun create)                 child (init, in the new namespaces)
//!  clone3(CLONE_NEW*) ───────────────────▶ starts, waits
//!  write uid/gid maps, join cgroup
//!  Continue ─────────────────────────────▶ setns joined namespaces, unshare cgroup/time,
//!                                          fork again if pid/time need it:
//!           ◀──────────────────────────── InitPid(pid)      (only when it forked)
//!                                          mounts, devices (rootfs still reachable)
//!           ◀──────────────────────────── RunHooks          (prestart, createRuntime)
//!  run hooks with the state on stdin
//!  Continue ─────────────────────────────▶ createContainer hooks, pivot_root, masked paths,
//!                                          sysctl, hostname, rlimits, terminal ...
//!           ◀──────────────────────────── Ready
//!  write state "created"
//!  Continue ─────────────────────────────▶ with a seccomp listener only: user switch,
//!                                          capabilities, no_new_privs, seccomp filter
//!           ◀──────────────────────────── SeccompFd + the notify fd (SCM_RIGHTS)
//!  send it to listenerPath                 waits on the exec FIFO for `start`
//!  Any failure in the child:  ◀────────── Error(ChildError)  then the child exits
//! ```

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use serde::{Deserialize, Serialize};

use crate::sys::{fd, SysError};

/// An error that happened in the container's init, sent to the parent as data.
#[derive(Debug, Clone, Serialize, Deserialize, thiserror::Error)]
#[error("{step}: {message}")]
pub struct ChildError {
    /// The init step that failed, e.g. `mounts[3] /proc`.
    pub step: String,
    /// What failed, with the path and errno text.
    pub message: String,
    /// errno, when a system call failed.
    pub errno: Option<i32>,
}

impl ChildError {
    /// From a failed system call during `step`.
    pub fn sys(step: impl Into<String>, e: SysError) -> Self {
        ChildError { step: step.into(), message: e.to_string(), errno: Some(e.errno) }
    }
    /// A failure that is not a system call.
    pub fn msg(step: impl Into<String>, message: impl Into<String>) -> Self {
        ChildError { step: step.into(), message: message.into(), errno: None }
    }

    /// The shell's exit code for a program that could not be run: 127 when it was not found
    /// (ENOENT), 126 when it could not be executed (EACCES, ENOEXEC, ...); `None` when the
    /// failure was not the exec of the program.
    pub fn exec_exit_code(&self) -> Option<i32> {
        if self.step != "exec" {
            return None;
        }
        match self.errno? {
            libc::ENOENT | libc::ENOTDIR => Some(127),
            _ => Some(126),
        }
    }
}

/// A message on the sync socket.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Msg {
    /// Go on to the next phase.
    Continue,
    /// The child forked: this is the container's init pid (in the parent's pid namespace).
    InitPid(i32),
    /// The intermediate process of a multi-threaded caller cloned the child: its pid.
    Forked(i32),
    /// The child unshared a user namespace: write its uid/gid maps now.
    MapsNeeded,
    /// Run the prestart and createRuntime hooks now.
    RunHooks,
    /// The child is in its final namespaces: move `linux.netDevices` into its network
    /// namespace now.
    NetDevices,
    /// Set-up is done; the init waits for `start`.
    Ready,
    /// Set-up failed.
    Error(ChildError),
    /// A warning to show the user.
    Warning(String),
    /// The container state JSON, for the hooks the init runs.
    State(String),
    /// The seccomp filter is loaded; its notify fd rides on this message (`SCM_RIGHTS`) for
    /// the runtime to hand to `linux.seccomp.listenerPath`. The child's last message.
    SeccompFd,
}

/// One end of the sync socket.
#[derive(Debug)]
pub struct Channel(pub OwnedFd);

impl Channel {
    /// Send a message.
    pub fn send(&self, m: &Msg) -> Result<(), SysError> {
        let data = serde_json::to_vec(m).map_err(|_| SysError::new("encode sync message", libc::EINVAL))?;
        fd::send_with_fd(self.0.as_fd(), &data, None)
    }

    /// Send a message with an fd.
    pub fn send_fd(&self, m: &Msg, f: BorrowedFd<'_>) -> Result<(), SysError> {
        let data = serde_json::to_vec(m).map_err(|_| SysError::new("encode sync message", libc::EINVAL))?;
        fd::send_with_fd(self.0.as_fd(), &data, Some(f))
    }

    /// Receive a message; `None` when the other side closed.
    pub fn recv(&self) -> Result<Option<Msg>, SysError> {
        Ok(self.recv_fd()?.0)
    }

    /// Receive a message and the fd that came with it, if any.
    pub fn recv_fd(&self) -> Result<(Option<Msg>, Option<OwnedFd>), SysError> {
        let mut buf = vec![0u8; 64 * 1024];
        let (n, f) = fd::recv_with_fd(self.0.as_fd(), &mut buf)?;
        if n == 0 {
            return Ok((None, f));
        }
        let m = serde_json::from_slice(&buf[..n]).map_err(|_| SysError::new("decode sync message", libc::EPROTO))?;
        Ok((Some(m), f))
    }
}
