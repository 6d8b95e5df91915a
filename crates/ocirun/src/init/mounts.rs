//! The `mounts` of config.json, applied in order inside the new mount namespace, before
//! pivot_root. Every destination is resolved *inside* the rootfs (openat2 with
//! RESOLVE_IN_ROOT), created there if missing, and mounted through its fd
//! (`/proc/self/fd/N`), so a symlink in the image can never make a mount land on the host.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use crate::process::sync::ChildError;
use crate::spec::Mount;
use crate::sys::mount::{self as m, MountAttr};
use crate::sys::SysError;

/// `MS_*` flag of a propagation name.
pub fn propagation_flag(name: &str) -> Option<u64> {
    Some(match name {
        "private" => libc::MS_PRIVATE,
        "rprivate" => libc::MS_PRIVATE | libc::MS_REC,
        "shared" => libc::MS_SHARED,
        "rshared" => libc::MS_SHARED | libc::MS_REC,
        "slave" => libc::MS_SLAVE,
        "rslave" => libc::MS_SLAVE | libc::MS_REC,
        "unbindable" => libc::MS_UNBINDABLE,
        "runbindable" => libc::MS_UNBINDABLE | libc::MS_REC,
        _ => return None,
    })
}

const MOUNT_ATTR_RDONLY: u64 = 0x1;
const MOUNT_ATTR_NOSUID: u64 = 0x2;
const MOUNT_ATTR_NODEV: u64 = 0x4;
const MOUNT_ATTR_NOEXEC: u64 = 0x8;
const MOUNT_ATTR_ATIME: u64 = 0x70;
const MOUNT_ATTR_RELATIME: u64 = 0x0;
const MOUNT_ATTR_NOATIME: u64 = 0x10;
const MOUNT_ATTR_STRICTATIME: u64 = 0x20;
const MOUNT_ATTR_NODIRATIME: u64 = 0x80;
const MOUNT_ATTR_NOSYMFOLLOW: u64 = 0x200000;
const MS_NOSYMFOLLOW: u64 = 256;

/// Mount options split into what each kernel interface takes.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Options {
    /// `MS_*` flags to set.
    pub flags: u64,
    /// Propagation changes, applied in order after the mount.
    pub propagation: Vec<u64>,
    /// Recursive attributes to set with mount_setattr.
    pub attr_set: u64,
    /// Recursive attributes to clear with mount_setattr.
    pub attr_clr: u64,
    /// Filesystem-specific data (`size=..,mode=..`).
    pub data: Vec<String>,
    /// `tmpcopyup`.
    pub tmpcopyup: bool,
    /// `idmap` / `ridmap` (the latter recursive).
    pub idmap: Option<bool>,
}

