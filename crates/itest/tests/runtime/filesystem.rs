//! The container's file system: read-only root, masked and read-only paths, /dev, mounts.

use itest::Test;
use serde_json::{json, Value};

fn push_mount(t: &mut Test, m: Value) {
    t.config["mounts"].as_array_mut().expect("mounts").push(m);
}

fn mountinfo_line(report: &Value, target: &str) -> String {
    let lines = report["mountinfo"].as_array().expect("mountinfo");
    lines
        .iter()
        .filter_map(Value::as_str)
        .rfind(|l| l.split(' ').nth(4) == Some(target))
        .unwrap_or_else(|| panic!("{target} is not mounted: {lines:#?}"))
        .to_string()
}

#[test]
fn readonly_root_refuses_writes() {
    let Some(mut t) = Test::new() else { return };
    t.config["root"]["readonly"] = json!(true);
    let out = t.run_reporter(&["open-write", "/newfile"]);
    assert_eq!(out.json()["errno_name"], "EROFS", "{out}");
    assert!(!t.rootfs.join("newfile").exists());
}

#[test]
fn writable_root_accepts_writes() {
    let Some(mut t) = Test::new() else { return };
    t.config["root"]["readonly"] = json!(false);
    let out = t.run_reporter(&["write", "/newfile", "hello"]);
    assert_eq!(out.json()["ok"], true, "{out}");
    assert_eq!(std::fs::read_to_string(t.rootfs.join("newfile")).unwrap(), "hello");
}

#[test]
fn masked_paths_hide_files_and_dirs() {
    let Some(mut t) = Test::new() else { return };
    // Which /proc files exist depends on the kernel's config (this one has no /proc/kcore).
    let Some(file) =
        ["/proc/kcore", "/proc/timer_list", "/proc/keys"].into_iter().find(|p| std::path::Path::new(p).exists())
    else {
        itest::skip("none of the usual masked /proc files exists on this kernel");
        return;
    };
    t.config["linux"]["maskedPaths"] = json!([file, "/sys/firmware"]);
    t.reporter_args(&["stat", file]);
    let st = t.run().json();
    assert_eq!(st["type"], "char", "{file} should be /dev/null: {st}");
    assert_eq!(st["rdev"], json!([1, 3]));
    let out = t.run_reporter(&["cat", file]);
    assert_eq!(out.stdout, "", "{out}");
    let out = t.run_reporter(&["ls", "/sys/firmware"]);
    assert_eq!(out.json(), json!([]), "{out}");
}

#[test]
fn readonly_paths_refuse_writes() {
    let Some(mut t) = Test::new() else { return };
    t.config["linux"]["readonlyPaths"] = json!(["/proc/sys"]);
    let out = t.run_reporter(&["open-write", "/proc/sys/kernel/domainname"]);
    assert_eq!(out.json()["errno_name"], "EROFS", "{out}");
}

#[test]
fn dev_has_the_standard_devices() {
    let Some(mut t) = Test::new() else { return };
    let devices = [
        ("null", [1, 3]),
        ("zero", [1, 5]),
        ("full", [1, 7]),
        ("random", [1, 8]),
        ("urandom", [1, 9]),
        ("tty", [5, 0]),
    ];
    for (name, rdev) in devices {
        let st = t.run_reporter(&["stat", &format!("/dev/{name}")]).json();
        assert_eq!(st["type"], "char", "/dev/{name}: {st}");
        assert_eq!(st["rdev"], json!(rdev), "/dev/{name}: {st}");
        assert_eq!(st["mode"], 0o666, "/dev/{name}: {st}");
    }
}

#[test]
fn dev_has_pts_ptmx_shm_and_fd_links() {
    let Some(mut t) = Test::new() else { return };
    let st = t.run_reporter(&["stat", "/dev/pts"]).json();
    assert_eq!(st["type"], "dir", "{st}");
    let st = t.run_reporter(&["stat", "/dev/ptmx"]).json();
    assert_eq!(st["type"], "symlink", "{st}");
    assert_eq!(st["target"], "pts/ptmx", "{st}");
    let st = t.run_reporter(&["stat", "/dev/shm"]).json();
    assert_eq!(st["type"], "dir", "{st}");
    let links = [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ];
    for (name, target) in links {
        let st = t.run_reporter(&["stat", &format!("/dev/{name}")]).json();
        assert_eq!(st["target"], target, "/dev/{name}: {st}");
    }
}

#[test]
fn dev_devices_work() {
    let Some(mut t) = Test::new() else { return };
    t.args(&[
        "/bin/sh",
        "-c",
        "head -c 16 /dev/urandom | wc -c; head -c 4 /dev/zero | wc -c; echo x > /dev/null && echo null-ok",
    ]);
    let out = t.run();
    out.expect_ok();
    assert_eq!(out.stdout.split_whitespace().collect::<Vec<_>>(), ["16", "4", "null-ok"], "{out}");
}

#[test]
fn tmpfs_mount_with_size_and_mode() {
    // runc 1.1 fails this: when the destination already exists it chmods the fresh tmpfs to
    // the directory's old mode (0755 here), overriding mode=. crun honours mode=, as should we.
    let Some(mut t) = Test::new() else { return };
    std::fs::create_dir(t.rootfs.join("data")).unwrap();
    push_mount(
        &mut t,
        json!({"destination": "/data", "type": "tmpfs", "source": "tmpfs", "options": ["size=2m", "mode=1770", "nosuid"]}),
    );
    let r = t.report();
    let line = mountinfo_line(&r, "/data");
    assert!(line.contains(" - tmpfs ") && line.contains("size=2048k") && line.contains("mode=1770"), "{line}");
    assert!(line.split(' ').nth(5).unwrap_or("").contains("nosuid"), "{line}");
    let st = t.run_reporter(&["stat", "/data"]).json();
    assert_eq!(st["mode"], 0o1770, "{st}");
}

