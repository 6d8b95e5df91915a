//! Hand-made hostile bundles, one table: each must be refused with a message that says what is
//! wrong (never a panic, never a half-made container), or, for symlink escapes in the image,
//! must keep every mount and every created directory inside the rootfs.
//!
//! Each case gets its own test directory, so a leak is blamed on the case that made it; all
//! cases run and the test lists every one that misbehaved.

use std::os::unix::fs::symlink;
use std::path::Path;
use std::time::{Duration, Instant};

use itest::host;
use itest::{note, Outcome, Test};
use serde_json::{json, Value};

/// What a case must do.
enum Expect {
    /// `create` fails with exit 1 and this text in its message.
    CreateFails(&'static str),
    /// `create` succeeds or fails cleanly; if it succeeds, `start` fails with this text.
    StartFails(&'static str),
    /// `create` and `start` succeed (the input is odd but legal).
    Works,
    /// `create` and `start` succeed or `create` fails cleanly; either way nothing lands outside
    /// the rootfs (checked by the case).
    StaysInside,
}

struct Case {
    name: &'static str,
    /// Changes the test's config or bundle; may write config.json itself (raw bytes).
    setup: fn(&mut Test),
    expect: Expect,
    /// Checks after the runtime ran (host files, container output).
    check: Option<fn(&Test, &Outcome)>,
    /// A reported bug this case shows (see `itest::host::known_bug`).
    bug: Option<&'static str>,
}

/// Writes `text` as config.json, bypassing the harness's serialiser (for invalid JSON).
fn raw_config(t: &Test, text: &[u8]) {
    std::fs::write(t.bundle.join("config.json"), text).unwrap();
}

fn linux(t: &mut Test) -> &mut Value {
    &mut t.config["linux"]
}

/// A hook that runs `script` with sh, carrying the test's marker so its processes can be found.
fn hook(t: &Test, script: &str, timeout: Option<i64>) -> Value {
    let mut h = json!({
        "path": "/bin/sh",
        "args": ["sh", "-c", script],
        "env": [host::marker_env(&t.dir.to_string_lossy()), "PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
    });
    if let Some(s) = timeout {
        h["timeout"] = json!(s);
    }
    h
}

/// The host directory that escaping symlinks in the image point at: it must stay empty.
fn host_target(t: &Test) -> std::path::PathBuf {
    t.dir.join("host-side")
}

fn host_target_untouched(t: &Test, _: &Outcome) {
    let left: Vec<_> = std::fs::read_dir(host_target(t)).unwrap().flatten().map(|e| e.path()).collect();
    assert!(left.is_empty(), "the runtime followed an image symlink out of the rootfs and made {left:?} on the host");
}

fn etc_untouched(_: &Test, _: &Outcome) {
    let p = Path::new("/etc/ocirun-itest-escape");
    let there = p.exists();
    let _ = std::fs::remove_dir(p);
    assert!(!there, "a mount destination through a symlink to /etc created {} on the host", p.display());
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "process.args is a string",
            setup: |t| t.config["process"]["args"] = json!("sh"),
            expect: Expect::CreateFails("invalid type: string"),
            check: None,
            bug: None,
        },
        Case {
            name: "process.user.uid is negative",
            setup: |t| t.config["process"]["user"]["uid"] = json!(-1),
            expect: Expect::CreateFails("invalid value: integer `-1`"),
            check: None,
            bug: None,
        },
        Case {
            name: "linux.namespaces is an object",
            setup: |t| linux(t)["namespaces"] = json!({"type": "pid"}),
            expect: Expect::CreateFails("invalid type: map"),
            check: None,
            bug: None,
        },
        Case {
            name: "mounts[0].options is a number",
            setup: |t| t.config["mounts"][0]["options"] = json!(7),
            expect: Expect::CreateFails("invalid type: integer `7`"),
            check: None,
            bug: None,
        },
        Case {
            name: "invalid UTF-8 in a string",
            setup: |t| {
                t.write_config();
                let text = std::fs::read_to_string(t.bundle.join("config.json")).unwrap();
                let mut bytes = text.replace("\"itest\"", "\"it\u{1}\"").into_bytes();
                let at = bytes.iter().position(|b| *b == 1).expect("the hostname was replaced");
                bytes[at] = 0xff;
                raw_config(t, &bytes);
            },
            expect: Expect::CreateFails("invalid unicode"),
            check: None,
            bug: None,
        },
        Case {
            name: "unknown field nested 100000 deep (ignored, no stack overflow)",
            setup: |t| {
                t.write_config();
                let text = std::fs::read_to_string(t.bundle.join("config.json")).unwrap();
                let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
                let text = text.replacen('{', &format!("{{\"x-deep\": {deep},"), 1);
                raw_config(t, text.as_bytes());
            },
            expect: Expect::Works,
            check: None,
            bug: None,
        },
        Case {
            name: "trailing garbage after the object",
            setup: |t| {
                t.write_config();
                let mut bytes = std::fs::read(t.bundle.join("config.json")).unwrap();
                bytes.extend_from_slice(b" }{");
                raw_config(t, &bytes);
            },
            expect: Expect::CreateFails("trailing characters"),
            check: None,
            bug: None,
        },
        Case {
            name: "process.args of 300000 strings (past ARG_MAX)",
            setup: |t| {
                let huge: Vec<String> =
                    std::iter::once("true".to_string()).chain((0..300_000).map(|i| format!("argument-{i}"))).collect();
                t.config["process"]["args"] = json!(huge);
            },
            expect: Expect::StartFails("argument list too long"),
            check: None,
            bug: None,
        },
        Case {
            name: "20000 masked paths",
            setup: |t| {
                let many: Vec<String> = (0..20_000).map(|i| format!("/proc/no-such-{i}")).collect();
                linux(t)["maskedPaths"] = json!(many);
            },
            expect: Expect::Works,
            check: None,
            bug: None,
        },
        Case {
            name: "RLIMIT_NOFILE of 2^64-1",
            setup: |t| {
                t.config["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "hard": u64::MAX, "soft": u64::MAX}]);
            },
            expect: Expect::CreateFails("RLIMIT_NOFILE"),
            check: None,
            bug: None,
        },
        Case {
            name: "rlimit soft above hard",
            setup: |t| t.config["process"]["rlimits"] = json!([{"type": "RLIMIT_NPROC", "hard": 10, "soft": 20}]),
            expect: Expect::CreateFails("soft limit is above the hard limit"),
            check: None,
            bug: None,
        },
        Case {
            name: "unknown rlimit",
            setup: |t| t.config["process"]["rlimits"] = json!([{"type": "RLIMIT_BOGUS", "hard": 1, "soft": 1}]),
            expect: Expect::CreateFails("unknown rlimit \"RLIMIT_BOGUS\""),
            check: None,
            bug: None,
        },
        Case {
            name: "unknown namespace type",
            setup: |t| linux(t)["namespaces"].as_array_mut().unwrap().push(json!({"type": "bogus"})),
            expect: Expect::CreateFails("unknown namespace type \"bogus\""),
            check: None,
            bug: None,
        },
        Case {
            name: "overlapping uid mappings",
            setup: |t| {
                let l = linux(t);
                l["namespaces"].as_array_mut().unwrap().push(json!({"type": "user"}));
                l["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 1000},
                                          {"containerID": 500, "hostID": 200000, "size": 1000}]);
                l["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
            },
            expect: Expect::CreateFails("overlaps"),
            check: None,
            bug: None,
        },
        Case {
            name: "uid mapping that wraps past 2^32",
            setup: |t| {
                let l = linux(t);
                l["namespaces"].as_array_mut().unwrap().push(json!({"type": "user"}));
                l["uidMappings"] = json!([{"containerID": 0, "hostID": 4294967295u64, "size": 2}]);
                l["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
            },
            expect: Expect::CreateFails("overflows"),
            check: None,
            bug: None,
        },
        Case {
            name: "mount with a relative destination",
            setup: |t| {
                t.config["mounts"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"destination": "mnt", "type": "tmpfs", "source": "tmpfs"}))
            },
            expect: Expect::CreateFails("must be an absolute path"),
            check: None,
            bug: None,
        },
        Case {
            // The spec allows a device anywhere in the container; it must land in the rootfs.
            name: "device path outside /dev",
            setup: |t| {
                linux(t)["devices"] = json!([{"path": "/etc/null", "type": "c", "major": 1, "minor": 3}]);
            },
            expect: Expect::StaysInside,
            check: Some(|t, _| {
                assert!(!std::path::Path::new("/etc/null").exists(), "a device landed on the host");
                assert!(t.rootfs.join("etc/null").exists(), "the device is not in the rootfs");
            }),
            bug: None,
        },
        Case {
            name: "device path climbing out of /dev",
            setup: |t| {
                linux(t)["devices"] = json!([{"path": "/dev/../etc/null", "type": "c", "major": 1, "minor": 3}]);
            },
            expect: Expect::CreateFails("must not contain .."),
            check: None,
            bug: None,
        },
        Case {
            name: "hook that hangs, with a timeout",
            setup: |t| {
                let h = hook(t, "sleep 600; true", Some(1));
                t.config["hooks"] = json!({"createRuntime": [h]});
            },
            expect: Expect::CreateFails("timed out after 1s"),
            check: None,
            bug: None,
        },
        Case {
            name: "hook that hangs without reading a large state, with a timeout",
            setup: |t| {
                // The state on the hook's stdin carries the annotations: 256 KiB of them
                // is more than a pipe holds, so the runtime must not block writing it.
                t.config["annotations"] = json!({"big": "x".repeat(256 * 1024)});
                let h = hook(t, "sleep 600; true", Some(1));
                t.config["hooks"] = json!({"createRuntime": [h]});
            },
            expect: Expect::CreateFails("timed out after 1s"),
            check: None,
            bug: None,
        },
        Case {
            name: "hook with a timeout of i64::MAX seconds",
            setup: |t| {
                let h = hook(t, "true", Some(i64::MAX));
                t.config["hooks"] = json!({"createRuntime": [h]});
            },
            expect: Expect::Works,
            check: None,
            bug: None,
        },
        Case {
            name: "rootfs is a symlink to the host's /",
            setup: |t| {
                t.config["root"]["path"] = json!("to-host-root");
                symlink("/", t.bundle.join("to-host-root")).unwrap();
            },
            expect: Expect::CreateFails("resolves to the host's root directory"),
            check: None,
            bug: None,
        },
        Case {
            name: "rootfs reaches the host's / through ..",
            setup: |t| {
                let depth = t.bundle.components().count();
                t.config["root"]["path"] = json!("../".repeat(depth + 2));
            },
            expect: Expect::CreateFails("resolves to the host's root directory"),
            check: None,
            bug: None,
        },
        Case {
            name: "config.json is a FIFO",
            setup: |t| {
                let ok = std::process::Command::new("mkfifo").arg(t.bundle.join("config.json")).status();
                assert!(ok.is_ok_and(|s| s.success()), "mkfifo");
            },
            expect: Expect::CreateFails("not a regular file"),
            check: None,
            bug: None,
        },
        Case {
            name: "config.json is a character device that never ends (/dev/zero)",
            setup: |t| {
                let ok = std::process::Command::new("mknod")
                    .arg(t.bundle.join("config.json"))
                    .args(["c", "1", "5"])
                    .status();
                assert!(ok.is_ok_and(|s| s.success()), "mknod");
            },
            expect: Expect::CreateFails("not a regular file"),
            check: None,
            bug: None,
        },
        Case {
            name: "rootfs is a symlink",
            setup: |t| {
                std::fs::rename(&t.rootfs, t.bundle.join("real-rootfs")).unwrap();
                symlink("real-rootfs", &t.rootfs).unwrap();
            },
            expect: Expect::CreateFails("is a symlink"),
            check: None,
            bug: None,
        },
        Case {
            name: "mount destination through an absolute symlink to a host dir",
            setup: |t| {
                std::fs::create_dir(host_target(t)).unwrap();
                symlink(host_target(t), t.rootfs.join("escape")).unwrap();
                mount_tmpfs_at(t, "/escape/mnt");
            },
            expect: Expect::StaysInside,
            check: Some(host_target_untouched),
            bug: None,
        },
        Case {
            name: "mount destination through a ../../ symlink",
            setup: |t| {
                std::fs::create_dir(host_target(t)).unwrap();
                let up = "../".repeat(20) + &host_target(t).to_string_lossy()[1..];
                symlink(up, t.rootfs.join("up")).unwrap();
                mount_tmpfs_at(t, "/up/mnt");
            },
            expect: Expect::StaysInside,
            check: Some(host_target_untouched),
            bug: None,
        },
        Case {
            name: "mount destination with .. components",
            setup: |t| {
                std::fs::create_dir(host_target(t)).unwrap();
                let dest = "/..".repeat(20) + &host_target(t).to_string_lossy() + "/mnt";
                mount_tmpfs_at(t, &dest);
            },
            expect: Expect::StaysInside,
            check: Some(host_target_untouched),
            bug: None,
        },
        Case {
            name: "mount destination through a symlink to /etc",
            setup: |t| {
                symlink("/etc", t.rootfs.join("etcl")).unwrap();
                mount_tmpfs_at(t, "/etcl/ocirun-itest-escape");
            },
            expect: Expect::StaysInside,
            check: Some(etc_untouched),
            bug: None,
        },
        Case {
            name: "bind mount destination that is a symlink to a host dir",
            setup: |t| {
                std::fs::create_dir(host_target(t)).unwrap();
                symlink(host_target(t), t.rootfs.join("bindl")).unwrap();
                let src = t.dir.join("bind-src");
                std::fs::create_dir(&src).unwrap();
                std::fs::write(src.join("marker"), "x").unwrap();
                t.config["mounts"].as_array_mut().unwrap().push(json!({
                    "destination": "/bindl", "type": "bind", "source": src, "options": ["rbind", "ro"]
                }));
            },
            expect: Expect::StaysInside,
            check: Some(host_target_untouched),
            bug: None,
        },
    ]
}

fn mount_tmpfs_at(t: &mut Test, dest: &str) {
    t.config["mounts"].as_array_mut().unwrap().push(json!({
        "destination": dest, "type": "tmpfs", "source": "tmpfs", "options": ["size=64k"]
    }));
}

/// Runs `create` with a deadline of its own (a hook that hangs must not hang the suite): past
/// it the runtime is killed and the case fails.
fn create_bounded(t: &Test, limit: Duration) -> Outcome {
    if !t.bundle.join("config.json").exists() {
        t.write_config();
    }
    let cmd = t.command(&["create", "--bundle", &t.bundle_str(), &t.id]);
    itest::runtime::run_with_deadline(cmd, &t.dir.join("io"), limit)
}

fn run_case(case: &Case) {
    let Some(mut t) = Test::new() else { return };
    let marker = t.dir.to_string_lossy().into_owned();
    t.args(&["sleep", "600"]);
    t.config["process"]["env"].as_array_mut().unwrap().push(json!(host::marker_env(&marker)));
    // A case that fails half-way must not leave its hook or container processes running.
    let m = marker.clone();
    t.on_cleanup(move || host::kill_marked(&m));
    let mounts_before = host::host_mounts(&t.dir);
    // The harness writes config.json before each create; a case that wrote raw bytes keeps them.
    let _ = std::fs::remove_file(t.bundle.join("config.json"));
    (case.setup)(&mut t);
    let out = create_bounded(&t, Duration::from_secs(8));
    assert!(!host::crashed(&out), "the runtime crashed: {out}");
    match case.expect {
        Expect::CreateFails(text) => {
            out.expect_failure().expect_code(1);
            assert!(out.stderr.contains(text), "expected {text:?} in the message: {out}");
            let st = t.rt(&["state", &t.id]);
            assert!(st.stderr.contains("does not exist"), "a refused container was left behind: {st}");
        }
        Expect::StartFails(text) => {
            if out.code == Some(0) {
                let start = t.rt(&["start", &t.id]);
                assert!(!host::crashed(&start), "the runtime crashed: {start}");
                start.expect_failure();
                assert!(start.stderr.to_lowercase().contains(text), "expected {text:?} in the message: {start}");
            } else {
                out.expect_failure().expect_code(1);
                assert!(out.stderr.to_lowercase().contains(text), "expected {text:?} in the message: {out}");
            }
        }
        Expect::Works => {
            out.expect_ok();
            t.start().expect_ok();
        }
        Expect::StaysInside => {
            if out.code == Some(0) {
                t.start().expect_ok();
            } else {
                out.expect_failure().expect_code(1);
            }
        }
    }
    if let Some(check) = case.check {
        check(&t, &out);
    }
    let del = t.rt(&["delete", "--force", &t.id]);
    assert!(!host::crashed(&del), "the runtime crashed: {del}");
    let procs = host::wait_marked_gone(&marker, Duration::from_secs(3));
    host::kill_marked(&marker);
    assert!(procs.is_empty(), "processes left (container or hook): {procs:#?}");
    let changed = host::mount_changes(&mounts_before, &t.dir);
    assert!(changed.is_empty(), "the host's mount table changed:\n{changed}");
}

#[test]
fn hostile_bundles_are_refused_or_contained() {
    let all = cases();
    let mut failed = Vec::new();
    for case in &all {
        let started = Instant::now();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match case.bug {
            Some(bug) => host::known_bug(bug, || run_case(case)),
            None => run_case(case),
        }));
        if let Err(e) = r {
            let msg = host::panic_text(&*e);
            failed.push(format!("{}: {}", case.name, msg.lines().take(12).collect::<Vec<_>>().join("\n    ")));
        } else {
            note(&format!("ok ({:.1}s): {}", started.elapsed().as_secs_f64(), case.name));
        }
    }
    assert!(failed.is_empty(), "{} of {} hostile bundles misbehaved:\n{}", failed.len(), all.len(), failed.join("\n"));
}
