//! Namespaces: new ones differ from the host's, absent ones equal it, joined ones equal the
//! namespace file they were joined by.

use std::os::unix::fs::MetadataExt;
use std::process::Command;

use itest::Test;
use serde_json::{json, Value};

const KINDS: &[(&str, &str)] = &[
    ("pid", "pid"),
    ("network", "net"),
    ("ipc", "ipc"),
    ("uts", "uts"),
    ("mount", "mnt"),
    ("cgroup", "cgroup"),
    ("user", "user"),
];

fn host_ns(short: &str) -> String {
    std::fs::read_link(format!("/proc/self/ns/{short}")).unwrap().display().to_string()
}

fn set_namespaces(t: &mut Test, list: Value) {
    t.config["linux"]["namespaces"] = list;
}

#[test]
fn configured_namespaces_are_new_and_others_shared() {
    let Some(mut t) = Test::new() else { return };
    set_namespaces(
        &mut t,
        json!([{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}]),
    );
    let r = t.report();
    for (kind, short) in KINDS {
        let inside = r["namespaces"][short].as_str().unwrap_or_default().to_string();
        let new = !matches!(*kind, "cgroup" | "user");
        assert_eq!(inside != host_ns(short), new, "{kind}: inside {inside}, host {}", host_ns(short));
    }
}

