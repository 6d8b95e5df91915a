//! `create`: validate the bundle, record the container, make its cgroup, clone the init into
//! its namespaces and drive it to `created`. Any failure removes everything made so far.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use super::cgroup as cgroups;
use super::Runtime;
use crate::error::{Error, Result};
use crate::init::caps::CapSets;
use crate::init::InitArgs;
use crate::process::namespaces;
use crate::process::spawn::{self, ParentHooks, Spawned};
use crate::process::sync::{Channel, ChildError, Msg};
use crate::spec::{self, Spec};
use crate::state::{time, ContainerDir, ContainerState, Status};
use crate::sys::{fd, mount as m, process as p, SysError};

/// Options of `create` (and `run`, `spawn`). New options may be added in any release: build
/// it with [`CreateOptions::new`] and set the public fields.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct CreateOptions {
    /// The bundle directory.
    pub bundle: PathBuf,
    /// Config file, if not `<bundle>/config.json`.
    pub config: Option<PathBuf>,
    /// Unix socket that receives the pty master when `process.terminal` is set.
    pub console_socket: Option<PathBuf>,
    /// File to write the init's pid to.
    pub pid_file: Option<PathBuf>,
    /// Use MS_MOVE + chroot instead of pivot_root (less safe: the old root stays reachable).
    pub no_pivot: bool,
    /// Do not give the container a new session keyring.
    pub no_new_keyring: bool,
    /// Pass fds 3..3+N to the container.
    pub preserve_fds: u32,
    /// Socket-activation fds (`LISTEN_FDS` of the caller): passed after the preserved ones,
    /// with `LISTEN_FDS=N` and `LISTEN_PID=1` in the container's environment.
    pub listen_fds: u32,
    /// The caller's `NOTIFY_SOCKET`: the container gets a socket of its own and `start`
    /// forwards its READY=1 there (as crun relays it).
    pub notify_socket: Option<PathBuf>,
    /// A spec to use instead of reading the config file.
    pub spec: Option<Spec>,
}

impl CreateOptions {
    /// Options for the bundle at `bundle`, everything else at its default.
    pub fn new(bundle: impl Into<PathBuf>) -> Self {
        CreateOptions { bundle: bundle.into(), ..Default::default() }
    }

    /// Use `spec` instead of reading the bundle's `config.json` (the bundle still holds the
    /// root filesystem, at `spec.root.path` relative to it).
    pub fn with_spec(mut self, spec: Spec) -> Self {
        self.spec = Some(spec);
        self
    }
}

/// A container created and waiting for `start`.
#[derive(Debug)]
pub struct Created {
    /// Container id.
    pub id: String,
    /// Init pid.
    pub pid: i32,
    /// Warnings to show.
    pub warnings: Vec<String>,
}

/// Load and check the bundle: config, rootfs.
pub(crate) fn load_bundle(opts: &CreateOptions) -> Result<(Spec, PathBuf, PathBuf)> {
    let bundle = std::fs::canonicalize(&opts.bundle).map_err(|e| SysError::io("bundle", &opts.bundle, &e))?;
    let spec = match &opts.spec {
        Some(s) => {
            spec::validate::validate(s)?;
            s.clone()
        }
        None => {
            let cfg = match &opts.config {
                Some(c) if c.is_absolute() => c.clone(),
                Some(c) => bundle.join(c),
                None => bundle.join("config.json"),
            };
            spec::load(&cfg)?
        }
    };
    if spec.process.is_none() {
        return Err(crate::error::SpecError::new("process", "missing: create needs a process to run").into());
    }
    if let Some(p) = &spec.process {
        crate::lsm::check_process(p)?;
    }
    if spec.linux.as_ref().and_then(|l| l.mount_label.as_deref()).is_some_and(|l| !l.is_empty())
        && !crate::lsm::selinux_enabled()
    {
        return Err(Error::Unsupported {
            what: "linux.mountLabel".into(),
            reason: "SELinux is not enabled on this host; remove the label or enable SELinux".into(),
        });
    }
    let rootfs = spec::rootfs_path(&spec, &bundle);
    check_rootfs(&rootfs)?;
    Ok((spec, bundle, rootfs))
}

