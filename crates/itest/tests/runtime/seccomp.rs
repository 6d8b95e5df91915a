//! `linux.seccomp` as the container sees it: an allowlist written for the container's program
//! (not for the runtime) runs it, the notify fd reaches `listenerPath` during `create` (and for
//! `exec`), an agent that never answers hangs no command, unknown syscall names stay quiet,
//! and the profile shapes of crun's own seccomp suite (tests/test_seccomp.py) run.

use std::io::Read;
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::{Duration, Instant};

use itest::fixture::Test;
use itest::sys::recv_fd_with_data;
use serde_json::{json, Value};

/// What busybox `true` (static) calls, and nothing more: an allowlist with only these runs
/// it, so whatever the runtime calls after loading the filter must be none of its business.
const BUSYBOX_TRUE: &[&str] = &[
    "execve",
    "brk",
    "arch_prctl",
    "set_tid_address",
    "set_robust_list",
    "rseq",
    "prlimit64",
    "readlink",
    "getrandom",
    "mprotect",
    "prctl",
    "getuid",
    "exit_group",
];

fn allowlist(default: &str, names: &[&str]) -> Value {
    json!({
        "defaultAction": default,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{"names": names, "action": "SCMP_ACT_ALLOW"}]
    })
}

fn run_true(t: &mut Test, seccomp: Value, nnp: bool) {
    t.config["linux"]["seccomp"] = seccomp;
    t.config["process"]["noNewPrivileges"] = json!(nnp);
    t.args(&["/bin/true"]);
    let out = t.run();
    out.expect_ok();
    assert_eq!(out.stderr.trim(), "", "nothing on stderr: {out}");
}

#[test]
fn minimal_allowlist_runs_true_with_no_new_privileges() {
    let Some(mut t) = Test::new() else { return };
    run_true(&mut t, allowlist("SCMP_ACT_ERRNO", BUSYBOX_TRUE), true);
}

#[test]
fn minimal_allowlist_runs_true_without_no_new_privileges() {
    let Some(mut t) = Test::new() else { return };
    run_true(&mut t, allowlist("SCMP_ACT_ERRNO", BUSYBOX_TRUE), false);
}

#[test]
fn minimal_allowlist_that_kills_runs_true() {
    // Any call of the runtime's after the filter would kill the init here.
    for nnp in [true, false] {
        let Some(mut t) = Test::new() else { return };
        run_true(&mut t, allowlist("SCMP_ACT_KILL_PROCESS", BUSYBOX_TRUE), nnp);
    }
}

#[test]
fn close_range_and_execveat_denied_still_run() {
    for nnp in [true, false] {
        let Some(mut t) = Test::new() else { return };
        t.config["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["close_range", "execveat"], "action": "SCMP_ACT_ERRNO"}]
        });
        t.config["process"]["noNewPrivileges"] = json!(nnp);
        let r = t.report();
        assert_eq!(r["seccomp"], 2, "filter mode: {r}");
        assert_eq!(r["no_new_privs"], u8::from(nnp), "{r}");
    }
}

