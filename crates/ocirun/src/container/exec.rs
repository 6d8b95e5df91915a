//! `exec`: run a new process in a running container. The process joins every namespace of
//! the container's init (one setns on a pidfd), its cgroup and its seccomp filter (from the
//! compiled cache), with the capabilities, user, rlimits and no_new_privs of the process.

use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;

use super::child::{Child, FORWARD};
use super::run::{proxy_terminal, recv_master};
use super::Runtime;
use crate::error::{Error, Result};
use crate::init::caps::CapSets;
use crate::init::exec_init::{self, ExecArgs};
use crate::process::sync::{Channel, ChildError, Msg};
use crate::spec::validate::namespace_flag;
use crate::spec::Process;
use crate::state::Status;
use crate::sys::process as p;
use crate::sys::{fd, SysError};

/// Options of `exec`. New options may be added in any release: build it with
/// [`ExecOptions::new`] and set the public fields.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ExecOptions {
    /// The process to run (build it with [`process_from`] or read a process.json).
    pub process: Process,
    /// Socket that receives the pty master when `process.terminal` is set.
    pub console_socket: Option<PathBuf>,
    /// Return once the process started.
    pub detach: bool,
    /// File to write the process's pid to.
    pub pid_file: Option<PathBuf>,
    /// Pass fds 3..3+N.
    pub preserve_fds: u32,
    /// Allow exec into a paused container.
    pub ignore_paused: bool,
    /// Run in sub-cgroups of the container's cgroup, as runc's repeatable `--cgroup`: each
    /// entry is `[CONTROLLER[,CONTROLLER...]:]PATH`, PATH relative to the container's cgroup;
    /// without controllers it applies to every hierarchy, with them only to theirs (v1).
    pub sub_cgroup: Vec<String>,
    /// Unix socket that receives a pidfd of the new process.
    pub pidfd_socket: Option<PathBuf>,
}

impl ExecOptions {
    /// Run `process`, everything else at its default.
    pub fn new(process: Process) -> Self {
        ExecOptions { process, ..Default::default() }
    }
}

/// What the command line can override in the container's process for `exec`. New fields may
/// be added in any release: build it with [`ProcessOverrides::new`].
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ProcessOverrides {
    /// Command and arguments.
    pub args: Vec<String>,
    /// Extra `KEY=value` entries (replacing the container's value of the same key).
    pub env: Vec<String>,
    /// Working directory.
    pub cwd: Option<String>,
    /// uid and optional gid.
    pub user: Option<(u32, Option<u32>)>,
    /// Supplementary groups.
    pub additional_gids: Vec<u32>,
    /// Capabilities to add (bounding, effective, permitted; ambient where already inheritable).
    pub caps: Vec<String>,
    /// Set no_new_privs.
    pub no_new_privs: bool,
    /// Allocate a terminal.
    pub tty: bool,
    /// AppArmor profile.
    pub apparmor: Option<String>,
    /// SELinux label.
    pub process_label: Option<String>,
}

impl ProcessOverrides {
    /// Run `args` (command and arguments), everything else as in the container's process.
    pub fn new(args: Vec<String>) -> Self {
        ProcessOverrides { args, ..Default::default() }
    }
}

