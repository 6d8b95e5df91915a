//! `linux.cgroupsPath` → the container's cgroup path, the same string in every hierarchy.
//!
//! * **Absolute** (`/machine/web`): taken as it is, relative to each hierarchy's mount point,
//!   as the runtime spec says.
//! * **Relative** (`machine/web`): also taken under the hierarchy's root. We deliberately do
//!   *not* nest it under the runtime's own cgroup: on v2 that cgroup holds the runtime's
//!   process, so the "no internal processes" rule would stop us enabling controllers under it,
//!   and under systemd it is often a short-lived session scope that would take the container
//!   with it. Engines that care (containerd, podman, Docker) pass absolute paths anyway.
//! * **Absent**: `/ocirun/<id>`, so our containers are grouped and easy to find.
//! * **systemd** (`slice:prefix:name`, with `--systemd-cgroup`): parsed and expanded to the
//!   path systemd gives the scope (`/system.slice/prefix-name.scope`, under the manager's own
//!   cgroup when systemd runs in a sub-tree, see [`CgroupPath::under`]); [`super::systemd`]
//!   starts the scope.

use serde::{Deserialize, Serialize};

use super::{CgroupError, Result};

/// Where a container's cgroup lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "driver")]
pub enum CgroupPath {
    /// Managed by writing to cgroupfs directly.
    Fs {
        /// Absolute path below each hierarchy's root, e.g. `/ocirun/web`.
        path: String,
    },
    /// Asked to be managed by systemd as a transient scope.
    Systemd {
        /// The slice, e.g. `system.slice`.
        slice: String,
        /// The unit prefix, e.g. `docker`.
        prefix: String,
        /// The unit name part, usually the container id.
        name: String,
        /// The path systemd gives the scope, e.g. `/system.slice/docker-web.scope`.
        path: String,
    },
}

impl CgroupPath {
    /// Resolve `linux.cgroupsPath` for container `id`; `systemd` is `--systemd-cgroup`.
    pub fn resolve(cgroups_path: Option<&str>, id: &str, systemd: bool) -> Result<CgroupPath> {
        if systemd {
            return resolve_systemd(cgroups_path.unwrap_or(""), id);
        }
        let raw = match cgroups_path {
            Some(p) if !p.is_empty() => p.to_string(),
            _ => format!("/ocirun/{id}"),
        };
        let bad = |reason| CgroupError::InvalidPath { path: raw.clone(), reason };
        let mut clean = String::new();
        for part in raw.split('/').filter(|p| !p.is_empty() && *p != ".") {
            if part == ".." {
                return Err(bad("\"..\" is not allowed"));
            }
            clean.push('/');
            clean.push_str(part);
        }
        if clean.is_empty() {
            return Err(bad("the root cgroup cannot be a container's cgroup"));
        }
        Ok(CgroupPath::Fs { path: clean })
    }

    /// The absolute path below each hierarchy's root.
    pub fn as_str(&self) -> &str {
        match self {
            CgroupPath::Fs { path } | CgroupPath::Systemd { path, .. } => path,
        }
    }

    /// The systemd unit that owns this cgroup (`prefix-name.scope`), for the systemd form.
    pub fn unit(&self) -> Option<&str> {
        match self {
            CgroupPath::Systemd { path, .. } => path.rsplit('/').next(),
            CgroupPath::Fs { .. } => None,
        }
    }

    /// The systemd form placed under the systemd manager's own cgroup `root` (empty or `/`
    /// for a host's PID 1; a sub-tree when systemd runs in a container).
    pub fn under(self, root: &str) -> CgroupPath {
        match self {
            CgroupPath::Systemd { slice, prefix, name, path } => {
                let root = root.trim_end_matches('/');
                CgroupPath::Systemd { slice, prefix, name, path: format!("{root}{path}") }
            }
            fs => fs,
        }
    }

    /// The path without its leading `/`, ready to join to a mount point.
    pub fn relative(&self) -> &str {
        self.as_str().trim_start_matches('/')
    }
}