/// Split mount(8)-style options.
pub fn parse_options(opts: &[String]) -> Options {
    let mut o = Options::default();
    for opt in opts {
        let (set, clr): (u64, u64) = match opt.as_str() {
            "defaults" => (0, 0),
            "ro" => (libc::MS_RDONLY, 0),
            "rw" => (0, libc::MS_RDONLY),
            "nosuid" => (libc::MS_NOSUID, 0),
            "suid" => (0, libc::MS_NOSUID),
            "nodev" => (libc::MS_NODEV, 0),
            "dev" => (0, libc::MS_NODEV),
            "noexec" => (libc::MS_NOEXEC, 0),
            "exec" => (0, libc::MS_NOEXEC),
            "sync" => (libc::MS_SYNCHRONOUS, 0),
            "async" => (0, libc::MS_SYNCHRONOUS),
            "dirsync" => (libc::MS_DIRSYNC, 0),
            "remount" => (libc::MS_REMOUNT, 0),
            "mand" => (libc::MS_MANDLOCK, 0),
            "nomand" => (0, libc::MS_MANDLOCK),
            "atime" => (0, libc::MS_NOATIME),
            "noatime" => (libc::MS_NOATIME, 0),
            "diratime" => (0, libc::MS_NODIRATIME),
            "nodiratime" => (libc::MS_NODIRATIME, 0),
            "relatime" => (libc::MS_RELATIME, 0),
            "norelatime" => (0, libc::MS_RELATIME),
            "strictatime" => (libc::MS_STRICTATIME, 0),
            "nostrictatime" => (0, libc::MS_STRICTATIME),
            "lazytime" => (libc::MS_LAZYTIME, 0),
            "nolazytime" => (0, libc::MS_LAZYTIME),
            "iversion" => (libc::MS_I_VERSION, 0),
            "noiversion" => (0, libc::MS_I_VERSION),
            "silent" => (libc::MS_SILENT, 0),
            "loud" => (0, libc::MS_SILENT),
            "nosymfollow" => (MS_NOSYMFOLLOW, 0),
            "symfollow" => (0, MS_NOSYMFOLLOW),
            "bind" => (libc::MS_BIND, 0),
            "rbind" => (libc::MS_BIND | libc::MS_REC, 0),
            "tmpcopyup" => {
                o.tmpcopyup = true;
                continue;
            }
            "idmap" => {
                o.idmap = Some(false);
                continue;
            }
            "ridmap" => {
                o.idmap = Some(true);
                continue;
            }
            other => {
                if let Some(p) = propagation_flag(other) {
                    o.propagation.push(p);
                } else if let Some((set, clr)) = recursive_attr(other) {
                    o.attr_set = (o.attr_set & !clr) | set;
                    o.attr_clr = (o.attr_clr & !set) | clr;
                } else {
                    o.data.push(other.to_string());
                }
                continue;
            }
        };
        o.flags = (o.flags & !clr) | set;
    }
    o
}

fn recursive_attr(opt: &str) -> Option<(u64, u64)> {
    Some(match opt {
        "rro" => (MOUNT_ATTR_RDONLY, 0),
        "rrw" => (0, MOUNT_ATTR_RDONLY),
        "rnosuid" => (MOUNT_ATTR_NOSUID, 0),
        "rsuid" => (0, MOUNT_ATTR_NOSUID),
        "rnodev" => (MOUNT_ATTR_NODEV, 0),
        "rdev" => (0, MOUNT_ATTR_NODEV),
        "rnoexec" => (MOUNT_ATTR_NOEXEC, 0),
        "rexec" => (0, MOUNT_ATTR_NOEXEC),
        "rnodiratime" => (MOUNT_ATTR_NODIRATIME, 0),
        "rdiratime" => (0, MOUNT_ATTR_NODIRATIME),
        "rrelatime" => (MOUNT_ATTR_RELATIME, MOUNT_ATTR_ATIME),
        "rnorelatime" => (0, 0),
        "rnoatime" => (MOUNT_ATTR_NOATIME, MOUNT_ATTR_ATIME),
        "ratime" => (0, MOUNT_ATTR_NOATIME),
        "rstrictatime" => (MOUNT_ATTR_STRICTATIME, MOUNT_ATTR_ATIME),
        "rnostrictatime" => (0, 0),
        "rnosymfollow" => (MOUNT_ATTR_NOSYMFOLLOW, 0),
        "rsymfollow" => (0, MOUNT_ATTR_NOSYMFOLLOW),
        _ => return None,
    })
}

fn err(step: String) -> impl FnOnce(SysError) -> ChildError {
    move |e| ChildError::sys(step, e)
}

/// Open (creating if needed) `path` inside the root `root`, never leaving it. With `dir`,
/// missing components are created as directories; otherwise the last one as an empty file.
pub fn open_in_root(root: BorrowedFd<'_>, path: &Path, dir: bool) -> Result<OwnedFd, SysError> {
    open_in_root_depth(root, path, dir, 0)
}

/// How many dangling symlinks a destination may go through (the kernel's own limit).
const MAX_LINKS: usize = 40;

