//! Seccomp filters against the real kernel: every action, every comparison operator (64-bit
//! values whose high half decides included), several arguments, several rules per syscall,
//! defaultErrnoRet, the x32 and i386 ABIs, Docker's default profile and the notify listener.
//!
//! Each case forks a child that sets no_new_privs, installs the filter, makes one call and
//! reports its return value and errno through a pipe (or dies of the signal the filter
//! chose). The test binary is multi-threaded, so the child does only async-signal-safe things
//! between fork and `_exit`: the filter is compiled before the fork and installing it does not
//! allocate. Each kernel result is also checked against our BPF interpreter.

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI32, AtomicI64, Ordering};

use ocirun::seccomp::{self, CompiledFilter, SeccompData};
use ocirun::spec::{Seccomp, State};
use ocirun::sys::seccomp as sys;

const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const AUDIT_ARCH_I386: u32 = 0x4000_0003;
const X32_BIT: i64 = 0x4000_0000;
/// An errno no real call returns, so seeing it proves the filter answered.
const MARK: i32 = 1234;

fn profile(v: serde_json::Value) -> Seccomp {
    serde_json::from_value(v).expect("test profile parses")
}

fn compile(v: serde_json::Value) -> CompiledFilter {
    seccomp::compile(&profile(v)).expect("test profile compiles")
}

/// Whether this kernel and user can install filters; prints why not.
fn can_run() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    if !status.contains("Seccomp_filters:") {
        println!("skipped: kernel without seccomp filter support");
        return false;
    }
    true
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// The call returned `ret` (and errno when `ret == -1`).
    Returned { ret: i64, errno: i32 },
    /// The child died of this signal.
    Signaled(i32),
}

fn ok_or_errno(ret: i64, errno: i32) -> Outcome {
    Outcome::Returned { ret, errno: if ret == -1 { errno } else { 0 } }
}

/// What the child does once the filter is in.
#[derive(Clone, Copy)]
enum Call {
    /// `syscall(nr, args...)` on the native ABI (x32 numbers carry the x32 bit).
    Syscall(i64, [u64; 6]),
    /// An i386 syscall with no arguments through `int 0x80`.
    Int80(u32),
    /// The syscall in a second thread; reports 0 if the first thread survives.
    InThread(i64),
    /// The syscall with a SIGSYS handler; reports the syscall number the handler saw.
    Trapped(i64),
}

static THREAD_TID: AtomicI32 = AtomicI32::new(0);
static TRAPPED_NR: AtomicI64 = AtomicI64::new(-1);
static mut THREAD_STACK: [u8; 64 * 1024] = [0; 64 * 1024];

extern "C" fn thread_body(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: a raw syscall with no pointers.
    unsafe { libc::syscall(arg as i64) };
    0
}

extern "C" fn on_sigsys(_sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    // SAFETY: for SIGSYS the kernel fills `_sigsys`: the call address at offset 16, then the
    // int syscall number at offset 24.
    let nr = unsafe { std::ptr::read(info.cast::<u8>().add(24).cast::<i32>()) };
    TRAPPED_NR.store(i64::from(nr), Ordering::SeqCst);
}

fn int80(nr: u32) -> i64 {
    let ret: i32;
    // SAFETY: `int 0x80` enters the kernel's i386 syscall path; only eax is an operand, the
    // registers the compat entry may touch are declared clobbered, and it uses no user stack.
    unsafe {
        std::arch::asm!("int 0x80", inlateout("eax") nr as i32 => ret,
            out("r8") _, out("r9") _, out("r10") _, out("r11") _,
            out("r12") _, out("r13") _, out("r14") _, out("r15") _, options(nostack));
    }
    i64::from(ret)
}

fn errno() -> i32 {
    // SAFETY: errno is thread-local and always readable.
    unsafe { *libc::__errno_location() }
}

