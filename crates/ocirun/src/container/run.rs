//! `run`: create and start in one call; in the foreground wait for the container's init,
//! forwarding signals to it and proxying the terminal when it has one, then delete it.

use std::os::fd::{AsFd, OwnedFd};

use super::child::{Child, FORWARD};
use super::create::{Console, CreateOptions};
use super::Runtime;
use crate::error::Result;
use crate::sys::process as p;
use crate::sys::{fd, SysError};

/// Options of `run` beyond those of `create`. New options may be added in any release:
/// start from `RunOptions::default()`.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct RunOptions {
    /// Return once started instead of waiting.
    pub detach: bool,
    /// Keep the container's state after it exits (foreground only).
    pub keep: bool,
}

impl RunOptions {
    /// Return once started instead of waiting.
    pub fn detach(mut self, on: bool) -> Self {
        self.detach = on;
        self
    }

    /// Keep the container's state after it exits.
    pub fn keep(mut self, on: bool) -> Self {
        self.keep = on;
        self
    }
}

impl Runtime {
    /// Run a container. Returns its exit code (128+N when killed by signal N), or 0 detached.
    pub fn run(&self, id: &str, opts: &CreateOptions, ropts: &RunOptions) -> Result<i32> {
        let pass_fds = super::create::passed_fds(opts);
        // Read and check the bundle once: it decides how the terminal is wired, then create uses it.
        let loaded = super::create::load_bundle(opts)?;
        let terminal = loaded.0.process.as_ref().is_some_and(|p| p.terminal);
        let terminal_fg = !ropts.detach && opts.console_socket.is_none() && terminal;
        let (console, ours) = if terminal_fg {
            let (a, b) = fd::seqpacket_pair()?;
            (Console::Connected(b), Some(a))
        } else {
            (opts.console_socket.clone().map_or(Console::None, Console::Socket), None)
        };
        // Block the signals we forward (in this thread only) before the init exists, so none
        // is lost; the init resets its mask. SIGCHLD is left alone: waiting uses a pidfd.
        let old_mask = if ropts.detach { None } else { Some(p::block_signals(&FORWARD)?) };
        let result = (|| {
            let created = self.create_with(id, opts, console, loaded, pass_fds)?;
            for w in &created.warnings {
                log::warn!("{w}");
            }
            // Hold the init before it can exit (it is our child, not reaped yet), and get the
            // pty master; a run that did not start leaves nothing behind.
            let held = (|| {
                let child = if ropts.detach { None } else { Some(Child::from_pid(created.pid)?) };
                let master = match &ours {
                    Some(sock) => Some(recv_master(sock)?),
                    None => None,
                };
                Ok((child, master))
            })();
            let (child, master) = match held {
                Ok(x) => x,
                Err(e) => {
                    return Err(match self.delete(id, true) {
                        Ok(()) => e,
                        Err(c) => crate::error::Error::Cleanup { error: Box::new(e), cleanup: Box::new(c) },
                    })
                }
            };
            if let Err(e) = self.start(id) {
                // A run that did not start leaves nothing behind.
                return Err(match self.delete(id, true) {
                    Ok(()) => e,
                    Err(c) => crate::error::Error::Cleanup { error: Box::new(e), cleanup: Box::new(c) },
                });
            }
            let Some(mut child) = child else {
                return Ok(0);
            };
            let code = match master {
                Some(m) => proxy_terminal(&mut child, m)?,
                None => child.wait_forwarding()?,
            };
            if !ropts.keep {
                self.delete(id, true)?;
            }
            Ok(code)
        })();
        if let Some(m) = old_mask {
            p::set_sigmask(&m);
        }
        result
    }
}

