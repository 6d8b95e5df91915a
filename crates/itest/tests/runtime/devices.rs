//! Devices of `linux.devices`, `/dev/console` with a terminal, and bundles made by `spec`.

use std::time::Duration;

use itest::console::ConsoleSocket;
use itest::{Test, REPORTER};
use serde_json::{json, Value};

fn stats(out: &itest::Outcome) -> Vec<Value> {
    out.stdout.lines().filter(|l| l.starts_with('{')).map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn configured_devices_have_their_type_numbers_mode_and_owner() {
    let Some(mut t) = Test::new() else { return };
    t.config["linux"]["devices"] = json!([
        {"path": "/dev/mychar", "type": "c", "major": 1, "minor": 5, "fileMode": 0o640, "uid": 1234, "gid": 5678},
        {"path": "/dev/myblk", "type": "b", "major": 7, "minor": 200, "fileMode": 0o600, "uid": 0, "gid": 6},
        {"path": "/srv/myfifo", "type": "p", "fileMode": 0o620},
    ]);
    let script = format!("{REPORTER} stat /dev/mychar; {REPORTER} stat /dev/myblk; {REPORTER} stat /srv/myfifo");
    t.args(&["sh", "-c", &script]);
    let out = t.run();
    out.expect_ok();
    let s = stats(&out);
    assert_eq!(s.len(), 3, "{out}");
    assert_eq!((&s[0]["type"], &s[0]["rdev"]), (&json!("char"), &json!([1, 5])), "{}", s[0]);
    assert_eq!((&s[0]["mode"], &s[0]["uid"], &s[0]["gid"]), (&json!(0o640), &json!(1234), &json!(5678)), "{}", s[0]);
    assert_eq!((&s[1]["type"], &s[1]["rdev"]), (&json!("block"), &json!([7, 200])), "{}", s[1]);
    assert_eq!((&s[1]["mode"], &s[1]["gid"]), (&json!(0o600), &json!(6)), "{}", s[1]);
    assert_eq!((&s[2]["type"], &s[2]["mode"]), (&json!("fifo"), &json!(0o620)), "{}", s[2]);
}

#[test]
fn dev_console_is_the_terminal_when_one_is_asked_for() {
    let Some(mut t) = Test::new() else { return };
    t.config["process"]["terminal"] = json!(true);
    t.reporter_args(&["stat", "/dev/console"]);
    t.write_config();
    let sock = ConsoleSocket::bind(&t.dir.join("console.sock")).unwrap();
    let sock_path = sock.path.to_string_lossy().into_owned();
    t.rt(&["create", "--bundle", &t.bundle_str(), "--console-socket", &sock_path, &t.id]).expect_ok();
    let mut pty = sock.master(Duration::from_secs(20)).expect("pty master");
    t.start().expect_ok();
    let seen = pty.read_until("}\r\n", Duration::from_secs(20));
    let line = seen.lines().find(|l| l.starts_with('{')).unwrap_or_else(|| panic!("no stat: {seen:?}"));
    let st: Value = serde_json::from_str(line.trim_end()).unwrap();
    // A pts slave: the devpts major (136-143).
    assert_eq!(st["type"], "char", "{st}");
    let major = st["rdev"][0].as_u64().unwrap();
    assert!((136..=143).contains(&major), "/dev/console is not a pty: {st}");
    t.wait_status("stopped");
    t.rt(&["delete", &t.id]).expect_ok();
    // Without a terminal there is no console to bind.
    t.config["process"]["terminal"] = json!(false);
    let out = t.run_reporter(&["stat", "/dev/console"]);
    let st = out.json();
    assert!(st.get("rdev").is_none_or(|r| r[0].as_u64().is_none_or(|m| !(136..=143).contains(&m))), "{st}");
}

/// Runs a config written by `TOOL spec` in the test's bundle, with the reporter as process.
fn run_spec_of(t: &mut Test, tool: &str) {
    std::fs::remove_file(t.bundle.join("config.json")).ok();
    let ok = std::process::Command::new(tool).arg("spec").current_dir(&t.bundle).status().is_ok_and(|s| s.success());
    assert!(ok, "{tool} spec failed");
    let text = std::fs::read_to_string(t.bundle.join("config.json")).unwrap();
    let mut config: Value = serde_json::from_str(&text).unwrap();
    config["process"]["terminal"] = json!(false);
    config["process"]["args"] = json!([REPORTER, "report"]);
    t.config = config;
    let out = t.run();
    out.expect_ok();
    assert_eq!(out.json()["uid"], 0, "{out}");
}

#[test]
fn a_bundle_from_crun_spec_runs() {
    let Some(mut t) = Test::new() else { return };
    let Some(crun) = ["/usr/bin/crun", "/usr/local/bin/crun"].into_iter().find(|p| std::path::Path::new(p).exists())
    else {
        itest::skip("crun is not installed");
        return;
    };
    run_spec_of(&mut t, crun);
    assert!(t.config["ociVersion"].as_str().is_some_and(|v| v.starts_with("1.")), "{}", t.config["ociVersion"]);
}

#[test]
fn a_bundle_from_our_own_spec_runs() {
    let Some(mut t) = Test::new() else { return };
    let rt = itest::runtime().path.to_string_lossy().into_owned();
    run_spec_of(&mut t, &rt);
}
