//! Regression tests for the runtime escapes that hit other runtimes: executing the runtime's
//! own binary from inside the container (CVE-2019-5736) and host fds or a host cwd leaking
//! into the container (CVE-2024-21626).

use std::os::unix::fs::PermissionsExt;

use itest::{runtime, Test, REPORTER};
use serde_json::json;

fn runtime_digest() -> Vec<u8> {
    std::fs::read(&runtime().path).expect("read the runtime binary")
}

#[test]
fn the_runtime_binary_cannot_be_the_entrypoint() {
    let Some(mut t) = Test::new() else { return };
    let before = runtime_digest();
    t.args(&["/proc/self/exe", "--version"]);
    let out = t.run();
    out.expect_code(1);
    assert!(out.stderr.contains("own binary"), "{out}");
    assert_eq!(before, runtime_digest(), "runtime binary changed");
}

#[test]
fn a_script_whose_interpreter_is_the_runtime_is_refused() {
    let Some(mut t) = Test::new() else { return };
    let script = t.rootfs.join("bin/evil");
    std::fs::write(&script, "#!/proc/self/exe --version\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    t.args(&["/bin/evil"]);
    let out = t.run();
    out.expect_code(1);
    assert!(out.stderr.contains("own binary"), "{out}");
}

#[test]
fn exec_of_the_runtime_binary_is_refused_and_the_waiting_init_is_not_reachable() {
    let Some(mut t) = Test::new() else { return };
    t.args(&["sleep", "600"]);
    // Created, not started: the init is still the runtime's code.
    t.create().expect_ok();
    // Refused inside the container, before its exec: like any program exec cannot start, 255.
    let out = t.rt(&["exec", &t.id, "/proc/self/exe", "--version"]);
    out.expect_code(255);
    assert!(out.stderr.contains("own binary"), "{out}");
    // Another process of the container must not open the waiting init's /proc/1/exe.
    let out = t.rt(&["exec", &t.id, REPORTER, "open-write", "/proc/1/exe"]);
    assert!(
        !out.stdout.contains("\"ok\"") && !out.stdout.contains("\"errno\":0"),
        "opened /proc/1/exe for writing: {out}"
    );
    let out = t.rt(&["exec", &t.id, "cat", "/proc/1/exe"]);
    assert_ne!(out.code, Some(0), "read the init's exe: {out}");
}

#[test]
fn a_cwd_through_a_leaked_fd_does_not_reach_the_host() {
    let Some(mut t) = Test::new() else { return };
    // The runtime has a host directory open as fd 3+ while it runs; the container asks for it.
    t.config["process"]["cwd"] = json!("/proc/self/fd/7");
    t.reporter_args(&["report"]);
    let out = t.run();
    if out.code == Some(0) {
        let r = out.json();
        let cwd = r["cwd"].as_str().unwrap_or_default().to_string();
        assert!(!cwd.contains("ocirun-itest") && !cwd.starts_with("/proc/self/fd"), "cwd escaped: {cwd}");
        let fds: Vec<String> = r["fds"].as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default();
        assert_eq!(fds, ["0", "1", "2"], "leaked fds: {}", r["fds"]);
    }
}
