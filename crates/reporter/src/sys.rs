//! Every raw libc call the reporter makes, one small safe function each.
//!
//! The rest of the reporter is safe code; it asks this module for numbers and errnos. A call that
//! can fail returns `Err(errno)` so the caller can print the errno as data: the integration tests
//! assert on exactly those numbers (EPERM from a dropped capability, EROFS from a read-only mount).

use std::ffi::CString;
use std::io;

/// The errno of the call that just failed.
pub fn last_errno() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// Turns a libc return value into `Ok(value)` or `Err(errno)`.
fn check(ret: libc::c_long) -> Result<libc::c_long, i32> {
    if ret < 0 {
        Err(last_errno())
    } else {
        Ok(ret)
    }
}

fn cstring(s: &str) -> Result<CString, i32> {
    CString::new(s).map_err(|_| libc::EINVAL)
}

/// Real, effective and saved user ids.
pub fn resuid() -> (u32, u32, u32) {
    let (mut r, mut e, mut s) = (0, 0, 0);
    // SAFETY: the three pointers are valid, distinct locals for the duration of the call.
    unsafe { libc::getresuid(&mut r, &mut e, &mut s) };
    (r, e, s)
}

/// Real, effective and saved group ids.
pub fn resgid() -> (u32, u32, u32) {
    let (mut r, mut e, mut s) = (0, 0, 0);
    // SAFETY: the three pointers are valid, distinct locals for the duration of the call.
    unsafe { libc::getresgid(&mut r, &mut e, &mut s) };
    (r, e, s)
}

/// Supplementary group ids.
pub fn groups() -> Vec<u32> {
    let mut buf = vec![0 as libc::gid_t; 65536];
    // SAFETY: the buffer holds `buf.len()` gids and the kernel writes at most that many.
    let n = unsafe { libc::getgroups(buf.len() as libc::c_int, buf.as_mut_ptr()) };
    buf.truncate(n.max(0) as usize);
    buf
}

/// The parent's pid as this process sees it (0 when the parent is outside our pid namespace).
pub fn getppid() -> i32 {
    // SAFETY: getppid has no arguments and cannot fail.
    unsafe { libc::getppid() }
}

/// `(nodename, domainname)` from uname(2).
pub fn uname() -> (String, String) {
    // SAFETY: utsname is plain data; all-zero is a valid value.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid, writable utsname.
    unsafe { libc::uname(&mut u) };
    let field = |f: &[libc::c_char]| {
        let bytes: Vec<u8> = f.iter().take_while(|&&c| c != 0).map(|&c| c as u8).collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    (field(&u.nodename), field(&u.domainname))
}

/// `(soft, hard)` of one rlimit; `u64::MAX` is RLIM_INFINITY.
pub fn getrlimit(resource: libc::__rlimit_resource_t) -> Result<(u64, u64), i32> {
    let mut rl = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: `rl` is a valid, writable rlimit.
    check(unsafe { libc::getrlimit(resource, &mut rl) } as libc::c_long)?;
    Ok((rl.rlim_cur, rl.rlim_max))
}

/// The CPUs this process may run on.
pub fn affinity() -> Result<Vec<usize>, i32> {
    // SAFETY: cpu_set_t is plain data; all-zero is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is valid and its size is passed.
    check(unsafe { libc::sched_getaffinity(0, std::mem::size_of_val(&set), &mut set) } as _)?;
    let max = 8 * std::mem::size_of_val(&set);
    // SAFETY: CPU_ISSET only reads `set`, and every index is below its capacity.
    Ok((0..max).filter(|&c| unsafe { libc::CPU_ISSET(c, &set) }).collect())
}

/// The execution domain, read with the query value 0xffffffff.
pub fn personality() -> Result<u64, i32> {
    // SAFETY: 0xffffffff only queries the current persona and changes nothing.
    check(unsafe { libc::personality(0xffff_ffff) } as _).map(|p| p as u64)
}

/// `(policy, static priority)` of this process.
pub fn scheduler() -> Result<(i32, i32), i32> {
    // SAFETY: no pointer arguments; 0 means the calling process.
    let policy = check(unsafe { libc::sched_getscheduler(0) } as _)? as i32;
    let mut param = libc::sched_param { sched_priority: 0 };
    // SAFETY: `param` is a valid, writable sched_param.
    check(unsafe { libc::sched_getparam(0, &mut param) } as _)?;
    Ok((policy, param.sched_priority))
}

/// The raw I/O priority (class << 13 | data) of this process.
pub fn ioprio() -> Result<i64, i32> {
    const IOPRIO_WHO_PROCESS: libc::c_long = 1;
    // SAFETY: ioprio_get takes two integers and reads no memory.
    check(unsafe { libc::syscall(libc::SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0 as libc::c_long) })
}

/// Whether `fd` is a terminal.
pub fn isatty(fd: i32) -> bool {
    // SAFETY: isatty only inspects the descriptor number.
    unsafe { libc::isatty(fd) == 1 }
}

/// `(rows, cols)` of the terminal on `fd`.
pub fn winsize(fd: i32) -> Result<(u16, u16), i32> {
    let mut ws = libc::winsize { ws_row: 0, ws_col: 0, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: TIOCGWINSZ writes one winsize into the valid `ws`.
    check(unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) } as _)?;
    Ok((ws.ws_row, ws.ws_col))
}

