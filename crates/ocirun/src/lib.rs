//! # ocirun
//!
//! An OCI container runtime as a library: everything the `ocirun` command does (create, start,
//! run, exec, kill, delete, state, list, pause, resume, update, ps, events, features) is a call
//! here, so a program can manage containers without spawning a runtime process.
#![deny(missing_docs)]
#![deny(unsafe_code)]

pub mod cgroups;
pub mod error;
pub mod process;
pub mod seccomp;
pub mod spec;
#[allow(unsafe_code)]
pub mod sys;

pub use error::{Error, ErrorKind, Result};
