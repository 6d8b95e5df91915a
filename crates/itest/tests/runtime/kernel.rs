//! Per-container kernel state: time namespace offsets and namespaced sysctls.

use itest::Test;
use serde_json::json;

fn host_uptime_secs() -> f64 {
    let s = std::fs::read_to_string("/proc/uptime").unwrap();
    s.split_whitespace().next().unwrap().parse().unwrap()
}

#[test]
fn time_offsets_shift_monotonic_and_boottime_clocks() {
    let Some(mut t) = Test::new() else { return };
    if !std::path::Path::new("/proc/self/ns/time").exists() {
        itest::skip("no time namespaces on this kernel");
        return;
    }
    const MONO: i64 = 365 * 86_400;
    const BOOT: i64 = 7 * 86_400;
    t.config["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "time"}));
    t.config["linux"]["timeOffsets"] =
        json!({"monotonic": {"secs": MONO, "nanosecs": 0}, "boottime": {"secs": BOOT, "nanosecs": 500}});
    let r = t.report();
    let offsets: Vec<Vec<String>> = r["timens_offsets"]
        .as_str()
        .unwrap_or_default()
        .lines()
        .map(|l| l.split_whitespace().map(String::from).collect())
        .collect();
    let want = |clock: &str, secs: i64, ns: u32| vec![clock.to_string(), secs.to_string(), ns.to_string()];
    assert!(offsets.contains(&want("monotonic", MONO, 0)), "{offsets:?}");
    assert!(offsets.contains(&want("boottime", BOOT, 500)), "{offsets:?}");
    let host = host_uptime_secs();
    let boot = r["clocks"]["boottime"].as_i64().expect("boottime clock") - BOOT;
    let mono = r["clocks"]["monotonic"].as_i64().expect("monotonic clock") - MONO;
    assert!((boot as f64 - host).abs() < 60.0, "boottime without offset {boot}, host uptime {host}");
    assert!(mono >= 0 && mono as f64 <= host + 60.0, "monotonic without offset {mono}, host uptime {host}");
    // Without a time namespace the clocks are the host's.
    let Some(mut t2) = Test::new() else { return };
    let r = t2.report();
    assert!(r["clocks"]["boottime"].as_i64().unwrap() < BOOT, "{}", r["clocks"]);
}

#[test]
fn time_offsets_without_a_time_namespace_are_refused() {
    let Some(mut t) = Test::new() else { return };
    t.config["linux"]["timeOffsets"] = json!({"monotonic": {"secs": 10}});
    let out = t.create();
    out.expect_failure();
    assert!(out.stderr.contains("timeOffsets") || out.stderr.contains("time"), "{out}");
}

#[test]
fn net_and_ipc_sysctls_apply_inside_only() {
    let Some(mut t) = Test::new() else { return };
    let host_fwd = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
    let host_shm = std::fs::read_to_string("/proc/sys/kernel/shmmax").unwrap();
    let want_fwd = if host_fwd.trim() == "1" { "0" } else { "1" };
    t.config["linux"]["sysctl"] = json!({
        "net.ipv4.ip_forward": want_fwd,
        "net.ipv4.conf.lo.accept_local": "1",
        "kernel.shmmax": "12345678",
        "kernel.msgmax": "4321",
    });
    t.reporter_args(&[
        "report",
        "net.ipv4.ip_forward",
        "net.ipv4.conf.lo.accept_local",
        "kernel.shmmax",
        "kernel.msgmax",
    ]);
    let out = t.run();
    out.expect_ok();
    let s = &out.json()["sysctls"];
    assert_eq!(s["net.ipv4.ip_forward"], want_fwd, "{s}");
    assert_eq!(s["net.ipv4.conf.lo.accept_local"], "1", "{s}");
    assert_eq!(s["kernel.shmmax"], "12345678", "{s}");
    assert_eq!(s["kernel.msgmax"], "4321", "{s}");
    assert_eq!(std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap(), host_fwd);
    assert_eq!(std::fs::read_to_string("/proc/sys/kernel/shmmax").unwrap(), host_shm);
}

#[test]
fn sysctls_that_would_change_the_host_are_refused() {
    let Some(mut t) = Test::new() else { return };
    for (key, why) in [
        ("kernel.panic", "not namespaced"),
        ("vm.swappiness", "not namespaced"),
        ("kernel/../../etc", "not a valid sysctl"),
    ] {
        t.config["linux"]["sysctl"] = json!({ key: "1" });
        let out = t.create();
        out.expect_failure();
        assert!(out.stderr.contains(key) && out.stderr.contains(why), "{key}: {out}");
    }
    // A net sysctl needs the container's own network namespace.
    let ns: Vec<serde_json::Value> = t.config["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["type"] != "network")
        .cloned()
        .collect();
    t.config["linux"]["namespaces"] = json!(ns);
    t.config["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
    let out = t.create();
    out.expect_failure();
    assert!(out.stderr.contains("network namespace"), "{out}");
    assert!(t.rt(&["state", &t.id]).code != Some(0));
}
