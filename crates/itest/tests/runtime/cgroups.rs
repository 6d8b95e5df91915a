//! The commands that act on a live container's cgroup: pause/resume, update, ps, events.
//!
//! Containers here run a shell loop that talks to the test through a directory bind-mounted
//! at `/shared`: a counter it keeps writing (to see a frozen container stand still), a `go`
//! file it waits for (to fork or allocate only after the test changed a limit), and the
//! reporter's JSON output. Limits are checked in the cgroup files the host sees for the
//! container's init (found through `/proc/PID/cgroup`, so the checks hold for any runtime).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use itest::Test;
use serde_json::{json, Value};

const DEADLINE: Duration = Duration::from_secs(20);

/// Bind-mounts a fresh `shared` directory of the test at `/shared` (read-write).
fn shared(t: &mut Test) -> PathBuf {
    let dir = t.dir.join("shared");
    std::fs::create_dir_all(&dir).expect("create shared dir");
    let src = dir.to_string_lossy().into_owned();
    t.config["mounts"].as_array_mut().expect("mounts").push(json!({
        "destination": "/shared", "type": "bind", "source": src, "options": ["bind", "rw"]
    }));
    dir
}

/// Creates and starts a container running `script` under `sh -c`; returns the init pid.
fn start_script(t: &mut Test, script: &str) -> i64 {
    t.args(&["/bin/sh", "-c", script]);
    t.create().expect_ok();
    t.start().expect_ok();
    t.state()["pid"].as_i64().expect("running container has a pid")
}

/// A loop writing an increasing counter to /shared/counter every 50 ms.
const COUNTER: &str = "i=0; while true; do i=$((i+1)); echo $i > /shared/counter; sleep 0.05; done";

fn counter(dir: &Path) -> Option<u64> {
    std::fs::read_to_string(dir.join("counter")).ok()?.trim().parse().ok()
}

