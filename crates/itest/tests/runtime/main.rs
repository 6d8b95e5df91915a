//! Integration tests for a runc/crun-compatible runtime CLI, run as root on the real kernel.
//!
//! The runtime is `OCIRUN_TEST_RUNTIME` or the workspace's `ocirun`. Each module is one area of
//! behaviour; a module named after a feature (hooks, console, ...) fails until the runtime has
//! that feature.

mod lifecycle;
