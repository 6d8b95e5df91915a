//! OCI hooks: run a hook program with the container state JSON on its stdin, its own `args`
//! and `env`, and a `timeout` after which it — and everything it started — is killed and the
//! hook counts as failed.
//!
//! As in crun and runc, a hook without `env` inherits the runtime's environment, and the hooks
//! that run where the bundle is visible run in the bundle directory.
//!
//! The hook gets its own process group, so a timeout kills its children too. Its stdin is a
//! socket written without blocking from the wait loop, so a hook that never reads a large
//! state cannot stall the runtime past the timeout (and a closed stdin is no SIGPIPE).

use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::spec::Hook;
use crate::sys::{fd, process as p};

/// A hook failure.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    /// The program could not be started.
    #[error("{path}: cannot start: {source}")]
    Spawn {
        /// Hook path.
        path: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The program exited unsuccessfully.
    #[error("{path}: exited with {status}{stderr}")]
    Failed {
        /// Hook path.
        path: String,
        /// Exit status text.
        status: String,
        /// Its stderr, if any.
        stderr: String,
    },
    /// The program ran past its timeout.
    #[error("{path}: timed out after {secs}s and was killed")]
    Timeout {
        /// Hook path.
        path: String,
        /// The timeout.
        secs: i64,
    },
}

/// Run `hooks` in order, in `cwd` if given; stop at the first failure.
pub fn run_all(_kind: &str, hooks: &[Hook], state_json: &str, cwd: Option<&Path>) -> Result<(), HookError> {
    for h in hooks {
        run(h, state_json, cwd)?;
    }
    Ok(())
}

/// Run one hook, in `cwd` if given (the bundle directory).
pub fn run(h: &Hook, state_json: &str, cwd: Option<&Path>) -> Result<(), HookError> {
    let spawn_err = |source| HookError::Spawn { path: h.path.clone(), source };
    let (ours, theirs) = fd::stream_pair().map_err(|e| spawn_err(std::io::Error::from_raw_os_error(e.errno)))?;
    // stderr too is a socket drained without blocking while we wait: a chatty hook can never
    // fill a pipe and hang.
    let (err_ours, err_theirs) =
        fd::stream_pair().map_err(|e| spawn_err(std::io::Error::from_raw_os_error(e.errno)))?;
    let mut cmd = Command::new(&h.path);
    if let Some((first, rest)) = h.args.split_first() {
        cmd.arg0(first).args(rest);
    }
    if !h.env.is_empty() {
        cmd.env_clear();
        for kv in &h.env {
            if let Some((k, v)) = kv.split_once('=') {
                cmd.env(k, v);
            }
        }
    }
    // A bundle already removed (an engine may clean it up before a late delete) must not stop
    // a poststop hook from running: then it runs where we are.
    if let Some(dir) = cwd.filter(|d| d.is_dir()) {
        cmd.current_dir(dir);
    }
    cmd.stdin(Stdio::from(theirs)).stdout(Stdio::null()).stderr(Stdio::from(err_theirs)).process_group(0);
    let mut child = cmd.spawn().map_err(spawn_err)?;
    // Drop our copy of the hook's end (moved into the Command) with the Command itself.
    drop(cmd);
    let pgid = child.id() as i32;
    let deadline = h.timeout.and_then(|t| Instant::now().checked_add(Duration::from_secs(t as u64)));
    let mut pending: &[u8] = state_json.as_bytes();
    let mut stdin = Some(ours);
    let mut sleep = Duration::from_micros(100);
    let mut stderr: Vec<u8> = Vec::new();
    let drain = |stderr: &mut Vec<u8>| {
        let mut buf = [0u8; 4096];
        while let Ok(n) = fd::recv_nonblocking(err_ours.as_fd(), &mut buf) {
            if n == 0 {
                break;
            }
            // Keep the first 4 KiB for the error message; read and drop the rest.
            let room = 4096usize.saturating_sub(stderr.len());
            stderr.extend_from_slice(&buf[..n.min(room)]);
        }
    };
    let status = loop {
        drain(&mut stderr);
        if let Some(s) = stdin.as_ref() {
            match fd::send_nonblocking(s.as_fd(), pending) {
                Ok(n) => pending = &pending[n..],
                // The hook closed its stdin: it does not want the state.
                Err(_) => pending = &[],
            }
            if pending.is_empty() {
                stdin = None;
            }
        }
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) => {}
            Err(source) => return Err(HookError::Spawn { path: h.path.clone(), source }),
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            // The whole process group: a hook's children must not outlive it.
            let _ = p::kill(-pgid, libc::SIGKILL);
            let _ = child.wait();
            return Err(HookError::Timeout { path: h.path.clone(), secs: h.timeout.unwrap_or(0) });
        }
        std::thread::sleep(sleep);
        sleep = (sleep * 2).min(Duration::from_millis(20));
    };
    // Children the hook left in its group are not ours to keep running either.
    let _ = p::kill(-pgid, libc::SIGKILL);
    if status.success() {
        return Ok(());
    }
    drain(&mut stderr);
    let err = String::from_utf8_lossy(&stderr);
    let err = err.trim();
    Err(HookError::Failed {
        path: h.path.clone(),
        status: status.to_string(),
        stderr: if err.is_empty() { String::new() } else { format!(": {err}") },
    })
}