fn open_in_root_depth(root: BorrowedFd<'_>, path: &Path, dir: bool, links: usize) -> Result<OwnedFd, SysError> {
    let rel = clean(path);
    match m::openat2(root, &rel, libc::O_PATH, 0, m::RESOLVE_IN_ROOT) {
        Ok(fd) => return Ok(fd),
        Err(e) if e.errno != libc::ENOENT => return Err(e),
        Err(_) => {}
    }
    let parent = match rel.parent() {
        Some(p) if !p.as_os_str().is_empty() => open_in_root_depth(root, p, true, links)?,
        _ => m::openat2(root, Path::new("."), libc::O_PATH, 0, m::RESOLVE_IN_ROOT)?,
    };
    let name = rel.file_name().map(Path::new).ok_or_else(|| SysError::new("mkdir", libc::EINVAL).at(path))?;
    // Create through an fd of the parent so the path cannot be swapped under us; O_EXCL
    // refuses to follow a (dangling) symlink.
    let parent_dir = m::openat(Some(parent.as_fd()), Path::new("."), libc::O_DIRECTORY | libc::O_RDONLY, 0)
        .map_err(|e| e.at(path))?;
    let created = if dir {
        m::mkdirat(parent_dir.as_fd(), name, 0o755)
    } else {
        m::openat(
            Some(parent_dir.as_fd()),
            name,
            libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY | libc::O_NOFOLLOW,
            0o644,
        )
        .map(drop)
    };
    match created {
        Ok(()) => {}
        Err(e) if e.errno == libc::EEXIST => {}
        Err(e) => return Err(e.at(path)),
    }
    match m::openat2(root, &rel, libc::O_PATH, 0, m::RESOLVE_IN_ROOT) {
        // The name is a dangling symlink (an image's /etc/localtime to a zone it does not
        // ship): make what it points at, resolved inside the root as the kernel would.
        Err(e) if e.errno == libc::ENOENT && links < MAX_LINKS => {
            let Ok(link) = std::fs::read_link(m::proc_fd_path(parent_dir.as_fd()).join(name)) else {
                return Err(e.at(path));
            };
            let next = if link.is_absolute() { link } else { rel.parent().unwrap_or(Path::new("")).join(link) };
            open_in_root_depth(root, &next, dir, links + 1)
        }
        r => r.map_err(|e| e.at(path)),
    }
}

/// `path` as a relative path without `.`; `..` is kept (RESOLVE_IN_ROOT clamps it at the root).
fn clean(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => out.push(".."),
            _ => {}
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

/// Whether a mount is a bind mount.
pub fn is_bind(mnt: &Mount) -> bool {
    mnt.typ.as_deref() == Some("bind") || mnt.options.iter().any(|o| o == "bind" || o == "rbind")
}

/// Clone every bind mount source into a detached mount tree (open_tree) with the runtime's own
/// credentials, for an init that will be root of a new user namespace: there it may not search
/// the directories above a source (a 0700 host directory), while attaching a tree it was
/// handed needs no such access. An idmapped bind is idmapped here too
/// ([`super::idmap::prepared_bind`]), with its own mappings or the container's; a source that
/// cannot be opened here is left to the init, whose error names the mount.
pub fn open_bind_sources(spec: &crate::spec::Spec, bundle: &Path, new_userns: bool) -> Vec<Option<OwnedFd>> {
    if !new_userns {
        return Vec::new();
    }
    let open = |mnt: &Mount| {
        let o = parse_options(&mnt.options);
        if !is_bind(mnt) {
            return None;
        }
        let src = Path::new(mnt.source.as_deref()?);
        let path = if src.is_absolute() { src.to_path_buf() } else { bundle.join(src) };
        let recursive = o.flags & libc::MS_REC != 0;
        let Some(r) = o.idmap else { return m::open_tree_clone(None, &path, recursive).ok() };
        let own_maps = !mnt.uid_mappings.is_empty() || !mnt.gid_mappings.is_empty();
        let (uids, gids) = match spec.linux.as_ref() {
            _ if own_maps => (&mnt.uid_mappings, &mnt.gid_mappings),
            Some(l) if !l.uid_mappings.is_empty() && !l.gid_mappings.is_empty() => (&l.uid_mappings, &l.gid_mappings),
            _ => return None,
        };
        super::idmap::prepared_bind(&path, uids, gids, r || recursive).ok()
    };
    spec.mounts.iter().map(open).collect()
}

/// Context for mounting.
pub struct MountCtx<'a> {
    /// The rootfs (a directory fd).
    pub root: BorrowedFd<'a>,
    /// The bundle, for relative bind sources.
    pub bundle: &'a Path,
    /// Whether the container has its own user namespace (limits what can be mounted).
    pub userns: bool,
    /// The container's cgroup directory in each host hierarchy.
    pub cgroup_dirs: &'a [PathBuf],
    /// SELinux mount label, appended as `context=` to filesystems that take it.
    pub mount_label: Option<&'a str>,
    /// Bind sources the runtime opened ([`open_bind_sources`]), by mount index.
    pub bind_sources: &'a [Option<OwnedFd>],
}

