//! `exec`: a new process in a running container sees the container's namespaces and cgroup,
//! gets the user, env, cwd and capabilities asked for, and its exit code is ours.

use std::time::Duration;

use itest::console::ConsoleSocket;
use itest::{Test, REPORTER};
use serde_json::{json, Value};

/// A running container whose init sleeps.
fn running(t: &mut Test) -> i64 {
    t.args(&["sleep", "600"]);
    t.create().expect_ok();
    t.start().expect_ok();
    t.state()["pid"].as_i64().expect("init pid")
}

fn exec_report(t: &Test, opts: &[&str]) -> Value {
    let mut args = vec!["exec"];
    args.extend_from_slice(opts);
    args.push(&t.id);
    args.extend_from_slice(&[REPORTER, "report"]);
    let out = t.rt(&args);
    out.expect_ok();
    out.json()
}

#[test]
fn exec_joins_every_namespace_and_the_cgroup_of_the_init() {
    let Some(mut t) = Test::new() else { return };
    t.config["linux"]["namespaces"].as_array_mut().unwrap().retain(|n| n["type"] != "cgroup");
    t.config["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "cgroup"}));
    let pid = running(&mut t);
    let r = exec_report(&t, &[]);
    for ns in ["pid", "net", "mnt", "ipc", "uts", "cgroup"] {
        let init = std::fs::read_link(format!("/proc/{pid}/ns/{ns}")).unwrap().display().to_string();
        assert_eq!(r["namespaces"][ns], json!(init), "{ns} namespace differs from the init's");
    }
    // Inside the container's cgroup namespace, rooted at the container's cgroup.
    let host_cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let mine = std::fs::read_to_string(format!("/proc/{}/cgroup", r["pid"].as_i64().unwrap_or(0))).unwrap_or_default();
    let _ = mine;
    for line in r["cgroup"].as_array().unwrap() {
        assert!(line.as_str().unwrap().ends_with(":/"), "cgroup not rooted: {line}");
    }
    assert!(host_cgroup.contains(&t.id) || host_cgroup.contains("ocirun"), "init cgroup: {host_cgroup}");
    assert_eq!(r["hostname"], "itest");
    assert_ne!(r["pid"], json!(1), "exec'd process is not the init");
}

#[test]
fn exec_process_is_in_the_containers_host_cgroup() {
    let Some(mut t) = Test::new() else { return };
    let pid = running(&mut t);
    let out = t.rt(&["exec", "-d", "--pid-file", &t.path("exec.pid"), &t.id, "sleep", "600"]);
    out.expect_ok();
    let epid: i32 = std::fs::read_to_string(t.path("exec.pid")).unwrap().trim().parse().unwrap();
    let a = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let b = std::fs::read_to_string(format!("/proc/{epid}/cgroup")).unwrap();
    assert_eq!(a, b, "exec'd process is not in the init's cgroups");
    let ns = |p: i32, n: &str| std::fs::read_link(format!("/proc/{p}/ns/{n}")).unwrap();
    assert_eq!(ns(pid as i32, "pid"), ns(epid, "pid"));
}

#[test]
fn exec_exit_codes() {
    let Some(mut t) = Test::new() else { return };
    running(&mut t);
    t.rt(&["exec", &t.id, "sh", "-c", "exit 5"]).expect_code(5);
    t.rt(&["exec", &t.id, REPORTER, "kill-self", "KILL"]).expect_code(137);
    // A program that cannot be executed: 255, as runc and crun.
    let out = t.rt(&["exec", &t.id, "/no/such/program"]);
    out.expect_code(255);
    assert!(out.stderr.contains("no such file or directory"), "{out}");
    let out = t.rt(&["exec", &t.id, "nosuchprogram"]);
    out.expect_code(255);
    assert!(out.stderr.contains("executable file not found"), "{out}");
}

#[test]
fn exec_user_env_cwd_and_groups() {
    let Some(mut t) = Test::new() else { return };
    running(&mut t);
    let r = exec_report(&t, &["-u", "1000:1001", "-g", "7", "-e", "FOO=bar", "--cwd", "/tmp"]);
    assert_eq!(r["uid"], 1000);
    assert_eq!(r["gid"], 1001);
    assert_eq!(r["groups"], json!([7]));
    assert_eq!(r["cwd"], "/tmp");
    assert_eq!(r["env"]["FOO"], "bar", "{}", r["env"]);
    assert!(r["env"]["PATH"].is_string(), "container env not inherited: {}", r["env"]);
    // A non-root user without added caps has none effective.
    assert_eq!(r["caps"]["eff"]["hex"], json!("0000000000000000"), "{}", r["caps"]);
}

fn cap_names(r: &Value, set: &str) -> Vec<String> {
    r["caps"][set]["names"].as_array().unwrap().iter().filter_map(Value::as_str).map(String::from).collect()
}

/// `--cap` adds to the bounding, effective and permitted sets and keeps the others, as
/// `runc exec --cap` does; the ambient set (what a non-root user's program keeps across its
/// exec) gets it only where the container's config made it inheritable.
#[test]
fn exec_cap_adds_a_capability() {
    let Some(mut t) = Test::new() else { return };
    t.config["process"]["capabilities"]["inheritable"] = json!(["CAP_KILL"]);
    t.config["process"]["capabilities"]["ambient"] = json!([]);
    running(&mut t);
    let root = exec_report(&t, &["-c", "CAP_NET_ADMIN"]);
    for set in ["eff", "prm", "bnd"] {
        let names = cap_names(&root, set);
        assert!(names.iter().any(|n| n == "CAP_NET_ADMIN"), "{set}: {names:?}");
        assert!(names.iter().any(|n| n == "CAP_KILL"), "{set} lost the config's caps: {names:?}");
    }
    assert!(!cap_names(&root, "inh").iter().any(|n| n == "CAP_NET_ADMIN"), "{}", root["caps"]);
    // Not inheritable in the config: a non-root user's program does not keep it.
    let user = exec_report(&t, &["-u", "1000", "-c", "CAP_NET_ADMIN"]);
    assert_eq!(user["caps"]["eff"]["hex"], json!("0000000000000000"), "{}", user["caps"]);
    assert!(cap_names(&user, "bnd").iter().any(|n| n == "CAP_NET_ADMIN"), "{}", user["caps"]);
    // Inheritable in the config: it is raised ambient and the user's program has it.
    let user = exec_report(&t, &["-u", "1000", "-c", "CAP_KILL"]);
    for set in ["eff", "amb"] {
        assert_eq!(cap_names(&user, set), ["CAP_KILL"], "{set}: {}", user["caps"]);
    }
}

#[test]
fn exec_with_a_process_file() {
    let Some(mut t) = Test::new() else { return };
    running(&mut t);
    let process = json!({
        "args": [REPORTER, "report"], "cwd": "/", "env": ["ONLY=this"],
        "user": {"uid": 2000, "gid": 2000}, "noNewPrivileges": true
    });
    std::fs::write(t.path("process.json"), process.to_string()).unwrap();
    let out = t.rt(&["exec", "--process", &t.path("process.json"), &t.id]);
    out.expect_ok();
    let r = out.json();
    assert_eq!(r["uid"], 2000);
    assert_eq!(r["no_new_privs"], 1);
    assert_eq!(r["env"]["ONLY"], "this", "{}", r["env"]);
    assert!(r["env"].get("PATH").is_none(), "a process file's env replaces the container's: {}", r["env"]);
}

#[test]
fn exec_refuses_a_stopped_container() {
    let Some(mut t) = Test::new() else { return };
    t.args(&["true"]);
    t.create().expect_ok();
    t.start().expect_ok();
    t.wait_status("stopped");
    let out = t.rt(&["exec", &t.id, "true"]);
    out.expect_failure();
    assert!(out.stderr.contains("stopped"), "{out}");
}

#[test]
fn exec_with_a_terminal_via_console_socket() {
    let Some(mut t) = Test::new() else { return };
    running(&mut t);
    let sock = ConsoleSocket::bind(&t.dir.join("exec-console.sock")).unwrap();
    let sock_path = sock.path.to_string_lossy().into_owned();
    let mut cmd = t.command(&["exec", "-t", "-d", "--console-socket", &sock_path, &t.id, "/bin/sh"]);
    cmd.stdin(std::process::Stdio::null());
    t.exec(cmd).expect_ok();
    let mut pty = sock.master(Duration::from_secs(20)).expect("pty master");
    pty.write("tty; echo answer-$((6*7))\n").unwrap();
    let seen = pty.read_until("answer-42", Duration::from_secs(20));
    assert!(seen.contains("/dev/pts/"), "no tty: {seen:?}");
    pty.write("exit\n").unwrap();
}

/// Fields 5 and 6 of /proc/PID/stat (process group, session) with the pid, read inside.
fn pgrp_and_session(stat: &str) -> (i64, i64, i64) {
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<i64> = rest.split_whitespace().skip(2).take(2).filter_map(|v| v.parse().ok()).collect();
    let pid = stat.split_whitespace().next().and_then(|v| v.parse().ok()).unwrap_or(-1);
    (pid, f.first().copied().unwrap_or(-1), f.get(1).copied().unwrap_or(-1))
}

#[test]
fn exec_and_init_lead_their_own_session_and_process_group() {
    // runc: both lead a new session (setsid). crun 1.8 does it for the init only: its exec'd
    // process stays in the caller's group (pgrp 0 inside), where kill(0, ...) reaches the host.
    let Some(mut t) = Test::new() else { return };
    running(&mut t);
    let out = t.rt(&["exec", &t.id, "cat", "/proc/self/stat"]);
    out.expect_ok();
    let (pid, pgrp, sid) = pgrp_and_session(&out.stdout);
    assert!(pid > 1 && pgrp == pid && sid == pid, "exec'd process: pid {pid} pgrp {pgrp} session {sid}");
    let out = t.rt(&["exec", &t.id, "cat", "/proc/1/stat"]);
    out.expect_ok();
    assert_eq!(pgrp_and_session(&out.stdout), (1, 1, 1), "init: {}", out.stdout);
}

/// The container's directory in the v1 hierarchy of `ctrl`, from the init's /proc/PID/cgroup.
fn v1_dir(pid: i64, ctrl: &str) -> Option<std::path::PathBuf> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let line = text.lines().find(|l| l.split(':').nth(1).is_some_and(|c| c.split(',').any(|c| c == ctrl)))?;
    let path = line.splitn(3, ':').nth(2)?;
    Some(std::path::Path::new("/sys/fs/cgroup").join(ctrl).join(path.trim_start_matches('/')))
}

