//! Integration tests for a runc/crun-compatible runtime CLI, run as root on the real kernel.
//!
//! The runtime is `OCIRUN_TEST_RUNTIME` or the workspace's `ocirun`. Each module is one area of
//! behaviour; a module named after a feature (hooks, console, fds, namespaces) fails until the
//! runtime has that feature. Tests run in parallel: each has its own directory, `--root` and
//! container ids.

mod apparmor;
mod attributes;
mod bad_bundles;
mod cgroups;
mod checkpoint;
mod cli;
mod compat;
mod conformance;
mod console;
mod devices;
mod errors;
mod escapes;
mod exec;
mod faults;
mod fds;
mod filesystem;
mod harness;
mod hooks;
mod kernel;
mod lifecycle;
mod mounts;
mod namespaces;
mod netdev;
mod process;
mod rootless;
mod seccomp;
mod stress;
mod systemd;
