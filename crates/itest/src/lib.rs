//! Harness for ocirun's integration tests: they drive a runtime binary (ocirun, crun or runc)
//! through its runc-compatible command line on the real kernel, as root.
//!
//! - [`runtime`] finds the binary under test and runs it with a deadline.
//! - [`reporter`] builds the static `ocirun-reporter` that runs inside containers.
//! - [`fixture`] gives each test its own directory, bundle, state root and container ids, and
//!   cleans all of it up (checking that nothing leaked) when the test ends.
//! - [`cleanup`] removes directories without ever following a leftover bind mount into the host.
//! - [`leaks`] snapshots the mounts, cgroups and processes a test owns.
//! - [`console`] receives a pty master over `--console-socket`.
//!
//! The tests themselves live in `tests/runtime/`, one binary, so `cargo test -p itest` ends
//! on a single cargo summary line. Run as root:
//!
//! ```text
//! cargo test -p itest                                   # the workspace's ocirun (built if missing)
//! OCIRUN_TEST_RUNTIME=/usr/sbin/runc cargo test -p itest
//! OCIRUN_TEST_RUNTIME=/usr/bin/crun cargo test -p itest # mounts v1 hugetlb if absent (crun 1.8)
//! cargo test -p itest -- hooks::                        # one area
//! ```
//!
//! Tests run in parallel (each has its own directory, `--root` and ids); `--test-threads 1`
//! serialises them if cgroup contention is suspected. `OCIRUN_TEST_REPORTER` may name a prebuilt
//! static reporter. Skips and host setup are printed as `[test::name] SKIP: why` on stderr.

pub mod cleanup;
pub mod console;
pub mod fixture;
pub mod host;
pub mod leaks;
pub mod reporter;
pub mod runtime;
#[allow(unsafe_code)]
pub mod sys;

pub use fixture::{Test, REPORTER};
pub use runtime::{runtime, Kind, Outcome};

use std::io::Write;

/// Prints a line that cargo's test output capture does not swallow (it only captures the
/// `print!` family), so skips and host setup are visible in a passing run.
pub fn note(msg: &str) {
    let name = std::thread::current().name().unwrap_or("itest").to_string();
    let _ = writeln!(std::io::stderr(), "[{name}] {msg}");
}

/// Announces that the current test skips, and why. The caller returns right after.
pub fn skip(reason: &str) {
    note(&format!("SKIP: {reason}"));
}