#[test]
fn capabilities_do_not_keep_what_loading_the_filter_needed() {
    // Without no_new_privs the init holds CAP_SYS_ADMIN up to the exec to load the filter; the
    // program must get the same five sets as without a filter.
    let caps = json!(["CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    for user in [json!({"uid": 0, "gid": 0}), json!({"uid": 1000, "gid": 1000})] {
        let mut seen = Vec::new();
        for seccomp in [None, Some(json!({"defaultAction": "SCMP_ACT_ALLOW"}))] {
            let Some(mut t) = Test::new() else { return };
            t.config["process"]["capabilities"] =
                json!({"bounding": caps, "effective": caps, "permitted": caps, "inheritable": caps, "ambient": caps});
            t.config["process"]["noNewPrivileges"] = json!(false);
            t.config["process"]["user"] = user.clone();
            match &seccomp {
                Some(p) => t.config["linux"]["seccomp"] = p.clone(),
                None => {
                    if let Some(l) = t.config["linux"].as_object_mut() {
                        l.remove("seccomp");
                    }
                }
            }
            let r = t.report();
            assert_eq!(r["seccomp"], if seccomp.is_some() { 2 } else { 0 }, "{r}");
            seen.push(r["caps"].clone());
        }
        assert_eq!(seen[0], seen[1], "user {user}: the same capabilities with and without a filter");
        assert!(!seen[1].to_string().contains("CAP_SYS_ADMIN"), "{}", seen[1]);
    }
}

#[test]
fn unknown_and_overridden_syscall_names_print_nothing_but_show_with_debug() {
    let Some(mut t) = Test::new() else { return };
    t.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["frobnicate_2099", "getpid", "no_such_call"], "action": "SCMP_ACT_LOG"},
            // A later rule that an earlier one overrides, as in podman's default profile (setns
            // allowed, then denied without CAP_SYS_ADMIN): the first wins, quietly.
            {"names": ["getpid"], "action": "SCMP_ACT_ERRNO"}
        ]
    });
    t.args(&["/bin/true"]);
    let out = t.run();
    out.expect_ok();
    assert_eq!(out.stderr.trim(), "", "unknown names are normal in profiles: {out}");
    if itest::runtime::runtime().kind != itest::runtime::Kind::Ocirun {
        return;
    }
    t.write_config();
    let id = t.other_id("dbg");
    let out = t.rt(&["--debug", "run", "--bundle", &t.bundle_str(), &id]);
    out.expect_ok();
    assert!(out.stderr.contains("frobnicate_2099"), "--debug names the skipped syscall: {out}");
}

/// A listener socket in the test dir and what an agent receives on it.
struct Agent {
    sock: UnixListener,
    path: String,
}

impl Agent {
    fn bind(t: &Test, name: &str) -> Agent {
        let path = t.path(name);
        let sock = UnixListener::bind(&path).expect("bind listener");
        sock.set_nonblocking(true).expect("nonblocking listener");
        Agent { sock, path }
    }

    /// The next connection's container process state and fd, within `timeout`.
    fn receive(&self, timeout: Duration) -> Option<(Value, std::os::fd::OwnedFd)> {
        let deadline = Instant::now() + timeout;
        let conn: UnixStream = loop {
            match self.sock.accept() {
                Ok((c, _)) => break c,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                Err(_) => return None,
            }
        };
        conn.set_nonblocking(false).ok()?;
        conn.set_read_timeout(Some(timeout)).ok()?;
        let (mut data, fd) = recv_fd_with_data(&conn).ok()?;
        let mut rest = Vec::new();
        let _ = (&conn).read_to_end(&mut rest);
        data.extend(rest);
        Some((serde_json::from_slice(&data).expect("container process state is JSON"), fd))
    }
}

fn notify_profile(agent: &Agent, names: &[&str]) -> Value {
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": agent.path,
        "listenerMetadata": "SOME-METADATA",
        "syscalls": [{"names": names, "action": "SCMP_ACT_NOTIFY"}]
    })
}

