//! Cgroups: put a container's processes in a cgroup, limit them, freeze, kill and measure them.
//!
//! Three host layouts exist and all are handled by the same [`Manager`]:
//! * **v2** (unified): one hierarchy at the `cgroup2` mount; controllers are enabled for our
//!   directory by writing `+ctrl` into every ancestor's `cgroup.subtree_control`.
//! * **v1**: one mount per controller (or per group of co-mounted controllers); the container
//!   gets the same relative directory in each.
//! * **hybrid**: v1 controllers plus a `cgroup2` mount (usually `/sys/fs/cgroup/unified`) with
//!   few or no controllers. Resources go to v1; the unified directory still gives us
//!   `cgroup.freeze`, `cgroup.kill`, `cgroup.events` and a target for device eBPF programs.
//!
//! What lives where: [`layout`] finds the mounts (from an injectable mountinfo file),
//! [`delegated`] finds the subtree an unprivileged caller may use,
//! [`path`] turns `linux.cgroupsPath` into a path, [`manager`] owns the directories and the
//! lifecycle (create, join, freeze, kill, destroy), [`v1`] and [`v2`] write
//! `linux.resources` to files, [`devices`] turns device rules into v1 lines or an eBPF program,
//! [`stats`] reads usage back, [`systemd`] (with its small [`dbus`] client) has systemd own the
//! cgroup as a transient scope for `--systemd-cgroup`.
//!
//! ## Converting the spec's v1-style values on v2
//! The runtime spec expresses resources in v1 terms. On v2 we write:
//! * `cpu.shares` → `cpu.weight = 1 + ((shares - 2) * 9999) / 262142` (shares clamped to
//!   2..=262144, so 2 → 1, 1024 → 39, 262144 → 10000); this is the mapping container engines
//!   and other runtimes agree on, so `docker --cpu-shares` means the same everywhere.
//! * `cpu.quota`/`cpu.period` → `cpu.max = "<quota|max> <period>"` (a quota ≤ 0 is `max`; a
//!   missing half keeps the current value of that half); `cpu.burst` → `cpu.max.burst`.
//! * `memory.limit` → `memory.max`, `memory.reservation` → `memory.low`,
//!   `memory.swap` (memory + swap in v1) → `memory.swap.max = swap - limit` (`-1` is `max`).
//! * `blockIO.weight` (10..=1000) → `io.bfq.weight` unchanged when BFQ is there, otherwise
//!   `io.weight = 1 + ((weight - 10) * 9999) / 990` (10 → 1, 1000 → 10000); per-device weights
//!   the same, written as `"major:minor weight"`.
//! * throttles → `io.max` lines `"major:minor rbps=N"` / `wbps` / `riops` / `wiops`.
//! * `pids.limit` ≤ 0 → `pids.max = max`; hugepages → `hugetlb.<size>.max` and, when the
//!   kernel has it, `hugetlb.<size>.rsvd.max`.
//! * devices → an eBPF `BPF_PROG_TYPE_CGROUP_DEVICE` program attached to the directory.
//!
//! Values with no v2 equivalent (`kernelTCP`, `swappiness`, `disableOOMKiller`, realtime CPU,
//! `network`, `leafWeight`) fail with an [`ErrorKind::Unsupported`] error naming the field,
//! so a config is never silently half-applied. `memory.kernel` is deprecated by the spec and
//! ignored everywhere the kernel no longer has it.

pub mod dbus;
pub mod delegated;
pub mod devices;
mod fs;
pub mod layout;
pub mod manager;
pub mod path;
pub mod stats;
pub mod systemd;
pub mod v1;
pub mod v2;

#[cfg(test)]
mod tests_host;
#[cfg(test)]
mod tests_tree;

use std::path::PathBuf;

use crate::error::ErrorKind;
use crate::sys::SysError;

pub use layout::Layout;
pub use manager::{join_self, Manager, SendSignal};
pub use path::CgroupPath;
pub use stats::Stats;