fn resolve_systemd(raw: &str, id: &str) -> Result<CgroupPath> {
    let bad = |reason| CgroupError::InvalidPath { path: raw.to_string(), reason };
    let (slice, prefix, name) = if raw.is_empty() {
        ("system.slice", "ocirun", id)
    } else {
        let mut it = raw.split(':');
        match (it.next(), it.next(), it.next(), it.next()) {
            (Some(s), Some(p), Some(n), None) => (s, p, n),
            _ => return Err(bad("expected \"slice:prefix:name\" with the systemd driver")),
        }
    };
    let slice = if slice.is_empty() { "system.slice" } else { slice };
    if [slice, prefix, name].iter().any(|s| s.contains('/')) {
        return Err(bad("slice, prefix and name must not contain \"/\""));
    }
    if name.is_empty() {
        return Err(bad("the unit name is empty"));
    }
    let slice_path =
        expand_slice(slice).ok_or_else(|| bad("slice names end in \".slice\" and have no empty \"-\" parts"))?;
    let unit = if name.ends_with(".slice") {
        name.to_string()
    } else if prefix.is_empty() {
        format!("{name}.scope")
    } else {
        format!("{prefix}-{name}.scope")
    };
    Ok(CgroupPath::Systemd {
        slice: slice.to_string(),
        prefix: prefix.to_string(),
        name: name.to_string(),
        path: format!("{slice_path}/{unit}"),
    })
}

/// `a-b-c.slice` → `/a.slice/a-b.slice/a-b-c.slice`; `-.slice` is the root.
fn expand_slice(slice: &str) -> Option<String> {
    let stem = slice.strip_suffix(".slice")?;
    if stem == "-" {
        return Some(String::new());
    }
    let mut out = String::new();
    let mut acc = String::new();
    for part in stem.split('-') {
        if part.is_empty() {
            return None;
        }
        if !acc.is_empty() {
            acc.push('-');
        }
        acc.push_str(part);
        out.push('/');
        out.push_str(&acc);
        out.push_str(".slice");
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fs(p: Option<&str>) -> String {
        CgroupPath::resolve(p, "web", false).expect("resolve").as_str().to_string()
    }

    #[test]
    fn absolute_relative_and_default() {
        assert_eq!(fs(Some("/machine/web")), "/machine/web");
        assert_eq!(fs(Some("machine//web/")), "/machine/web");
        assert_eq!(fs(Some("./a/./b")), "/a/b");
        assert_eq!(fs(None), "/ocirun/web");
        assert_eq!(fs(Some("")), "/ocirun/web");
        assert_eq!(CgroupPath::resolve(Some("/a/b"), "x", false).expect("ok").relative(), "a/b");
    }

    #[test]
    fn dot_dot_and_root_are_refused() {
        for p in ["/a/../b", "..", "/", "//"] {
            let e = CgroupPath::resolve(Some(p), "web", false).expect_err(p);
            assert_eq!(e.kind(), crate::ErrorKind::InvalidArgument, "{p}: {e}");
        }
    }

    #[test]
    fn systemd_form_is_parsed_and_expanded() {
        let p = CgroupPath::resolve(Some("machine-web.slice:docker:abc"), "x", true).expect("ok");
        assert_eq!(
            p,
            CgroupPath::Systemd {
                slice: "machine-web.slice".into(),
                prefix: "docker".into(),
                name: "abc".into(),
                path: "/machine.slice/machine-web.slice/docker-abc.scope".into(),
            }
        );
        let d = CgroupPath::resolve(None, "abc", true).expect("default");
        assert_eq!(d.as_str(), "/system.slice/ocirun-abc.scope");
        let r = CgroupPath::resolve(Some("-.slice::abc"), "x", true).expect("root slice");
        assert_eq!(r.as_str(), "/abc.scope");
        assert_eq!(p.unit(), Some("docker-abc.scope"));
        assert_eq!(d.clone().under("/").as_str(), "/system.slice/ocirun-abc.scope");
        assert_eq!(d.under("/lxc/c1/").as_str(), "/lxc/c1/system.slice/ocirun-abc.scope");
        for bad in ["/abs/path", "a:b", "a.slice:b:c:d", "nope:p:n", "a--b.slice:p:n"] {
            assert!(CgroupPath::resolve(Some(bad), "x", true).is_err(), "{bad}");
        }
    }
}
