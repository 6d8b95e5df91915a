//! The container's `/sys/fs/cgroup`: on a pure v2 host a cgroup2 mount; on v1 and hybrid hosts
//! a tmpfs with one cgroup mount per hierarchy the host has (plus `unified` on hybrid). With a
//! cgroup namespace, fresh mounts show the container's own cgroup as the root; without one,
//! the container's cgroup directories are bind-mounted so it still sees only its own subtree.

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use super::mounts::{open_in_root, MountCtx, Options};
use crate::sys::mount as m;
use crate::sys::SysError;

/// One cgroup hierarchy of the host.
#[derive(Debug, Clone, PartialEq)]
pub struct Hierarchy {
    /// Where the host has it mounted.
    pub mount_point: PathBuf,
    /// `cgroup` or `cgroup2`.
    pub fstype: String,
    /// Super options (controllers for v1, e.g. `cpu` or `name=systemd`).
    pub options: String,
}

/// Cgroup hierarchies listed in a mountinfo text.
pub fn hierarchies(mountinfo: &str) -> Vec<Hierarchy> {
    let mut out = Vec::new();
    for line in mountinfo.lines() {
        let Some((left, right)) = line.split_once(" - ") else { continue };
        let mut r = right.split(' ');
        let (Some(fstype), Some(_src), Some(opts)) = (r.next(), r.next(), r.next()) else { continue };
        if fstype != "cgroup" && fstype != "cgroup2" {
            continue;
        }
        let Some(mp) = left.split(' ').nth(4) else { continue };
        let opts: Vec<&str> = opts.split(',').filter(|o| *o != "rw" && *o != "ro").collect();
        out.push(Hierarchy {
            mount_point: PathBuf::from(unescape(mp)),
            fstype: fstype.into(),
            options: opts.join(","),
        });
    }
    out
}

fn unescape(s: &str) -> String {
    s.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")
}

/// Our own cgroup path in a hierarchy, from `/proc/self/cgroup` text.
fn own_path(proc_cgroup: &str, h: &Hierarchy) -> Option<String> {
    for line in proc_cgroup.lines() {
        let mut f = line.splitn(3, ':');
        let (_, ctrls, path) = (f.next()?, f.next()?, f.next()?);
        let matches = if h.fstype == "cgroup2" {
            ctrls.is_empty()
        } else {
            !ctrls.is_empty() && ctrls.split(',').all(|c| h.options.split(',').any(|o| o == c))
        };
        if matches {
            return Some(path.to_string());
        }
    }
    None
}

/// Mount the cgroup view at `dest` inside the rootfs.
pub fn mount(ctx: &MountCtx<'_>, dest: &Path, _typ: &str, o: &Options) -> Result<(), SysError> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| SysError::io("read", Path::new("/proc/self/mountinfo"), &e))?;
    let proc_cgroup = std::fs::read_to_string("/proc/self/cgroup")
        .map_err(|e| SysError::io("read", Path::new("/proc/self/cgroup"), &e))?;
    let hs = hierarchies(&mountinfo);
    let flags = o.flags & (libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC | libc::MS_RELATIME);
    let ro = o.flags & libc::MS_RDONLY;
    let target = open_in_root(ctx.root, dest, true)?;
    let tpath = m::proc_fd_path(target.as_fd());
    let pure_v2 =
        hs.iter().all(|h| h.fstype == "cgroup2") && hs.iter().any(|h| h.mount_point == Path::new("/sys/fs/cgroup"));
    if pure_v2 {
        let h = hs.iter().find(|h| h.mount_point == Path::new("/sys/fs/cgroup")).cloned();
        return mount_hierarchy(ctx, ctx.root, dest, &tpath, h.as_ref(), "cgroup2", "", flags | ro, &proc_cgroup);
    }
    m::mount(Some("tmpfs"), &tpath, Some("tmpfs"), flags, Some("mode=755"))?;
    let dir = super::mounts::reopen(ctx.root, dest)?;
    for h in &hs {
        let Some(name) = h.mount_point.strip_prefix("/sys/fs/cgroup").ok().filter(|n| n.components().count() == 1)
        else {
            continue;
        };
        let sub = open_in_root(dir.as_fd(), name, true)?;
        let spath = m::proc_fd_path(sub.as_fd());
        let opts = if h.fstype == "cgroup2" { String::new() } else { h.options.clone() };
        mount_hierarchy(ctx, dir.as_fd(), name, &spath, Some(h), &h.fstype, &opts, flags | ro, &proc_cgroup)?;
    }
    if ro != 0 {
        m::mount(
            None,
            &m::proc_fd_path(dir.as_fd()),
            None,
            libc::MS_REMOUNT | libc::MS_RDONLY | flags,
            Some("mode=755"),
        )?;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn mount_hierarchy(
    ctx: &MountCtx<'_>,
    base: std::os::fd::BorrowedFd<'_>,
    rel: &Path,
    at: &Path,
    h: Option<&Hierarchy>,
    fstype: &str,
    opts: &str,
    flags: u64,
    proc_cgroup: &str,
) -> Result<(), SysError> {
    let data = if opts.is_empty() { None } else { Some(opts) };
    // Bind the container's own cgroup directory of this hierarchy (the init joins it, and
    // unshares its cgroup namespace, only at the end of set-up).
    let Some(h) = h else {
        return m::mount(Some(fstype), at, Some(fstype), flags, data);
    };
    let src = match ctx.cgroup_dirs.iter().find(|d| d.starts_with(&h.mount_point)) {
        Some(d) => d.clone(),
        None => {
            let own = own_path(proc_cgroup, h).unwrap_or_else(|| "/".into());
            h.mount_point.join(own.trim_start_matches('/'))
        }
    };
    m::mount(src.to_str(), at, None, libc::MS_BIND | libc::MS_REC, None)?;
    let fresh = super::mounts::reopen(base, rel)?;
    let fpath = m::proc_fd_path(fresh.as_fd());
    let locked = super::mounts::locked_flags(&fpath);
    m::mount(None, &fpath, None, libc::MS_BIND | libc::MS_REMOUNT | flags | locked, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: &str = "30 25 0:26 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755\n\
31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw\n\
32 30 0:28 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n\
33 30 0:29 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd\n";

    #[test]
    fn parses_hybrid() {
        let hs = hierarchies(INFO);
        assert_eq!(hs.len(), 3);
        assert_eq!(hs[0].fstype, "cgroup2");
        assert_eq!(hs[1].options, "cpu");
        assert_eq!(hs[2].options, "name=systemd");
        let pc = "12:cpu:/a/b\n1:name=systemd:/sys\n0::/u\n";
        assert_eq!(own_path(pc, &hs[1]).as_deref(), Some("/a/b"));
        assert_eq!(own_path(pc, &hs[2]).as_deref(), Some("/sys"));
        assert_eq!(own_path(pc, &hs[0]).as_deref(), Some("/u"));
    }
}
