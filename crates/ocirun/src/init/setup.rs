//! The ordered set-up steps of the container's init, from its first instruction after clone
//! to `Ready`. Each line is one step; the order is the one the kernel and the spec require.

use std::ffi::CString;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use super::{devices, exec, mounts, rootfs, wait_continue, InitArgs};
use crate::process::sync::{ChildError, Msg};
use crate::spec::Spec;
use crate::sys::mount as m;
use crate::sys::process::{self as p, Forked};
use crate::sys::{fd, SysError};

/// What [`setup`] hands to the final exec step.
pub struct ExecPlan {
    /// Resolved program path inside the container.
    pub program: CString,
    /// argv.
    pub argv: Vec<CString>,
    /// envp.
    pub envp: Vec<CString>,
    /// Hook state JSON, for startContainer hooks.
    pub state_json: Option<String>,
    /// The checked program, for execveat (ELF binaries; scripts run by path).
    pub program_fd: Option<std::os::fd::OwnedFd>,
    /// The seccomp notify fd of a filter loaded during `create`, open until the exec.
    pub notify_fd: Option<std::os::fd::OwnedFd>,
}

/// rootfsPropagation modes that can only be given to the root once it is in place.
const AFTER_PIVOT: u64 = libc::MS_SHARED | libc::MS_UNBINDABLE;

fn sys(step: &'static str) -> impl Fn(SysError) -> ChildError {
    move |e| ChildError::sys(step, e)
}

/// Run every step up to `Ready`, then wait for the parent to record the state.
pub fn setup(a: &InitArgs) -> Result<ExecPlan, ChildError> {
    let spec = &a.spec;
    let process = spec.process.as_ref().ok_or_else(|| ChildError::msg("process", "the config has no process"))?;
    p::set_pdeathsig(libc::SIGKILL).map_err(sys("pdeathsig"))?;
    wait_continue(&a.sync, "wait for the runtime")?;
    set_cpu_affinity(process.exec_cpu_affinity.as_ref().and_then(|x| x.initial.as_deref()), "execCPUAffinity.initial")?;
    if a.new_userns && !a.late_userns {
        become_root()?;
    }
    join_namespaces(a)?;
    if a.unshare_flags != 0 {
        p::unshare(a.unshare_flags).map_err(sys("unshare namespaces"))?;
    }
    if a.late_userns {
        a.sync.send(&Msg::MapsNeeded).map_err(sys("ask for user namespace maps"))?;
        wait_continue(&a.sync, "wait for user namespace maps")?;
        become_root()?;
    }
    write_time_offsets(spec)?;
    // Until execve, keep other processes of the container away from our /proc/PID (exe, mem).
    // Not earlier: an unprivileged parent must still write our uid/gid maps.
    p::set_dumpable(false).map_err(sys("prctl(PR_SET_DUMPABLE)"))?;
    if a.needs_fork {
        fork_init(a)?;
    }
    request_net_devices(a)?;
    let prop = spec.linux.as_ref().and_then(|l| l.rootfs_propagation.as_deref()).and_then(mounts::propagation_flag);
    if a.mountns {
        // Set up under a recursive propagation that never shares: a rootfs left a peer of a
        // shared host mount would send every set-up mount to the host and make pivot_root
        // fail, and an unbindable one cannot be bound onto itself. Shared and unbindable
        // are given to the new root once it is in place.
        let setup_prop = match prop {
            Some(p) if p & AFTER_PIVOT == 0 => p | libc::MS_REC,
            _ => libc::MS_SLAVE | libc::MS_REC,
        };
        rootfs::set_root_propagation(setup_prop)?;
        rootfs::bind_self(&a.rootfs)?;
    }
    let root = mount_all(a, open_rootfs(&a.rootfs)?)?;
    make_devices(a, &root)?;
    // A missing cwd is made now, while the root may still be written: a read-only root or
    // readonlyPaths would refuse it later. Failing here is not fatal: chdir_cwd reports it.
    let _ = mounts::open_in_root(root.as_fd(), Path::new(&process.cwd), true);
    let state_json = hooks_before_pivot(a)?;
    let enter = match (a.mountns, a.no_pivot) {
        (false, _) => rootfs::Enter::Chroot,
        (true, true) => rootfs::Enter::MoveChroot,
        (true, false) => rootfs::Enter::PivotRoot,
    };
    rootfs::pivot(root.as_fd(), enter)?;
    let newroot = m::openat(None, Path::new("/"), libc::O_PATH | libc::O_DIRECTORY, 0).map_err(sys("open /"))?;
    if let Some(l) = &spec.linux {
        // Sysctls first: readonlyPaths usually contains /proc/sys.
        write_sysctls(&l.sysctl)?;
        for path in &l.masked_paths {
            rootfs::mask(newroot.as_fd(), path)?;
        }
        for path in &l.readonly_paths {
            rootfs::readonly(newroot.as_fd(), path)?;
        }
    }
    set_uts(spec)?;
    loopback_up(a)?;
    // Its own session and process group, as crun and runc give it: a kill(0, ...) inside
    // must not reach the runtime's (the engine's) process group on the host.
    p::setsid().map_err(sys("setsid"))?;
    if process.terminal {
        setup_terminal(a, newroot.as_fd())?;
    }
    // After the last bind mount: nothing can be bound from an unbindable tree.
    if let Some(late) = prop.filter(|p| a.mountns && p & AFTER_PIVOT != 0) {
        rootfs::set_root_propagation(late)?;
    }
    if spec.root.as_ref().is_some_and(|r| r.readonly) {
        rootfs::readonly_root()?;
    }
    exec::set_process_attributes(process, spec.linux.as_ref())?;
    if !a.no_new_keyring {
        new_session_keyring(spec)?;
    }
    let mut plan = exec::prepare(process, state_json, a.own_binary)?;
    chdir_cwd(&process.cwd)?;
    join_cgroup(a)?;
    // From here on the container outlives `ocirun create`; if the runtime dies before it
    // recorded the state, the sync socket's EOF ends us instead.
    p::set_pdeathsig(0).map_err(sys("pdeathsig"))?;
    a.sync.send(&Msg::Ready).map_err(sys("report ready"))?;
    wait_continue(&a.sync, "wait for the runtime to record the state")?;
    // With a notify listener the filter goes in now, so the agent has its fd before `start`.
    plan.notify_fd = exec::seal_early(a)?;
    Ok(plan)
}

