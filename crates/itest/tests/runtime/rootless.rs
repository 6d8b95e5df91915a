//! Rootless: a real unprivileged user (made with `useradd` for the test and removed after it)
//! runs containers from a bundle it owns, with the config the runtime's own `spec --rootless`
//! writes. Commands run as that user through `setpriv`, with `XDG_RUNTIME_DIR` in the test's
//! directory. Checked: exit codes, the whole lifecycle, exec, uid 0 inside being the user's uid
//! outside, no privilege over host files, the clear errors, a delegated cgroup v2 subtree, and
//! multi-range maps through newuidmap with `/etc/subuid` entries the test adds and removes.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use itest::{runtime, Outcome, Test, REPORTER};
use serde_json::{json, Value};

/// useradd/userdel and edits of /etc/subuid and /etc/subgid, one at a time.
static ACCOUNTS: Mutex<()> = Mutex::new(());
static SEQ: AtomicUsize = AtomicUsize::new(0);

/// A user made for one test; removed (with its home) on drop.
struct User {
    name: String,
    uid: u32,
    gid: u32,
}

impl User {
    /// A new user without subordinate ids, or why none can be made here (the caller skips).
    fn new() -> Result<User, String> {
        if std::fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(u32::MAX) != 0 {
            return Err("not root: cannot create a test user".into());
        }
        if std::fs::read_to_string("/proc/sys/user/max_user_namespaces").is_ok_and(|s| s.trim() == "0")
            || std::fs::read_to_string("/proc/sys/kernel/unprivileged_userns_clone").is_ok_and(|s| s.trim() == "0")
        {
            return Err("unprivileged user namespaces are disabled on this host".into());
        }
        let name = format!("ocirun-rl-{}-{}", std::process::id() % 100000, SEQ.fetch_add(1, Ordering::Relaxed));
        let _g = ACCOUNTS.lock().unwrap_or_else(|e| e.into_inner());
        let st = Command::new("useradd")
            .args(["-m", "-K", "SUB_UID_COUNT=0", "-K", "SUB_GID_COUNT=0", &name])
            .status()
            .map_err(|e| format!("cannot run useradd: {e}"))?;
        if !st.success() {
            return Err(format!("useradd {name} failed: {st}"));
        }
        let id = |flag: &str| -> Option<u32> {
            let out = Command::new("id").args([flag, &name]).output().ok()?;
            String::from_utf8_lossy(&out.stdout).trim().parse().ok()
        };
        let user = User { uid: id("-u").unwrap_or(0), gid: id("-g").unwrap_or(0), name };
        assert!(user.uid != 0 && user.gid != 0, "cannot read the ids of {}", user.name);
        Ok(user)
    }
}

impl Drop for User {
    fn drop(&mut self) {
        let _g = ACCOUNTS.lock().unwrap_or_else(|e| e.into_inner());
        for file in ["/etc/subuid", "/etc/subgid"] {
            remove_subid_lines(file, &self.name);
        }
        let _ = Command::new("userdel").args(["-r", &self.name]).stderr(Stdio::null()).status();
    }
}

fn remove_subid_lines(file: &str, name: &str) {
    let Ok(text) = std::fs::read_to_string(file) else { return };
    let kept: String = text.lines().filter(|l| l.split(':').next() != Some(name)).map(|l| format!("{l}\n")).collect();
    if kept != text {
        let _ = std::fs::write(file, kept);
    }
}

/// A test whose directory (bundle, state root, XDG_RUNTIME_DIR) belongs to `user`, with a copy
/// of the runtime it can execute and the config from `spec --rootless` run as that user.
fn rootless_test(user: &User) -> Option<Test> {
    let mut t = Test::new()?;
    let bin = t.dir.join("bin");
    std::fs::create_dir(&bin).expect("mkdir bin");
    itest::fixture::copy_executable(&runtime().path, &bin.join("ocirun-under-test"));
    std::fs::create_dir(t.dir.join("xdg")).expect("mkdir xdg");
    let ok = Command::new("chown")
        .args(["-R", &format!("{}:{}", user.uid, user.gid)])
        .arg(&t.dir)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "chown -R {} failed", t.dir.display());
    let mut spec = Command::new("setpriv");
    spec.args(user_args(user)).arg(bin.join("ocirun-under-test")).args(["spec", "--rootless"]).current_dir(&t.bundle);
    spec.env("XDG_RUNTIME_DIR", t.dir.join("xdg"));
    t.exec(spec).expect_ok();
    let text = std::fs::read_to_string(t.bundle.join("config.json")).expect("spec --rootless wrote config.json");
    let mut config: Value = serde_json::from_str(&text).expect("config.json is JSON");
    config["process"]["terminal"] = json!(false);
    config["process"]["args"] = json!([REPORTER, "report"]);
    t.config = config;
    Some(t)
}

