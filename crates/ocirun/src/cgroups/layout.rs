//! Which cgroup hierarchies this host has and where they are mounted, read from the mount
//! table (`/proc/self/mountinfo`, or any file given to [`Layout::detect_at`] so the logic is
//! tested on a fake table).
//!
//! A `cgroup` (v1) mount lists its controllers in its super options (`rw,cpu,cpuacct`); a
//! `cgroup2` mount is the unified hierarchy. Named v1 hierarchies (`name=systemd`) carry no
//! controller and are not ours to manage, so they are left out.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{CgroupError, Result};

/// The v1 controllers we know how to place a container in.
pub const V1_CONTROLLERS: &[&str] = &[
    "cpu",
    "cpuacct",
    "cpuset",
    "memory",
    "devices",
    "freezer",
    "blkio",
    "pids",
    "hugetlb",
    "net_cls",
    "net_prio",
    "perf_event",
    "rdma",
    "misc",
];

/// The cgroup hierarchies of the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "mode")]
pub enum Layout {
    /// Pure cgroup v2: one unified hierarchy.
    V2 {
        /// Mount point of the `cgroup2` file system.
        root: PathBuf,
    },
    /// Pure cgroup v1.
    V1 {
        /// Controller name → mount point of its hierarchy (co-mounted controllers share one).
        controllers: BTreeMap<String, PathBuf>,
    },
    /// v1 controllers plus a `cgroup2` mount.
    Hybrid {
        /// Controller name → mount point of its v1 hierarchy.
        controllers: BTreeMap<String, PathBuf>,
        /// Mount point of the `cgroup2` file system.
        unified: PathBuf,
    },
}

impl Layout {
    /// Detect the layout from `/proc/self/mountinfo`.
    pub fn detect() -> Result<Layout> {
        Layout::detect_at(Path::new("/proc/self/mountinfo"))
    }

    /// Detect the layout from a mountinfo-format file.
    pub fn detect_at(mountinfo: &Path) -> Result<Layout> {
        let text = std::fs::read_to_string(mountinfo)
            .map_err(|source| CgroupError::ReadMountInfo { path: mountinfo.to_path_buf(), source })?;
        Layout::parse(&text).ok_or_else(|| CgroupError::NoCgroupMounts { path: mountinfo.to_path_buf() })
    }

    /// Build the layout from mountinfo text; `None` when no cgroup file system is mounted.
    pub fn parse(mountinfo: &str) -> Option<Layout> {
        let mut controllers = BTreeMap::new();
        let mut unified: Option<PathBuf> = None;
        for line in mountinfo.lines() {
            let Some(m) = MountLine::parse(line) else {
                continue;
            };
            match m.fstype {
                "cgroup2" => {
                    // Prefer the canonical place when the hierarchy is mounted more than once.
                    let canonical = m.mount_point == Path::new("/sys/fs/cgroup");
                    if unified.is_none() || canonical {
                        unified = Some(m.mount_point);
                    }
                }
                "cgroup" => {
                    for opt in m.super_opts.split(',') {
                        if V1_CONTROLLERS.contains(&opt) {
                            controllers.entry(opt.to_string()).or_insert_with(|| m.mount_point.clone());
                        }
                    }
                }
                _ => {}
            }
        }
        match (controllers.is_empty(), unified) {
            (true, Some(root)) => Some(Layout::V2 { root }),
            (false, Some(unified)) => Some(Layout::Hybrid { controllers, unified }),
            (false, None) => Some(Layout::V1 { controllers }),
            (true, None) => None,
        }
    }

    /// The v1 controllers and their mount points (empty on pure v2).
    pub fn v1_controllers(&self) -> Option<&BTreeMap<String, PathBuf>> {
        match self {
            Layout::V2 { .. } => None,
            Layout::V1 { controllers } | Layout::Hybrid { controllers, .. } => Some(controllers),
        }
    }

    /// The `cgroup2` mount point, on v2 and hybrid hosts.
    pub fn unified(&self) -> Option<&Path> {
        match self {
            Layout::V2 { root } => Some(root),
            Layout::Hybrid { unified, .. } => Some(unified),
            Layout::V1 { .. } => None,
        }
    }