/// Sends `sig` to this process.
pub fn kill_self(sig: i32) -> Result<(), i32> {
    // SAFETY: raise takes a signal number and touches no memory of ours.
    check(unsafe { libc::raise(sig) } as _).map(drop)
}

/// Restores the default action of `sig` and unblocks it, so `kill_self` really kills.
pub fn default_and_unblock(sig: i32) {
    // SAFETY: SIG_DFL is a valid disposition; the sigset is a valid local.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, sig);
        libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
    }
}

/// Blocks every signal, then waits for one and returns its number.
pub fn wait_any_signal() -> Result<i32, i32> {
    // SAFETY: the sigset and siginfo are valid locals; blocking all signals first means they
    // stay pending (even for a pid-namespace init, which would otherwise drop them) until
    // sigwaitinfo takes one.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut set);
        libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        let mut info: libc::siginfo_t = std::mem::zeroed();
        check(libc::sigwaitinfo(&set, &mut info) as _).map(|s| s as i32)
    }
}

/// Forks up to `n` children that stay alive until this function has counted them. Returns the
/// number that were forked and the errno of the first failed fork, if any.
pub fn fork_children(n: usize) -> (usize, Option<i32>) {
    let mut pipe = [0; 2];
    // SAFETY: `pipe` has room for the two descriptors.
    if unsafe { libc::pipe(pipe.as_mut_ptr()) } < 0 {
        return (0, Some(last_errno()));
    }
    let mut pids = Vec::new();
    let mut failure = None;
    for _ in 0..n {
        // SAFETY: the child only calls async-signal-safe functions (close, read, _exit).
        match unsafe { libc::fork() } {
            -1 => {
                failure = Some(last_errno());
                break;
            }
            0 => {
                let mut b = 0u8;
                // SAFETY: plain descriptor calls in the child; read blocks until the parent
                // closes the write end, then the child exits without running destructors.
                unsafe {
                    libc::close(pipe[1]);
                    libc::read(pipe[0], (&mut b as *mut u8).cast(), 1);
                    libc::_exit(0);
                }
            }
            pid => pids.push(pid),
        }
    }
    // SAFETY: closing our own pipe ends releases the children; waitpid reaps each child we forked.
    unsafe {
        libc::close(pipe[1]);
        libc::close(pipe[0]);
        for pid in &pids {
            libc::waitpid(*pid, std::ptr::null_mut(), 0);
        }
    }
    (pids.len(), failure)
}

/// The outcome of one probe syscall: its return value, or the errno it failed with.
pub type Probe = Result<i64, i32>;

/// Tries the named syscall with harmless arguments and reports what the kernel said.
///
/// The arguments are chosen so that success changes nothing, even when run on the host by
/// mistake: `mount` mounts and at once unmounts a tmpfs on a fresh directory, `umount` names a
/// path that does not exist, `sethostname` sets the current name, `mknod` removes its node.
pub fn probe_syscall(name: &str) -> Option<Probe> {
    // SAFETY: every arm passes integers or pointers to NUL-terminated strings that live until
    // the call returns; none of these syscalls retains a pointer.
    let ret = unsafe {
        match name {
            "getpid" => libc::syscall(libc::SYS_getpid),
            "mount" => return Some(probe_mount()),
            // The kernel checks CAP_SYS_ADMIN before it looks the path up: ENOENT means allowed.
            "umount" => libc::umount2(c"/.ocirun-reporter-no-such-mount".as_ptr(), 0) as _,
            "unshare" => libc::unshare(libc::CLONE_NEWUTS) as _,
            "keyctl" => {
                const KEYCTL_GET_KEYRING_ID: libc::c_long = 0;
                const KEY_SPEC_SESSION_KEYRING: libc::c_long = -3;
                libc::syscall(libc::SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0)
            }
            "ptrace" => libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0) as _,
            "chroot" => libc::chroot(c"/".as_ptr()) as _,
            "sethostname" => {
                let (node, _) = uname();
                let node = cstring(&node).ok()?;
                libc::sethostname(node.as_ptr(), node.as_bytes().len()) as _
            }
            "setuid0" => libc::setuid(0) as _,
            "mknod" => {
                let path = c"/tmp/.ocirun-reporter-null";
                let r = libc::mknod(path.as_ptr(), libc::S_IFCHR | 0o600, libc::makedev(1, 3));
                if r == 0 {
                    libc::unlink(path.as_ptr());
                }
                r as _
            }
            "chown" => libc::chown(c"/".as_ptr(), u32::MAX, u32::MAX) as _,
            "setns" => libc::setns(0, 0) as _,
            "personality" => libc::personality(0xffff_ffff) as _,
            "kill1" => libc::kill(1, 0) as _,
            _ => return None,
        }
    };
    Some(check(ret))
}