/// In its final network namespace, ask the runtime to move `linux.netDevices` in (it holds
/// the devices and the privilege over the runtime's namespace; see [`crate::netdev`]).
fn request_net_devices(a: &InitArgs) -> Result<(), ChildError> {
    if !a.spec.linux.as_ref().is_some_and(|l| !l.net_devices.is_empty()) {
        return Ok(());
    }
    a.sync.send(&Msg::NetDevices).map_err(sys("ask for network devices"))?;
    wait_continue(&a.sync, "wait for network devices")
}

/// Enter the container's cgroup, then (if asked) a cgroup namespace rooted there.
fn join_cgroup(a: &InitArgs) -> Result<(), ChildError> {
    crate::cgroups::join_self(&a.cgroup_procs)
        .map_err(|errno| ChildError::sys("join the container's cgroup", SysError::new("write cgroup.procs", errno)))?;
    if a.cgroupns {
        p::unshare(libc::CLONE_NEWCGROUP).map_err(sys("unshare the cgroup namespace"))?;
    }
    Ok(())
}

fn become_root() -> Result<(), ChildError> {
    // After the parent wrote the maps, become root of the new user namespace.
    p::setresgid(0).map_err(sys("setresgid(0) in the user namespace: is gid 0 mapped?"))?;
    p::setresuid(0).map_err(sys("setresuid(0) in the user namespace: is uid 0 mapped?"))
}

fn join_namespaces(a: &InitArgs) -> Result<(), ChildError> {
    for (flag, nsfd) in &a.join {
        p::setns(nsfd.as_fd(), *flag).map_err(|e| ChildError::sys(format!("join namespace {}", ns_name(*flag)), e))?;
    }
    Ok(())
}

fn ns_name(flag: i32) -> &'static str {
    crate::spec::validate::NAMESPACES.iter().find(|(_, f)| *f == flag).map_or("?", |(n, _)| n)
}

fn write_time_offsets(spec: &Spec) -> Result<(), ChildError> {
    let Some(l) = &spec.linux else { return Ok(()) };
    if l.time_offsets.is_empty() {
        return Ok(());
    }
    let mut text = String::new();
    for (clock, off) in &l.time_offsets {
        text.push_str(&format!("{clock} {} {}\n", off.secs, off.nanosecs));
    }
    std::fs::write("/proc/self/timens_offsets", text).map_err(|e| {
        ChildError::sys("linux.timeOffsets", SysError::io("write", Path::new("/proc/self/timens_offsets"), &e))
    })
}

