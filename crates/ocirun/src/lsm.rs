//! Linux security modules: whether AppArmor and SELinux are enabled here, and applying their
//! labels. A config that asks for one that is not available, or for an AppArmor profile that
//! is not loaded, fails with a clear error at `create` (or `exec`), before anything is set up.

use std::path::{Path, PathBuf};

use crate::sys::SysError;

/// Where the kernel lists the AppArmor profiles loaded in the caller's policy namespace, one
/// `NAME (MODE)` a line.
const APPARMOR_PROFILES: &str = "/sys/kernel/security/apparmor/profiles";

/// A security label that cannot be applied.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LsmError {
    /// The AppArmor profile named by `process.apparmorProfile` (or `exec --apparmor`) is not
    /// loaded in the kernel.
    #[error(
        "AppArmor profile {profile:?} (process.apparmorProfile or exec --apparmor) is not loaded in the kernel: \
         load it first (apparmor_parser -r FILE; aa-status lists the loaded profiles) or name a loaded one"
    )]
    ProfileNotLoaded {
        /// The profile's name.
        profile: String,
    },
    /// The kernel refused the label written to `path`.
    #[error("cannot set the {what} {label:?}: {source}")]
    Label {
        /// `AppArmor profile` or `SELinux label`.
        what: &'static str,
        /// The profile or label asked for.
        label: String,
        /// The write that failed (path and errno).
        source: SysError,
    },
}

impl LsmError {
    /// The errno behind the failure, when a system call failed.
    pub fn errno(&self) -> Option<i32> {
        match self {
            LsmError::ProfileNotLoaded { .. } => Some(libc::ENOENT),
            LsmError::Label { source, .. } => Some(source.errno),
        }
    }

    /// The stable kind of this error.
    pub fn kind(&self) -> crate::error::ErrorKind {
        match self {
            LsmError::ProfileNotLoaded { .. } => crate::error::ErrorKind::Unsupported,
            LsmError::Label { source, .. } => source.kind(),
        }
    }
}

/// Whether AppArmor is enabled on this host.
pub fn apparmor_enabled() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled").map(|s| s.trim() == "Y").unwrap_or(false)
}

/// Whether SELinux is enabled on this host.
pub fn selinux_enabled() -> bool {
    Path::new("/sys/fs/selinux/enforce").exists()
}

/// Whether `listing` (the text of [`APPARMOR_PROFILES`]) has a profile called `name`.
fn listed(listing: &str, name: &str) -> bool {
    listing.lines().filter_map(|l| l.rsplit_once(" (")).any(|(n, _)| n == name)
}

/// Whether the AppArmor profile `name` is loaded, as far as this process can tell: `None` when
/// the list cannot be read (securityfs not mounted) or the name is one the list does not show
/// (`unconfined`, a stack `a//&b`, a policy namespace `:ns:name`). The write before the exec
/// is the final word either way.
pub fn apparmor_profile_loaded(name: &str) -> Option<bool> {
    if name == "unconfined" || name.contains("//&") || name.starts_with(':') {
        return None;
    }
    let listing = std::fs::read_to_string(APPARMOR_PROFILES).ok()?;
    Some(listed(&listing, name))
}

/// Refuse a process that asks for an LSM label this host cannot apply, or for an AppArmor
/// profile that is not loaded.
pub fn check_process(p: &crate::spec::Process) -> Result<(), crate::error::Error> {
    if let Some(profile) = p.apparmor_profile.as_deref().filter(|s| !s.is_empty()) {
        if !apparmor_enabled() {
            return Err(crate::error::Error::Unsupported {
                what: "process.apparmorProfile".into(),
                reason: "AppArmor is not enabled on this host; remove the profile or enable AppArmor".into(),
            });
        }
        if apparmor_profile_loaded(profile) == Some(false) {
            return Err(LsmError::ProfileNotLoaded { profile: profile.into() }.into());
        }
    }
    if p.selinux_label.as_deref().is_some_and(|s| !s.is_empty()) && !selinux_enabled() {
        return Err(crate::error::Error::Unsupported {
            what: "process.selinuxLabel".into(),
            reason: "SELinux is not enabled on this host; remove the label or enable SELinux".into(),
        });
    }
    Ok(())
}

/// Set the labels the next execve applies: AppArmor's `exec PROFILE` and the SELinux exec
/// context. Called in the container right before execve (needs /proc in the container).
pub fn apply_exec_labels(p: &crate::spec::Process) -> Result<(), LsmError> {
    if let Some(profile) = p.apparmor_profile.as_deref().filter(|s| !s.is_empty()) {
        let path = if Path::new("/proc/thread-self/attr/apparmor/exec").exists() {
            "/proc/thread-self/attr/apparmor/exec"
        } else {
            "/proc/thread-self/attr/exec"
        };
        // The file exists (checked above, or attr/exec always does): ENOENT from the write is
        // AppArmor's answer for a profile it does not have.
        std::fs::write(path, format!("exec {profile}")).map_err(|e| match e.raw_os_error() {
            Some(libc::ENOENT) => LsmError::ProfileNotLoaded { profile: profile.into() },
            _ => LsmError::Label {
                what: "AppArmor profile",
                label: profile.into(),
                source: SysError::io("write", &PathBuf::from(path), &e),
            },
        })?;
    }
    if let Some(label) = p.selinux_label.as_deref().filter(|s| !s.is_empty()) {
        let path = "/proc/thread-self/attr/exec";
        std::fs::write(path, label).map_err(|e| LsmError::Label {
            what: "SELinux label",
            label: label.into(),
            source: SysError::io("write", Path::new(path), &e),
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_profile_is_found_by_its_whole_name() {
        let listing = "docker-default (enforce)\nsnap.a.b//hat (complain)\nwith space (enforce)\n";
        assert!(listed(listing, "docker-default"));
        assert!(listed(listing, "snap.a.b//hat"));
        assert!(listed(listing, "with space"));
        assert!(!listed(listing, "docker"));
        assert!(!listed(listing, "default"));
        assert!(!listed("", "docker-default"));
    }

    #[test]
    fn names_the_list_does_not_show_are_not_judged() {
        assert_eq!(apparmor_profile_loaded("unconfined"), None);
        assert_eq!(apparmor_profile_loaded("a//&b"), None);
        assert_eq!(apparmor_profile_loaded(":ns:name"), None);
    }

    #[test]
    fn the_not_loaded_error_names_the_profile_and_what_to_do() {
        let msg = LsmError::ProfileNotLoaded { profile: "my-prof".into() }.to_string();
        assert!(msg.contains("\"my-prof\"") && msg.contains("not loaded") && msg.contains("apparmor_parser"), "{msg}");
    }
}