/// The process `exec` runs: the container's process with `o` applied.
pub fn process_from(base: &Process, o: &ProcessOverrides) -> Process {
    let mut p = base.clone();
    p.args = o.args.clone();
    for kv in &o.env {
        let key = kv.split('=').next().unwrap_or(kv);
        p.env.retain(|e| e.split('=').next() != Some(key));
        p.env.push(kv.clone());
    }
    if let Some(cwd) = &o.cwd {
        p.cwd = cwd.clone();
    }
    if let Some((uid, gid)) = o.user {
        p.user.uid = uid;
        if let Some(g) = gid {
            p.user.gid = g;
        }
    }
    if !o.additional_gids.is_empty() {
        p.user.additional_gids = o.additional_gids.clone();
    }
    if !o.caps.is_empty() {
        // As `runc exec --cap`: the capability goes into the bounding, effective and permitted
        // sets. It reaches the ambient set (and so survives the exec of a non-root user's
        // program) only where the container's process already has it inheritable: the kernel
        // refuses an ambient capability that is not inheritable, and adding to the
        // inheritable set is a grant the container's config did not make.
        let mut c = p.capabilities.take().unwrap_or_default();
        let names: Vec<String> = o
            .caps
            .iter()
            .map(|cap| {
                let up = cap.to_ascii_uppercase();
                if up.starts_with("CAP_") {
                    up
                } else {
                    format!("CAP_{up}")
                }
            })
            .collect();
        let inheritable = c.inheritable.clone().unwrap_or_default();
        for set in [&mut c.bounding, &mut c.effective, &mut c.permitted] {
            let list = set.get_or_insert_with(Vec::new);
            for name in &names {
                if !list.contains(name) {
                    list.push(name.clone());
                }
            }
        }
        for name in names.iter().filter(|n| inheritable.contains(n)) {
            let list = c.ambient.get_or_insert_with(Vec::new);
            if !list.contains(name) {
                list.push(name.clone());
            }
        }
        p.capabilities = Some(c);
    }
    p.no_new_privileges |= o.no_new_privs;
    p.terminal = o.tty;
    if o.apparmor.is_some() {
        p.apparmor_profile = o.apparmor.clone();
    }
    if o.process_label.is_some() {
        p.selinux_label = o.process_label.clone();
    }
    p
}

impl Runtime {
    /// The container's own process, as the base for [`process_from`].
    pub fn container_process(&self, id: &str) -> Result<Process> {
        let (_dir, st, _) = self.open(id)?;
        Ok(st.config.process.unwrap_or_default())
    }

    /// Run a process in a running container. Returns its exit code (128+N when killed by
    /// signal N) or, detached, 0 once it started (the detached process stays a child of the
    /// caller: use [`Runtime::spawn_exec`] to get a handle that can wait for it).
    ///
    /// In the foreground the calling thread waits on a pidfd and forwards SIGINT, SIGTERM,
    /// SIGHUP, SIGQUIT, SIGUSR1/2, SIGWINCH and SIGCONT to the process: it blocks those in
    /// this thread only while it waits, and never touches SIGCHLD.
    pub fn exec(&self, id: &str, opts: &ExecOptions) -> Result<i32> {
        if opts.detach {
            return self.exec_started(id, opts, true).map(|_| 0);
        }
        // Block the forwarded signals before the process exists, so none is lost.
        let old_mask = p::block_signals(&FORWARD)?;
        let result = self.exec_started(id, opts, false).and_then(|(mut child, ours)| match ours {
            Some(sock) => proxy_terminal(&mut child, recv_master(&sock)?),
            None => child.wait_forwarding(),
        });
        p::set_sigmask(&old_mask);
        result
    }

    /// Start a process in a running container and return it as a [`Child`] without waiting
    /// (like `exec --detach`): wait for it with [`Child::wait`], or await its pidfd from an
    /// async runtime and call [`Child::try_wait`]. A terminal needs
    /// [`ExecOptions::console_socket`].
    pub fn spawn_exec(&self, id: &str, opts: &ExecOptions) -> Result<Child> {
        self.exec_started(id, opts, true).map(|(child, _)| child)
    }