/// Waits until the counter goes beyond `above`, and returns it.
#[track_caller]
fn wait_counter_above(dir: &Path, above: u64) -> u64 {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(n) = counter(dir).filter(|n| *n > above) {
            return n;
        }
        assert!(Instant::now() < deadline, "the counter never went beyond {above} (now {:?})", counter(dir));
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until `path` holds one JSON line and returns it.
#[track_caller]
fn wait_json_file(path: &Path) -> Value {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.ends_with('\n') {
            return serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{}: {e}: {text:?}", path.display()));
        }
        assert!(Instant::now() < deadline, "{} was never written", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The host directory of `pid`'s cgroup for `controller`: its v1 hierarchy when mounted,
/// else the unified one.
fn cgroup_dir(pid: i64, controller: &str) -> PathBuf {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("read /proc/PID/cgroup");
    let mut unified = None;
    for line in text.lines() {
        let mut f = line.splitn(3, ':');
        let (_, ctrls, path) = (f.next(), f.next().unwrap_or(""), f.next().unwrap_or(""));
        let rel = path.trim_start_matches('/');
        if ctrls.split(',').any(|c| c == controller) {
            let d = Path::new("/sys/fs/cgroup").join(ctrls).join(rel);
            if d.is_dir() {
                return d;
            }
            let d = Path::new("/sys/fs/cgroup").join(controller).join(rel);
            if d.is_dir() {
                return d;
            }
        }
        if ctrls.is_empty() {
            unified = ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
                .iter()
                .map(|r| Path::new(r).join(rel))
                .find(|d| d.join("cgroup.procs").exists());
        }
    }
    unified.unwrap_or_else(|| panic!("no {controller} cgroup for {pid} in {text}"))
}

/// The first of `files` that exists in `dir`, read and trimmed.
#[track_caller]
fn read_cg(dir: &Path, files: &[&str]) -> String {
    for f in files {
        if let Ok(s) = std::fs::read_to_string(dir.join(f)) {
            return s.trim().to_string();
        }
    }
    panic!("none of {files:?} in {}", dir.display())
}

fn list_status(t: &Test) -> String {
    let out = t.rt(&["list", "--format", "json"]);
    out.expect_ok();
    let all = out.json();
    let me = all.as_array().into_iter().flatten().find(|c| c["id"] == t.id.as_str());
    me.map(|c| c["status"].as_str().unwrap_or("").to_string()).unwrap_or_else(|| panic!("{} not listed: {out}", t.id))
}

#[test]
fn pause_freezes_the_container_and_resume_thaws_it() {
    let Some(mut t) = Test::new() else { return };
    let dir = shared(&mut t);
    start_script(&mut t, COUNTER);
    wait_counter_above(&dir, 1);

    t.rt(&["pause", &t.id]).expect_ok();
    assert_eq!(t.state()["status"], "paused");
    assert_eq!(list_status(&t), "paused");
    let frozen_at = wait_counter_above(&dir, 0);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(counter(&dir), Some(frozen_at), "a paused container kept running");
    t.rt(&["pause", &t.id]).expect_failure();
    t.start().expect_failure();

    t.rt(&["resume", &t.id]).expect_ok();
    assert_eq!(t.state()["status"], "running");
    assert_eq!(list_status(&t), "running");
    wait_counter_above(&dir, frozen_at);
    t.rt(&["resume", &t.id]).expect_failure();
    t.rt(&["delete", "-f", &t.id]).expect_ok();
}

#[test]
fn pause_and_resume_of_a_stopped_container_fail() {
    let Some(mut t) = Test::new() else { return };
    t.reporter_args(&["exit", "0"]);
    t.create().expect_ok();
    t.start().expect_ok();
    t.wait_status("stopped");
    t.rt(&["pause", &t.id]).expect_failure();
    t.rt(&["resume", &t.id]).expect_failure();
    assert_eq!(t.state()["status"], "stopped");
    t.rt(&["delete", &t.id]).expect_ok();
}

#[test]
fn a_paused_created_container_is_created_again_after_resume() {
    let Some(mut t) = Test::new() else { return };
    t.args(&["sleep", "600"]);
    t.create().expect_ok();
    t.rt(&["pause", &t.id]).expect_ok();
    assert_eq!(t.state()["status"], "paused");
    t.start().expect_failure();
    t.rt(&["resume", &t.id]).expect_ok();
    assert_eq!(t.state()["status"], "created");
    t.start().expect_ok();
    assert_eq!(t.state()["status"], "running");
    t.rt(&["delete", "-f", &t.id]).expect_ok();
}

#[test]
fn kill_of_a_paused_container_stops_it() {
    let Some(mut t) = Test::new() else { return };
    let dir = shared(&mut t);
    start_script(&mut t, COUNTER);
    wait_counter_above(&dir, 0);
    t.rt(&["pause", &t.id]).expect_ok();
    t.rt(&["kill", &t.id, "KILL"]).expect_ok();
    t.wait_status("stopped");
    t.rt(&["delete", &t.id]).expect_ok();
}

#[test]
fn delete_force_of_a_paused_container() {
    let Some(mut t) = Test::new() else { return };
    let dir = shared(&mut t);
    let pid = start_script(&mut t, COUNTER);
    wait_counter_above(&dir, 0);
    t.rt(&["pause", &t.id]).expect_ok();
    t.rt(&["delete", "-f", &t.id]).expect_ok();
    t.rt(&["state", &t.id]).expect_failure();
    let alive = std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "));
    assert!(!alive, "paused init {pid} survived delete -f");
}

/// Waits for /shared/go, forks 20 children with the reporter (results in /shared/fork.json).
const FORK_ON_GO: &str =
    "while [ ! -e /shared/go ]; do sleep 0.05; done; /bin/ocirun-reporter fork 20 > /shared/fork.json; sleep 600";

#[test]
fn update_memory_and_pids_of_a_running_container() {
    let Some(mut t) = Test::new() else { return };
    let dir = shared(&mut t);
    let pid = start_script(&mut t, FORK_ON_GO);

    let devices = || std::fs::read_to_string(cgroup_dir(pid, "devices").join("devices.list")).ok();
    let device_rules = devices();
    t.rt(&["update", "--memory", "64m", "--pids-limit", "5", &t.id]).expect_ok();
    assert_eq!(devices(), device_rules, "an update of memory and pids changed the device rules");
    let mem = cgroup_dir(pid, "memory");
    assert_eq!(read_cg(&mem, &["memory.limit_in_bytes", "memory.max"]), (64u64 << 20).to_string());
    assert_eq!(read_cg(&cgroup_dir(pid, "pids"), &["pids.max"]), "5");
    assert_eq!(t.state()["status"], "running");

    // The shell and the reporter are two of the five: the reporter gets three children.
    std::fs::write(dir.join("go"), "").expect("write go");
    let fork = wait_json_file(&dir.join("fork.json"));
    assert_eq!(fork["errno"], libc::EAGAIN, "fork did not hit the pids limit: {fork}");
    let forked = fork["forked"].as_u64().expect("forked");
    assert!(forked <= 3, "{forked} forks with pids.max 5: {fork}");

    // A second update keeps what the first set and the limit can be lifted again.
    t.rt(&["update", "--memory-reservation", "32m", "--pids-limit", "-1", &t.id]).expect_ok();
    assert_eq!(read_cg(&mem, &["memory.limit_in_bytes", "memory.max"]), (64u64 << 20).to_string());
    assert_eq!(read_cg(&mem, &["memory.soft_limit_in_bytes", "memory.low"]), (32u64 << 20).to_string());
    assert_eq!(read_cg(&cgroup_dir(pid, "pids"), &["pids.max"]), "max");
    t.rt(&["delete", "-f", &t.id]).expect_ok();
}

#[test]
fn update_cpu_limits() {
    let Some(mut t) = Test::new() else { return };
    let pid = start_script(&mut t, "sleep 600");
    t.rt(&["update", "--cpu-period", "100000", "--cpu-quota", "50000", "--cpu-share", "512", &t.id]).expect_ok();
    let cpu = cgroup_dir(pid, "cpu");
    if cpu.join("cpu.max").exists() && !cpu.join("cpu.cfs_quota_us").exists() {
        assert_eq!(read_cg(&cpu, &["cpu.max"]), "50000 100000");
        assert_eq!(read_cg(&cpu, &["cpu.weight"]), "20");
    } else {
        assert_eq!(read_cg(&cpu, &["cpu.cfs_period_us"]), "100000");
        assert_eq!(read_cg(&cpu, &["cpu.cfs_quota_us"]), "50000");
        assert_eq!(read_cg(&cpu, &["cpu.shares"]), "512");
    }
    t.rt(&["update", "--cpu-quota", "-1", &t.id]).expect_ok();
    assert!(["-1", "max 100000"].contains(&read_cg(&cpu, &["cpu.cfs_quota_us", "cpu.max"]).as_str()));
    t.rt(&["delete", "-f", &t.id]).expect_ok();
}

#[test]
fn update_from_a_resources_file_and_stdin() {
    let Some(mut t) = Test::new() else { return };
    let pid = start_script(&mut t, "sleep 600");
    let file = t.dir.join("resources.json");
    std::fs::write(&file, r#"{"pids": {"limit": 7}, "memory": {"limit": 33554432}}"#).unwrap();
    t.rt(&["update", "-r", &file.to_string_lossy(), &t.id]).expect_ok();
    assert_eq!(read_cg(&cgroup_dir(pid, "pids"), &["pids.max"]), "7");
    let mem = cgroup_dir(pid, "memory");
    assert_eq!(read_cg(&mem, &["memory.limit_in_bytes", "memory.max"]), "33554432");

    std::fs::write(&file, r#"{"pids": {"limit": 9}}"#).unwrap();
    let mut cmd = t.command(&["update", "--resources", "-", &t.id]);
    cmd.stdin(std::fs::File::open(&file).unwrap());
    t.exec(cmd).expect_ok();
    assert_eq!(read_cg(&cgroup_dir(pid, "pids"), &["pids.max"]), "9");
    assert_eq!(read_cg(&mem, &["memory.limit_in_bytes", "memory.max"]), "33554432");
    t.rt(&["delete", "-f", &t.id]).expect_ok();
}

#[test]
fn update_rejects_bad_values_and_unknown_containers() {
    let Some(mut t) = Test::new() else { return };
    let pid = start_script(&mut t, "sleep 600");
    let pids = cgroup_dir(pid, "pids");
    let before = read_cg(&pids, &["pids.max"]);
    t.rt(&["update", "--memory", "12x", "--pids-limit", "3", &t.id]).expect_failure();
    assert_eq!(read_cg(&pids, &["pids.max"]), before, "a rejected update changed a limit");
    let file = t.dir.join("bad.json");
    std::fs::write(&file, "{\"pids\": ").unwrap();
    t.rt(&["update", "-r", &file.to_string_lossy(), &t.id]).expect_failure();
    t.rt(&["update", "--pids-limit", "3", &t.other_id("none")]).expect_failure();
    t.rt(&["delete", "-f", &t.id]).expect_ok();
}

/// `ps --format json`: the pids of the container, and only those.
fn ps_json(t: &Test) -> Vec<i64> {
    let out = t.rt(&["ps", "--format", "json", &t.id]);
    out.expect_ok();
    out.json().as_array().unwrap_or_else(|| panic!("not an array: {out}")).iter().filter_map(Value::as_i64).collect()
}

#[test]
fn ps_json_lists_the_container_processes() {
    let Some(mut t) = Test::new() else { return };
    let pid = start_script(&mut t, "sleep 600 & sleep 600 & wait");
    let deadline = Instant::now() + DEADLINE;
    let pids = loop {
        let pids = ps_json(&t);
        if pids.len() >= 3 || Instant::now() > deadline {
            break pids;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(pids.contains(&pid), "init {pid} missing from {pids:?}");
    assert_eq!(pids.len(), 3, "expected the shell and two sleeps: {pids:?}");
    let cg = |p: i64| std::fs::read_to_string(format!("/proc/{p}/cgroup")).unwrap_or_default();
    for p in &pids {
        assert_eq!(cg(*p), cg(pid), "{p} is not in the container's cgroups");
    }
    t.rt(&["delete", "-f", &t.id]).expect_ok();
}

#[test]
fn ps_table_keeps_the_header_and_the_container_rows() {
    let Some(mut t) = Test::new() else { return };
    let pid = start_script(&mut t, "sleep 600");
    let out = t.rt(&["ps", &t.id]);
    out.expect_ok();
    let mut lines = out.stdout.lines();
    let header: Vec<&str> = lines.next().expect("header").split_whitespace().collect();
    let col = header.iter().position(|c| *c == "PID").unwrap_or_else(|| panic!("no PID column: {out}"));
    let rows: Vec<i64> = lines.filter_map(|l| l.split_whitespace().nth(col)?.parse().ok()).collect();
    assert_eq!(rows, vec![pid], "{out}");

    // ps options after the id go to ps (runc passes a `--` on to ps too, so none is used).
    let out = t.rt(&["ps", &t.id, "-o", "pid,comm"]);
    out.expect_ok();
    assert_eq!(out.stdout.lines().next().map(|h| h.split_whitespace().collect()), Some(vec!["PID", "COMMAND"]));
    assert!(out.stdout.lines().any(|l| l.trim() == format!("{pid} sleep")), "{out}");
    t.rt(&["delete", "-f", &t.id]).expect_ok();
}

#[test]
fn events_stats_reports_usage_as_json() {
    let Some(mut t) = Test::new() else { return };
    let dir = shared(&mut t);
    start_script(&mut t, COUNTER);
    wait_counter_above(&dir, 1);
    let out = t.rt(&["events", "--stats", &t.id]);
    out.expect_ok();
    let ev = out.json();
    assert_eq!(ev["type"], "stats", "{out}");
    assert_eq!(ev["id"], t.id.as_str(), "{out}");
    let data = &ev["data"];
    assert!(data["pids"]["current"].as_u64().is_some_and(|n| n >= 1), "{out}");
    assert!(data["memory"]["usage"]["usage"].as_u64().is_some_and(|n| n > 0), "{out}");
    assert!(data["cpu"]["usage"]["total"].as_u64().is_some_and(|n| n > 0), "{out}");
    t.rt(&["delete", "-f", &t.id]).expect_ok();
}

/// An `events` stream in the background, its stdout going to a file.
struct Stream {
    child: std::process::Child,
    out: PathBuf,
}

impl Stream {
    fn start(t: &Test, args: &[&str]) -> Stream {
        let out = t.dir.join(format!("events-{}.out", t.id));
        let mut cmd = t.command(args);
        cmd.stdout(std::fs::File::create(&out).expect("events output file")).stderr(Stdio::inherit());
        Stream { child: cmd.spawn().expect("spawn events"), out }
    }

    /// The events printed so far.
    fn events(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(&self.out).unwrap_or_default();
        // Only whole lines: the last one may still be being written.
        let whole = text.rfind('\n').map_or("", |end| &text[..end]);
        whole.lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).expect("JSON line")).collect()
    }

    #[track_caller]
    fn wait_for(&self, kind: &str) -> Value {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(e) = self.events().into_iter().find(|e| e["type"] == kind) {
                return e;
            }
            assert!(Instant::now() < deadline, "no {kind:?} event; got {:?}", self.events());
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn events_reports_an_oom_kill() {
    let Some(mut t) = Test::new() else { return };
    let dir = shared(&mut t);
    t.config["linux"]["resources"]["memory"] = json!({"limit": 32u64 << 20, "swap": 32u64 << 20});
    let script = "while [ ! -e /shared/go ]; do sleep 0.05; done; /bin/ocirun-reporter alloc 128; sleep 600";
    start_script(&mut t, script);
    let stream = Stream::start(&t, &["events", "--interval", "200ms", &t.id]);
    let first = stream.wait_for("stats");
    assert_eq!(first["id"], t.id.as_str());
    assert!(stream.events().iter().all(|e| e["type"] != "oom"), "oom before any allocation");
    std::fs::write(dir.join("go"), "").expect("write go");
    let oom = stream.wait_for("oom");
    assert_eq!(oom, json!({"type": "oom", "id": t.id}));
    drop(stream);
    assert_eq!(t.state()["status"], "running", "the shell was killed instead of the allocator");
    t.rt(&["delete", "-f", &t.id]).expect_ok();
}

// runc 1.1 fails this: its stream goes on (printing nothing) after the container is gone.
#[test]
fn events_ends_when_the_container_stops() {
    let Some(mut t) = Test::new() else { return };
    start_script(&mut t, "sleep 600");
    let mut stream = Stream::start(&t, &["events", "--interval", "100ms", &t.id]);
    stream.wait_for("stats");
    t.rt(&["kill", &t.id, "KILL"]).expect_ok();
    let deadline = Instant::now() + DEADLINE;
    let status = loop {
        if let Some(s) = stream.child.try_wait().expect("wait for events") {
            break s;
        }
        assert!(Instant::now() < deadline, "events kept running after the container stopped");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "events exited with {status}");
    assert!(stream.events().iter().all(|e| e["type"] == "stats" && e["id"] == t.id.as_str()));
    t.rt(&["delete", &t.id]).expect_ok();
}

#[test]
fn cgroup_commands_on_an_unknown_container_fail() {
    let Some(t) = Test::new() else { return };
    let id = t.other_id("none");
    for args in [
        vec!["pause", &id],
        vec!["resume", &id],
        vec!["ps", &id],
        vec!["ps", "--format", "json", &id],
        vec!["events", "--stats", &id],
    ] {
        t.rt(&args).expect_failure().expect_code(1);
    }
}

/// On a hybrid host, a container without a cgroup2-only limit leaves the cgroup2 root's
/// `cgroup.subtree_control` as it was: a controller enabled there can no longer be bound to
/// v1 (and crun 1.8 then refuses the host until reboot). On pure v2 the runtime enables the
/// available controllers, as crun and runc do, so the check applies to hybrid hosts only.
#[test]
fn a_container_leaves_the_hybrid_cgroup2_root_as_it_found_it() {
    let unified = Path::new("/sys/fs/cgroup/unified/cgroup.subtree_control");
    if !unified.exists() {
        return itest::skip("no hybrid cgroup2 mount at /sys/fs/cgroup/unified");
    }
    let before = std::fs::read_to_string(unified).expect("read subtree_control");
    let Some(mut t) = Test::new() else { return };
    t.config["linux"]["resources"] =
        json!({"memory": {"limit": 64 << 20}, "pids": {"limit": 50}, "cpu": {"shares": 512}});
    t.args(&["true"]);
    t.run().expect_code(0);
    let after = std::fs::read_to_string(unified).expect("read subtree_control");
    assert_eq!(before, after, "the cgroup2 root's subtree_control changed");
}

#[test]
fn realtime_runtime_is_granted_under_the_runtimes_parent_cgroup_on_v1() {
    // crun and runc put the container right under the root (950000 us of RT budget); ocirun
    // nests it under its own parent, which starts with 0 and must be given the budget.
    let Some(mut t) = Test::new() else { return };
    if !Path::new("/sys/fs/cgroup/cpu/cpu.rt_runtime_us").exists() {
        itest::skip("no cgroup v1 cpu controller with realtime group scheduling here");
        return;
    }
    t.config["linux"]["resources"] = json!({"cpu": {"realtimeRuntime": 10000, "realtimePeriod": 1_000_000}});
    t.args(&["sleep", "600"]);
    t.create().expect_ok();
    let pid = t.state()["pid"].as_i64().expect("pid");
    let dir = cgroup_dir(pid, "cpu");
    assert_eq!(read_cg(&dir, &["cpu.rt_runtime_us"]), "10000");
    assert_eq!(read_cg(&dir, &["cpu.rt_period_us"]), "1000000");
    // A second container next to it gets its own share too.
    let second = t.other_id("rt2");
    t.rt(&["create", "--bundle", &t.bundle_str(), &second]).expect_ok();
    let pid2 = t.state_of(&second)["pid"].as_i64().expect("pid");
    assert_eq!(read_cg(&cgroup_dir(pid2, "cpu"), &["cpu.rt_runtime_us"]), "10000");
    t.rt(&["delete", "-f", &second]).expect_ok();
    t.rt(&["delete", "-f", &t.id]).expect_ok();
}

/// A hook that writes `/proc/<the init's pid>/cgroup` (the pid from its state JSON) to
/// `<dir>/<name>`.
fn cgroup_hook(dir: &Path, name: &str) -> Value {
    let script =
        format!("pid=$(sed -n 's/.*\"pid\": *\\([0-9]*\\).*/\\1/p'); cat /proc/$pid/cgroup > {}/{name}", dir.display());
    json!({"path": "/bin/sh", "args": ["sh", "-c", script]})
}

/// Device plugins (nvidia-container-toolkit's prestart hook and others) find the container's
/// cgroup through `/proc/PID/cgroup` of its init: crun and runc have the init in its cgroup
/// before the first hook runs, also when a pids limit of 1 is set.
#[test]
fn prestart_and_create_runtime_hooks_see_the_init_in_its_cgroup() {
    for resources in [json!({}), json!({"pids": {"limit": 1}})] {
        let Some(mut t) = Test::new() else { return };
        let dir = t.dir.join("hooks");
        std::fs::create_dir(&dir).unwrap();
        t.config["hooks"] = json!({
            "prestart": [cgroup_hook(&dir, "prestart")],
            "createRuntime": [cgroup_hook(&dir, "createRuntime")],
        });
        t.config["linux"]["resources"] = resources.clone();
        t.reporter_args(&["exit", "0"]);
        t.create().expect_ok();
        let pid = t.state()["pid"].as_i64().expect("state has the init's pid");
        let now = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("read /proc/PID/cgroup");
        let outside = std::fs::read_to_string("/proc/self/cgroup").unwrap();
        assert_ne!(now, outside, "the created init is still in the test's own cgroup");
        for hook in ["prestart", "createRuntime"] {
            let seen = std::fs::read_to_string(dir.join(hook)).unwrap_or_else(|e| panic!("{hook} hook output: {e}"));
            assert_eq!(seen, now, "{hook} hook (resources {resources}) saw the init elsewhere than its cgroup");
        }
        t.start().expect_ok();
        t.wait_status("stopped");
    }
}

/// On pure cgroup v2 the kernel creates the init in its cgroup (clone3 with
/// CLONE_INTO_CGROUP; ocirun says so at debug level); a pids limit too tight for the runtime's
/// set-up makes the init join as its last step instead. Both end in the same cgroup.
#[test]
fn on_pure_v2_the_init_is_cloned_into_its_cgroup() {
    if itest::runtime::runtime().kind != itest::runtime::Kind::Ocirun {
        return itest::skip("checks ocirun's own debug log");
    }
    if std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .all(|l| !(l.split(' ').nth(4) == Some("/sys/fs/cgroup") && l.contains(" - cgroup2 ")))
    {
        return itest::skip("not a pure cgroup v2 host");
    }
    for (resources, cloned) in [(json!({"memory": {"limit": 64 << 20}}), true), (json!({"pids": {"limit": 1}}), false)]
    {
        let Some(mut t) = Test::new() else { return };
        t.config["linux"]["resources"] = resources.clone();
        t.reporter_args(&["exit", "0"]);
        t.write_config();
        let out = t.rt(&["--log-level", "debug", "create", "--bundle", &t.bundle_str(), &t.id]);
        out.expect_ok();
        assert_eq!(out.stderr.contains("by clone3"), cloned, "resources {resources}: {out}");
        assert!(!out.stderr.contains("refused CLONE_INTO_CGROUP"), "{out}");
        let pid = t.state()["pid"].as_i64().unwrap();
        let dir = cgroup_dir(pid, "memory");
        let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap();
        assert!(procs.lines().any(|l| l == pid.to_string()), "init {pid} not in {}: {procs}", dir.display());
        t.start().expect_ok();
        t.wait_status("stopped");
    }
}