#[test]
fn cgroup_namespace_hides_the_host_path() {
    let Some(mut t) = Test::new() else { return };
    t.config["linux"]["namespaces"].as_array_mut().unwrap().retain(|n| n["type"] != "cgroup");
    t.config["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "cgroup"}));
    let r = t.report();
    assert_ne!(r["namespaces"]["cgroup"], host_ns("cgroup"));
    let lines: Vec<&str> = r["cgroup"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(lines.iter().all(|l| l.ends_with(":/")), "cgroup paths not rooted: {lines:?}");
}

#[test]
fn without_a_network_namespace_the_host_network_is_shared() {
    let Some(mut t) = Test::new() else { return };
    set_namespaces(&mut t, json!([{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}]));
    assert_eq!(t.report()["namespaces"]["net"], host_ns("net"));
}

#[test]
fn network_namespace_joined_by_path() {
    let Some(mut t) = Test::new() else { return };
    let name = format!("itest-{}", t.id);
    let ok = Command::new("ip").args(["netns", "add", &name]).status().is_ok_and(|s| s.success());
    if !ok {
        itest::skip("`ip netns add` failed; cannot make a named network namespace");
        return;
    }
    let cleanup_name = name.clone();
    t.on_cleanup(move || {
        let _ = Command::new("ip").args(["netns", "delete", &cleanup_name]).status();
    });
    let path = format!("/run/netns/{name}");
    let ino = std::fs::metadata(&path).unwrap().ino();
    let nss = t.config["linux"]["namespaces"].as_array_mut().unwrap();
    nss.retain(|n| n["type"] != "network");
    nss.push(json!({"type": "network", "path": path}));
    assert_eq!(t.report()["namespaces"]["net"], format!("net:[{ino}]"));
}

#[test]
fn uts_namespace_joined_from_a_running_container() {
    let Some(mut t) = Test::new() else { return };
    t.config["hostname"] = json!("first");
    t.args(&["sleep", "600"]);
    t.create().expect_ok();
    let pid = t.state()["pid"].as_i64().unwrap();
    let second = t.other_id("b");
    let mut cfg = t.config.clone();
    cfg.as_object_mut().unwrap().remove("hostname");
    let nss = cfg["linux"]["namespaces"].as_array_mut().unwrap();
    nss.retain(|n| n["type"] != "uts");
    nss.push(json!({"type": "uts", "path": format!("/proc/{pid}/ns/uts")}));
    cfg["process"]["args"] = json!([itest::fixture::REPORTER, "report"]);
    let saved = std::mem::replace(&mut t.config, cfg);
    t.write_config();
    let out = t.rt(&["run", "--bundle", &t.bundle_str(), &second]);
    t.config = saved;
    out.expect_ok();
    assert_eq!(out.json()["hostname"], "first");
    t.rt(&["delete", "-f", &t.id]).expect_ok();
}

#[test]
fn user_namespace_with_id_mappings() {
    let Some(mut t) = Test::new() else { return };
    t.config["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "user"}));
    t.config["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    t.config["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    // sysfs cannot be mounted in a user namespace that does not own the network namespace's
    // sysfs; the network namespace is new here, so it can.
    let r = t.report();
    assert_ne!(r["namespaces"]["user"], host_ns("user"));
    let map: Vec<&str> = r["uid_map"].as_str().unwrap().split_whitespace().collect();
    assert_eq!(map, ["0", "100000", "65536"]);
    let map: Vec<&str> = r["gid_map"].as_str().unwrap().split_whitespace().collect();
    assert_eq!(map, ["0", "100000", "65536"]);
    assert_eq!(r["uid"], 0);
}

fn without_mount_namespace(t: &mut Test) {
    t.config["linux"]["namespaces"].as_array_mut().unwrap().retain(|n| n["type"] != "mount");
}

#[test]
fn without_a_mount_namespace_the_container_is_chrooted() {
    let Some(mut t) = Test::new() else { return };
    without_mount_namespace(&mut t);
    t.config["root"]["readonly"] = json!(false);
    // Without a mount namespace every mount lands on the host, as with crun: keep only /proc
    // and take it away when the test ends.
    t.config["mounts"] = json!([{"destination": "/proc", "type": "proc", "source": "proc"}]);
    t.config["linux"]["maskedPaths"] = json!([]);
    t.config["linux"]["readonlyPaths"] = json!(["/proc/sys"]);
    let rootfs = t.rootfs.clone();
    t.on_cleanup(move || {
        // Each run stacked its own /proc: detach until nothing is left.
        for _ in 0..10 {
            if itest::cleanup::mounts_under(&rootfs).is_empty() {
                break;
            }
            itest::cleanup::unmount_all_under(&rootfs);
        }
    });
    let r = t.report();
    assert_eq!(r["namespaces"]["mnt"], host_ns("mnt"));
    // The reporter ran from the rootfs, and sees it as its root.
    assert_eq!(r["cwd"], "/");
    let st = t.run_reporter(&["stat", "/bin/busybox"]);
    assert_eq!(st.json()["type"], "file", "{st}");
    let out = t.run_reporter(&["open-write", "/proc/sys/kernel/domainname"]);
    assert_eq!(out.json()["errno_name"], "EROFS", "{out}");
}

#[test]
fn without_a_mount_namespace_a_read_only_root_is_refused() {
    let Some(mut t) = Test::new() else { return };
    without_mount_namespace(&mut t);
    t.config["root"]["readonly"] = json!(true);
    t.config["mounts"] = json!([]);
    let out = t.run();
    out.expect_failure();
    assert!(out.stderr.contains("root.readonly") && out.stderr.contains("mount namespace"), "{out}");
}

#[test]
fn cgroup_namespace_joined_from_a_running_container() {
    let Some(mut t) = Test::new() else { return };
    t.config["linux"]["namespaces"].as_array_mut().unwrap().retain(|n| n["type"] != "cgroup");
    t.config["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "cgroup"}));
    t.args(&["sleep", "600"]);
    t.create().expect_ok();
    let pid = t.state()["pid"].as_i64().unwrap();
    let first = std::fs::read_link(format!("/proc/{pid}/ns/cgroup")).unwrap().display().to_string();
    let second = t.other_id("b");
    let mut cfg = t.config.clone();
    let nss = cfg["linux"]["namespaces"].as_array_mut().unwrap();
    nss.retain(|n| n["type"] != "cgroup");
    nss.push(json!({"type": "cgroup", "path": format!("/proc/{pid}/ns/cgroup")}));
    cfg["process"]["args"] = json!([itest::fixture::REPORTER, "report"]);
    let saved = std::mem::replace(&mut t.config, cfg);
    t.write_config();
    let out = t.rt(&["run", "--bundle", &t.bundle_str(), &second]);
    t.config = saved;
    out.expect_ok();
    assert_eq!(out.json()["namespaces"]["cgroup"], first);
    t.rt(&["delete", "-f", &t.id]).expect_ok();
}

#[test]
fn user_namespace_without_mappings_maps_root_to_the_caller() {
    let Some(mut t) = Test::new() else { return };
    t.config["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "user"}));
    // As with crun: no mappings map the container's 0 to the caller's own uid and gid.
    let r = t.report();
    assert_ne!(r["namespaces"]["user"], host_ns("user"));
    let own_uid = std::fs::metadata("/proc/self").unwrap().uid().to_string();
    let own_gid = std::fs::metadata("/proc/self").unwrap().gid().to_string();
    let map: Vec<&str> = r["uid_map"].as_str().unwrap().split_whitespace().collect();
    assert_eq!(map, ["0", own_uid.as_str(), "1"]);
    let map: Vec<&str> = r["gid_map"].as_str().unwrap().split_whitespace().collect();
    assert_eq!(map, ["0", own_gid.as_str(), "1"]);
    assert_eq!((r["uid"].as_i64(), r["gid"].as_i64()), (Some(0), Some(0)));
}
