//! Checks on the harness itself: the leak snapshot and the mount-safe removal must notice what
//! they exist to notice, or every "nothing leaked" verdict above would be hollow.

use std::process::Command;

use itest::cleanup::{mounts_under, remove_tree, unescape};
use itest::leaks::{processes_under, Snapshot};
use itest::Test;

#[test]
fn snapshot_sees_a_mount_and_removal_refuses_it() {
    let Some(t) = Test::new() else { return };
    let before = Snapshot::take(&t.dir, &t.root, std::slice::from_ref(&t.id));
    let m = t.dir.join("m");
    std::fs::create_dir(&m).unwrap();
    let ok = Command::new("mount").args(["-t", "tmpfs", "itest", m.to_str().unwrap()]).status().unwrap();
    assert!(ok.success());
    std::fs::write(m.join("precious"), "x").unwrap();
    let leaked = Snapshot::take(&t.dir, &t.root, std::slice::from_ref(&t.id)).since(&before);
    assert_eq!(leaked.mounts.into_iter().collect::<Vec<_>>(), std::slice::from_ref(&m));
    assert!(remove_tree(&t.dir).is_err(), "removal went ahead with a mount inside");
    assert!(m.join("precious").exists(), "a file under a mount was deleted");
    assert!(Command::new("umount").arg(&m).status().unwrap().success());
    assert!(mounts_under(&t.dir).is_empty());
}

#[test]
fn snapshot_sees_a_process_in_the_test_dir() {
    let Some(t) = Test::new() else { return };
    let mut child = Command::new("sleep").arg("60").current_dir(&t.dir).spawn().unwrap();
    let seen = processes_under(&t.dir);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(seen.iter().any(|p| p.starts_with(&format!("{}:", child.id()))), "{seen:?}");
}

#[test]
fn mountinfo_escapes_are_decoded() {
    assert_eq!(unescape(r"/a\040b\011c\134d"), "/a b\tc\\d");
    assert_eq!(unescape(r"/plain"), "/plain");
}