/// Apply one mount.
pub fn mount_one(ctx: &MountCtx<'_>, idx: usize, mnt: &Mount) -> Result<(), ChildError> {
    let step = format!("mounts[{idx}] {}", mnt.destination);
    let o = parse_options(&mnt.options);
    let bind = is_bind(mnt);
    let typ = mnt.typ.as_deref().unwrap_or(if bind { "bind" } else { "none" });
    let dest = Path::new(&mnt.destination);
    if typ == "cgroup" || typ == "cgroup2" {
        return super::cgroupfs::mount(ctx, dest, typ, &o).map_err(err(step));
    }
    let source = mnt.source.as_deref().unwrap_or(typ);
    let opened = ctx.bind_sources.get(idx).and_then(Option::as_ref);
    let source_path = match (bind, opened) {
        (true, Some(_)) => None,
        (true, None) => {
            let p = Path::new(source);
            Some(if p.is_absolute() { p.to_path_buf() } else { ctx.bundle.join(p) })
        }
        (false, _) => None,
    };
    let is_dir = match (&source_path, opened) {
        (_, Some(fd)) => m::fstat_mode(fd.as_fd()).map_err(err(step.clone()))? & libc::S_IFMT == libc::S_IFDIR,
        (Some(p), None) => std::fs::metadata(p)
            .map(|md| md.is_dir())
            .map_err(|e| ChildError::sys(step.clone(), SysError::io("stat", p, &e)))?,
        (None, None) => true,
    };
    let target = open_in_root(ctx.root, dest, is_dir).map_err(err(step.clone()))?;
    let tpath = m::proc_fd_path(target.as_fd());
    // tmpcopyup: keep a handle on what the tmpfs will cover, to copy it in afterwards.
    let under = if o.tmpcopyup && typ == "tmpfs" {
        Some(m::openat(None, &tpath, libc::O_DIRECTORY | libc::O_RDONLY, 0).map_err(err(step.clone()))?)
    } else {
        None
    };
    let mut data = o.data.join(",");
    if typ == "tmpfs" && !o.data.iter().any(|d| d.starts_with("mode=")) && o.flags & libc::MS_REMOUNT == 0 {
        // Without mode= a tmpfs keeps the mode of the directory it covers (as runc does, and
        // crun's suite expects), not tmpfs's own 1777.
        if let Ok(mode) = m::fstat_mode(target.as_fd()) {
            if mode & libc::S_IFMT == libc::S_IFDIR {
                if !data.is_empty() {
                    data.push(',');
                }
                data.push_str(&format!("mode={:o}", mode & 0o7777));
            }
        }
    }
    if let (Some(label), true) = (ctx.mount_label, label_applies(typ)) {
        if !data.is_empty() {
            data.push(',');
        }
        data.push_str(&format!("context=\"{label}\""));
    }
    let data_opt = if data.is_empty() { None } else { Some(data.as_str()) };
    if bind {
        let src = source_path.as_deref().unwrap_or(Path::new(source));
        match (o.idmap, opened) {
            (_, Some(tree)) => m::move_mount_to_fd(tree.as_fd(), target.as_fd()).map_err(err(step.clone()))?,
            (Some(recursive), None) => {
                super::idmap::bind(src, target.as_fd(), mnt, recursive || o.flags & libc::MS_REC != 0)
                    .map_err(err(format!("{step}: idmap")))?
            }
            (None, None) => m::mount(src.to_str(), &tpath, None, o.flags & (libc::MS_BIND | libc::MS_REC), None)
                .map_err(err(step.clone()))?,
        }
        // Flags other than bind/rec need a remount of the bind mount, keeping the flags the
        // kernel locks in a user namespace.
        let extra = o.flags & !(libc::MS_BIND | libc::MS_REC | libc::MS_REMOUNT);
        if extra != 0 {
            let fresh = reopen(ctx.root, dest).map_err(err(step.clone()))?;
            let fpath = m::proc_fd_path(fresh.as_fd());
            let locked = locked_flags(&fpath);
            m::mount(None, &fpath, None, libc::MS_BIND | libc::MS_REMOUNT | extra | locked, None)
                .map_err(err(step.clone()))?;
        }
    } else if o.flags & libc::MS_REMOUNT != 0 {
        m::mount(None, &tpath, None, o.flags, data_opt).map_err(err(step.clone()))?;
    } else if o.idmap.is_some() {
        // fsconfig takes one option per call, so the label needs no quoting (it may hold commas).
        let mut fs_data = o.data.clone();
        if let (Some(label), true) = (ctx.mount_label, label_applies(typ)) {
            fs_data.push(format!("context={label}"));
        }
        super::idmap::new_fs(typ, source, &fs_data, mount_attrs(o.flags), target.as_fd(), mnt)
            .map_err(err(format!("{step}: idmap")))?;
    } else {
        let r = m::mount(Some(source), &tpath, Some(typ), o.flags, data_opt);
        match r {
            Err(e) if typ == "sysfs" && ctx.userns && (e.errno == libc::EPERM || e.errno == libc::EACCES) => {
                // sysfs cannot be mounted in a user namespace without its own network
                // namespace: bind the host's, read-only, as other runtimes do.
                m::mount(Some("/sys"), &tpath, None, libc::MS_BIND | libc::MS_REC, None).map_err(err(step.clone()))?;
                remount_bind_readonly(ctx.root, dest).map_err(err(step.clone()))?;
            }
            Err(e) if typ == "devpts" && ctx.userns && e.errno == libc::EINVAL && data.contains("gid=") => {
                // `gid=5` (tty) is usually not mapped in a rootless user namespace and the
                // kernel refuses an unmapped gid: mount without it (new ptys then get the
                // group of their opener), as configs written for root expect to work.
                let rest = without_gid(&data);
                m::mount(Some(source), &tpath, Some(typ), o.flags, (!rest.is_empty()).then_some(rest.as_str()))
                    .map_err(err(step.clone()))?;
            }
            r => r.map_err(err(step.clone()))?,
        }
    }
    let fresh = reopen(ctx.root, dest).map_err(err(step.clone()))?;
    if let Some(under) = under {
        super::copyup::copy_dir(under.as_fd(), fresh.as_fd()).map_err(err(format!("{step}: tmpcopyup")))?;
    }
    for p in &o.propagation {
        m::mount(None, &m::proc_fd_path(fresh.as_fd()), None, *p, None).map_err(err(step.clone()))?;
    }
    if o.attr_set != 0 || o.attr_clr != 0 {
        let attr = MountAttr { attr_set: o.attr_set, attr_clr: o.attr_clr, ..Default::default() };
        m::mount_setattr(fresh.as_fd(), true, &attr).map_err(err(step.clone()))?;
    }
    Ok(())
}

