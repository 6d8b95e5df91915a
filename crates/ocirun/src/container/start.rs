//! `start`: release a created container's init (a byte on its exec FIFO), wait until it has
//! exec'd the user's program (EOF on the status FIFO) or reported why it could not (not
//! under a notify filter, see below), then run the poststart hooks.

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;

use super::Runtime;
use crate::error::{Error, Result};
use crate::process::sync::ChildError;
use crate::state::Status;
use crate::sys::SysError;

impl Runtime {
    /// Start a created container.
    pub fn start(&self, id: &str) -> Result<()> {
        let (dir, mut st, status) = self.open(id)?;
        if !status.can_start() {
            return Err(Error::WrongState { id: id.into(), status: status.to_string(), op: "start" });
        }
        let status_path = dir.file("status.fifo");
        // Open our read end first so the init's failure report (or EOF on exec) reaches us.
        let mut status_fifo = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(&status_path)
            .map_err(|e| SysError::io("open", &status_path, &e))?;
        let exec_path = dir.file("exec.fifo");
        let mut exec_fifo = match std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(&exec_path)
        {
            Ok(f) => f,
            Err(e) if e.raw_os_error() == Some(libc::ENXIO) => {
                return Err(Error::WrongState { id: id.into(), status: "stopped".into(), op: "start" })
            }
            Err(e) => return Err(SysError::io("open", &exec_path, &e).into()),
        };
        // Bound before the init runs, so its first READY=1 finds a listener.
        let notify = match &st.notify_socket {
            Some(host) => Some((super::notify::listen(&dir.path)?, host.clone())),
            None => None,
        };
        // Both FIFOs are done with once the init has them; remove them so a second start fails.
        let _ = std::fs::remove_file(&exec_path);
        let _ = std::fs::remove_file(&status_path);
        std::io::Write::write_all(&mut exec_fifo, b"1").map_err(|e| SysError::io("write", &exec_path, &e))?;
        drop(exec_fifo);
        // Under a notify filter (loaded during create) the init's last calls may wait on an
        // agent that never answers: do not wait for the exec then, as crun and runc never do.
        let seccomp_notify = st.config.linux.as_ref().and_then(|l| l.seccomp.as_ref()).is_some_and(|s| s.uses_notify());
        let report = if seccomp_notify { Vec::new() } else { read_until_eof(&mut status_fifo)? };
        if !report.is_empty() {
            st.status = Status::Stopped;
            dir.save(&st)?;
            return Err(Error::Init(decode_report(&report)));
        }
        st.status = Status::Running;
        dir.save(&st)?;
        if let Some(h) = &st.config.hooks {
            let state = serde_json::to_string(&st.oci_state(Status::Running)).unwrap_or_default();
            for hook in &h.poststart {
                if let Err(e) = crate::hooks::run(hook, &state, Some(&st.bundle)) {
                    // The spec: a failing poststart hook is logged, and start still succeeds.
                    log::warn!("poststart hook {e}");
                }
            }
        }
        if let Some((sock, host)) = notify {
            // Not under the container's lock: state, kill and delete go on meanwhile.
            drop(dir);
            super::notify::relay_ready(&sock, st.pid, &host)?;
        }
        Ok(())
    }
}

/// The init's report of why it could not exec: a JSON [`ChildError`]. Anything else (a
/// runtime that wrote plain text) becomes the message of a report without errno.
fn decode_report(report: &[u8]) -> ChildError {
    serde_json::from_slice(report)
        .unwrap_or_else(|_| ChildError::msg("start", String::from_utf8_lossy(report).into_owned()))
}

/// Read the status FIFO until every writer (the init) has closed it.
fn read_until_eof(f: &mut std::fs::File) -> Result<Vec<u8>> {
    use std::os::fd::AsFd;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        crate::sys::fd::poll_readable(&[f.as_fd()], -1)?;
        match f.read(&mut buf) {
            Ok(0) => return Ok(out),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::Interrupted => {
                continue
            }
            Err(e) => return Err(SysError::io("read", std::path::Path::new("status.fifo"), &e).into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::decode_report;
    use crate::process::sync::ChildError;

    #[test]
    fn report_keeps_errno() {
        let e = ChildError { step: "exec".into(), message: "nope: no such file or directory".into(), errno: Some(2) };
        let got = decode_report(&serde_json::to_vec(&e).unwrap());
        assert_eq!((got.step.as_str(), got.errno), ("exec", Some(libc::ENOENT)));
        assert_eq!(decode_report(b"garbage").errno, None);
    }
}
