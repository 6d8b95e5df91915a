//! `checkpoint` and `restore`: save a running container's processes to image files with
//! CRIU and bring them back later, in a new container of the same id.
//!
//! The `criu` binary does the work; it runs as a child process with its command-line
//! interface (criu(8)), its images in the image directory and its log in the work directory
//! (the image directory unless told otherwise). A failed criu run is a [`CriuError`] naming
//! the log file and quoting its last lines.
//!
//! What the library adds around criu:
//! - **Mounts** that come from outside the container's root (the config's bind mounts, and
//!   host device nodes bound in when the container has a user namespace) are declared
//!   external on dump (`--external mnt[DEST]:KEY`) and bound again from the host on restore
//!   (`--external mnt[KEY]:SOURCE`). The map is kept in the image directory
//!   ([`EXTERNAL_FILE`]); a bind mount of the restoring bundle's config takes its source from
//!   that config. proc, sysfs, tmpfs, devpts, mqueue and cgroup mounts, and the binds of the
//!   masked and read-only paths (made from the container's own mounts), criu saves itself.
//! - **Stdio**: the init's fds 0-2 are recorded ([`STDIO_FILE`]); on restore a pipe or socket
//!   is replaced by the restoring process's own fd of the same number (`--inherit-fd`), so
//!   the restored container writes where the caller of `restore` reads. `/dev/null` and files
//!   inside the container are reopened by criu. A file outside the container's mounts cannot
//!   be saved (criu fails, naming it).
//! - **Cgroup**: restore makes the container's cgroup from the config first (applying
//!   `linux.resources`), runs criu in it and gives it as the root of the restored cgroups
//!   (`--cgroup-root`), so the restored tasks are there whatever `--manage-cgroups` says.
//! - **State**: after a checkpoint that did not leave it running, the container is deleted
//!   (its cgroup removed, poststop hooks run), as runc does; restore records a new container
//!   in state `running` with the restored init's pid.
//!
//! Not supported (each a clear error): a container with a terminal, namespaces joined by
//! path, rootless containers and the systemd cgroup driver on restore.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use super::Runtime;
use crate::error::{Error, Result};
use crate::spec::Spec;
use crate::state::{time, ContainerState, Status};
use crate::sys::{process as p, SysError};

/// File in the image directory with the external mounts: key, mount point, host source.
pub const EXTERNAL_FILE: &str = "ocirun-external.json";
/// File in the image directory with what the init's fds 0, 1 and 2 were at dump time.
pub const STDIO_FILE: &str = "ocirun-stdio.json";
/// criu's log of a dump or pre-dump, in the work directory.
pub const DUMP_LOG: &str = "dump.log";
/// criu's log of a restore, in the work directory.
pub const RESTORE_LOG: &str = "restore.log";
const PID_FILE: &str = "ocirun-restore.pid";
/// How many lines of criu's log an error quotes.
const TAIL_LINES: usize = 12;

/// How criu treats the container's cgroups (`--manage-cgroups`; criu(8)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ManageCgroups {
    /// Restore cgroup properties only where the cgroup was made by criu (criu's default).
    #[default]
    Soft,
    /// Always restore every property.
    Full,
    /// Restore every property, failing if a cgroup already exists with other values.
    Strict,
    /// Neither dump nor restore cgroup information: the restored tasks stay in the cgroup
    /// criu runs in (the container's own, see the module docs).
    Ignore,
}

impl ManageCgroups {
    /// criu's name of the mode.
    pub fn as_str(self) -> &'static str {
        match self {
            ManageCgroups::Soft => "soft",
            ManageCgroups::Full => "full",
            ManageCgroups::Strict => "strict",
            ManageCgroups::Ignore => "ignore",
        }
    }
}

impl std::str::FromStr for ManageCgroups {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "soft" => Ok(ManageCgroups::Soft),
            "full" => Ok(ManageCgroups::Full),
            "strict" => Ok(ManageCgroups::Strict),
            "ignore" => Ok(ManageCgroups::Ignore),
            _ => Err(Error::InvalidArgument(format!(
                "cgroup management mode {s:?}: expected soft, full, strict or ignore"
            ))),
        }
    }
}