/// Runs in the child after the filter is installed. Async-signal-safe only.
fn do_call(call: Call) -> (i64, i32) {
    match call {
        Call::Syscall(nr, a) => {
            // SAFETY: the test calls only syscalls that take no pointers, or ignore them.
            let r = unsafe { libc::syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]) };
            (r, errno())
        }
        Call::Int80(nr) => (int80(nr), 0),
        Call::InThread(nr) => {
            let flags = libc::CLONE_VM
                | libc::CLONE_FS
                | libc::CLONE_FILES
                | libc::CLONE_SIGHAND
                | libc::CLONE_THREAD
                | libc::CLONE_SYSVSEM
                | libc::CLONE_PARENT_SETTID
                | libc::CLONE_CHILD_CLEARTID;
            let tid = THREAD_TID.as_ptr();
            // SAFETY: the stack is this (forked, single-threaded) process' own static; the new
            // thread only makes one raw syscall and exits; the kernel writes its tid to `tid`
            // before clone returns and clears it (with a futex wake) when the thread ends.
            unsafe {
                let top = std::ptr::addr_of_mut!(THREAD_STACK).cast::<u8>().add(64 * 1024 - 64);
                let r = libc::clone(
                    thread_body,
                    top.cast(),
                    flags,
                    nr as *mut libc::c_void,
                    tid,
                    std::ptr::null_mut::<libc::c_void>(),
                    tid,
                );
                if r < 0 {
                    return (-2, errno());
                }
                loop {
                    let v = THREAD_TID.load(Ordering::SeqCst);
                    if v == 0 {
                        break;
                    }
                    libc::syscall(libc::SYS_futex, tid, libc::FUTEX_WAIT, v, 0usize);
                }
            }
            (0, 0)
        }
        Call::Trapped(nr) => {
            // SAFETY: installs a handler that only stores to an atomic.
            unsafe {
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = on_sigsys as *const () as usize;
                sa.sa_flags = libc::SA_SIGINFO;
                libc::sigaction(libc::SIGSYS, &sa, std::ptr::null_mut());
                libc::syscall(nr);
            }
            (TRAPPED_NR.load(Ordering::SeqCst), 0)
        }
    }
}

