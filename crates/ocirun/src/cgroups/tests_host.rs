//! Tests on this host's real cgroup hierarchies (run as root). Each test makes its own cgroup
//! `/ocirun-test-<pid>-<n>` and a guard removes it, killing what is left, even when the test
//! fails. The pure-v2 paths are exercised by treating the host's `cgroup2` mount (on a hybrid
//! host, `/sys/fs/cgroup/unified`) as a v2 layout: no controllers there, but `cgroup.freeze`,
//! `cgroup.kill` and device eBPF programs work.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::{devices, CgroupPath, Layout, Manager};
use crate::spec::*;
use crate::sys::SysError;

static N: AtomicUsize = AtomicUsize::new(0);

/// The tests' `kill(2)`: the `kill` program, since only `sys` may make raw calls.
fn send(pid: i32, sig: i32) -> Result<(), SysError> {
    let ok = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if ok {
        Ok(())
    } else {
        Err(SysError::new("kill", libc::ESRCH))
    }
}

/// Whether we may create cgroups here; prints why not.
fn can_run(what: &str) -> Option<Layout> {
    let layout = match Layout::detect() {
        Ok(l) => l,
        Err(e) => {
            println!("SKIP {what}: {e}");
            return None;
        }
    };
    let probe = layout
        .unified()
        .map(Path::to_path_buf)
        .or_else(|| layout.v1_controllers().and_then(|c| c.values().next().cloned()));
    let writable = probe.is_some_and(|p| {
        let t = p.join(format!("ocirun-probe-{}", std::process::id()));
        std::fs::create_dir(&t).is_ok() && std::fs::remove_dir(&t).is_ok()
    });
    if !writable {
        println!("SKIP {what}: cannot create cgroups here (not root, or cgroupfs read-only)");
        return None;
    }
    Some(layout)
}

/// The host's cgroup2 mount as a pure v2 layout.
fn unified_as_v2(what: &str) -> Option<Layout> {
    let l = can_run(what)?;
    match l.unified() {
        Some(u) => Some(Layout::V2 { root: u.to_path_buf() }),
        None => {
            println!("SKIP {what}: no cgroup2 mount on this host");
            None
        }
    }
}

/// Removes the cgroup on drop, killing its processes first.
struct Guard(Manager, Vec<Child>);

impl Guard {
    fn new(layout: Layout) -> Guard {
        let n = N.fetch_add(1, Ordering::SeqCst);
        let name = format!("/ocirun-test-{}-{n}", std::process::id());
        let path = CgroupPath::resolve(Some(&name), "t", false).expect("path");
        Guard(Manager::create(layout, path).expect("create cgroup"), Vec::new())
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let r = self.0.destroy(send);
        // A child left frozen (a failed step above) takes SIGKILL only once thawed (v1): thaw
        // first, or the wait below never returns.
        let _ = self.0.thaw();
        for c in &mut self.1 {
            let _ = c.kill();
            let _ = c.wait();
        }
        let left: Vec<PathBuf> = self.0.dirs().into_iter().filter(|d| d.exists()).collect();
        if !std::thread::panicking() {
            r.expect("destroy");
            assert!(left.is_empty(), "left behind: {left:?}");
        }
    }
}

fn devices_for_tests() -> Vec<DeviceCgroup> {
    devices::default_allowed()
}

/// Spawn `sh -c script` waiting on a line on stdin; join it to the cgroup; release it.
fn spawn_in(g: &mut Guard, script: &str) -> usize {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("read go; {script}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sh");
    g.0.add_pid(child.id() as i32).expect("add_pid");
    child.stdin.as_mut().expect("stdin").write_all(b"go\n").expect("release child");
    g.1.push(child);
    g.1.len() - 1
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < Duration::from_secs(10), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn counter(path: &Path) -> u64 {
    std::fs::read_to_string(path).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0)
}

