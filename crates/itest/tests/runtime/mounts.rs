//! Mounts beyond the basics: rootfs propagation, recursive attributes, tmpcopyup, idmapped bind
//! and tmpfs mounts, masked directories, `--no-pivot`, and a clean host mount table afterwards.

use std::os::unix::fs::{chown, MetadataExt};
use std::path::Path;
use std::process::Command;

use itest::{skip, Test};
use serde_json::{json, Value};

fn push_mount(t: &mut Test, m: Value) {
    t.config["mounts"].as_array_mut().expect("mounts").push(m);
}

/// The mountinfo line of the mount at `target` (the last one, if stacked).
fn mountinfo_line(report: &Value, target: &str) -> String {
    let lines = report["mountinfo"].as_array().expect("mountinfo");
    lines
        .iter()
        .filter_map(Value::as_str)
        .rfind(|l| l.split(' ').nth(4) == Some(target))
        .unwrap_or_else(|| panic!("{target} is not mounted: {lines:#?}"))
        .to_string()
}

/// Per-mount options (field 6) and optional fields (between field 6 and `-`) of a line.
fn opts_and_optional(line: &str) -> (Vec<String>, Vec<String>) {
    let f: Vec<&str> = line.split(' ').collect();
    let opts = f.get(5).map(|o| o.split(',').map(String::from).collect()).unwrap_or_default();
    let optional = f.iter().skip(6).take_while(|x| **x != "-").map(|s| s.to_string()).collect();
    (opts, optional)
}

/// `mount -t tmpfs` at `dir` on the host, unmounted when the test ends.
fn host_tmpfs(t: &mut Test, dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let ok = Command::new("mount").args(["-t", "tmpfs", "tmpfs"]).arg(dir).status().is_ok_and(|s| s.success());
    assert!(ok, "mount tmpfs at {}", dir.display());
    let d = dir.to_path_buf();
    t.on_cleanup(move || {
        let _ = Command::new("umount").arg(&d).status();
    });
}

#[test]
fn rootfs_propagation_values_show_in_mountinfo() {
    let Some(mut t) = Test::new() else { return };
    // "slave" only shows a master when the host mount under the rootfs is shared.
    let host_shared = std::fs::read_to_string("/proc/self/mountinfo").unwrap().lines().any(|l| {
        let f: Vec<&str> = l.split(' ').collect();
        f.get(4) == Some(&"/") && f.iter().skip(6).take_while(|x| **x != "-").any(|x| x.starts_with("shared:"))
    });
    for (prop, want) in [
        ("private", None),
        ("shared", Some("shared:")),
        ("slave", Some("master:")),
        ("unbindable", Some("unbindable")),
        ("runbindable", Some("unbindable")),
    ] {
        t.config["linux"]["rootfsPropagation"] = json!(prop);
        let r = t.report();
        let (_, optional) = opts_and_optional(&mountinfo_line(&r, "/"));
        match want {
            None => assert!(optional.is_empty(), "{prop}: / has {optional:?}"),
            Some(_) if prop == "slave" && !host_shared => {
                assert!(!optional.iter().any(|o| o.starts_with("shared:")), "{prop}: / has {optional:?}")
            }
            Some(w) => assert!(optional.iter().any(|o| o.starts_with(w)), "{prop}: / has {optional:?}, want {w}N"),
        }
    }
}

#[test]
fn recursive_attributes_reach_the_submounts_of_an_rbind() {
    let Some(mut t) = Test::new() else { return };
    let src = t.dir.join("src");
    host_tmpfs(&mut t, &src.join("sub"));
    push_mount(
        &mut t,
        json!({"destination": "/mnt", "type": "bind", "source": src,
               "options": ["rbind", "rro", "rnosuid", "rnodev", "rnoexec"]}),
    );
    let r = t.report();
    for target in ["/mnt", "/mnt/sub"] {
        let (opts, _) = opts_and_optional(&mountinfo_line(&r, target));
        for o in ["ro", "nosuid", "nodev", "noexec"] {
            assert!(opts.iter().any(|x| x == o), "{target} lacks {o}: {opts:?}");
        }
    }
    let out = t.run_reporter(&["open-write", "/mnt/sub/new"]);
    assert_eq!(out.json()["errno_name"], "EROFS", "{out}");
    assert!(!src.join("sub/new").exists());
    // A plain "ro" applies to the top mount only: the submount stays writable.
    t.config["mounts"].as_array_mut().unwrap().pop();
    push_mount(&mut t, json!({"destination": "/mnt", "type": "bind", "source": src, "options": ["rbind", "ro"]}));
    let out = t.run_reporter(&["open-write", "/mnt/sub/new"]);
    assert_eq!(out.json()["ok"], true, "{out}");
}