/// Mounts a tmpfs on a fresh directory and unmounts it again at once, so the probe leaves no
/// mount behind wherever it runs. With no writable scratch place it reports EROFS.
fn probe_mount() -> Probe {
    let pid = std::process::id();
    let dir = ["/tmp", "/dev/shm", "/run"]
        .iter()
        .map(|base| format!("{base}/.ocirun-reporter-mnt-{pid}"))
        .find(|d| std::fs::create_dir(d).is_ok())
        .ok_or(libc::EROFS)?;
    let target = cstring(&dir)?;
    let (src, fs) = (c"none", c"tmpfs");
    // SAFETY: all pointers are NUL-terminated strings that outlive the call.
    let ret = unsafe { libc::mount(src.as_ptr(), target.as_ptr(), fs.as_ptr(), libc::MS_RDONLY, std::ptr::null()) };
    let result = check(ret as _);
    if result.is_ok() {
        // SAFETY: `target` is the directory this function just mounted on.
        unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) };
    }
    let _ = std::fs::remove_dir(&dir);
    result
}

/// `lstat` of a path.
pub fn lstat(path: &str) -> Result<libc::stat, i32> {
    let p = cstring(path)?;
    // SAFETY: stat is plain data; all-zero is valid.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `p` is NUL-terminated and `st` is a valid, writable stat.
    check(unsafe { libc::lstat(p.as_ptr(), &mut st) } as _)?;
    Ok(st)
}

/// `(major, minor)` of a device number.
pub fn major_minor(dev: libc::dev_t) -> (u32, u32) {
    (libc::major(dev), libc::minor(dev))
}

/// `(interface, address, prefix length)` of every IPv4 and IPv6 address, from `getifaddrs`.
pub fn if_addresses() -> Result<Vec<(String, String, u32)>, i32> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: valid out-pointer; the list is freed below.
    check(unsafe { libc::getifaddrs(&mut head) } as _)?;
    let mut out = Vec::new();
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list getifaddrs returned, alive until freeifaddrs.
        let ifa = unsafe { &*cur };
        cur = ifa.ifa_next;
        if ifa.ifa_addr.is_null() || ifa.ifa_name.is_null() {
            continue;
        }
        // SAFETY: ifa_name is a NUL-terminated string owned by the list.
        let name = unsafe { std::ffi::CStr::from_ptr(ifa.ifa_name) }.to_string_lossy().into_owned();
        // SAFETY: ifa_addr is non-null and starts with the family field.
        let family = unsafe { (*ifa.ifa_addr).sa_family } as i32;
        let (addr, prefix) = match family {
            libc::AF_INET => {
                // SAFETY: the family says these are sockaddr_in.
                let (a, m) = unsafe {
                    (*(ifa.ifa_addr as *const libc::sockaddr_in), ifa.ifa_netmask.cast::<libc::sockaddr_in>().as_ref())
                };
                let ip = std::net::Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
                (ip.to_string(), m.map_or(0, |m| u32::from_be(m.sin_addr.s_addr).count_ones()))
            }
            libc::AF_INET6 => {
                // SAFETY: the family says these are sockaddr_in6.
                let (a, m) = unsafe {
                    (
                        *(ifa.ifa_addr as *const libc::sockaddr_in6),
                        ifa.ifa_netmask.cast::<libc::sockaddr_in6>().as_ref(),
                    )
                };
                let ip = std::net::Ipv6Addr::from(a.sin6_addr.s6_addr);
                (ip.to_string(), m.map_or(0, |m| m.sin6_addr.s6_addr.iter().map(|b| b.count_ones()).sum()))
            }
            _ => continue,
        };
        out.push((name, addr, prefix));
    }
    // SAFETY: `head` came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(head) };
    Ok(out)
}

/// `clock_gettime` of `clock` in nanoseconds.
pub fn clock_ns(clock: libc::clockid_t) -> Result<i128, i32> {
    // SAFETY: timespec is plain data.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: valid clock id and out-pointer.
    check(unsafe { libc::clock_gettime(clock, &mut ts) } as _)?;
    Ok(ts.tv_sec as i128 * 1_000_000_000 + ts.tv_nsec as i128)
}

/// `flock(2)` on an open file: `LOCK_EX`, optionally with `LOCK_NB`.
pub fn flock(file: &std::fs::File, nonblocking: bool) -> Result<(), i32> {
    use std::os::fd::AsRawFd;
    let op = libc::LOCK_EX | if nonblocking { libc::LOCK_NB } else { 0 };
    // SAFETY: a valid fd; no pointers.
    check(unsafe { libc::flock(file.as_raw_fd(), op) } as libc::c_long).map(drop)
}
