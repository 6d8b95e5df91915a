//! create / start / state / kill / delete / run, and their exit codes.

use std::time::Duration;

use itest::Test;
use serde_json::Value;

const READY: Duration = Duration::from_secs(20);

/// Creates and starts a container whose init waits for a signal, and waits until it is ready
/// (a pid-namespace init ignores signals it has not asked for, so it must be listening first).
fn start_signal_waiter(t: &mut Test) -> itest::Outcome {
    t.reporter_args(&["wait-signal"]);
    let created = t.create();
    created.expect_ok();
    t.start().expect_ok();
    created.wait_stdout("ready", READY);
    created
}

#[test]
fn run_exit_code_zero() {
    let Some(mut t) = Test::new() else { return };
    t.args(&["/bin/sh", "-c", "echo ran; exit 0"]);
    let out = t.run();
    out.expect_code(0);
    assert_eq!(out.stdout, "ran\n", "the container did not run: {out}");
}

#[test]
fn run_exit_code_three() {
    let Some(mut t) = Test::new() else { return };
    t.run_reporter(&["exit", "3"]).expect_code(3);
}

#[test]
fn run_killed_by_sigkill_exits_137() {
    let Some(mut t) = Test::new() else { return };
    // The init of a pid namespace cannot SIGKILL itself, so the signal comes from outside.
    t.args(&["sleep", "600"]);
    t.write_config();
    let cmd = t.command(&["run", "--bundle", &t.bundle_str(), &t.id]);
    let io = t.dir.join("io");
    let run = std::thread::spawn(move || itest::runtime::run_with_deadline(cmd, &io, itest::fixture::TIMEOUT));
    wait_running(&t);
    t.rt(&["kill", &t.id, "KILL"]).expect_ok();
    let out = run.join().expect("run thread");
    out.expect_code(128 + 9);
}

/// Polls until `state` works and says running (the container of a foreground `run`).
fn wait_running(t: &Test) {
    let deadline = std::time::Instant::now() + READY;
    loop {
        let out = t.rt(&["state", &t.id]);
        if out.code == Some(0) && out.json()["status"] == "running" {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "container never ran: {out}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn run_child_killed_by_a_signal_exits_128_plus_signal() {
    let Some(mut t) = Test::new() else { return };
    // Outside a pid namespace the reporter is not an init and can kill itself.
    t.config["linux"]["namespaces"].as_array_mut().unwrap().retain(|n| n["type"] != "pid");
    t.run_reporter(&["kill-self", "TERM"]).expect_code(128 + 15);
}

#[test]
fn run_passes_stdout_and_stderr_through() {
    let Some(mut t) = Test::new() else { return };
    t.args(&["/bin/sh", "-c", "echo to-stdout; echo to-stderr >&2"]);
    let out = t.run();
    out.expect_ok();
    assert_eq!(out.stdout, "to-stdout\n", "{out}");
    assert!(out.stderr.contains("to-stderr"), "{out}");
}

#[test]
fn run_removes_the_container_when_it_exits() {
    let Some(mut t) = Test::new() else { return };
    t.run_reporter(&["exit", "0"]).expect_ok();
    t.rt(&["state", &t.id]).expect_failure();
    assert!(!t.root.join(&t.id).exists(), "state dir left after run");
}

#[test]
fn create_then_state_is_created_with_a_pid() {
    let Some(mut t) = Test::new() else { return };
    t.reporter_args(&["exit", "0"]);
    t.create().expect_ok();
    let st = t.state();
    assert_eq!(st["status"], "created", "{st}");
    assert_eq!(st["id"], t.id.as_str(), "{st}");
    assert_eq!(st["bundle"], t.bundle_str().as_str(), "{st}");
    assert!(st["ociVersion"].is_string(), "{st}");
    let pid = st["pid"].as_i64().unwrap_or(0);
    assert!(pid > 0, "created container has no pid: {st}");
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists(), "pid {pid} is not alive");
    // The user process must not have run yet: nothing on its stdout.
    t.rt(&["delete", &t.id]).expect_ok();
}

#[test]
fn start_makes_it_running_and_it_runs_the_process() {
    let Some(mut t) = Test::new() else { return };
    let created = start_signal_waiter(&mut t);
    let st = t.state();
    assert_eq!(st["status"], "running", "{st}");
    // The init process is the user process now: its executable is the reporter.
    let pid = st["pid"].as_i64().expect("pid");
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).expect("exe link");
    assert!(exe.ends_with("ocirun-reporter"), "pid {pid} runs {exe:?}");
    drop(created);
    t.rt(&["delete", "-f", &t.id]).expect_ok();
}