/// The `MOUNT_ATTR_*` equivalent of a new mount's `MS_*` flags, for fsmount(2).
fn mount_attrs(flags: u64) -> u64 {
    let mut a = 0;
    for (ms, attr) in [
        (libc::MS_RDONLY, MOUNT_ATTR_RDONLY),
        (libc::MS_NOSUID, MOUNT_ATTR_NOSUID),
        (libc::MS_NODEV, MOUNT_ATTR_NODEV),
        (libc::MS_NOEXEC, MOUNT_ATTR_NOEXEC),
        (libc::MS_NOATIME, MOUNT_ATTR_NOATIME),
        (libc::MS_STRICTATIME, MOUNT_ATTR_STRICTATIME),
        (libc::MS_NODIRATIME, MOUNT_ATTR_NODIRATIME),
        (MS_NOSYMFOLLOW, MOUNT_ATTR_NOSYMFOLLOW),
    ] {
        if flags & ms != 0 {
            a |= attr;
        }
    }
    a
}

/// Mount data without its `gid=` option.
fn without_gid(data: &str) -> String {
    data.split(',').filter(|o| !o.starts_with("gid=")).collect::<Vec<_>>().join(",")
}

fn label_applies(typ: &str) -> bool {
    matches!(typ, "tmpfs" | "devpts" | "mqueue" | "shm")
}

