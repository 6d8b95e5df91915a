//! What the OCI conformance programs (runtime-tools `validation/`) and crun's own test suite
//! check from outside the runtime, written as our own tests: the `state` fields through the
//! lifecycle, the pid file, kill/delete in each state, the hook state on stdin and failing
//! hooks, config values that must be refused or accepted, uts sysctls against the hostname
//! and domainname fields, socket activation's `LISTEN_PID`. `notes/conformance-audit.md`
//! lists every check of both suites and where it is covered.

use std::path::Path;
use std::time::{Duration, Instant};

use itest::Test;
use serde_json::{json, Value};

fn hook(script: String) -> Value {
    json!({"path": "/bin/sh", "args": ["sh", "-c", script]})
}

fn wait_file(path: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(s) = std::fs::read_to_string(path) {
            if !s.is_empty() {
                return s;
            }
        }
        assert!(Instant::now() < deadline, "{} was never written", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn state_has_every_field_through_the_lifecycle() {
    let Some(mut t) = Test::new() else { return };
    t.config["annotations"] = json!({"org.conformance.key": "value"});
    t.args(&["sleep", "600"]);
    t.create().expect_ok();
    let st = t.state();
    assert!(st["ociVersion"].as_str().is_some_and(|v| v.starts_with("1.")), "{st}");
    assert_eq!(st["id"], t.id.as_str(), "{st}");
    assert_eq!(st["status"], "created", "{st}");
    assert!(st["pid"].as_i64().unwrap_or(0) > 0, "{st}");
    assert_eq!(st["bundle"], t.bundle_str().as_str(), "bundle is the absolute bundle path: {st}");
    assert_eq!(st["annotations"], json!({"org.conformance.key": "value"}), "{st}");
    // Not in the spec, but crun and runc both print them and tools read them.
    assert!(st["rootfs"].as_str().is_some_and(|r| r.ends_with("rootfs")), "{st}");
    assert!(st["created"].as_str().is_some_and(|c| c.contains('T')), "{st}");
    t.start().expect_ok();
    assert_eq!(t.state()["status"], "running");
    t.rt(&["kill", &t.id, "KILL"]).expect_ok();
    let st = t.wait_status("stopped");
    // crun and runc print "pid": 0 once stopped; runtime-tools reads a missing pid the same.
    assert_eq!(st["pid"], 0, "{st}");
    assert_eq!(st["annotations"], json!({"org.conformance.key": "value"}), "{st}");
}

#[test]
fn pid_file_is_the_bare_decimal_pid() {
    // runtime-tools parses the whole file as an integer: no newline may follow the pid.
    let Some(t) = Test::new() else { return };
    t.write_config();
    let pid_file = t.path("pid");
    t.rt(&["create", "--bundle", &t.bundle_str(), "--pid-file", &pid_file, &t.id]).expect_ok();
    let written = std::fs::read_to_string(&pid_file).expect("pid file written");
    assert_eq!(Some(written.parse::<i64>().unwrap_or(-1)), t.state()["pid"].as_i64(), "pid file {written:?}");
}

#[test]
fn kill_of_a_created_container_stops_it() {
    let Some(mut t) = Test::new() else { return };
    t.args(&["true"]);
    t.create().expect_ok();
    t.rt(&["kill", &t.id, "KILL"]).expect_ok();
    t.wait_status("stopped");
    t.rt(&["delete", &t.id]).expect_ok();
}

#[test]
fn kill_of_a_stopped_container_fails_and_changes_nothing() {
    let Some(mut t) = Test::new() else { return };
    t.args(&["true"]);
    t.create().expect_ok();
    t.start().expect_ok();
    let before = t.wait_status("stopped");
    t.rt(&["kill", &t.id, "KILL"]).expect_failure();
    assert_eq!(t.state(), before, "kill of a stopped container changed its state");
}

#[test]
fn delete_of_a_created_container_without_force_works() {
    // crun's test_delete_in_created_state; crun and runc both allow it.
    let Some(mut t) = Test::new() else { return };
    t.args(&["sleep", "600"]);
    t.create().expect_ok();
    t.rt(&["delete", &t.id]).expect_ok();
    t.rt(&["state", &t.id]).expect_failure();
}

#[test]
fn run_twice_with_the_same_id() {
    let Some(mut t) = Test::new() else { return };
    t.args(&["echo", "hi"]);
    for _ in 0..2 {
        let out = t.run();
        out.expect_ok();
        assert_eq!(out.stdout, "hi\n", "{out}");
    }
}

#[test]
fn an_invalid_oci_version_is_refused() {
    let Some(mut t) = Test::new() else { return };
    t.config["ociVersion"] = json!("invalid");
    t.args(&["true"]);
    t.create().expect_failure();
    t.rt(&["state", &t.id]).expect_failure();
}

#[test]
fn unknown_properties_and_annotations_are_accepted() {
    let Some(mut t) = Test::new() else { return };
    t.config["unknown"] = json!("unknown");
    t.config["annotations"] = json!({"org.some-unknown-key": ""});
    t.args(&["true"]);
    t.run().expect_ok();
}

#[test]
fn sysctl_kernel_hostname_is_refused() {
    // The hostname is set through its field only (crun and runc refuse the sysctl).
    let Some(mut t) = Test::new() else { return };
    t.config["linux"]["sysctl"] = json!({"kernel.hostname": "other"});
    t.args(&["true"]);
    t.run().expect_failure();
}

#[test]
fn sysctl_kernel_domainname_must_agree_with_the_domainname_field() {
    let Some(mut t) = Test::new() else { return };
    t.config["domainname"] = json!("foomachine");
    t.config["linux"]["sysctl"] = json!({"kernel.domainname": "foo"});
    t.args(&["cat", "/proc/sys/kernel/domainname"]);
    t.run().expect_failure();
    t.config["domainname"] = json!("foo");
    let out = t.run();
    out.expect_ok();
    assert_eq!(out.stdout, "foo\n", "{out}");
}

#[test]
fn sysctl_names_with_path_components_are_refused() {
    let Some(mut t) = Test::new() else { return };
    t.args(&["true"]);
    for key in ["net/../kernel/sysrq", "net/..//kernel/sysrq", "/net/ipv4/ip_forward", ".net.ipv4.ip_forward"] {
        t.config["linux"]["sysctl"] = json!({key: "1"});
        let out = t.run();
        out.expect_failure();
        // crun's test matches these words; crun 1.8 and runc fail on a bad path instead.
        if itest::runtime::runtime().kind == itest::runtime::Kind::Ocirun {
            assert!(out.stderr.contains("contains an invalid path"), "{key}: {out}");
        }
    }
}

#[test]
fn hooks_see_created_running_and_stopped_on_stdin() {
    // runtime-tools hooks_stdin: prestart sees "created", poststart "running", poststop a
    // status; the pid is the init's, the bundle and annotations are the container's.
    let Some(mut t) = Test::new() else { return };
    let dir = t.dir.join("hooks");
    std::fs::create_dir(&dir).unwrap();
    t.config["annotations"] = json!({"org.opencontainers.runtime-tools": "hook stdin test"});
    let save = |n: &str| json!([hook(format!("cat > {}/{n}", dir.display()))]);
    t.config["hooks"] =
        json!({"prestart": save("prestart"), "poststart": save("poststart"), "poststop": save("poststop")});
    t.args(&["true"]);
    t.create().expect_ok();
    let pid = t.state()["pid"].as_i64().expect("pid");
    t.start().expect_ok();
    t.wait_status("stopped");
    t.rt(&["delete", &t.id]).expect_ok();
    for (name, status) in [("prestart", "created"), ("poststart", "running"), ("poststop", "stopped")] {
        let st: Value = serde_json::from_str(&wait_file(&dir.join(name))).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(st["id"], t.id.as_str(), "{name}: {st}");
        assert_eq!(st["bundle"], t.bundle_str().as_str(), "{name}: {st}");
        assert_eq!(st["status"], status, "{name}: {st}");
        assert_eq!(st["annotations"], json!({"org.opencontainers.runtime-tools": "hook stdin test"}), "{name}: {st}");
        if name != "poststop" {
            assert_eq!(st["pid"].as_i64(), Some(pid), "{name}: {st}");
        }
    }
}

#[test]
fn a_failing_prestart_hook_fails_and_the_process_never_runs() {
    let Some(mut t) = Test::new() else { return };
    t.config["root"]["readonly"] = json!(false);
    t.config["hooks"] = json!({"prestart": [{"path": "/bin/false", "args": ["false"]}]});
    t.args(&["touch", "/output"]);
    let created = t.create();
    if created.code == Some(0) {
        t.start();
    }
    assert_ne!(created.code, Some(0), "create succeeded despite a failing prestart hook: {created}");
    assert!(!t.rootfs.join("output").exists(), "the container process ran");
    t.rt(&["state", &t.id]).expect_failure();
}

#[test]
fn a_failing_poststart_hook_is_a_warning_and_later_hooks_run() {
    let Some(mut t) = Test::new() else { return };
    let out = t.dir.join("poststart.out");
    t.config["hooks"] = json!({"poststart": [
        {"path": "/bin/false", "args": ["false"]},
        hook(format!("echo post-start called >> {}", out.display())),
    ]});
    t.args(&["true"]);
    t.create().expect_ok();
    t.start().expect_ok();
    t.wait_status("stopped");
    t.rt(&["delete", &t.id]).expect_ok();
    assert_eq!(std::fs::read_to_string(&out).unwrap_or_default(), "post-start called\n");
}

#[test]
fn a_failing_poststop_hook_is_a_warning_and_later_hooks_run() {
    let Some(mut t) = Test::new() else { return };
    let out = t.dir.join("poststop.out");
    t.config["hooks"] = json!({"poststop": [
        {"path": "/bin/false", "args": ["false"]},
        hook(format!("echo post-stop called >> {}", out.display())),
    ]});
    t.args(&["true"]);
    t.create().expect_ok();
    t.start().expect_ok();
    t.wait_status("stopped");
    t.rt(&["delete", &t.id]).expect_ok();
    assert_eq!(std::fs::read_to_string(&out).unwrap_or_default(), "post-stop called\n");
    t.rt(&["state", &t.id]).expect_failure();
}

#[test]
fn listen_fds_in_the_callers_env_makes_the_init_the_listener() {
    // crun's test_listen_pid_env: LISTEN_FDS in the runtime's environment (not meant for it)
    // still gives the container LISTEN_PID=1. runc 1.1 fails this. (crun 1.8 does not add
    // LISTEN_PID for a LISTEN_FDS that is only in the config's env, nor do we.)
    let Some(mut t) = Test::new() else { return };
    t.args(&["sh", "-c", "echo LISTEN_PID=$LISTEN_PID"]);
    t.write_config();
    let mut cmd = t.command(&["run", "--bundle", &t.bundle_str(), &t.id]);
    cmd.env("LISTEN_FDS", "1").env_remove("LISTEN_PID");
    let out = t.exec(cmd);
    out.expect_ok();
    assert_eq!(out.stdout, "LISTEN_PID=1\n", "{out}");
}

#[test]
fn delete_leaves_a_cgroup_it_did_not_create() {
    // runtime-tools delete_only_create_resources: the init is moved into a cgroup the
    // runtime did not make; delete must not remove it.
    let Some(mut t) = Test::new() else { return };
    let v1_pids = Path::new("/sys/fs/cgroup/pids");
    let cg = if v1_pids.join("tasks").exists() {
        v1_pids.join(format!("{}-foreign", t.id))
    } else {
        itest::skip("no cgroup v1 pids hierarchy at /sys/fs/cgroup/pids");
        return;
    };
    std::fs::create_dir(&cg).expect("make the foreign cgroup");
    let cg2 = cg.clone();
    t.on_cleanup(move || {
        let _ = std::fs::remove_dir(&cg2);
    });
    t.args(&["true"]);
    t.create().expect_ok();
    let pid = t.state()["pid"].as_i64().expect("pid");
    std::fs::write(cg.join("tasks"), pid.to_string()).expect("move the init into the foreign cgroup");
    t.start().expect_ok();
    t.wait_status("stopped");
    t.rt(&["delete", &t.id]).expect_ok();
    assert!(cg.exists(), "delete removed {}, which it did not create", cg.display());
}

#[test]
fn a_hook_without_env_inherits_the_runtimes_environment() {
    // crun's test_hook_env_inherit (and runc): no `env` means the runtime's environment; a
    // hook with `env` gets exactly that.
    let Some(mut t) = Test::new() else { return };
    t.config["hooks"] = json!({"prestart": [
        hook("test \"$CONFORMANCE_MARK\" = inherited".into()),
        {"path": "/bin/sh", "env": ["ONLY=this"], "args": ["sh", "-c", "test \"$ONLY\" = this && test -z \"$CONFORMANCE_MARK\""]},
    ]});
    t.args(&["true"]);
    t.write_config();
    let mut cmd = t.command(&["run", "--bundle", &t.bundle_str(), &t.id]);
    cmd.env("CONFORMANCE_MARK", "inherited");
    t.exec(cmd).expect_ok();
}

#[test]
fn hooks_run_in_the_bundle_directory() {
    // crun runs every runtime-side hook in the bundle; crun's
    // test_createContainer_hook_after_mounts relies on it (rootfs/proc is mounted by then).
    let Some(mut t) = Test::new() else { return };
    let dir = t.dir.join("cwd");
    std::fs::create_dir(&dir).unwrap();
    let pwd = |n: &str| json!([hook(format!("pwd > {}/{n}", dir.display()))]);
    t.config["hooks"] = json!({
        "prestart": pwd("prestart"),
        "createRuntime": pwd("createRuntime"),
        "createContainer": [hook("test -e rootfs/proc/self".into())],
        "poststart": pwd("poststart"),
        "poststop": pwd("poststop"),
    });
    t.args(&["true"]);
    t.run().expect_ok();
    for name in ["prestart", "createRuntime", "poststart", "poststop"] {
        assert_eq!(wait_file(&dir.join(name)).trim_end(), t.bundle_str(), "{name} hook's working directory");
    }
}

#[test]
fn log_takes_a_file_prefix_and_refuses_unknown_types() {
    // crun's --log syntax (test_error_handling): `file:PATH` is the file PATH, an unknown
    // `TYPE:` is an error. (We also refuse syslog: and journald:, which crun writes to.)
    let Some(t) = Test::new() else { return };
    let log = t.dir.join("runtime.log");
    let flag = format!("--log=file:{}", log.display());
    t.rt(&[&flag, "state", "no-such-container"]).expect_failure();
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(text.contains("no-such-container"), "the error is not in {}: {text:?}", log.display());
    t.rt(&["--log=invalid:/path", "list"]).expect_failure();
}

#[test]
fn a_terminal_with_detach_and_no_console_socket_says_use_console_socket() {
    // crun's test_tty_and_detach matches these words.
    let Some(mut t) = Test::new() else { return };
    t.config["process"]["terminal"] = json!(true);
    t.args(&["true"]);
    t.write_config();
    let out = t.rt(&["run", "-d", "--bundle", &t.bundle_str(), &t.id]);
    out.expect_failure();
    assert!(out.stderr.contains("use --console-socket"), "{out}");
}

#[test]
fn invalid_container_ids_are_refused_with_words_crun_uses() {
    // crun's test_invalid_id wants "invalid character" and "container ID" in the error;
    // test_invalid_id_chars wants "invalid" for each of these ids.
    let Some(mut t) = Test::new() else { return };
    t.args(&["true"]);
    t.write_config();
    let out = t.rt(&["run", "--bundle", &t.bundle_str(), "this/is/invalid"]);
    out.expect_failure();
    assert!(out.stderr.contains("invalid character") && out.stderr.contains("container ID"), "{out}");
    for id in [".", "..", ".foo", "foo bar", "foo/bar"] {
        let out = t.rt(&["run", "--bundle", &t.bundle_str(), id]);
        out.expect_failure();
        assert!(out.stderr.to_lowercase().contains("invalid"), "{id:?}: {out}");
    }
}

#[test]
fn a_poststop_hook_runs_even_when_the_bundle_is_gone() {
    // Engines may remove the bundle before the last delete; the hook must still run (the
    // spec calls every poststop hook). crun 1.8.1 fails this: it silently skips the hook.
    let Some(mut t) = Test::new() else { return };
    let out = t.dir.join("poststop.out");
    t.config["hooks"] = json!({"poststop": [hook(format!("echo ran > {}", out.display()))]});
    t.args(&["true"]);
    t.create().expect_ok();
    t.start().expect_ok();
    t.wait_status("stopped");
    let moved = t.dir.join("bundle-moved");
    std::fs::rename(&t.bundle, &moved).expect("move the bundle away");
    let deleted = t.rt(&["delete", &t.id]);
    std::fs::rename(&moved, &t.bundle).expect("put the bundle back");
    deleted.expect_ok();
    assert_eq!(std::fs::read_to_string(&out).unwrap_or_default(), "ran\n", "{deleted}");
}