    /// Start the process; with `detached` false and a terminal without console socket, also
    /// return our end of the socket that receives the pty master.
    fn exec_started(&self, id: &str, opts: &ExecOptions, detached: bool) -> Result<(Child, Option<OwnedFd>)> {
        // Before we open anything: fds opened from here on may fill holes in 3..3+N.
        let pass_fds = fd::open_fds(3, opts.preserve_fds);
        let (dir, st, status) = self.open(id)?;
        drop(dir);
        match status {
            Status::Running | Status::Created => {}
            Status::Paused if opts.ignore_paused => {}
            s => {
                return Err(Error::WrongState {
                    id: id.into(),
                    status: s.to_string(),
                    op: "exec (use --ignore-paused for a paused one)",
                })
            }
        }
        let process = &opts.process;
        crate::spec::validate::validate_process(process)?;
        crate::lsm::check_process(process)?;
        let pidfd = p::pidfd_open(st.pid)?;
        if !st.init_alive() {
            return Err(Error::WrongState { id: id.into(), status: "stopped".into(), op: "exec" });
        }
        let linux = st.config.linux.clone();
        let mut ns_flags = 0;
        let mut userns = false;
        for ns in linux.iter().flat_map(|l| l.namespaces.iter()) {
            if let Some(f) = namespace_flag(&ns.typ) {
                ns_flags |= f;
                userns |= f == libc::CLONE_NEWUSER;
            }
        }
        let needs_fork = ns_flags & (libc::CLONE_NEWPID | libc::CLONE_NEWTIME) != 0;
        let mut warnings = Vec::new();
        let caps = CapSets::from_spec(&process.capabilities.clone().unwrap_or_default(), &mut warnings);
        for w in &warnings {
            log::warn!("{w}");
        }
        let profile = linux.as_ref().and_then(|l| l.seccomp.as_ref());
        let seccomp = match profile {
            Some(profile) => Some(crate::seccomp::compile_cached(profile, &self.store.root().join("seccomp-cache"))?),
            None => None,
        };
        // A notify filter's fd goes to the listener for this process too (see crate::seccomp).
        let listener = match (seccomp.as_ref().filter(|f| f.uses_notify()), profile) {
            (Some(f), Some(profile)) => {
                let path = profile.listener_path.as_deref().ok_or_else(|| {
                    crate::error::SpecError::new("linux.seccomp.listenerPath", "SCMP_ACT_NOTIFY needs a listenerPath")
                })?;
                if !f.allows_notify_handover() {
                    return Err(crate::error::SpecError::new(
                        "linux.seccomp",
                        "with SCMP_ACT_NOTIFY the profile must allow sendmsg: the notify fd is handed over with it",
                    )
                    .into());
                }
                Some(Listener {
                    path: std::path::PathBuf::from(path),
                    metadata: profile.listener_metadata.clone(),
                    state: st.oci_state(status),
                })
            }
            _ => None,
        };
        let cgroup_procs = match super::cgroup::recorded(&st) {
            Some(m) if opts.sub_cgroup.is_empty() => m.procs_files()?,
            Some(m) => {
                let dirs = sub_cgroup_dirs(&m.v1_hierarchies(), m.unified_dir(), &opts.sub_cgroup)?;
                dirs.iter().map(|d| open_procs(d)).collect::<Result<Vec<_>>>()?
            }
            None if !opts.sub_cgroup.is_empty() => {
                return Err(Error::InvalidArgument(format!(
                    "--cgroup: container {id:?} has no cgroup of its own to have sub-cgroups"
                )))
            }
            None => Vec::new(),
        };
        if process.terminal && opts.console_socket.is_none() && detached {
            return Err(Error::InvalidArgument("a detached exec with a terminal needs --console-socket".into()));
        }
        let (console, ours): (Option<OwnedFd>, Option<OwnedFd>) = if !process.terminal {
            (None, None)
        } else if let Some(path) = &opts.console_socket {
            (
                Some(
                    fd::unix_connect(path)
                        .map_err(|e| Error::InvalidArgument(format!("cannot connect to the console socket: {e}")))?,
                ),
                None,
            )
        } else {
            let (a, b) = fd::seqpacket_pair()?;
            (Some(b), Some(a))
        };
        {
            let (ours_sync, theirs) = fd::seqpacket_pair()?;
            let args = ExecArgs {
                process: process.clone(),
                linux,
                pidfd,
                ns_flags,
                needs_fork,
                userns,
                sync: Channel(theirs),
                cgroup_procs,
                caps: Some(caps),
                seccomp,
                console,
                pass_fds,
                own_binary: crate::init::selfexec::own_binary(),
            };
            let middle_sync = Channel(
                args.sync.0.try_clone().map_err(|e| SysError::io("dup", std::path::Path::new("sync socket"), &e))?,
            );
            let (child, middle, _) = crate::process::fork_child(0, None, &middle_sync, move || exec_init::run(args))?;
            drop(middle_sync);
            let sync = Channel(ours_sync);
            let pid = match wait_exec(&sync, child, middle, listener.as_ref()) {
                Ok(pid) => pid,
                Err(e) => {
                    let _ = p::kill(child, libc::SIGKILL);
                    let _ = p::waitpid(child, false);
                    return Err(e);
                }
            };
            // The process is our child and not reaped yet: its pid is still its own.
            let child = Child::from_pid(pid)?;
            if let Some(pf) = &opts.pid_file {
                super::create::write_pid_file(pf, pid)?;
            }
            if let Some(sock) = &opts.pidfd_socket {
                let s = fd::unix_connect(sock)
                    .map_err(|e| Error::InvalidArgument(format!("cannot connect to the pidfd socket: {e}")))?;
                fd::send_with_fd(s.as_fd(), b"pidfd", Some(child.pidfd()))?;
            }
            Ok((child, ours))
        }
    }
}