/// Fork so that a joined or new pid/time namespace applies; the middle process reports the
/// new init's pid and exits.
fn fork_init(a: &InitArgs) -> Result<(), ChildError> {
    match p::clone3(libc::CLONE_PARENT as u64, None).map_err(sys("fork into the pid namespace"))? {
        Forked::Parent(pid) => {
            let _ = a.sync.send(&Msg::InitPid(pid));
            p::exit_now(0)
        }
        Forked::Child => p::set_pdeathsig(libc::SIGKILL).map_err(sys("pdeathsig")),
    }
}

fn open_rootfs(rootfs: &Path) -> Result<OwnedFd, ChildError> {
    m::openat(None, rootfs, libc::O_PATH | libc::O_DIRECTORY, 0).map_err(|e| ChildError::sys("open rootfs", e))
}

/// Apply `mounts` in order and return the root they leave: a mount on `/` itself (a tmpcopyup
/// tmpfs, a bind) becomes the root that later mounts, the devices and pivot_root work in.
fn mount_all(a: &InitArgs, mut root: OwnedFd) -> Result<OwnedFd, ChildError> {
    let label = a.spec.linux.as_ref().and_then(|l| l.mount_label.as_deref());
    for (i, mnt) in a.spec.mounts.iter().enumerate() {
        let ctx = mounts::MountCtx {
            root: root.as_fd(),
            bundle: &a.bundle,
            userns: a.userns,
            cgroup_dirs: &a.cgroup_dirs,
            mount_label: label,
            bind_sources: &a.bind_sources,
        };
        mounts::mount_one(&ctx, i, mnt)?;
        if mnt.destination.trim_matches('/').is_empty() {
            root = open_rootfs(&a.rootfs)?;
        }
    }
    Ok(root)
}

fn make_devices(a: &InitArgs, root: &OwnedFd) -> Result<(), ChildError> {
    let dev_bound =
        a.spec.mounts.iter().any(|mt| mt.destination.trim_end_matches('/') == "/dev" && mounts::is_bind(mt));
    if !dev_bound {
        // A default device the config mounts itself (a /dev/null bind with its own flags) is
        // left to that mount: bound over it, ours would hide it.
        let mounted = |path: &str| a.spec.mounts.iter().any(|mt| Path::new(&mt.destination) == Path::new(path));
        for d in devices::default_devices().into_iter().filter(|d| !mounted(&d.path)) {
            devices::create(root.as_fd(), &d, a.userns)?;
        }
        devices::symlinks(root.as_fd())?;
    }
    for d in a.spec.linux.iter().flat_map(|l| l.devices.iter()) {
        devices::create(root.as_fd(), d, a.userns)?;
    }
    Ok(())
}

/// Ask the parent to run prestart/createRuntime hooks, then run createContainer hooks here.
fn hooks_before_pivot(a: &InitArgs) -> Result<Option<String>, ChildError> {
    let Some(h) = &a.spec.hooks else { return Ok(None) };
    if h.prestart.is_empty()
        && h.create_runtime.is_empty()
        && h.create_container.is_empty()
        && h.start_container.is_empty()
    {
        return Ok(None);
    }
    a.sync.send(&Msg::RunHooks).map_err(sys("ask for hooks"))?;
    let state = match a.sync.recv() {
        Ok(Some(Msg::State(state))) => state,
        Ok(Some(Msg::Error(e))) => return Err(e),
        Ok(None) => p::exit_now(1),
        Ok(Some(other)) => return Err(ChildError::msg("hooks", format!("unexpected message {other:?}"))),
        Err(e) => return Err(ChildError::sys("hooks", e)),
    };
    crate::hooks::run_all("createContainer", &h.create_container, &state, Some(&a.bundle))
        .map_err(|e| ChildError::msg("createContainer hook", e.to_string()))?;
    Ok(Some(state))
}

fn write_sysctls(sysctl: &std::collections::BTreeMap<String, String>) -> Result<(), ChildError> {
    for (k, v) in sysctl {
        let path = PathBuf::from("/proc/sys").join(k.replace('.', "/"));
        std::fs::write(&path, v)
            .map_err(|e| ChildError::sys(format!("linux.sysctl.{k}"), SysError::io("write", &path, &e)))?;
    }
    Ok(())
}