impl Runtime {
    /// Create and start a container (like `run --detach`) and return its init as a
    /// [`Child`]: the caller waits for it (blocking, or by awaiting its pidfd) and then
    /// deletes the container. The config must not ask for a terminal unless
    /// [`CreateOptions::console_socket`] is set.
    pub fn spawn(&self, id: &str, opts: &CreateOptions) -> Result<Child> {
        let created = self.create(id, opts)?;
        for w in &created.warnings {
            log::warn!("{w}");
        }
        // The init is our child and nobody reaps it before we hold it.
        let started = Child::from_pid(created.pid).and_then(|child| self.start(id).map(|()| child));
        started.map_err(|e| match self.delete(id, true) {
            Ok(()) => e,
            Err(c) => crate::error::Error::Cleanup { error: Box::new(e), cleanup: Box::new(c) },
        })
    }
}

pub(crate) fn recv_master(sock: &OwnedFd) -> Result<OwnedFd> {
    let mut buf = [0u8; 256];
    let (_, f) = fd::recv_with_fd(sock.as_fd(), &mut buf)?;
    f.ok_or_else(|| SysError::new("receive the pty master", libc::EPROTO).into())
}

/// Copy between our stdio and the container's pty until `child` exits, forwarding signals
/// (SIGWINCH resizes the pty instead). The caller has blocked [`FORWARD`] in this thread.
pub(crate) fn proxy_terminal(child: &mut Child, master: OwnedFd) -> Result<i32> {
    let stdin = std::io::stdin();
    let stdin = stdin.as_fd();
    let stdout = std::io::stdout();
    let stdout = stdout.as_fd();
    let sfd = p::signalfd(&FORWARD)?;
    let saved = fd::make_raw(stdin);
    if let Some((rows, cols)) = fd::get_winsize(stdin) {
        let _ = fd::set_winsize(master.as_fd(), rows, cols);
    }
    let mut buf = vec![0u8; 16 * 1024];
    let (mut stdin_open, mut master_open) = (true, true);
    let result = loop {
        match child.try_wait() {
            Ok(Some(code)) => {
                // Drain what the container wrote last.
                while master_open && fd::poll_readable(&[master.as_fd()], 0).is_ok_and(|v| v[0]) {
                    match fd::read(master.as_fd(), &mut buf) {
                        Ok(n) if n > 0 => {
                            let _ = fd::write_all(stdout, &buf[..n]);
                        }
                        _ => break,
                    }
                }
                break Ok(code);
            }
            Ok(None) => {}
            Err(e) => break Err(e),
        }
        // Wait for output, input, a signal or the exit: no timeout, nothing is polled twice.
        let mut fds = vec![child.pidfd(), sfd.as_fd()];
        if master_open {
            fds.push(master.as_fd());
        }
        if stdin_open {
            fds.push(stdin);
        }
        let ready = match fd::poll_readable(&fds, -1) {
            Ok(r) => r,
            Err(e) => break Err(e.into()),
        };
        let mut i = 2;
        if master_open {
            if ready[i] {
                match fd::read(master.as_fd(), &mut buf) {
                    Ok(n) if n > 0 => {
                        if let Err(e) = fd::write_all(stdout, &buf[..n]) {
                            break Err(e.into());
                        }
                    }
                    // Every holder of the pty's other side closed it (EIO): nothing more comes.
                    _ => master_open = false,
                }
            }
            i += 1;
        }
        if stdin_open && ready[i] {
            match fd::read(stdin, &mut buf) {
                Ok(n) if n > 0 => {
                    let _ = fd::write_all(master.as_fd(), &buf[..n]);
                }
                _ => stdin_open = false,
            }
        }
        if ready[1] {
            while let Ok(Some(sig)) = p::signalfd_read(sfd.as_fd()) {
                if sig == libc::SIGWINCH {
                    if let Some((rows, cols)) = fd::get_winsize(stdin) {
                        let _ = fd::set_winsize(master.as_fd(), rows, cols);
                    }
                } else {
                    let _ = child.kill(sig);
                }
            }
        }
    };
    if let Some(t) = saved {
        fd::restore_termios(stdin, &t);
    }
    result
}
