//! `--systemd-cgroup` and `linux.intelRdt`: clear refusals where the host lacks them, and the
//! systemd driver against a real systemd.
//!
//! The host runs no systemd, so the real test starts one: `/lib/systemd/systemd --system` as
//! PID 1 of new pid and mount namespaces (a private `/run`, an empty target as its only goal),
//! in a cgroup of its own in every hierarchy. The runtime is run inside those namespaces
//! (`nsenter`) and talks to that systemd over `/run/systemd/private`; the test checks the
//! scope systemd made, the limits in its cgroup files, and that delete stops it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use itest::{runtime, skip, Kind, Test};
use serde_json::json;

const SYSTEMD: &str = "/lib/systemd/systemd";

#[test]
fn systemd_cgroup_without_systemd_fails_clearly_and_leaves_nothing() {
    if Path::new("/run/systemd/private").exists() || Path::new("/run/dbus/system_bus_socket").exists() {
        return skip("systemd or a system bus runs on this host");
    }
    let Some(mut t) = Test::new() else { return };
    t.args(&["true"]);
    t.write_config();
    let out = t.rt(&["--systemd-cgroup", "create", "--bundle", &t.bundle_str(), &t.id]);
    out.expect_failure().expect_code(1);
    if runtime().kind == Kind::Ocirun {
        let want = "systemd is not running (no /run/systemd/private): drop --systemd-cgroup or start systemd";
        assert!(out.stderr.contains(want), "unclear error: {out}");
    }
    t.rt(&["state", &t.id]).expect_failure();
}

#[test]
fn intel_rdt_without_resctrl_fails_clearly_and_leaves_nothing() {
    if Path::new("/sys/fs/resctrl/schemata").exists() {
        return skip("resctrl is mounted on this host");
    }
    let Some(mut t) = Test::new() else { return };
    t.args(&["true"]);
    t.config["linux"]["intelRdt"] = json!({"closID": "itest", "l3CacheSchema": "L3:0=f"});
    let out = t.create();
    out.expect_failure().expect_code(1);
    if runtime().kind == Kind::Ocirun {
        let want = "resctrl is not mounted at /sys/fs/resctrl: the host has no Intel RDT or it is not mounted";
        assert!(out.stderr.contains(want), "unclear error: {out}");
    }
    t.rt(&["state", &t.id]).expect_failure();
    assert!(!Path::new("/sys/fs/resctrl/itest").exists());
}

/// A systemd running as PID 1 of its own pid and mount namespaces.
struct Systemd {
    child: Child,
    /// systemd's pid as the host sees it.
    pid: u32,
    /// Its cgroup, the same relative path in every hierarchy.
    cgroup: String,
}