fn check_rootfs(rootfs: &Path) -> Result<()> {
    let field = "root.path";
    // The host's own `/` is never a container's root, whether it is named through a symlink
    // or through `..`.
    use std::os::unix::fs::MetadataExt;
    let id = |p: &Path| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
    if id(rootfs).is_some() && id(rootfs) == id(Path::new("/")) {
        return Err(crate::error::SpecError::new(
            field,
            format!("rootfs `{}` resolves to the host's root directory `/`", rootfs.display()),
        )
        .into());
    }
    match std::fs::symlink_metadata(rootfs) {
        Err(_) => Err(crate::error::SpecError::new(
            field,
            format!("rootfs `{}` does not exist: no such file or directory", rootfs.display()),
        )
        .into()),
        Ok(md) if md.file_type().is_symlink() => Err(crate::error::SpecError::new(
            field,
            format!("rootfs `{}` is a symlink: give the real directory", rootfs.display()),
        )
        .into()),
        Ok(md) if !md.is_dir() => {
            Err(crate::error::SpecError::new(field, format!("rootfs `{}` is not a directory", rootfs.display())).into())
        }
        Ok(_) => Ok(()),
    }
}

/// The fds of 3..3+N (`preserve_fds` + `listen_fds`) the caller holds. Called before the
/// runtime opens anything: what it opens later may fill holes in that range, and must not be
/// passed (see [`crate::init::InitArgs::pass_fds`]).
pub(crate) fn passed_fds(opts: &CreateOptions) -> Vec<i32> {
    fd::open_fds(3, opts.preserve_fds.saturating_add(opts.listen_fds))
}

/// How the init's stdio and terminal are wired.
pub(crate) enum Console {
    /// No terminal.
    None,
    /// Connect to this socket and send the pty master there.
    Socket(PathBuf),
    /// Send the master over this (already connected) socket, for `run` in the foreground.
    Connected(OwnedFd),
}

impl Runtime {
    /// Create a container: after this it is `created` and its init waits for [`Runtime::start`].
    pub fn create(&self, id: &str, opts: &CreateOptions) -> Result<Created> {
        let pass_fds = passed_fds(opts);
        let console = match &opts.console_socket {
            Some(p) => Console::Socket(p.clone()),
            None => Console::None,
        };
        self.create_with(id, opts, console, load_bundle(opts)?, pass_fds)
    }

    /// Create from a bundle already loaded with [`load_bundle`] (`run` reads it only once);
    /// `pass_fds` is what [`passed_fds`] found before anything was opened.
    pub(crate) fn create_with(
        &self,
        id: &str,
        opts: &CreateOptions,
        console: Console,
        loaded: (Spec, PathBuf, PathBuf),
        pass_fds: Vec<i32>,
    ) -> Result<Created> {
        crate::state::validate_id(id)?;
        let (mut spec, bundle, rootfs) = loaded;
        if self.rootless {
            crate::rootless::require_user_namespace(&spec)?;
        }
        if opts.listen_fds > 0 {
            if let Some(p) = spec.process.as_mut() {
                p.env.retain(|e| !e.starts_with("LISTEN_FDS=") && !e.starts_with("LISTEN_PID="));
                p.env.push(format!("LISTEN_FDS={}", opts.listen_fds));
                p.env.push("LISTEN_PID=1".into());
            }
        }
        if let Some(p) = spec.process.as_mut() {
            mark_init_as_listener(&mut p.env);
        }
        if let Some(host) = &opts.notify_socket {
            super::notify::check_reachable(&spec, p::geteuid())?;
            super::notify::prepare(&mut spec, &self.store.root().join(id), host);
        }
        let terminal = spec.process.as_ref().is_some_and(|p| p.terminal);
        if terminal && matches!(console, Console::None) {
            return Err(Error::InvalidArgument("process.terminal is true: use --console-socket so the pty can be handed to you (or set terminal to false)".into()));
        }
        let mut st = ContainerState {
            id: id.into(),
            pid: 0,
            pid_start: 0,
            bundle: bundle.clone(),
            rootfs: rootfs.clone(),
            status: Status::Creating,
            created: time::now_rfc3339(),
            owner: p::geteuid(),
            config: spec,
            cgroup: None,
            systemd_cgroup: self.systemd_cgroup,
            rdt: None,
            notify_socket: opts.notify_socket.clone(),
        };
        // Published with its first state, so `delete --force` can clean up if we are killed.
        let dir = self.store.create(id, &st)?;
        match self.create_in(&dir, &mut st, opts, console, terminal, pass_fds) {
            Ok(c) => Ok(c),
            Err(e) => match cleanup_failed(&dir, &st) {
                Ok(()) => Err(e),
                Err(c) => Err(Error::Cleanup { error: Box::new(e), cleanup: Box::new(c) }),
            },
        }
    }