/// Where the notify fd of an exec'd process's filter goes.
struct Listener {
    path: std::path::PathBuf,
    metadata: Option<String>,
    state: crate::spec::State,
}

/// Wait until the exec child has exec'd (EOF on the sync socket) or failed; returns the pid of
/// the new process.
///
/// Up to two intermediate processes report pids, in any order: the glibc fork of a
/// multi-threaded caller (`Forked`) and the fork into the container's pid namespace
/// (`InitPid`). Each exits right after reporting and is reaped here.
///
/// With a notify filter the child's last message carries its notify fd, which goes to the
/// listener; the wait ends there, as the exec itself may wait on an agent that never answers.
fn wait_exec(sync: &Channel, child: i32, threaded: bool, listener: Option<&Listener>) -> Result<i32> {
    let (mut forked, mut init) = (None, None);
    let result = loop {
        match sync.recv_fd() {
            Ok((Some(Msg::Forked(p2)), _)) => forked = Some(p2),
            Ok((Some(Msg::InitPid(p3)), _)) => init = Some(p3),
            Ok((Some(Msg::Error(e)), _)) => break Err(Error::Init(e)),
            Ok((Some(Msg::SeccompFd), Some(notify))) if let Some(l) = listener => {
                let pid = init.or(if threaded { forked } else { Some(child) }).unwrap_or(child);
                let cps = crate::seccomp::ContainerProcessState::new(pid, l.metadata.clone(), l.state.clone());
                break crate::seccomp::send_to_listener(&l.path, notify.as_fd(), &cps).map_err(Error::from);
            }
            Ok((Some(other), _)) => {
                break Err(Error::Init(ChildError::msg("exec", format!("unexpected message {other:?}"))))
            }
            Ok((None, _)) => break Ok(()),
            Err(e) => break Err(e.into()),
        }
    };
    if threaded {
        let _ = p::waitpid(child, false);
        if forked.is_none() {
            // The process can fail (or reach its exec) before the glibc fork reports its pid;
            // with that fork reaped, the pid is in the socket. Without it the process would
            // stay a zombie of the caller (seen under load in the embed tests).
            forked = crate::process::spawn::late_forked(sync);
        }
    }
    let exec_child = if threaded { forked } else { Some(child) };
    if init.is_some() {
        if let Some(m) = exec_child {
            let _ = p::waitpid(m, false);
        }
    }
    if result.is_err() {
        // The process that reported the error exits; reap it too.
        if let Some(pid) = init.or(if threaded { forked } else { None }) {
            let _ = p::waitpid(pid, false);
        }
    }
    result?;
    init.or(exec_child).ok_or_else(|| Error::Init(ChildError::msg("exec", "the process exited before it was started")))
}

