//! Never let a container execute the runtime's own binary (CVE-2019-5736). The init and the
//! exec child are forks of the runtime, so until they execve, `/proc/self/exe` *is* our
//! binary: an entrypoint of `/proc/self/exe`, or a script whose `#!` interpreter leads there,
//! would run the runtime inside the container, where a dynamically linked build loads the
//! container's libraries and could then reopen the binary for writing. We refuse such a
//! program (checking the `#!` chain as deep as the kernel follows it) and run ELF programs
//! through the fd we checked (execveat), without the cost of copying the binary per exec.
//! Both processes also mark themselves non-dumpable until execve, so other processes in the
//! container cannot open their `/proc/PID/exe`.

use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::process::sync::ChildError;
use crate::sys::mount as m;

/// (st_dev, st_ino) of the runtime's own binary, taken in the parent before clone.
pub fn own_binary() -> Option<(u64, u64)> {
    std::fs::metadata("/proc/self/exe").ok().map(|md| (md.dev(), md.ino()))
}

/// How many `#!` levels the kernel follows (BINPRM_MAX_RECURSION).
const MAX_DEPTH: usize = 4;

/// Check `program` and return an fd to execute it through when it is an ELF binary (a script
/// must be run by path, because its interpreter opens it again).
pub fn check(program: &Path, own: Option<(u64, u64)>) -> Result<Option<OwnedFd>, ChildError> {
    let Some(own) = own else { return Ok(None) };
    let refuse = |p: &Path| ChildError {
        step: "exec".into(),
        message: format!(
            "{}: refusing to execute the container runtime's own binary inside the container: permission denied",
            p.display()
        ),
        errno: Some(libc::EACCES),
    };
    let mut path = program.to_path_buf();
    let mut first_fd = None;
    for depth in 0..=MAX_DEPTH {
        let fd = match m::openat(None, &path, libc::O_RDONLY, 0) {
            Ok(fd) => fd,
            // Not readable (e.g. execute-only): the kernel will say what it thinks at execve.
            Err(_) => return Ok(first_fd),
        };
        if m::fstat_id(fd.as_fd()).ok() == Some(own) {
            return Err(refuse(&path));
        }
        let mut head = [0u8; 256];
        let n = std::fs::File::from(fd.try_clone().map_err(|e| ChildError::msg("exec", e.to_string()))?)
            .read(&mut head)
            .unwrap_or(0);
        let is_script = n >= 2 && &head[..2] == b"#!";
        if depth == 0 {
            if !is_script {
                return Ok(Some(fd));
            }
            first_fd = None;
        }
        if !is_script {
            return Ok(first_fd);
        }
        let line = &head[2..n];
        let line = line.split(|&b| b == b'\n').next().unwrap_or(line);
        let text = String::from_utf8_lossy(line);
        let Some(interp) = text.split_whitespace().next() else { return Ok(first_fd) };
        path = PathBuf::from(interp);
    }
    Ok(first_fd)
}
