//! The runtime's informational commands: list, spec, features, --version.

use itest::Test;
use serde_json::Value;

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
