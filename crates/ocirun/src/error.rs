//! The library's error type: one enum whose variants name the layer that failed, each carrying
//! the layer's own typed error, plus a stable [`ErrorKind`] callers can match on.

use std::path::PathBuf;

pub use crate::lsm::LsmError;
pub use crate::netdev::NetDevError;
pub use crate::sys::SysError;

/// What kind of failure an [`Error`] is, stable across releases so callers can match on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// No container with that id.
    NotFound,
    /// A container with that id exists already.
    AlreadyExists,
    /// The bundle's config is malformed or asks for something invalid.
    InvalidSpec,
    /// An argument (container id, signal, option) is invalid.
    InvalidArgument,
    /// The container is not in a state that allows the operation.
    WrongState,
    /// The caller lacks a privilege.
    Permission,
    /// The kernel or the host lacks a feature the config needs.
    Unsupported,
    /// The container's setup failed inside the new namespaces.
    ContainerInit,
    /// A hook failed or timed out.
    Hook,
    /// Any other system call or file operation failed.
    Io,
}

/// A problem with the bundle's config, naming the field.
#[derive(Debug, thiserror::Error)]
#[error("invalid config: {field}: {reason}")]
pub struct SpecError {
    /// JSON path of the field, e.g. `linux.namespaces[2].type`.
    pub field: String,
    /// What is wrong and, where possible, what to do.
    pub reason: String,
}

impl SpecError {
    /// Build an error for `field`.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        SpecError { field: field.into(), reason: reason.into() }
    }
}

/// Every error the library returns.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The config is invalid.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// `config.json` could not be read or parsed.
    #[error("cannot load config {path}: {reason}")]
    SpecLoad {
        /// The file.
        path: PathBuf,
        /// Parse or read error, with line and column or the field path.
        reason: String,
    },
    /// The container id is not acceptable.
    #[error("invalid container ID {id:?}: {reason}")]
    InvalidId {
        /// The id given.
        id: String,
        /// Why.
        reason: &'static str,
    },
    /// An argument to an operation is invalid.
    #[error("{0}")]
    InvalidArgument(String),
    /// No such container.
    #[error("container {id:?} does not exist (looked in {root})")]
    NotFound {
        /// The id.
        id: String,
        /// The state root searched.
        root: PathBuf,
    },
    /// The id is in use.
    #[error("container {id:?} already exists")]
    AlreadyExists {
        /// The id.
        id: String,
    },
    /// The operation is not allowed in the container's current status.
    #[error("container {id:?} is {status}: cannot {op}")]
    WrongState {
        /// The id.
        id: String,
        /// Its status.
        status: String,
        /// What was attempted.
        op: &'static str,
    },
    /// The container's process has exited (engines look for runc's words "container not
    /// running" to tell this from a real failure).
    #[error("container {id:?} is stopped: container not running")]
    NotRunning {
        /// The id.
        id: String,
    },
    /// The state file is unreadable or corrupt.
    #[error("state of container {id:?} at {path} is corrupt: {reason}; remove it with `delete --force`")]
    CorruptState {
        /// The id.
        id: String,
        /// The state file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A feature is not available on this host.
    #[error("{what} is not supported here: {reason}")]
    Unsupported {
        /// The feature.
        what: String,
        /// Why, and what to do.
        reason: String,
    },
    /// The container's init failed while setting up.
    #[error("container init failed: {0}")]
    Init(#[from] crate::process::sync::ChildError),
    /// A hook failed.
    #[error("{hook} hook {path}: {reason}")]
    Hook {
        /// The hook kind (`createRuntime`, ...).
        hook: &'static str,
        /// The hook's path.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// A cgroup operation failed.
    #[error(transparent)]
    Cgroup(#[from] crate::cgroups::CgroupError),
    /// An Intel RDT (resctrl) operation failed.
    #[error(transparent)]
    Rdt(#[from] crate::resctrl::RdtError),
    /// A seccomp profile could not be compiled or installed.
    #[error(transparent)]
    Seccomp(#[from] crate::seccomp::SeccompError),
    /// A network device of `linux.netDevices` could not be moved.
    #[error(transparent)]
    NetDevice(#[from] crate::netdev::NetDevError),
    /// An AppArmor profile or SELinux label cannot be applied.
    #[error(transparent)]
    Lsm(#[from] crate::lsm::LsmError),
    /// A system call failed.
    #[error(transparent)]
    Sys(#[from] SysError),
    /// A `--regex` pattern did not compile.
    #[error(transparent)]
    Regex(#[from] crate::sys::regex::RegexError),
    /// criu could not checkpoint or restore the container.
    #[error(transparent)]
    Criu(#[from] crate::container::checkpoint::CriuError),
    /// Running without privileges needs something the config or the host lacks.
    #[error(transparent)]
    Rootless(#[from] crate::rootless::RootlessError),
    /// A process the library started was reaped by someone else (a `waitpid(-1)` in another
    /// thread, or SIGCHLD set to SIG_IGN), so its exit status is lost.
    #[error("process {pid} was reaped by another part of the program (waitpid(-1) or SIGCHLD ignored): its exit status is lost")]
    ReapedElsewhere {
        /// The process's pid.
        pid: i32,
    },
    /// Setup failed and cleaning up after it failed too.
    #[error("{error}; cleaning up also failed: {cleanup}")]
    Cleanup {
        /// The first failure.
        error: Box<Error>,
        /// The cleanup failure.
        cleanup: Box<Error>,
    },
}

impl Error {
    /// The stable kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Spec(_) | Error::SpecLoad { .. } => ErrorKind::InvalidSpec,
            Error::InvalidId { .. } | Error::InvalidArgument(_) => ErrorKind::InvalidArgument,
            Error::NotFound { .. } => ErrorKind::NotFound,
            Error::AlreadyExists { .. } => ErrorKind::AlreadyExists,
            Error::WrongState { .. } | Error::NotRunning { .. } => ErrorKind::WrongState,
            Error::CorruptState { .. } | Error::ReapedElsewhere { .. } => ErrorKind::Io,
            Error::Unsupported { .. } => ErrorKind::Unsupported,
            Error::Init(_) => ErrorKind::ContainerInit,
            Error::Hook { .. } => ErrorKind::Hook,
            Error::Cgroup(e) => e.kind(),
            Error::Rdt(e) => e.kind(),
            Error::Seccomp(e) => e.kind(),
            Error::NetDevice(e) => e.kind(),
            Error::Lsm(e) => e.kind(),
            Error::Sys(e) => e.kind(),
            Error::Regex(_) => ErrorKind::InvalidArgument,
            Error::Rootless(e) => e.kind(),
            Error::Criu(e) => e.kind(),
            Error::Cleanup { error, .. } => error.kind(),
        }
    }

    /// The report of the container's init (or exec'd process) when set-up failed in it,
    /// before or after `start`: the step, the message and the errno as data.
    pub fn child_error(&self) -> Option<&crate::process::sync::ChildError> {
        match self {
            Error::Init(e) => Some(e),
            Error::Cleanup { error, .. } => error.child_error(),
            _ => None,
        }
    }
}

/// Result with the library's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