fn user_args(user: &User) -> Vec<String> {
    ["--reuid", &user.uid.to_string(), "--regid", &user.gid.to_string(), "--init-groups", "--"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// `setpriv ... runtime --root <state> ARGS` as `user`.
fn as_user_cmd(t: &Test, user: &User, args: &[&str]) -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.args(user_args(user)).arg(t.dir.join("bin/ocirun-under-test")).arg("--root").arg(&t.root).args(args);
    cmd.env("XDG_RUNTIME_DIR", t.dir.join("xdg")).env("HOME", t.dir.join("xdg")).stdin(Stdio::null());
    cmd
}

fn as_user(t: &Test, user: &User, args: &[&str]) -> Outcome {
    t.exec(as_user_cmd(t, user, args))
}

fn run_as(t: &Test, user: &User) -> Outcome {
    t.write_config();
    as_user(t, user, &["run", "--bundle", &t.bundle_str(), &t.id])
}

fn map_lines(v: &Value) -> Vec<String> {
    v.as_str().unwrap_or_default().lines().map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")).collect()
}

fn host_status_uid(pid: i64) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read the init's status");
    status.lines().find(|l| l.starts_with("Uid:")).unwrap_or_default().split_whitespace().nth(2).unwrap_or("").into()
}

macro_rules! setup {
    () => {{
        let user = match User::new() {
            Ok(u) => u,
            Err(why) => {
                itest::skip(&why);
                return;
            }
        };
        let Some(t) = rootless_test(&user) else { return };
        (user, t)
    }};
}

#[test]
fn rootless_run_maps_root_inside_to_the_user_outside() {
    let (user, mut t) = setup!();
    let out = run_as(&t, &user);
    out.expect_ok();
    let r = out.json();
    assert_eq!((r["uid"].as_u64(), r["gid"].as_u64()), (Some(0), Some(0)), "{r}");
    assert_eq!(map_lines(&r["uid_map"]), vec![format!("0 {} 1", user.uid)]);
    assert_eq!(map_lines(&r["gid_map"]), vec![format!("0 {} 1", user.gid)]);
    let host_user = std::fs::read_link("/proc/self/ns/user").expect("our user ns").display().to_string();
    assert_ne!(r["namespaces"]["user"], host_user);
    // The state went to the --root the user owns.
    assert!(!t.root.join(&t.id).exists(), "run left state behind");
    // The container's exit code is run's.
    t.reporter_args(&["exit", "3"]);
    run_as(&t, &user).expect_code(3);
}

