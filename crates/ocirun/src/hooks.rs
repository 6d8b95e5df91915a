//! OCI hooks: run a hook program with the container state JSON on its stdin, its own `args`
//! and `env`, and a `timeout` after which it is killed and counted as failed.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::spec::Hook;

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

/// Run `hooks` in order; stop at the first failure.
pub fn run_all(_kind: &str, hooks: &[Hook], state_json: &str) -> Result<(), HookError> {
    for h in hooks {
        run(h, state_json)?;
    }
    Ok(())
}

/// Run one hook.
pub fn run(h: &Hook, state_json: &str) -> Result<(), HookError> {
    let mut cmd = Command::new(&h.path);
    if let Some((first, rest)) = h.args.split_first() {
        cmd.arg0(first).args(rest);
    }
    cmd.env_clear();
    for kv in &h.env {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    cmd.stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|source| HookError::Spawn { path: h.path.clone(), source })?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin is fine.
        let _ = stdin.write_all(state_json.as_bytes());
    }
    let deadline = h.timeout.map(|t| Instant::now() + Duration::from_secs(t as u64));
    let mut sleep = Duration::from_micros(200);
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) => {}
            Err(source) => return Err(HookError::Spawn { path: h.path.clone(), source }),
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(HookError::Timeout { path: h.path.clone(), secs: h.timeout.unwrap_or(0) });
        }
        std::thread::sleep(sleep);
        sleep = (sleep * 2).min(Duration::from_millis(20));
    };
    if status.success() {
        return Ok(());
    }
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        use std::io::Read;
        let _ = e.read_to_string(&mut err);
    }
    let err = err.trim();
    Err(HookError::Failed {
        path: h.path.clone(),
        status: status.to_string(),
        stderr: if err.is_empty() { String::new() } else { format!(": {err}") },
    })
}
