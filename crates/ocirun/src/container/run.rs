//! `run`: create and start in one call; in the foreground wait for the container's init,
//! forwarding signals to it and proxying the terminal when it has one, then delete it.

use std::os::fd::{AsFd, OwnedFd};

use super::create::{Console, CreateOptions};
use super::Runtime;
use crate::error::Result;
use crate::sys::process::{self as p, ExitStatus};
use crate::sys::{fd, SysError};

/// Options of `run` beyond those of `create`.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Return once started instead of waiting.
    pub detach: bool,
    /// Keep the container's state after it exits (foreground only).
    pub keep: bool,
}

/// Signals forwarded to the container while `run` waits.
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
        // Block the signals we forward before the init exists, so none is lost; the init
        // resets its mask.
        let mut sigs: Vec<i32> = FORWARD.to_vec();
        sigs.push(libc::SIGCHLD);
        let old_mask = if ropts.detach { None } else { Some(p::block_signals(&sigs)?) };
        let result = (|| {
            let created = self.create_with(id, opts, console, loaded, pass_fds)?;
            for w in &created.warnings {
                crate::log::warn(w);
            }
            let master = match &ours {
                Some(sock) => Some(recv_master(sock)?),
                None => None,
            };
            if let Err(e) = self.start(id) {
                // A run that did not start leaves nothing behind.
                return Err(match self.delete(id, true) {
                    Ok(()) => e,
                    Err(c) => crate::error::Error::Cleanup { error: Box::new(e), cleanup: Box::new(c) },
                });
            }
            if ropts.detach {
                return Ok(0);
            }
            let status = match master {
                Some(m) => proxy_terminal(created.pid, m)?,
                None => wait_forwarding(created.pid)?,
            };
            if !ropts.keep {
                self.delete(id, true)?;
            }
            Ok(status.code())
        })();
        if let Some(m) = old_mask {
            p::set_sigmask(&m);
        }
        result
    }
}

pub(crate) fn recv_master(sock: &OwnedFd) -> Result<OwnedFd> {
    let mut buf = [0u8; 256];
    let (_, f) = fd::recv_with_fd(sock.as_fd(), &mut buf)?;
    f.ok_or_else(|| SysError::new("receive the pty master", libc::EPROTO).into())
}

/// Wait for `pid`, forwarding signals to it.
pub(crate) fn wait_forwarding(pid: i32) -> Result<ExitStatus> {
    let mut sigs: Vec<i32> = FORWARD.to_vec();
    sigs.push(libc::SIGCHLD);
    loop {
        if let Some(st) = p::waitpid(pid, true)? {
            return Ok(st);
        }
        let sig = p::sigwait(&sigs)?;
        if sig != libc::SIGCHLD {
            let _ = p::kill(pid, sig);
        }
    }
}

/// Copy between our stdio and the container's pty until the init exits.
pub(crate) fn proxy_terminal(pid: i32, master: OwnedFd) -> Result<ExitStatus> {
    let stdin = fd::borrow_raw(0);
    let stdout = fd::borrow_raw(1);
    let saved = fd::make_raw(stdin);
    if let Some((rows, cols)) = fd::get_winsize(stdin) {
        let _ = fd::set_winsize(master.as_fd(), rows, cols);
    }
    let mut buf = vec![0u8; 16 * 1024];
    let mut stdin_open = true;
    let status = loop {
        if let Some(st) = p::waitpid(pid, true)? {
            // Drain what the container wrote last.
            while let Ok(v) = fd::poll_readable(&[master.as_fd()], 0) {
                if !v[0] {
                    break;
                }
                match fd::read(master.as_fd(), &mut buf) {
                    Ok(n) if n > 0 => {
                        let _ = fd::write_all(stdout, &buf[..n]);
                    }
                    _ => break,
                }
            }
            break st;
        }
        let fds = if stdin_open { vec![master.as_fd(), stdin] } else { vec![master.as_fd()] };
        let ready = fd::poll_readable(&fds, 50)?;
        if ready[0] {
            match fd::read(master.as_fd(), &mut buf) {
                Ok(n) if n > 0 => fd::write_all(stdout, &buf[..n])?,
                _ => {}
            }
        }
        if stdin_open && ready.get(1) == Some(&true) {
            match fd::read(stdin, &mut buf) {
                Ok(n) if n > 0 => fd::write_all(master.as_fd(), &buf[..n])?,
                _ => stdin_open = false,
            }
        }
        // Forward pending signals without blocking.
        while let Some(sig) = p::sigpending_one(&FORWARD) {
            if sig == libc::SIGWINCH {
                if let Some((rows, cols)) = fd::get_winsize(stdin) {
                    let _ = fd::set_winsize(master.as_fd(), rows, cols);
                }
            } else {
                let _ = p::kill(pid, sig);
            }
        }
    };
    if let Some(t) = saved {
        fd::restore_termios(stdin, &t);
    }
    Ok(status)
}
