//! Processes: clone3, waiting, signals, pidfds, credentials and the calls that change the
//! calling process's identity (namespaces, hostname, ids). All are thin and do not allocate,
//! so they are safe to call in a forked child of a single-threaded parent.

use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use super::{SysError, SysResult};

/// Result of [`clone3`] as seen by each side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forked {
    /// In the parent: the child's pid.
    Parent(i32),
    /// In the child.
    Child,
}

#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// Fork the calling process with `flags` (`CLONE_NEW*`, `CLONE_PARENT`, `CLONE_INTO_CGROUP`).
/// The child continues from this call like after `fork(2)`. The child gets SIGCHLD as exit signal.
///
/// The caller must be single-threaded, or the child must only make async-signal-safe calls.
pub fn clone3(flags: u64, cgroup: Option<BorrowedFd<'_>>) -> SysResult<Forked> {
    // With CLONE_PARENT the child inherits our exit signal; clone3 refuses one given here.
    let exit_signal = if flags & libc::CLONE_PARENT as u64 != 0 { 0 } else { libc::SIGCHLD as u64 };
    let mut args = CloneArgs { flags, exit_signal, ..Default::default() };
    if let Some(fd) = cgroup {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = fd.as_raw_fd() as u64;
    }
    // SAFETY: clone3 without CLONE_VM and with a null stack behaves like fork: the child gets a
    // copy of the address space and returns 0 here. `args` lives across the call.
    let r = unsafe { libc::syscall(libc::SYS_clone3, &mut args as *mut CloneArgs, std::mem::size_of::<CloneArgs>()) };
    match r {
        -1 => Err(SysError::last("clone3")),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(pid as i32)),
    }
}

/// `CLONE_INTO_CGROUP` (Linux 5.7).
pub const CLONE_INTO_CGROUP: u64 = 0x200000000;

/// How a waited-for process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Exited with a code.
    Exited(i32),
    /// Killed by a signal.
    Signaled(i32),
}

impl ExitStatus {
    /// The shell convention: the code, or 128 + signal.
    pub fn code(self) -> i32 {
        match self {
            ExitStatus::Exited(c) => c,
            ExitStatus::Signaled(s) => 128 + s,
        }
    }
}

/// Wait for `pid` to end (retrying on EINTR). With `nohang`, `Ok(None)` if it is still running.
pub fn waitpid(pid: i32, nohang: bool) -> SysResult<Option<ExitStatus>> {
    loop {
        let mut status = 0;
        let flags = if nohang { libc::WNOHANG } else { 0 } | libc::__WALL;
        // SAFETY: plain syscall with a valid out-pointer.
        let r = unsafe { libc::waitpid(pid, &mut status, flags) };
        if r == -1 {
            let e = super::last_errno();
            if e == libc::EINTR {
                continue;
            }
            return Err(SysError::new("waitpid", e));
        }
        if r == 0 {
            return Ok(None);
        }
        if libc::WIFEXITED(status) {
            return Ok(Some(ExitStatus::Exited(libc::WEXITSTATUS(status))));
        }
        if libc::WIFSIGNALED(status) {
            return Ok(Some(ExitStatus::Signaled(libc::WTERMSIG(status))));
        }
    }
}

/// Send `sig` to `pid` (`kill(2)`); signal 0 checks existence.
pub fn kill(pid: i32, sig: i32) -> SysResult<()> {
    // SAFETY: plain syscall.
    if unsafe { libc::kill(pid, sig) } == -1 {
        return Err(SysError::last("kill"));
    }
    Ok(())
}

/// Open a pidfd for `pid` (`pidfd_open(2)`).
pub fn pidfd_open(pid: i32) -> SysResult<OwnedFd> {
    // SAFETY: plain syscall; on success the kernel returns a new fd we own.
    let r = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if r < 0 {
        return Err(SysError::last("pidfd_open"));
    }
    // SAFETY: r is a fresh fd owned by us.
    Ok(unsafe { OwnedFd::from_raw_fd(r as RawFd) })
}

