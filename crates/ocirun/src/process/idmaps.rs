//! Writing a new user namespace's `uid_map` and `gid_map` (user_namespaces(7)), from the
//! parent, for the child that created the namespace (by clone3 or by its own unshare).
//!
//! The kernel's rules decide who writes what:
//! * a caller with `CAP_SETUID`/`CAP_SETGID` (root) writes any map directly;
//! * an unprivileged caller may write one line mapping its own euid (egid) and nothing else,
//!   and for `gid_map` only after `setgroups` was set to `deny`;
//! * every other map of an unprivileged caller is written by the setuid helpers
//!   `newuidmap`/`newgidmap` (newuidmap(1)), which allow the caller's own id plus the ranges
//!   `/etc/subuid` and `/etc/subgid` give it. `setgroups` is left alone then, so the container
//!   keeps `setgroups(2)` for its additional groups.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, Result};
use crate::rootless::{self, RootlessError};
use crate::spec::IdMapping;
use crate::sys::process as p;
use crate::sys::SysError;

/// Which map: the file, the helper, the config field, the subordinate id file.
#[derive(Clone, Copy)]
struct Kind {
    file: &'static str,
    tool: &'static str,
    field: &'static str,
    subid: &'static str,
    name: &'static str,
}

const UID: Kind =
    Kind { file: "uid_map", tool: "newuidmap", field: "linux.uidMappings", subid: "/etc/subuid", name: "uid" };
const GID: Kind =
    Kind { file: "gid_map", tool: "newgidmap", field: "linux.gidMappings", subid: "/etc/subgid", name: "gid" };

/// Write both maps of process `pid`'s user namespace. A map the config leaves empty maps the
/// container's 0 to the caller's own id, as crun does: a user namespace with no id mapped
/// could not even become its own root.
pub fn write(pid: i32, uids: &[IdMapping], gids: &[IdMapping]) -> Result<()> {
    let privileged = p::geteuid() == 0;
    let own = |host_id| vec![IdMapping { container_id: 0, host_id, size: 1 }];
    let (own_uid, own_gid) = (own(p::geteuid()), own(p::getegid()));
    let uids = if uids.is_empty() { &own_uid[..] } else { uids };
    let gids = if gids.is_empty() { &own_gid[..] } else { gids };
    {
        if privileged || only_own(uids, p::geteuid()) {
            write_file(pid, UID.file, &text(uids))?;
        } else {
            run_tool(pid, UID, uids, p::geteuid())?;
        }
    }
    {
        if privileged {
            write_file(pid, GID.file, &text(gids))?;
        } else if only_own(gids, p::getegid()) {
            write_file(pid, "setgroups", "deny")?;
            write_file(pid, GID.file, &text(gids))?;
        } else {
            run_tool(pid, GID, gids, p::getegid())?;
        }
    }
    Ok(())
}

/// Whether `maps` is the one line an unprivileged caller may write itself.
fn only_own(maps: &[IdMapping], own: u32) -> bool {
    matches!(maps, [m] if m.host_id == own && m.size == 1)
}

fn text(maps: &[IdMapping]) -> String {
    maps.iter().map(|m| format!("{} {} {}\n", m.container_id, m.host_id, m.size)).collect()
}

fn write_file(pid: i32, file: &str, text: &str) -> Result<()> {
    let path = PathBuf::from(format!("/proc/{pid}/{file}"));
    std::fs::write(&path, text).map_err(|e| Error::Sys(SysError::io("write", &path, &e)))
}

fn run_tool(pid: i32, k: Kind, maps: &[IdMapping], own: u32) -> Result<()> {
    let tool =
        find_tool(k.tool).ok_or(RootlessError::ToolMissing { tool: k.tool, field: k.field, kind: k.name, own })?;
    check_subids(k)?;
    let mut args = vec![pid.to_string()];
    for m in maps {
        args.extend([m.container_id.to_string(), m.host_id.to_string(), m.size.to_string()]);
    }
    let failed = |reason: String| RootlessError::ToolFailed {
        tool: k.tool,
        args: args.join(" "),
        reason,
        field: k.field,
        file: k.subid.into(),
    };
    let out =
        Command::new(&tool).args(&args).output().map_err(|e| failed(format!("cannot run {}: {e}", tool.display())))?;
    if !out.status.success() {
        let said = String::from_utf8_lossy(&out.stderr).trim().to_string();
        return Err(failed(format!("{} ({})", said, out.status)).into());
    }
    Ok(())
}

/// A clear error when the subordinate id file gives us nothing at all; finer checks (ranges
/// that do not cover the map) are the helper's, whose message we pass on.
fn check_subids(k: Kind) -> Result<()> {
    // subgid(5) lines name the user too (by name or by uid), not a group.
    let uid = p::geteuid();
    let user = std::fs::read_to_string("/etc/passwd").ok().and_then(|t| rootless::user_name(&t, uid));
    let text = std::fs::read_to_string(k.subid).unwrap_or_default();
    if rootless::subid_ranges(&text, user.as_deref(), uid).is_empty() {
        return Err(RootlessError::NoSubordinateIds {
            file: k.subid.into(),
            user: user.unwrap_or_else(|| uid.to_string()),
            field: k.field,
            kind: k.name,
        }
        .into());
    }
    Ok(())
}

fn find_tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/sbin"), PathBuf::from("/bin")])
        .map(|d| d.join(name))
        .find(|p| Path::is_file(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(container_id: u32, host_id: u32, size: u32) -> IdMapping {
        IdMapping { container_id, host_id, size }
    }

    #[test]
    fn only_a_single_own_id_is_written_directly() {
        assert!(only_own(&[m(0, 1000, 1)], 1000));
        assert!(!only_own(&[m(0, 1000, 2)], 1000));
        assert!(!only_own(&[m(0, 1001, 1)], 1000));
        assert!(!only_own(&[m(0, 1000, 1), m(1, 100000, 65536)], 1000));
        assert_eq!(text(&[m(0, 1000, 1), m(1, 100000, 65536)]), "0 1000 1\n1 100000 65536\n");
    }
}