/// A cgroup operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CgroupError {
    /// The mount table could not be read.
    #[error("cannot read mount table {path}: {source}")]
    ReadMountInfo {
        /// The mountinfo file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// No cgroup file system is mounted.
    #[error("no cgroup or cgroup2 file system is mounted (looked in {path})")]
    NoCgroupMounts {
        /// The mountinfo file.
        path: PathBuf,
    },
    /// `linux.cgroupsPath` is not acceptable.
    #[error("invalid cgroups path {path:?}: {reason}")]
    InvalidPath {
        /// The path given.
        path: String,
        /// Why.
        reason: &'static str,
    },
    /// `--systemd-cgroup` was given but no systemd answers.
    #[error("systemd is not running (no {}): drop --systemd-cgroup or start systemd", socket.display())]
    SystemdNotRunning {
        /// The socket looked for.
        socket: PathBuf,
    },
    /// A call to systemd failed.
    #[error("cannot {op}{}: {source}", if unit.is_empty() { String::new() } else { format!(" {unit}") })]
    Systemd {
        /// What was being done, e.g. `start the transient scope`.
        op: &'static str,
        /// The unit, if any.
        unit: String,
        /// The cause.
        #[source]
        source: dbus::DbusError,
    },
    /// A systemd job did not end in `done`.
    #[error("systemd could not {what} {unit}: the job ended with {result:?} (see `journalctl -u {unit}`)")]
    SystemdJob {
        /// The unit.
        unit: String,
        /// `start` or `stop`.
        what: &'static str,
        /// The job's result (`failed`, `timeout`, …).
        result: String,
    },
    /// A cgroup directory could not be created.
    #[error("cannot create cgroup {path}: {source}")]
    Create {
        /// The directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A cgroup directory could not be removed.
    #[error("cannot remove cgroup {path}: {source}")]
    Remove {
        /// The directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A cgroup file could not be opened.
    #[error("cannot open {path}: {source}")]
    Open {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A value could not be written to a cgroup file.
    #[error("cannot write {value:?} to {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The value.
        value: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A cgroup file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A cgroup file did not hold what the kernel documents.
    #[error("cannot parse {path}: {reason}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What was unexpected.
        reason: String,
    },
    /// A resource needs a controller this host does not offer to us.
    #[error("{field} needs the {controller} cgroup controller, which is not available here")]
    ControllerUnavailable {
        /// The controller, e.g. `hugetlb`.
        controller: String,
        /// The config field, e.g. `linux.resources.hugepageLimits`.
        field: &'static str,
    },
    /// A resource needs a cgroup file this kernel does not provide.
    #[error("{field} needs {path}, which this kernel does not provide")]
    FileUnavailable {
        /// The missing file.
        path: PathBuf,
        /// The config field.
        field: &'static str,
    },
    /// A resource cannot be expressed on this cgroup version.
    #[error("{field} is not supported on cgroup {version}: {reason}")]
    Unsupported {
        /// The config field.
        field: &'static str,
        /// `v1` or `v2`.
        version: &'static str,
        /// Why, and what to do.
        reason: &'static str,
    },
    /// A resource value is out of range or inconsistent.
    #[error("invalid {field}: {reason}")]
    InvalidValue {
        /// The config field.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// A key of `linux.resources.unified` is not acceptable.
    #[error("invalid linux.resources.unified key {key:?}: {reason}")]
    UnifiedKey {
        /// The key.
        key: String,
        /// Why.
        reason: &'static str,
    },
    /// `checkBeforeUpdate` refused a limit below what is in use.
    #[error("memory limit {limit} is below current usage {usage} of {path}")]
    LimitBelowUsage {
        /// The requested limit.
        limit: i64,
        /// Current usage.
        usage: u64,
        /// The usage file read.
        path: PathBuf,
    },
    /// The freezer did not reach the requested state in time.
    #[error("{path} did not become {want} in time (last seen {seen:?})")]
    FreezeTimeout {
        /// The state or events file polled.
        path: PathBuf,
        /// What we waited for.
        want: &'static str,
        /// The last state read.
        seen: String,
    },
    /// Processes survived SIGKILL.
    #[error("{count} processes remain in {path} after SIGKILL")]
    KillTimeout {
        /// The directory.
        path: PathBuf,
        /// How many were left.
        count: usize,
    },
    /// Sending a signal to a member process failed.
    #[error("cannot signal process {pid}: {source}")]
    Signal {
        /// The process.
        pid: i32,
        /// The cause.
        #[source]
        source: SysError,
    },
    /// Loading or attaching the device eBPF program failed.
    #[error("device cgroup program for {path}: {source}")]
    Bpf {
        /// The cgroup directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: SysError,
    },
}

impl CgroupError {
    /// The stable kind.
    pub fn kind(&self) -> ErrorKind {
        use CgroupError::*;
        match self {
            InvalidPath { .. } => ErrorKind::InvalidArgument,
            InvalidValue { .. } | UnifiedKey { .. } => ErrorKind::InvalidSpec,
            LimitBelowUsage { .. } => ErrorKind::InvalidArgument,
            SystemdNotRunning { .. } | ControllerUnavailable { .. } | FileUnavailable { .. } | Unsupported { .. } => {
                ErrorKind::Unsupported
            }
            Signal { source, .. } | Bpf { source, .. } => source.kind(),
            Create { source, .. }
            | Remove { source, .. }
            | Open { source, .. }
            | Write { source, .. }
            | Read { source, .. }
            | ReadMountInfo { source, .. } => io_kind(source),
            NoCgroupMounts { .. } => ErrorKind::Unsupported,
            Systemd { source, .. } => match source {
                dbus::DbusError::Connect { source, .. } | dbus::DbusError::Io { source, .. } => io_kind(source),
                dbus::DbusError::Auth { .. } => ErrorKind::Permission,
                _ => ErrorKind::Io,
            },
            SystemdJob { .. } => ErrorKind::Io,
            Parse { .. } | FreezeTimeout { .. } | KillTimeout { .. } => ErrorKind::Io,
        }
    }
}

fn io_kind(e: &std::io::Error) -> ErrorKind {
    match e.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) | Some(libc::EROFS) => ErrorKind::Permission,
        _ => ErrorKind::Io,
    }
}

/// Result of a cgroup operation.
pub type Result<T, E = CgroupError> = std::result::Result<T, E>;
