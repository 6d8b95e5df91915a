//! Descriptors: none of the caller's leak into the container unless it asks
//! (`--preserve-fds`, or socket activation through LISTEN_FDS).

use std::os::fd::OwnedFd;

use itest::sys::{pass_fds, pipe};
use itest::Test;
use serde_json::Value;

fn fd_numbers(report: &Value) -> Vec<u32> {
    let mut fds: Vec<u32> = report["fds"].as_object().expect("fds").keys().filter_map(|k| k.parse().ok()).collect();
    fds.sort();
    fds
}

/// Two pipes' read ends to hand to the runtime as fds 3 and 4; the write ends are kept.
fn two_pipes() -> (Vec<OwnedFd>, Vec<OwnedFd>) {
    let (r1, w1) = pipe().unwrap();
    let (r2, w2) = pipe().unwrap();
    (vec![r1, r2], vec![w1, w2])
}

#[test]
fn no_descriptors_leak_into_the_container() {
    let Some(mut t) = Test::new() else { return };
    t.reporter_args(&["report"]);
    t.write_config();
    let (give, _keep) = two_pipes();
    let mut cmd = t.command(&["run", "--bundle", &t.bundle_str(), &t.id]);
    pass_fds(&mut cmd, give);
    let out = t.exec(cmd);
    out.expect_ok();
    let r = out.json();
    assert_eq!(fd_numbers(&r), [0, 1, 2], "fds: {}", r["fds"]);
}

#[test]
fn preserve_fds_passes_exactly_n_descriptors() {
    let Some(mut t) = Test::new() else { return };
    t.reporter_args(&["report"]);
    t.write_config();
    let (give, _keep) = two_pipes();
    let mut cmd = t.command(&["run", "--preserve-fds", "1", "--bundle", &t.bundle_str(), &t.id]);
    pass_fds(&mut cmd, give);
    let out = t.exec(cmd);
    out.expect_ok();
    let r = out.json();
    assert_eq!(fd_numbers(&r), [0, 1, 2, 3], "fds: {}", r["fds"]);
    assert!(r["fds"]["3"].as_str().unwrap_or("").starts_with("pipe:"), "{}", r["fds"]);
}

#[test]
fn listen_fds_passes_socket_activation_descriptors() {
    // crun 1.8 fails this: it passes the descriptors and sets LISTEN_PID=1 but leaves
    // LISTEN_FDS out of the container's environment. runc sets both.
    let Some(mut t) = Test::new() else { return };
    t.reporter_args(&["report"]);
    t.write_config();
    let (give, _keep) = two_pipes();
    // LISTEN_PID must be the runtime's own pid, which only a wrapper that execs it knows.
    let rt = itest::runtime().path.clone();
    let mut cmd = std::process::Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(r#"LISTEN_PID=$$ LISTEN_FDS=2 exec "$@""#)
        .arg("sh")
        .arg(rt)
        .arg("--root")
        .arg(&t.root)
        .args(["run", "--bundle", &t.bundle_str(), &t.id])
        .stdin(std::process::Stdio::null());
    pass_fds(&mut cmd, give);
    let out = t.exec(cmd);
    out.expect_ok();
    let r = out.json();
    assert_eq!(fd_numbers(&r), [0, 1, 2, 3, 4], "fds: {}", r["fds"]);
    assert_eq!(r["env"]["LISTEN_FDS"], "2", "env: {}", r["env"]);
    assert_eq!(r["env"]["LISTEN_PID"], "1", "env: {}", r["env"]);
}

/// The fds from 5 to 22 this test process holds without close-on-exec: the runtime inherits
/// them (a shell above `cargo test` may leave one open) and rightly passes them on.
fn inherited_above_the_pipes() -> Vec<u32> {
    (5..23)
        .filter(|n| {
            let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{n}")).unwrap_or_default();
            let flags = info.lines().find_map(|l| l.strip_prefix("flags:")).map(str::trim);
            flags.and_then(|f| u32::from_str_radix(f, 8).ok()).is_some_and(|f| f & 0o2000000 == 0)
        })
        .collect()
}

#[test]
fn preserve_fds_beyond_the_open_ones_passes_only_the_callers() {
    // crun's preserve-fds-some: N larger than what is open. The runtime's own descriptors
    // (state lock, FIFOs, sync socket) land in the holes of 3..3+N; passing them on hung
    // `run` on the state lock the init kept.
    let Some(mut t) = Test::new() else { return };
    t.reporter_args(&["report"]);
    t.write_config();
    let (give, _keep) = two_pipes();
    let mut cmd = t.command(&["run", "--preserve-fds", "20", "--bundle", &t.bundle_str(), &t.id]);
    pass_fds(&mut cmd, give);
    let out = t.exec(cmd);
    out.expect_ok();
    let r = out.json();
    let want: Vec<u32> = [0, 1, 2, 3, 4].into_iter().chain(inherited_above_the_pipes()).collect();
    assert_eq!(fd_numbers(&r), want, "fds: {}", r["fds"]);
}

#[test]
fn exec_preserve_fds_beyond_the_open_ones_passes_only_the_callers() {
    let Some(mut t) = Test::new() else { return };
    t.args(&["sleep", "600"]);
    t.create().expect_ok();
    t.start().expect_ok();
    let (give, _keep) = two_pipes();
    let mut cmd = t.command(&["exec", "--preserve-fds", "20", &t.id, itest::REPORTER, "report"]);
    pass_fds(&mut cmd, give);
    let out = t.exec(cmd);
    out.expect_ok();
    let r = out.json();
    let want: Vec<u32> = [0, 1, 2, 3, 4].into_iter().chain(inherited_above_the_pipes()).collect();
    assert_eq!(fd_numbers(&r), want, "fds: {}", r["fds"]);
    let (give, _keep) = two_pipes();
    let mut cmd = t.command(&["exec", "-d", "--preserve-fds", "5", &t.id, "sleep", "1"]);
    pass_fds(&mut cmd, give);
    t.exec(cmd).expect_ok();
}
