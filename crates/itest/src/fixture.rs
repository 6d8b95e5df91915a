//! One test's world: a temp directory with a bundle (busybox + reporter rootfs, config.json),
//! its own `--root` state directory, unique container ids, and a guard that deletes the
//! containers, checks that nothing leaked and removes the directory when the test ends.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::cleanup::{remove_tree, unmount_all_under};
use crate::leaks::Snapshot;
use crate::reporter::{has_interpreter, reporter_path};
use crate::runtime::{command, run_with_deadline, runtime, Outcome};
use crate::{note, skip};

/// Where the reporter lives inside every rootfs.
pub const REPORTER: &str = "/bin/ocirun-reporter";

/// How long one runtime invocation may take before the test fails.
pub const TIMEOUT: Duration = Duration::from_secs(30);

const APPLETS: &[&str] = &[
    "sh", "true", "false", "sleep", "cat", "ls", "echo", "id", "hostname", "mount", "umount", "ps", "env", "pwd",
    "stat", "readlink", "touch", "mkdir", "rm", "test", "grep", "wc", "tty", "stty", "printf", "kill", "head",
];

/// A test's directory, bundle, state root and containers. Dropping it cleans up and fails the
/// test if the runtime left mounts, cgroups, processes or state behind.
pub struct Test {
    /// The test's private directory; everything else lives under it.
    pub dir: PathBuf,
    /// `--root` for every runtime call.
    pub root: PathBuf,
    /// The bundle directory (holds config.json and rootfs/).
    pub bundle: PathBuf,
    /// The bundle's rootfs.
    pub rootfs: PathBuf,
    /// The main container id.
    pub id: String,
    /// The config written to `bundle/config.json` before each create/run.
    pub config: Value,
    io: PathBuf,
    ids: RefCell<Vec<String>>,
    before: Snapshot,
    cleanups: Vec<Box<dyn FnOnce()>>,
}

static SEQ: AtomicUsize = AtomicUsize::new(0);

impl Test {
    /// Sets up a fresh test, or prints why it cannot run here and returns `None`.
    pub fn new() -> Option<Test> {
        let busybox = match static_busybox() {
            Ok(b) => b,
            Err(why) => {
                skip(&why);
                return None;
            }
        };
        let rt = runtime();
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let dir = std::env::temp_dir().join(format!("ocirun-itest-{pid}-{n:03}"));
        let _ = std::fs::remove_dir(&dir);
        std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        let (root, bundle, io) = (dir.join("state"), dir.join("bundle"), dir.join("io"));
        let rootfs = bundle.join("rootfs");
        for d in [&root, &bundle, &io] {
            std::fs::create_dir_all(d).expect("create test dirs");
        }
        build_rootfs(&rootfs, &busybox);
        let id = format!("it-{pid}-{n:03}");
        let mut config = base_config();
        config["process"]["terminal"] = json!(false);
        config["process"]["args"] = json!([REPORTER, "report"]);
        config["root"] = json!({"path": "rootfs", "readonly": true});
        config["hostname"] = json!("itest");
        let before = Snapshot::take(&dir, &root, std::slice::from_ref(&id));
        let _ = rt;
        Some(Test {
            dir,
            root,
            bundle,
            rootfs,
            id: id.clone(),
            config,
            io,
            ids: RefCell::new(vec![id]),
            before,
            cleanups: Vec::new(),
        })
    }

    /// Another container id owned by this test (cleaned up like the main one).
    pub fn other_id(&self, suffix: &str) -> String {
        let id = format!("{}-{suffix}", self.id);
        self.ids.borrow_mut().push(id.clone());
        id
    }

    /// Runs `f` when the test ends, before the leak check (e.g. to delete a netns).
    pub fn on_cleanup(&mut self, f: impl FnOnce() + 'static) {
        self.cleanups.push(Box::new(f));
    }

    /// Sets `process.args`.
    pub fn args(&mut self, args: &[&str]) -> &mut Self {
        self.config["process"]["args"] = json!(args);
        self
    }

