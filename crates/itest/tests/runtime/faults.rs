//! Faults: the runtime killed half-way through `create`, a container's init killed from outside,
//! a state root that is read-only or full, a corrupt state file, and a recorded pid that now
//! belongs to another process. In each case the runtime must fail cleanly (a message, no panic)
//! and `delete --force` must leave nothing behind.
//!
//! ```text
//! cargo test -p itest -- faults::                          # CI: 40 timed kills
//! OCIRUN_FAULT_N=500 cargo test -p itest -- faults::sigkill # by hand
//! ```

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use itest::host::{self, Rng};
use itest::{note, Outcome, Test};
use serde_json::{json, Value};

/// Marks the test's containers so their processes can be found (see `itest::host`), and makes
/// the init a long sleep.
fn marked_sleeper(t: &mut Test) -> String {
    let marker = t.dir.to_string_lossy().into_owned();
    t.args(&["sleep", "600"]);
    t.config["process"]["env"].as_array_mut().unwrap().push(json!(host::marker_env(&marker)));
    marker
}

/// Fails the test if anything of the test's containers is left on the host, after cleaning it
/// up. Leftover cgroups are checked last, under `cgroup_bug` when that names a reported bug.
#[track_caller]
fn assert_nothing_left(
    t: &Test,
    marker: &str,
    prefix: &str,
    mounts_before: &std::collections::BTreeSet<host::MountEntry>,
    cgroup_bug: Option<&str>,
) {
    let procs = host::wait_marked_gone(marker, Duration::from_secs(5));
    host::kill_marked(marker);
    std::thread::sleep(Duration::from_millis(100));
    let cgroups = host::runtime_cgroups(prefix);
    host::remove_cgroups(&cgroups);
    assert!(procs.is_empty(), "container processes left: {procs:#?}");
    assert_eq!(host::state_entries(&t.root), Vec::<String>::new(), "state left in the root");
    let changed = host::mount_changes(mounts_before, &t.dir);
    assert!(changed.is_empty(), "the host's mount table changed:\n{changed}");
    let check = || assert!(cgroups.is_empty(), "cgroups left: {cgroups:#?}");
    match cgroup_bug {
        Some(bug) => host::known_bug(bug, check),
        None => check(),
    }
}

#[track_caller]
fn no_crash(out: &Outcome) {
    assert!(!host::crashed(out), "the runtime crashed: {out}");
}

#[test]
fn sigkill_during_create_then_delete_force_cleans_up() {
    let Some(mut t) = Test::new() else { return };
    let n = host::env_usize("OCIRUN_FAULT_N", 40);
    let mut rng = Rng::from_env("OCIRUN_FAULT_SEED");
    let marker = marked_sleeper(&mut t);
    t.write_config();
    let prefix = format!("{}-", t.id);
    let mounts_before = host::host_mounts(&t.dir);
    let (mut interrupted, mut finished) = (0, 0);
    for i in 0..n {
        let id = t.other_id(&format!("k{i}"));
        let mut create = t.command(&["create", "--bundle", &t.bundle_str(), &id]);
        create.stdout(Stdio::null()).stderr(Stdio::null());
        let mut child = create.spawn().expect("spawn create");
        std::thread::sleep(Duration::from_micros(rng.below(50_000)));
        if child.try_wait().expect("wait").is_none() {
            interrupted += 1;
        } else {
            finished += 1;
        }
        let _ = child.kill();
        let _ = child.wait();
        let out = t.rt(&["delete", "--force", &id]);
        no_crash(&out);
        assert!(
            out.code == Some(0) || out.stderr.contains("does not exist"),
            "delete --force after a killed create (iteration {i}): {out}"
        );
        let st = t.rt(&["state", &id]);
        assert!(st.stderr.contains("does not exist"), "still known after delete --force: {st}");
    }
    note(&format!("{n} creates killed after 0-50 ms: {interrupted} while running, {finished} after they had finished"));
    // B2: a create killed between making the cgroup and recording it in state.json leaves the
    // cgroup, and `delete --force` does not know it.
    assert_nothing_left(&t, &marker, &prefix, &mounts_before, None);
}

#[test]
fn init_killed_from_outside_shows_stopped() {
    let Some(mut t) = Test::new() else { return };
    marked_sleeper(&mut t);
    for started in [false, true] {
        let id = t.other_id(if started { "running" } else { "created" });
        t.write_config();
        t.rt(&["create", "--bundle", &t.bundle_str(), &id]).expect_ok();
        if started {
            t.rt(&["start", &id]).expect_ok();
        }
        let pid = t.state_of(&id)["pid"].as_i64().expect("state has a pid") as i32;
        itest::sys::kill(pid, libc::SIGKILL).expect("kill the init");
        let deadline = Instant::now() + Duration::from_secs(10);
        while t.state_of(&id)["status"] != "stopped" {
            assert!(Instant::now() < deadline, "{id}: still {} after its init was killed", t.state_of(&id));
            std::thread::sleep(Duration::from_millis(20));
        }
        let out = t.rt(&["kill", &id, "TERM"]);
        no_crash(&out);
        out.expect_failure();
        t.rt(&["delete", &id]).expect_ok();
    }
}

