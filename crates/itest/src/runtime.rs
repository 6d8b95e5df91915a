//! Which runtime binary the suite drives, and running it with a deadline.
//!
//! `OCIRUN_TEST_RUNTIME` names the binary (ocirun, crun or runc: the tests are written against
//! the runc/crun command line). Without it the workspace's own `ocirun` is used, built first if
//! it is missing. The kind is recognised from the file name only to apply host setup that a
//! peer needs (crun 1.8's hugetlb mount) and to label notes; no test changes its expectations by
//! kind.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::note;

/// The runtime under test.
#[derive(Debug)]
pub struct Runtime {
    /// Path of the binary.
    pub path: PathBuf,
    /// What the file name says it is.
    pub kind: Kind,
}

/// Runtime families, recognised from the binary's file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Ours.
    Ocirun,
    /// containers/crun.
    Crun,
    /// opencontainers/runc.
    Runc,
    /// Anything else with a runc-compatible command line.
    Other,
}

/// The workspace root (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("workspace root exists")
}

/// The workspace's cargo target directory.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| workspace_root().join("target"))
}

/// The runtime under test, located (and for ocirun, built) on first use.
pub fn runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        let path = match std::env::var_os("OCIRUN_TEST_RUNTIME") {
            Some(p) => PathBuf::from(p),
            None => default_runtime(),
        };
        assert!(path.is_file(), "runtime {} does not exist", path.display());
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let kind = match name.as_str() {
            n if n.starts_with("ocirun") => Kind::Ocirun,
            n if n.starts_with("crun") => Kind::Crun,
            n if n.starts_with("runc") => Kind::Runc,
            _ => Kind::Other,
        };
        note(&format!("runtime under test: {} ({kind:?})", path.display()));
        if kind == Kind::Crun {
            crun_hugetlb_setup();
        }
        Runtime { path, kind }
    })
}

fn default_runtime() -> PathBuf {
    let target = target_dir();
    for profile in ["debug", "release"] {
        let p = target.join(profile).join("ocirun");
        if p.is_file() {
            return p;
        }
    }
    note("building ocirun (cargo build -p ocirun-cli) because no target/*/ocirun exists");
    let status = Command::new(env!("CARGO"))
        .args(["build", "-p", "ocirun-cli"])
        .current_dir(workspace_root())
        .status()
        .expect("cargo runs");
    assert!(status.success(), "cargo build -p ocirun-cli failed");
    target.join("debug/ocirun")
}

/// crun 1.8 refuses to create a container on a hybrid cgroup layout unless the hugetlb
/// controller is mounted as a v1 hierarchy. This host setup is done only when crun is the
/// runtime under test, and only if hugetlb is not already mounted; the mount is left in place
/// for the rest of the run (other runtimes work with or without it).
fn crun_hugetlb_setup() {
    let mounted = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .any(|l| l.split(' ').nth(4) == Some("/sys/fs/cgroup/hugetlb"));
    let v1 = Path::new("/sys/fs/cgroup/cpu").is_dir();
    if mounted || !v1 {
        return;
    }
    note("crun setup: mounting the v1 hugetlb controller at /sys/fs/cgroup/hugetlb (crun 1.8 needs it on a hybrid layout)");
    let _ = std::fs::create_dir_all("/sys/fs/cgroup/hugetlb");
    let ok = Command::new("mount")
        .args(["-t", "cgroup", "-o", "hugetlb", "cgroup", "/sys/fs/cgroup/hugetlb"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        note("crun setup: mounting hugetlb failed; crun may refuse every container");
    }
}

/// What one runtime invocation did.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The command line, for messages.
    pub cmdline: String,
    /// Exit code; `None` when killed by a signal.
    pub code: Option<i32>,
    /// Terminating signal, if any.
    pub signal: Option<i32>,
    /// Everything written to stdout (by the runtime and, for `run`, the container).
    pub stdout: String,
    /// Everything written to stderr.
    pub stderr: String,
    /// The file stdout went to; a detached container keeps writing to it after the runtime exits.
    pub stdout_path: PathBuf,
}

impl Outcome {
    /// Panics with the full outcome unless the exit code is `code`.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, Some(code), "unexpected exit status from {self}");
        self
    }

    /// Panics with the full outcome unless the command succeeded.
    #[track_caller]
    pub fn expect_ok(&self) -> &Self {
        self.expect_code(0)
    }

    /// Panics unless the command failed with a non-zero exit code and said something on stderr.
    #[track_caller]
    pub fn expect_failure(&self) -> &Self {
        assert!(matches!(self.code, Some(c) if c != 0), "expected failure from {self}");
        assert!(!self.stderr.trim().is_empty(), "failure without a message on stderr: {self}");
        self
    }

    /// Parses stdout as one JSON value (the last non-empty line if there are several values).
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        if let Ok(v) = serde_json::from_str(&self.stdout) {
            return v;
        }
        let last = self.stdout.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("");
        serde_json::from_str(last).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self}"))
    }
}

impl Outcome {
    /// Waits until the stdout file (still written by a detached container) contains `needle`.
    #[track_caller]
    pub fn wait_stdout(&self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let now = read_lossy(&self.stdout_path);
            if now.contains(needle) {
                return now;
            }
            assert!(Instant::now() < deadline, "container output never contained {needle:?}; got {now:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// What the stdout file holds now.
    pub fn stdout_now(&self) -> String {
        read_lossy(&self.stdout_path)
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` -> code {:?} signal {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.cmdline, self.code, self.signal, self.stdout, self.stderr
        )
    }
}

/// Runs `cmd` with stdin from /dev/null unless set, stdout and stderr to files in `io_dir`
/// (a container started by `create` keeps pipes open, so files are the only safe sink), and
/// kills it if it is still running after `timeout`.
pub fn run_with_deadline(mut cmd: Command, io_dir: &Path, timeout: Duration) -> Outcome {
    static SEQ: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let out_path = io_dir.join(format!("cmd{n}.out"));
    let err_path = io_dir.join(format!("cmd{n}.err"));
    let cmdline = format!("{:?}", cmd).replace('"', "");
    cmd.stdout(File::create(&out_path).expect("create stdout file"));
    cmd.stderr(File::create(&err_path).expect("create stderr file"));
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot spawn {cmdline}: {e}"));
    let deadline = Instant::now() + timeout;
    let status: ExitStatus = loop {
        if let Some(s) = child.try_wait().expect("wait for runtime") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("timed out after {timeout:?}: {cmdline}\nstderr so far: {}", read_lossy(&err_path));
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    use std::os::unix::process::ExitStatusExt;
    Outcome {
        cmdline,
        code: status.code(),
        signal: status.signal(),
        stdout: read_lossy(&out_path),
        stderr: read_lossy(&err_path),
        stdout_path: out_path,
    }
}

/// Builds a command for the runtime binary with stdin from /dev/null, and without a
/// `NOTIFY_SOCKET` the test run may have inherited (from a systemd unit): with it, every
/// `start` would wait for a READY=1 that the test containers never send. Tests of the relay
/// set it themselves.
pub fn command(rt: &Runtime) -> Command {
    let mut cmd = Command::new(&rt.path);
    cmd.stdin(Stdio::null());
    cmd.env_remove("NOTIFY_SOCKET");
    cmd
}

fn read_lossy(p: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned()
}