    /// Sets `process.args` to run the reporter with `args`.
    pub fn reporter_args(&mut self, args: &[&str]) -> &mut Self {
        let mut all = vec![REPORTER];
        all.extend_from_slice(args);
        self.args(&all)
    }

    /// Writes `self.config` to the bundle's config.json.
    pub fn write_config(&self) {
        let text = serde_json::to_string_pretty(&self.config).expect("config serialises");
        std::fs::write(self.bundle.join("config.json"), text).expect("write config.json");
    }

    /// A runtime command with `--root` set, not yet run.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = command(runtime());
        cmd.arg("--root").arg(&self.root).args(args);
        cmd
    }

    /// Runs an already built runtime command with the test's deadline and output capture.
    pub fn exec(&self, cmd: Command) -> Outcome {
        run_with_deadline(cmd, &self.io, TIMEOUT)
    }

    /// `runtime --root <root> ARGS...`
    pub fn rt(&self, args: &[&str]) -> Outcome {
        self.exec(self.command(args))
    }

    /// Writes the config and runs `run --bundle <bundle> <id>` in the foreground.
    pub fn run(&self) -> Outcome {
        self.write_config();
        self.rt(&["run", "--bundle", &self.bundle_str(), &self.id])
    }

    /// Writes the config and runs `create --bundle <bundle> <id>`.
    pub fn create(&self) -> Outcome {
        self.write_config();
        self.rt(&["create", "--bundle", &self.bundle_str(), &self.id])
    }

    /// `start <id>`.
    pub fn start(&self) -> Outcome {
        self.rt(&["start", &self.id])
    }

    /// `state <id>`, which must succeed and print JSON.
    #[track_caller]
    pub fn state(&self) -> Value {
        self.state_of(&self.id)
    }

    /// `state ID`, which must succeed and print JSON.
    #[track_caller]
    pub fn state_of(&self, id: &str) -> Value {
        let out = self.rt(&["state", id]);
        out.expect_ok();
        out.json()
    }

    /// Polls `state` until the status is `want`; fails the test after the deadline.
    #[track_caller]
    pub fn wait_status(&self, want: &str) -> Value {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let st = self.state();
            if st["status"] == want {
                return st;
            }
            assert!(Instant::now() < deadline, "container never reached {want:?}; last state {st}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Runs the reporter's `report` in a container and returns its JSON.
    #[track_caller]
    pub fn report(&mut self) -> Value {
        self.reporter_args(&["report"]);
        let out = self.run();
        out.expect_ok();
        out.json()
    }

    /// Runs the reporter with `args` to completion and returns the outcome.
    pub fn run_reporter(&mut self, args: &[&str]) -> Outcome {
        self.reporter_args(args);
        self.run()
    }

    /// The bundle path as a string.
    pub fn bundle_str(&self) -> String {
        self.bundle.to_string_lossy().into_owned()
    }

    /// A path under the test directory, as a string.
    pub fn path(&self, rel: &str) -> String {
        self.dir.join(rel).to_string_lossy().into_owned()
    }

    fn cleanup(&mut self) -> Snapshot {
        let ids = self.ids.borrow().clone();
        for id in &ids {
            let mut cmd = command(runtime());
            cmd.arg("--root").arg(&self.root).args(["delete", "-f", id]);
            // Best effort: most tests have already deleted their containers. A delete that
            // hangs is caught by the leak check below, so the deadline error is swallowed.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.exec(cmd)));
        }
        for f in self.cleanups.drain(..) {
            f();
        }
        // Processes of a deleted container may take a moment to be reaped.
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut leaked = Snapshot::take(&self.dir, &self.root, &ids).since(&self.before);
        while !leaked.processes.is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
            leaked = Snapshot::take(&self.dir, &self.root, &ids).since(&self.before);
        }
        for p in &leaked.processes {
            if let Some(pid) = p.split(':').next().and_then(|p| p.parse().ok()) {
                // The process is tied to this test's directory, so this test started it.
                let _ = crate::sys::kill(pid, libc::SIGKILL);
            }
        }
        if !leaked.processes.is_empty() {
            std::thread::sleep(Duration::from_millis(200));
        }
        for cg in leaked.cgroups.iter().rev() {
            let _ = std::fs::remove_dir(cg);
        }
        leaked
    }
}

