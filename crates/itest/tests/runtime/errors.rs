//! Bad input: the runtime refuses it with exit 1, a message on stderr, and nothing left behind.

use itest::Test;
use serde_json::json;

#[test]
fn missing_rootfs_is_reported_with_its_path() {
    let Some(mut t) = Test::new() else { return };
    t.config["root"]["path"] = json!("no-such-rootfs");
    let out = t.create();
    out.expect_failure().expect_code(1);
    assert!(out.stderr.contains("no-such-rootfs"), "message does not name the path: {out}");
    t.rt(&["state", &t.id]).expect_failure();
}

#[test]
fn missing_config_is_reported() {
    let Some(t) = Test::new() else { return };
    let out = t.rt(&["create", "--bundle", &t.bundle_str(), &t.id]);
    out.expect_failure().expect_code(1);
    assert!(out.stderr.contains("config.json"), "message does not name config.json: {out}");
}

#[test]
fn malformed_config_is_rejected() {
    let Some(t) = Test::new() else { return };
    std::fs::write(t.bundle.join("config.json"), "{\"ociVersion\": \"1.0.2\", \"process\": ").unwrap();
    t.rt(&["create", "--bundle", &t.bundle_str(), &t.id]).expect_failure().expect_code(1);
    t.rt(&["state", &t.id]).expect_failure();
}

#[test]
fn config_with_wrong_types_is_rejected() {
    // crun 1.8 fails this: it ignores a string where `process.args` must be an array and
    // creates the container anyway. runc rejects it.
    let Some(mut t) = Test::new() else { return };
    t.config["process"]["args"] = json!("not-a-list");
    t.create().expect_failure().expect_code(1);
}

fn rejects_id(bad: &str) {
    let Some(t) = Test::new() else { return };
    t.write_config();
    let out = t.rt(&["create", "--bundle", &t.bundle_str(), bad]);
    out.expect_failure().expect_code(1);
    // Nothing may have been created outside the state root.
    let outside: Vec<_> = std::fs::read_dir(&t.dir).unwrap().flatten().map(|e| e.file_name()).collect();
    let mut names: Vec<String> = outside.iter().map(|n| n.to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(names, ["bundle", "io", "state"], "id {bad:?} escaped the state root");
}

#[test]
fn id_with_a_slash_is_rejected() {
    rejects_id("a/b");
}

#[test]
fn id_dot_dot_is_rejected() {
    rejects_id("..");
}

#[test]
fn id_escaping_the_root_is_rejected() {
    rejects_id("../escaped");
}

#[test]
fn empty_id_is_rejected() {
    rejects_id("");
}

#[test]
fn unknown_command_fails() {
    let Some(t) = Test::new() else { return };
    let out = t.rt(&["no-such-command"]);
    assert_ne!(out.code, Some(0), "{out}");
}

#[test]
fn kill_with_an_unknown_signal_fails() {
    // crun 1.8 fails this: `kill ID NOSUCHSIG` exits 0 without a message. runc rejects it.
    let Some(mut t) = Test::new() else { return };
    t.args(&["sleep", "600"]);
    t.create().expect_ok();
    t.rt(&["kill", &t.id, "NOSUCHSIG"]).expect_failure();
    assert_eq!(t.state()["status"], "created");
}
