//! What the library's own tests share: a busybox bundle in a temp dir, made in code (the
//! default spec of `ocirun spec`), and the checks a long-lived embedding program cares about.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// A temp dir with a bundle whose process is `args`; removed on drop.
pub struct Bundle {
    pub dir: PathBuf,
}

impl Bundle {
    pub fn path(&self) -> PathBuf {
        self.dir.join("b")
    }
    pub fn state_root(&self) -> PathBuf {
        self.dir.join("root")
    }
}

impl Drop for Bundle {
    fn drop(&mut self) {
        let _ = std::process::Command::new("rm").arg("-rf").arg("--one-file-system").arg(&self.dir).status();
    }
}

fn static_busybox() -> Option<PathBuf> {
    let p = PathBuf::from("/bin/busybox");
    let out = std::process::Command::new("file").arg("-L").arg(&p).output().ok()?;
    String::from_utf8_lossy(&out.stdout).contains("statically linked").then_some(p)
}

/// The bundle, or `None` after printing why this test cannot run here.
pub fn bundle(name: &str, args: &[&str]) -> Option<Bundle> {
    if unsafe_free_euid() != 0 {
        println!("SKIPPED {name}: needs root");
        return None;
    }
    let Some(busybox) = static_busybox() else {
        println!("SKIPPED {name}: no static busybox at /bin/busybox (apt-get install busybox-static)");
        return None;
    };
    let dir = std::env::temp_dir().join(format!("ocirun-{name}-{}", std::process::id()));
    let b = Bundle { dir };
    let rootfs = b.path().join("rootfs");
    for d in ["bin", "proc", "dev", "sys", "tmp"] {
        std::fs::create_dir_all(rootfs.join(d)).unwrap();
    }
    std::fs::copy(&busybox, rootfs.join("bin/busybox")).unwrap();
    for app in ["sh", "sleep", "true", "cat"] {
        std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(app)).unwrap();
    }
    let mut spec = ocirun::spec::default::spec(false);
    let p = spec.process.get_or_insert_with(Default::default);
    p.terminal = false;
    p.args = args.iter().map(|s| s.to_string()).collect();
    std::fs::write(b.path().join("config.json"), serde_json::to_vec_pretty(&spec).unwrap()).unwrap();
    Some(b)
}

fn unsafe_free_euid() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(u32::MAX)
}

/// Open fds of this process.
pub fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0)
}

/// Children of this process that have exited and were never reaped.
pub fn zombies() -> Vec<String> {
    let me = std::process::id().to_string();
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else { continue };
        let Ok(st) = std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("status")) else {
            continue;
        };
        let field = |k: &str| st.lines().find_map(|l| l.strip_prefix(k)).map(|v| v.trim().to_string());
        if field("PPid:").as_deref() == Some(me.as_str()) && field("State:").is_some_and(|s| s.starts_with('Z')) {
            // The name (and the ppid's thread that made it) say which step left it.
            out.push(format!("{pid} {}", field("Name:").unwrap_or_default()));
        }
    }
    out
}

/// Run `f` on its own thread and fail the test, naming `what`, if it takes longer than
/// `secs`: a hang must be a failure, not a stuck test run.
pub fn within<T: Send + 'static>(what: &str, secs: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(std::time::Duration::from_secs(secs)) {
        Ok(v) => v,
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => panic!("{what}: no result within {secs}s (hang)"),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => panic!("{what}: panicked (see above)"),
    }
}