#[test]
fn exec_cgroup_with_controllers_on_cgroup_v1() {
    // runc's syntax: --cgroup [CTRL[,CTRL]:]PATH, repeatable. crun 1.8 ignores a controller
    // prefix on v1 and leaves the process where it was.
    let Some(mut t) = Test::new() else { return };
    let pid = running(&mut t);
    let (Some(mem), Some(pids)) = (v1_dir(pid, "memory"), v1_dir(pid, "pids")) else {
        itest::skip("no cgroup v1 memory and pids hierarchies here");
        return;
    };
    for d in [mem.join("a"), mem.join("b"), pids.join("a"), pids.join("b")] {
        std::fs::create_dir(&d).unwrap_or_else(|e| panic!("mkdir {}: {e}", d.display()));
    }
    let cgroup_of = |out: &itest::Outcome, ctrl: &str| -> String {
        let line = out.stdout.lines().find(|l| l.split(':').nth(1) == Some(ctrl));
        line.and_then(|l| l.rsplit('/').next()).unwrap_or("?").to_string()
    };
    let out = t.rt(&["exec", "--cgroup", "memory,pids:a", &t.id, "cat", "/proc/self/cgroup"]);
    out.expect_ok();
    assert_eq!((cgroup_of(&out, "memory"), cgroup_of(&out, "pids")), ("a".into(), "a".into()), "{out}");
    let out = t.rt(&["exec", "--cgroup", "memory:a", "--cgroup", "pids:b", &t.id, "cat", "/proc/self/cgroup"]);
    out.expect_ok();
    assert_eq!((cgroup_of(&out, "memory"), cgroup_of(&out, "pids")), ("a".into(), "b".into()), "{out}");
    let out = t.rt(&["exec", "--cgroup", "memory:b", &t.id, "cat", "/proc/self/cgroup"]);
    out.expect_ok();
    assert_eq!(cgroup_of(&out, "memory"), "b", "{out}");
    assert_ne!(cgroup_of(&out, "pids"), "b", "pids moved without being named: {out}");
    t.rt(&["exec", "--cgroup", "nosuchctrl:a", &t.id, "true"]).expect_failure();
    t.rt(&["exec", "--cgroup", "memory:../../escape", &t.id, "true"]).expect_failure();
    t.rt(&["delete", "-f", &t.id]).expect_ok();
    for d in [mem.join("a"), mem.join("b"), pids.join("a"), pids.join("b")] {
        let _ = std::fs::remove_dir(&d);
    }
}

