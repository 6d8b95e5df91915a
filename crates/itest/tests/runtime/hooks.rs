//! OCI hooks: each runs at its point in the lifecycle with the state JSON on stdin; a failing
//! prestart/createRuntime hook aborts create and leaves nothing behind.

use std::path::Path;
use std::time::{Duration, Instant};

use itest::Test;
use serde_json::{json, Value};

/// A hook that saves its stdin (the state JSON) to `<dir>/<name>`. The directory is also
/// mounted into the container at the same path, so the hook works whether it runs in the
/// runtime's mount namespace or in the container's (startContainer).
fn saving_hook(dir: &Path, name: &str) -> Value {
    json!({"path": "/bin/sh", "args": ["sh", "-c", format!("cat > {}/{name}", dir.display())]})
}

fn wait_file(path: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(s) = std::fs::read_to_string(path) {
            if !s.is_empty() {
                return s;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("hook never wrote {}", path.display());
}

#[test]
fn hooks_run_with_the_state_on_stdin() {
    // crun 1.8 fails this: its createContainer hook gets `"pid": 0` (and status "created")
    // instead of the container's pid. runc passes the pid.
    let Some(mut t) = Test::new() else { return };
    let dir = t.dir.join("hooks");
    std::fs::create_dir(&dir).unwrap();
    t.config["mounts"].as_array_mut().unwrap().push(json!({
        "destination": dir, "type": "bind", "source": dir, "options": ["bind", "rw"]
    }));
    let names = ["createRuntime", "createContainer", "startContainer", "poststart", "poststop"];
    t.config["hooks"] = names.iter().map(|n| (n.to_string(), json!([saving_hook(&dir, n)]))).collect();
    t.reporter_args(&["exit", "0"]);
    t.create().expect_ok();
    for n in ["createRuntime", "createContainer"] {
        let st: Value = serde_json::from_str(&wait_file(&dir.join(n))).unwrap_or_else(|e| panic!("{n}: {e}"));
        assert_eq!(st["id"], t.id.as_str(), "{n}: {st}");
        assert_eq!(st["bundle"], t.bundle_str().as_str(), "{n}: {st}");
        assert!(st["pid"].as_i64().unwrap_or(0) > 0, "{n}: {st}");
    }
    assert!(!dir.join("startContainer").exists(), "startContainer ran before start");
    t.start().expect_ok();
    for n in ["startContainer", "poststart"] {
        let st: Value = serde_json::from_str(&wait_file(&dir.join(n))).unwrap_or_else(|e| panic!("{n}: {e}"));
        assert_eq!(st["id"], t.id.as_str(), "{n}: {st}");
    }
    t.wait_status("stopped");
    assert!(!dir.join("poststop").exists(), "poststop ran before delete");
    t.rt(&["delete", &t.id]).expect_ok();
    let st: Value = serde_json::from_str(&wait_file(&dir.join("poststop"))).unwrap();
    assert_eq!(st["id"], t.id.as_str(), "poststop: {st}");
}

#[test]
fn failing_prestart_hook_aborts_create_and_cleans_up() {
    let Some(mut t) = Test::new() else { return };
    t.config["hooks"] = json!({"prestart": [{"path": "/bin/false", "args": ["false"]}]});
    t.args(&["sleep", "600"]);
    let out = t.create();
    assert_ne!(out.code, Some(0), "create succeeded despite a failing hook: {out}");
    t.rt(&["state", &t.id]).expect_failure();
    assert!(!t.root.join(&t.id).exists(), "state left after failed create");
}

#[test]
fn failing_create_runtime_hook_aborts_create() {
    let Some(mut t) = Test::new() else { return };
    t.config["hooks"] = json!({"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", "exit 3"]}]});
    t.args(&["sleep", "600"]);
    let out = t.create();
    assert_ne!(out.code, Some(0), "create succeeded despite a failing hook: {out}");
    t.rt(&["state", &t.id]).expect_failure();
}

#[test]
fn a_hook_writing_a_lot_to_stderr_neither_hangs_nor_loses_its_message() {
    let Some(mut t) = Test::new() else { return };
    // 1 MiB on stderr, more than a pipe holds, then a failure: no timeout is set.
    let script = "echo first-line-of-stderr >&2; head -c 1048576 /dev/zero | tr '\\000' x >&2; exit 3";
    t.config["hooks"] = json!({"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", script]}]});
    t.args(&["sleep", "600"]);
    let out = t.create();
    assert_eq!(out.code, Some(1), "{out}");
    assert!(
        out.stderr.contains("first-line-of-stderr"),
        "the hook's stderr is not in the error: {}",
        &out.stderr[..out.stderr.len().min(300)]
    );
    t.rt(&["state", &t.id]).expect_failure();
}
