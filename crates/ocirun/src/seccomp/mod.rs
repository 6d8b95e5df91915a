//! Seccomp: compiling the OCI `linux.seccomp` profile to a classic BPF program, caching it, and
//! installing it in the container's init.
//!
//! # Where each step runs
//!
//! - **Parent, before clone**: [`compile`] (or [`cache::compile_cached`]) turns the profile into a
//!   [`CompiledFilter`]. Every allocation, name lookup and error happens here, where it can be
//!   reported cleanly.
//! - **Child, last step before execve**: [`install`] hands the prebuilt program to seccomp(2).
//!   It allocates nothing, so it is safe after fork. Everything else the runtime does comes
//!   before it (closing fds, affinity, LSM labels, capabilities, the user switch,
//!   no_new_privs): the profile is written for the container's program, and an allowlist
//!   need not list what the runtime calls. After it comes only the exec, by execveat on the
//!   checked fd or, when [`CompiledFilter::allows_execveat_fd`] says the profile would stop
//!   that, execve by path. Without `no_new_privs` the kernel accepts a filter only from a
//!   holder of `CAP_SYS_ADMIN`; the init keeps it in its permitted and effective sets up to
//!   the exec, which recomputes both from the bounding, inheritable and ambient sets, so the
//!   container never holds it unless its config grants it.
//! - **Notify**: when [`CompiledFilter::uses_notify`] is true, [`install`] returns the listener
//!   fd. The agent must have it before `start` (it may wait for it), so the init loads such
//!   a filter during `create`, sends the fd to the parent over the sync socket (one sendmsg
//!   after the filter, which [`CompiledFilter::allows_notify_handover`] checks first), and
//!   the parent calls [`notify::send_to_listener`] with `listenerPath`.
//!
//! # Why our own compiler and not libseccomp
//!
//! libseccomp is a C library to build and link (or a shared object to load at start-up), it
//! builds its filter through a generic rule database at run time, and its output tests rules
//! largely one after another. Our compiler is about 700 lines of Rust for the three x86 ABIs,
//! emits a binary search over syscall numbers (O(log n) instructions per syscall instead of
//! O(n)), and its output is cached by profile so a container start usually only reads a file.
//! Measured on this machine (kernel 6.18, Docker's default profile, release build, see
//! `bench/seccomp/README.md`): compile ≈ 0.12 ms (0.25 ms first call) and a cache hit ≈ 0.04 ms,
//! against 14-19 ms for libseccomp 2.5.4 to build the same profile; 355 instructions against
//! 983; 10-11 instructions executed for a plain syscall and at most 31 with argument rules,
//! against up to 607 (598 for a denied unknown number) in libseccomp's program.

use std::os::fd::OwnedFd;
use std::path::PathBuf;

use crate::error::ErrorKind;
use crate::spec::Seccomp;
use crate::sys::seccomp::SockFilter;
use crate::sys::SysError;

pub mod bpf;
pub mod cache;
mod codegen;
pub mod notify;
pub mod profile;
mod syscalls;

pub use bpf::{Evaluation, SeccompData};
pub use cache::compile_cached;
pub use notify::{send_to_listener, ContainerProcessState};
pub use profile::{Action, Arch};

/// Bumped whenever the generated code for a given profile changes, so that cached programs of
/// an older compiler are not reused.
pub const COMPILER_VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "/bpf-2");