    /// Whether resources are written the v2 way (pure unified hierarchy).
    pub fn is_v2(&self) -> bool {
        matches!(self, Layout::V2 { .. })
    }
}

/// The fields of one mountinfo line we need (see `proc(5)`).
struct MountLine<'a> {
    mount_point: PathBuf,
    fstype: &'a str,
    super_opts: &'a str,
}

impl<'a> MountLine<'a> {
    fn parse(line: &'a str) -> Option<MountLine<'a>> {
        // id parent maj:min root mount-point opts [optional...] - fstype source super-opts
        let (head, tail) = line.split_once(" - ")?;
        let mount_point = head.split(' ').nth(4)?;
        let mut tail = tail.split(' ');
        let fstype = tail.next()?;
        let _source = tail.next()?;
        let super_opts = tail.next().unwrap_or("");
        Some(MountLine { mount_point: PathBuf::from(unescape(mount_point)), fstype, super_opts })
    }
}

/// Undo mountinfo's octal escapes (`\040` for a space, `\011`, `\012`, `\134`).
pub(crate) fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            let digit = |k: usize| u32::from(b[i + k] - b'0');
            // Out-of-range escapes (above \377) cannot come from the kernel; keep the low byte.
            out.push((digit(1) * 64 + digit(2) * 8 + digit(3)) as u8);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime shared:5 - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
";

    #[test]
    fn hybrid_lists_v1_controllers_and_the_unified_mount() {
        let l = Layout::parse(HYBRID).expect("layout");
        let Layout::Hybrid { controllers, unified } = &l else { panic!("not hybrid: {l:?}") };
        assert_eq!(unified, Path::new("/sys/fs/cgroup/unified"));
        assert_eq!(controllers["cpu"], Path::new("/sys/fs/cgroup/cpu,cpuacct"));
        assert_eq!(controllers["cpuacct"], Path::new("/sys/fs/cgroup/cpu,cpuacct"));
        assert_eq!(controllers["memory"], Path::new("/sys/fs/cgroup/memory"));
        assert!(!controllers.contains_key("systemd") && !controllers.contains_key("name=systemd"));
        assert_eq!(controllers.len(), 4);
    }

    #[test]
    fn pure_v1_and_pure_v2() {
        let v1: String = HYBRID.lines().filter(|l| !l.contains("cgroup2")).map(|l| format!("{l}\n")).collect();
        assert!(matches!(Layout::parse(&v1), Some(Layout::V1 { .. })));
        let v2 = "25 1 0:22 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n";
        assert_eq!(Layout::parse(v2), Some(Layout::V2 { root: "/sys/fs/cgroup".into() }));
        assert_eq!(Layout::parse("27 1 254:0 / / rw - ext4 /dev/vda rw\n"), None);
    }

    #[test]
    fn canonical_cgroup2_mount_wins_and_escapes_are_undone() {
        let t = "1 1 0:1 / /run/my\\040cg rw - cgroup2 cgroup2 rw\n2 1 0:1 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        assert_eq!(Layout::parse(t), Some(Layout::V2 { root: "/sys/fs/cgroup".into() }));
        let t = "1 1 0:1 / /run/my\\040cg rw - cgroup2 cgroup2 rw\n";
        assert_eq!(Layout::parse(t), Some(Layout::V2 { root: "/run/my cg".into() }));
    }

    #[test]
    fn detect_at_reads_a_file_and_names_it_on_error() {
        let dir = super::super::tests_tree::TempDir::new("layout");
        let p = dir.path().join("mountinfo");
        std::fs::write(&p, HYBRID).expect("write");
        assert!(matches!(Layout::detect_at(&p), Ok(Layout::Hybrid { .. })));
        let missing = dir.path().join("nope");
        let e = Layout::detect_at(&missing).expect_err("missing file");
        assert!(e.to_string().contains("nope"), "{e}");
    }

    #[test]
    fn this_host_is_detected() {
        let l = Layout::detect().expect("detect");
        println!("host layout: {l:?}");
    }
}