impl Systemd {
    fn start(dir: &Path) -> Result<Systemd, String> {
        if !Path::new(SYSTEMD).is_file() {
            return Err(format!("no {SYSTEMD} (apt-get install systemd)"));
        }
        let units = dir.join("units");
        std::fs::create_dir_all(&units).map_err(|e| e.to_string())?;
        std::fs::write(units.join("ocirun-itest.target"), "[Unit]\nDescription=ocirun itest\n")
            .map_err(|e| e.to_string())?;
        let cgroup = format!("ocirun-itest-systemd-{}", std::process::id());
        for h in hierarchies() {
            let _ = std::fs::create_dir(h.join(&cgroup));
        }
        // systemd remounts /sys/fs/cgroup read-only and adds entries to it at start-up: give it a
        // tmpfs of its own there (with the host's hierarchies mounted in it again), or it would
        // change the host's superblock.
        let mut cgmounts = String::from("mount -t tmpfs -o mode=755 tmpfs /sys/fs/cgroup && ");
        for line in std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default().lines() {
            let Some((left, right)) = line.split_once(" - ") else { continue };
            let mut r = right.split(' ');
            let (Some(fstype), Some(_), Some(opts)) = (r.next(), r.next(), r.next()) else { continue };
            let Some(mp) = left.split(' ').nth(4) else { continue };
            let Some(name) = mp.strip_prefix("/sys/fs/cgroup/") else { continue };
            if (fstype != "cgroup" && fstype != "cgroup2") || name.contains('/') {
                continue;
            }
            let opts: Vec<&str> = opts.split(',').filter(|o| *o != "rw" && *o != "ro").collect();
            let o = if opts.is_empty() { String::new() } else { format!("-o {}", opts.join(",")) };
            cgmounts.push_str(&format!(
                "mkdir -p /sys/fs/cgroup/{name} && mount -t {fstype} {o} {fstype} /sys/fs/cgroup/{name} && "
            ));
        }
        let script = format!(
            "for f in /sys/fs/cgroup/*/{cg}/cgroup.procs; do echo $$ > $f 2>/dev/null; done; \
             exec unshare --fork --pid --mount --mount-proc --propagation private sh -c '\
             {cgmounts} mount -t tmpfs tmpfs /run && mkdir -p /run/systemd && \
             exec env SYSTEMD_UNIT_PATH={units}: container=ocirun-itest {SYSTEMD} --system \
             --unit=ocirun-itest.target --log-target=null'",
            cg = cgroup,
            units = units.display()
        );
        let child = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("spawn unshare: {e}"))?;
        let mut sd = Systemd { pid: 0, child, cgroup };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let kids =
                std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", sd.child.id())).unwrap_or_default();
            if let Some(pid) = kids.split_whitespace().next().and_then(|p| p.parse().ok()) {
                sd.pid = pid;
                if Path::new(&format!("/proc/{pid}/root/run/systemd/private")).exists() {
                    return Ok(sd);
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err("systemd did not open /run/systemd/private within 20 s".into())
    }

    /// A command run inside systemd's pid and mount namespaces.
    fn inside(&self, program: &Path) -> Command {
        let mut c = Command::new("nsenter");
        c.args(["-t", &self.pid.to_string(), "-p", "-m", "--"]).arg(program);
        c
    }

    fn systemctl_show(&self, unit: &str, props: &str) -> String {
        let out =
            self.inside(Path::new("/bin/systemctl")).args(["show", unit, "-p", props]).output().expect("run systemctl");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Systemd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        if self.pid != 0 {
            let _ = Command::new("kill").args(["-9", &self.pid.to_string()]).status();
        }
        let _ = self.child.wait();
        for h in hierarchies() {
            remove_cgroup_tree(&h.join(&self.cgroup));
        }
    }
}

fn hierarchies() -> Vec<PathBuf> {
    std::fs::read_dir("/sys/fs/cgroup")
        .map(|rd| rd.flatten().map(|e| e.path()).filter(|p| p.join("cgroup.procs").exists()).collect())
        .unwrap_or_default()
}

fn remove_cgroup_tree(dir: &Path) {
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.path().is_dir() {
                remove_cgroup_tree(&e.path());
            }
        }
    }
    for _ in 0..100 {
        match std::fs::remove_dir(dir) {
            // The last task leaves a moment after it was killed.
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => std::thread::sleep(Duration::from_millis(20)),
            _ => return,
        }
    }
}

