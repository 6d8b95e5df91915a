//! # ocirun
//!
//! An OCI container runtime as a library. Everything the `ocirun` command does is a call on
//! [`Runtime`]; the command-line tool is a thin layer over this API, so nothing it can do is
//! out of a program's reach.
//!
//! ## Lifecycle
//!
//! A container is made from a *bundle*: a directory with a `config.json` (the OCI runtime
//! spec, parsed into [`spec::Spec`]) and a root filesystem.
//!
//! | call | what happens | status after |
//! |---|---|---|
//! | [`Runtime::create`] | validate the spec, create the cgroup, clone the init into its namespaces, set up the root filesystem; the init then waits | `created` |
//! | [`Runtime::start`] | the init runs the user's program (startContainer/poststart hooks run) | `running` |
//! | [`Runtime::run`] | create + start, and (unless detached) wait for the exit code and delete | — |
//! | [`Runtime::exec`] | run another process in the container's namespaces and cgroup | unchanged |
//! | [`Runtime::kill`] | signal the init (or all processes) through a pidfd | `stopped` once it exits |
//! | [`Runtime::delete`] | kill what is left, remove the cgroup and state, run poststop hooks | gone |
//! | [`Runtime::state`], [`Runtime::list`] | the OCI state document, all containers | — |
//!
//! ```no_run
//! use ocirun::{CreateOptions, RunOptions, Runtime};
//! let rt = Runtime::new("/run/ocirun");
//! let opts = CreateOptions { bundle: "/path/to/bundle".into(), ..Default::default() };
//! let code = rt.run("demo", &opts, &RunOptions::default())?;
//! println!("exit code {code}");
//! # Ok::<(), ocirun::Error>(())
//! ```
//!
//! A spec can also be built in code instead of read from `config.json`: start from
//! [`spec::default::spec`] and set [`CreateOptions::spec`]. The spec types are plain structs
//! with public fields (our own, not the `oci-spec` crate's: see [`spec`]).
//!
//! ## Threads
//!
//! Creating a container or exec'ing into one forks the calling process (no `exec` of a
//! runtime binary). From a single-threaded program that is one `clone3`. From a
//! multi-threaded program (e.g. under tokio) the library first forks through glibc, whose
//! fork handlers make the allocator usable in the child, and only that single-threaded child
//! clones the container's process; nothing in the child depends on the caller's other
//! threads. The caller must not:
//! - hold a lock of its own that the child could need (the child only uses the library);
//! - rely on signal handlers in the child (they are reset to default there);
//! - reap children with `waitpid(-1)` from another thread while `run`/`exec` wait for theirs.
//!
//! `run` and foreground `exec` block the calling thread until the process exits and
//! forward SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1/2, SIGWINCH and SIGCONT to it; they block
//! those signals in the calling thread while they wait.
//!
//! ## Errors
//!
//! Every call returns [`Error`], whose [`Error::kind`] is a stable [`ErrorKind`] to match on
//! (not found, already exists, invalid spec, wrong state, permission, unsupported, ...). The
//! `Display` text says what failed, on which path or field, and what to do; errors from inside
//! the container's set-up arrive as data ([`process::sync::ChildError`]: step, message, errno).
//!
//! ## Privileges
//!
//! Creating containers needs root (CAP_SYS_ADMIN and friends) unless the spec has a user
//! namespace and the caller runs rootless. Reading state (`state`, `list`) only needs access
//! to the state root.
#![deny(missing_docs)]
#![deny(unsafe_code)]

pub mod cgroups;
pub mod container;
pub mod error;
pub mod features;
pub mod hooks;
pub(crate) mod init;
pub mod lsm;
pub mod netdev;
pub mod process;
pub mod resctrl;
pub mod rootless;
pub mod seccomp;
pub mod spec;
pub mod state;
#[allow(unsafe_code)]
pub mod sys;

pub use container::{ContainerInfo, CreateOptions, ExecOptions, ProcessOverrides, RunOptions, Runtime};
pub use error::{Error, ErrorKind, Result};
