//! Host-wide checks for the reliability tests (stress, faults, hostile bundles): what the whole
//! host looks like, not only one test's directory.
//!
//! [`crate::leaks::Snapshot`] looks only at what is tied to a test's directory. A runtime that
//! mounts on the host outside that directory (a symlink escape), leaves a process whose root and
//! command line say nothing about the test, or leaves a cgroup under another name would pass it.
//! So these tests also compare the host's whole mount table, find container processes by a
//! marker in their environment, and list every cgroup the runtime made under `ocirun/`.
//!
//! Other tests of the same binary and other people's work on the machine (container engines,
//! other worktrees' suites) mount and unmount at the same time, under the temp directory and
//! the engines' usual places: those are left out of the comparison, except the calling test's
//! own directory.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::cleanup::unescape;

/// One mount as the host sees it: mount point, file system type and source.
pub type MountEntry = (String, String, String);

/// Where others may mount while a test runs (see the module doc).
const OTHERS: &[&str] = &["/run/netns/", "/run/containers/", "/var/lib/containers/", "/run/user/"];

/// The host's mount table (this process's mount namespace), less what others mount while the
/// test runs. `mine` (the calling test's directory) is kept.
pub fn host_mounts(mine: &Path) -> BTreeSet<MountEntry> {
    let tmp = std::env::temp_dir();
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    info.lines()
        .filter_map(|l| {
            let fields: Vec<&str> = l.split(' ').collect();
            let mnt = unescape(fields.get(4)?);
            let dash = fields.iter().position(|f| *f == "-")?;
            let fstype = fields.get(dash + 1)?.to_string();
            let source = unescape(fields.get(dash + 2)?);
            Some((mnt, fstype, source))
        })
        .filter(|(mnt, _, _)| {
            let p = Path::new(mnt);
            let others_tmp = p.starts_with(&tmp) && p != tmp && !p.starts_with(mine);
            !others_tmp && !OTHERS.iter().any(|o| mnt.starts_with(o))
        })
        .collect()
}

/// What appeared in and disappeared from the host's mount table since `before`, as text for a
/// failure message; empty when nothing changed.
pub fn mount_changes(before: &BTreeSet<MountEntry>, mine: &Path) -> String {
    let after = host_mounts(mine);
    let mut out = String::new();
    for m in after.difference(before) {
        out.push_str(&format!("  + {m:?}\n"));
    }
    for m in before.difference(&after) {
        out.push_str(&format!("  - {m:?}\n"));
    }
    out
}

/// The environment entry put into every container of a reliability test, so its processes can
/// be found whatever their root, cwd or command line.
pub fn marker_env(marker: &str) -> String {
    format!("OCIRUN_ITEST_MARK={marker}")
}

/// `pid: cmdline` of live (non-zombie) processes whose environment holds `marker_env(marker)`.
pub fn marked_processes(marker: &str) -> BTreeSet<String> {
    let needle = marker_env(marker).into_bytes();
    let mut found = BTreeSet::new();
    let Ok(procs) = fs::read_dir("/proc") else { return found };
    for p in procs.flatten() {
        let pid = p.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(env) = fs::read(p.path().join("environ")) else { continue };
        if !env.split(|b| *b == 0).any(|e| e == needle.as_slice()) {
            continue;
        }
        let stat = fs::read_to_string(p.path().join("stat")).unwrap_or_default();
        if stat.rsplit_once(") ").is_some_and(|(_, rest)| rest.starts_with('Z')) {
            continue;
        }
        let cmdline = fs::read(p.path().join("cmdline")).unwrap_or_default();
        found.insert(format!("{pid}: {}", String::from_utf8_lossy(&cmdline).replace('\0', " ").trim_end()));
    }
    found
}

/// Waits up to `timeout` for the marked processes to be gone (a killed init takes a moment to be
/// reaped by its parent); returns those still there.
pub fn wait_marked_gone(marker: &str, timeout: Duration) -> BTreeSet<String> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = marked_processes(marker);
        if left.is_empty() || Instant::now() > deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// SIGKILLs the marked processes (cleanup after a failed check, so one failure does not leave