#[test]
fn tmpcopyup_copies_the_image_content_into_the_tmpfs() {
    let Some(mut t) = Test::new() else { return };
    std::fs::create_dir_all(t.rootfs.join("srv/deep")).unwrap();
    std::fs::write(t.rootfs.join("srv/deep/seed"), "from the image").unwrap();
    push_mount(&mut t, json!({"destination": "/srv", "type": "tmpfs", "source": "tmpfs", "options": ["tmpcopyup"]}));
    let out = t.run_reporter(&["cat", "/srv/deep/seed"]);
    assert_eq!(out.stdout, "from the image", "{out}");
    let r = t.report();
    assert!(mountinfo_line(&r, "/srv").contains(" - tmpfs "), "{}", mountinfo_line(&r, "/srv"));
    // Writes land in the tmpfs, not in the image.
    let out = t.run_reporter(&["write", "/srv/deep/seed", "changed"]);
    assert_eq!(out.json()["ok"], true, "{out}");
    assert_eq!(std::fs::read_to_string(t.rootfs.join("srv/deep/seed")).unwrap(), "from the image");
}

fn stat_of(t: &mut Test, path: &str) -> Value {
    let out = t.run_reporter(&["stat", path]);
    out.expect_ok();
    out.json()
}

#[test]
fn idmapped_bind_mounts_show_mapped_owners() {
    let Some(mut t) = Test::new() else { return };
    let src = t.dir.join("idsrc");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("f"), "x").unwrap();
    chown(src.join("f"), Some(1000), Some(1001)).unwrap();
    host_tmpfs(&mut t, &src.join("sub"));
    std::fs::write(src.join("sub/g"), "y").unwrap();
    chown(src.join("sub/g"), Some(1002), Some(1003)).unwrap();
    let maps = json!([{"containerID": 1000, "hostID": 2000, "size": 10}]);
    push_mount(
        &mut t,
        json!({"destination": "/mnt", "type": "bind", "source": src, "options": ["rbind", "ridmap"],
               "uidMappings": maps, "gidMappings": maps}),
    );
    let st = stat_of(&mut t, "/mnt/f");
    assert_eq!((st["uid"].clone(), st["gid"].clone()), (json!(2000), json!(2001)), "{st}");
    let st = stat_of(&mut t, "/mnt/sub/g");
    assert_eq!((st["uid"].clone(), st["gid"].clone()), (json!(2002), json!(2003)), "ridmap submount: {st}");
    // The host files keep their owners.
    assert_eq!(std::fs::metadata(src.join("f")).unwrap().uid(), 1000);

    // Plain idmap maps the top mount only.
    t.config["mounts"].as_array_mut().unwrap().pop();
    push_mount(
        &mut t,
        json!({"destination": "/mnt", "type": "bind", "source": src, "options": ["bind", "idmap"],
               "uidMappings": maps, "gidMappings": maps}),
    );
    let st = stat_of(&mut t, "/mnt/f");
    assert_eq!(st["uid"], 2000, "{st}");
}

#[test]
fn idmapped_tmpfs_is_owned_by_the_mapped_ids() {
    let Some(mut t) = Test::new() else { return };
    let maps = json!([{"containerID": 0, "hostID": 3000, "size": 1}]);
    push_mount(
        &mut t,
        json!({"destination": "/mnt", "type": "tmpfs", "source": "tmpfs", "options": ["idmap", "nosuid", "mode=750", "size=1m"],
               "uidMappings": maps, "gidMappings": maps}),
    );
    let st = stat_of(&mut t, "/mnt");
    assert_eq!(
        (st["uid"].clone(), st["gid"].clone(), st["mode"].clone()),
        (json!(3000), json!(3000), json!(0o750)),
        "{st}"
    );
    let r = t.report();
    let line = mountinfo_line(&r, "/mnt");
    assert!(line.contains(" - tmpfs ") && line.contains("idmapped"), "{line}");
    let (opts, _) = opts_and_optional(&line);
    assert!(opts.iter().any(|o| o == "nosuid"), "{line}");
}

#[test]
fn masked_directories_are_empty_read_only_tmpfs() {
    let Some(mut t) = Test::new() else { return };
    std::fs::create_dir_all(t.rootfs.join("srv/secret")).unwrap();
    std::fs::write(t.rootfs.join("srv/secret/key"), "k").unwrap();
    t.config["linux"]["maskedPaths"] = json!(["/srv/secret"]);
    let r = t.report();
    let line = mountinfo_line(&r, "/srv/secret");
    assert!(line.contains(" - tmpfs "), "{line}");
    assert!(opts_and_optional(&line).0.iter().any(|o| o == "ro"), "{line}");
    let out = t.run_reporter(&["ls", "/srv/secret"]);
    assert_eq!(out.json(), json!([]), "{out}");
    let out = t.run_reporter(&["open-write", "/srv/secret/new"]);
    assert_eq!(out.json()["errno_name"], "EROFS", "{out}");
}