    fn create_in(
        &self,
        dir: &ContainerDir,
        st: &mut ContainerState,
        opts: &CreateOptions,
        console: Console,
        terminal: bool,
        pass_fds: Vec<i32>,
    ) -> Result<Created> {
        let mut warnings = Vec::new();
        // The cgroup is recorded before it is made, so a create killed half-way still leaves
        // `delete --force` what it needs to remove it.
        let (config, id) = (st.config.clone(), st.id.clone());
        let mut record = |planned: Option<crate::cgroups::Manager>| -> Result<()> {
            st.cgroup = planned;
            dir.save(st)
        };
        let mut cg = if self.no_cgroup {
            cgroups::setup_disabled(&config, &mut warnings)
        } else if self.rootless {
            cgroups::setup_rootless(&config, &id, &mut warnings, &mut record)?
        } else {
            cgroups::setup(&config, &id, self.systemd_cgroup, &mut record)?
        };
        st.rdt = crate::resctrl::setup(&st.config, &st.id)?;
        dir.save(st)?;
        if st.notify_socket.is_some() {
            super::notify::make_dir(&dir.path)?;
        }
        let exec_fifo = make_fifo(&dir.file("exec.fifo"))?;
        let status_fifo = make_fifo(&dir.file("status.fifo"))?;
        let console_fd = if terminal {
            Some(match console {
                Console::Socket(p) => fd::unix_connect(&p)
                    .map_err(|e| Error::InvalidArgument(format!("cannot connect to the console socket: {e}")))?,
                Console::Connected(f) => f,
                Console::None => unreachable_console()?,
            })
        } else {
            None
        };
        let plan = namespaces::plan(st.config.linux.as_ref())?;
        let caps = st
            .config
            .process
            .as_ref()
            .map(|p| CapSets::from_spec(&p.capabilities.clone().unwrap_or_default(), &mut warnings));
        let profile = st.config.linux.as_ref().and_then(|l| l.seccomp.as_ref());
        let seccomp = match profile {
            Some(profile) => {
                let f = crate::seccomp::compile_cached(profile, &self.store.root().join("seccomp-cache"))?;
                warnings.extend(f.warnings.iter().cloned());
                for s in &f.skipped {
                    log::debug!("{s}");
                }
                Some(f)
            }
            None => None,
        };
        // With SCMP_ACT_NOTIFY the init loads the filter before `create` returns and hands its
        // notify fd over with one sendmsg under the filter: see crate::seccomp.
        let listener = match (profile.and_then(|p| p.listener_path.as_deref()), seccomp.as_ref()) {
            (Some(path), Some(f)) if f.uses_notify() => {
                if !f.allows_notify_handover() {
                    return Err(crate::error::SpecError::new(
                        "linux.seccomp",
                        "with SCMP_ACT_NOTIFY the profile must allow sendmsg: the notify fd is handed over with it",
                    )
                    .into());
                }
                Some(PathBuf::from(path))
            }
            (None, Some(f)) if f.uses_notify() => {
                return Err(crate::error::SpecError::new(
                    "linux.seccomp.listenerPath",
                    "SCMP_ACT_NOTIFY needs a listenerPath",
                )
                .into())
            }
            _ => None,
        };
        let listener_meta = profile.and_then(|p| p.listener_metadata.clone());
        let cgroup_procs = cg.procs_files()?;
        let args = InitArgs {
            cgroup_procs,
            cgroup_dirs: cg.dirs(),
            spec: st.config.clone(),
            bundle: st.bundle.clone(),
            rootfs: st.rootfs.clone(),
            sync: Channel(fd::seqpacket_pair()?.0),
            exec_fifo,
            status_fifo,
            console: console_fd,
            pass_fds,
            no_pivot: opts.no_pivot,
            no_new_keyring: opts.no_new_keyring,
            join: Vec::new(),
            unshare_flags: plan.unshare_flags,
            needs_fork: plan.needs_fork,
            new_userns: plan.new_userns,
            late_userns: plan.late_userns,
            userns: plan.userns,
            cgroupns: plan.cgroupns,
            mountns: plan.mountns,
            caps,
            seccomp,
            own_binary: crate::init::selfexec::own_binary(),
            bind_sources: crate::init::mounts::open_bind_sources(&st.config, &st.bundle, plan.new_userns),
        };
        let mut plan = plan;
        let args = InitArgs { join: std::mem::take(&mut plan.join), ..args };
        let mut hooks = CreateHooks { st, cg: &mut cg, netns_pin: dir.file(NETNS_PIN) };
        let Spawned { pid, sync, warnings: w } = spawn::spawn(args, plan, &mut hooks)?;
        warnings.extend(w);
        st.pid = pid;
        st.pid_start = crate::state::process_start_time(pid).unwrap_or(0);
        st.status = Status::Created;
        dir.save(st)?;
        if let Some(pf) = &opts.pid_file {
            write_pid_file(pf, pid)?;
        }
        sync.send(&Msg::Continue)?;
        if let Some(path) = &listener {
            let notify = recv_notify_fd(&sync)?;
            let cps = crate::seccomp::ContainerProcessState::new(pid, listener_meta, st.oci_state(Status::Creating));
            crate::seccomp::send_to_listener(path, notify.as_fd(), &cps)?;
        }
        Ok(Created { id: st.id.clone(), pid, warnings })
    }
}