/// Signal the process behind a pidfd (`pidfd_send_signal(2)`): no pid-reuse race.
pub fn pidfd_send_signal(pidfd: BorrowedFd<'_>, sig: i32) -> SysResult<()> {
    // SAFETY: plain syscall with a valid fd and no siginfo.
    let r = unsafe { libc::syscall(libc::SYS_pidfd_send_signal, pidfd.as_raw_fd(), sig, std::ptr::null::<u8>(), 0) };
    if r < 0 {
        return Err(SysError::last("pidfd_send_signal"));
    }
    Ok(())
}

/// Terminate the calling process at once, without running destructors or atexit handlers.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and is async-signal-safe.
    unsafe { libc::_exit(code) }
}

/// Ask for `sig` when the parent thread dies (`PR_SET_PDEATHSIG`); 0 clears it.
pub fn set_pdeathsig(sig: i32) -> SysResult<()> {
    prctl("prctl(PR_SET_PDEATHSIG)", libc::PR_SET_PDEATHSIG, sig as libc::c_ulong, 0)
}

/// Set `PR_SET_NO_NEW_PRIVS`.
pub fn set_no_new_privs() -> SysResult<()> {
    prctl("prctl(PR_SET_NO_NEW_PRIVS)", libc::PR_SET_NO_NEW_PRIVS, 1, 0)
}

/// Keep permitted capabilities across setuid (`PR_SET_KEEPCAPS`).
pub fn set_keepcaps(on: bool) -> SysResult<()> {
    prctl("prctl(PR_SET_KEEPCAPS)", libc::PR_SET_KEEPCAPS, on as libc::c_ulong, 0)
}

pub(crate) fn prctl(op: &'static str, option: libc::c_int, a: libc::c_ulong, b: libc::c_ulong) -> SysResult<()> {
    // SAFETY: the options used by this module take integer arguments only.
    if unsafe { libc::prctl(option, a, b, 0 as libc::c_ulong, 0 as libc::c_ulong) } == -1 {
        return Err(SysError::last(op));
    }
    Ok(())
}

/// Start a new session (`setsid(2)`).
pub fn setsid() -> SysResult<()> {
    // SAFETY: plain syscall.
    if unsafe { libc::setsid() } == -1 {
        return Err(SysError::last("setsid"));
    }
    Ok(())
}

/// Join the namespace behind `fd` (`setns(2)`); `nstype` 0 accepts any type.
pub fn setns(fd: BorrowedFd<'_>, nstype: i32) -> SysResult<()> {
    // SAFETY: plain syscall with a valid fd.
    if unsafe { libc::setns(fd.as_raw_fd(), nstype) } == -1 {
        return Err(SysError::last("setns"));
    }
    Ok(())
}

/// Move the caller into new namespaces (`unshare(2)`).
pub fn unshare(flags: i32) -> SysResult<()> {
    // SAFETY: plain syscall.
    if unsafe { libc::unshare(flags) } == -1 {
        return Err(SysError::last("unshare"));
    }
    Ok(())
}

/// Set the UTS hostname.
pub fn sethostname(name: &str) -> SysResult<()> {
    // SAFETY: pointer and length describe `name`.
    if unsafe { libc::sethostname(name.as_ptr().cast(), name.len()) } == -1 {
        return Err(SysError::last("sethostname"));
    }
    Ok(())
}

/// Set the UTS NIS domain name.
pub fn setdomainname(name: &str) -> SysResult<()> {
    // SAFETY: pointer and length describe `name`.
    if unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) } == -1 {
        return Err(SysError::last("setdomainname"));
    }
    Ok(())
}

/// Set the supplementary groups.
pub fn setgroups(gids: &[u32]) -> SysResult<()> {
    // SAFETY: pointer and length describe `gids`; gid_t is u32.
    if unsafe { libc::setgroups(gids.len(), gids.as_ptr()) } == -1 {
        return Err(SysError::last("setgroups"));
    }
    Ok(())
}

/// Set real, effective and saved gids.
pub fn setresgid(gid: u32) -> SysResult<()> {
    // SAFETY: raw syscall (not the glibc wrapper, which would broadcast to threads we don't have).
    if unsafe { libc::syscall(libc::SYS_setresgid, gid, gid, gid) } == -1 {
        return Err(SysError::last("setresgid"));
    }
    Ok(())
}