#[test]
fn no_pivot_runs_the_container_in_its_rootfs() {
    let Some(mut t) = Test::new() else { return };
    t.reporter_args(&["report"]);
    t.write_config();
    let out = t.rt(&["run", "--no-pivot", "--bundle", &t.bundle_str(), &t.id]);
    out.expect_ok();
    let r = out.json();
    assert_eq!(r["hostname"], "itest", "{out}");
    // The reporter runs from the bundle's rootfs, not from the host's root.
    t.reporter_args(&["ls", "/"]);
    t.write_config();
    let out = t.rt(&["run", "--no-pivot", "--bundle", &t.bundle_str(), &t.id]);
    let names = out.json();
    assert!(names.as_array().unwrap().iter().any(|n| n == "bin"), "{out}");
    assert!(!names.as_array().unwrap().iter().any(|n| n == "boot" || n == "usr"), "host root visible: {out}");
}

/// The host's mount table outside any itest directory: what a leak would add to.
fn host_mounts() -> Vec<String> {
    let tmp = std::env::temp_dir().join("ocirun-itest-").to_string_lossy().into_owned();
    let mut v: Vec<String> = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            let target = *f.get(4)?;
            let source = f.iter().skip_while(|x| **x != "-").nth(2).copied().unwrap_or("");
            (!target.starts_with(&tmp)).then(|| format!("{target} {source}"))
        })
        .collect();
    v.sort();
    v
}

#[test]
fn nothing_is_left_in_the_host_mount_table_after_delete() {
    let Some(mut t) = Test::new() else { return };
    let src = t.dir.join("src");
    std::fs::create_dir_all(&src).unwrap();
    push_mount(&mut t, json!({"destination": "/mnt", "type": "bind", "source": src, "options": ["rbind", "rro"]}));
    push_mount(&mut t, json!({"destination": "/srv", "type": "tmpfs", "source": "tmpfs", "options": ["tmpcopyup"]}));
    t.config["linux"]["maskedPaths"] = json!(["/sys/firmware"]);
    let before = host_mounts();
    t.args(&["sleep", "600"]);
    t.create().expect_ok();
    t.start().expect_ok();
    t.rt(&["delete", "-f", &t.id]).expect_ok();
    let after = host_mounts();
    let added: Vec<&String> = after.iter().filter(|m| !before.contains(m)).collect();
    // A leak of this container would land in its bundle or state, or over a host system
    // path; anything else that appeared is another program's (engines run on this host too).
    let dir = t.dir.to_string_lossy().into_owned();
    let ours = |m: &&&String| {
        let target = m.split(' ').next().unwrap_or("");
        target.starts_with(&dir)
            || target.contains(&t.id)
            || ["/", "/sys", "/proc", "/dev", "/run", "/tmp", "/etc"].contains(&target)
            || target.starts_with("/sys/")
            || target.starts_with("/proc/")
            || target.starts_with("/dev/")
    };
    let leaked: Vec<&&String> = added.iter().filter(ours).collect();
    if leaked.is_empty() && !added.is_empty() {
        skip(&format!("the host mounted something unrelated meanwhile: {added:?}"));
        return;
    }
    assert!(added.is_empty(), "mounts left on the host: {added:?}");
}

#[test]
fn destinations_through_dangling_symlinks_are_made_inside_the_rootfs() {
    let Some(mut t) = Test::new() else { return };
    // An image's /etc/localtime often points at a zone file it does not ship.
    std::os::unix::fs::symlink("/usr/share/zoneinfo/Europe/Rome", t.rootfs.join("etc/localtime")).unwrap();
    std::os::unix::fs::symlink("foo/bar", t.rootfs.join("etc/relative")).unwrap();
    let src = t.dir.join("zone");
    std::fs::write(&src, "zone-data").unwrap();
    for dest in ["/etc/localtime", "/etc/relative"] {
        push_mount(&mut t, json!({"destination": dest, "type": "bind", "source": src, "options": ["bind", "ro"]}));
    }
    let r = t.report();
    mountinfo_line(&r, "/usr/share/zoneinfo/Europe/Rome");
    mountinfo_line(&r, "/etc/foo/bar");
    let out = t.run_reporter(&["cat", "/etc/localtime"]);
    assert_eq!(out.stdout, "zone-data", "{out}");
    assert!(t.rootfs.join("usr/share/zoneinfo/Europe/Rome").is_file(), "the target was not made in the rootfs");
    assert!(!Path::new("/etc/foo/bar").exists(), "a destination was made on the host");
}

