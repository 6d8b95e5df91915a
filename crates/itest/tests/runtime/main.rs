//! Integration tests for a runc/crun-compatible runtime CLI, run as root on the real kernel.
//!
//! The runtime is `OCIRUN_TEST_RUNTIME` or the workspace's `ocirun`. Each module is one area of
//! behaviour; a module named after a feature (hooks, console, fds, namespaces) fails until the
//! runtime has that feature. Tests run in parallel: each has its own directory, `--root` and
//! container ids.

mod cgroups;
mod cli;
mod console;
mod errors;
mod exec;
mod fds;
mod filesystem;
mod harness;
mod hooks;
mod lifecycle;
mod namespaces;
mod process;
mod systemd;
