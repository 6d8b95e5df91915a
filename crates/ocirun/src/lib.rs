//! # ocirun
//!
//! An OCI container runtime as a library: everything the `ocirun` command does (create, start,
//! run, exec, kill, delete, state, list, ...) is a call on [`Runtime`], so a program can manage
//! containers without spawning a runtime process.
//!
//! ```no_run
//! use ocirun::{Runtime, CreateOptions, RunOptions};
//! let rt = Runtime::new("/run/ocirun");
//! let opts = CreateOptions { bundle: "/path/to/bundle".into(), ..Default::default() };
//! let code = rt.run("demo", &opts, &RunOptions::default())?;
//! println!("exit code {code}");
//! # Ok::<(), ocirun::Error>(())
//! ```
//!
//! Threads: creating a container forks the calling process (clone3, without exec). The child
//! allocates, so call `create`/`run`/`exec` from a program that is single-threaded at that
//! moment, or make sure no other thread holds the allocator's or stdio's locks (see the guide
//! in the README).
#![deny(missing_docs)]
#![deny(unsafe_code)]

pub mod cgroups;
pub mod container;
pub mod error;
pub mod features;
pub mod hooks;
pub mod init;
pub mod log;
pub mod lsm;
pub mod process;
pub mod rootless;
pub mod seccomp;
pub mod spec;
pub mod state;
#[allow(unsafe_code)]
pub mod sys;

pub use container::{ContainerInfo, CreateOptions, ExecOptions, ProcessOverrides, RunOptions, Runtime};
pub use error::{Error, ErrorKind, Result};