/// Freeze stops a counting child, thaw resumes it, SIGKILL works on the frozen cgroup.
fn freeze_thaw_kill(g: &mut Guard) {
    let file = std::env::temp_dir().join(format!(
        "ocirun-cg-counter-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let script = format!("i=0; while :; do i=$((i+1)); echo $i > {}; done", file.display());
    let idx = spawn_in(g, &script);
    let pid = g.1[idx].id() as i32;
    wait_for("counter to start", || counter(&file) > 10);
    assert!(g.0.pids().expect("pids").contains(&pid));

    g.0.freeze().expect("freeze");
    assert!(g.0.is_frozen().expect("state"));
    let a = counter(&file);
    std::thread::sleep(Duration::from_millis(300));
    let b = counter(&file);
    assert_eq!(a, b, "a frozen child must not count");

    g.0.thaw().expect("thaw");
    assert!(!g.0.is_frozen().expect("state"));
    wait_for("counter to resume", || counter(&file) > b + 10);

    g.0.freeze().expect("freeze again");
    g.0.kill_all(9, send).expect("kill frozen");
    let status = g.1[idx].wait().expect("wait");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(9), "{status:?}");
    assert!(g.0.pids().expect("pids").is_empty());
    let _ = std::fs::remove_file(&file);
}

#[test]
fn host_layout_freeze_thaw_kill_destroy() {
    let Some(layout) = can_run("host lifecycle") else {
        return;
    };
    let mut g = Guard::new(layout);
    let r = Resources {
        devices: devices_for_tests(),
        pids: Some(Pids { limit: 100 }),
        cpu: Some(Cpu { shares: Some(512), ..Default::default() }),
        memory: Some(Memory { limit: Some(256 << 20), ..Default::default() }),
        ..Default::default()
    };
    g.0.apply(&r).expect("apply");
    freeze_thaw_kill(&mut g);
    let s = g.0.stats().expect("stats");
    assert_eq!(s.pids.limit, 100);
    let json = serde_json::to_string(&s).expect("stats json");
    assert!(json.contains("\"pids\""), "{json}");
}

/// The host's v1 hierarchies alone, as on a pure v1 host (no `cgroup.kill`: signals are sent
/// one by one).
fn v1_only(what: &str) -> Option<Layout> {
    let l = can_run(what)?;
    match l.v1_controllers() {
        Some(c) => Some(Layout::V1 { controllers: c.clone() }),
        None => {
            println!("SKIP {what}: no v1 hierarchies on this host");
            None
        }
    }
}

#[test]
fn v1_only_freezer_and_signal_loop() {
    let Some(layout) = v1_only("v1 freezer and kill loop") else {
        return;
    };
    let mut g = Guard::new(layout);
    g.0.apply(&Resources { devices: devices_for_tests(), ..Default::default() }).expect("apply");
    assert!(g.0.unified_dir().is_none());
    freeze_thaw_kill(&mut g);
}

#[test]
fn unified_mount_as_v2_freeze_and_cgroup_kill() {
    let Some(layout) = unified_as_v2("cgroup.freeze/cgroup.kill") else {
        return;
    };
    let mut g = Guard::new(layout);
    g.0.apply(&Resources { devices: devices_for_tests(), ..Default::default() }).expect("apply");
    assert!(g.0.open_v2_dir().expect("open dir").is_some());
    freeze_thaw_kill(&mut g);
}

#[test]
fn memory_limit_oom_kills_a_hog() {
    let Some(layout) = can_run("memory limit") else {
        return;
    };
    let mut g = Guard::new(layout);
    let limit = 16 << 20;
    let r = Resources {
        devices: devices_for_tests(),
        memory: Some(Memory { limit: Some(limit), swap: Some(limit), ..Default::default() }),
        ..Default::default()
    };
    if let Err(e) = g.0.apply(&r) {
        println!("SKIP memory limit: {e}");
        return;
    }
    let before = g.0.oom_kill_count().expect("oom count").unwrap_or(0);
    // `tail` keeps the whole newline-free stream in memory: 64 MiB against a 16 MiB limit.
    let idx = spawn_in(&mut g, "head -c 67108864 /dev/zero | tail -n 1 >/dev/null && echo survived");
    let out = g.1[idx].wait_with_output_ref();
    assert!(!out.contains("survived"), "the hog outlived the limit: {out}");
    let after = g.0.oom_kill_count().expect("oom count").unwrap_or(0);
    assert!(after > before, "no OOM kill counted ({before} -> {after})");
    let s = g.0.stats().expect("stats");
    assert_eq!(s.memory.usage.limit, limit as u64);
    assert!(s.memory.usage.max > 0);
}

#[test]
fn pids_max_stops_a_fork_loop() {
    let Some(layout) = can_run("pids limit") else {
        return;
    };
    let mut g = Guard::new(layout);
    let r = Resources { devices: devices_for_tests(), pids: Some(Pids { limit: 4 }), ..Default::default() };
    if let Err(e) = g.0.apply(&r) {
        println!("SKIP pids limit: {e}");
        return;
    }
    let script = "for i in 1 2 3 4 5 6 7 8 9 10; do sleep 60 >/dev/null 2>&1 & done; echo started; wait";
    let idx = spawn_in(&mut g, script);
    let out = g.1[idx].stdout.take().expect("stdout");
    let mut line = String::new();
    let _ = BufReader::new(out).read_line(&mut line);
    let pids = g.0.pids().expect("pids");
    assert!(pids.len() <= 4, "{} tasks despite pids.max=4", pids.len());
    let s = g.0.stats().expect("stats");
    assert!(s.pids.current <= 4 && s.pids.limit == 4, "{:?}", s.pids);
    // the kernel counts the refused forks
    let dir = g.0.v1_dir("pids").or_else(|| g.0.unified_dir()).expect("pids dir");
    let refused = super::fs::read_keyed(&dir.join("pids.events"), "max").expect("pids.events");
    assert!(refused.is_some_and(|n| n > 0), "no fork was refused: {refused:?}");
}

#[test]
fn device_ebpf_program_on_the_unified_mount() {
    let Some(layout) = unified_as_v2("device eBPF") else {
        return;
    };
    let mut g = Guard::new(layout);
    let null_only = vec![DeviceCgroup {
        allow: true,
        typ: Some("c".into()),
        major: Some(1),
        minor: Some(3),
        access: Some("rw".into()),
    }];
    g.0.apply(&Resources { devices: null_only.clone(), ..Default::default() }).expect("attach");
    let script = "if cat /dev/null; then echo null-ok; else echo null-denied; fi; \
                  if head -c1 /dev/zero >/dev/null 2>&1; then echo zero-ok; else echo zero-denied; fi";
    let idx = spawn_in(&mut g, script);
    let out = g.1[idx].wait_with_output_ref();
    assert_eq!(out.trim(), "null-ok\nzero-denied", "{out}");

    // an update replaces the program: one attached, and /dev/zero now opens
    let mut both = null_only;
    both.push(DeviceCgroup {
        allow: true,
        typ: Some("c".into()),
        major: Some(1),
        minor: Some(5),
        access: Some("r".into()),
    });
    g.0.update(&Resources { devices: both, ..Default::default() }).expect("update");
    let dir = std::fs::File::open(g.0.unified_dir().expect("dir")).expect("open dir");
    use std::os::fd::AsFd;
    let ids = crate::sys::bpf::query_cgroup_device_progs(dir.as_fd()).expect("query");
    assert_eq!(ids.len(), 1, "old program not detached: {ids:?}");
    let idx = spawn_in(&mut g, script);
    let out = g.1[idx].wait_with_output_ref();
    assert_eq!(out.trim(), "null-ok\nzero-ok", "{out}");
}

/// Runs in a child test process (see [`join_self_places_only_the_child`]): joins the cgroup
/// with pre-opened files, then execs the command given.
#[test]
fn join_helper() {
    let Ok(state) = std::env::var("OCIRUN_TEST_JOIN") else {
        return;
    };
    let m: Manager = serde_json::from_str(&state).expect("manager state");
    let argv: Vec<String> = serde_json::from_str(&std::env::var("OCIRUN_TEST_EXEC").expect("argv")).expect("argv json");
    let files = m.procs_files().expect("open cgroup.procs");
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..]);
    if let Err(errno) = super::join_self(&files) {
        eprintln!("join_self failed: errno {errno}");
        std::process::exit(100);
    }
    use std::os::unix::process::CommandExt;
    let e = cmd.exec();
    eprintln!("exec failed: {e}");
    std::process::exit(101);
}