impl Drop for Test {
    fn drop(&mut self) {
        let leaked = self.cleanup();
        let stuck = unmount_all_under(&self.dir);
        let removed = if stuck.is_empty() { remove_tree(&self.dir) } else { Ok(()) };
        if let Err(e) = &removed {
            note(&format!("cleanup: {e}"));
        }
        if !stuck.is_empty() {
            note(&format!("cleanup: left {} in place: mounts would not go: {stuck:?}", self.dir.display()));
        }
        if std::thread::panicking() {
            return;
        }
        assert!(leaked.is_empty(), "the runtime leaked resources: {leaked:#?}");
        assert!(stuck.is_empty(), "mounts left under the test directory: {stuck:?}");
    }
}

/// A statically linked busybox from the host, or why there is none.
fn static_busybox() -> Result<PathBuf, String> {
    static FOUND: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    FOUND
        .get_or_init(|| {
            let candidates = ["/usr/bin/busybox", "/bin/busybox", "/usr/sbin/busybox"];
            let path = candidates
                .iter()
                .map(PathBuf::from)
                .find(|p| p.is_file())
                .ok_or("no busybox on this host (apt-get install busybox-static)")?;
            let elf = std::fs::read(&path).map_err(|e| format!("read {}: {e}", path.display()))?;
            if has_interpreter(&elf) {
                return Err(format!("{} is dynamically linked (apt-get install busybox-static)", path.display()));
            }
            Ok(path)
        })
        .clone()
}

fn build_rootfs(rootfs: &Path, busybox: &Path) {
    for d in ["bin", "dev", "proc", "sys", "tmp", "etc", "root", "srv", "mnt", "run", "var"] {
        std::fs::create_dir_all(rootfs.join(d)).expect("create rootfs dirs");
    }
    copy_executable(busybox, &rootfs.join("bin/busybox"));
    for a in APPLETS {
        std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(a)).expect("applet symlink");
    }
    copy_executable(reporter_path(), &rootfs.join(&REPORTER[1..]));
    std::fs::write(rootfs.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/tmp:/bin/sh\n")
        .expect("write passwd");
    std::fs::write(rootfs.join("etc/group"), "root:x:0:\nuser:x:1000:\n").expect("write group");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(rootfs.join("tmp"), std::fs::Permissions::from_mode(0o1777)).expect("chmod tmp");
}

/// The runtime's own `spec` output (made once per run), or our default when it has none.
pub fn base_config() -> Value {
    static BASE: OnceLock<Value> = OnceLock::new();
    BASE.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("ocirun-itest-{}-spec", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let ok = command(runtime()).arg("spec").current_dir(&dir).status().is_ok_and(|s| s.success());
        let spec = std::fs::read_to_string(dir.join("config.json")).ok().filter(|_| ok);
        let _ = std::fs::remove_file(dir.join("config.json"));
        let _ = std::fs::remove_dir(&dir);
        match spec.and_then(|s| serde_json::from_str(&s).ok()) {
            Some(v) => v,
            None => {
                note("the runtime's `spec` gave no usable config; using the harness's default config");
                default_config()
            }
        }
    })
    .clone()
}

/// A default config with the same content as `runc spec` prints (OCI 1.0 defaults).
pub fn default_config() -> Value {
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": true,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps, "ambient": caps},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "runc",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
        ],
        "linux": {
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}],
            "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
        }
    })
}

/// Copy an executable for a test to run. The copy is made by `cp`, not in this process: a
/// write fd held here would be inherited by any child another test thread forks meanwhile,
/// and exec of the copy fails with ETXTBSY until that child has exec'd (seen in the rootless
/// tests on a fresh machine).
pub fn copy_executable(src: &Path, dst: &Path) {
    let ok = std::process::Command::new("cp")
        .arg("--")
        .arg(src)
        .arg(dst)
        .stdin(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "cp {} {} failed", src.display(), dst.display());
}