#[test]
fn tmpfs_mode_is_the_option_or_the_covered_directory() {
    let Some(mut t) = Test::new() else { return };
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir(t.rootfs.join("covered")).unwrap();
    std::fs::set_permissions(t.rootfs.join("covered"), std::fs::Permissions::from_mode(0o712)).unwrap();
    push_mount(&mut t, json!({"destination": "/covered", "type": "tmpfs", "source": "tmpfs", "options": ["ro"]}));
    push_mount(&mut t, json!({"destination": "/given", "type": "tmpfs", "source": "tmpfs", "options": ["mode=1705"]}));
    for (path, mode) in [("/covered", 0o712), ("/given", 0o1705)] {
        let st = stat_of(&mut t, path);
        assert_eq!(st["mode"].as_u64().map(|m| m & 0o7777), Some(mode), "{path}: {st}");
    }
}

#[test]
fn tmpcopyup_tmpfs_on_the_root() {
    let Some(mut t) = Test::new() else { return };
    t.config["root"]["readonly"] = json!(false);
    let root = json!({"destination": "/", "type": "tmpfs", "source": "tmpfs", "options": ["tmpcopyup"]});
    t.config["mounts"].as_array_mut().unwrap().insert(0, root);
    let r = t.report();
    let line = mountinfo_line(&r, "/");
    assert!(line.contains(" - tmpfs "), "/ is not the tmpfs: {line}");
    // The reporter ran from the copy, and writes land in the tmpfs, not in the image.
    let out = t.run_reporter(&["write", "/newfile", "x"]);
    assert_eq!(out.json()["ok"], true, "{out}");
    assert!(!t.rootfs.join("newfile").exists());
}