fn kill_with(sig: &str) {
    let Some(mut t) = Test::new() else { return };
    let created = start_signal_waiter(&mut t);
    t.rt(&["kill", &t.id, sig]).expect_ok();
    t.wait_status("stopped");
    let out = created.wait_stdout("signal", READY);
    assert!(out.contains(r#""signal":15"#), "container saw {out:?}");
    t.rt(&["delete", &t.id]).expect_ok();
}

#[test]
fn kill_by_name_term() {
    kill_with("TERM");
}

#[test]
fn kill_by_name_sigterm() {
    kill_with("SIGTERM");
}

#[test]
fn kill_by_number() {
    kill_with("15");
}

#[test]
fn kill_default_signal_is_sigterm() {
    let Some(mut t) = Test::new() else { return };
    let created = start_signal_waiter(&mut t);
    t.rt(&["kill", &t.id]).expect_ok();
    t.wait_status("stopped");
    let out = created.wait_stdout("signal", READY);
    assert!(out.contains(r#""signal":15"#), "container saw {out:?}");
}

#[test]
fn delete_removes_the_state() {
    let Some(mut t) = Test::new() else { return };
    t.reporter_args(&["exit", "0"]);
    t.create().expect_ok();
    t.start().expect_ok();
    t.wait_status("stopped");
    t.rt(&["delete", &t.id]).expect_ok();
    t.rt(&["state", &t.id]).expect_failure();
    assert!(!t.root.join(&t.id).exists(), "state dir left after delete");
}

#[test]
fn delete_of_a_running_container_fails_without_force() {
    let Some(mut t) = Test::new() else { return };
    t.args(&["sleep", "600"]);
    t.create().expect_ok();
    t.start().expect_ok();
    t.rt(&["delete", &t.id]).expect_failure();
    assert_eq!(t.state()["status"], "running");
}

#[test]
fn delete_force_kills_a_running_container() {
    let Some(mut t) = Test::new() else { return };
    t.args(&["sleep", "600"]);
    t.create().expect_ok();
    t.start().expect_ok();
    let pid = t.state()["pid"].as_i64().expect("pid");
    t.rt(&["delete", "-f", &t.id]).expect_ok();
    t.rt(&["state", &t.id]).expect_failure();
    let alive = std::fs::read_to_string(format!("/proc/{pid}/stat")).map(|s| !s.contains(") Z ")).unwrap_or(false);
    assert!(!alive, "container init {pid} still alive after delete -f");
}

#[test]
fn delete_force_of_a_created_container() {
    let Some(t) = Test::new() else { return };
    t.create().expect_ok();
    t.rt(&["delete", "-f", &t.id]).expect_ok();
    t.rt(&["state", &t.id]).expect_failure();
}

#[test]
fn start_twice_fails() {
    let Some(mut t) = Test::new() else { return };
    t.args(&["sleep", "600"]);
    t.create().expect_ok();
    t.start().expect_ok();
    t.start().expect_failure();
    t.rt(&["delete", "-f", &t.id]).expect_ok();
}

#[test]
fn state_of_unknown_id_fails_with_exit_1() {
    let Some(t) = Test::new() else { return };
    t.rt(&["state", &t.id]).expect_failure().expect_code(1);
}

#[test]
fn delete_of_unknown_id_fails_with_exit_1() {
    let Some(t) = Test::new() else { return };
    t.rt(&["delete", &t.id]).expect_failure().expect_code(1);
}

#[test]
fn kill_of_unknown_id_fails_with_exit_1() {
    let Some(t) = Test::new() else { return };
    t.rt(&["kill", &t.id, "KILL"]).expect_failure().expect_code(1);
}

#[test]
fn create_with_an_id_in_use_fails() {
    let Some(t) = Test::new() else { return };
    t.create().expect_ok();
    t.create().expect_failure();
    assert_eq!(t.state()["status"], "created");
}

#[test]
fn pid_file_holds_the_init_pid() {
    let Some(t) = Test::new() else { return };
    t.write_config();
    let pid_file = t.path("init.pid");
    t.rt(&["create", "--bundle", &t.bundle_str(), "--pid-file", &pid_file, &t.id]).expect_ok();
    let written = std::fs::read_to_string(&pid_file).expect("pid file written");
    let st: Value = t.state();
    assert_eq!(written.trim().parse::<i64>().ok(), st["pid"].as_i64(), "pid file {written:?} vs {st}");
}

#[test]
fn options_after_the_id_are_accepted() {
    // runc 1.1 accepts flags after the id; crun 1.8 fails this test ("`create` requires a
    // maximum of 1 arguments") because its argp parser does not permute arguments.
    let Some(t) = Test::new() else { return };
    t.write_config();
    t.rt(&["create", &t.id, "--bundle", &t.bundle_str()]).expect_ok();
    assert_eq!(t.state()["status"], "created");
}

#[test]
fn options_before_the_id_are_accepted() {
    let Some(t) = Test::new() else { return };
    t.write_config();
    t.rt(&["create", "--bundle", &t.bundle_str(), &t.id]).expect_ok();
    assert_eq!(t.state()["status"], "created");
}

#[test]
fn bundle_defaults_to_the_current_directory() {
    let Some(t) = Test::new() else { return };
    t.write_config();
    let mut cmd = t.command(&["create", &t.id]);
    cmd.current_dir(&t.bundle);
    t.exec(cmd).expect_ok();
    assert_eq!(t.state()["bundle"], t.bundle_str().as_str());
}

/// A foreground `run` forwards the signals it receives to the container (read from a
/// signalfd while it waits on the init's pidfd).
#[test]
fn run_forwards_signals_to_the_container() {
    let Some(mut t) = Test::new() else { return };
    t.reporter_args(&["wait-signal"]);
    t.write_config();
    let out_path = t.dir.join("forward.out");
    let mut cmd = t.command(&["run", "--bundle", &t.bundle_str(), &t.id]);
    cmd.stdout(std::fs::File::create(&out_path).unwrap());
    let mut run = cmd.spawn().expect("spawn run");
    let deadline = std::time::Instant::now() + READY;
    while !std::fs::read_to_string(&out_path).unwrap_or_default().contains("ready") {
        assert!(std::time::Instant::now() < deadline, "the container never got ready");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::process::Command::new("kill").args(["-USR1", &run.id().to_string()]).status().unwrap();
    let deadline = std::time::Instant::now() + READY;
    let status = loop {
        if let Some(st) = run.try_wait().unwrap() {
            break st;
        }
        if std::time::Instant::now() > deadline {
            let _ = run.kill();
            panic!("run did not exit after SIGUSR1 was forwarded");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = std::fs::read_to_string(&out_path).unwrap();
    assert_eq!(status.code(), Some(0), "{out}");
    let last: Value = serde_json::from_str(out.lines().last().unwrap_or("{}")).unwrap();
    assert_eq!(last["signal"], libc::SIGUSR1, "the container saw another signal: {out}");
}