/// Options of [`Runtime::checkpoint`]. New options may be added in any release: build it
/// with [`CheckpointOptions::new`] and set the public fields.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CheckpointOptions {
    /// Directory for the images (created if missing).
    pub image_path: PathBuf,
    /// Directory for criu's log and work files; the image directory when `None`.
    pub work_path: Option<PathBuf>,
    /// Keep the container running after the dump (`--leave-running`).
    pub leave_running: bool,
    /// Save established TCP connections (`--tcp-established`).
    pub tcp_established: bool,
    /// Save file locks (`--file-locks`).
    pub file_locks: bool,
    /// Only save memory, leaving the container running, for a later dump with
    /// [`CheckpointOptions::parent_path`] (`criu pre-dump --track-mem`).
    pub pre_dump: bool,
    /// Images of an earlier pre-dump: only memory changed since is saved
    /// (`--prev-images-dir`, with memory tracking). As criu takes it: relative to the image
    /// directory, or absolute.
    pub parent_path: Option<PathBuf>,
    /// How criu treats cgroups; criu's default (soft) when `None`.
    pub manage_cgroups: Option<ManageCgroups>,
    /// The criu binary (looked up in `PATH` when it has no slash).
    pub criu: PathBuf,
}

impl CheckpointOptions {
    /// Options saving to `image_path`, everything else at its default.
    pub fn new(image_path: impl Into<PathBuf>) -> Self {
        CheckpointOptions {
            image_path: image_path.into(),
            work_path: None,
            leave_running: false,
            tcp_established: false,
            file_locks: false,
            pre_dump: false,
            parent_path: None,
            manage_cgroups: None,
            criu: PathBuf::from("criu"),
        }
    }
}

/// Options of [`Runtime::restore`]. New options may be added in any release: build it with
/// [`RestoreOptions::new`] and set the public fields.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RestoreOptions {
    /// The bundle to restore into (its config and root filesystem).
    pub bundle: PathBuf,
    /// Directory holding the images of a checkpoint.
    pub image_path: PathBuf,
    /// Directory for criu's log and work files; the image directory when `None`.
    pub work_path: Option<PathBuf>,
    /// Restore established TCP connections (`--tcp-established`).
    pub tcp_established: bool,
    /// Restore file locks (`--file-locks`).
    pub file_locks: bool,
    /// How criu treats cgroups; criu's default (soft) when `None`.
    pub manage_cgroups: Option<ManageCgroups>,
    /// Return once restored; otherwise wait for the restored init to exit (forwarding
    /// signals to it), delete the container and return its exit code.
    pub detach: bool,
    /// File to write the restored init's pid to.
    pub pid_file: Option<PathBuf>,
    /// The criu binary (looked up in `PATH` when it has no slash).
    pub criu: PathBuf,
}

impl RestoreOptions {
    /// Options restoring the images in `image_path` into the bundle at `bundle`.
    pub fn new(bundle: impl Into<PathBuf>, image_path: impl Into<PathBuf>) -> Self {
        RestoreOptions {
            bundle: bundle.into(),
            image_path: image_path.into(),
            work_path: None,
            tcp_established: false,
            file_locks: false,
            manage_cgroups: None,
            detach: false,
            pid_file: None,
            criu: PathBuf::from("criu"),
        }
    }
}

/// A failure of criu or of running it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CriuError {
    /// The criu binary could not be run.
    #[error(
        "cannot run {criu}: {reason}; checkpoint and restore need CRIU (install the `criu` package, or give its path)"
    )]
    NotFound {
        /// The binary tried.
        criu: PathBuf,
        /// Why it could not be run.
        reason: String,
    },
    /// criu ran and failed.
    #[error("criu {op} failed ({status}); see its log {log}; last lines:\n{tail}")]
    Failed {
        /// `dump`, `pre-dump` or `restore`.
        op: &'static str,
        /// How criu ended.
        status: String,
        /// Its log file.
        log: PathBuf,
        /// The last lines of the log (its error lines first) and of its stderr.
        tail: String,
    },
    /// The image directory holds no checkpoint.
    #[error("{path} holds no checkpoint (no inventory.img): give the --image-path of a checkpoint")]
    NoImages {
        /// The directory.
        path: PathBuf,
    },
    /// A file the library keeps next to the images is unreadable.
    #[error("cannot read {path}: {reason}")]
    BadRecord {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

impl CriuError {
    /// The stable kind of this error.
    pub fn kind(&self) -> crate::error::ErrorKind {
        match self {
            CriuError::NotFound { .. } => crate::error::ErrorKind::Unsupported,
            CriuError::NoImages { .. } => crate::error::ErrorKind::InvalidArgument,
            CriuError::Failed { .. } | CriuError::BadRecord { .. } => crate::error::ErrorKind::Io,
        }
    }
}

/// One external mount: criu's key, the mount point in the container, the host source.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ExternalMount {
    /// The key criu stores in its images.
    pub key: String,
    /// The mount point inside the container.
    pub destination: String,
    /// What is bound there from the host.
    pub source: PathBuf,
}

