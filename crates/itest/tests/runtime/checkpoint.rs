//! `checkpoint` and `restore` with CRIU: a container counting in a file bind-mounted from the
//! test directory is checkpointed (it stops, and the container is gone), restored (it counts
//! on from where it stopped), then killed and deleted with nothing left behind. Also
//! `--leave-running`, `--pre-dump` with `--parent-path`, `--manage-cgroups-mode ignore`, a
//! foreground restore, `--file-locks` and `--tcp-established` (each shown to be needed), and
//! how a criu failure and a missing criu are reported.
//!
//! The tests need a working criu: they skip, saying why, where `criu check` fails (the
//! development host's kernel) or criu is not installed; the guest of `tests/vm` has one.
//!
//! A container to checkpoint is started with its stdio on /dev/null: criu cannot save a file
//! that lives on a mount outside the container (the harness's output files), as the failure
//! test shows.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use itest::Test;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(60);

/// Why criu cannot be used here, or `None` when `criu check` passes.
fn criu_unusable() -> Option<String> {
    static WHY: OnceLock<Option<String>> = OnceLock::new();
    WHY.get_or_init(|| match std::process::Command::new("criu").arg("check").stdin(Stdio::null()).output() {
        Err(e) => Some(format!("criu is not installed ({e}); apt-get install criu")),
        Ok(o) if o.status.success() => None,
        Ok(o) => {
            let text = String::from_utf8_lossy(&o.stderr).into_owned() + &String::from_utf8_lossy(&o.stdout);
            let last = text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").to_string();
            Some(format!("`criu check` fails on this kernel: {last}"))
        }
    })
    .clone()
}

/// A test whose container counts up in `share/count` (bind-mounted from the test directory)
/// every 0.2 s, or `None` (after saying why) when criu is unusable here.
fn counter_test() -> Option<(Test, PathBuf)> {
    if let Some(why) = criu_unusable() {
        itest::skip(&why);
        return None;
    }
    let mut t = Test::new()?;
    let share = t.dir.join("share");
    std::fs::create_dir(&share).expect("create share dir");
    t.config["mounts"].as_array_mut().expect("mounts").push(json!({
        "destination": "/share", "type": "bind", "source": share, "options": ["rbind", "rw"]
    }));
    t.args(&["/bin/sh", "-c", "i=0; while true; do i=$((i+1)); echo $i >> /share/count; sleep 0.2; done"]);
    Some((t, share.join("count")))
}

/// `run -d` with the container's stdio on /dev/null (see the module docs).
fn run_detached(t: &Test) {
    t.write_config();
    let mut cmd = t.command(&["run", "-d", "--bundle", &t.bundle_str(), &t.id]);
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    let status = cmd.status().expect("spawn the runtime");
    assert!(status.success(), "run -d failed: {status}");
}

/// The counter's last value. The container appends one line per step: a `>` that truncates
/// first could be frozen by the dump between the truncate and the write, leaving an empty file
/// (seen once in the v1 guest).
fn count(file: &Path) -> Option<u64> {
    std::fs::read_to_string(file).ok()?.lines().rev().find(|l| !l.trim().is_empty())?.trim().parse().ok()
}

