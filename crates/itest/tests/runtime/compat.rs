//! What engines send that a runtime must accept: found by running Docker, podman and
//! containerd against ocirun (tests/engines).

use itest::Test;
use serde_json::json;

#[test]
fn docker_zero_weights_and_shares_mean_unset() {
    let Some(mut t) = Test::new() else { return };
    // Docker 20.10 sends these for every container.
    t.config["linux"]["resources"]["blockIO"] = json!({"weight": 0});
    t.config["linux"]["resources"]["cpu"] = json!({"shares": 0});
    t.args(&["true"]);
    t.run().expect_code(0);
}

#[test]
fn sysctls_are_written_before_proc_sys_is_made_read_only() {
    let Some(mut t) = Test::new() else { return };
    t.config["linux"]["sysctl"] = json!({"net.ipv4.ip_unprivileged_port_start": "0"});
    t.config["linux"]["readonlyPaths"] = json!(["/proc/sys"]);
    t.args(&["cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start"]);
    let out = t.run();
    out.expect_code(0);
    assert_eq!(out.stdout.trim(), "0", "{out}");
}