/// Fork, install `filter` in the child, run `call`, report.
fn run(filter: &CompiledFilter, call: Call) -> Outcome {
    let mut p = [0; 2];
    // SAFETY: pipe2 fills the two-int array.
    assert_eq!(unsafe { libc::pipe2(p.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: the child below does only async-signal-safe things and ends in _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork");
    if pid == 0 {
        // SAFETY: plain syscalls on our own fds; no allocation; _exit never returns.
        unsafe {
            libc::close(p[0]);
            libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
            let report = match seccomp::install(filter) {
                Ok(_listener) => do_call(call),
                Err(seccomp::SeccompError::Install { source }) => (i64::MIN, source.errno),
                Err(_) => (i64::MIN, 0),
            };
            let mut buf = [0u8; 12];
            buf[..8].copy_from_slice(&report.0.to_ne_bytes());
            buf[8..].copy_from_slice(&report.1.to_ne_bytes());
            libc::write(p[1], buf.as_ptr().cast(), buf.len());
            libc::_exit(0);
        }
    }
    // SAFETY: we own p[1] and close it once.
    unsafe { libc::close(p[1]) };
    // SAFETY: p[0] is ours; OwnedFd closes it.
    let rd = unsafe { OwnedFd::from_raw_fd(p[0]) };
    let mut status = 0;
    // SAFETY: waits for our own child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    if libc::WIFSIGNALED(status) {
        return Outcome::Signaled(libc::WTERMSIG(status));
    }
    let mut buf = [0u8; 12];
    // SAFETY: reads into a live buffer.
    let n = unsafe { libc::read(rd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    assert_eq!(n, 12, "child exited {status:#x} without a report");
    let ret = i64::from_ne_bytes(buf[..8].try_into().unwrap());
    let errno = i32::from_ne_bytes(buf[8..].try_into().unwrap());
    assert_ne!(ret, i64::MIN, "install failed with errno {errno}");
    ok_or_errno(ret, errno)
}

fn getppid_with(args: [u64; 6]) -> Call {
    Call::Syscall(libc::SYS_getppid, args)
}

fn data(nr: i64, arch: u32, args: [u64; 6]) -> SeccompData {
    SeccompData { nr: nr as i32, arch, instruction_pointer: 0, args }
}

fn ppid() -> i64 {
    // SAFETY: getppid has no preconditions (the child's parent is this process).
    i64::from(unsafe { libc::getpid() })
}

#[test]
fn every_action() {
    if !can_run() {
        return;
    }
    let one = |action: &str, errno: Option<u32>| {
        let mut rule = serde_json::json!({"names": ["getppid"], "action": action});
        if let Some(e) = errno {
            rule["errnoRet"] = e.into();
        }
        compile(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [rule]}))
    };
    let call = getppid_with([0; 6]);
    let d = data(libc::SYS_getppid, AUDIT_ARCH_X86_64, [0; 6]);

    let f = one("SCMP_ACT_ALLOW", None);
    assert_eq!(run(&f, call), Outcome::Returned { ret: ppid(), errno: 0 });

    let f = one("SCMP_ACT_LOG", None);
    assert_eq!(f.evaluate(&d).ret, libc::SECCOMP_RET_LOG);
    assert_eq!(run(&f, call), Outcome::Returned { ret: ppid(), errno: 0 });

    let f = one("SCMP_ACT_ERRNO", Some(MARK as u32));
    assert_eq!(run(&f, call), Outcome::Returned { ret: -1, errno: MARK });
    let f = one("SCMP_ACT_ERRNO", None);
    assert_eq!(run(&f, call), Outcome::Returned { ret: -1, errno: libc::EPERM }, "EPERM by default");

    // Untraced, TRACE makes the call fail with ENOSYS; the data goes to a tracer.
    let f = one("SCMP_ACT_TRACE", Some(7));
    assert_eq!(f.evaluate(&d).ret, libc::SECCOMP_RET_TRACE | 7);
    assert_eq!(run(&f, call), Outcome::Returned { ret: -1, errno: libc::ENOSYS });

    let f = one("SCMP_ACT_TRAP", None);
    assert_eq!(run(&f, Call::Trapped(libc::SYS_getppid)), Outcome::Returned { ret: libc::SYS_getppid, errno: 0 });
    assert_eq!(run(&f, call), Outcome::Signaled(libc::SIGSYS));

    for kill_thread in ["SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD"] {
        let f = one(kill_thread, None);
        assert_eq!(f.evaluate(&d).ret, libc::SECCOMP_RET_KILL_THREAD);
        assert_eq!(run(&f, call), Outcome::Signaled(libc::SIGSYS), "{kill_thread}");
        // The other thread lives on.
        assert_eq!(run(&f, Call::InThread(libc::SYS_getppid)), Outcome::Returned { ret: 0, errno: 0 }, "{kill_thread}");
    }
    let f = one("SCMP_ACT_KILL_PROCESS", None);
    assert_eq!(run(&f, Call::InThread(libc::SYS_getppid)), Outcome::Signaled(libc::SIGSYS));
    // Without the filter the thread trick itself works.
    let allow = one("SCMP_ACT_ALLOW", None);
    assert_eq!(run(&allow, Call::InThread(libc::SYS_getppid)), Outcome::Returned { ret: 0, errno: 0 });
}

#[test]
fn default_errno_ret() {
    if !can_run() {
        return;
    }
    let f = compile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 77,
        "syscalls": [{"names": ["write", "exit_group", "exit", "getpid"], "action": "SCMP_ACT_ALLOW"}]
    }));
    assert_eq!(run(&f, getppid_with([0; 6])), Outcome::Returned { ret: -1, errno: 77 });
    assert!(matches!(run(&f, Call::Syscall(libc::SYS_getpid, [0; 6])), Outcome::Returned { ret, .. } if ret > 0));
}

const SAMPLES: [u64; 10] = [
    0,
    1,
    0x7fff_ffff,
    0xffff_ffff,
    0x1_0000_0000,
    0x1_0000_0001,
    0x1_ffff_ffff,
    0x2_0000_0000,
    0x7fff_ffff_ffff_ffff,
    0xffff_ffff_ffff_ffff,
];