/// A seccomp profile could not be compiled, cached or installed.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    /// An `action` is not one of the `SCMP_ACT_*` names.
    #[error("seccomp: {field}: unknown action {action:?}")]
    UnknownAction {
        /// JSON path of the field.
        field: String,
        /// The value given.
        action: String,
    },
    /// `errnoRet` or `defaultErrnoRet` is set for an action that takes no errno.
    #[error("seccomp: {field}: action {action} takes no errnoRet")]
    ErrnoNotAllowed {
        /// JSON path of the action.
        field: String,
        /// The action.
        action: String,
    },
    /// `errnoRet` does not fit in the 16 data bits of a filter return value.
    #[error("seccomp: {field}: errnoRet {value} is larger than 65535")]
    ErrnoOutOfRange {
        /// JSON path of the action.
        field: String,
        /// The value given.
        value: u32,
    },
    /// An architecture is not one of the `SCMP_ARCH_*` names.
    #[error("seccomp: {field}: unknown architecture {arch:?}")]
    UnknownArch {
        /// JSON path of the field.
        field: String,
        /// The value given.
        arch: String,
    },
    /// A flag is not one of the `SECCOMP_FILTER_FLAG_*` names the spec allows.
    #[error("seccomp: {field}: unknown flag {flag:?}")]
    UnknownFlag {
        /// JSON path of the field.
        field: String,
        /// The value given.
        flag: String,
    },
    /// An argument operator is not one of the `SCMP_CMP_*` names.
    #[error("seccomp: {field}: unknown operator {op:?}")]
    UnknownOperator {
        /// JSON path of the field.
        field: String,
        /// The value given.
        op: String,
    },
    /// An argument index is not 0..=5.
    #[error("seccomp: {field}: argument index {index} is not 0 to 5")]
    ArgIndex {
        /// JSON path of the field.
        field: String,
        /// The value given.
        index: u32,
    },
    /// A rule has no syscall names.
    #[error("seccomp: {field}: must name at least one syscall")]
    NoNames {
        /// JSON path of the field.
        field: String,
    },
    /// `SCMP_ACT_NOTIFY` as the default action.
    #[error("seccomp: linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action")]
    NotifyDefault,
    /// `listenerMetadata` without `listenerPath`.
    #[error("seccomp: linux.seccomp.listenerMetadata: set without listenerPath")]
    MetadataWithoutListener,
    /// The profile needs more instructions than the kernel accepts.
    #[error("seccomp: the profile compiles to {len} instructions, more than the kernel's 4096")]
    TooLong {
        /// Instructions needed.
        len: usize,
    },
    /// This build does not target x86_64, the only host the syscall tables cover.
    #[error("seccomp: only x86_64 hosts are supported")]
    UnsupportedHost,
    /// The profile could not be serialised for the cache key or the listener message.
    #[error("seccomp: cannot serialise {what}")]
    Serialize {
        /// What was being serialised.
        what: &'static str,
        /// The serde error.
        #[source]
        source: serde_json::Error,
    },
    /// seccomp(2) refused the filter.
    #[error("seccomp: install filter")]
    Install {
        /// The failed call (`EACCES`: neither no_new_privs nor CAP_SYS_ADMIN).
        #[source]
        source: SysError,
    },
    /// The seccomp agent at `listenerPath` could not be reached or did not take the message.
    #[error("seccomp: send listener fd to {path}")]
    Listener {
        /// `listenerPath`.
        path: PathBuf,
        /// The failed call.
        #[source]
        source: SysError,
    },
}

impl SeccompError {
    /// The stable kind.
    pub fn kind(&self) -> ErrorKind {
        match self {
            SeccompError::UnsupportedHost => ErrorKind::Unsupported,
            SeccompError::Install { source } | SeccompError::Listener { source, .. } => source.kind(),
            SeccompError::Serialize { .. } => ErrorKind::Io,
            _ => ErrorKind::InvalidSpec,
        }
    }
}

/// A profile compiled for this host: the program, the seccomp(2) flags, and what the caller
/// must know to install it.
#[derive(Clone)]
pub struct CompiledFilter {
    program: Vec<SockFilter>,
    flags: u32,
    uses_notify: bool,
    /// Syscall names unknown on every architecture of the profile, and rules an earlier rule
    /// overrides, skipped: normal in engines' profiles (written for every arch and kernel),
    /// so for the caller to log at debug level.
    pub skipped: Vec<String>,
    /// Things skipped while compiling (ignored flags and actions, a cache that
    /// could not be written), for the caller to log once.
    pub warnings: Vec<String>,
}

impl std::fmt::Debug for CompiledFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledFilter")
            .field("instructions", &self.program.len())
            .field("flags", &format_args!("{:#x}", self.flags))
            .field("uses_notify", &self.uses_notify)
            .field("warnings", &self.warnings)
            .field("skipped", &self.skipped.len())
            .finish()
    }
}

impl CompiledFilter {
    /// The BPF program.
    pub fn program(&self) -> &[SockFilter] {
        &self.program
    }

    /// `SECCOMP_FILTER_FLAG_*` for seccomp(2); holds `NEW_LISTENER` when notify is used.
    pub fn flags(&self) -> u32 {
        self.flags
    }

    /// Whether a rule uses `SCMP_ACT_NOTIFY`, so [`install`] returns a listener fd.
    pub fn uses_notify(&self) -> bool {
        self.uses_notify
    }