#[test]
fn a_real_systemd_owns_the_scope_and_delete_stops_it() {
    if runtime().kind != Kind::Ocirun {
        return skip("talks to systemd's private socket, which only ocirun's driver uses");
    }
    if Path::new("/run/systemd/private").exists() {
        // The test's own systemd would be checked for through the host's /run until it mounts
        // its private one, and the layout checks below are for a hybrid host.
        return skip("a systemd already runs on this host; this test starts its own on hosts without one");
    }
    let Some(mut t) = Test::new() else { return };
    let sd = match Systemd::start(&t.dir) {
        Ok(sd) => sd,
        Err(why) => return skip(&format!("cannot start a systemd to test against: {why}")),
    };
    let unit = format!("ocirun-itest-{}.scope", t.id);
    t.args(&["sleep", "60"]);
    t.config["linux"]["cgroupsPath"] = json!(format!("system.slice:ocirun-itest:{}", t.id));
    t.config["linux"]["resources"] = json!({
        "memory": {"limit": 64 << 20},
        "pids": {"limit": 40},
        "cpu": {"shares": 512, "quota": 50000, "period": 100000},
        "devices": [{"allow": false, "access": "rwm"}]
    });
    t.write_config();
    let rt = runtime().path.clone();
    let root = t.root.to_string_lossy().into_owned();
    let run = |args: &[&str]| {
        let mut c = sd.inside(&rt);
        c.args(["--root", &root, "--systemd-cgroup"]).args(args);
        t.exec(c)
    };
    run(&["create", "--bundle", &t.bundle_str(), &t.id]).expect_ok();

    let show = sd.systemctl_show(
        &unit,
        "ActiveState,Delegate,MemoryLimit,TasksMax,CPUShares,DevicePolicy,MemoryAccounting,CPUAccounting,TasksAccounting",
    );
    // Accounting on: without it systemd trims the v1 directories of controllers the scope does
    // not account, racing our write of the init's pid there (it failed on a fresh machine).
    for want in [
        "ActiveState=active",
        "Delegate=yes",
        "MemoryLimit=67108864",
        "TasksMax=40",
        "CPUShares=512",
        "MemoryAccounting=yes",
        "CPUAccounting=yes",
        "TasksAccounting=yes",
    ] {
        assert!(show.contains(want), "systemd's view of {unit} lacks {want}:\n{show}");
    }
    assert!(show.contains("DevicePolicy=strict"), "{show}");
    let scope = format!("{}/system.slice/{unit}", sd.cgroup);
    let mem = Path::new("/sys/fs/cgroup/memory").join(&scope);
    let procs = std::fs::read_to_string(mem.join("cgroup.procs")).expect("the scope's memory cgroup");
    let pid = procs.split_whitespace().next().expect("the init is in the scope").to_string();
    assert_eq!(std::fs::read_to_string(mem.join("memory.limit_in_bytes")).expect("limit").trim(), "67108864");
    // freezer is not a systemd controller: the fs manager made the directory and added the init.
    let freezer = Path::new("/sys/fs/cgroup/freezer").join(&scope);
    if freezer.parent().is_some_and(|p| p.exists()) {
        let f = std::fs::read_to_string(freezer.join("cgroup.procs")).expect("freezer dir of the scope");
        assert!(f.split_whitespace().any(|p| p == pid), "init {pid} not in {}: {f}", freezer.display());
    }

    // Every hierarchy systemd mounts holds the init in the scope, blkio included.
    for h in hierarchies().into_iter().filter(|h| !h.ends_with("unified") && !h.ends_with("systemd")) {
        let f = std::fs::read_to_string(h.join(&scope).join("cgroup.procs"))
            .unwrap_or_else(|e| panic!("{}: {e}", h.join(&scope).display()));
        assert!(f.split_whitespace().any(|p| p == pid), "init {pid} not in {}: {f}", h.join(&scope).display());
    }

    run(&["start", &t.id]).expect_ok();
    run(&["delete", "--force", &t.id]).expect_ok();
    let show = sd.systemctl_show(&unit, "ActiveState,LoadState");
    assert!(show.contains("ActiveState=inactive") && show.contains("LoadState=not-found"), "{unit} left:\n{show}");
    for h in hierarchies() {
        assert!(!h.join(&scope).exists(), "{} left behind", h.join(&scope).display());
    }
    drop(sd);
}

/// Where the systemd running this host put `unit` (in `slice`), in the hierarchy holding
/// `controller`: the unified tree on a pure v2 host, the controller's own on v1.
fn host_unit_dir(slice: &str, unit: &str, controller: &str) -> PathBuf {
    let root = Path::new("/sys/fs/cgroup");
    let base = if root.join("cgroup.controllers").exists() { root.to_path_buf() } else { root.join(controller) };
    base.join(slice).join(unit)
}