/// Mounts a tmpfs with `opts` at `<test dir>/<name>`, and unmounts it when the test ends
/// (before the leak check, which would otherwise report the test's own mount).
fn tmpfs(t: &mut Test, name: &str, opts: &str) -> PathBuf {
    let m = t.dir.join(name);
    std::fs::create_dir(&m).unwrap();
    let ok = Command::new("mount").args(["-t", "tmpfs", "-o", opts, "itest", m.to_str().unwrap()]).status().unwrap();
    assert!(ok.success(), "mount tmpfs -o {opts}");
    let at = m.to_string_lossy().into_owned();
    t.on_cleanup(move || {
        let _ = itest::sys::umount_detach(&at);
    });
    m
}

fn create_in_root(t: &Test, root: &Path) -> Outcome {
    t.write_config();
    let mut cmd = itest::runtime::command(itest::runtime());
    cmd.arg("--root").arg(root).args(["create", "--bundle", &t.bundle_str(), &t.id]);
    let out = t.exec(cmd);
    no_crash(&out);
    out
}

#[test]
fn read_only_root_dir_fails_cleanly() {
    let Some(mut t) = Test::new() else { return };
    marked_sleeper(&mut t);
    let m = tmpfs(&mut t, "ro", "size=64k");
    std::fs::create_dir(m.join("state")).unwrap();
    let ok = Command::new("mount").args(["-o", "remount,ro", m.to_str().unwrap()]).status().unwrap();
    assert!(ok.success());
    let out = create_in_root(&t, &m.join("state"));
    out.expect_failure().expect_code(1);
    assert!(out.stderr.to_lowercase().contains("read-only file system"), "{out}");
    assert!(out.stderr.contains(&*m.to_string_lossy()), "the message does not name the path: {out}");
    assert_eq!(host::state_entries(&m.join("state")), Vec::<String>::new());
    assert!(host::runtime_cgroups(&t.id).is_empty(), "a cgroup was made for a container that was never recorded");
}

#[test]
fn full_root_dir_fails_cleanly() {
    let Some(mut t) = Test::new() else { return };
    let marker = marked_sleeper(&mut t);
    let m = tmpfs(&mut t, "full", "size=4k");
    // Fill the one page, so the first byte of state.json finds no room.
    let filler = std::fs::write(m.join("filler"), vec![0u8; 4096]);
    assert!(filler.is_ok(), "could not fill the tmpfs: {filler:?}");
    let root = m.join("state");
    let out = create_in_root(&t, &root);
    out.expect_failure().expect_code(1);
    assert!(out.stderr.to_lowercase().contains("no space left on device"), "{out}");
    assert_eq!(host::state_entries(&root), Vec::<String>::new(), "half-written state left behind");
    assert!(host::wait_marked_gone(&marker, Duration::from_secs(2)).is_empty());
    let cgroups = host::runtime_cgroups(&t.id);
    host::remove_cgroups(&cgroups);
    assert!(cgroups.is_empty(), "cgroups left: {cgroups:#?}");
}

fn state_file(t: &Test, id: &str) -> PathBuf {
    t.root.join(id).join("state.json")
}

/// Contents a state.json can be found with after a crash, a full disk or a hand edit.
fn corruptions(good: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let mut wrong_type: Value = serde_json::from_slice(good).unwrap();
    wrong_type["pid"] = json!("not a number");
    let mut no_config: Value = serde_json::from_slice(good).unwrap();
    no_config.as_object_mut().unwrap().remove("config");
    vec![
        ("truncated", good[..good.len() / 2].to_vec()),
        ("empty", Vec::new()),
        ("invalid UTF-8", b"{\"id\": \"\xff\xfe\"}".to_vec()),
        ("wrong type", serde_json::to_vec(&wrong_type).unwrap()),
        ("missing field", serde_json::to_vec(&no_config).unwrap()),
        ("not an object", b"[1, 2, 3]".to_vec()),
        ("NUL bytes", vec![0u8; 512]),
    ]
}

