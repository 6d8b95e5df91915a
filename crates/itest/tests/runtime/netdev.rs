//! `linux.netDevices`: a host interface moves into the container's network namespace (renamed,
//! up, with its MTU and its addresses), comes back under its own name when the container is
//! deleted, and a config that cannot be honoured fails at create with nothing moved.

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use itest::{skip, Test};
use serde_json::{json, Value};

/// A virtual interface on the host (one end of a veth pair: this kernel may lack the dummy
/// driver, and a veth dies with a namespace just like a dummy), deleted when dropped.
struct Dummy {
    name: String,
}

static SEQ: AtomicUsize = AtomicUsize::new(0);

fn ip(args: &[&str]) -> std::process::Output {
    Command::new("ip").args(args).output().expect("run ip (iproute2)")
}

impl Dummy {
    /// `ip link add NAME type veth` with `addrs`, MTU 1400, or `None` (printing why) when the
    /// host cannot make one.
    fn new(addrs: &[&str]) -> Option<Dummy> {
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let name = format!("oci{}d{n}", std::process::id() % 100_000);
        let peer = format!("{name}p");
        let out = ip(&["link", "add", &name, "mtu", "1400", "type", "veth", "peer", "name", &peer]);
        if !out.status.success() {
            skip(&format!("cannot create a veth interface: {}", String::from_utf8_lossy(&out.stderr)));
            return None;
        }
        let d = Dummy { name };
        for a in addrs {
            let out = ip(&["addr", "add", a, "dev", &d.name]);
            assert!(out.status.success(), "ip addr add {a}: {}", String::from_utf8_lossy(&out.stderr));
        }
        Some(d)
    }

    /// `ip -j addr show dev NAME` on the host, or `None` when the host has no such interface.
    fn on_host(&self) -> Option<Value> {
        let out = ip(&["-j", "addr", "show", "dev", &self.name]);
        if !out.status.success() {
            return None;
        }
        serde_json::from_slice::<Value>(&out.stdout).ok().and_then(|v| v.get(0).cloned())
    }

    fn host_addresses(&self) -> Vec<String> {
        let Some(v) = self.on_host() else { return Vec::new() };
        let mut out: Vec<String> = v["addr_info"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|a| a["scope"] == "global")
            .map(|a| format!("{}/{}", a["local"].as_str().unwrap_or(""), a["prefixlen"]))
            .collect();
        out.sort();
        out
    }
}

impl Drop for Dummy {
    fn drop(&mut self) {
        // Deleting either end deletes the pair; the peer never moves.
        let _ = ip(&["link", "del", &format!("{}p", self.name)]);
    }
}

fn netdevs(t: &Test, devices: Value) -> Value {
    let mut t2 = t.config.clone();
    t2["linux"]["netDevices"] = devices;
    t2
}

#[test]
fn a_device_moves_in_renamed_with_its_addresses_and_comes_back_on_delete() {
    let Some(mut t) = Test::new() else { return };
    let Some(d) = Dummy::new(&["10.231.7.2/24", "fd00:7::2/64"]) else { return };
    let before = d.host_addresses();
    assert_eq!(before, ["10.231.7.2/24", "fd00:7::2/64"]);
    t.config = netdevs(&t, json!({ d.name.clone(): {"name": "inner0"} }));
    t.reporter_args(&["netdevs"]);

    // Created: the device is in the container, not on the host.
    t.create().expect_ok();
    assert!(d.on_host().is_none(), "{} still on the host after create", d.name);
    t.start().expect_ok();
    t.wait_status("stopped");
    t.rt(&["delete", &t.id]).expect_ok();
    assert_eq!(d.host_addresses(), before, "{} not back on the host with its addresses", d.name);

    // What the container saw (run: create, start, wait, delete).
    let out = t.run();
    out.expect_ok();
    let seen = out.json();
    let inner = &seen["inner0"];
    assert!(seen.get(&d.name).is_none(), "host name visible inside: {seen}");
    assert_eq!(inner["up"], true, "{seen}");
    assert_eq!(inner["mtu"], 1400, "{seen}");
    let addrs: Vec<&str> = inner["addresses"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(addrs.contains(&"10.231.7.2/24"), "{seen}");
    assert!(addrs.contains(&"fd00:7::2/64"), "{seen}");
    assert_eq!(d.host_addresses(), before, "{} not back after run", d.name);
    assert_eq!(d.on_host().unwrap()["mtu"], 1400);
}

#[test]
fn a_device_keeps_its_name_without_one_and_survives_delete_force() {
    let Some(mut t) = Test::new() else { return };
    let Some(d) = Dummy::new(&["10.231.8.2/24"]) else { return };
    t.config = netdevs(&t, json!({ d.name.clone(): {} }));
    t.args(&["sleep", "600"]);
    t.create().expect_ok();
    t.start().expect_ok();
    let pid = t.state()["pid"].as_i64().unwrap();
    let inside = Command::new("nsenter")
        .args(["-t", &pid.to_string(), "-n", "ip", "-j", "addr", "show", "dev", &d.name])
        .output()
        .expect("nsenter");
    assert!(inside.status.success(), "{} not in the container: {}", d.name, String::from_utf8_lossy(&inside.stderr));
    t.rt(&["delete", "-f", &t.id]).expect_ok();
    assert_eq!(d.host_addresses(), ["10.231.8.2/24"]);
}

#[test]
fn a_missing_device_fails_create_and_moves_nothing() {
    let Some(mut t) = Test::new() else { return };
    let Some(d) = Dummy::new(&["10.231.9.2/24"]) else { return };
    let missing = format!("oci{}none", std::process::id() % 100_000);
    t.config = netdevs(&t, json!({ d.name.clone(): {}, missing.clone(): {} }));
    let out = t.create();
    out.expect_failure();
    assert!(out.stderr.contains(&missing), "error does not name {missing}: {out}");
    assert!(t.rt(&["state", &t.id]).code != Some(0), "state left behind: {out}");
    assert_eq!(d.host_addresses(), ["10.231.9.2/24"], "the present device was disturbed");
}

#[test]
fn a_name_taken_in_the_container_fails_create_and_moves_nothing() {
    let Some(mut t) = Test::new() else { return };
    let Some(d) = Dummy::new(&["10.231.10.2/24"]) else { return };
    t.config = netdevs(&t, json!({ d.name.clone(): {"name": "lo"} }));
    let out = t.create();
    out.expect_failure();
    assert!(out.stderr.contains("already has an interface named `lo`"), "{out}");
    assert_eq!(d.host_addresses(), ["10.231.10.2/24"]);
}

#[test]
fn net_devices_need_a_network_namespace_and_valid_names() {
    let Some(mut t) = Test::new() else { return };
    let Some(d) = Dummy::new(&[]) else { return };
    t.config = netdevs(&t, json!({ d.name.clone(): {"name": "a/b"} }));
    let out = t.create();
    out.expect_failure();
    assert!(out.stderr.contains("not a valid interface name"), "{out}");
    t.config = netdevs(&t, json!({ d.name.clone(): {} }));
    let ns: Vec<Value> = t.config["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["type"] != "network")
        .cloned()
        .collect();
    t.config["linux"]["namespaces"] = json!(ns);
    let out = t.create();
    out.expect_failure();
    assert!(out.stderr.contains("network namespace"), "{out}");
    assert!(d.on_host().is_some());
}

#[test]
fn features_say_net_devices_are_enabled() {
    let Some(t) = Test::new() else { return };
    let out = t.rt(&["features"]);
    out.expect_ok();
    assert_eq!(out.json()["linux"]["netDevices"]["enabled"], true, "{out}");
}
