//! Unit tests on a temporary directory tree standing in for cgroupfs.
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

static N: AtomicUsize = AtomicUsize::new(0);

/// A temporary directory removed on drop.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub(crate) fn new(tag: &str) -> TempDir {
        let n = N.fetch_add(1, Ordering::SeqCst);
        let p = std::env::temp_dir().join(format!("ocirun-cg-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }
    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

use std::collections::BTreeMap;

use super::{v1, v2, CgroupError, CgroupPath, Layout, Manager};
use crate::spec::*;
use crate::ErrorKind;

fn touch(dir: &Path, files: &[&str]) {
    std::fs::create_dir_all(dir).expect("mkdir");
    for f in files {
        std::fs::write(dir.join(f), "").expect("touch");
    }
}

fn put(path: &Path, value: &str) {
    std::fs::write(path, value).expect("write");
}

fn get(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// A fake v1 host: one "mount" per entry of `mounts` (comma-joined controllers share one),
/// listed in a mountinfo file, and the container directory `ctr` in each with `files`.
fn v1_tree(t: &TempDir, mounts: &[&str], unified: bool) -> Layout {
    let mut info = String::new();
    for (i, m) in mounts.iter().enumerate() {
        let mp = t.path().join(m);
        std::fs::create_dir_all(&mp).expect("mount dir");
        info.push_str(&format!("{} 1 0:{i} / {} rw - cgroup cgroup rw,{m}\n", 100 + i, mp.display()));
    }
    if unified {
        let mp = t.path().join("unified");
        std::fs::create_dir_all(&mp).expect("unified dir");
        info.push_str(&format!("99 1 0:99 / {} rw - cgroup2 cgroup2 rw\n", mp.display()));
    }
    let mi = t.path().join("mountinfo");
    put(&mi, &info);
    Layout::detect_at(&mi).expect("layout")
}

fn path(p: &str) -> CgroupPath {
    CgroupPath::resolve(Some(p), "x", false).expect("path")
}

const V1_FILES: &[(&str, &[&str])] = &[
    (
        "memory",
        &[
            "cgroup.procs",
            "memory.limit_in_bytes",
            "memory.memsw.limit_in_bytes",
            "memory.soft_limit_in_bytes",
            "memory.kmem.tcp.limit_in_bytes",
            "memory.swappiness",
            "memory.oom_control",
            "memory.use_hierarchy",
            "memory.usage_in_bytes",
        ],
    ),
    (
        "cpu,cpuacct",
        &[
            "cgroup.procs",
            "cpu.shares",
            "cpu.cfs_period_us",
            "cpu.cfs_quota_us",
            "cpu.cfs_burst_us",
            "cpu.rt_period_us",
            "cpu.rt_runtime_us",
            "cpu.idle",
        ],
    ),
    ("cpuset", &["cgroup.procs", "cpuset.cpus", "cpuset.mems"]),
    ("pids", &["cgroup.procs", "pids.max"]),
    (
        "blkio",
        &[
            "cgroup.procs",
            "blkio.bfq.weight",
            "blkio.bfq.weight_device",
            "blkio.throttle.read_bps_device",
            "blkio.throttle.write_bps_device",
            "blkio.throttle.read_iops_device",
            "blkio.throttle.write_iops_device",
        ],
    ),
    ("hugetlb", &["cgroup.procs", "hugetlb.2MB.limit_in_bytes"]),
    ("net_cls", &["cgroup.procs", "net_cls.classid"]),
    ("net_prio", &["cgroup.procs", "net_prio.ifpriomap"]),
    ("rdma", &["cgroup.procs", "rdma.max"]),
    ("devices", &["cgroup.procs", "devices.allow", "devices.deny"]),
    ("freezer", &["cgroup.procs", "freezer.state"]),
];

fn full_v1_host(t: &TempDir) -> Layout {
    let mounts: Vec<&str> = V1_FILES.iter().map(|(m, _)| *m).collect();
    let layout = v1_tree(t, &mounts, false);
    for (m, files) in V1_FILES {
        touch(&t.path().join(m).join("ctr"), files);
    }
    put(&t.path().join("cpuset/cpuset.cpus"), "0-1\n");
    put(&t.path().join("cpuset/cpuset.mems"), "0\n");
    layout
}

fn full_resources() -> Resources {
    Resources {
        devices: vec![DeviceCgroup {
            allow: true,
            typ: Some("c".into()),
            major: Some(1),
            minor: Some(3),
            access: Some("rwm".into()),
        }],
        memory: Some(Memory {
            limit: Some(64 << 20),
            reservation: Some(32 << 20),
            swap: Some(128 << 20),
            kernel: Some(1 << 20),
            kernel_tcp: Some(2 << 20),
            swappiness: Some(10),
            disable_oom_killer: Some(true),
            use_hierarchy: Some(true),
            check_before_update: None,
        }),
        cpu: Some(Cpu {
            shares: Some(512),
            quota: Some(50_000),
            burst: Some(1000),
            period: Some(100_000),
            realtime_runtime: Some(0),
            realtime_period: Some(1_000_000),
            cpus: Some("0".into()),
            mems: Some("0".into()),
            idle: Some(0),
        }),
        pids: Some(Pids { limit: 42 }),
        block_io: Some(BlockIo {
            weight: Some(300),
            leaf_weight: None,
            weight_device: vec![WeightDevice { major: 8, minor: 0, weight: Some(200), leaf_weight: None }],
            throttle_read_bps_device: vec![ThrottleDevice { major: 8, minor: 0, rate: 1000 }],
            throttle_write_bps_device: vec![ThrottleDevice { major: 8, minor: 0, rate: 2000 }],
            throttle_read_iops_device: vec![ThrottleDevice { major: 8, minor: 0, rate: 10 }],
            throttle_write_iops_device: vec![ThrottleDevice { major: 8, minor: 0, rate: 20 }],
        }),
        hugepage_limits: vec![HugepageLimit { page_size: "2MB".into(), limit: 4 << 20 }],
        network: Some(Network {
            class_id: Some(0x100001),
            priorities: vec![InterfacePriority { name: "eth0".into(), priority: 5 }],
        }),
        rdma: BTreeMap::from([("mlx5_0".to_string(), Rdma { hca_handles: Some(3), hca_objects: None })]),
        unified: BTreeMap::new(),
    }
}

#[test]
fn v1_every_resource_lands_in_its_file() {
    let t = TempDir::new("v1");
    let layout = full_v1_host(&t);
    let m = Manager::create(layout, path("/ctr")).expect("create");
    let ctr = |c: &str, f: &str| get(&t.path().join(c).join("ctr").join(f));
    // cpuset inherited from the parent at create time, then overwritten by apply
    assert_eq!(ctr("cpuset", "cpuset.cpus"), "0-1");
    assert_eq!(ctr("cpuset", "cpuset.mems"), "0");
    m.apply(&full_resources()).expect("apply");
    let expect = [
        ("memory", "memory.limit_in_bytes", "67108864"),
        ("memory", "memory.memsw.limit_in_bytes", "134217728"),
        ("memory", "memory.soft_limit_in_bytes", "33554432"),
        ("memory", "memory.kmem.tcp.limit_in_bytes", "2097152"),
        ("memory", "memory.swappiness", "10"),
        ("memory", "memory.oom_control", "1"),
        ("memory", "memory.use_hierarchy", "1"),
        ("cpu,cpuacct", "cpu.shares", "512"),
        ("cpu,cpuacct", "cpu.cfs_period_us", "100000"),
        ("cpu,cpuacct", "cpu.cfs_quota_us", "50000"),
        ("cpu,cpuacct", "cpu.cfs_burst_us", "1000"),
        ("cpu,cpuacct", "cpu.rt_period_us", "1000000"),
        ("cpu,cpuacct", "cpu.rt_runtime_us", "0"),
        ("cpu,cpuacct", "cpu.idle", "0"),
        ("cpuset", "cpuset.cpus", "0"),
        ("cpuset", "cpuset.mems", "0"),
        ("pids", "pids.max", "42"),
        ("blkio", "blkio.bfq.weight", "300"),
        ("blkio", "blkio.bfq.weight_device", "8:0 200"),
        ("blkio", "blkio.throttle.read_bps_device", "8:0 1000"),
        ("blkio", "blkio.throttle.write_bps_device", "8:0 2000"),
        ("blkio", "blkio.throttle.read_iops_device", "8:0 10"),
        ("blkio", "blkio.throttle.write_iops_device", "8:0 20"),
        ("hugetlb", "hugetlb.2MB.limit_in_bytes", "4194304"),
        ("net_cls", "net_cls.classid", "1048577"),
        ("net_prio", "net_prio.ifpriomap", "eth0 5"),
        ("rdma", "rdma.max", "mlx5_0 hca_handle=3"),
        // the leading "a" deny, then the rule
        ("devices", "devices.deny", "a"),
        ("devices", "devices.allow", "c 1:3 rwm"),
    ];
    for (c, f, v) in expect {
        assert_eq!(ctr(c, f), v, "{c}/{f}");
    }
    // kmem is deprecated: absent file, no error, nothing created
    assert!(!t.path().join("memory/ctr/memory.kmem.limit_in_bytes").exists());
}

#[test]
fn v1_missing_things_are_named() {
    let t = TempDir::new("v1miss");
    let layout = v1_tree(&t, &["memory", "devices"], false);
    touch(&t.path().join("memory/ctr"), &["memory.limit_in_bytes"]);
    touch(&t.path().join("devices/ctr"), &["devices.allow", "devices.deny"]);
    let m = Manager::create(layout, path("/ctr")).expect("create");

    let huge =
        Resources { hugepage_limits: vec![HugepageLimit { page_size: "2MB".into(), limit: 1 }], ..Default::default() };
    let e = m.apply(&huge).expect_err("no hugetlb");
    assert!(matches!(&e, CgroupError::ControllerUnavailable { controller, .. } if controller == "hugetlb"), "{e}");
    assert_eq!(e.kind(), ErrorKind::Unsupported);

    // an unlimited pids limit is a no-op, so a missing pids controller is fine
    m.apply(&Resources { pids: Some(Pids { limit: -1 }), ..Default::default() }).expect("no-op pids");
    let e = m.apply(&Resources { pids: Some(Pids { limit: 5 }), ..Default::default() }).expect_err("pids");
    assert!(e.to_string().contains("pids"), "{e}");

    // swap beyond the limit without memsw accounting
    let mem = Memory { limit: Some(100), swap: Some(200), ..Default::default() };
    let e = m.apply(&Resources { memory: Some(mem), ..Default::default() }).expect_err("memsw");
    assert!(e.to_string().contains("memory.memsw.limit_in_bytes"), "{e}");
    // swap equal to the limit means "no swap" and needs no memsw file
    let mem = Memory { limit: Some(100), swap: Some(100), ..Default::default() };
    m.apply(&Resources { memory: Some(mem), ..Default::default() }).expect("swap == limit");

    let unified = Resources { unified: BTreeMap::from([("memory.max".into(), "1".into())]), ..Default::default() };
    let e = m.apply(&unified).expect_err("unified on v1");
    assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");

    let bad_dev = Resources {
        devices: vec![DeviceCgroup { allow: true, typ: Some("q".into()), ..Default::default() }],
        ..Default::default()
    };
    assert_eq!(m.apply(&bad_dev).expect_err("bad device").kind(), ErrorKind::InvalidSpec);
}

#[test]
fn check_before_update_refuses_a_limit_below_usage() {
    let t = TempDir::new("cbu");
    let layout = full_v1_host(&t);
    put(&t.path().join("memory/ctr/memory.usage_in_bytes"), "1000\n");
    let m = Manager::create(layout, path("/ctr")).expect("create");
    let mem = |check| Resources {
        memory: Some(Memory { limit: Some(500), check_before_update: Some(check), ..Default::default() }),
        ..Default::default()
    };
    let e = m.update(&mem(true)).expect_err("below usage");
    assert!(matches!(e, CgroupError::LimitBelowUsage { limit: 500, usage: 1000, .. }), "{e}");
    m.update(&mem(false)).expect("no check asked");
    assert_eq!(get(&t.path().join("memory/ctr/memory.limit_in_bytes")), "500");
}

#[test]
fn hybrid_uses_the_unified_directory_for_controllers_v1_lacks() {
    let t = TempDir::new("hyb");
    let layout = v1_tree(&t, &["memory", "devices"], true);
    assert!(matches!(layout, Layout::Hybrid { .. }));
    touch(&t.path().join("memory/ctr"), &["memory.limit_in_bytes"]);
    touch(&t.path().join("devices/ctr"), &["devices.allow", "devices.deny"]);
    let u = t.path().join("unified/ctr");
    touch(&u, &["pids.max", "hugetlb.2MB.max", "hugetlb.2MB.rsvd.max", "cgroup.freeze"]);
    put(&u.join("cgroup.controllers"), "pids hugetlb\n");
    let m = Manager::create(layout, path("/ctr")).expect("create");
    let r = Resources {
        memory: Some(Memory { limit: Some(1 << 20), ..Default::default() }),
        pids: Some(Pids { limit: 7 }),
        hugepage_limits: vec![HugepageLimit { page_size: "2MB".into(), limit: 2 << 20 }],
        unified: BTreeMap::from([("cgroup.freeze".into(), "0".into())]),
        ..Default::default()
    };
    m.apply(&r).expect("apply");
    assert_eq!(get(&t.path().join("memory/ctr/memory.limit_in_bytes")), "1048576");
    assert_eq!(get(&u.join("pids.max")), "7");
    assert_eq!(get(&u.join("hugetlb.2MB.max")), "2097152");
    assert_eq!(get(&u.join("hugetlb.2MB.rsvd.max")), "2097152");
    assert_eq!(get(&u.join("cgroup.freeze")), "0");
    assert_eq!(m.dirs().len(), 3);
    assert!(m.open_v2_dir().expect("open").is_none(), "CLONE_INTO_CGROUP only on pure v2");
}

#[test]
fn v2_conversions() {
    assert_eq!(v2::shares_to_weight(2), 1);
    assert_eq!(v2::shares_to_weight(1024), 39);
    assert_eq!(v2::shares_to_weight(262_144), 10_000);
    assert_eq!(v2::shares_to_weight(1), 1, "clamped");
    assert_eq!(v2::blkio_weight_to_io_weight(10), 1);
    assert_eq!(v2::blkio_weight_to_io_weight(500), 4950);
    assert_eq!(v2::blkio_weight_to_io_weight(1000), 10_000);
    assert_eq!(v2::swap_max(Some(100), 300).expect("ok"), "200");
    assert_eq!(v2::swap_max(Some(100), -1).expect("ok"), "max");
    assert_eq!(v2::swap_max(Some(100), 100).expect("ok"), "0");
    assert!(v2::swap_max(Some(100), 50).is_err());
    assert!(v2::swap_max(None, 50).is_err());
}

/// A fake pure-v2 host with the container directory pre-populated with `files`.
fn v2_host(t: &TempDir, files: &[&str]) -> (Layout, PathBuf) {
    let root = t.path().join("cg2");
    touch(&root, &["cgroup.subtree_control"]);
    put(&root.join("cgroup.controllers"), "cpu io memory pids\n");
    let mi = t.path().join("mountinfo");
    put(&mi, &format!("1 1 0:1 / {} rw - cgroup2 cgroup2 rw\n", root.display()));
    let dir = root.join("ctr");
    touch(&dir, files);
    put(&dir.join("cgroup.controllers"), "cpu io memory pids\n");
    (Layout::detect_at(&mi).expect("layout"), dir)
}

#[test]
fn v2_files_and_values() {
    let t = TempDir::new("v2");
    let (_, d) = v2_host(
        &t,
        &[
            "memory.max",
            "memory.swap.max",
            "memory.low",
            "cpu.weight",
            "cpu.max.burst",
            "cpu.idle",
            "io.weight",
            "io.max",
        ],
    );
    put(&d.join("cpu.max"), "max 100000\n");
    let mem = Memory { limit: Some(1000), swap: Some(3000), reservation: Some(-1), ..Default::default() };
    v2::memory(&d, &mem, false).expect("memory");
    assert_eq!(get(&d.join("memory.max")), "1000");
    assert_eq!(get(&d.join("memory.swap.max")), "2000");
    assert_eq!(get(&d.join("memory.low")), "max");

    let cpu = Cpu { shares: Some(1024), quota: Some(50_000), burst: Some(7), idle: Some(1), ..Default::default() };
    v2::cpu(&d, &cpu).expect("cpu");
    assert_eq!(get(&d.join("cpu.weight")), "39");
    assert_eq!(get(&d.join("cpu.max")), "50000 100000", "period kept");
    assert_eq!(get(&d.join("cpu.max.burst")), "7");
    assert_eq!(get(&d.join("cpu.idle")), "1");
    v2::cpu(&d, &Cpu { period: Some(20_000), ..Default::default() }).expect("period only");
    assert_eq!(get(&d.join("cpu.max")), "50000 20000", "quota kept");
    v2::cpu(&d, &Cpu { quota: Some(-1), ..Default::default() }).expect("unlimited");
    assert_eq!(get(&d.join("cpu.max")), "max 20000");

    let io = BlockIo {
        weight: Some(1000),
        throttle_write_iops_device: vec![ThrottleDevice { major: 8, minor: 16, rate: 0 }],
        ..Default::default()
    };
    v2::io(&d, &io).expect("io");
    assert_eq!(get(&d.join("io.weight")), "10000");
    assert_eq!(get(&d.join("io.max")), "8:16 wiops=max");
    // with BFQ the weight is written unconverted
    touch(&d, &["io.bfq.weight"]);
    v2::io(&d, &BlockIo { weight: Some(500), ..Default::default() }).expect("bfq");
    assert_eq!(get(&d.join("io.bfq.weight")), "500");

    for (m, field) in [
        (Memory { kernel_tcp: Some(1), ..Default::default() }, "kernelTCP"),
        (Memory { swappiness: Some(1), ..Default::default() }, "swappiness"),
        (Memory { disable_oom_killer: Some(true), ..Default::default() }, "disableOOMKiller"),
    ] {
        let e = v2::memory(&d, &m, false).expect_err(field);
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        assert!(e.to_string().contains(field), "{e}");
    }
    let e = v2::cpu(&d, &Cpu { realtime_runtime: Some(5), ..Default::default() }).expect_err("rt");
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    let e = v2::io(&d, &BlockIo { leaf_weight: Some(10), ..Default::default() }).expect_err("leaf");
    assert_eq!(e.kind(), ErrorKind::Unsupported);
}

#[test]
fn v2_unified_keys_are_checked() {
    let t = TempDir::new("uni");
    let (_, d) = v2_host(&t, &["memory.high", "cgroup.procs"]);
    let one = |k: &str| BTreeMap::from([(k.to_string(), "5".to_string())]);
    v2::unified(&d, &one("memory.high")).expect("ok");
    assert_eq!(get(&d.join("memory.high")), "5");
    for bad in ["../memory.high", "a/b", "..", "", "memory.nothere", "cgroup.procs"] {
        let e = v2::unified(&d, &one(bad)).expect_err(bad);
        assert!(matches!(e, CgroupError::UnifiedKey { .. }), "{bad}: {e}");
    }
}

/// On a hybrid host a controller in use on cgroup2 can no longer be bound to v1 (and crun then
/// refuses the host until reboot): a container enables one there only when a limit needs it.
#[test]
fn hybrid_enables_a_cgroup2_controller_only_for_a_limit_that_needs_it() {
    let t = TempDir::new("hybsub");
    let layout = v1_tree(&t, &["memory", "pids", "devices"], true);
    let uroot = t.path().join("unified");
    touch(&uroot, &["cgroup.subtree_control"]);
    put(&uroot.join("cgroup.controllers"), "hugetlb\n");
    let m = Manager::create(layout.clone(), path("/a/ctr")).expect("create");
    let plain = Resources {
        memory: Some(Memory { limit: Some(1 << 20), ..Default::default() }),
        pids: Some(Pids { limit: 7 }),
        ..Default::default()
    };
    touch(&t.path().join("memory/a/ctr"), &["memory.limit_in_bytes"]);
    touch(&t.path().join("pids/a/ctr"), &["pids.max"]);
    touch(&t.path().join("devices/a/ctr"), &["devices.allow", "devices.deny"]);
    m.apply(&plain).expect("apply without hugetlb");
    assert_eq!(get(&uroot.join("cgroup.subtree_control")), "", "the cgroup2 root was changed");
    assert!(
        !uroot.join("a/cgroup.subtree_control").exists() || get(&uroot.join("a/cgroup.subtree_control")).is_empty()
    );

    // A hugetlb limit (no v1 hugetlb here) enables hugetlb from the root down, and only it.
    touch(&uroot.join("a"), &["cgroup.subtree_control"]);
    put(&uroot.join("a/cgroup.controllers"), "hugetlb\n");
    touch(&uroot.join("a/ctr"), &["hugetlb.2MB.max", "hugetlb.2MB.rsvd.max"]);
    put(&uroot.join("a/ctr/cgroup.controllers"), "hugetlb\n");
    let huge = Resources {
        hugepage_limits: vec![HugepageLimit { page_size: "2MB".into(), limit: 2 << 20 }],
        ..Default::default()
    };
    m.apply(&huge).expect("apply with hugetlb");
    assert_eq!(get(&uroot.join("cgroup.subtree_control")), "+hugetlb");
    assert_eq!(get(&uroot.join("a/cgroup.subtree_control")), "+hugetlb");
    assert_eq!(get(&uroot.join("a/ctr/hugetlb.2MB.max")), "2097152");
}

#[test]
fn v2_create_enables_controllers_in_the_parents() {
    let t = TempDir::new("v2c");
    let (layout, _) = v2_host(&t, &[]);
    let root = t.path().join("cg2");
    let m = Manager::create(layout.clone(), path("/ctr")).expect("create");
    // the fake file keeps only the last write; each controller is enabled on its own
    assert_eq!(get(&root.join("cgroup.subtree_control")), "+pids");
    assert!(m.open_v2_dir().expect("open").is_some());
    let missing =
        Resources { hugepage_limits: vec![HugepageLimit { page_size: "2MB".into(), limit: 1 }], ..Default::default() };
    let e = m.apply(&missing).expect_err("no hugetlb in cgroup.controllers");
    assert!(matches!(&e, CgroupError::ControllerUnavailable { controller, .. } if controller == "hugetlb"), "{e}");
    // a new nested path is created, outermost first
    Manager::create(layout, path("/a/b")).expect("nested");
    assert!(root.join("a/b").is_dir());
}

#[test]
fn v2_create_leaves_an_ancestor_with_processes_alone() {
    // Enabling pids there would make it a thread root and the new child "domain invalid".
    let t = TempDir::new("v2p");
    let (layout, _) = v2_host(&t, &[]);
    let own = t.path().join("cg2/own");
    touch(&own, &["cgroup.subtree_control"]);
    put(&own.join("cgroup.controllers"), "cpu pids\n");
    put(&own.join("cgroup.procs"), "4242\n");
    Manager::create(layout, path("/own/ctr")).expect("create");
    assert_eq!(get(&own.join("cgroup.subtree_control")), "");
    assert_eq!(get(&t.path().join("cg2/cgroup.subtree_control")), "+pids", "the root is always enabled");
}

#[test]
fn manager_round_trips_through_json_with_either_driver() {
    let layout = Layout::V2 { root: "/sys/fs/cgroup".into() };
    let m = Manager::load(layout.clone(), path("/ocirun/x"));
    let json = serde_json::to_string(&m).expect("serialise");
    let back: Manager = serde_json::from_str(&json).expect("deserialise");
    assert_eq!(back, m);
    let sd = CgroupPath::resolve(Some("system.slice:ocirun:x"), "x", true).expect("systemd path");
    let m = Manager::load(layout, sd);
    let back: Manager = serde_json::from_str(&serde_json::to_string(&m).expect("serialise")).expect("deserialise");
    assert_eq!(back.path().unit(), Some("ocirun-x.scope"));
}

#[test]
fn rt_budget_raises_each_ancestor_by_what_the_container_adds() {
    let t = TempDir::new("rt-budget");
    let mount = t.path().join("cpu");
    let parent = mount.join("ocirun");
    let (other, c) = (parent.join("other"), parent.join("c"));
    for (d, runtime, period) in
        [(&mount, "950000", "1000000"), (&parent, "0", "1000000"), (&other, "5000", "500000"), (&c, "0", "1000000")]
    {
        std::fs::create_dir_all(d).unwrap();
        std::fs::write(d.join("cpu.rt_runtime_us"), runtime).unwrap();
        std::fs::write(d.join("cpu.rt_period_us"), period).unwrap();
    }
    let cpu = Cpu { realtime_runtime: Some(10_000), realtime_period: Some(1_000_000), ..Default::default() };
    v1::rt_budget(&mount, &c, &cpu).expect("budget");
    // 10000 for the container plus the sibling's 5000 per 500000 us, i.e. 10000 per 1 s.
    assert_eq!(std::fs::read_to_string(parent.join("cpu.rt_runtime_us")).unwrap(), "20000");
    assert_eq!(std::fs::read_to_string(mount.join("cpu.rt_runtime_us")).unwrap(), "950000", "the root is left alone");
    // Never lowered.
    std::fs::write(parent.join("cpu.rt_runtime_us"), "900000").unwrap();
    v1::rt_budget(&mount, &c, &cpu).expect("budget");
    assert_eq!(std::fs::read_to_string(parent.join("cpu.rt_runtime_us")).unwrap(), "900000");
}