#[test]
fn every_operator_on_64_bit_values() {
    if !can_run() {
        return;
    }
    type Pred = fn(u64, u64) -> bool;
    let ops: [(&str, Pred); 6] = [
        ("SCMP_CMP_EQ", |a, v| a == v),
        ("SCMP_CMP_NE", |a, v| a != v),
        ("SCMP_CMP_LT", |a, v| a < v),
        ("SCMP_CMP_LE", |a, v| a <= v),
        ("SCMP_CMP_GT", |a, v| a > v),
        ("SCMP_CMP_GE", |a, v| a >= v),
    ];
    // Values where the high half decides (same low half, different high) and where it ties.
    for (op, pred) in ops {
        for value in [0x1_0000_0001u64, 0xffff_ffff, 0x1_ffff_ffff] {
            for index in [1u32, 5] {
                let f = compile(serde_json::json!({
                    "defaultAction": "SCMP_ACT_ALLOW",
                    "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": MARK,
                        "args": [{"index": index, "value": value, "op": op}]}]
                }));
                for arg in SAMPLES {
                    let mut args = [0u64; 6];
                    args[index as usize] = arg;
                    let want = if pred(arg, value) {
                        Outcome::Returned { ret: -1, errno: MARK }
                    } else {
                        Outcome::Returned { ret: ppid(), errno: 0 }
                    };
                    let sim = f.evaluate(&data(libc::SYS_getppid, AUDIT_ARCH_X86_64, args)).ret;
                    let sim_hit = sim == libc::SECCOMP_RET_ERRNO | MARK as u32;
                    assert_eq!(sim_hit, pred(arg, value), "interpreter: {arg:#x} {op} {value:#x}");
                    assert_eq!(run(&f, getppid_with(args)), want, "kernel: arg{index}={arg:#x} {op} {value:#x}");
                }
            }
        }
    }
}

#[test]
fn masked_eq_uses_both_halves() {
    if !can_run() {
        return;
    }
    let (mask, datum) = (0xff00_0000_0000_00ffu64, 0x1200_0000_0000_0034u64);
    let f = compile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": MARK,
            "args": [{"index": 2, "value": mask, "valueTwo": datum, "op": "SCMP_CMP_MASKED_EQ"}]}]
    }));
    for arg in [
        0x1200_0000_0000_0034u64,
        0x12ff_ffff_ffff_ff34,
        0x1300_0000_0000_0034,
        0x1200_0000_0000_0035,
        0x0000_0000_0000_0034,
        0x1200_0000_0000_0000,
        0,
    ] {
        let mut args = [0u64; 6];
        args[2] = arg;
        let hit = arg & mask == datum;
        let want =
            if hit { Outcome::Returned { ret: -1, errno: MARK } } else { Outcome::Returned { ret: ppid(), errno: 0 } };
        assert_eq!(run(&f, getppid_with(args)), want, "{arg:#x} & {mask:#x} == {datum:#x}");
    }
}

#[test]
fn all_args_of_a_rule_must_match_and_rules_are_alternatives() {
    if !can_run() {
        return;
    }
    let f = compile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1001,
             "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}, {"index": 2, "value": 10, "op": "SCMP_CMP_GE"}]},
            {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1002,
             "args": [{"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]},
            {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1003}
        ]
    }));
    let e = |errno| Outcome::Returned { ret: -1, errno };
    assert_eq!(run(&f, getppid_with([1, 0, 10, 0, 0, 0])), e(1001));
    assert_eq!(run(&f, getppid_with([1, 0, 9, 0, 0, 0])), e(1003), "second arg fails: falls to the plain rule");
    assert_eq!(run(&f, getppid_with([2, 0, 0, 0, 0, 0])), e(1002));
    assert_eq!(run(&f, getppid_with([3, 0, 0, 0, 0, 0])), e(1003));

    let without_plain = compile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1001,
             "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]},
            {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1002,
             "args": [{"index": 1, "value": 1, "op": "SCMP_CMP_EQ"}]}
        ]
    }));
    assert_eq!(run(&without_plain, getppid_with([0, 1, 0, 0, 0, 0])), e(1002));
    assert_eq!(run(&without_plain, getppid_with([1, 1, 0, 0, 0, 0])), e(1001), "first rule in order wins");
    assert_eq!(run(&without_plain, getppid_with([0; 6])), Outcome::Returned { ret: ppid(), errno: 0 });
}

