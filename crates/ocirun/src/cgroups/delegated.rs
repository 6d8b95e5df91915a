//! Rootless cgroups: which part of the hierarchy an unprivileged caller may manage.
//!
//! Only the unified (v2) hierarchy supports delegation to an unprivileged user: when the
//! caller's own cgroup directory and its `cgroup.procs` are writable by it (systemd chowns
//! them for `user@UID.service` with `Delegate=yes`; an administrator can chown a directory by
//! hand), it may create children there and move its processes between them (the kernel
//! requires write access to `cgroup.procs` of the common ancestor, which is that cgroup). The
//! container's cgroup is then made below the caller's own one.
//!
//! v1 hierarchies are root's: their files belong to root and the kernel offers no delegation
//! model for them, so a rootless container never uses them, not even on a hybrid host (there
//! only the unified mount, usually without controllers, can be delegated).
//!
//! Everything here takes the mount layout, the `/proc/self/cgroup` text and the access check as
//! arguments, so the logic is tested on made-up hosts.

use std::fmt;
use std::path::{Path, PathBuf};

use super::{CgroupPath, Layout};

/// The caller's delegated cgroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delegated {
    /// Mount point of the unified hierarchy.
    pub unified: PathBuf,
    /// The caller's own cgroup below it, e.g. `/user.slice/user-1000.slice/user@1000.service`.
    pub own: String,
}

/// Why the caller has no delegated cgroup; the text is meant for a warning or an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotDelegated {
    /// The host mounts no cgroup2 hierarchy (pure v1: root's only).
    NoUnified,
    /// `/proc/self/cgroup` has no `0::` line.
    NoOwnCgroup,
    /// The caller's cgroup (or its `cgroup.procs`) is not writable by it.
    NotWritable {
        /// The directory checked.
        dir: PathBuf,
    },
    /// `linux.cgroupsPath` names a cgroup outside the delegated one.
    Outside {
        /// The path asked for.
        path: String,
        /// The caller's own cgroup.
        own: String,
    },
}

impl fmt::Display for NotDelegated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotDelegated::NoUnified => {
                write!(f, "this host has only cgroup v1 hierarchies, which belong to root and cannot be delegated")
            }
            NotDelegated::NoOwnCgroup => write!(f, "/proc/self/cgroup has no cgroup v2 entry"),
            NotDelegated::NotWritable { dir } => write!(
                f,
                "our cgroup {} is not delegated to us (it or its cgroup.procs is not writable); \
                 cgroup v1 controllers belong to root",
                dir.display()
            ),
            NotDelegated::Outside { path, own } => {
                write!(f, "linux.cgroupsPath {path:?} is outside our delegated cgroup {own:?}")
            }
        }
    }
}

/// The caller's own cgroup in the unified hierarchy, from `/proc/self/cgroup` text.
pub fn own_unified_path(proc_cgroup: &str) -> Option<String> {
    proc_cgroup.lines().find_map(|l| l.strip_prefix("0::")).map(|p| p.trim_end().to_string())
}

/// Find the caller's delegated cgroup; `writable` is the access check (see
/// `sys::fs_stat::writable`).
pub fn find(layout: &Layout, proc_cgroup: &str, writable: impl Fn(&Path) -> bool) -> Result<Delegated, NotDelegated> {
    let unified = layout.unified().ok_or(NotDelegated::NoUnified)?.to_path_buf();
    let own = own_unified_path(proc_cgroup).ok_or(NotDelegated::NoOwnCgroup)?;
    let rel = own.trim_start_matches('/');
    let dir = if rel.is_empty() { unified.clone() } else { unified.join(rel) };
    if !writable(&dir) || !writable(&dir.join("cgroup.procs")) {
        return Err(NotDelegated::NotWritable { dir });
    }
    Ok(Delegated { unified, own })
}

impl Delegated {
    /// The layout a rootless container's manager uses: the unified hierarchy alone.
    pub fn layout(&self) -> Layout {
        Layout::V2 { root: self.unified.clone() }
    }

    /// The container's cgroup: `linux.cgroupsPath` when it lies inside ours (a relative path is
    /// taken below ours), else `<ours>/ocirun-<id>`.
    pub fn container_path(&self, cgroups_path: Option<&str>, id: &str) -> Result<CgroupPath, NotDelegated> {
        let own = self.own.trim_end_matches('/');
        let outside = |p: &str| NotDelegated::Outside { path: p.to_string(), own: self.own.clone() };
        let joined = match cgroups_path {
            Some(p) if p.starts_with('/') => p.to_string(),
            Some(p) if !p.is_empty() => format!("{own}/{p}"),
            _ => format!("{own}/ocirun-{id}"),
        };
        let path = CgroupPath::resolve(Some(&joined), id, false).map_err(|_| outside(&joined))?;
        let inside = path.as_str().strip_prefix(own).is_some_and(|rest| rest.starts_with('/') && rest.len() > 1);
        if !inside {
            return Err(outside(cgroups_path.unwrap_or(&joined)));
        }
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROC: &str = "1:name=systemd:/user.slice\n0::/user.slice/user-1000.slice/user@1000.service/app.scope\n";

    fn v2() -> Layout {
        Layout::V2 { root: "/sys/fs/cgroup".into() }
    }

    #[test]
    fn own_path_is_the_v2_line() {
        assert_eq!(own_unified_path(PROC).as_deref(), Some("/user.slice/user-1000.slice/user@1000.service/app.scope"));
        assert_eq!(own_unified_path("3:cpu:/x\n"), None);
    }

    #[test]
    fn writable_own_cgroup_is_delegated() {
        let d = find(&v2(), PROC, |_| true).expect("delegated");
        assert_eq!(d.own, "/user.slice/user-1000.slice/user@1000.service/app.scope");
        let seen = std::cell::RefCell::new(Vec::new());
        let e = find(&v2(), PROC, |p| {
            seen.borrow_mut().push(p.to_path_buf());
            !p.ends_with("cgroup.procs")
        })
        .expect_err("procs not writable");
        assert!(matches!(e, NotDelegated::NotWritable { .. }), "{e}");
        assert_eq!(
            seen.borrow()[0],
            Path::new("/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/app.scope")
        );
    }

    #[test]
    fn v1_only_has_no_delegation() {
        let l = Layout::V1 { controllers: [("cpu".to_string(), PathBuf::from("/sys/fs/cgroup/cpu"))].into() };
        assert_eq!(find(&l, PROC, |_| true), Err(NotDelegated::NoUnified));
        assert_eq!(find(&v2(), "1:cpu:/\n", |_| true), Err(NotDelegated::NoOwnCgroup));
    }

    #[test]
    fn container_paths_stay_inside() {
        let d = Delegated { unified: "/sys/fs/cgroup".into(), own: "/u".into() };
        assert_eq!(d.container_path(None, "web").expect("default").as_str(), "/u/ocirun-web");
        assert_eq!(d.container_path(Some("a/b"), "web").expect("relative").as_str(), "/u/a/b");
        assert_eq!(d.container_path(Some("/u/x"), "web").expect("inside").as_str(), "/u/x");
        for bad in ["/elsewhere", "/u", "/ux/y", "../x"] {
            assert!(d.container_path(Some(bad), "web").is_err(), "{bad}");
        }
        let root = Delegated { unified: "/sys/fs/cgroup".into(), own: "/".into() };
        assert_eq!(root.container_path(None, "web").expect("root").as_str(), "/ocirun-web");
    }
}
