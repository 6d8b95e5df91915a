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
//! | [`Runtime::checkpoint`] | save the processes with criu; unless left running, they end and the container is deleted | gone (or unchanged) |
//! | [`Runtime::restore`] | bring a checkpoint back as a new container of a bundle | `running` |
//! | [`Runtime::state`], [`Runtime::list`] | the OCI state document, all containers | — |
//! | [`Runtime::spawn`], [`Runtime::spawn_exec`] | like `run --detach` / `exec --detach`, returning the process as a [`Child`] to wait for or await | — |
//!
//! ```no_run
//! use ocirun::{CreateOptions, RunOptions, Runtime};
//! let rt = Runtime::new("/run/ocirun");
//! let code = rt.run("demo", &CreateOptions::new("/path/to/bundle"), &RunOptions::default())?;
//! println!("exit code {code}");
//! # Ok::<(), ocirun::Error>(())
//! ```
//!
//! Option structs ([`CreateOptions`], [`ExecOptions`], [`RunOptions`], [`ProcessOverrides`])
//! are `#[non_exhaustive]` so that new options do not break callers: build them with their
//! `new` (or `default`) and set the public fields.
//!
//! A spec can also be built in code instead of read from `config.json`: start from
//! [`spec::default::spec`] and pass it with [`CreateOptions::with_spec`]. The spec types are
//! plain structs with public fields, our own; with the `oci-spec` feature (off by default)
//! [`spec::Spec`] converts to and from `oci_spec::runtime::Spec` (`Spec::to_oci_spec`,
//! `Spec::from_oci_spec`, `TryFrom`).
//!
//! ## Threads
//!
//! The library is made to live inside multi-threaded daemons and async runtimes. Creating a
//! container or exec'ing into one forks the calling process (no `exec` of a runtime binary).
//! From a single-threaded program that is one `clone3`. From a multi-threaded program the
//! library first forks through glibc, whose fork handlers make the allocator usable in the
//! child, and only that single-threaded child clones the container's process; nothing in the
//! child depends on the caller's other threads. Many threads may call the library at once
//! (e.g. 200 execs from 8 threads: `tests/embed.rs`).
//!
//! Waiting never depends on signal delivery: every process the library waits for is held
//! through a pidfd, polled until it exits, and reaped with `waitid(P_PIDFD)`, which reaps
//! exactly that process. SIGCHLD is never blocked, taken or handled, so a SIGCHLD handler of
//! the caller (tokio's process module installs one) and its own children keep working.
//!
//! `run` and foreground `exec` block the calling thread until the process exits and forward
//! SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1/2, SIGWINCH and SIGCONT to it: they block those
//! in the calling thread only, while they wait, and read them from a signalfd. A signal sent
//! to the whole process is delivered to a thread that does not block it, if there is one, so
//! other threads that expect these signals still get them.
//!
//! The caller must not:
//! - hold a lock of its own that the child could need (the child only uses the library);
//! - rely on signal handlers in the child (they are reset to default there);
//! - reap the library's children with `waitpid(-1)` or set SIGCHLD to SIG_IGN: the exit
//!   status is then lost and the wait fails with [`Error::ReapedElsewhere`].
//!
//! ## Async runtimes
//!
//! [`Runtime::spawn`] and [`Runtime::spawn_exec`] return a [`Child`] without waiting. Its
//! pidfd ([`Child::pidfd`]; [`Child`] is also `AsFd` and `AsRawFd`) becomes readable when the
//! process exits, so an async runtime awaits it without a blocking thread, then calls
//! [`Child::try_wait`]. With tokio (`examples/tokio.rs`, `tests/external-consumer`):
//!
//! ```no_run
//! async fn wait(mut child: ocirun::container::child::Child) -> std::io::Result<i32> {
//!     let fd = child.pidfd().try_clone_to_owned()?;
//!     // SAFETY: the AsyncFd owns the OwnedFd, which stays open until it is dropped.
//!     let fd = unsafe { tokio::io::unix::AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }
//!         .map_err(std::io::Error::from)?;
//!     loop {
//!         if let Some(code) = child.try_wait().map_err(std::io::Error::other)? {
//!             return Ok(code);
//!         }
//!         fd.readable().await?.clear_ready();
//!     }
//! }
//! ```
//!
//! Starting a process (`spawn_exec`, `create`, `start`) blocks for the few milliseconds the
//! fork and the child's set-up take: call it through `spawn_blocking`. A plain threaded
//! program calls [`Child::wait`], which blocks only the calling thread (or simply
//! [`Runtime::exec`], which also forwards signals):
//!
//! ```no_run
//! use ocirun::container::exec::process_from;
//! use ocirun::{ExecOptions, ProcessOverrides, Runtime};
//! let rt = Runtime::new("/run/ocirun");
//! let base = rt.container_process("demo")?;
//! let opts = ExecOptions::new(process_from(&base, &ProcessOverrides::new(vec!["true".into()])));
//! let mut child = rt.spawn_exec("demo", &opts)?;
//! println!("pid {} exited with {}", child.pid(), child.wait()?);
//! # Ok::<(), ocirun::Error>(())
//! ```
//!
//! ## Logging
//!
//! Warnings (a poststart hook that failed, an ambient capability not raised, ...) go through
//! the [`log`](https://docs.rs/log) facade; the library never writes to stderr itself. The
//! program decides where they go by installing a logger (the `ocirun` command installs one
//! that prints to stderr and to `--log`); without one they are dropped.
//!
//! ## Errors
//!
//! Every call returns [`Error`], whose [`Error::kind`] is a stable [`ErrorKind`] to match on
//! (not found, already exists, invalid spec, wrong state, permission, unsupported, ...). The
//! `Display` text says what failed, on which path or field, and what to do. A failure inside
//! the container's set-up, before or after `start` (a missing or non-executable program
//! included), arrives as data: [`Error::child_error`] gives the
//! [`ChildError`](process::sync::ChildError) with the step, the message and the errno, so a
//! caller maps ENOENT/EACCES to 127/126 without parsing text.
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
pub(crate) mod hooks;
pub(crate) mod init;
pub(crate) mod lsm;
pub(crate) mod netdev;
pub mod process;
pub mod resctrl;
pub mod rootless;
pub mod seccomp;
pub mod spec;
pub mod state;
#[allow(unsafe_code)]
pub mod sys;

pub use container::child::Child;
pub use container::{
    CheckpointOptions, ContainerInfo, CreateOptions, ExecOptions, ManageCgroups, ProcessOverrides, RestoreOptions,
    RunOptions, Runtime,
};
pub use error::{Error, ErrorKind, Result};
