//! Which namespaces are created how. The kernel's rules decide the plan:
//! - a namespace created while in a new user namespace is owned by it, so when a user
//!   namespace is joined, or when other namespaces are joined by path (which needs the host's
//!   privileges), everything new is made by `unshare` in the child *after* the joins;
//! - otherwise one clone3 makes them all at once (the fast path);
//! - a cgroup namespace is always unshared by the child after it was placed in its cgroup, so
//!   the namespace's root is the container's cgroup;
//! - pid and time namespaces apply only to children: joining one, or unsharing one, means the
//!   child forks once more.

use std::os::fd::OwnedFd;
use std::path::Path;

use crate::error::{Error, Result};
use crate::spec::validate::namespace_flag;
use crate::spec::Linux;
use crate::sys::mount as m;

/// The plan for one container.
#[derive(Debug, Default)]
pub struct NsPlan {
    /// Flags for clone3.
    pub clone_flags: u64,
    /// Flags the child unshares after joining.
    pub unshare_flags: i32,
    /// Namespaces to join (user first).
    pub join: Vec<(i32, OwnedFd)>,
    /// Whether the child must fork again.
    pub needs_fork: bool,
    /// Whether a new user namespace is created.
    pub new_userns: bool,
    /// Whether the new user namespace is made by the child's unshare (maps written on request).
    pub late_userns: bool,
    /// Whether the container is in a user namespace (new or joined).
    pub userns: bool,
    /// Whether it gets a new cgroup namespace (unshared by the child in its cgroup).
    pub cgroupns: bool,
    /// Whether it has its own mount namespace.
    pub mountns: bool,
}

/// Build the plan, opening the namespace paths to join.
pub fn plan(linux: Option<&Linux>) -> Result<NsPlan> {
    let mut p = NsPlan::default();
    let Some(l) = linux else { return Ok(p) };
    let mut new = 0i32;
    for (i, ns) in l.namespaces.iter().enumerate() {
        let flag = namespace_flag(&ns.typ).ok_or_else(|| {
            Error::Spec(crate::error::SpecError::new(format!("linux.namespaces[{i}].type"), "unknown"))
        })?;
        match &ns.path {
            Some(path) => {
                let fd = m::openat(None, Path::new(path), libc::O_RDONLY, 0).map_err(|e| {
                    Error::Spec(crate::error::SpecError::new(
                        format!("linux.namespaces[{i}].path"),
                        format!("cannot open {path}: {e}"),
                    ))
                })?;
                if flag == libc::CLONE_NEWUSER {
                    p.join.insert(0, (flag, fd));
                } else {
                    p.join.push((flag, fd));
                }
            }
            None => new |= flag,
        }
        if flag == libc::CLONE_NEWUSER {
            p.userns = true;
        }
        if flag == libc::CLONE_NEWCGROUP && ns.path.is_none() {
            // A joined cgroup namespace is entered with the other joins; only a new one is
            // unshared once the child is in its cgroup.
            p.cgroupns = true;
        }
        if flag == libc::CLONE_NEWNS {
            p.mountns = true;
        }
    }
    p.new_userns = new & libc::CLONE_NEWUSER != 0;
    // A new time namespace takes a fork to enter; a pid namespace made at clone would make
    // the child its pid 1, which may not fork with CLONE_PARENT (and whose exit ends the
    // namespace), so then the pid namespace is unshared together with the time namespace.
    let forked = if new & libc::CLONE_NEWTIME != 0 { libc::CLONE_NEWTIME | libc::CLONE_NEWPID } else { 0 };
    let late = new & !libc::CLONE_NEWCGROUP & !forked;
    if p.join.is_empty() {
        p.clone_flags = late as u64;
        p.unshare_flags = new & forked;
    } else {
        p.unshare_flags = new & !libc::CLONE_NEWCGROUP;
        p.late_userns = p.new_userns;
    }
    let joined = |f: i32| p.join.iter().any(|(x, _)| *x == f);
    p.needs_fork = joined(libc::CLONE_NEWPID)
        || joined(libc::CLONE_NEWTIME)
        || p.unshare_flags & (libc::CLONE_NEWPID | libc::CLONE_NEWTIME) != 0;
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Namespace;

    #[test]
    fn time_namespace_moves_the_pid_namespace_to_unshare() {
        let p = plan(Some(&linux(&[("pid", None), ("time", None), ("mount", None)]))).unwrap();
        assert_eq!(p.clone_flags, libc::CLONE_NEWNS as u64);
        assert_eq!(p.unshare_flags, libc::CLONE_NEWPID | libc::CLONE_NEWTIME);
        assert!(p.needs_fork);
    }

    fn linux(ns: &[(&str, Option<&str>)]) -> Linux {
        Linux {
            namespaces: ns.iter().map(|(t, p)| Namespace { typ: t.to_string(), path: p.map(String::from) }).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn fast_path_clones_everything() {
        let p = plan(Some(&linux(&[("pid", None), ("network", None), ("mount", None), ("cgroup", None)]))).unwrap();
        assert_eq!(p.clone_flags, (libc::CLONE_NEWPID | libc::CLONE_NEWNET | libc::CLONE_NEWNS) as u64);
        assert_eq!(p.unshare_flags, 0);
        assert!(!p.needs_fork);
    }

    #[test]
    fn joining_moves_creation_to_the_child() {
        let p = plan(Some(&linux(&[("pid", None), ("network", Some("/proc/self/ns/net")), ("user", None)]))).unwrap();
        assert_eq!(p.clone_flags, 0);
        assert_eq!(p.unshare_flags, libc::CLONE_NEWPID | libc::CLONE_NEWUSER);
        assert!(p.needs_fork && p.late_userns);
        let p =
            plan(Some(&linux(&[("pid", Some("/proc/self/ns/pid")), ("user", Some("/proc/self/ns/user"))]))).unwrap();
        assert_eq!(p.join[0].0, libc::CLONE_NEWUSER);
        assert!(p.needs_fork);
    }

    #[test]
    fn a_joined_cgroup_namespace_is_not_unshared_again() {
        let p = plan(Some(&linux(&[("cgroup", Some("/proc/self/ns/cgroup")), ("mount", None)]))).unwrap();
        assert!(!p.cgroupns);
        assert_eq!(p.join[0].0, libc::CLONE_NEWCGROUP);
        assert!(plan(Some(&linux(&[("cgroup", None)]))).unwrap().cgroupns);
    }

    #[test]
    fn missing_path_is_a_spec_error() {
        let e = plan(Some(&linux(&[("network", Some("/nonexistent/ns"))]))).unwrap_err();
        assert!(e.to_string().contains("linux.namespaces[0].path"), "{e}");
    }
}
