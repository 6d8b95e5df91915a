//! Running without privileges ("rootless"): what an unprivileged caller needs from the config
//! and from the host, and the errors that say what is missing.
//!
//! * A **user namespace** is required: without one the container's "root" would be the
//!   caller itself and nearly every set-up step (mounts, hostname, pivot_root) needs
//!   privileges it does not have. [`require_user_namespace`] checks the config.
//! * **Id maps** ([`crate::process::idmaps`]): one line mapping the caller's own uid (gid) is
//!   written directly; anything else goes through the setuid `newuidmap`/`newgidmap` helpers,
//!   which check `/etc/subuid` and `/etc/subgid` ([`subid_ranges`] reads them to give a clear
//!   error before running the tools).
//! * **Cgroups** ([`crate::cgroups::delegated`]): only a delegated cgroup v2 subtree can be
//!   used; without one the container runs in the caller's cgroup, which is an error only when
//!   the config asks for limits ([`resources_requested`]).
//! * **State** lives under `$XDG_RUNTIME_DIR/ocirun` ([`default_root`]).

use std::path::PathBuf;

use crate::error::ErrorKind;
use crate::spec::{Resources, Spec};

/// Something a rootless container needs is missing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RootlessError {
    /// The config has no user namespace.
    #[error(
        "running rootless needs a user namespace: add {{\"type\": \"user\"}} to linux.namespaces with \
         linux.uidMappings and linux.gidMappings that map our own ids (`ocirun spec --rootless` writes such a config)"
    )]
    NoUserNamespace,
    /// A map needs `newuidmap`/`newgidmap` and it is not installed.
    #[error(
        "{field} maps ids other than our own {kind} {own}, which needs {tool} (package `uidmap`); it was not found \
         in $PATH, /usr/bin or /usr/sbin: install it, or map only {kind} {own}"
    )]
    ToolMissing {
        /// `newuidmap` or `newgidmap`.
        tool: &'static str,
        /// `linux.uidMappings` or `linux.gidMappings`.
        field: &'static str,
        /// `uid` or `gid`.
        kind: &'static str,
        /// The caller's own id.
        own: u32,
    },
    /// The subordinate id file gives the caller no ranges.
    #[error(
        "{field} maps ids other than our own, but {file} has no subordinate {kind} range for user {user}: \
         add a line such as `{user}:100000:65536` (see subuid(5)), or map only our own {kind}"
    )]
    NoSubordinateIds {
        /// `/etc/subuid` or `/etc/subgid`.
        file: PathBuf,
        /// The user name (or uid).
        user: String,
        /// `linux.uidMappings` or `linux.gidMappings`.
        field: &'static str,
        /// `uid` or `gid`.
        kind: &'static str,
    },
    /// `newuidmap`/`newgidmap` could not be run or refused the map.
    #[error(
        "{tool} {args} failed: {reason}; every host id in {field} must be our own or inside our ranges in {file} \
         (see {tool}(1) and subuid(5))"
    )]
    ToolFailed {
        /// The tool.
        tool: &'static str,
        /// Its arguments.
        args: String,
        /// Exit status and what it printed, or why it could not run.
        reason: String,
        /// `linux.uidMappings` or `linux.gidMappings`.
        field: &'static str,
        /// `/etc/subuid` or `/etc/subgid`.
        file: PathBuf,
    },
    /// Limits were asked for but there is no cgroup to apply them to.
    #[error(
        "linux.resources asks for limits, but a rootless container cannot have a cgroup here: {reason}; \
         remove linux.resources (or run as root)"
    )]
    ResourcesWithoutCgroup {
        /// Why there is no usable cgroup.
        reason: String,
    },
}

impl RootlessError {
    /// The stable kind.
    pub fn kind(&self) -> ErrorKind {
        match self {
            RootlessError::NoUserNamespace => ErrorKind::InvalidSpec,
            RootlessError::ToolMissing { .. } | RootlessError::ResourcesWithoutCgroup { .. } => ErrorKind::Unsupported,
            RootlessError::NoSubordinateIds { .. } | RootlessError::ToolFailed { .. } => ErrorKind::Permission,
        }
    }
}

