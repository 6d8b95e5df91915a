//! The process's environment as the reporter sees it: hostname, env, cwd, user, rlimits,
//! capabilities, no_new_privs, oom score.

use itest::Test;
use serde_json::{json, Value};

fn cap_names(report: &Value, set: &str) -> Vec<String> {
    let names = report["caps"][set]["names"].as_array().unwrap_or_else(|| panic!("no caps.{set} in {report}"));
    names.iter().map(|n| n.as_str().unwrap_or_default().to_string()).collect()
}

#[test]
fn hostname_is_set() {
    let Some(mut t) = Test::new() else { return };
    t.config["hostname"] = json!("itest-host");
    let r = t.report();
    assert_eq!(r["hostname"], "itest-host");
}

#[test]
fn env_is_exactly_the_configured_one() {
    let Some(mut t) = Test::new() else { return };
    t.config["process"]["env"] = json!(["PATH=/bin", "FOO=bar baz", "EMPTY="]);
    let r = t.report();
    let env = r["env"].as_object().expect("env");
    assert_eq!(env.get("FOO"), Some(&json!("bar baz")));
    assert_eq!(env.get("EMPTY"), Some(&json!("")));
    assert_eq!(env.get("PATH"), Some(&json!("/bin")));
    // Runtimes may add HOME (runc and crun do); nothing else from the host may leak in.
    let extra: Vec<&String> =
        env.keys().filter(|k| !["PATH", "FOO", "EMPTY", "HOME", "TERM"].contains(&k.as_str())).collect();
    assert!(extra.is_empty(), "unexpected variables: {extra:?}");
}

#[test]
fn args_are_passed_verbatim() {
    let Some(mut t) = Test::new() else { return };
    t.reporter_args(&["report", "kernel.ostype"]);
    let out = t.run();
    out.expect_ok();
    let r = out.json();
    assert_eq!(r["argv"], json!([itest::fixture::REPORTER, "report", "kernel.ostype"]));
    assert_eq!(r["sysctls"]["kernel.ostype"], "Linux");
}

#[test]
fn cwd_is_set() {
    let Some(mut t) = Test::new() else { return };
    t.config["process"]["cwd"] = json!("/srv");
    assert_eq!(t.report()["cwd"], "/srv");
}

#[test]
fn cwd_is_created_when_missing() {
    let Some(mut t) = Test::new() else { return };
    t.config["root"]["readonly"] = json!(false);
    t.config["process"]["cwd"] = json!("/work/sub");
    assert_eq!(t.report()["cwd"], "/work/sub");
}

#[test]
fn user_ids_groups_and_umask() {
    let Some(mut t) = Test::new() else { return };
    t.config["process"]["user"] = json!({"uid": 1000, "gid": 1001, "additionalGids": [10, 20], "umask": 0o027});
    let r = t.report();
    for k in ["uid", "euid", "suid"] {
        assert_eq!(r[k], 1000, "{k}: {r}");
    }
    for k in ["gid", "egid", "sgid"] {
        assert_eq!(r[k], 1001, "{k}: {r}");
    }
    let mut groups: Vec<u64> = r["groups"].as_array().unwrap().iter().filter_map(Value::as_u64).collect();
    groups.sort();
    groups.retain(|&g| g != 1001);
    assert_eq!(groups, [10, 20], "{r}");
    assert_eq!(r["umask"], 0o027);
}

#[test]
fn non_root_user_has_no_effective_capabilities() {
    let Some(mut t) = Test::new() else { return };
    t.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    let r = t.report();
    assert_eq!(cap_names(&r, "eff"), Vec::<String>::new(), "{r}");
}