#[test]
fn bind_mount_read_only() {
    let Some(mut t) = Test::new() else { return };
    let shared = t.dir.join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::write(shared.join("hello"), "from-host").unwrap();
    push_mount(&mut t, json!({"destination": "/shared", "type": "bind", "source": shared, "options": ["rbind", "ro"]}));
    let out = t.run_reporter(&["cat", "/shared/hello"]);
    assert_eq!(out.stdout, "from-host", "{out}");
    let out = t.run_reporter(&["open-write", "/shared/new"]);
    assert_eq!(out.json()["errno_name"], "EROFS", "{out}");
    assert!(!shared.join("new").exists());
}

#[test]
fn bind_mount_read_write() {
    let Some(mut t) = Test::new() else { return };
    let shared = t.dir.join("shared");
    std::fs::create_dir(&shared).unwrap();
    push_mount(&mut t, json!({"destination": "/shared", "type": "bind", "source": shared, "options": ["bind", "rw"]}));
    let out = t.run_reporter(&["write", "/shared/new", "from-container"]);
    assert_eq!(out.json()["ok"], true, "{out}");
    assert_eq!(std::fs::read_to_string(shared.join("new")).unwrap(), "from-container");
}

#[test]
fn bind_mount_of_a_file() {
    let Some(mut t) = Test::new() else { return };
    let file = t.dir.join("hosts");
    std::fs::write(&file, "127.0.0.1 itest\n").unwrap();
    push_mount(&mut t, json!({"destination": "/etc/hosts", "type": "bind", "source": file, "options": ["bind", "ro"]}));
    let out = t.run_reporter(&["cat", "/etc/hosts"]);
    assert_eq!(out.stdout, "127.0.0.1 itest\n", "{out}");
}

#[test]
fn proc_and_sys_are_mounted() {
    let Some(mut t) = Test::new() else { return };
    let r = t.report();
    assert!(mountinfo_line(&r, "/proc").contains(" - proc "));
    let sys = mountinfo_line(&r, "/sys");
    assert!(sys.contains(" - sysfs "), "{sys}");
    assert!(sys.split(' ').nth(5).unwrap_or("").starts_with("ro"), "/sys should be read-only: {sys}");
}

#[test]
fn mounts_do_not_propagate_to_the_host() {
    let Some(mut t) = Test::new() else { return };
    let before = std::fs::read_to_string("/proc/self/mountinfo").unwrap().lines().count();
    t.args(&["sleep", "600"]);
    t.create().expect_ok();
    assert_eq!(t.state()["status"], "created");
    let during: Vec<String> = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.contains("/proc ") && l.contains(&t.rootfs.to_string_lossy().into_owned()))
        .map(String::from)
        .collect();
    assert!(during.is_empty(), "container mounts visible on the host: {during:?}");
    t.rt(&["delete", "-f", &t.id]).expect_ok();
    let after = std::fs::read_to_string("/proc/self/mountinfo").unwrap().lines().count();
    // Other tests mount concurrently, so only a gross leak is meaningful here; the per-test
    // leak check in the fixture is the precise one.
    assert!(after <= before + 20, "mount table grew from {before} to {after}");
}

#[test]
fn readonly_paths_are_only_made_read_only() {
    let Some(mut t) = Test::new() else { return };
    t.config["root"]["readonly"] = json!(false);
    // The reporter itself lives in /bin: it must still run from a read-only /bin.
    t.config["linux"]["readonlyPaths"] = json!(["/bin"]);
    let r = t.report();
    let line = mountinfo_line(&r, "/bin");
    let opts: Vec<&str> = line.split(' ').nth(5).unwrap_or_default().split(',').collect();
    assert!(opts.contains(&"ro"), "/bin is not read-only: {line}");
    for extra in ["nosuid", "nodev", "noexec"] {
        assert!(!opts.contains(&extra), "readonlyPaths added {extra}: {line}");
    }
    let out = t.run_reporter(&["open-write", "/bin/new"]);
    assert_eq!(out.json()["errno_name"], "EROFS", "{out}");
}

#[test]
fn readonly_paths_root_makes_the_root_read_only() {
    let Some(mut t) = Test::new() else { return };
    t.config["root"]["readonly"] = json!(false);
    t.config["linux"]["readonlyPaths"] = json!(["/"]);
    let out = t.run_reporter(&["open-write", "/newfile"]);
    assert_eq!(out.json()["errno_name"], "EROFS", "{out}");
    assert!(!t.rootfs.join("newfile").exists());
}

#[test]
fn missing_cwd_is_made_before_the_root_turns_read_only() {
    let Some(mut t) = Test::new() else { return };
    t.config["root"]["readonly"] = json!(true);
    t.config["process"]["cwd"] = json!("/made/for/cwd");
    let r = t.report();
    assert_eq!(r["cwd"], "/made/for/cwd");
    assert!(t.rootfs.join("made/for/cwd").is_dir(), "the cwd was not made in the rootfs");
    let out = t.run_reporter(&["open-write", "/made/for/cwd/f"]);
    assert_eq!(out.json()["errno_name"], "EROFS", "the root is writable: {out}");
}
