//! What a test may leave behind, and a check that it left none of it.
//!
//! Tests run in parallel, so a global before/after diff of the host would blame one test for
//! another's containers. A snapshot therefore looks only at what belongs to one test: mounts at
//! or under its directory, cgroup directories named after its container ids, processes whose
//! root, cwd or command line points into its directory, and its ids in the state root.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use crate::cleanup::mounts_under;

/// The host resources that belong to one test at one moment.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// Mount points at or under the test directory.
    pub mounts: BTreeSet<PathBuf>,
    /// cgroup directories (any hierarchy) whose name contains one of the test's ids.
    pub cgroups: BTreeSet<PathBuf>,
    /// `pid: cmdline` of processes tied to the test directory.
    pub processes: BTreeSet<String>,
    /// Entries named after the test's ids in the runtime's state root.
    pub state: BTreeSet<PathBuf>,
}

impl Snapshot {
    /// Takes a snapshot for a test living in `dir` with containers `ids` and state root `root`.
    pub fn take(dir: &Path, root: &Path, ids: &[String]) -> Snapshot {
        Snapshot {
            mounts: mounts_under(dir).into_iter().collect(),
            cgroups: cgroup_dirs(ids),
            processes: processes_under(dir),
            state: ids.iter().map(|id| root.join(id)).filter(|p| p.exists()).collect(),
        }
    }

    /// Everything in `self` that was not in `before`.
    pub fn since(&self, before: &Snapshot) -> Snapshot {
        Snapshot {
            mounts: self.mounts.difference(&before.mounts).cloned().collect(),
            cgroups: self.cgroups.difference(&before.cgroups).cloned().collect(),
            processes: self.processes.difference(&before.processes).cloned().collect(),
            state: self.state.difference(&before.state).cloned().collect(),
        }
    }

    /// Whether nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.mounts.is_empty() && self.cgroups.is_empty() && self.processes.is_empty() && self.state.is_empty()
    }
}

/// cgroup directories up to four levels deep in every hierarchy whose name contains an id.
pub fn cgroup_dirs(ids: &[String]) -> BTreeSet<PathBuf> {
    let mut found = BTreeSet::new();
    if ids.is_empty() {
        return found;
    }
    let Ok(roots) = fs::read_dir("/sys/fs/cgroup") else {
        return found;
    };
    for root in roots.flatten() {
        walk(&root.path(), 4, ids, &mut found);
    }
    found
}

fn walk(dir: &Path, depth: usize, ids: &[String], found: &mut BTreeSet<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        if !e.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let name = e.file_name().to_string_lossy().into_owned();
        if ids.iter().any(|id| name.contains(id.as_str())) {
            found.insert(e.path());
        }
        if depth > 1 {
            walk(&e.path(), depth - 1, ids, found);
        }
    }
}

/// Processes whose root or cwd is in `dir`, or whose command line mentions it.
pub fn processes_under(dir: &Path) -> BTreeSet<String> {
    let me = std::process::id().to_string();
    let needle = dir.to_string_lossy().into_owned();
    let mut found = BTreeSet::new();
    let Ok(procs) = fs::read_dir("/proc") else {
        return found;
    };
    for p in procs.flatten() {
        let pid = p.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|b| b.is_ascii_digit()) || pid == me {
            continue;
        }
        let base = p.path();
        let cmdline =
            fs::read(base.join("cmdline")).map(|c| String::from_utf8_lossy(&c).replace('\0', " ")).unwrap_or_default();
        let tied = ["root", "cwd"].iter().any(|l| fs::read_link(base.join(l)).is_ok_and(|t| t.starts_with(dir)))
            || cmdline.contains(&needle);
        // A zombie is its parent's to reap, not a leak. (An empty cmdline is no sign of one: a
        // process in the middle of execve briefly has none.)
        let stat = fs::read_to_string(base.join("stat")).unwrap_or_default();
        let zombie = stat.rsplit_once(") ").is_some_and(|(_, rest)| rest.starts_with('Z'));
        if tied && !zombie {
            found.insert(format!("{pid}: {}", cmdline.trim_end()));
        }
    }
    found
}
