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

#[test]
fn kill_after_exit_says_container_not_running_and_kill_all_succeeds() {
    // containerd's shim treats a kill error as "already exited" only when it says
    // "container not running"; it also runs `kill --all` after every exit.
    let Some(mut t) = Test::new() else { return };
    t.args(&["true"]);
    t.create().expect_ok();
    t.start().expect_ok();
    t.wait_status("stopped");
    let out = t.rt(&["kill", &t.id, "KILL"]);
    out.expect_code(1);
    assert!(out.stderr.contains("container not running"), "{out}");
    t.rt(&["kill", "--all", &t.id, "KILL"]).expect_ok();
    t.rt(&["delete", &t.id]).expect_ok();
}