/// In a new network namespace, bring `lo` up (the only device there), as engines expect
/// `localhost` to work; failing is a warning, not a reason to refuse the container.
fn loopback_up(a: &InitArgs) -> Result<(), ChildError> {
    let new_netns =
        a.spec.linux.as_ref().is_some_and(|l| l.namespaces.iter().any(|n| n.typ == "network" && n.path.is_none()));
    if !new_netns {
        return Ok(());
    }
    if let Err(e) = crate::sys::net::loopback_up() {
        a.sync
            .send(&Msg::Warning(format!("cannot bring up the loopback device: {e}")))
            .map_err(sys("report a warning"))?;
    }
    Ok(())
}

fn set_uts(spec: &Spec) -> Result<(), ChildError> {
    if let Some(h) = &spec.hostname {
        p::sethostname(h).map_err(sys("hostname"))?;
    }
    if let Some(d) = &spec.domainname {
        p::setdomainname(d).map_err(sys("domainname"))?;
    }
    Ok(())
}

/// Allocate the pty inside the container, hand the master to the console socket, and make
/// the slave our stdio and controlling terminal.
fn setup_terminal(a: &InitArgs, root: std::os::fd::BorrowedFd<'_>) -> Result<(), ChildError> {
    let console =
        a.console.as_ref().ok_or_else(|| ChildError::msg("terminal", "process.terminal needs a console socket"))?;
    let (master, slave) = fd::open_pty(Path::new("/dev/ptmx")).map_err(sys("open /dev/ptmx"))?;
    let n = fd::pty_number(master.as_fd()).map_err(sys("pty number"))?;
    if let Some(size) = a.spec.process.as_ref().and_then(|p| p.console_size) {
        fd::set_winsize(slave.as_fd(), size.height as u16, size.width as u16).map_err(sys("console size"))?;
    }
    let pts = PathBuf::from(format!("/dev/pts/{n}"));
    rootfs::bind_console(root, &pts)?;
    fd::send_with_fd(console.as_fd(), b"/dev/ptmx", Some(master.as_fd()))
        .map_err(sys("send the pty master to the console socket"))?;
    drop(master);
    fd::set_controlling_tty(slave.as_fd()).map_err(sys("controlling terminal"))?;
    for i in 0..3 {
        fd::dup2(slave.as_fd(), i).map_err(sys("terminal stdio"))?;
    }
    Ok(())
}

fn new_session_keyring(spec: &Spec) -> Result<(), ChildError> {
    let _ = spec;
    match p::join_session_keyring(c"_ses.ocirun") {
        Ok(()) => Ok(()),
        // Kernels or seccomp policies without keyctl: carry on, as other runtimes do.
        Err(e) if e.errno == libc::ENOSYS || e.errno == libc::EPERM || e.errno == libc::EACCES => Ok(()),
        Err(e) => Err(ChildError::sys("session keyring", e)),
    }
}

pub(crate) fn chdir_cwd(cwd: &str) -> Result<(), ChildError> {
    // A missing cwd is created, as other runtimes do.
    if let Err(e) = std::fs::create_dir_all(cwd) {
        return Err(ChildError::sys("process.cwd", SysError::io("mkdir", Path::new(cwd), &e)));
    }
    m::chdir(Path::new(cwd)).map_err(|e| ChildError::sys("process.cwd", e))?;
    // The cwd must be inside the new root (CVE-2024-21626): getcwd fails or says
    // "(unreachable)" for a directory outside it.
    match std::env::current_dir() {
        Ok(p) if p.is_absolute() => Ok(()),
        _ => Err(ChildError::msg("process.cwd", format!("{cwd} is not inside the container"))),
    }
}

/// Parse a CPU list like `0-3,7`.
pub fn parse_cpu_list(s: &str) -> Option<Vec<usize>> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (usize, usize) = (a.parse().ok()?, b.parse().ok()?);
                if a > b {
                    return None;
                }
                out.extend(a..=b);
            }
            None => out.push(part.parse().ok()?),
        }
    }
    Some(out)
}

pub(crate) fn set_cpu_affinity(list: Option<&str>, field: &str) -> Result<(), ChildError> {
    let Some(list) = list else { return Ok(()) };
    let cpus = parse_cpu_list(list)
        .ok_or_else(|| ChildError::msg(format!("process.{field}"), format!("{list:?} is not a CPU list")))?;
    p::sched_setaffinity(&cpus).map_err(|e| ChildError::sys(format!("process.{field}"), e))
}