fn run_joined(m: &Manager, argv: &[&str]) -> std::process::Output {
    Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", "cgroups::tests_host::join_helper", "--nocapture", "--test-threads=1"])
        .env("OCIRUN_TEST_JOIN", serde_json::to_string(m).expect("json"))
        .env("OCIRUN_TEST_EXEC", serde_json::to_string(argv).expect("json"))
        .output()
        .expect("run helper")
}

#[test]
fn join_self_places_only_the_child() {
    for (what, layout) in [("host layout", can_run("join_self")), ("unified as v2", unified_as_v2("join_self v2"))] {
        let Some(layout) = layout else { continue };
        let g = Guard::new(layout);
        g.0.apply(&Resources { devices: devices_for_tests(), ..Default::default() }).expect("apply");
        let out = run_joined(&g.0, &["cat", "/proc/self/cgroup"]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{what}: {out:?}");
        let name = g.0.path().as_str();
        let lines: Vec<&str> = text.lines().filter(|l| l.contains(':')).collect();
        let in_ours = lines.iter().filter(|l| l.ends_with(name)).count();
        assert_eq!(in_ours, g.0.dirs().len(), "{what}: {text}");
        let own = std::fs::read_to_string("/proc/self/cgroup").expect("own cgroup");
        assert!(!own.contains(name), "the test process itself must stay outside");
    }
}

#[test]
fn tiny_limits_still_run_busybox_true() {
    let Some(layout) = can_run("tiny limits") else {
        return;
    };
    if !Path::new("/usr/bin/busybox").exists() {
        println!("SKIP tiny limits: no /usr/bin/busybox");
        return;
    }
    let g = Guard::new(layout);
    let r = Resources {
        devices: devices_for_tests(),
        pids: Some(Pids { limit: 1 }),
        // The helper here is the whole multi-threaded test binary joining and then exec'ing
        // busybox, which touches far more than the runtime's init does (and more as the crate
        // grows): 4 MiB keeps this a test of join_self under pids=1, not of the test harness's
        // size. The runtime's own floor (120 KiB here) is measured by bench/run, case 6.
        memory: Some(Memory { limit: Some(4 << 20), ..Default::default() }),
        ..Default::default()
    };
    g.0.apply(&r).expect("apply");
    let out = run_joined(&g.0, &["/usr/bin/busybox", "true"]);
    assert!(out.status.success(), "busybox true under pids=1, 4 MiB: {out:?}");
    // it really ran inside: its pages were charged to the container
    let peak = g.0.stats().expect("stats").memory.usage.max;
    assert!(peak > 0 && peak <= 4 << 20, "peak {peak}");
}

trait WaitOut {
    fn wait_with_output_ref(&mut self) -> String;
}

impl WaitOut for Child {
    /// Wait for the child and return its stdout and stderr (the child stays in the guard).
    fn wait_with_output_ref(&mut self) -> String {
        let mut out = String::new();
        if let Some(mut o) = self.stdout.take() {
            let _ = o.read_to_string(&mut out);
        }
        if let Some(mut e) = self.stderr.take() {
            let _ = e.read_to_string(&mut out);
        }
        let _ = self.wait();
        out
    }
}