#[test]
fn rootless_lifecycle_and_exec_without_host_privilege() {
    let (user, mut t) = setup!();
    // A host file owned by root, readable by all: root in the container may read it but not
    // write it, since host root is not mapped into its user namespace.
    let host_file = t.dir.join("host-file");
    std::fs::write(&host_file, "host").expect("write host file");
    t.config["mounts"].as_array_mut().expect("mounts").push(json!({
        "destination": "/mnt/host-file", "type": "bind", "source": host_file, "options": ["rbind", "rw"]
    }));
    t.reporter_args(&["sleep", "600"]);
    t.write_config();
    as_user(&t, &user, &["create", "--bundle", &t.bundle_str(), &t.id]).expect_ok();
    let st = as_user(&t, &user, &["state", &t.id]);
    st.expect_ok();
    let st = st.json();
    assert_eq!(st["status"], "created", "{st}");
    let pid = st["pid"].as_i64().expect("pid");
    assert_eq!(host_status_uid(pid), user.uid.to_string(), "the init's euid as the host sees it");
    as_user(&t, &user, &["start", &t.id]).expect_ok();
    assert_eq!(as_user(&t, &user, &["state", &t.id]).json()["status"], "running");
    let list = as_user(&t, &user, &["list"]);
    list.expect_ok();
    assert!(list.stdout.contains(&t.id), "{list}");

    let ex = as_user(&t, &user, &["exec", &t.id, REPORTER, "report"]);
    ex.expect_ok();
    let r = ex.json();
    assert_eq!(r["uid"].as_u64(), Some(0), "{r}");
    assert_eq!(map_lines(&r["uid_map"]), vec![format!("0 {} 1", user.uid)]);
    let w = as_user(&t, &user, &["exec", &t.id, REPORTER, "write", "/mnt/host-file", "x"]);
    assert_eq!(w.json()["errno_name"], "EACCES", "root in the container wrote a host root file: {w}");
    assert_eq!(std::fs::read_to_string(&host_file).expect("read host file"), "host");
    let cat = as_user(&t, &user, &["exec", &t.id, REPORTER, "cat", "/mnt/host-file"]);
    cat.expect_ok();
    assert_eq!(cat.stdout, "host");

    as_user(&t, &user, &["kill", &t.id, "KILL"]).expect_ok();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while as_user(&t, &user, &["state", &t.id]).json()["status"] != "stopped" {
        assert!(std::time::Instant::now() < deadline, "container did not stop after SIGKILL");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    as_user(&t, &user, &["delete", &t.id]).expect_ok();
    assert!(!t.root.join(&t.id).exists(), "delete left the state directory");
    as_user(&t, &user, &["state", &t.id]).expect_failure();
}

#[test]
fn rootless_default_root_is_under_xdg_runtime_dir() {
    let (user, t) = setup!();
    t.write_config();
    let mut cmd = Command::new("setpriv");
    cmd.args(user_args(&user)).arg(t.dir.join("bin/ocirun-under-test")).args(["create", "--bundle"]);
    cmd.arg(&t.bundle).arg(&t.id).env("XDG_RUNTIME_DIR", t.dir.join("xdg")).stdin(Stdio::null());
    // Stdout stays open in the created container: keep the harness's file capture.
    t.exec(cmd).expect_ok();
    let state_dir = t.dir.join("xdg/ocirun").join(&t.id);
    let there = state_dir.is_dir();
    let mut del = Command::new("setpriv");
    del.args(user_args(&user)).arg(t.dir.join("bin/ocirun-under-test")).args(["delete", "-f", &t.id]);
    del.env("XDG_RUNTIME_DIR", t.dir.join("xdg")).stdin(Stdio::null());
    t.exec(del).expect_ok();
    assert!(there, "no state at {}", state_dir.display());
}

#[test]
fn rootless_without_a_user_namespace_is_refused_with_a_hint() {
    let (user, mut t) = setup!();
    let linux = &mut t.config["linux"];
    linux["namespaces"].as_array_mut().expect("namespaces").retain(|n| n["type"] != "user");
    linux.as_object_mut().expect("linux").retain(|k, _| k != "uidMappings" && k != "gidMappings");
    let out = run_as(&t, &user);
    out.expect_failure();
    assert!(out.stderr.contains("user namespace") && out.stderr.contains("spec --rootless"), "{out}");
}

#[test]
fn rootless_limits_without_a_delegated_cgroup_fail_clearly() {
    // The test user runs in our (root's) cgroup, which it cannot write: no delegation.
    let (user, mut t) = setup!();
    t.config["linux"]["resources"] = json!({"pids": {"limit": 50}});
    let out = run_as(&t, &user);
    out.expect_failure();
    // "not delegated" on a v2 or hybrid host, "cannot be delegated" on a pure v1 one.
    assert!(out.stderr.contains("linux.resources") && out.stderr.contains("delegated"), "{out}");
    // Without limits the same container runs, with a warning saying why it has no cgroup.
    t.config["linux"].as_object_mut().expect("linux").remove("resources");
    t.reporter_args(&["report"]);
    let out = run_as(&t, &user);
    out.expect_ok();
    assert!(out.stderr.contains("warning") && out.stderr.contains("own cgroup"), "{out}");
}

/// The cgroup2 mount point from our mount table.
fn unified_mount() -> Option<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let mut found = None;
    for l in text.lines() {
        let (left, right) = l.split_once(" - ")?;
        if right.starts_with("cgroup2 ") {
            let mp = PathBuf::from(left.split(' ').nth(4)?);
            if mp == Path::new("/sys/fs/cgroup") || found.is_none() {
                found = Some(mp);
            }
        }
    }
    found
}

