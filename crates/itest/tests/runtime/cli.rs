//! The runtime's informational commands: list, spec, features, --version.

use itest::Test;
use serde_json::{json, Value};

#[test]
fn list_shows_every_container_with_its_status() {
    let Some(t) = Test::new() else { return };
    let second = t.other_id("b");
    t.create().expect_ok();
    t.rt(&["create", "--bundle", &t.bundle_str(), &second]).expect_ok();
    let out = t.rt(&["list"]);
    out.expect_ok();
    let mut lines = out.stdout.lines();
    let header = lines.next().unwrap_or("");
    assert!(header.contains("PID") && header.contains("STATUS") && header.contains("BUNDLE"), "header: {out}");
    for id in [&t.id, &second] {
        let line = lines.clone().find(|l| l.split_whitespace().next() == Some(id.as_str()));
        let line = line.unwrap_or_else(|| panic!("{id} not listed: {out}"));
        assert!(line.contains("created") && line.contains(&t.bundle_str()), "{line}");
    }
}

#[test]
fn list_quiet_prints_only_ids() {
    let Some(t) = Test::new() else { return };
    let second = t.other_id("b");
    t.create().expect_ok();
    t.rt(&["create", "--bundle", &t.bundle_str(), &second]).expect_ok();
    let out = t.rt(&["list", "-q"]);
    out.expect_ok();
    let mut ids: Vec<&str> = out.stdout.lines().collect();
    ids.sort();
    assert_eq!(ids, vec![t.id.as_str(), second.as_str()], "{out}");
}

#[test]
fn list_format_json() {
    let Some(t) = Test::new() else { return };
    t.create().expect_ok();
    let out = t.rt(&["list", "--format", "json"]);
    out.expect_ok();
    let list: Value = out.json();
    let items = list.as_array().unwrap_or_else(|| panic!("not an array: {out}"));
    assert_eq!(items.len(), 1, "{out}");
    let c = &items[0];
    assert_eq!(c["id"], t.id.as_str());
    assert_eq!(c["status"], "created");
    assert_eq!(c["bundle"], t.bundle_str().as_str());
    assert!(c["pid"].as_i64().unwrap_or(0) > 0, "{c}");
}

#[test]
fn list_of_an_empty_root() {
    let Some(t) = Test::new() else { return };
    let out = t.rt(&["list", "-q"]);
    out.expect_ok();
    assert_eq!(out.stdout.trim(), "", "{out}");
    // The table keeps its header even when empty (runc and crun both print it).
    let out = t.rt(&["list"]);
    out.expect_ok();
    assert_eq!(out.stdout.lines().count(), 1, "{out}");
    assert!(out.stdout.contains("STATUS"), "{out}");
}

#[test]
fn spec_writes_a_config_that_runs() {
    let Some(mut t) = Test::new() else { return };
    std::fs::remove_file(t.bundle.join("config.json")).ok();
    let mut cmd = t.command(&["spec"]);
    cmd.current_dir(&t.bundle);
    t.exec(cmd).expect_ok();
    let text = std::fs::read_to_string(t.bundle.join("config.json")).expect("spec wrote config.json");
    let mut config: Value = serde_json::from_str(&text).expect("spec wrote JSON");
    assert_eq!(config["root"]["path"], "rootfs", "{config}");
    assert!(config["ociVersion"].is_string(), "{config}");
    assert!(config["linux"]["namespaces"].is_array(), "{config}");
    config["process"]["terminal"] = false.into();
    config["process"]["args"] = serde_json::json!([itest::fixture::REPORTER, "exit", "7"]);
    t.config = config;
    t.run().expect_code(7);
}

#[test]
fn spec_refuses_to_overwrite_a_config() {
    let Some(t) = Test::new() else { return };
    t.write_config();
    let mut cmd = t.command(&["spec"]);
    cmd.current_dir(&t.bundle);
    t.exec(cmd).expect_failure();
}

