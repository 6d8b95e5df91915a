//! The default config written by `ocirun spec`: a container running `sh` with a terminal, the
//! usual namespaces and mounts, a small capability set and the kernel paths masked, the way
//! engines and `runc spec` users expect. `rootless` adapts it for an unprivileged caller.

use super::*;

fn mount(dest: &str, typ: &str, source: &str, opts: &[&str]) -> Mount {
    Mount {
        destination: dest.into(),
        typ: Some(typ.into()),
        source: Some(source.into()),
        options: opts.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// The default spec; with `rootless`, one that an unprivileged user can run as is.
pub fn spec(rootless: bool) -> Spec {
    let caps = strings(&["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    let mut mounts = vec![
        mount("/proc", "proc", "proc", &[]),
        mount("/dev", "tmpfs", "tmpfs", &["nosuid", "strictatime", "mode=755", "size=65536k"]),
        mount(
            "/dev/pts",
            "devpts",
            "devpts",
            &["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
        ),
        mount("/dev/shm", "tmpfs", "shm", &["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]),
        mount("/dev/mqueue", "mqueue", "mqueue", &["nosuid", "noexec", "nodev"]),
        mount("/sys", "sysfs", "sysfs", &["nosuid", "noexec", "nodev", "ro"]),
        mount("/sys/fs/cgroup", "cgroup", "cgroup", &["nosuid", "noexec", "nodev", "relatime", "ro"]),
    ];
    let mut namespaces: Vec<Namespace> = ["pid", "network", "ipc", "uts", "mount", "cgroup"]
        .iter()
        .map(|t| Namespace { typ: t.to_string(), path: None })
        .collect();
    let mut linux = Linux {
        masked_paths: strings(&[
            "/proc/acpi",
            "/proc/asound",
            "/proc/kcore",
            "/proc/keys",
            "/proc/latency_stats",
            "/proc/timer_list",
            "/proc/timer_stats",
            "/proc/sched_debug",
            "/sys/firmware",
            "/sys/devices/virtual/powercap",
            "/proc/scsi",
        ]),
        readonly_paths: strings(&["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]),
        resources: Some(Resources {
            devices: vec![DeviceCgroup { allow: false, access: Some("rwm".into()), ..Default::default() }],
            ..Default::default()
        }),
        ..Default::default()
    };
    if rootless {
        namespaces.retain(|n| n.typ != "network" && n.typ != "cgroup");
        namespaces.push(Namespace { typ: "user".into(), path: None });
        let uid = crate::sys::process::geteuid();
        let gid = crate::sys::process::getegid();
        linux.uid_mappings = vec![IdMapping { container_id: 0, host_id: uid, size: 1 }];
        linux.gid_mappings = vec![IdMapping { container_id: 0, host_id: gid, size: 1 }];
        linux.resources = None;
        mounts.retain(|m| m.destination != "/sys" && m.destination != "/sys/fs/cgroup");
        mounts.push(mount("/sys", "none", "/sys", &["rbind", "nosuid", "noexec", "nodev", "ro"]));
        for m in &mut mounts {
            if m.destination == "/dev/pts" {
                m.options.retain(|o| o != "gid=5");
            }
        }
    }
    linux.namespaces = namespaces;
    Spec {
        oci_version: OCI_VERSION.into(),
        root: Some(Root { path: "rootfs".into(), readonly: true }),
        mounts,
        process: Some(Process {
            terminal: true,
            cwd: "/".into(),
            env: strings(&["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"]),
            args: strings(&["sh"]),
            capabilities: Some(Capabilities {
                bounding: Some(caps.clone()),
                effective: Some(caps.clone()),
                permitted: Some(caps),
                ..Default::default()
            }),
            rlimits: vec![Rlimit { typ: "RLIMIT_NOFILE".into(), hard: 1024, soft: 1024 }],
            no_new_privileges: true,
            ..Default::default()
        }),
        hostname: Some("ocirun".into()),
        linux: Some(linux),
        ..Default::default()
    }
}