impl Runtime {
    /// Checkpoint a running container with criu into [`CheckpointOptions::image_path`].
    /// Unless `leave_running` or `pre_dump` is set, the container's processes end with the
    /// dump and the container is deleted (as `delete`: cgroup removed, poststop hooks run).
    pub fn checkpoint(&self, id: &str, opts: &CheckpointOptions) -> Result<()> {
        let (dir, st, status) = self.open(id)?;
        if status != Status::Running {
            return Err(Error::WrongState { id: id.into(), status: status.to_string(), op: "checkpoint it" });
        }
        check_supported(&st.config, "checkpoint")?;
        let images = absolute(&opts.image_path)?;
        let work = match &opts.work_path {
            Some(w) => absolute(w)?,
            None => images.clone(),
        };
        for d in [&images, &work] {
            make_dir(d)?;
        }
        let external = external_mounts(&st)?;
        write_record(&images.join(EXTERNAL_FILE), &external)?;
        write_record(&images.join(STDIO_FILE), &stdio_of(st.pid))?;
        let op = if opts.pre_dump { "pre-dump" } else { "dump" };
        let mut cmd = Command::new(&opts.criu);
        cmd.arg(op).arg("--tree").arg(st.pid.to_string());
        common_args(&mut cmd, &images, &work, DUMP_LOG);
        if opts.tcp_established {
            cmd.arg("--tcp-established");
        }
        if opts.file_locks {
            cmd.arg("--file-locks");
        }
        if opts.leave_running && !opts.pre_dump {
            cmd.arg("--leave-running");
        }
        if opts.pre_dump || opts.parent_path.is_some() {
            cmd.arg("--track-mem");
        }
        if let Some(parent) = &opts.parent_path {
            cmd.arg("--prev-images-dir").arg(parent);
        }
        if let Some(m) = opts.manage_cgroups {
            cmd.arg(format!("--manage-cgroups={}", m.as_str()));
        }
        for e in &external {
            cmd.arg("--external").arg(format!("mnt[{}]:{}", e.destination, e.key));
        }
        run_criu(cmd, &[], op, &work.join(DUMP_LOG))?;
        if opts.leave_running || opts.pre_dump {
            return Ok(());
        }
        // criu ended the processes; the container goes as runc's does. The lock is released
        // first: delete takes it again.
        drop(dir);
        self.delete(id, true)
    }