#[test]
fn features_prints_oci_version_range() {
    // crun 1.8 fails this: it has no `features` command ("unknown command features", exit 1).
    // runc 1.1 has it.
    let Some(t) = Test::new() else { return };
    let out = t.rt(&["features"]);
    out.expect_ok();
    let f = out.json();
    assert!(f["ociVersionMin"].as_str().is_some_and(|v| v.starts_with("1.")), "{out}");
    assert!(f["ociVersionMax"].as_str().is_some_and(|v| v.starts_with("1.")), "{out}");
    assert!(f["hooks"].is_array() && f["mountOptions"].is_array(), "{out}");
}

#[test]
fn version_names_the_runtime_and_spec() {
    let Some(t) = Test::new() else { return };
    let out = t.rt(&["--version"]);
    out.expect_ok();
    let first = out.stdout.lines().next().unwrap_or("");
    assert!(first.contains(" version "), "{out}");
    assert!(out.stdout.lines().any(|l| l.starts_with("spec: 1.")), "{out}");
}

#[test]
fn version_features_agree_with_the_features_command() {
    let Some(t) = itest::Test::new() else { return };
    if itest::runtime().kind != itest::Kind::Ocirun {
        itest::skip("the +FEATURE line is ocirun's");
        return;
    }
    let version = t.rt(&["--version"]);
    version.expect_ok();
    let features = t.rt(&["features"]);
    features.expect_ok();
    let f = features.json();
    let has = |tag: &str| version.stdout.split_whitespace().any(|w| w == tag);
    assert_eq!(has("+SECCOMP"), f["linux"]["seccomp"]["enabled"] == true, "{}", version.stdout);
    assert_eq!(has("+SYSTEMD"), f["linux"]["cgroup"]["systemd"] == true, "{}", version.stdout);
    assert_eq!(has("+CGROUPV1"), f["linux"]["cgroup"]["v1"] == true, "{}", version.stdout);
    assert_eq!(has("+CGROUPV2"), f["linux"]["cgroup"]["v2"] == true, "{}", version.stdout);
    assert_eq!(has("+IDMAP"), f["linux"]["mountExtensions"]["idmap"]["enabled"] == true, "{}", version.stdout);
    assert_eq!(has("+NETDEVICES"), f["linux"]["netDevices"]["enabled"] == true, "{}", version.stdout);
}

// crun's command-line spellings: --cgroup-manager, --log-level, --regex, -f/--config, and
// `delete -f` of a container that is already gone.

#[test]
fn delete_force_of_a_missing_container_succeeds_but_plain_delete_fails() {
    // crun and runc both exit 0 for `delete -f` of an unknown id (engines clean up with it).
    let Some(t) = Test::new() else { return };
    t.rt(&["delete", "-f", &t.id]).expect_ok();
    t.rt(&["delete", "--force", &t.id]).expect_ok();
    t.rt(&["delete", &t.id]).expect_code(1);
}

#[test]
fn delete_regex_removes_every_matching_container() {
    let Some(t) = Test::new() else { return };
    let (a, b, keep) = (t.other_id("rx-1"), t.other_id("rx-22"), t.other_id("other"));
    t.write_config();
    for id in [&a, &b, &keep] {
        t.rt(&["create", "--bundle", &t.bundle_str(), id]).expect_ok();
    }
    // Unanchored ERE, as crun matches with regexec(3).
    t.rt(&["delete", "--regex", "-f", "rx-[0-9]+$"]).expect_ok();
    let out = t.rt(&["list", "-q"]);
    let ids: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(ids, vec![keep.as_str()], "{out}");
    // crun 1.8 dies of SIGSEGV here (it ignores regcomp's error); an invalid pattern is an error.
    t.rt(&["delete", "-r", "-f", "("]).expect_failure();
}

