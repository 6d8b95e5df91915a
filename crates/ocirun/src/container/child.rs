//! A process the library started and the caller owns: the init of a container started by
//! [`Runtime::spawn`](super::Runtime::spawn) or a process started by
//! [`Runtime::spawn_exec`](super::Runtime::spawn_exec), held through a pidfd.
//!
//! Waiting never depends on SIGCHLD: the pidfd becomes readable when the process exits, and
//! `waitid(P_PIDFD)` reaps exactly that process. So the caller's own SIGCHLD handler (tokio's
//! process module installs one), its other threads and its other children are left alone, and
//! an exit cannot be lost between a check and a wait. An async runtime awaits the pidfd's
//! readability ([`Child`] implements [`AsFd`] and [`AsRawFd`], e.g. for tokio's `AsyncFd`) and
//! then calls [`Child::try_wait`].

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use crate::error::{Error, Result};
use crate::sys::fd;
use crate::sys::process::{self as p, ExitStatus};

/// Signals forwarded to the process while `run` or a foreground `exec` waits.
pub(crate) const FORWARD: [i32; 8] = [
    libc::SIGHUP,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGTERM,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGWINCH,
    libc::SIGCONT,
];

/// A started process that is a child of the calling process, held through a pidfd so that it
/// can be signalled and waited for without pid-reuse races.
///
/// Like [`std::process::Child`], dropping it does not wait: a process that was never waited
/// for stays a zombie until the caller exits. Call [`Child::wait`] (blocking) or await the
/// pidfd and call [`Child::try_wait`].
#[derive(Debug)]
pub struct Child {
    pid: i32,
    pidfd: OwnedFd,
    status: Option<ExitStatus>,
}

impl Child {
    /// Hold `pid`, which must be a child of the calling process that nobody has reaped yet
    /// (so its pid cannot have been reused).
    pub(crate) fn from_pid(pid: i32) -> Result<Self> {
        Ok(Child { pid, pidfd: p::pidfd_open(pid)?, status: None })
    }

    /// The process's pid (in the caller's pid namespace).
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// The pidfd: readable once the process has exited.
    pub fn pidfd(&self) -> BorrowedFd<'_> {
        self.pidfd.as_fd()
    }

    /// Send signal `sig` to the process (through the pidfd). After it has been reaped this
    /// is an error with errno ESRCH.
    pub fn kill(&self, sig: i32) -> Result<()> {
        Ok(p::pidfd_send_signal(self.pidfd.as_fd(), sig)?)
    }

    /// The exit code (128+N when killed by signal N) if the process has exited, reaping it;
    /// `Ok(None)` while it runs. Never blocks.
    pub fn try_wait(&mut self) -> Result<Option<i32>> {
        self.reap(true)
    }

    /// Block the calling thread until the process exits; its exit code (128+N when killed
    /// by signal N). No signal is blocked, taken or forwarded.
    pub fn wait(&mut self) -> Result<i32> {
        loop {
            if let Some(code) = self.reap(true)? {
                return Ok(code);
            }
            fd::poll_readable(&[self.pidfd.as_fd()], -1)?;
        }
    }

    fn reap(&mut self, nohang: bool) -> Result<Option<i32>> {
        if let Some(st) = self.status {
            return Ok(Some(st.code()));
        }
        match p::waitid_pidfd(self.pidfd.as_fd(), nohang) {
            Ok(Some(st)) => {
                self.status = Some(st);
                Ok(Some(st.code()))
            }
            Ok(None) => Ok(None),
            Err(e) if e.errno == libc::ECHILD => Err(Error::ReapedElsewhere { pid: self.pid }),
            Err(e) => Err(e.into()),
        }
    }

    /// Wait for the process, forwarding the signals of [`FORWARD`] to it. The caller has
    /// blocked them in this thread ([`p::block_signals`]) before the process was started, so
    /// none is lost; they are read from a signalfd, which only takes signals sent to this
    /// thread or to the whole process while no other thread accepts them.
    pub(crate) fn wait_forwarding(&mut self) -> Result<i32> {
        let sfd = p::signalfd(&FORWARD)?;
        loop {
            if let Some(code) = self.reap(true)? {
                return Ok(code);
            }
            let ready = fd::poll_readable(&[self.pidfd.as_fd(), sfd.as_fd()], -1)?;
            if ready[1] {
                while let Some(sig) = p::signalfd_read(sfd.as_fd())? {
                    let _ = self.kill(sig);
                }
            }
        }
    }
}

impl AsFd for Child {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.pidfd.as_fd()
    }
}

impl AsRawFd for Child {
    fn as_raw_fd(&self) -> RawFd {
        self.pidfd.as_raw_fd()
    }
}