#[test]
fn x32_calls_need_the_x32_arch() {
    if !can_run() {
        return;
    }
    let x32_getpid = Call::Syscall(X32_BIT | 39, [0; 6]);
    let native_only = compile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_ERRNO"}]
    }));
    assert_eq!(run(&native_only, x32_getpid), Outcome::Signaled(libc::SIGSYS), "x32 must not pass as x86_64");
    // -1 is what tracers use to skip a call: default action, not a kill.
    assert_eq!(run(&native_only, Call::Syscall(-1, [0; 6])), Outcome::Returned { ret: -1, errno: libc::ENOSYS });

    let with_x32 = compile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X32"],
        "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": MARK}]
    }));
    assert_eq!(run(&with_x32, x32_getpid), Outcome::Returned { ret: -1, errno: MARK });
    // Not matched by a rule: allowed by the filter; this kernel has no x32 ABI, so ENOSYS, not a signal.
    assert!(matches!(run(&with_x32, Call::Syscall(X32_BIT | 110, [0; 6])), Outcome::Returned { .. }));
}

#[test]
fn i386_calls_through_int80() {
    if !can_run() {
        return;
    }
    let allow_all = compile(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW"}));
    // i386 getpid is 20.
    match run(&allow_all, Call::Int80(20)) {
        Outcome::Returned { ret, .. } if ret > 0 => {}
        other => {
            println!("skipped: no working int 0x80 here ({other:?})");
            return;
        }
    }
    let native_only =
        compile(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"]}));
    assert_eq!(run(&native_only, Call::Int80(20)), Outcome::Signaled(libc::SIGSYS));

    let f = compile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
        "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": MARK}]
    }));
    assert_eq!(run(&f, Call::Int80(20)), Outcome::Returned { ret: -i64::from(MARK), errno: 0 });
    assert_eq!(f.evaluate(&data(20, AUDIT_ARCH_I386, [0; 6])).ret, libc::SECCOMP_RET_ERRNO | MARK as u32);
    // i386 getppid (64) is not x86_64's 64 (semget): allowed.
    assert!(matches!(run(&f, Call::Int80(64)), Outcome::Returned { ret, .. } if ret > 0));
}

fn default_profile() -> Seccomp {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/seccomp/default.json");
    serde_json::from_slice(&std::fs::read(&path).expect("default.json")).expect("default.json parses")
}

#[test]
fn docker_default_profile() {
    if !can_run() {
        return;
    }
    let f = seccomp::compile(&default_profile()).unwrap();
    println!("default profile: {} instructions, warnings {:?}", f.program().len(), f.warnings);
    let eperm = Outcome::Returned { ret: -1, errno: libc::EPERM };
    assert!(matches!(run(&f, Call::Syscall(libc::SYS_getpid, [0; 6])), Outcome::Returned { ret, .. } if ret > 0));
    // Not in the allow list.
    assert_eq!(run(&f, Call::Syscall(libc::SYS_reboot, [0; 6])), eperm);
    assert_eq!(run(&f, Call::Syscall(libc::SYS_unshare, [libc::CLONE_NEWUSER as u64, 0, 0, 0, 0, 0])), eperm);
    // personality: only the listed values.
    assert_eq!(
        run(&f, Call::Syscall(libc::SYS_personality, [0xffff_ffff, 0, 0, 0, 0, 0])),
        Outcome::Returned { ret: 0, errno: 0 }
    );
    assert_eq!(run(&f, Call::Syscall(libc::SYS_personality, [0x0040_0000, 0, 0, 0, 0, 0])), eperm);
    // socket: anything but AF_VSOCK.
    assert_eq!(
        run(&f, Call::Syscall(libc::SYS_socket, [libc::AF_VSOCK as u64, libc::SOCK_STREAM as u64, 0, 0, 0, 0])),
        eperm
    );
    assert!(
        matches!(run(&f, Call::Syscall(libc::SYS_socket, [libc::AF_UNIX as u64, libc::SOCK_STREAM as u64, 0, 0, 0, 0])), Outcome::Returned { ret, .. } if ret >= 0)
    );
    // clone with a namespace flag is refused; clone3 says ENOSYS so libcs fall back to clone.
    assert_eq!(
        run(&f, Call::Syscall(libc::SYS_clone, [(libc::CLONE_NEWNET | libc::SIGCHLD) as u64, 0, 0, 0, 0, 0])),
        eperm
    );
    assert_eq!(run(&f, Call::Syscall(libc::SYS_clone3, [0; 6])), Outcome::Returned { ret: -1, errno: libc::ENOSYS });
}