#[test]
fn kill_regex_signals_every_matching_container() {
    let Some(mut t) = Test::new() else { return };
    t.args(&["sleep", "600"]);
    t.write_config();
    let (a, b, keep) = (t.other_id("k-1"), t.other_id("k-2"), t.other_id("x"));
    for id in [&a, &b, &keep] {
        t.rt(&["run", "-d", "--bundle", &t.bundle_str(), id]).expect_ok();
    }
    t.rt(&["kill", "-r", &format!("^{}-k-", t.id), "KILL"]).expect_ok();
    for id in [&a, &b] {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while t.state_of(id)["status"] != "stopped" {
            assert!(std::time::Instant::now() < deadline, "{id} still runs after kill --regex");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
    assert_eq!(t.state_of(&keep)["status"], "running");
}

#[test]
fn config_flag_names_another_config_file() {
    // crun's -f/--config: a relative name is taken from the working directory.
    let Some(mut t) = Test::new() else { return };
    t.write_config();
    t.reporter_args(&["exit", "5"]);
    let text = serde_json::to_string(&t.config).expect("config serialises");
    std::fs::write(t.dir.join("other.json"), text).expect("write other.json");
    for flag in ["-f", "--config"] {
        let mut cmd = t.command(&["run", "--bundle", &t.bundle_str(), flag, "other.json", &t.id]);
        cmd.current_dir(&t.dir);
        t.exec(cmd).expect_code(5);
    }
}

#[test]
fn cgroup_manager_disabled_leaves_the_container_in_the_callers_cgroup() {
    let Some(mut t) = Test::new() else { return };
    t.args(&["sleep", "600"]);
    t.config["linux"]["cgroupsPath"] = json!(format!("/{}-own", t.id));
    t.write_config();
    // The runtime inherits our cgroup; with no manager the init must stay in it.
    let cmd = t.command(&["--cgroup-manager", "disabled", "create", "--bundle", &t.bundle_str(), &t.id]);
    t.exec(cmd).expect_ok();
    let pid = t.state()["pid"].as_i64().expect("pid");
    let theirs = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("init's cgroup");
    let ours = std::fs::read_to_string("/proc/self/cgroup").expect("our cgroup");
    assert_eq!(theirs, ours, "the init was moved to a cgroup of its own");
    for dir in ["/sys/fs/cgroup/memory", "/sys/fs/cgroup/pids", "/sys/fs/cgroup/unified", "/sys/fs/cgroup"] {
        let own = std::path::Path::new(dir).join(format!("{}-own", t.id));
        assert!(!own.exists(), "{} was created", own.display());
    }
    t.start().expect_ok();
    t.rt(&["kill", &t.id, "KILL"]).expect_ok();
    t.wait_status("stopped");
    t.rt(&["delete", &t.id]).expect_ok();
}

#[test]
fn cgroup_manager_accepts_crun_values_only() {
    let Some(t) = Test::new() else { return };
    t.rt(&["--cgroup-manager", "cgroupfs", "list"]).expect_ok();
    t.rt(&["--cgroup-manager=systemd", "list"]).expect_ok();
    t.rt(&["--cgroup-manager", "bogus", "list"]).expect_failure();
}

#[test]
fn log_level_error_hides_warnings() {
    // crun 1.8 has no --log-level (newer crun does: error, warning, debug).
    let Some(mut t) = Test::new() else { return };
    t.reporter_args(&["exit", "0"]);
    // A failing poststart hook is a warning: start still succeeds.
    t.config["hooks"] = json!({"poststart": [{"path": "/bin/false", "args": ["false"]}]});
    t.write_config();
    let warned = t.rt(&["--log-level", "warning", "run", "--bundle", &t.bundle_str(), &t.id]);
    warned.expect_ok();
    assert!(warned.stderr.contains("poststart"), "no warning at level warning: {warned}");
    let quiet = t.rt(&["--log-level=error", "run", "--bundle", &t.bundle_str(), &t.id]);
    quiet.expect_ok();
    assert!(!quiet.stderr.contains("poststart"), "warning at level error: {quiet}");
    t.rt(&["--log-level", "debug", "list"]).expect_ok();
    t.rt(&["--log-level", "info", "list"]).expect_failure();
}