/// Set real, effective and saved uids.
pub fn setresuid(uid: u32) -> SysResult<()> {
    // SAFETY: raw syscall, as for setresgid.
    if unsafe { libc::syscall(libc::SYS_setresuid, uid, uid, uid) } == -1 {
        return Err(SysError::last("setresuid"));
    }
    Ok(())
}

/// Set the file mode creation mask.
pub fn umask(mask: u32) {
    // SAFETY: always succeeds.
    unsafe { libc::umask(mask as libc::mode_t) };
}

/// The effective uid.
pub fn geteuid() -> u32 {
    // SAFETY: always succeeds.
    unsafe { libc::geteuid() }
}

/// The effective gid.
pub fn getegid() -> u32 {
    // SAFETY: always succeeds.
    unsafe { libc::getegid() }
}

/// Replace the process image (`execve(2)`). Returns only on failure.
pub fn execve(path: &CStr, argv: &[*const libc::c_char], envp: &[*const libc::c_char]) -> SysError {
    // SAFETY: argv and envp are null-terminated arrays of pointers to C strings that the caller
    // keeps alive; execve only returns on failure.
    unsafe { libc::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
    SysError::last("execve")
}

/// Set an rlimit (`prlimit(2)` on the caller).
pub fn setrlimit(resource: i32, soft: u64, hard: u64) -> SysResult<()> {
    let lim = libc::rlimit64 { rlim_cur: soft, rlim_max: hard };
    // SAFETY: valid pointer to a rlimit64; null old-limit pointer.
    if unsafe { libc::prlimit64(0, resource as _, &lim, std::ptr::null_mut()) } == -1 {
        return Err(SysError::last("setrlimit"));
    }
    Ok(())
}

/// Set the execution domain (`personality(2)`).
pub fn personality(persona: u64) -> SysResult<()> {
    // SAFETY: plain syscall.
    if unsafe { libc::personality(persona as libc::c_ulong) } == -1 {
        return Err(SysError::last("personality"));
    }
    Ok(())
}

/// Pin the caller to the CPUs in `cpus` (bit i = CPU i).
pub fn sched_setaffinity(cpus: &[usize]) -> SysResult<()> {
    // SAFETY: cpu_set_t is plain data; zeroed is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &c in cpus {
        if c < libc::CPU_SETSIZE as usize {
            // SAFETY: c is below CPU_SETSIZE, inside the set.
            unsafe { libc::CPU_SET(c, &mut set) };
        }
    }
    // SAFETY: valid pointer and size of the set.
    if unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) } == -1 {
        return Err(SysError::last("sched_setaffinity"));
    }
    Ok(())
}

/// Parameters of `sched_setattr(2)`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct SchedAttr {
    /// Size of this struct.
    pub size: u32,
    /// Policy.
    pub sched_policy: u32,
    /// SCHED_FLAG_*.
    pub sched_flags: u64,
    /// Nice value.
    pub sched_nice: i32,
    /// Static priority.
    pub sched_priority: u32,
    /// Deadline runtime.
    pub sched_runtime: u64,
    /// Deadline.
    pub sched_deadline: u64,
    /// Deadline period.
    pub sched_period: u64,
}

/// Set the caller's scheduling policy and attributes.
pub fn sched_setattr(mut attr: SchedAttr) -> SysResult<()> {
    attr.size = std::mem::size_of::<SchedAttr>() as u32;
    // SAFETY: valid pointer to a correctly sized struct.
    if unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0) } == -1 {
        return Err(SysError::last("sched_setattr"));
    }
    Ok(())
}

/// Set the caller's I/O priority (`ioprio_set(2)`, IOPRIO_WHO_PROCESS).
pub fn ioprio_set(class: i32, level: i32) -> SysResult<()> {
    let prio = (class << 13) | level;
    // SAFETY: plain syscall.
    if unsafe { libc::syscall(libc::SYS_ioprio_set, 1, 0, prio) } == -1 {
        return Err(SysError::last("ioprio_set"));
    }
    Ok(())
}

/// Set the NUMA memory policy (`set_mempolicy(2)`).
pub fn set_mempolicy(mode: i32, nodemask: &[u64]) -> SysResult<()> {
    let maxnode = (nodemask.len() * 64 + 1) as u64;
    let ptr = if nodemask.is_empty() { std::ptr::null() } else { nodemask.as_ptr() };
    // SAFETY: the mask pointer covers maxnode-1 bits (or is null with no nodes).
    if unsafe { libc::syscall(libc::SYS_set_mempolicy, mode, ptr, if nodemask.is_empty() { 0 } else { maxnode }) } == -1
    {
        return Err(SysError::last("set_mempolicy"));
    }
    Ok(())
}