    /// Restore a container from the images in [`RestoreOptions::image_path`] as a new
    /// container `id` of the bundle [`RestoreOptions::bundle`]. Detached, returns 0 once the
    /// container runs; otherwise waits for its init and returns its exit code. The foreground
    /// form makes the calling process a child subreaper (`PR_SET_CHILD_SUBREAPER`, which stays
    /// set: orphaned descendants become its children) and forwards signals while it waits, as
    /// the CLI's `restore` without `--detach` needs; a program that embeds the library and
    /// does not want that uses `detach` and waits on the pid itself.
    pub fn restore(&self, id: &str, opts: &RestoreOptions) -> Result<i32> {
        crate::state::validate_id(id)?;
        if self.rootless {
            return Err(unsupported("restore", "rootless containers cannot be restored: criu needs root"));
        }
        if self.systemd_cgroup {
            return Err(unsupported(
                "restore",
                "with the systemd cgroup driver the container's scope cannot hold criu; use the cgroupfs driver",
            ));
        }
        if self.no_cgroup {
            return Err(unsupported("restore", "restore needs a cgroup for the container; use a cgroup manager"));
        }
        let images = absolute(&opts.image_path)?;
        if !images.join("inventory.img").is_file() {
            return Err(CriuError::NoImages { path: images }.into());
        }
        let work = match &opts.work_path {
            Some(w) => absolute(w)?,
            None => images.clone(),
        };
        make_dir(&work)?;
        let (spec, bundle, rootfs) = super::create::load_bundle(&super::CreateOptions::new(&opts.bundle))?;
        check_supported(&spec, "restore")?;
        let external = read_external(&images.join(EXTERNAL_FILE), &spec, &bundle)?;
        let stdio = read_record::<Vec<String>>(&images.join(STDIO_FILE))?.unwrap_or_default();
        let mut st = ContainerState {
            id: id.into(),
            pid: 0,
            pid_start: 0,
            bundle,
            rootfs,
            status: Status::Creating,
            created: time::now_rfc3339(),
            owner: p::geteuid(),
            config: spec,
            cgroup: None,
            systemd_cgroup: false,
            rdt: None,
            notify_socket: None,
        };
        let dir = self.store.create(id, &st)?;
        // Foreground: the restored init is left to the nearest subreaper when criu detaches
        // from it, which has to be us to wait for it.
        let old_mask = if opts.detach {
            None
        } else {
            p::set_child_subreaper()?;
            Some(p::block_signals(&super::child::FORWARD)?)
        };
        let restored = self.restore_in(&dir, &mut st, opts, &images, &work, &external, &stdio);
        let result = match restored {
            Ok(()) if opts.detach => Ok(0),
            Ok(()) => {
                drop(dir);
                let waited = super::child::Child::from_pid(st.pid).and_then(|mut c| c.wait_forwarding());
                let deleted = self.delete(id, true);
                waited.and_then(|code| deleted.map(|()| code))
            }
            Err(e) => {
                let cleanup = (|| -> Result<()> {
                    if st.pid > 0 {
                        let _ = p::kill(st.pid, libc::SIGKILL);
                    }
                    super::cgroup::destroy_recorded(&st)?;
                    dir.remove()
                })();
                match cleanup {
                    Ok(()) => Err(e),
                    Err(c) => Err(Error::Cleanup { error: Box::new(e), cleanup: Box::new(c) }),
                }
            }
        };
        if let Some(m) = old_mask {
            p::set_sigmask(&m);
        }
        result
    }

    #[allow(clippy::too_many_arguments)]
    fn restore_in(
        &self,
        dir: &crate::state::ContainerDir,
        st: &mut ContainerState,
        opts: &RestoreOptions,
        images: &Path,
        work: &Path,
        external: &[ExternalMount],
        stdio: &[String],
    ) -> Result<()> {
        let (config, id) = (st.config.clone(), st.id.clone());
        let mut record = |planned: Option<crate::cgroups::Manager>| -> Result<()> {
            st.cgroup = planned;
            dir.save(st)
        };
        drop(super::cgroup::setup(&config, &id, false, &mut record)?);
        let mgr = super::pause::manager(st, "restore")?;
        let procs = mgr.procs_files()?;
        let pid_file = work.join(PID_FILE);
        let _ = std::fs::remove_file(&pid_file);
        let mut cmd = Command::new(&opts.criu);
        cmd.arg("restore");
        common_args(&mut cmd, images, work, RESTORE_LOG);
        cmd.arg("--root").arg(&st.rootfs).arg("--restore-detached").arg("--pidfile").arg(&pid_file);
        if opts.tcp_established {
            cmd.arg("--tcp-established");
        }
        if opts.file_locks {
            cmd.arg("--file-locks");
        }
        let mode = opts.manage_cgroups.unwrap_or_default();
        cmd.arg(format!("--manage-cgroups={}", mode.as_str()));
        if mode != ManageCgroups::Ignore {
            // Only the hierarchies the container has a cgroup in: others (v1 name=systemd)
            // keep the dumped path, and are not left with a cgroup nobody removes.
            let path = mgr.path().as_str();
            if mgr.layout().is_v2() {
                cmd.arg("--cgroup-root").arg(path);
            }
            for (ctrls, _) in mgr.v1_hierarchies() {
                for c in ctrls {
                    cmd.arg("--cgroup-root").arg(format!("{c}:{path}"));
                }
            }
        }
        for e in external {
            cmd.arg("--external").arg(format!("mnt[{}]:{}", e.key, e.source.display()));
        }
        for (fd, what) in stdio.iter().enumerate() {
            if what.starts_with("pipe:") || what.starts_with("socket:") {
                cmd.arg("--inherit-fd").arg(format!("fd[{fd}]:{what}"));
            }
        }
        run_criu(cmd, &procs, "restore", &work.join(RESTORE_LOG))?;
        let text = std::fs::read_to_string(&pid_file).map_err(|e| SysError::io("read", &pid_file, &e))?;
        let pid: i32 = text.trim().parse().map_err(|_| CriuError::BadRecord {
            path: pid_file.clone(),
            reason: format!("expected the restored init's pid, found {text:?}"),
        })?;
        st.pid = pid;
        st.pid_start = crate::state::process_start_time(pid).unwrap_or(0);
        st.status = Status::Running;
        dir.save(st)?;
        if let Some(pf) = &opts.pid_file {
            super::create::write_pid_file(pf, pid)?;
        }
        Ok(())
    }
}