/// The directory to join in each hierarchy for `exec --cgroup` (see
/// [`ExecOptions::sub_cgroup`]): `v1` is each v1 hierarchy's controllers and the container's
/// directory there, `unified` the container's cgroup v2 directory. A later entry naming a
/// controller wins over an earlier one; an entry without controllers applies where no entry
/// names one.
fn sub_cgroup_dirs(v1: &[(Vec<String>, PathBuf)], unified: Option<PathBuf>, subs: &[String]) -> Result<Vec<PathBuf>> {
    let bad = |sub: &str, why: &str| Error::InvalidArgument(format!("--cgroup {sub:?}: {why}"));
    let mut all: Option<&str> = None;
    let mut by_ctrl: Vec<(&str, &str)> = Vec::new();
    for sub in subs {
        let (ctrls, path) = match sub.split_once(':') {
            Some((c, p)) => (Some(c), p),
            None => (None, sub.as_str()),
        };
        let rel = path.trim_start_matches('/');
        if rel.is_empty() || rel.split('/').any(|c| c == "..") {
            return Err(bad(sub, "give a path inside the container's cgroup"));
        }
        match ctrls {
            None => all = Some(rel),
            Some(list) => {
                if v1.is_empty() {
                    return Err(bad(sub, "cgroup v2 has a single hierarchy: give the path without controller names"));
                }
                for c in list.split(',') {
                    if !v1.iter().any(|(names, _)| names.iter().any(|n| n == c)) {
                        return Err(bad(sub, &format!("no cgroup v1 hierarchy has the controller {c:?}")));
                    }
                    by_ctrl.push((c, rel));
                }
            }
        }
    }
    let mut dirs = Vec::new();
    for (names, dir) in v1 {
        let named = by_ctrl.iter().rev().find(|(c, _)| names.iter().any(|n| n == c)).map(|(_, p)| *p);
        dirs.push(match named.or(all) {
            Some(rel) => dir.join(rel),
            None => dir.clone(),
        });
    }
    if let Some(u) = unified {
        dirs.push(match all {
            Some(rel) => u.join(rel),
            None => u,
        });
    }
    Ok(dirs)
}

fn open_procs(dir: &std::path::Path) -> Result<std::fs::File> {
    let p = dir.join("cgroup.procs");
    std::fs::OpenOptions::new().write(true).open(&p).map_err(|e| SysError::io("open", &p, &e).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hybrid() -> (Vec<(Vec<String>, PathBuf)>, Option<PathBuf>) {
        let h = |names: &[&str], d: &str| (names.iter().map(|n| n.to_string()).collect(), PathBuf::from(d));
        (
            vec![
                h(&["cpu", "cpuacct"], "/cg/cpu,cpuacct/c"),
                h(&["memory"], "/cg/memory/c"),
                h(&["pids"], "/cg/pids/c"),
            ],
            Some(PathBuf::from("/cg/unified/c")),
        )
    }

    fn dirs(subs: &[&str]) -> Result<Vec<String>> {
        let (v1, u) = hybrid();
        let subs: Vec<String> = subs.iter().map(|s| s.to_string()).collect();
        Ok(sub_cgroup_dirs(&v1, u, &subs)?.iter().map(|d| d.display().to_string()).collect())
    }

    #[test]
    fn a_path_alone_applies_to_every_hierarchy() {
        let want = ["/cg/cpu,cpuacct/c/s", "/cg/memory/c/s", "/cg/pids/c/s", "/cg/unified/c/s"];
        assert_eq!(dirs(&["s"]).unwrap(), want);
        assert_eq!(dirs(&["/s"]).unwrap(), want);
    }

    #[test]
    fn controllers_select_their_v1_hierarchies_as_runc() {
        assert_eq!(
            dirs(&["memory,cpuacct:s"]).unwrap(),
            ["/cg/cpu,cpuacct/c/s", "/cg/memory/c/s", "/cg/pids/c", "/cg/unified/c"]
        );
        assert_eq!(
            dirs(&["a", "pids:b"]).unwrap(),
            ["/cg/cpu,cpuacct/c/a", "/cg/memory/c/a", "/cg/pids/c/b", "/cg/unified/c/a"]
        );
    }

    #[test]
    fn bad_entries_are_refused() {
        assert!(dirs(&["../x"]).is_err());
        assert!(dirs(&["memory:"]).is_err());
        assert!(dirs(&["bogus:x"]).is_err());
        let v2 = sub_cgroup_dirs(&[], Some(PathBuf::from("/u/c")), &["memory:x".to_string()]);
        assert!(v2.is_err());
    }
}