/// Join a new session keyring (`keyctl(KEYCTL_JOIN_SESSION_KEYRING, name)`).
pub fn join_session_keyring(name: &CStr) -> SysResult<()> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    // SAFETY: name is a valid C string.
    if unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) } == -1 {
        return Err(SysError::last("keyctl(KEYCTL_JOIN_SESSION_KEYRING)"));
    }
    Ok(())
}

/// Block `signals` in the calling thread and return the previous mask.
pub fn block_signals(signals: &[i32]) -> SysResult<libc::sigset_t> {
    // SAFETY: sigset_t is plain data; sigemptyset initialises it.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointers to initialised sets.
    unsafe {
        libc::sigemptyset(&mut set);
        for &s in signals {
            libc::sigaddset(&mut set, s);
        }
        if libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old) != 0 {
            return Err(SysError::last("sigprocmask"));
        }
    }
    Ok(old)
}

/// Restore a signal mask returned by [`block_signals`].
pub fn set_sigmask(mask: &libc::sigset_t) {
    // SAFETY: valid pointer to an initialised set.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, mask, std::ptr::null_mut()) };
}

/// Reset every signal disposition to its default (for a freshly forked child).
pub fn reset_signal_handlers() {
    for sig in 1..libc::SIGRTMAX() {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: SIG_DFL is always a valid disposition.
        unsafe { libc::signal(sig, libc::SIG_DFL) };
    }
}

/// Unblock every signal in the calling thread.
pub fn unblock_all_signals() {
    // SAFETY: sigset_t is plain data initialised by sigemptyset; SIG_SETMASK with an empty set.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::pthread_sigmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
    }
}

/// `fork(3)` through glibc, which resets the allocator's and stdio's locks in the child: the
/// safe way to fork from a multi-threaded program before running Rust code in the child.
pub fn fork() -> SysResult<Forked> {
    // SAFETY: glibc's fork runs its atfork handlers; the child continues single-threaded.
    match unsafe { libc::fork() } {
        -1 => Err(SysError::last("fork")),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(pid)),
    }
}

/// Number of threads of the calling process (field 20 of /proc/self/stat).
pub fn thread_count() -> usize {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return 1 };
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) else { return 1 };
    rest.split(' ').nth(17).and_then(|n| n.parse().ok()).unwrap_or(1)
}

/// Execute the file behind `fd` (`execveat(2)` with AT_EMPTY_PATH), so the file checked is the
/// file run. Returns only on failure.
pub fn execveat_fd(
    fd: std::os::fd::BorrowedFd<'_>,
    argv: &[*const libc::c_char],
    envp: &[*const libc::c_char],
) -> SysError {
    use std::os::fd::AsRawFd;
    // SAFETY: argv and envp are null-terminated arrays of pointers to live C strings; the path
    // is an empty C string; execveat only returns on failure.
    unsafe {
        libc::syscall(
            libc::SYS_execveat,
            fd.as_raw_fd(),
            c"".as_ptr(),
            argv.as_ptr(),
            envp.as_ptr(),
            libc::AT_EMPTY_PATH,
        )
    };
    SysError::last("execveat")
}

/// Set whether the process is dumpable (`PR_SET_DUMPABLE`); execve resets it.
pub fn set_dumpable(on: bool) -> SysResult<()> {
    prctl("prctl(PR_SET_DUMPABLE)", libc::PR_SET_DUMPABLE, on as libc::c_ulong, 0)
}

/// `P_PIDFD` for `waitid(2)` (Linux 5.4; not in the libc crate).
const P_PIDFD: libc::idtype_t = 3;