fn unsupported(what: &str, reason: &str) -> Error {
    Error::Unsupported { what: what.into(), reason: reason.into() }
}

/// What criu cannot do for us, refused before it runs.
fn check_supported(spec: &Spec, op: &str) -> Result<()> {
    if spec.process.as_ref().is_some_and(|p| p.terminal) {
        return Err(unsupported(
            &format!("{op} of a container with a terminal"),
            "its pty lives outside the container; use process.terminal false",
        ));
    }
    let joined = spec.linux.as_ref().into_iter().flat_map(|l| &l.namespaces).find(|n| n.path.is_some());
    if let Some(ns) = joined {
        return Err(unsupported(
            &format!("{op} of a container that joins a namespace by path"),
            &format!(
                "linux.namespaces: the {} namespace {} belongs to others and cannot be saved with the container",
                ns.typ,
                ns.path.as_deref().unwrap_or_default()
            ),
        ));
    }
    Ok(())
}

fn absolute(p: &Path) -> Result<PathBuf> {
    if p.is_absolute() {
        return Ok(p.to_path_buf());
    }
    let cwd = std::env::current_dir().map_err(|e| SysError::io("getcwd", Path::new("."), &e))?;
    Ok(cwd.join(p))
}

fn make_dir(d: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(d).map_err(|e| SysError::io("mkdir", d, &e).into())
}

/// `-D`, `-W`, `-o` and the log level every criu call takes.
fn common_args(cmd: &mut Command, images: &Path, work: &Path, log: &str) {
    cmd.arg("--images-dir").arg(images).arg("--work-dir").arg(work).arg("--log-file").arg(log).arg("-v4");
}

/// Run criu (in the cgroups of `procs`, if any) and turn a failure into a [`CriuError`].
fn run_criu(mut cmd: Command, procs: &[std::fs::File], op: &'static str, log: &Path) -> Result<()> {
    cmd.stdin(Stdio::inherit()).stdout(Stdio::null()).stderr(Stdio::piped());
    let criu = PathBuf::from(cmd.get_program());
    log::debug!("running {cmd:?}");
    let spawned = if procs.is_empty() { cmd.spawn() } else { p::spawn_in_cgroups(&mut cmd, procs) };
    let child = spawned.map_err(|e| CriuError::NotFound { criu, reason: e.to_string() })?;
    let out = child.wait_with_output().map_err(|e| SysError::io("wait for criu", log, &e))?;
    if out.status.success() {
        return Ok(());
    }
    let status = match out.status.code() {
        Some(c) => format!("exit code {c}"),
        None => format!("{}", out.status),
    };
    let mut tail = log_tail(log);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stderr = stderr.trim();
    if !stderr.is_empty() {
        tail.push_str("\nstderr: ");
        tail.push_str(stderr);
    }
    Err(CriuError::Failed { op, status, log: log.to_path_buf(), tail }.into())
}