fn host_systemctl_show(unit: &str, props: &str) -> String {
    let out = Command::new("systemctl").args(["show", unit, "-p", props]).output().expect("run systemctl");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The driver against the systemd that is this host's PID 1 (the tests/vm guests): the scope
/// it starts, the limits in the cgroup files, `update` read back, and delete stopping it.
#[test]
fn the_hosts_systemd_owns_the_scope_and_delete_stops_it() {
    if runtime().kind != Kind::Ocirun {
        return skip("talks to systemd's private socket, which only ocirun's driver uses");
    }
    let pid1 = std::fs::read_link("/proc/1/exe").unwrap_or_default();
    if !Path::new("/run/systemd/private").exists() || !pid1.to_string_lossy().contains("systemd") {
        return skip("systemd is not this host's PID 1 (tests/vm boots a guest where it is)");
    }
    let Some(mut t) = Test::new() else { return };
    let unit = format!("ocirun-itest-{}.scope", t.id);
    t.args(&["sleep", "60"]);
    t.config["linux"]["cgroupsPath"] = json!(format!("system.slice:ocirun-itest:{}", t.id));
    t.config["linux"]["resources"] = json!({
        "memory": {"limit": 64 << 20},
        "pids": {"limit": 40},
        "devices": [{"allow": false, "access": "rwm"}]
    });
    t.write_config();
    t.rt(&["--systemd-cgroup", "create", "--bundle", &t.bundle_str(), &t.id]).expect_ok();
    let show = host_systemctl_show(&unit, "ActiveState,Delegate,TasksMax,ControlGroup");
    for want in ["ActiveState=active", "Delegate=yes", "TasksMax=40"] {
        assert!(show.contains(want), "systemd's view of {unit} lacks {want}:\n{show}");
    }
    let v2 = Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let mem_file = if v2 { "memory.max" } else { "memory.limit_in_bytes" };
    let mem = host_unit_dir("system.slice", &unit, "memory");
    let pids = host_unit_dir("system.slice", &unit, "pids");
    let read = |p: PathBuf| std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    assert_eq!(read(mem.join(mem_file)).trim(), "67108864");
    assert_eq!(read(pids.join("pids.max")).trim(), "40");
    let init = read(mem.join("cgroup.procs"));
    assert!(!init.trim().is_empty(), "the init is not in {}", mem.display());

    t.rt(&["--systemd-cgroup", "start", &t.id]).expect_ok();
    t.rt(&["--systemd-cgroup", "update", "--memory", "96m", "--pids-limit", "30", &t.id]).expect_ok();
    assert_eq!(read(mem.join(mem_file)).trim(), (96u64 << 20).to_string());
    assert_eq!(read(pids.join("pids.max")).trim(), "30");
    // systemd was told too (SetUnitProperties), so a daemon reload keeps the new limits.
    let mem_prop = if v2 { "MemoryMax" } else { "MemoryLimit" };
    let show = host_systemctl_show(&unit, &format!("TasksMax,{mem_prop}"));
    for want in ["TasksMax=30".to_string(), format!("{mem_prop}={}", 96u64 << 20)] {
        assert!(show.contains(&want), "systemd's view of {unit} after update lacks {want}:\n{show}");
    }
    let reload = Command::new("systemctl").arg("daemon-reload").status().expect("systemctl daemon-reload");
    assert!(reload.success());
    assert_eq!(read(pids.join("pids.max")).trim(), "30", "a reload restored the old limit");

    t.rt(&["--systemd-cgroup", "delete", "--force", &t.id]).expect_ok();
    let show = host_systemctl_show(&unit, "ActiveState,LoadState");
    assert!(show.contains("ActiveState=inactive") && show.contains("LoadState=not-found"), "{unit} left:\n{show}");
    assert!(!mem.exists() && !pids.exists(), "{} left behind", mem.display());
}