#[test]
fn rlimits_are_applied() {
    let Some(mut t) = Test::new() else { return };
    t.config["process"]["rlimits"] = json!([
        {"type": "RLIMIT_NOFILE", "soft": 512, "hard": 1000},
        {"type": "RLIMIT_CORE", "soft": 0, "hard": 4096},
        {"type": "RLIMIT_MSGQUEUE", "soft": 8192, "hard": 8192}
    ]);
    let r = t.report();
    assert_eq!(r["rlimits"]["RLIMIT_NOFILE"], json!([512, 1000]));
    assert_eq!(r["rlimits"]["RLIMIT_CORE"], json!([0, 4096]));
    assert_eq!(r["rlimits"]["RLIMIT_MSGQUEUE"], json!([8192, 8192]));
}

#[test]
fn rlimit_up_to_the_host_hard_limit_is_granted() {
    // Raising a hard limit needs CAP_SYS_RESOURCE, which root has; so 20000 (the host's hard
    // nofile limit) must be granted, not clipped.
    let Some(mut t) = Test::new() else { return };
    t.config["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 20000, "hard": 20000}]);
    assert_eq!(t.report()["rlimits"]["RLIMIT_NOFILE"], json!([20000, 20000]));
}

#[test]
fn capability_sets_are_exactly_the_configured_ones() {
    let Some(mut t) = Test::new() else { return };
    let caps = json!(["CAP_CHOWN", "CAP_KILL"]);
    t.config["process"]["capabilities"] =
        json!({"bounding": caps, "effective": caps, "permitted": caps, "inheritable": caps, "ambient": caps});
    let r = t.report();
    for set in ["bnd", "eff", "prm", "inh", "amb"] {
        assert_eq!(cap_names(&r, set), ["CAP_CHOWN", "CAP_KILL"], "{set}: {}", r["caps"]);
    }
}

#[test]
fn default_capabilities_are_the_spec_defaults() {
    let Some(mut t) = Test::new() else { return };
    let want: Vec<String> = t.config["process"]["capabilities"]["bounding"]
        .as_array()
        .expect("spec has a bounding set")
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    let r = t.report();
    let mut got = cap_names(&r, "bnd");
    let mut want = want;
    got.sort();
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn without_cap_sys_admin_mount_is_denied() {
    let Some(mut t) = Test::new() else { return };
    let caps = json!(["CAP_KILL"]);
    t.config["process"]["capabilities"] = json!({"bounding": caps, "effective": caps, "permitted": caps});
    let out = t.run_reporter(&["syscall", "mount"]);
    out.expect_ok();
    assert_eq!(out.json()["result"]["errno_name"], "EPERM", "{out}");
}

#[test]
fn with_cap_sys_admin_mount_is_allowed() {
    let Some(mut t) = Test::new() else { return };
    let caps = json!(["CAP_SYS_ADMIN"]);
    t.config["process"]["capabilities"] = json!({"bounding": caps, "effective": caps, "permitted": caps});
    t.config["root"]["readonly"] = json!(false);
    let out = t.run_reporter(&["syscall", "mount"]);
    out.expect_ok();
    assert_eq!(out.json()["result"]["ret"], 0, "{out}");
}

#[test]
fn no_new_privileges_true() {
    let Some(mut t) = Test::new() else { return };
    t.config["process"]["noNewPrivileges"] = json!(true);
    assert_eq!(t.report()["no_new_privs"], 1);
}

#[test]
fn no_new_privileges_false() {
    let Some(mut t) = Test::new() else { return };
    t.config["process"]["noNewPrivileges"] = json!(false);
    assert_eq!(t.report()["no_new_privs"], 0);
}

#[test]
fn oom_score_adj_is_applied() {
    let Some(mut t) = Test::new() else { return };
    t.config["process"]["oomScoreAdj"] = json!(123);
    assert_eq!(t.report()["oom_score_adj"], 123);
}

#[test]
fn seccomp_is_off_without_a_profile() {
    let Some(mut t) = Test::new() else { return };
    if let Some(linux) = t.config["linux"].as_object_mut() {
        linux.remove("seccomp");
    }
    assert_eq!(t.report()["seccomp"], 0);
}

#[test]
fn init_is_pid_1_in_a_new_pid_namespace() {
    let Some(mut t) = Test::new() else { return };
    let r = t.report();
    assert_eq!(r["pid"], 1);
    assert_eq!(r["ppid"], 0);
}

#[test]
fn a_non_root_process_can_reopen_its_own_stdio() {
    // crun and runc chown the stdio (pipes, files) to the process user; otherwise a reopen
    // of /dev/stdout through /proc is denied to it. Here stdio is a file (>> keeps it). crun
    // gives uid and gid, as we do; runc 1.1 only the uid.
    let Some(mut t) = Test::new() else { return };
    t.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    t.args(&[
        "sh",
        "-c",
        "stat -L -c %u:%g /proc/self/fd/1 && echo to-out >> /dev/stdout && echo to-err >> /dev/stderr",
    ]);
    let out = t.run();
    out.expect_ok();
    assert!(out.stdout.contains("to-out") && out.stderr.contains("to-err"), "{out}");
    assert!(out.stdout.contains("1000:1000"), "stdout is not the user's: {out}");
}

#[test]
fn an_exec_as_non_root_can_reopen_its_own_stdio() {
    let Some(mut t) = Test::new() else { return };
    t.args(&["sleep", "600"]);
    t.create().expect_ok();
    t.start().expect_ok();
    let out = t.rt(&[
        "exec",
        "-u",
        "1001:1002",
        &t.id,
        "sh",
        "-c",
        "stat -L -c %u:%g /proc/self/fd/1 && echo hi >> /dev/stdout",
    ]);
    out.expect_ok();
    assert!(out.stdout.contains("hi") && out.stdout.contains("1001:1002"), "{out}");
    // /dev/null given as stdin stays root's: it may be the host's (runc skips it too; crun
    // 1.8 swaps in a /dev/null of its own and chowns that).
    let mut cmd = t.command(&["exec", "-u", "1001", &t.id, "stat", "-L", "-c", "%u", "/proc/self/fd/0"]);
    cmd.stdin(std::process::Stdio::null());
    let out = t.exec(cmd);
    out.expect_ok();
    assert_eq!(out.stdout.trim(), "0", "{out}");
    let host = std::fs::metadata("/dev/null").map(|m| std::os::unix::fs::MetadataExt::uid(&m)).unwrap_or(1);
    assert_eq!(host, 0, "the host's /dev/null changed owner");
}

// NOTIFY_SOCKET: the container gets a socket of its own, at <host socket path>/notify as
// crun puts it (the host path becomes a directory inside); READY=1 is relayed to the caller's.

/// A datagram socket standing in for systemd's notify socket.
fn host_notify_socket(t: &Test) -> (std::os::unix::net::UnixDatagram, String) {
    let path = t.path("host-notify.sock");
    let sock = std::os::unix::net::UnixDatagram::bind(&path).expect("bind the host notify socket");
    sock.set_read_timeout(Some(std::time::Duration::from_secs(10))).expect("timeout");
    (sock, path)
}

/// Every datagram that arrives within `wait`.
fn received(sock: &std::os::unix::net::UnixDatagram, wait: std::time::Duration) -> Vec<String> {
    let _ = sock.set_read_timeout(Some(wait));
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = sock.recv(&mut buf) {
        got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    got
}

/// Reads the host socket on a thread, as systemd would while the runtime waits: the relay's
/// barrier (BARRIER=1 with an fd) completes only once the message is read. Stops after a
/// barrier or 10 s.
fn reading(sock: std::os::unix::net::UnixDatagram) -> std::thread::JoinHandle<Vec<String>> {
    std::thread::spawn(move || {
        let _ = sock.set_read_timeout(Some(std::time::Duration::from_secs(10)));
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = sock.recv(&mut buf) {
            got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
            if got.last().is_some_and(|m| m.starts_with("BARRIER=1")) {
                break;
            }
        }
        got
    })
}

#[test]
fn notify_socket_relays_ready_to_the_callers_socket() {
    let Some(mut t) = Test::new() else { return };
    let (sock, path) = host_notify_socket(&t);
    t.reporter_args(&["notify", "STATUS=starting\\nREADY=1"]);
    t.write_config();
    let reader = reading(sock);
    let mut cmd = t.command(&["run", "--bundle", &t.bundle_str(), &t.id]);
    cmd.env("NOTIFY_SOCKET", &path);
    let began = std::time::Instant::now();
    let out = t.exec(cmd);
    out.expect_ok();
    assert!(began.elapsed() < std::time::Duration::from_secs(4), "the barrier was not released by the read");
    let r = out.json();
    assert_eq!(r["socket"], format!("{path}/notify"), "{out}");
    assert!(r["sent"].as_u64().is_some(), "the container could not notify: {out}");
    let got = reader.join().expect("reader thread");
    assert_eq!(got.first().map(String::as_str), Some("READY=1"), "host socket got {got:?}");
    assert!(!got.iter().any(|m| m.contains("STATUS=")), "only READY=1 is relayed (as crun): {got:?}");
}

#[test]
fn start_waits_for_ready_then_returns() {
    let Some(mut t) = Test::new() else { return };
    let (sock, path) = host_notify_socket(&t);
    let script = format!("sleep 2; {} notify READY=1; sleep 600", itest::REPORTER);
    t.args(&["sh", "-c", &script]);
    t.write_config();
    let mut cmd = t.command(&["create", "--bundle", &t.bundle_str(), &t.id]);
    cmd.env("NOTIFY_SOCKET", &path);
    t.exec(cmd).expect_ok();
    let reader = reading(sock);
    let began = std::time::Instant::now();
    // crun reads NOTIFY_SOCKET at start (we keep the one given at create); give it to both.
    let mut cmd = t.command(&["start", &t.id]);
    cmd.env("NOTIFY_SOCKET", &path);
    t.exec(cmd).expect_ok();
    let took = began.elapsed();
    assert!(took >= std::time::Duration::from_millis(1500), "start returned before READY=1 ({took:?})");
    assert_eq!(t.state()["status"], "running");
    let got = reader.join().expect("reader thread");
    assert_eq!(got.first().map(String::as_str), Some("READY=1"), "host socket got {got:?}");
    t.rt(&["delete", "-f", &t.id]).expect_ok();
}

#[test]
fn start_does_not_wait_for_ready_from_a_container_that_exited() {
    // crun: start returns when the container exits without READY=1.
    let Some(mut t) = Test::new() else { return };
    let (sock, path) = host_notify_socket(&t);
    t.args(&["sh", "-c", "sleep 1; exit 4"]);
    t.write_config();
    let mut cmd = t.command(&["run", "--bundle", &t.bundle_str(), &t.id]);
    cmd.env("NOTIFY_SOCKET", &path);
    t.exec(cmd).expect_code(4);
    assert!(received(&sock, std::time::Duration::from_millis(200)).is_empty());
}

#[test]
fn notify_socket_with_a_user_namespace_it_cannot_mount_is_refused_clearly() {
    // The container's root (host uid 100000) cannot reach the 0700 state directory to mount
    // the socket: refused before clone instead of failing inside the container. crun 1.8 runs
    // this (it mounts from the host side); ocirun's mount step cannot yet.
    let Some(mut t) = Test::new() else { return };
    let (_sock, path) = host_notify_socket(&t);
    t.config["linux"]["namespaces"].as_array_mut().expect("namespaces").push(json!({"type": "user"}));
    t.config["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    t.config["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    t.reporter_args(&["exit", "0"]);
    t.write_config();
    let mut cmd = t.command(&["run", "--bundle", &t.bundle_str(), &t.id]);
    cmd.env("NOTIFY_SOCKET", &path);
    let out = t.exec(cmd);
    out.expect_failure();
    assert!(out.stderr.contains("NOTIFY_SOCKET") && !out.stderr.contains("init failed"), "{out}");
}
