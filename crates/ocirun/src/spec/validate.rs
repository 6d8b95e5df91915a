//! Validation of a parsed [`Spec`]: everything that can be checked before any process is
//! created, so a bad config fails with the field's name and nothing to clean up.

use crate::error::SpecError;
use crate::spec::{Linux, Spec};

/// Namespace type names in the spec, with their `CLONE_NEW*` flag.
pub const NAMESPACES: [(&str, i32); 8] = [
    ("user", libc::CLONE_NEWUSER),
    ("pid", libc::CLONE_NEWPID),
    ("network", libc::CLONE_NEWNET),
    ("ipc", libc::CLONE_NEWIPC),
    ("uts", libc::CLONE_NEWUTS),
    ("mount", libc::CLONE_NEWNS),
    ("cgroup", libc::CLONE_NEWCGROUP),
    ("time", libc::CLONE_NEWTIME),
];

/// The `CLONE_NEW*` flag for a namespace type name.
pub fn namespace_flag(name: &str) -> Option<i32> {
    NAMESPACES.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

/// Check a spec for everything that does not need the kernel.
pub fn validate(spec: &Spec) -> Result<(), SpecError> {
    if spec.oci_version.is_empty() {
        return Err(SpecError::new("ociVersion", "missing: set it to the spec version, e.g. \"1.2.0\""));
    }
    if !spec.oci_version.starts_with("1.") {
        return Err(SpecError::new(
            "ociVersion",
            format!("{:?} is not supported: this runtime implements 1.x", spec.oci_version),
        ));
    }
    match &spec.root {
        None => return Err(SpecError::new("root", "missing: a container needs a root filesystem")),
        Some(r) if r.path.is_empty() => return Err(SpecError::new("root.path", "empty")),
        Some(r)
            if r.readonly && !spec.linux.as_ref().is_some_and(|l| l.namespaces.iter().any(|n| n.typ == "mount")) =>
        {
            // Making the root read-only takes a mount: without a mount namespace of its own
            // it would be a read-only bind mount left on the host's rootfs directory.
            return Err(SpecError::new(
                "root.readonly",
                "a read-only root needs a mount namespace: add {\"type\": \"mount\"} to linux.namespaces or set readonly to false",
            ));
        }
        _ => {}
    }
    if let Some(p) = &spec.process {
        validate_process(p)?;
    }
    validate_rest(spec)
}

/// Check a `process` object (of config.json or of an exec process.json).
pub fn validate_process(p: &crate::spec::Process) -> Result<(), SpecError> {
    {
        if p.args.is_empty() {
            return Err(SpecError::new("process.args", "empty: give at least the program to run"));
        }
        if !p.cwd.starts_with('/') {
            return Err(SpecError::new("process.cwd", format!("{:?} must be an absolute path", p.cwd)));
        }
        for (i, e) in p.env.iter().enumerate() {
            if !e.contains('=') {
                return Err(SpecError::new(format!("process.env[{i}]"), format!("{e:?} is not KEY=value")));
            }
        }
        for (i, r) in p.rlimits.iter().enumerate() {
            if crate::init::rlimits::resource(&r.typ).is_none() {
                return Err(SpecError::new(
                    format!("process.rlimits[{i}].type"),
                    format!("unknown rlimit {:?}", r.typ),
                ));
            }
            if r.soft > r.hard {
                return Err(SpecError::new(format!("process.rlimits[{i}]"), "soft limit is above the hard limit"));
            }
        }
        if let Some(c) = &p.capabilities {
            for (set, list) in [
                ("bounding", &c.bounding),
                ("effective", &c.effective),
                ("inheritable", &c.inheritable),
                ("permitted", &c.permitted),
                ("ambient", &c.ambient),
            ] {
                for (i, name) in list.iter().flatten().enumerate() {
                    if crate::init::caps::number(name).is_none() {
                        return Err(SpecError::new(
                            format!("process.capabilities.{set}[{i}]"),
                            format!("unknown capability {name:?}"),
                        ));
                    }
                }
            }
        }
        if let Some(adj) = p.oom_score_adj {
            if !(-1000..=1000).contains(&adj) {
                return Err(SpecError::new("process.oomScoreAdj", format!("{adj} is outside -1000..=1000")));
            }
        }
        if let Some(s) = &p.scheduler {
            validate_scheduler(s, &DeadlinePeriods::from_host())?;
        }
    }
    Ok(())
}

/// The period bounds the kernel allows a SCHED_DEADLINE task, in ns
/// (`kernel.sched_deadline_period_{min,max}_us`).
struct DeadlinePeriods {
    min: u64,
    max: u64,
}

impl DeadlinePeriods {
    fn from_host() -> Self {
        let read = |name: &str, default: u64| {
            std::fs::read_to_string(format!("/proc/sys/kernel/sched_deadline_period_{name}_us"))
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(default)
        };
        // The kernel's defaults: 100 us and 2^22 us (about 4.2 s).
        DeadlinePeriods { min: read("min", 100) * 1000, max: read("max", 1 << 22) * 1000 }
    }
}

/// Check `process.scheduler` as sched_setattr(2) would, so a bad value is refused before clone
/// with the field named instead of the kernel's bare EINVAL from inside the container.
fn validate_scheduler(s: &crate::spec::Scheduler, periods: &DeadlinePeriods) -> Result<(), SpecError> {
    let f = |name: &str| format!("process.scheduler.{name}");
    let realtime = matches!(s.policy.as_str(), "SCHED_FIFO" | "SCHED_RR");
    let deadline = s.policy == "SCHED_DEADLINE";
    if !realtime && !deadline && !matches!(s.policy.as_str(), "SCHED_OTHER" | "SCHED_BATCH" | "SCHED_IDLE") {
        return Err(SpecError::new(f("policy"), format!("unknown policy {:?}", s.policy)));
    }
    if let Some(n) = s.nice {
        if !(-20..=19).contains(&n) {
            return Err(SpecError::new(f("nice"), format!("{n} is outside -20..=19")));
        }
    }
    match s.priority.unwrap_or(0) {
        p if realtime && !(1..=99).contains(&p) => {
            return Err(SpecError::new(f("priority"), format!("{p} is outside 1..=99, the range of {}", s.policy)))
        }
        p if !realtime && p != 0 => {
            return Err(SpecError::new(
                f("priority"),
                format!("{p}: only SCHED_FIFO and SCHED_RR take a priority (it must be 0 for {})", s.policy),
            ))
        }
        _ => {}
    }
    if !deadline {
        for (name, v) in [("runtime", s.runtime), ("deadline", s.deadline), ("period", s.period)] {
            if v.is_some_and(|v| v != 0) {
                return Err(SpecError::new(f(name), format!("only SCHED_DEADLINE takes a {name}, not {}", s.policy)));
            }
        }
        return Ok(());
    }
    let (runtime, dl) = (s.runtime.unwrap_or(0), s.deadline.unwrap_or(0));
    // A period of 0 means "equal to the deadline".
    let period = s.period.filter(|p| *p != 0).unwrap_or(dl);
    if dl == 0 {
        return Err(SpecError::new(f("deadline"), "missing or 0: SCHED_DEADLINE needs a deadline (ns)"));
    }
    if runtime < 1024 {
        return Err(SpecError::new(f("runtime"), format!("{runtime} ns is below the kernel's minimum of 1024 ns")));
    }
    if runtime > dl {
        return Err(SpecError::new(f("runtime"), format!("{runtime} ns is above the deadline ({dl} ns)")));
    }
    if period < dl {
        return Err(SpecError::new(f("period"), format!("{period} ns is below the deadline ({dl} ns)")));
    }
    if period < periods.min || period > periods.max {
        return Err(SpecError::new(
            f("period"),
            format!(
                "{period} ns is outside {}..={} ns (kernel.sched_deadline_period_min_us and _max_us; without a period the deadline is the period)",
                periods.min, periods.max
            ),
        ));
    }
    Ok(())
}

fn validate_rest(spec: &Spec) -> Result<(), SpecError> {
    for (i, m) in spec.mounts.iter().enumerate() {
        if !m.destination.starts_with('/') {
            return Err(SpecError::new(
                format!("mounts[{i}].destination"),
                format!("{:?} must be an absolute path", m.destination),
            ));
        }
    }
    if let Some(h) = &spec.hooks {
        for (kind, list) in [
            ("prestart", &h.prestart),
            ("createRuntime", &h.create_runtime),
            ("createContainer", &h.create_container),
            ("startContainer", &h.start_container),
            ("poststart", &h.poststart),
            ("poststop", &h.poststop),
        ] {
            for (i, hook) in list.iter().enumerate() {
                if !hook.path.starts_with('/') {
                    return Err(SpecError::new(
                        format!("hooks.{kind}[{i}].path"),
                        format!("{:?} must be an absolute path", hook.path),
                    ));
                }
                if matches!(hook.timeout, Some(t) if t <= 0) {
                    return Err(SpecError::new(format!("hooks.{kind}[{i}].timeout"), "must be greater than zero"));
                }
            }
        }
    }
    if let Some(l) = &spec.linux {
        validate_linux(spec, l)?;
    }
    Ok(())
}

fn validate_linux(spec: &Spec, l: &Linux) -> Result<(), SpecError> {
    let mut seen = Vec::new();
    for (i, ns) in l.namespaces.iter().enumerate() {
        if namespace_flag(&ns.typ).is_none() {
            return Err(SpecError::new(
                format!("linux.namespaces[{i}].type"),
                format!("unknown namespace type {:?}", ns.typ),
            ));
        }
        if seen.contains(&ns.typ.as_str()) {
            return Err(SpecError::new(
                format!("linux.namespaces[{i}].type"),
                format!("namespace {:?} is listed twice", ns.typ),
            ));
        }
        if let Some(p) = &ns.path {
            if !p.starts_with('/') {
                return Err(SpecError::new(
                    format!("linux.namespaces[{i}].path"),
                    format!("{p:?} must be an absolute path"),
                ));
            }
        }
        seen.push(ns.typ.as_str());
    }
    let has_new = |t: &str| l.namespaces.iter().any(|n| n.typ == t);
    let userns = has_new("user");
    if (!l.uid_mappings.is_empty() || !l.gid_mappings.is_empty()) && !userns {
        return Err(SpecError::new("linux.uidMappings", "mappings need a user namespace in linux.namespaces"));
    }
    for (name, maps) in [("uidMappings", &l.uid_mappings), ("gidMappings", &l.gid_mappings)] {
        check_mappings(&format!("linux.{name}"), maps)?;
    }
    if !l.time_offsets.is_empty() && !has_new("time") {
        return Err(SpecError::new("linux.timeOffsets", "time offsets need a time namespace in linux.namespaces"));
    }
    for k in l.time_offsets.keys() {
        if k != "monotonic" && k != "boottime" {
            return Err(SpecError::new(
                format!("linux.timeOffsets.{k}"),
                "only monotonic and boottime clocks can be offset",
            ));
        }
    }
    if (spec.hostname.is_some() || spec.domainname.is_some()) && !has_new("uts") {
        return Err(SpecError::new("hostname", "setting the hostname needs a uts namespace in linux.namespaces"));
    }
    for (key, value) in &l.sysctl {
        check_sysctl(key, &has_new)?;
        check_uts_sysctl(spec, key, value)?;
    }
    for (i, d) in l.devices.iter().enumerate() {
        if !matches!(d.typ.as_str(), "c" | "b" | "u" | "p") {
            return Err(SpecError::new(
                format!("linux.devices[{i}].type"),
                format!("{:?} is not one of c, b, u, p", d.typ),
            ));
        }
        // The spec lets a device live anywhere in the container, but not at its root.
        if !d.path.starts_with('/') || d.path.trim_matches('/').is_empty() {
            return Err(SpecError::new(
                format!("linux.devices[{i}].path"),
                format!("{:?} must be an absolute path below /", d.path),
            ));
        }
        if d.path.split('/').any(|c| c == "..") {
            return Err(SpecError::new(
                format!("linux.devices[{i}].path"),
                format!("{:?} must not contain ..", d.path),
            ));
        }
        if d.typ != "p" && (d.major.is_none() || d.minor.is_none()) {
            return Err(SpecError::new(
                format!("linux.devices[{i}]"),
                "major and minor are required for c, b and u devices",
            ));
        }
    }
    if let Some(p) = &l.rootfs_propagation {
        if crate::init::mounts::propagation_flag(p).is_none() {
            return Err(SpecError::new("linux.rootfsPropagation", format!("{p:?} is not a propagation mode")));
        }
    }
    if !l.net_devices.is_empty() && !l.namespaces.iter().any(|n| n.typ == "network") {
        return Err(SpecError::new(
            "linux.netDevices",
            "moving network devices needs a network namespace in linux.namespaces",
        ));
    }
    let mut inside = std::collections::BTreeSet::new();
    for (host, dev) in &l.net_devices {
        let name = dev.name.as_deref().unwrap_or(host);
        for (field, n) in
            [(format!("linux.netDevices.{host}"), host.as_str()), (format!("linux.netDevices.{host}.name"), name)]
        {
            if !valid_ifname(n) {
                return Err(SpecError::new(
                    field,
                    format!(
                        "{n:?} is not a valid interface name (1 to 15 bytes, no '/', ':' or whitespace, not . or ..)"
                    ),
                ));
            }
        }
        if !inside.insert(name) {
            return Err(SpecError::new(
                format!("linux.netDevices.{host}.name"),
                format!("two devices would be called {name:?} in the container"),
            ));
        }
    }
    if let Some(p) = &l.personality {
        if p.domain != "LINUX" && p.domain != "LINUX32" {
            return Err(SpecError::new("linux.personality.domain", format!("{:?} is not LINUX or LINUX32", p.domain)));
        }
    }
    Ok(())
}

/// The kernel's rule for interface names (`dev_valid_name`).
fn valid_ifname(n: &str) -> bool {
    !n.is_empty()
        && n.len() < 16
        && n != "."
        && n != ".."
        && !n.bytes().any(|b| b == b'/' || b == b':' || b.is_ascii_whitespace())
}

fn check_mappings(field: &str, maps: &[crate::spec::IdMapping]) -> Result<(), SpecError> {
    for (i, m) in maps.iter().enumerate() {
        if m.size == 0 {
            return Err(SpecError::new(format!("{field}[{i}].size"), "must be greater than zero"));
        }
        if m.container_id.checked_add(m.size).is_none() || m.host_id.checked_add(m.size).is_none() {
            return Err(SpecError::new(format!("{field}[{i}]"), "range overflows 32 bits"));
        }
        for (j, o) in maps.iter().enumerate().take(i) {
            let overlap = |a: u32, b: u32| a < b + o.size.min(u32::MAX - b) && b < a + m.size.min(u32::MAX - a);
            if overlap(m.container_id, o.container_id) || overlap(m.host_id, o.host_id) {
                return Err(SpecError::new(format!("{field}[{i}]"), format!("overlaps {field}[{j}]")));
            }
        }
    }
    Ok(())
}

fn check_sysctl(key: &str, has_ns: &dyn Fn(&str) -> bool) -> Result<(), SpecError> {
    let field = format!("linux.sysctl.{key}");
    if key.contains('/') && (key.contains("..") || key.starts_with('/'))
        || key.split('.').any(|c| c.is_empty() || c == "..")
    {
        return Err(SpecError::new(field, "not a valid sysctl name: it contains an invalid path"));
    }
    let ipc = key.starts_with("kernel.shm")
        || key.starts_with("kernel.msg")
        || key == "kernel.sem"
        || key.starts_with("fs.mqueue.");
    if ipc {
        if !has_ns("ipc") {
            return Err(SpecError::new(field, "an ipc sysctl needs an ipc namespace in linux.namespaces"));
        }
        return Ok(());
    }
    if key.starts_with("net.") {
        if !has_ns("network") {
            return Err(SpecError::new(field, "a net sysctl needs a network namespace in linux.namespaces"));
        }
        return Ok(());
    }
    if key == "kernel.hostname" || key == "kernel.domainname" {
        if !has_ns("uts") {
            return Err(SpecError::new(field, "a uts sysctl needs a uts namespace in linux.namespaces"));
        }
        return Ok(());
    }
    Err(SpecError::new(field, "not namespaced: it would change the host; only ipc, net and uts sysctls are allowed"))
}

/// The uts sysctls overlap the `hostname` and `domainname` fields; as crun and runc do, the
/// hostname is only ever set through its field, and a domainname sysctl must agree with the field.
fn check_uts_sysctl(spec: &Spec, key: &str, value: &str) -> Result<(), SpecError> {
    let field = format!("linux.sysctl.{key}");
    if key == "kernel.hostname" {
        return Err(SpecError::new(field, "conflicts with the hostname field, set that instead"));
    }
    if key == "kernel.domainname" && spec.domainname.as_deref().is_some_and(|d| d != value) {
        return Err(SpecError::new(field, "conflicts with the domainname field, which has another value"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Spec {
        let mut s = crate::spec::default::spec(false);
        if let Some(p) = s.process.as_mut() {
            p.args = vec!["/bin/true".into()];
        }
        s
    }

    #[test]
    fn scheduler_deadline_rules_name_the_field() {
        let periods = DeadlinePeriods { min: 100_000, max: 4_194_304_000 };
        let dl = |runtime, deadline, period| crate::spec::Scheduler {
            policy: "SCHED_DEADLINE".into(),
            runtime: Some(runtime),
            deadline: Some(deadline),
            period: Some(period),
            ..Default::default()
        };
        let field = |s: &crate::spec::Scheduler| validate_scheduler(s, &periods).map_err(|e| e.field);
        assert_eq!(field(&dl(100_000, 1_000_000, 1_000_000)), Ok(()));
        assert_eq!(field(&dl(100_000, 1_000_000, 0)), Ok(()));
        assert_eq!(field(&dl(100, 1_000_000, 1_000_000)), Err("process.scheduler.runtime".into()));
        assert_eq!(field(&dl(2_000_000, 1_000_000, 1_000_000)), Err("process.scheduler.runtime".into()));
        assert_eq!(field(&dl(100_000, 0, 1_000_000)), Err("process.scheduler.deadline".into()));
        assert_eq!(field(&dl(100_000, 1_000_000, 500_000)), Err("process.scheduler.period".into()));
        assert_eq!(field(&dl(10_000, 50_000, 50_000)), Err("process.scheduler.period".into()));
        assert_eq!(field(&dl(100_000, 1_000_000, 5_000_000_000)), Err("process.scheduler.period".into()));
        let mut prio = dl(100_000, 1_000_000, 0);
        prio.priority = Some(10);
        assert_eq!(field(&prio), Err("process.scheduler.priority".into()));
        let other = |policy: &str, priority, runtime| crate::spec::Scheduler {
            policy: policy.into(),
            priority,
            runtime,
            ..Default::default()
        };
        assert_eq!(field(&other("SCHED_FIFO", Some(50), None)), Ok(()));
        assert_eq!(field(&other("SCHED_FIFO", Some(0), None)), Err("process.scheduler.priority".into()));
        assert_eq!(field(&other("SCHED_OTHER", Some(5), None)), Err("process.scheduler.priority".into()));
        assert_eq!(field(&other("SCHED_BATCH", None, Some(10))), Err("process.scheduler.runtime".into()));
        assert_eq!(field(&other("SCHED_FOO", None, None)), Err("process.scheduler.policy".into()));
    }

    #[test]
    fn default_is_valid() {
        validate(&base()).expect("default spec validates");
    }

    #[test]
    fn sysctl_rules() {
        let mut s = base();
        s.linux.as_mut().unwrap().sysctl.insert("net.ipv4.ip_forward".into(), "1".into());
        assert!(validate(&s).is_ok());
        s.linux.as_mut().unwrap().namespaces.retain(|n| n.typ != "network");
        let e = validate(&s).unwrap_err();
        assert!(e.to_string().contains("network namespace"), "{e}");
        let mut s = base();
        s.linux.as_mut().unwrap().sysctl.insert("kernel.panic".into(), "1".into());
        assert!(validate(&s).unwrap_err().to_string().contains("not namespaced"));
        let mut s = base();
        s.linux.as_mut().unwrap().sysctl.insert("kernel.shmmax".into(), "1".into());
        assert!(validate(&s).is_ok());
    }

    #[test]
    fn uts_sysctls_agree_with_fields() {
        let mut s = base();
        s.linux.as_mut().unwrap().sysctl.insert("kernel.hostname".into(), "h".into());
        assert!(validate(&s).unwrap_err().to_string().contains("hostname field"));
        let mut s = base();
        s.domainname = Some("a".into());
        s.linux.as_mut().unwrap().sysctl.insert("kernel.domainname".into(), "b".into());
        assert!(validate(&s).unwrap_err().to_string().contains("domainname field"));
        s.domainname = Some("b".into());
        assert!(validate(&s).is_ok());
        s.domainname = None;
        assert!(validate(&s).is_ok());
    }

    #[test]
    fn overlapping_mappings_rejected() {
        let mut s = base();
        let l = s.linux.as_mut().unwrap();
        l.namespaces.push(crate::spec::Namespace { typ: "user".into(), path: None });
        let m = |c, h, n| crate::spec::IdMapping { container_id: c, host_id: h, size: n };
        l.uid_mappings = vec![m(0, 1000, 10), m(5, 5000, 10)];
        assert!(validate(&s).unwrap_err().to_string().contains("overlaps"));
    }

    #[test]
    fn unknown_namespace_and_relative_mount() {
        let mut s = base();
        s.linux.as_mut().unwrap().namespaces.push(crate::spec::Namespace { typ: "bogus".into(), path: None });
        assert!(validate(&s).unwrap_err().to_string().contains("linux.namespaces["));
        let mut s = base();
        s.mounts.push(crate::spec::Mount { destination: "tmp".into(), ..Default::default() });
        assert!(validate(&s).unwrap_err().to_string().contains("must be an absolute path"));
    }
}