/// Refuse a config without a user namespace (new or joined).
pub fn require_user_namespace(spec: &Spec) -> Result<(), RootlessError> {
    let has = spec.linux.as_ref().is_some_and(|l| l.namespaces.iter().any(|n| n.typ == "user"));
    if has {
        Ok(())
    } else {
        Err(RootlessError::NoUserNamespace)
    }
}

/// Whether `linux.resources` asks for any limit. Device rules do not count: in a user namespace
/// devices are bind mounts of the host's nodes, whose file permissions already bound what the
/// caller can open, and an unprivileged caller cannot load the device eBPF program anyway.
pub fn resources_requested(r: Option<&Resources>) -> bool {
    let Some(r) = r else { return false };
    let mut r = r.clone();
    r.devices.clear();
    serde_json::to_value(&r).is_ok_and(|v| !is_empty(&v))
}

fn is_empty(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Null => true,
        serde_json::Value::Object(m) => m.values().all(is_empty),
        serde_json::Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// Default state root: `$XDG_RUNTIME_DIR/ocirun` for an unprivileged caller that has one,
/// otherwise [`crate::container::DEFAULT_ROOT`].
pub fn default_root() -> PathBuf {
    if crate::sys::process::geteuid() != 0 {
        if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
            return PathBuf::from(dir).join("ocirun");
        }
    }
    crate::container::DEFAULT_ROOT.into()
}

/// The subordinate id ranges `(start, count)` that a subuid(5)/subgid(5) text gives the user
/// named `user` with id `id` (lines may name the user or its numeric id).
pub fn subid_ranges(text: &str, user: Option<&str>, id: u32) -> Vec<(u64, u64)> {
    let id = id.to_string();
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let mut f = l.split(':');
            let (who, start, count) = (f.next()?, f.next()?, f.next()?);
            let ours = who == id || user.is_some_and(|u| u == who);
            ours.then(|| Some((start.trim().parse().ok()?, count.trim().parse().ok()?)))?
        })
        .collect()
}

/// The name of user `uid` from a passwd(5) text.
pub fn user_name(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|l| {
        let mut f = l.split(':');
        let name = f.next()?;
        let _pw = f.next()?;
        (f.next()?.parse::<u32>().ok()? == uid).then(|| name.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{Linux, Memory, Namespace};

    #[test]
    fn user_namespace_is_required() {
        let mut s = Spec::default();
        assert!(matches!(require_user_namespace(&s), Err(RootlessError::NoUserNamespace)));
        s.linux = Some(Linux { namespaces: vec![Namespace { typ: "user".into(), path: None }], ..Default::default() });
        assert!(require_user_namespace(&s).is_ok());
        let e = RootlessError::NoUserNamespace.to_string();
        assert!(e.contains("linux.namespaces") && e.contains("ocirun spec --rootless"), "{e}");
    }

    #[test]
    fn device_rules_alone_ask_for_nothing() {
        assert!(!resources_requested(None));
        let spec = crate::spec::default::spec(false);
        let r = spec.linux.as_ref().and_then(|l| l.resources.as_ref());
        assert!(r.is_some_and(|r| !r.devices.is_empty()));
        assert!(!resources_requested(r));
        let mut asks = Resources::default();
        assert!(!resources_requested(Some(&asks)));
        asks.memory = Some(Memory { limit: Some(1 << 20), ..Default::default() });
        assert!(resources_requested(Some(&asks)));
    }

    #[test]
    fn subid_lines_by_name_or_id() {
        let text = "# comment\nalice:100000:65536\n1001:200000:1000\nbob:300000:5\nbad line\n";
        assert_eq!(subid_ranges(text, Some("alice"), 1000), vec![(100000, 65536)]);
        assert_eq!(subid_ranges(text, Some("carol"), 1001), vec![(200000, 1000)]);
        assert!(subid_ranges(text, None, 5).is_empty());
        assert_eq!(
            user_name("root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/h:/bin/sh\n", 1000).as_deref(),
            Some("alice")
        );
        assert_eq!(user_name("root:x:0:0::/root:/bin/sh\n", 7), None);
    }
}