#[test]
fn rootless_uses_a_delegated_cgroup_v2_subtree() {
    let Some(unified) = unified_mount() else {
        itest::skip("no cgroup2 hierarchy: only v1, which cannot be delegated");
        return;
    };
    let (user, mut t) = setup!();
    // Delegate a cgroup to the user the way systemd does (chown the directory and its
    // procs/subtree_control/threads files), and start the runtime inside it.
    let deleg = unified.join(format!("itest-rl-deleg-{}-{}", std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed)));
    std::fs::create_dir(&deleg).expect("mkdir delegated cgroup");
    let d = deleg.clone();
    t.on_cleanup(move || {
        let _ = std::fs::remove_dir(&d);
    });
    for f in ["", "cgroup.procs", "cgroup.subtree_control", "cgroup.threads"] {
        let p = if f.is_empty() { deleg.clone() } else { deleg.join(f) };
        std::os::unix::fs::chown(&p, Some(user.uid), Some(user.gid)).expect("chown delegated cgroup");
    }
    t.config["linux"]["resources"] = json!({});
    t.write_config();
    let inner = as_user_cmd(&t, &user, &["run", "--bundle", &t.bundle_str(), &t.id]);
    let argv: Vec<String> = std::iter::once(inner.get_program())
        .chain(inner.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(r#"echo $$ > "$0/cgroup.procs" && exec "$@""#).arg(&deleg).args(&argv);
    cmd.env("XDG_RUNTIME_DIR", t.dir.join("xdg")).stdin(Stdio::null());
    let out = t.exec(cmd);
    out.expect_ok();
    assert!(!out.stderr.contains("own cgroup"), "warned although a cgroup was delegated: {out}");
    let r = out.json();
    let rel = deleg.strip_prefix(&unified).expect("under the mount").display().to_string();
    let want = format!("0::/{rel}/ocirun-{}", t.id);
    let lines: Vec<&str> = r["cgroup"].as_array().expect("cgroup").iter().filter_map(Value::as_str).collect();
    assert!(lines.contains(&want.as_str()), "want {want} in {lines:?}");
    let left: Vec<_> =
        std::fs::read_dir(&deleg).expect("read delegated cgroup").flatten().filter(|e| e.path().is_dir()).collect();
    assert!(left.is_empty(), "the container's cgroup was not removed: {left:?}");
}

fn newuidmap_present() -> bool {
    ["/usr/bin/newuidmap", "/usr/sbin/newuidmap", "/bin/newuidmap"].iter().any(|p| Path::new(p).is_file())
}

#[test]
fn rootless_multi_range_maps_go_through_newuidmap_and_subuid() {
    if !newuidmap_present() {
        itest::note("setup: installing the uidmap package (newuidmap/newgidmap)");
        let _ = Command::new("apt-get")
            .args(["install", "-y", "-q", "uidmap"])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdout(Stdio::null())
            .status();
    }
    if !newuidmap_present() {
        itest::skip("newuidmap is not installed and `apt-get install uidmap` did not install it");
        return;
    }
    let (user, mut t) = setup!();
    let start = 1_500_000_000 + 65536 * (SEQ.fetch_add(1, Ordering::Relaxed) as u64 % 1000);
    let maps =
        json!([{"containerID": 0, "hostID": user.uid, "size": 1}, {"containerID": 1, "hostID": start, "size": 65536}]);
    let gmaps =
        json!([{"containerID": 0, "hostID": user.gid, "size": 1}, {"containerID": 1, "hostID": start, "size": 65536}]);
    t.config["linux"]["uidMappings"] = maps;
    t.config["linux"]["gidMappings"] = gmaps;
    t.config["process"]["user"] = json!({"uid": 1000, "gid": 1000, "additionalGids": [1001]});

    // No subordinate ids yet: a clear error naming the file.
    let out = run_as(&t, &user);
    out.expect_failure();
    assert!(out.stderr.contains("/etc/subuid") && out.stderr.contains(&user.name), "{out}");

    {
        let _g = ACCOUNTS.lock().unwrap_or_else(|e| e.into_inner());
        for file in ["/etc/subuid", "/etc/subgid"] {
            let mut text = std::fs::read_to_string(file).unwrap_or_default();
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(&format!("{}:{start}:65536\n", user.name));
            std::fs::write(file, text).expect("add subordinate ids");
        }
    }
    let out = run_as(&t, &user);
    out.expect_ok();
    let r = out.json();
    assert_eq!(map_lines(&r["uid_map"]), vec![format!("0 {} 1", user.uid), format!("1 {start} 65536")]);
    assert_eq!(map_lines(&r["gid_map"]), vec![format!("0 {} 1", user.gid), format!("1 {start} 65536")]);
    assert_eq!((r["uid"].as_u64(), r["gid"].as_u64()), (Some(1000), Some(1000)), "{r}");
    // setgroups stays allowed when newgidmap writes the map, so additional gids work.
    assert_eq!(r["groups"], json!([1001]), "{r}");
    drop(t);
    drop(user);
}