/// Re-open a destination after mounting on it, to get the new mount's root: a path walk
/// crosses the new mount, while the old fd's /proc/self/fd link still names what is under it.
pub fn reopen(root: BorrowedFd<'_>, dest: &Path) -> Result<OwnedFd, SysError> {
    m::openat2(root, &clean(dest), libc::O_PATH, 0, m::RESOLVE_IN_ROOT)
}

/// Remount the bind mount at `dest` read-only, nosuid, nodev and noexec, keeping the flags the
/// kernel locks in a user namespace.
pub fn remount_bind_readonly(root: BorrowedFd<'_>, dest: &Path) -> Result<(), SysError> {
    let fresh = reopen(root, dest)?;
    let fpath = m::proc_fd_path(fresh.as_fd());
    let flags = libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
    m::mount(None, &fpath, None, flags | locked_flags(&fpath), None)
}

/// MS_* flags of the mount at `path` that a remount in a user namespace must keep.
pub fn locked_flags(path: &Path) -> u64 {
    let Ok(st) = crate::sys::fs_stat::statvfs_flags(path) else { return 0 };
    let mut f = 0;
    for (st_flag, ms) in [
        (libc::ST_NOSUID, libc::MS_NOSUID),
        (libc::ST_NODEV, libc::MS_NODEV),
        (libc::ST_NOEXEC, libc::MS_NOEXEC),
        (libc::ST_NOATIME, libc::MS_NOATIME),
        (libc::ST_NODIRATIME, libc::MS_NODIRATIME),
        (libc::ST_RELATIME, libc::MS_RELATIME),
        (libc::ST_RDONLY, 0),
    ] {
        if st & st_flag != 0 {
            f |= ms;
        }
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn options_split() {
        let o = parse_options(&s(&["nosuid", "noexec", "mode=755", "size=65536k", "rprivate", "rro", "ro", "rw"]));
        assert_eq!(o.flags, libc::MS_NOSUID | libc::MS_NOEXEC);
        assert_eq!(o.data, s(&["mode=755", "size=65536k"]));
        assert_eq!(o.propagation, vec![libc::MS_PRIVATE | libc::MS_REC]);
        assert_eq!(o.attr_set, MOUNT_ATTR_RDONLY);
        let o = parse_options(&s(&["rbind", "tmpcopyup", "ridmap", "rnoatime"]));
        assert_eq!(o.flags, libc::MS_BIND | libc::MS_REC);
        assert!(o.tmpcopyup);
        assert_eq!(o.idmap, Some(true));
        assert_eq!((o.attr_set, o.attr_clr), (MOUNT_ATTR_NOATIME, MOUNT_ATTR_ATIME));
    }

    #[test]
    fn gid_is_dropped_from_devpts_data() {
        assert_eq!(without_gid("newinstance,ptmxmode=0666,mode=0620,gid=5"), "newinstance,ptmxmode=0666,mode=0620");
        assert_eq!(without_gid("gid=5"), "");
    }

    #[test]
    fn clean_paths() {
        assert_eq!(clean(Path::new("/a/./b/../c")), PathBuf::from("a/b/../c"));
        assert_eq!(clean(Path::new("/")), PathBuf::from("."));
    }
}