#[test]
fn corrupt_state_file_gives_a_clear_error() {
    let Some(mut t) = Test::new() else { return };
    marked_sleeper(&mut t);
    t.write_config();
    let id = t.id.clone();
    t.rt(&["create", "--bundle", &t.bundle_str(), &id]).expect_ok();
    let good = std::fs::read(state_file(&t, &id)).unwrap();
    for (what, bytes) in corruptions(&good) {
        std::fs::write(state_file(&t, &id), &bytes).unwrap();
        for args in [vec!["state", &id], vec!["kill", &id, "KILL"], vec!["delete", &id]] {
            let out = t.rt(&args);
            no_crash(&out);
            out.expect_failure().expect_code(1);
            assert!(out.stderr.contains("corrupt") && out.stderr.contains("state.json"), "{what}: {out}");
        }
        let list = t.rt(&["list"]);
        no_crash(&list);
    }
    std::fs::write(state_file(&t, &id), &good).unwrap();
    t.rt(&["delete", "--force", &id]).expect_ok();
}

#[test]
fn delete_force_of_a_live_container_with_a_corrupt_state_removes_everything() {
    // The state is gone but the container is not: its init still runs in its cgroup. Deleting
    // it must not just drop the directory and leave the init and cgroup running unowned.
    let Some(mut t) = Test::new() else { return };
    let marker = marked_sleeper(&mut t);
    let mounts_before = host::host_mounts(&t.dir);
    t.write_config();
    let id = t.id.clone();
    t.rt(&["create", "--bundle", &t.bundle_str(), &id]).expect_ok();
    t.rt(&["start", &id]).expect_ok();
    let good = std::fs::read(state_file(&t, &id)).unwrap();
    std::fs::write(state_file(&t, &id), &good[..good.len() / 2]).unwrap();
    let out = t.rt(&["delete", "--force", &id]);
    no_crash(&out);
    out.expect_ok();
    // B3: delete --force only removes the directory; the init and its cgroup stay.
    assert_nothing_left(&t, &marker, &id, &mounts_before, None);
    host::kill_marked(&marker);
    std::thread::sleep(Duration::from_millis(200));
    host::remove_cgroups(&host::runtime_cgroups(&id));
}

#[test]
fn commands_during_create_never_call_the_container_corrupt() {
    // B1: `Store::create` makes the container's directory before it takes the lock and writes
    // state.json, so a command in between finds a directory without a state file and calls it
    // corrupt (and `delete --force` would remove a container being made).
    let Some(mut t) = Test::new() else { return };
    let marker = marked_sleeper(&mut t);
    t.write_config();
    let n = host::env_usize("OCIRUN_FAULT_N", 40) * 4;
    {
        for i in 0..n {
            let id = t.other_id(&format!("r{i}"));
            let mut create = t.command(&["create", "--bundle", &t.bundle_str(), &id]);
            create.stdout(Stdio::null()).stderr(Stdio::null());
            let mut child = create.spawn().expect("spawn create");
            let st = t.rt(&["state", &id]);
            let _ = child.wait();
            let _ = t.rt(&["delete", "--force", &id]);
            no_crash(&st);
            assert!(!st.stderr.contains("corrupt"), "iteration {i}: state during create: {st}");
        }
    }
    assert!(host::wait_marked_gone(&marker, Duration::from_secs(5)).is_empty());
}

#[test]
fn kill_does_not_signal_a_process_that_reused_the_pid() {
    let Some(mut t) = Test::new() else { return };
    marked_sleeper(&mut t);
    t.write_config();
    let id = t.id.clone();
    t.rt(&["create", "--bundle", &t.bundle_str(), &id]).expect_ok();
    t.rt(&["start", &id]).expect_ok();
    t.rt(&["kill", &id, "KILL"]).expect_ok();
    t.wait_status("stopped");
    // A process of ours now holds a pid the state claims, with another start time: what a
    // reused pid looks like.
    let mut victim = Command::new("sleep").arg("600").spawn().unwrap();
    let vpid = victim.id() as i32;
    let mut st: Value = serde_json::from_slice(&std::fs::read(state_file(&t, &id)).unwrap()).unwrap();
    let real_start = st["pid_start"].as_u64().unwrap_or(0);
    st["pid"] = json!(vpid);
    st["pid_start"] = json!(real_start.wrapping_add(12345));
    st["status"] = json!("running");
    std::fs::write(state_file(&t, &id), serde_json::to_vec(&st).unwrap()).unwrap();
    let shown = t.state();
    assert_eq!(shown["status"], "stopped", "a stranger's pid made the container look alive: {shown}");
    for args in [vec!["kill", &id, "KILL"], vec!["kill", "--all", &id, "KILL"], vec!["delete", "--force", &id]] {
        let out = t.rt(&args);
        no_crash(&out);
        std::thread::sleep(Duration::from_millis(50));
        let alive = victim.try_wait().unwrap().is_none();
        if !alive {
            let _ = victim.wait();
        }
        assert!(alive, "`{}` signalled pid {vpid}, which is not the container's init: {out}", args.join(" "));
    }
    victim.kill().unwrap();
    victim.wait().unwrap();
}