/// The init's last message when it loads a notify filter during `create`: the notify fd, or
/// the error that stopped it before or while loading the filter.
pub(crate) fn recv_notify_fd(sync: &Channel) -> Result<OwnedFd> {
    match sync.recv_fd()? {
        (Some(Msg::SeccompFd), Some(f)) => Ok(f),
        (Some(Msg::Error(e)), _) => Err(Error::Init(e)),
        (other, _) => Err(Error::Init(ChildError::msg(
            "seccomp",
            format!("expected the notify fd from the container process, got {other:?}"),
        ))),
    }
}

fn unreachable_console() -> Result<OwnedFd> {
    Err(Error::InvalidArgument("process.terminal needs a console socket".into()))
}

struct CreateHooks<'a> {
    st: &'a ContainerState,
    cg: &'a mut cgroups::Cgroup,
    netns_pin: PathBuf,
}

/// File in the container's state directory that pins its network namespace while it holds
/// `linux.netDevices` (see [`crate::netdev`]).
pub(crate) const NETNS_PIN: &str = "netns";

impl ParentHooks for CreateHooks<'_> {
    fn clone_into(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        self.cg.clone_into()
    }

    fn place(&mut self, pid: i32, cloned_into: bool) -> Result<()> {
        // See super::cgroup for when the init is placed here and when it joins last.
        self.cg.place(pid, cloned_into)?;
        if let Some(g) = &self.st.rdt {
            g.add_task(pid)?;
        }
        Ok(())
    }

    fn move_net_devices(&mut self, pid: i32) -> Result<()> {
        let Some(l) = self.st.config.linux.as_ref() else { return Ok(()) };
        let netns = crate::netdev::pin(pid, &self.netns_pin)?;
        Ok(crate::netdev::move_in(l, netns.as_fd())?)
    }

    fn run_hooks(&mut self, pid: i32) -> Result<String> {
        // crun says "created" here (runc "creating"); the OCI conformance suite
        // (runtime-tools hooks_stdin) expects "created" on a prestart hook's stdin.
        let state = spawn::hook_state(&self.st.config, &self.st.id, pid, &self.st.bundle, "created");
        if let Some(h) = &self.st.config.hooks {
            for (kind, list) in [("prestart", &h.prestart), ("createRuntime", &h.create_runtime)] {
                crate::hooks::run_all(kind, list, &state, Some(&self.st.bundle)).map_err(|e| Error::Hook {
                    hook: kind_name(kind),
                    path: String::new(),
                    reason: e.to_string(),
                })?;
            }
        }
        Ok(state)
    }
}

pub(crate) fn kind_name(kind: &str) -> &'static str {
    match kind {
        "prestart" => "prestart",
        "createRuntime" => "createRuntime",
        "createContainer" => "createContainer",
        "startContainer" => "startContainer",
        "poststart" => "poststart",
        _ => "poststop",
    }
}

fn make_fifo(path: &Path) -> Result<OwnedFd> {
    m::mkfifo(path, 0o600)?;
    // O_RDWR never blocks on a FIFO; the init inherits this fd.
    Ok(m::openat(None, path, libc::O_RDWR, 0)?)
}

/// Write the pid file atomically.
pub(crate) fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    let tmp = path.with_extension("ocirun-tmp");
    std::fs::write(&tmp, pid.to_string()).map_err(|e| SysError::io("write", &tmp, &e))?;
    std::fs::rename(&tmp, path).map_err(|e| SysError::io("rename", path, &e))?;
    Ok(())
}

/// Remove what a failed create made.
fn cleanup_failed(dir: &ContainerDir, st: &ContainerState) -> Result<()> {
    // The devices go back before the namespace can go away with the init.
    let net = crate::netdev::release(st.config.linux.as_ref(), &dir.file(NETNS_PIN));
    if st.pid > 0 {
        let _ = p::kill(st.pid, libc::SIGKILL);
    }
    let r = cgroups::destroy_recorded(st);
    let rdt = st.rdt.as_ref().map_or(Ok(()), |g| g.remove());
    dir.remove()?;
    net?;
    r?;
    Ok(rdt?)
}

/// `LISTEN_FDS` in our environment without fds for us to pass (`LISTEN_PID` names another
/// process): the container's init still gets `LISTEN_PID=1` unless the config names one, as
/// crun does (its test suite checks it), so the container's process is the one addressed.
fn mark_init_as_listener(env: &mut Vec<String>) {
    let has_pid = env.iter().any(|e| e.starts_with("LISTEN_PID="));
    if !has_pid && std::env::var_os("LISTEN_FDS").is_some() {
        env.push("LISTEN_PID=1".into());
    }
}