/// Reap the child behind `pidfd` (`waitid(P_PIDFD, WEXITED)`, retrying on EINTR). With
/// `nohang`, `Ok(None)` while it runs. ECHILD means someone else reaped it (or SIGCHLD is
/// ignored, so the kernel did).
pub fn waitid_pidfd(pidfd: BorrowedFd<'_>, nohang: bool) -> SysResult<Option<ExitStatus>> {
    loop {
        // SAFETY: siginfo_t is plain data; zeroed means "no child changed state" for WNOHANG.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let flags = libc::WEXITED | libc::__WALL | if nohang { libc::WNOHANG } else { 0 };
        // SAFETY: valid fd and out-pointer.
        let r = unsafe { libc::waitid(P_PIDFD, pidfd.as_raw_fd() as libc::id_t, &mut info, flags) };
        if r == -1 {
            let e = super::last_errno();
            if e == libc::EINTR {
                continue;
            }
            return Err(SysError::new("waitid(P_PIDFD)", e));
        }
        // SAFETY: the kernel filled `info` for a child that exited (si_pid 0 means none did).
        let (pid, status) = unsafe { (info.si_pid(), info.si_status()) };
        if pid == 0 {
            return Ok(None);
        }
        return Ok(Some(match info.si_code {
            libc::CLD_EXITED => ExitStatus::Exited(status),
            _ => ExitStatus::Signaled(status),
        }));
    }
}

/// A non-blocking, close-on-exec signalfd for `signals`, which the calling thread must have
/// blocked ([`block_signals`]); it reads signals pending for this thread or the process.
pub fn signalfd(signals: &[i32]) -> SysResult<OwnedFd> {
    // SAFETY: sigset_t is plain data initialised by sigemptyset.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointers to an initialised set.
    unsafe {
        libc::sigemptyset(&mut set);
        for &s in signals {
            libc::sigaddset(&mut set, s);
        }
    }
    // SAFETY: valid set; -1 asks for a new fd, which we then own.
    let r = unsafe { libc::signalfd(-1, &set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK) };
    if r < 0 {
        return Err(SysError::last("signalfd"));
    }
    // SAFETY: r is a fresh fd owned by us.
    Ok(unsafe { OwnedFd::from_raw_fd(r) })
}

/// Take one signal from a [`signalfd`]; `Ok(None)` when none is pending.
pub fn signalfd_read(sfd: BorrowedFd<'_>) -> SysResult<Option<i32>> {
    // SAFETY: signalfd_siginfo is plain data.
    let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::signalfd_siginfo>();
    loop {
        // SAFETY: valid fd and a buffer of exactly one signalfd_siginfo.
        let r = unsafe { libc::read(sfd.as_raw_fd(), (&mut info as *mut libc::signalfd_siginfo).cast(), size) };
        if r == -1 {
            match super::last_errno() {
                libc::EINTR => continue,
                libc::EAGAIN => return Ok(None),
                e => return Err(SysError::new("read(signalfd)", e)),
            }
        }
        return Ok((r as usize == size).then_some(info.ssi_signo as i32));
    }
}

/// Give the heap's free pages back to the kernel (`malloc_trim(3)`), so a child cloned next does
/// not inherit, and keep for its whole life, memory the parent has already freed.
pub fn trim_heap() {
    // SAFETY: malloc_trim only releases free memory of the allocator; no pointer is involved.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Make the calling process a child subreaper (`PR_SET_CHILD_SUBREAPER`): orphans of its
/// descendants (a task `criu restore --restore-detached` leaves behind) become its children.
pub fn set_child_subreaper() -> SysResult<()> {
    prctl("prctl(PR_SET_CHILD_SUBREAPER)", libc::PR_SET_CHILD_SUBREAPER, 1, 0)
}

/// Spawn `cmd` so that its process is in the cgroups whose `cgroup.procs` files are given
/// (opened for writing) before it runs the program: the child writes "0" to each between fork
/// and exec, so everything the program forks starts there too.
pub fn spawn_in_cgroups(
    cmd: &mut std::process::Command,
    procs: &[std::fs::File],
) -> std::io::Result<std::process::Child> {
    use std::os::unix::process::CommandExt;
    let procs: Vec<RawFd> = procs.iter().map(|f| f.as_raw_fd()).collect();
    // SAFETY: the closure runs in the forked child before exec and only calls write(2), which
    // is async-signal-safe, on fds the parent keeps open until spawn returns; it allocates
    // nothing (the vector was built before the fork).
    unsafe {
        cmd.pre_exec(move || {
            for &fd in &procs {
                if libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    cmd.spawn()
}