/// The error lines of a criu log and its last lines.
fn log_tail(log: &Path) -> String {
    let Ok(f) = std::fs::File::open(log) else {
        return format!("(no log at {})", log.display());
    };
    let lines: Vec<String> = BufReader::new(f).lines().map_while(|l| l.ok()).collect();
    let mut out: Vec<&str> =
        lines.iter().filter(|l| l.contains("Error")).take(TAIL_LINES).map(|s| s.as_str()).collect();
    let last = lines.len().saturating_sub(TAIL_LINES / 2);
    for l in &lines[last..] {
        if !out.contains(&l.as_str()) {
            out.push(l);
        }
    }
    out.join("\n")
}

/// The mounts of the container that come from outside its root: the config's bind mounts,
/// and every other mount that is a bind of a host mount (a slave of a host peer group, as a
/// cgroup file system bound from the host, or a host device node bound in when the container
/// has a user namespace). The source of the latter is found in our own mount table: the host
/// mount of the same file system whose root holds the container mount's root.
fn external_mounts(st: &ContainerState) -> Result<Vec<ExternalMount>> {
    let mut out: Vec<ExternalMount> = Vec::new();
    for m in &st.config.mounts {
        if !crate::init::mounts::is_bind(m) {
            continue;
        }
        let dest = clean_dest(&m.destination);
        let source = bind_source(m.source.as_deref().unwrap_or_default(), &st.bundle);
        out.push(ExternalMount { key: dest.clone(), destination: dest, source });
    }
    let read = |path: &str| std::fs::read_to_string(path).map_err(|e| SysError::io("read", Path::new(path), &e));
    let host = read("/proc/self/mountinfo")?;
    let host: Vec<MountInfo> = host.lines().filter_map(MountInfo::parse).collect();
    for m in read(&format!("/proc/{}/mountinfo", st.pid))?.lines().filter_map(MountInfo::parse) {
        let from_host = m.slave || matches!(m.fstype.as_str(), "devtmpfs" | "cgroup" | "cgroup2");
        if m.point == "/" || !from_host || out.iter().any(|e| e.destination == m.point) {
            continue;
        }
        let Some(source) = host_source(&host, &m) else {
            return Err(unsupported(
                "checkpoint",
                &format!(
                    "the container's mount {} ({} {}{}) comes from the host but no host mount of it was found",
                    m.point, m.fstype, m.dev, m.root
                ),
            ));
        };
        out.push(ExternalMount { key: m.point.clone(), destination: m.point, source });
    }
    Ok(out)
}

/// One line of a mountinfo file, the fields used here.
struct MountInfo {
    dev: String,
    root: String,
    point: String,
    fstype: String,
    /// A slave of some peer group (`master:N`).
    slave: bool,
}

impl MountInfo {
    fn parse(line: &str) -> Option<MountInfo> {
        let f: Vec<&str> = line.split(' ').collect();
        let sep = f.iter().position(|x| *x == "-")?;
        Some(MountInfo {
            dev: f.get(2)?.to_string(),
            root: crate::cgroups::layout::unescape(f.get(3)?),
            point: crate::cgroups::layout::unescape(f.get(4)?),
            fstype: f.get(sep + 1)?.to_string(),
            slave: f.get(6..sep)?.iter().any(|o| o.starts_with("master:")),
        })
    }
}

/// Where `m` is on the host: a host mount of the same file system whose root holds `m`'s
/// root, joined with the rest of the path (the shortest such root wins).
fn host_source(host: &[MountInfo], m: &MountInfo) -> Option<PathBuf> {
    host.iter()
        .filter(|h| h.dev == m.dev)
        .filter_map(|h| {
            let rest = if h.root == "/" { Some(m.root.as_str()) } else { m.root.strip_prefix(h.root.as_str()) }?;
            if !(rest.is_empty() || rest.starts_with('/') || h.root == "/") {
                return None;
            }
            Some((h.root.len(), Path::new(&h.point).join(rest.trim_start_matches('/'))))
        })
        .min_by_key(|(len, _)| *len)
        .map(|(_, p)| p)
}

fn clean_dest(d: &str) -> String {
    let t = d.trim_end_matches('/');
    let t = if t.starts_with('/') { t.to_string() } else { format!("/{t}") };
    if t.is_empty() {
        "/".into()
    } else {
        t
    }
}

fn bind_source(src: &str, bundle: &Path) -> PathBuf {
    let p = Path::new(src);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        bundle.join(p)
    }
}