    /// The program as bytes, 8 per instruction in the kernel's layout (little-endian).
    pub fn program_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.program.len() * 8);
        for i in &self.program {
            out.extend_from_slice(&i.code.to_le_bytes());
            out.push(i.jt);
            out.push(i.jf);
            out.extend_from_slice(&i.k.to_le_bytes());
        }
        out
    }

    /// Rebuild a filter from [`program_bytes`](Self::program_bytes) and its flags, checking
    /// that the program is one this compiler could have produced.
    pub fn from_parts(bytes: &[u8], flags: u32, uses_notify: bool) -> Result<Self, bpf::Malformed> {
        if bytes.len() % 8 != 0 {
            return Err(bpf::Malformed { at: bytes.len() / 8, reason: "truncated instruction" });
        }
        let program: Vec<SockFilter> = bytes
            .chunks_exact(8)
            .map(|c| SockFilter {
                code: u16::from_le_bytes([c[0], c[1]]),
                jt: c[2],
                jf: c[3],
                k: u32::from_le_bytes([c[4], c[5], c[6], c[7]]),
            })
            .collect();
        bpf::validate(&program)?;
        Ok(CompiledFilter { program, flags, uses_notify, warnings: Vec::new(), skipped: Vec::new() })
    }

    /// Whether the filter lets the runtime's own x86-64 call `nr` through (`SCMP_ACT_ALLOW` or
    /// `SCMP_ACT_LOG`). Pointer arguments are unknown in advance and taken as 0, so a rule on
    /// them is judged as for a null pointer. Allocates nothing: usable in the child.
    pub fn allows(&self, nr: i64, args: [u64; 6]) -> bool {
        const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
        const ACTION_FULL: u32 = 0xffff_0000;
        const RET_ALLOW: u32 = 0x7fff_0000;
        const RET_LOG: u32 = 0x7ffc_0000;
        let data = SeccompData { nr: nr as i32, arch: AUDIT_ARCH_X86_64, instruction_pointer: 0, args };
        matches!(self.evaluate(&data).ret & ACTION_FULL, RET_ALLOW | RET_LOG)
    }

    /// Whether `execveat(fd, "", argv, envp, AT_EMPTY_PATH)` on the checked program may run
    /// after the filter; when not, the init executes the program by path with execve.
    pub fn allows_execveat_fd(&self, fd: i32) -> bool {
        self.allows(libc::SYS_execveat, [fd as u64, 0, 0, 0, libc::AT_EMPTY_PATH as u64, 0])
    }

    /// Whether `sendmsg`, which hands the notify fd over after the filter is loaded, may run:
    /// a profile that denies or notifies it would leave the fd stuck in the child.
    pub fn allows_notify_handover(&self) -> bool {
        self.allows(libc::SYS_sendmsg, [0; 6])
    }

    /// Run the program over `data` as the kernel would, counting instructions.
    pub fn evaluate(&self, data: &SeccompData) -> Evaluation {
        // Programs are validated when built or loaded, so this cannot fail; keep the kernel's
        // answer to a broken filter (kill) rather than panic if it ever did.
        bpf::run(&self.program, data).unwrap_or(Evaluation { ret: 0, executed: 0 })
    }
}

/// Compile `profile` for this host. Runs in the parent; allocates freely.
pub fn compile(profile: &Seccomp) -> Result<CompiledFilter, SeccompError> {
    if !cfg!(target_arch = "x86_64") {
        return Err(SeccompError::UnsupportedHost);
    }
    let resolved = profile::resolve(profile)?;
    let program = codegen::generate(&resolved)?;
    debug_assert!(bpf::validate(&program).is_ok());
    Ok(CompiledFilter {
        program,
        flags: resolved.flags,
        uses_notify: resolved.uses_notify,
        warnings: resolved.warnings,
        skipped: resolved.skipped,
    })
}

/// Install `filter` on the calling thread. Runs in the container's init as the last step
/// before execve (or, with a listener, before the wait for `start`); allocates nothing. Returns the notify listener when
/// [`CompiledFilter::uses_notify`]. See the module docs for what must come before.
pub fn install(filter: &CompiledFilter) -> Result<Option<OwnedFd>, SeccompError> {
    crate::sys::seccomp::set_mode_filter(&filter.program, filter.flags)
        .map_err(|source| SeccompError::Install { source })
}