/// Waits until the counter reads at least `n`; returns the value.
#[track_caller]
fn wait_count(file: &Path, n: u64) -> u64 {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(c) = count(file).filter(|c| *c >= n) {
            return c;
        }
        assert!(Instant::now() < deadline, "the counter never reached {n}: {:?}", count(file));
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until the counter changes from `from`; returns the new value.
#[track_caller]
fn wait_change(file: &Path, from: u64) -> u64 {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(c) = count(file).filter(|c| *c != from) {
            return c;
        }
        assert!(Instant::now() < deadline, "the counter stayed at {from} after restore");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The counter does not move for a second (well over the container's 0.2 s step).
#[track_caller]
fn assert_stopped(file: &Path) -> u64 {
    let c1 = count(file).expect("counter readable");
    std::thread::sleep(Duration::from_secs(1));
    let c2 = count(file).expect("counter readable");
    assert_eq!(c1, c2, "the counter kept counting after the checkpoint");
    c2
}

fn ids(t: &Test) -> Vec<String> {
    let out = t.rt(&["list", "-q"]);
    out.expect_ok();
    out.stdout.lines().map(str::to_string).collect()
}

/// The restored init is in the container's cgroup, in every hierarchy it has one in.
#[track_caller]
fn assert_in_container_cgroup(t: &Test, pid: i64) {
    let dirs = itest::leaks::cgroup_dirs(std::slice::from_ref(&t.id));
    assert!(!dirs.is_empty(), "the restored container has no cgroup");
    for d in &dirs {
        let procs = std::fs::read_to_string(d.join("cgroup.procs")).unwrap_or_default();
        assert!(procs.lines().any(|l| l == pid.to_string()), "the restored init {pid} is not in {}", d.display());
    }
}

/// Restores `t`'s container from `images` (detached, stdio on /dev/null).
fn restore(t: &Test, images: &str, work: &str) {
    restore_with(t, images, work, &[]);
}

fn restore_with(t: &Test, images: &str, work: &str, extra: &[&str]) {
    let mut args = vec!["restore", "-d", "--image-path", images, "--work-path", work];
    args.extend_from_slice(extra);
    let bundle = t.bundle_str();
    args.extend_from_slice(&["--bundle", &bundle, &t.id]);
    let mut cmd = t.command(&args);
    let err = t.dir.join("restore.err");
    cmd.stdout(Stdio::null()).stderr(std::fs::File::create(&err).expect("create restore.err"));
    let status = cmd.status().expect("spawn the runtime");
    let log = std::fs::read_to_string(Path::new(work).join("restore.log")).unwrap_or_default();
    let errors: Vec<&str> = log.lines().filter(|l| l.contains("Error")).collect();
    assert!(
        status.success(),
        "restore failed: {status}: {}\ncriu errors: {errors:#?}",
        std::fs::read_to_string(&err).unwrap_or_default()
    );
}

/// Kills and deletes the container; the harness then checks nothing leaked.
fn kill_and_delete(t: &Test) {
    t.rt(&["kill", &t.id, "KILL"]).expect_ok();
    t.wait_status("stopped");
    t.rt(&["delete", &t.id]).expect_ok();
    assert!(!ids(t).contains(&t.id), "the container is still listed after delete");
}

#[test]
fn checkpoint_stops_and_restore_continues_the_counter() {
    let Some((t, counter)) = counter_test() else { return };
    run_detached(&t);
    wait_count(&counter, 3);
    let (images, work) = (t.path("images"), t.path("work"));
    t.rt(&["checkpoint", "--image-path", &images, "--work-path", &work, &t.id]).expect_ok();
    assert!(Path::new(&images).join("inventory.img").is_file(), "no images in {images}");
    assert!(Path::new(&work).join("dump.log").is_file(), "no dump.log in the work path {work}");
    // As with runc: the checkpointed container is gone, and so are its processes.
    assert!(!ids(&t).contains(&t.id), "the container is still listed after checkpoint");
    t.rt(&["state", &t.id]).expect_failure();
    let left = itest::leaks::processes_under(&t.dir);
    assert!(left.is_empty(), "processes of the container survived the checkpoint: {left:?}");
    let stopped = assert_stopped(&counter);

    let pid_file = t.path("restored.pid");
    restore_with(&t, &images, &t.path("work-restore"), &["--pid-file", &pid_file]);
    let st = t.state();
    assert_eq!(st["status"], "running", "{st}");
    let pid = st["pid"].as_i64().expect("pid in state");
    assert!(Path::new(&format!("/proc/{pid}")).exists(), "the restored pid {pid} is not alive");
    let written = std::fs::read_to_string(&pid_file).expect("the --pid-file was written");
    assert_eq!(written.trim(), pid.to_string(), "--pid-file and state disagree");
    assert_in_container_cgroup(&t, pid);
    // Counting on from the checkpoint, not from 1 again.
    let next = wait_change(&counter, stopped);
    assert!(next > stopped, "the counter restarted: {next} after {stopped}");
    wait_count(&counter, next + 2);
    kill_and_delete(&t);
}

#[test]
fn leave_running_keeps_the_container_and_writes_images() {
    let Some((t, counter)) = counter_test() else { return };
    run_detached(&t);
    let before = wait_count(&counter, 2);
    let images = t.path("images");
    t.rt(&["checkpoint", "--leave-running", "--image-path", &images, &t.id]).expect_ok();
    assert!(Path::new(&images).join("inventory.img").is_file(), "no images in {images}");
    // Without --work-path the log is with the images.
    assert!(Path::new(&images).join("dump.log").is_file(), "no dump.log in {images}");
    assert_eq!(t.state()["status"], "running");
    let after = wait_change(&counter, count(&counter).unwrap_or(before));
    wait_count(&counter, after + 2);
    kill_and_delete(&t);
}

#[test]
fn pre_dump_then_checkpoint_with_parent_restores() {
    let Some((t, counter)) = counter_test() else { return };
    run_detached(&t);
    wait_count(&counter, 2);
    let (pre, images) = (t.path("pre"), t.path("images"));
    t.rt(&["checkpoint", "--pre-dump", "--image-path", &pre, &t.id]).expect_ok();
    assert!(Path::new(&pre).join("inventory.img").is_file(), "no pre-dump images in {pre}");
    assert_eq!(t.state()["status"], "running", "the container must keep running after a pre-dump");
    let moved = wait_change(&counter, count(&counter).unwrap_or(0));
    // criu takes the parent relative to the image directory.
    t.rt(&["checkpoint", "--parent-path", "../pre", "--image-path", &images, &t.id]).expect_ok();
    let parent = std::fs::read_link(Path::new(&images).join("parent")).expect("a parent link in the images");
    assert_eq!(parent, Path::new("../pre"));
    assert!(!ids(&t).contains(&t.id), "the container is still listed after checkpoint");
    let stopped = assert_stopped(&counter);
    assert!(stopped >= moved);
    restore(&t, &images, &t.path("work-restore"));
    let next = wait_change(&counter, stopped);
    assert!(next > stopped, "the counter restarted: {next} after {stopped}");
    kill_and_delete(&t);
}

/// criu cannot save the container's stdout when it is a file outside the container (the
/// harness's capture file): the checkpoint fails, the error names criu's log and quotes its
/// error, and the container keeps running.
#[test]
fn criu_failure_names_its_log_and_leaves_the_container() {
    let Some((t, counter)) = counter_test() else { return };
    t.write_config();
    t.rt(&["run", "-d", "--bundle", &t.bundle_str(), &t.id]).expect_ok();
    let before = wait_count(&counter, 2);
    let work = t.path("work");
    let out = t.rt(&["checkpoint", "--image-path", &t.path("images"), "--work-path", &work, &t.id]);
    out.expect_failure();
    if itest::runtime().kind == itest::Kind::Ocirun {
        let log = format!("{work}/dump.log");
        assert!(out.stderr.contains(&log), "the error does not name criu's log {log}: {out}");
        assert!(out.stderr.contains("Error ("), "the error does not quote criu's error lines: {out}");
    }
    assert_eq!(t.state()["status"], "running", "a failed checkpoint must leave the container running");
    wait_change(&counter, count(&counter).unwrap_or(before));
    kill_and_delete(&t);
}

/// Without criu the command fails naming criu, and the container is untouched. Runs
/// wherever containers run (no criu needed).
#[test]
fn missing_criu_is_named() {
    if itest::runtime().kind != itest::Kind::Ocirun {
        itest::skip("checks ocirun's own message");
        return;
    }
    let Some(mut t) = Test::new() else { return };
    t.args(&["sleep", "600"]);
    run_detached(&t);
    let mut cmd = t.command(&["checkpoint", "--image-path", &t.path("images"), &t.id]);
    cmd.env("PATH", t.path("no-such-dir"));
    let out = t.exec(cmd);
    out.expect_failure();
    assert!(out.stderr.contains("criu"), "the error does not name criu: {out}");
    assert_eq!(t.state()["status"], "running");
    let images = t.path("images");
    let out = t.rt(&["restore", "-d", "--image-path", &images, "--bundle", &t.bundle_str(), &t.other_id("r")]);
    out.expect_failure();
    assert!(out.stderr.contains("no checkpoint"), "restore from a directory without images: {out}");
    kill_and_delete(&t);
}

/// With `--manage-cgroups-mode ignore` criu leaves cgroups alone on both sides; the restored
/// init is still in the container's new cgroup.
#[test]
fn manage_cgroups_ignore_still_restores_into_the_container_cgroup() {
    let Some((t, counter)) = counter_test() else { return };
    run_detached(&t);
    wait_count(&counter, 2);
    let images = t.path("images");
    let out = t.rt(&["checkpoint", "--manage-cgroups-mode", "ignore", "--image-path", &images, &t.id]);
    if itest::runtime().kind == itest::Kind::Runc && out.stderr.contains("Invalid manage cgroups mode") {
        // runc 1.1 knows soft, full and strict only.
        itest::skip("this runc has no `ignore` cgroup mode");
        return;
    }
    out.expect_ok();
    let stopped = assert_stopped(&counter);
    restore_with(&t, &images, &t.path("work-restore"), &["--manage-cgroups-mode", "ignore"]);
    let pid = t.state()["pid"].as_i64().expect("pid in state");
    assert_in_container_cgroup(&t, pid);
    assert!(wait_change(&counter, stopped) > stopped);
    kill_and_delete(&t);
}

/// `restore` without `--detach` waits for the restored container, returns its exit code and
/// deletes it.
#[test]
fn foreground_restore_waits_and_deletes() {
    let Some((t, counter)) = counter_test() else { return };
    run_detached(&t);
    wait_count(&counter, 2);
    let images = t.path("images");
    t.rt(&["checkpoint", "--image-path", &images, &t.id]).expect_ok();
    let stopped = assert_stopped(&counter);
    let mut cmd = t.command(&["restore", "--image-path", &images, "--bundle", &t.bundle_str(), &t.id]);
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    let mut child = cmd.spawn().expect("spawn the runtime");
    assert!(wait_change(&counter, stopped) > stopped, "the counter restarted");
    let st = t.state();
    assert_eq!(st["status"], "running", "{st}");
    t.rt(&["kill", &t.id, "KILL"]).expect_ok();
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait for restore") {
            break s;
        }
        assert!(Instant::now() < deadline, "restore did not return after its container was killed");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(128 + 9), "restore's exit code is not the container's");
    assert!(!ids(&t).contains(&t.id), "a foreground restore must delete the container it waited for");
}

/// A container holding a file lock cannot be checkpointed without `--file-locks`; with it
/// (on both sides) the lock and the counter come back.
#[test]
fn file_locks_flag_is_needed_for_a_held_lock() {
    let Some((mut t, counter)) = counter_test() else { return };
    t.reporter_args(&["lock-count", "/share/lock", "/share/count"]);
    run_detached(&t);
    wait_count(&counter, 2);
    let images = t.path("images");
    let out = t.rt(&["checkpoint", "--image-path", &images, "--work-path", &t.path("work"), &t.id]);
    out.expect_failure();
    assert_eq!(t.state()["status"], "running", "a failed checkpoint must leave the container running");
    t.rt(&["checkpoint", "--file-locks", "--image-path", &images, "--work-path", &t.path("work2"), &t.id]).expect_ok();
    let stopped = assert_stopped(&counter);
    restore_with(&t, &images, &t.path("work-restore"), &["--file-locks"]);
    assert!(wait_change(&counter, stopped) > stopped, "the counter restarted");
    // The restored holder still has the lock: another process cannot take it.
    let out = t.rt(&["exec", &t.id, itest::REPORTER, "try-lock", "/share/lock"]);
    assert_eq!(out.code, Some(1), "the lock was not restored: {out}");
    kill_and_delete(&t);
}

/// A TCP connection established inside the container (busybox nc to a busybox nc listener on
/// loopback) needs `--tcp-established` on both sides: without it the dump fails, and so does
/// a restore of images that hold one.
#[test]
fn tcp_established_flag_is_needed_for_a_connection() {
    let Some((mut t, counter)) = counter_test() else { return };
    t.args(&[
        "/bin/sh",
        "-c",
        "(while true; do sleep 1; done) | /bin/busybox nc -l -p 5000 >/dev/null & sleep 1; \
         (while true; do sleep 1; done) | /bin/busybox nc 127.0.0.1 5000 >/dev/null & \
         sleep 1; i=0; while true; do i=$((i+1)); echo $i >> /share/count; sleep 0.2; done",
    ]);
    run_detached(&t);
    wait_count(&counter, 2);
    // The connection is there (state 01, ESTABLISHED).
    let tcp = t.rt(&["exec", &t.id, "cat", "/proc/net/tcp"]);
    tcp.expect_ok();
    let established = tcp.stdout.lines().filter(|l| l.split_whitespace().nth(3) == Some("01")).count();
    assert!(established >= 1, "no TCP connection in the container: {tcp}");
    let images = t.path("images");
    let out = t.rt(&["checkpoint", "--image-path", &images, "--work-path", &t.path("work"), &t.id]);
    out.expect_failure();
    assert_eq!(t.state()["status"], "running", "a failed checkpoint must leave the container running");
    t.rt(&["checkpoint", "--tcp-established", "--image-path", &images, "--work-path", &t.path("work2"), &t.id])
        .expect_ok();
    let stopped = assert_stopped(&counter);
    let bundle = t.bundle_str();
    let work = t.path("work-plain");
    let out = t.rt(&["restore", "-d", "--image-path", &images, "--work-path", &work, "--bundle", &bundle, &t.id]);
    out.expect_failure();
    assert!(!ids(&t).contains(&t.id), "a failed restore must not leave the container behind");
    assert_eq!(count(&counter), Some(stopped), "a failed restore ran the container");
    restore_with(&t, &images, &t.path("work-restore"), &["--tcp-established"]);
    assert!(wait_change(&counter, stopped) > stopped, "the counter restarted");
    kill_and_delete(&t);
}