/// What the init's fds 0, 1 and 2 are (`/proc/PID/fd/N` links: `pipe:[...]`, a path, ...).
fn stdio_of(pid: i32) -> Vec<String> {
    (0..3)
        .map(|fd| {
            std::fs::read_link(format!("/proc/{pid}/fd/{fd}"))
                .map(|l| l.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect()
}

fn write_record<T: Serialize>(path: &Path, v: &T) -> Result<()> {
    let data =
        serde_json::to_vec_pretty(v).map_err(|e| CriuError::BadRecord { path: path.into(), reason: e.to_string() })?;
    std::fs::write(path, data).map_err(|e| SysError::io("write", path, &e).into())
}

fn read_record<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Option<T>> {
    let data = match std::fs::read(path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(SysError::io("read", path, &e).into()),
    };
    serde_json::from_slice(&data)
        .map(Some)
        .map_err(|e| CriuError::BadRecord { path: path.into(), reason: e.to_string() }.into())
}

/// The external mounts to bind on restore: those recorded at dump time, with the source of a
/// bind mount the restoring config also has taken from that config.
fn read_external(path: &Path, spec: &Spec, bundle: &Path) -> Result<Vec<ExternalMount>> {
    let mut recorded: Vec<ExternalMount> = read_record(path)?.unwrap_or_default();
    for e in &mut recorded {
        let now =
            spec.mounts.iter().find(|m| crate::init::mounts::is_bind(m) && clean_dest(&m.destination) == e.destination);
        if let Some(m) = now {
            e.source = bind_source(m.source.as_deref().unwrap_or_default(), bundle);
        }
    }
    Ok(recorded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse() {
        for m in [ManageCgroups::Soft, ManageCgroups::Full, ManageCgroups::Strict, ManageCgroups::Ignore] {
            assert_eq!(m.as_str().parse::<ManageCgroups>().unwrap(), m);
        }
        assert!("loose".parse::<ManageCgroups>().is_err());
    }

    #[test]
    fn mountinfo_escapes() {
        assert_eq!(crate::cgroups::layout::unescape("/a\\040b"), "/a b");
        assert_eq!(crate::cgroups::layout::unescape("/plain"), "/plain");
        assert_eq!(crate::cgroups::layout::unescape("/end\\04"), "/end\\04");
    }

    #[test]
    fn host_sources() {
        let host: Vec<MountInfo> = [
            "24 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw",
            "30 24 0:26 / /sys/fs/cgroup rw shared:9 - cgroup2 cgroup2 rw",
            "31 24 0:5 / /dev rw shared:2 - devtmpfs udev rw",
        ]
        .iter()
        .filter_map(|l| MountInfo::parse(l))
        .collect();
        let cg = MountInfo::parse("144 136 0:26 /ocirun/bb /sys/fs/cgroup ro master:9 - cgroup2 cgroup2 rw").unwrap();
        assert!(cg.slave);
        assert_eq!(host_source(&host, &cg), Some(PathBuf::from("/sys/fs/cgroup/ocirun/bb")));
        let null = MountInfo::parse("150 139 0:5 /null /dev/null rw - devtmpfs udev rw").unwrap();
        assert!(!null.slave);
        assert_eq!(host_source(&host, &null), Some(PathBuf::from("/dev/null")));
        let other = MountInfo::parse("151 139 0:99 / /x rw master:3 - tmpfs t rw").unwrap();
        assert_eq!(host_source(&host, &other), None);
    }

    #[test]
    fn destinations() {
        assert_eq!(clean_dest("/share/"), "/share");
        assert_eq!(clean_dest("share"), "/share");
    }

    #[test]
    fn tail_lists_errors_then_last_lines() {
        let dir = std::env::temp_dir().join(format!("ocirun-criu-tail-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("dump.log");
        let mut text = String::from("(00.1) Error (x.c:1): first\n");
        for i in 0..20 {
            text.push_str(&format!("(00.2) line {i}\n"));
        }
        std::fs::write(&log, text).unwrap();
        let t = log_tail(&log);
        assert!(t.starts_with("(00.1) Error (x.c:1): first"), "{t}");
        assert!(t.ends_with("line 19"), "{t}");
        assert!(!t.contains("line 2\n"), "{t}");
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(log_tail(&log).contains("no log at"));
    }
}