#[test]
fn cost_per_syscall_is_logarithmic() {
    let f = seccomp::compile(&default_profile()).unwrap();
    let cost = |nr: i64| f.evaluate(&data(nr, AUDIT_ARCH_X86_64, [0; 6])).executed;
    let worst = (0..470).map(cost).max().unwrap();
    println!("default profile: getpid {} read {} unknown(1000) {} worst {}", cost(39), cost(0), cost(1000), worst);
    // Plain syscalls: arch check, x32 check, about 7 tree levels, ret.
    for nr in [39, 0, 1000] {
        assert!(cost(nr) <= 12, "nr {nr}: {}", cost(nr));
    }
    // The worst are the five personality rules, each a 64-bit comparison.
    assert!(worst <= 20, "worst {worst}");

    // 8 vs 200 rules: the cost grows by a few jumps, not by 190 comparisons.
    // Alternate allowed/denied numbers so no interval merges: the worst case for the tree.
    // Every other name of the default allow list (scattered numbers, few merged intervals).
    let names: Vec<String> = default_profile().syscalls[0].names.iter().step_by(2).cloned().collect();
    let worst_with = |n: usize| {
        let f = compile(serde_json::json!({"defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [{"names": &names[..n], "action": "SCMP_ACT_ALLOW"}]}));
        (0..470).map(|nr| f.evaluate(&data(nr, AUDIT_ARCH_X86_64, [0; 6])).executed).max().unwrap()
    };
    let (small, large) = (worst_with(8), worst_with(170));
    println!("worst cost with 8 syscalls {small}, with 170 {large}");
    assert!(large <= small + 6, "{small} -> {large}");
}

#[test]
fn notify_listener_answers_the_trapped_call() {
    if !can_run() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("ocirun-seccomp-notify-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let sock_path = dir.join("agent.sock");
    let prof = profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": sock_path.to_str().unwrap(),
        "listenerMetadata": "hello-agent",
        "flags": ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
        "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_NOTIFY"}]
    }));
    let f = seccomp::compile(&prof).unwrap();
    assert!(f.uses_notify());
    assert_ne!(f.flags() & libc::SECCOMP_FILTER_FLAG_NEW_LISTENER as u32, 0);

    // Our agent: take the state and the fd, answer one notification with 4242.
    let listener = UnixListener::bind(&sock_path).unwrap();
    let agent = std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        let mut buf = vec![0u8; 64 * 1024];
        let (mut n, fd) = sys::recv_with_fd(conn.as_fd(), &mut buf).unwrap();
        let fd = fd.expect("seccomp fd attached");
        loop {
            let (m, _) = sys::recv_with_fd(conn.as_fd(), &mut buf[n..]).unwrap();
            if m == 0 {
                break;
            }
            n += m;
        }
        let state: seccomp::ContainerProcessState = serde_json::from_slice(&buf[..n]).unwrap();
        let notif = sys::notif_recv(fd.as_fd()).unwrap();
        assert_eq!(i64::from(notif.nr), libc::SYS_getppid);
        assert_eq!(notif.args[0], 0xdead);
        assert!(sys::notif_id_valid(fd.as_fd(), notif.id).unwrap());
        sys::notif_send(fd.as_fd(), notif.id, sys::NotifResponse::Return(4242)).unwrap();
        (state, notif.pid)
    });

    // The container side: a child that installs the filter and passes the fd up a socketpair.
    let mut sp = [0; 2];
    let kind = libc::SOCK_STREAM | libc::SOCK_CLOEXEC;
    // SAFETY: socketpair fills the two-int array.
    let r = unsafe { libc::socketpair(libc::AF_UNIX, kind, 0, sp.as_mut_ptr()) };
    assert_eq!(r, 0);
    let mut p = [0; 2];
    // SAFETY: pipe2 fills the two-int array.
    assert_eq!(unsafe { libc::pipe2(p.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: the child only makes raw syscalls and ends in _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        // SAFETY: plain syscalls on our own fds; no allocation.
        unsafe {
            libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
            let mut ret = i64::MIN;
            if let Ok(Some(fd)) = seccomp::install(&f) {
                let sock = std::os::fd::BorrowedFd::borrow_raw(sp[1]);
                if sys::send_with_fd(sock, b"f", fd.as_fd()).is_ok() {
                    drop(fd);
                    ret = libc::syscall(libc::SYS_getppid, 0xdeadu64);
                }
            }
            libc::write(p[1], (&ret as *const i64).cast(), 8);
            libc::_exit(0);
        }
    }
    // SAFETY: closing our copies of the child's ends.
    unsafe {
        libc::close(sp[1]);
        libc::close(p[1]);
    }
    // SAFETY: we own these two fds.
    let (parent_sock, result) = unsafe { (OwnedFd::from_raw_fd(sp[0]), OwnedFd::from_raw_fd(p[0])) };
    let mut b = [0u8; 1];
    let (_, notify_fd) = sys::recv_with_fd(parent_sock.as_fd(), &mut b).unwrap();
    let notify_fd = notify_fd.expect("child sent the listener fd");
    let state = State {
        oci_version: "1.2.0".into(),
        id: "ctr".into(),
        status: "creating".into(),
        pid: Some(pid),
        bundle: "/b".into(),
        ..Default::default()
    };
    let cps = seccomp::ContainerProcessState::new(pid, prof.listener_metadata.clone(), state);
    seccomp::send_to_listener(&sock_path, notify_fd.as_fd(), &cps).unwrap();
    drop(notify_fd);

    let (got, notif_pid) = agent.join().unwrap();
    let mut status = 0;
    // SAFETY: waits for our own child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    let mut rb = [0u8; 8];
    // SAFETY: reads into a live buffer.
    let n = unsafe { libc::read(result.as_raw_fd(), rb.as_mut_ptr().cast(), 8) };
    assert_eq!(n, 8);
    assert_eq!(i64::from_ne_bytes(rb), 4242, "the agent's answer is the syscall's return value");
    assert_eq!(got, cps);
    assert_eq!(got.fds, vec!["seccompFd".to_string()]);
    assert_eq!(got.metadata.as_deref(), Some("hello-agent"));
    assert_eq!(notif_pid as i32, pid);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn invalid_profiles_are_refused_with_the_field() {
    let bad = |v: serde_json::Value, needle: &str| {
        let e = seccomp::compile(&profile(v)).expect_err("must be refused").to_string();
        assert!(e.contains(needle), "{e:?} lacks {needle:?}");
    };
    bad(serde_json::json!({"defaultAction": "SCMP_ACT_BOGUS"}), "unknown action");
    bad(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": 1}), "takes no errnoRet");
    bad(serde_json::json!({"defaultAction": "SCMP_ACT_NOTIFY"}), "cannot be the default");
    bad(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerMetadata": "x"}), "without listenerPath");
    bad(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_Z80"]}), "architectures[0]");
    bad(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_NOPE"]}), "unknown flag");
    bad(
        serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": [], "action": "SCMP_ACT_ALLOW"}]}),
        "syscalls[0].names",
    );
    bad(
        serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "errnoRet": 1}]}),
        "syscalls[0].action",
    );
    bad(
        serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO",
        "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]}),
        "args[0].index",
    );
    bad(
        serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO",
        "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_ABOUT"}]}]}),
        "args[0].op",
    );

    // Unknown names and foreign arches are not errors.
    let f = compile(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_AARCH64", "SCMP_ARCH_X86_64"],
        "syscalls": [{"names": ["getppid", "frobnicate_2031"], "action": "SCMP_ACT_ERRNO"}]}));
    assert!(f.warnings.is_empty(), "{:?}", f.warnings);
    assert_eq!(f.skipped.len(), 1, "{:?}", f.skipped);
    assert!(f.skipped[0].contains("frobnicate_2031"));
}

#[test]
fn new_syscalls_are_known() {
    for name in [
        "cachestat",
        "fchmodat2",
        "futex_wait",
        "statmount",
        "listmount",
        "mseal",
        "setxattrat",
        "open_tree_attr",
        "file_getattr",
        "file_setattr",
    ] {
        for arch in [seccomp::Arch::X86_64, seccomp::Arch::X86, seccomp::Arch::X32] {
            assert!(arch.syscall_nr(name).is_some(), "{name} on {arch:?}");
        }
    }
    assert_eq!(seccomp::Arch::X86_64.syscall_nr("mseal"), Some(462));
    assert_eq!(seccomp::Arch::X32.syscall_nr("read"), Some(0x4000_0000));
    assert_eq!(seccomp::Arch::X86.syscall_nr("getpid"), Some(20));
}
