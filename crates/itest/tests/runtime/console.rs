//! process.terminal with `--console-socket`: the runtime sends the pty master to our listener.

use std::time::Duration;

use itest::console::ConsoleSocket;
use itest::Test;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(20);

#[test]
fn console_socket_receives_a_working_terminal() {
    let Some(mut t) = Test::new() else { return };
    t.config["process"]["terminal"] = json!(true);
    t.args(&["/bin/sh"]);
    t.write_config();
    let sock = ConsoleSocket::bind(&t.dir.join("console.sock")).unwrap();
    let sock_path = sock.path.to_string_lossy().into_owned();
    t.rt(&["create", "--bundle", &t.bundle_str(), "--console-socket", &sock_path, &t.id]).expect_ok();
    let mut pty = sock.master(WAIT).expect("pty master");
    t.start().expect_ok();
    pty.write("echo answer-$((6*7))\n").unwrap();
    let seen = pty.read_until("answer-42", WAIT);
    assert!(seen.contains("answer-42"), "terminal output: {seen:?}");
    pty.write("exit\n").unwrap();
    t.wait_status("stopped");
    t.rt(&["delete", &t.id]).expect_ok();
}

#[test]
fn terminal_is_a_tty_with_the_configured_size() {
    let Some(mut t) = Test::new() else { return };
    t.config["process"]["terminal"] = json!(true);
    t.config["process"]["consoleSize"] = json!({"height": 31, "width": 101});
    t.reporter_args(&["report"]);
    t.write_config();
    let sock = ConsoleSocket::bind(&t.dir.join("console.sock")).unwrap();
    let sock_path = sock.path.to_string_lossy().into_owned();
    t.rt(&["create", "--bundle", &t.bundle_str(), "--console-socket", &sock_path, &t.id]).expect_ok();
    let mut pty = sock.master(WAIT).expect("pty master");
    t.start().expect_ok();
    let seen = pty.read_until("}}\r\n", WAIT);
    let line = seen.lines().find(|l| l.starts_with('{')).unwrap_or_else(|| panic!("no report: {seen:?}"));
    let r: serde_json::Value = serde_json::from_str(line.trim_end()).expect("report JSON");
    assert_eq!(r["tty"]["stdin"], true, "{}", r["tty"]);
    assert_eq!(r["tty"]["stdout"], true, "{}", r["tty"]);
    assert_eq!(r["tty"]["size"], json!({"rows": 31, "cols": 101}));
    t.wait_status("stopped");
    t.rt(&["delete", &t.id]).expect_ok();
}

#[test]
fn terminal_without_console_socket_is_refused_by_create() {
    let Some(mut t) = Test::new() else { return };
    t.config["process"]["terminal"] = json!(true);
    t.args(&["/bin/sh"]);
    t.create().expect_failure();
}