/// sleepers behind for the rest of the suite).
pub fn kill_marked(marker: &str) {
    for p in marked_processes(marker) {
        if let Some(pid) = p.split(':').next().and_then(|p| p.parse().ok()) {
            let _ = crate::sys::kill(pid, libc::SIGKILL);
        }
    }
}

/// Every directory under an `ocirun/` cgroup parent in every hierarchy (where the runtime puts
/// containers without a `cgroupsPath`) whose name starts with `prefix`.
pub fn runtime_cgroups(prefix: &str) -> BTreeSet<PathBuf> {
    let mut found = BTreeSet::new();
    let Ok(hierarchies) = fs::read_dir("/sys/fs/cgroup") else { return found };
    for h in hierarchies.flatten() {
        let Ok(entries) = fs::read_dir(h.path().join("ocirun")) else { continue };
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) && e.file_name().to_string_lossy().starts_with(prefix) {
                found.insert(e.path());
            }
        }
    }
    found
}

/// Removes leftover cgroup directories (children first), so a failed check does not leave them
/// to the next run.
pub fn remove_cgroups(dirs: &BTreeSet<PathBuf>) {
    for d in dirs.iter().rev() {
        let _ = fs::remove_dir(d);
    }
}

/// Entries left in a runtime state root, other than the seccomp cache.
pub fn state_entries(root: &Path) -> Vec<String> {
    let Ok(rd) = fs::read_dir(root) else { return Vec::new() };
    let mut names: Vec<String> =
        rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).filter(|n| n != "seccomp-cache").collect();
    names.sort();
    names
}

/// Whether an outcome shows the runtime crashed rather than failed cleanly: killed by a signal
/// (a panic aborts in release builds), Rust's panic exit code 101, or a panic message.
pub fn crashed(out: &crate::Outcome) -> bool {
    out.signal.is_some() || out.code == Some(101) || out.stderr.contains("panicked")
}

/// A small xorshift generator: the tests' randomness is reproducible from the seed they print.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// Seeded from `var` in the environment if set, else from the clock. Prints the seed.
    pub fn from_env(var: &str) -> Rng {
        let seed = std::env::var(var)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1));
        crate::note(&format!("seed {seed} (set {var}={seed} to replay)"));
        Rng::new(seed)
    }

    /// A generator from a fixed seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// A generator for another thread, derived from this one.
    pub fn fork(&mut self) -> Rng {
        Rng::new(self.next_u64() ^ 0x9e37_79b9_7f4a_7c15)
    }

    /// A random container id: letters and digits, 6 to 40 characters, after `prefix`.
    pub fn id(&mut self, prefix: &str) -> String {
        const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789_.+-";
        let len = 6 + self.below(35) as usize;
        let mut id = prefix.to_string();
        for i in 0..len {
            // The last character stays alphanumeric only for readability in messages.
            let n = if i + 1 == len { 36 } else { CHARS.len() as u64 };
            id.push(CHARS[self.below(n) as usize] as char);
        }
        id
    }
}

/// An environment variable as a number, or `default`.
pub fn env_usize(var: &str, default: usize) -> usize {
    std::env::var(var).ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

/// Runs `check`, which asserts the right behaviour, for a bug that is reported and not fixed yet
/// (`bug` names it as in the reliability report). While the bug is there the check fails and
/// this only prints that it is still present; once the check passes this fails, so whoever fixes
/// the bug is told to drop the wrapper and the check guards the fix from then on.
pub fn known_bug(bug: &str, check: impl FnOnce()) {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(check)) {
        Err(e) => {
            let msg = panic_text(&*e);
            crate::note(&format!("known bug {bug} still present: {}", msg.lines().next().unwrap_or("")));
        }
        Ok(()) => panic!("known bug {bug} looks fixed: remove its known_bug wrapper so the check guards the fix"),
    }
}

/// The message of a caught panic.
pub fn panic_text(e: &(dyn std::any::Any + Send)) -> String {
    e.downcast_ref::<String>().cloned().or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default()
}