fn fd_link(fd: &std::os::fd::OwnedFd) -> String {
    use std::os::fd::AsRawFd;
    std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[test]
fn listener_gets_the_notify_fd_during_create() {
    for nnp in [true, false] {
        let Some(mut t) = Test::new() else { return };
        let agent = Agent::bind(&t, "agent.sock");
        t.config["linux"]["seccomp"] = notify_profile(&agent, &["mkdirat"]);
        t.config["process"]["noNewPrivileges"] = json!(nnp);
        t.args(&["/bin/true"]);
        t.create().expect_ok();
        // Before start: an agent may wait for the fd before it lets the engine start.
        let (msg, fd) = agent.receive(Duration::from_secs(10)).expect("the listener got the fd before start");
        assert!(fd_link(&fd).contains("seccomp"), "a seccomp notify fd: {}", fd_link(&fd));
        assert_eq!(msg["fds"], json!(["seccompFd"]), "{msg}");
        assert_eq!(msg["metadata"], "SOME-METADATA", "{msg}");
        assert_eq!(msg["state"]["id"], t.id.as_str(), "{msg}");
        assert_eq!(msg["state"]["status"], "creating", "{msg}");
        let pid = t.state()["pid"].clone();
        assert_eq!(msg["pid"], pid, "{msg}");
        assert_eq!(msg["state"]["pid"], pid, "{msg}");
        t.start().expect_ok();
        t.wait_status("stopped");
        t.rt(&["delete", &t.id]).expect_ok();
    }
}

#[test]
fn notify_filter_loaded_at_create_still_falls_back_to_execve() {
    let Some(mut t) = Test::new() else { return };
    let agent = Agent::bind(&t, "agent.sock");
    let mut profile = notify_profile(&agent, &["mkdirat"]);
    profile["syscalls"]
        .as_array_mut()
        .expect("rules")
        .push(json!({"names": ["execveat", "close_range"], "action": "SCMP_ACT_ERRNO"}));
    t.config["linux"]["seccomp"] = profile;
    t.args(&["/bin/true"]);
    let agent = std::thread::spawn(move || agent.receive(Duration::from_secs(20)).map(|(m, _fd)| m));
    let out = t.run();
    out.expect_ok();
    assert!(agent.join().expect("agent thread").is_some(), "the listener got the fd");
}

#[test]
fn an_agent_that_never_answers_hangs_no_command() {
    let Some(mut t) = Test::new() else { return };
    let agent = Agent::bind(&t, "agent.sock");
    // The init's own exec waits on the agent, which holds the fd and never answers.
    t.config["linux"]["seccomp"] = notify_profile(&agent, &["execve", "execveat"]);
    t.args(&["/bin/true"]);
    t.create().expect_ok();
    let (_msg, fd) = agent.receive(Duration::from_secs(10)).expect("the listener got the fd");
    let started = Instant::now();
    t.start().expect_ok();
    assert!(started.elapsed() < Duration::from_secs(10), "start waited on the agent");
    assert!(t.state()["status"].is_string());
    t.rt(&["kill", &t.id, "KILL"]).expect_ok();
    t.rt(&["delete", "--force", &t.id]).expect_ok();
    drop(fd);
}

#[test]
fn exec_sends_its_own_notify_fd() {
    let Some(mut t) = Test::new() else { return };
    let agent = Agent::bind(&t, "agent.sock");
    t.config["linux"]["seccomp"] = notify_profile(&agent, &["mkdirat"]);
    t.args(&["/bin/sleep", "100"]);
    t.create().expect_ok();
    let (_first, _fd) = agent.receive(Duration::from_secs(10)).expect("the init's fd");
    t.start().expect_ok();
    let out = t.rt(&["exec", &t.id, "/bin/true"]);
    out.expect_ok();
    let (msg, fd) = agent.receive(Duration::from_secs(10)).expect("the exec'd process's fd");
    assert!(fd_link(&fd).contains("seccomp"), "{}", fd_link(&fd));
    assert_eq!(msg["fds"], json!(["seccompFd"]), "{msg}");
    assert_eq!(msg["state"]["id"], t.id.as_str(), "{msg}");
    assert_ne!(msg["pid"], t.state()["pid"], "the exec'd process, not the init: {msg}");
    t.rt(&["delete", "--force", &t.id]).expect_ok();
}

#[test]
fn exec_under_a_minimal_allowlist_runs_true() {
    let Some(mut t) = Test::new() else { return };
    let mut names = BUSYBOX_TRUE.to_vec();
    // sleep's own calls, for the container's init.
    names.extend(["nanosleep", "clock_nanosleep", "rt_sigaction", "rt_sigprocmask", "restart_syscall"]);
    t.config["linux"]["seccomp"] = allowlist("SCMP_ACT_ERRNO", &names);
    // exec takes the container's noNewPrivileges unless --no-new-privs: both ways below.
    t.config["process"]["noNewPrivileges"] = json!(false);
    t.args(&["/bin/sleep", "100"]);
    t.create().expect_ok();
    t.start().expect_ok();
    for nnp in [&[][..], &["--no-new-privs"][..]] {
        let mut args = vec!["exec"];
        args.extend_from_slice(nnp);
        args.extend([t.id.as_str(), "/bin/true"]);
        t.rt(&args).expect_ok();
    }
    t.rt(&["delete", "--force", &t.id]).expect_ok();
}

/// The profiles of crun's seccomp suite, each running a program to completion.
#[test]
fn crun_suite_profiles_run() {
    let crun_basic = [
        "read",
        "write",
        "exit",
        "exit_group",
        "rt_sigreturn",
        "brk",
        "mmap",
        "munmap",
        "mprotect",
        "arch_prctl",
        "set_tid_address",
        "set_robust_list",
        "rseq",
        "prlimit64",
        "futex",
        "getrandom",
        "close",
        "execve",
        "openat",
        "newfstatat",
        "fstat",
        "access",
        "readlink",
        "getuid",
        "getgid",
        "geteuid",
        "getegid",
    ];
    let mut crun_errno = crun_basic.to_vec();
    crun_errno.extend([
        "prctl",
        "uname",
        "readlinkat",
        "fcntl",
        "dup",
        "dup2",
        "dup3",
        "lseek",
        "ioctl",
        "getcwd",
        "chdir",
        "rt_sigaction",
        "rt_sigprocmask",
        "sigaltstack",
        "clock_gettime",
        "gettid",
        "tgkill",
        "getpid",
        "getppid",
        "wait4",
    ]);
    let cases = [
        ("allow default", json!({"defaultAction": "SCMP_ACT_ALLOW"})),
        (
            "architectures",
            json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]}),
        ),
        (
            "log action",
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_LOG"}]}),
        ),
        ("kill default", allowlist("SCMP_ACT_KILL", &crun_basic)),
        (
            "argument rule",
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["ioctl"], "action": "SCMP_ACT_ERRNO",
                "errnoRet": 1, "args": [{"index": 1, "value": 0x5401, "op": "SCMP_CMP_EQ"}]}]}),
        ),
        (
            "several names",
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["getpid", "getppid", "getuid", "getgid"],
                "action": "SCMP_ACT_LOG"}]}),
        ),
        (
            "errno default",
            json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
                "syscalls": [{"names": crun_errno, "action": "SCMP_ACT_ALLOW"}]}),
        ),
        (
            "comparison operators",
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["ioctl"], "action": "SCMP_ACT_LOG", "args": [{"index": 1, "value": 0, "op": "SCMP_CMP_NE"}]},
                {"names": ["write"], "action": "SCMP_ACT_LOG", "args": [{"index": 2, "value": 1024, "op": "SCMP_CMP_GT"}]}]}),
        ),
        ("log flag", json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_LOG"]})),
    ];
    for (what, profile) in cases {
        let Some(mut t) = Test::new() else { return };
        println!("crun suite case: {what}");
        t.config["linux"]["seccomp"] = profile;
        t.args(&["/bin/true"]);
        let out = t.run();
        // crun's kill list lacks busybox's prctl: the program itself dies of SIGSYS, after
        // the runtime got it started.
        let want = if what == "kill default" { 128 + libc::SIGSYS } else { 0 };
        assert_eq!(out.code, Some(want), "{what}: {out}");
        assert_eq!(out.stderr.trim(), "", "{what}: {out}");
    }
}

#[test]
fn blocked_syscall_returns_its_errno() {
    let Some(mut t) = Test::new() else { return };
    t.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
    });
    let out = t.run_reporter(&["syscall", "getpid"]);
    out.expect_ok();
    assert_eq!(out.json()["result"]["error"], 1, "{out}");
}

#[test]
fn notify_on_the_fd_hand_over_is_refused_not_hung() {
    // The notify fd travels with sendmsg after the filter is in: a profile that sends sendmsg
    // to the agent would wait on an agent that has no fd yet.
    let Some(mut t) = Test::new() else { return };
    let agent = Agent::bind(&t, "agent.sock");
    t.config["linux"]["seccomp"] = notify_profile(&agent, &["sendmsg"]);
    t.args(&["/bin/true"]);
    let started = Instant::now();
    let out = t.create();
    assert!(started.elapsed() < Duration::from_secs(10), "create waited: {out}");
    if itest::runtime::runtime().kind != itest::runtime::Kind::Ocirun {
        println!("{out}");
        let _ = t.rt(&["delete", "--force", &t.id]);
        return;
    }
    out.expect_failure();
    assert!(out.stderr.contains("sendmsg"), "the error names the call: {out}");
}
