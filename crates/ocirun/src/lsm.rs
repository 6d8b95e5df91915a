//! Linux security modules: whether AppArmor and SELinux are enabled here, and applying their
//! labels. A config that asks for one that is not available fails with a clear error.

use std::path::Path;

/// Whether AppArmor is enabled on this host.
pub fn apparmor_enabled() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled").map(|s| s.trim() == "Y").unwrap_or(false)
}

/// Whether SELinux is enabled on this host.
pub fn selinux_enabled() -> bool {
    Path::new("/sys/fs/selinux/enforce").exists()
}

/// Refuse a process that asks for an LSM label this host cannot apply.
pub fn check_process(p: &crate::spec::Process) -> Result<(), crate::error::Error> {
    if p.apparmor_profile.as_deref().is_some_and(|s| !s.is_empty()) && !apparmor_enabled() {
        return Err(crate::error::Error::Unsupported {
            what: "process.apparmorProfile".into(),
            reason: "AppArmor is not enabled on this host; remove the profile or enable AppArmor".into(),
        });
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
pub fn apply_exec_labels(p: &crate::spec::Process) -> Result<(), crate::sys::SysError> {
    if let Some(profile) = p.apparmor_profile.as_deref().filter(|s| !s.is_empty()) {
        let path = if Path::new("/proc/thread-self/attr/apparmor/exec").exists() {
            "/proc/thread-self/attr/apparmor/exec"
        } else {
            "/proc/thread-self/attr/exec"
        };
        std::fs::write(path, format!("exec {profile}"))
            .map_err(|e| crate::sys::SysError::io("write", Path::new(path), &e))?;
    }
    if let Some(label) = p.selinux_label.as_deref().filter(|s| !s.is_empty()) {
        let path = "/proc/thread-self/attr/exec";
        std::fs::write(path, label).map_err(|e| crate::sys::SysError::io("write", Path::new(path), &e))?;
    }
    Ok(())
}