#[test]
fn dev_null_mounted_in_a_user_namespace_keeps_its_flags() {
    let Some(mut t) = Test::new() else { return };
    t.config["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "user"}));
    t.config["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 0, "size": 65536}]);
    t.config["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 0, "size": 65536}]);
    let null = json!({"destination": "/dev/null", "type": "bind", "source": "/dev/null", "options": ["bind", "nosuid", "noexec"]});
    push_mount(&mut t, null);
    let r = t.report();
    let (opts, _) = opts_and_optional(&mountinfo_line(&r, "/dev/null"));
    assert!(opts.contains(&"nosuid".to_string()) && opts.contains(&"noexec".to_string()), "{opts:?}");
    let out = t.run_reporter(&["write", "/dev/null", "x"]);
    assert_eq!(out.json()["ok"], true, "{out}");
}

#[test]
fn bind_sources_behind_a_private_host_directory_in_a_user_namespace() {
    let Some(mut t) = Test::new() else { return };
    t.config["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "user"}));
    t.config["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    t.config["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    // The container's root (host uid 100000) cannot search the 0700 directory above the
    // sources; the runtime (host root) can, and crun and runc mount them.
    use std::os::unix::fs::PermissionsExt;
    let private = t.dir.join("private");
    std::fs::create_dir_all(private.join("dir")).unwrap();
    std::fs::write(private.join("dir/content"), "behind-0700").unwrap();
    std::os::unix::fs::symlink(private.join("dir"), private.join("link")).unwrap();
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).unwrap();
    for (dest, src) in [("/direct", "dir"), ("/through-link", "link")] {
        // The image (owned by host root) already has the mount points.
        std::fs::create_dir(t.rootfs.join(&dest[1..])).unwrap();
        let src = private.join(src);
        push_mount(&mut t, json!({"destination": dest, "type": "bind", "source": src, "options": ["rbind", "ro"]}));
    }
    for dest in ["/direct", "/through-link"] {
        let out = t.run_reporter(&["cat", &format!("{dest}/content")]);
        assert_eq!(out.stdout, "behind-0700", "{out}");
    }
    let r = t.report();
    let (opts, _) = opts_and_optional(&mountinfo_line(&r, "/direct"));
    assert!(opts.contains(&"ro".to_string()), "{opts:?}");
}

#[test]
fn idmapped_bind_mounts_with_their_own_mappings_in_a_user_namespace() {
    let Some(mut t) = Test::new() else { return };
    t.config["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "user"}));
    t.config["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    t.config["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    std::fs::create_dir(t.rootfs.join("foo")).unwrap();
    let src = t.dir.join("idsrc");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("f"), "x").unwrap();
    chown(src.join("f"), Some(0), Some(0)).unwrap();
    // Host 0 on disk shows as host 100000 + n on the mount, i.e. as n in the container.
    for (offset, want) in [(0, 0), (1, 1)] {
        for opt in ["idmap", "ridmap"] {
            let maps = json!([{"containerID": 0, "hostID": 100000 + offset, "size": 10}]);
            t.config["mounts"].as_array_mut().unwrap().retain(|m| m["destination"] != "/foo");
            push_mount(
                &mut t,
                json!({"destination": "/foo", "type": "bind", "source": src, "options": ["bind", "ro", opt],
                       "uidMappings": maps, "gidMappings": maps}),
            );
            let st = stat_of(&mut t, "/foo/f");
            assert_eq!((st["uid"].clone(), st["gid"].clone()), (json!(want), json!(want)), "{opt} +{offset}: {st}");
        }
    }
}

#[test]
fn a_bind_mount_on_the_root_becomes_the_root() {
    let Some(mut t) = Test::new() else { return };
    t.config["root"]["readonly"] = json!(false);
    // Another tree, holding the reporter and a marker the image lacks.
    let other = t.dir.join("other");
    std::fs::create_dir_all(other.join("bin")).unwrap();
    std::fs::copy(t.rootfs.join(&itest::REPORTER[1..]), other.join(&itest::REPORTER[1..])).unwrap();
    std::fs::write(other.join("marker"), "other-root").unwrap();
    let root = json!({"destination": "/", "type": "bind", "source": other, "options": ["bind"]});
    t.config["mounts"].as_array_mut().unwrap().insert(0, root);
    let out = t.run_reporter(&["cat", "/marker"]);
    assert_eq!(out.stdout, "other-root", "{out}");
}

#[test]
fn rootfs_propagation_under_a_shared_host_mount() {
    let Some(mut t) = Test::new() else { return };
    // On most hosts (systemd) the rootfs sits under a shared mount; make it so here, on the
    // rootfs itself, so a slave root has a master to show and leaks would reach the host.
    let rootfs = t.rootfs.clone();
    let ok = Command::new("mount").arg("--bind").arg(&rootfs).arg(&rootfs).status().is_ok_and(|s| s.success())
        && Command::new("mount").arg("--make-shared").arg(&rootfs).status().is_ok_and(|s| s.success());
    let cleanup_root = rootfs.clone();
    t.on_cleanup(move || {
        for _ in 0..10 {
            if itest::cleanup::mounts_under(&cleanup_root).is_empty() {
                break;
            }
            itest::cleanup::unmount_all_under(&cleanup_root);
        }
    });
    assert!(ok, "make {} a shared mount", rootfs.display());
    for (prop, want, unwanted) in [
        ("private", None, Some("master:")),
        ("rprivate", None, Some("master:")),
        ("slave", Some("master:"), Some("shared:")),
        ("rslave", Some("master:"), Some("shared:")),
        ("shared", Some("shared:"), None),
        ("unbindable", Some("unbindable"), Some("shared:")),
    ] {
        t.config["linux"]["rootfsPropagation"] = json!(prop);
        let r = t.report();
        let (_, optional) = opts_and_optional(&mountinfo_line(&r, "/"));
        if let Some(w) = want {
            assert!(optional.iter().any(|o| o.starts_with(w)), "{prop}: / has {optional:?}, want {w}");
        } else {
            assert!(optional.is_empty(), "{prop}: / has {optional:?}");
        }
        if let Some(u) = unwanted {
            assert!(!optional.iter().any(|o| o.starts_with(u)), "{prop}: / has {optional:?}");
        }
        let on_host = itest::cleanup::mounts_under(&rootfs);
        assert_eq!(on_host, std::slice::from_ref(&rootfs), "{prop}: the container's mounts reached the host");
    }
}

#[test]
fn idmapped_bind_mounts_without_mappings_take_the_containers_in_a_user_namespace() {
    let Some(mut t) = Test::new() else { return };
    t.config["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "user"}));
    t.config["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    t.config["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    std::fs::create_dir(t.rootfs.join("foo")).unwrap();
    let src = t.dir.join("idsrc");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("f"), "x").unwrap();
    chown(src.join("f"), Some(7), Some(8)).unwrap();
    // Host 7 on disk maps through the container's own mapping: it shows as 7 inside.
    push_mount(&mut t, json!({"destination": "/foo", "type": "bind", "source": src, "options": ["bind", "idmap"]}));
    let st = stat_of(&mut t, "/foo/f");
    assert_eq!((st["uid"].clone(), st["gid"].clone()), (json!(7), json!(8)), "{st}");
}