#[test]
fn exec_with_a_terminal_as_non_root_owns_its_tty() {
    // crun's exec-test-uid-tty: `exec -t --user 1` sees its /proc/self/fd/0 owned by uid 1.
    let Some(mut t) = Test::new() else { return };
    running(&mut t);
    let sock = ConsoleSocket::bind(&t.dir.join("exec-console.sock")).unwrap();
    let sock_path = sock.path.to_string_lossy().into_owned();
    let mut cmd = t.command(&["exec", "-t", "-d", "-u", "1", "--console-socket", &sock_path, &t.id, "/bin/sh"]);
    cmd.stdin(std::process::Stdio::null());
    t.exec(cmd).expect_ok();
    let mut pty = sock.master(Duration::from_secs(20)).expect("pty master");
    // The echo of the typed line must not match: the answer is assembled by printf.
    pty.write("printf 'own%s-end\\n' \"er-$(stat -L -c %u /proc/self/fd/0)\"\n").unwrap();
    let seen = pty.read_until("-end\r\n", Duration::from_secs(20));
    let seen = pty_after_echo(&seen);
    assert!(seen.contains("owner-1-end"), "tty not owned by uid 1: {seen:?}");
    pty.write("exit\n").unwrap();
}

/// What the shell printed after echoing the typed line.
fn pty_after_echo(seen: &str) -> String {
    seen.split_once("\"\r\n").map_or(seen, |(_, rest)| rest).to_string()
}
