//! The only place with `unsafe` and raw system calls. Each submodule wraps one area of the
//! kernel interface in safe functions that take and return owned types (`OwnedFd`, `Path`,
//! typed flags) and fail with [`SysError`], which names the call, the path and keeps errno.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::ErrorKind;

/// A failed system call: which call, on which path (if any), and errno.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SysError {
    /// The call or operation, e.g. `mount` or `open`.
    pub op: &'static str,
    /// The path it was applied to, if any.
    pub path: Option<PathBuf>,
    /// The errno.
    pub errno: i32,
}

impl SysError {
    /// An error for `op` with the current `errno`.
    pub fn last(op: &'static str) -> Self {
        SysError { op, path: None, errno: last_errno() }
    }
    /// An error for `op` on `path` with the current `errno`.
    pub fn last_at(op: &'static str, path: &Path) -> Self {
        SysError { op, path: Some(path.to_path_buf()), errno: last_errno() }
    }
    /// An error for `op` with an explicit errno.
    pub fn new(op: &'static str, errno: i32) -> Self {
        SysError { op, path: None, errno }
    }
    /// An error for `op` from a `std::io::Error`.
    pub fn io(op: &'static str, path: &Path, e: &std::io::Error) -> Self {
        SysError { op, path: Some(path.to_path_buf()), errno: e.raw_os_error().unwrap_or(libc::EIO) }
    }
    /// Attach a path.
    pub fn at(mut self, path: &Path) -> Self {
        self.path = Some(path.to_path_buf());
        self
    }
    /// The stable kind for this errno.
    pub fn kind(&self) -> ErrorKind {
        match self.errno {
            libc::EPERM | libc::EACCES => ErrorKind::Permission,
            libc::ENOSYS | libc::EOPNOTSUPP => ErrorKind::Unsupported,
            _ => ErrorKind::Io,
        }
    }
}

impl fmt::Display for SysError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let msg = std::io::Error::from_raw_os_error(self.errno);
        // Keep the kernel's wording lower-case so Docker and podman recognise
        // "no such file or directory" and map it to exit code 127.
        let text = lower_first(&msg.to_string());
        let text = text.split(" (os error").next().unwrap_or(&text).to_string();
        match &self.path {
            Some(p) => write!(f, "{} `{}`: {}", self.op, p.display(), text),
            None => write!(f, "{}: {}", self.op, text),
        }
    }
}

impl std::error::Error for SysError {}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// The calling thread's errno.
pub fn last_errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO)
}

/// Result of a wrapped system call.
pub type SysResult<T> = Result<T, SysError>;

// Private: several calls here (clone3, fork, raw fd borrowing, execve) are only sound in a
// single-threaded child or under a contract the library keeps; programs using the library
// get safe operations on `Runtime` instead. Public: the seccomp notify helpers, for programs
// that act as a seccomp agent, and the C library's POSIX regex (ids matched as crun does).
pub(crate) mod bpf;
pub(crate) mod caps;
pub(crate) mod fd;
pub(crate) mod fs_stat;
pub(crate) mod mount;
pub(crate) mod net;
pub(crate) mod netlink;
pub(crate) mod process;
pub mod regex;
pub mod seccomp;
