//! The systemd cgroup driver (`--systemd-cgroup`): the container's cgroup is a transient
//! scope unit that systemd creates, owns and accounts, instead of directories we make.
//!
//! ## The sequence
//! 1. `create` ([`Systemd::connect`]): reach systemd over its private socket
//!    (`/run/systemd/private`, peer-to-peer, root only) or the system bus, and read the
//!    manager's own `ControlGroup` so the scope's path is right even when systemd runs in a
//!    sub-tree (nested, or in a container). Failing here leaves nothing behind.
//! 2. Right after clone ([`Systemd::start_scope`]): `StartTransientUnit("<prefix>-<name>.scope",
//!    "replace", [Description, Slice, Delegate, DefaultDependencies, PIDs=[child], resources…],
//!    [])`, then wait for the job's `JobRemoved` signal and check its result. systemd refuses a
//!    scope without processes ("no PIDs"), so the scope cannot be made before the child
//!    exists; the runtime's own memory is therefore not kept out of the container's account
//!    as it is with the fs driver (the child is moved at clone, not at the end of set-up).
//! 3. The fs [`super::Manager`] then creates the same path in the hierarchies systemd does not
//!    manage (on a hybrid host: `cpuset`, `freezer`, `hugetlb`, `net_cls`, …), adds the child
//!    there, and writes every resource, including those systemd has no property for.
//! 4. `delete` ([`Systemd::stop_unit`]): `StopUnit` and `ResetFailedUnit` (a scope whose
//!    processes are gone may already have been collected: `NoSuchUnit` is success), then the
//!    fs manager removes what is left.
//!
//! ## Properties
//! [`scope_properties`] maps `linux.resources` to systemd's resource properties
//! (systemd.resource-control(5)), choosing the v2 names on a unified host and the legacy ones
//! otherwise: `MemoryMax`/`MemoryLimit`, `MemoryLow`, `MemorySwapMax`, `CPUWeight`/`CPUShares`,
//! `CPUQuotaPerSecUSec`, `CPUQuotaPeriodUSec`, `AllowedCPUs`, `AllowedMemoryNodes`, `TasksMax`,
//! `IOWeight`/`BlockIOWeight`, `DevicePolicy` and `DeviceAllow`. Passing them matters beyond
//! the first write: systemd rewrites a unit's cgroup files on reload, and would otherwise
//! write its defaults (no limits, all devices) over ours.
//!
//! Device rules cannot be expressed exactly: `DeviceAllow` is an allow list of nodes
//! (`/dev/char/1:3`) and groups from `/proc/devices` (`char-pts`, globs such as `char-*`).
//! The list we pass is a superset of the spec's rules (a deny that narrows an earlier allow is
//! dropped); the exact rules are the ones the fs manager writes underneath.

use std::path::Path;
use std::time::Duration;

use super::dbus::{Call, Connection, DbusError, Value};
use super::{CgroupError, Result};
use crate::spec::{DeviceCgroup, Resources};

/// systemd's peer-to-peer socket (root only, no bus daemon needed).
pub const PRIVATE_SOCKET: &str = "/run/systemd/private";
/// The system bus.
pub const BUS_SOCKET: &str = "/run/dbus/system_bus_socket";

const DEST: &str = "org.freedesktop.systemd1";
const PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";
const JOB_TIMEOUT: Duration = Duration::from_secs(30);

/// A connection to systemd's manager.
#[derive(Debug)]
pub struct Systemd {
    conn: Connection,
    /// Connected through a bus daemon (signals need a match rule), not peer-to-peer.
    bus: bool,
}

impl Systemd {
    /// Connect to systemd: its private socket when root, else (or if that fails) the system
    /// bus.
    pub fn connect() -> Result<Systemd> {
        Systemd::connect_at(Path::new(PRIVATE_SOCKET), Path::new(BUS_SOCKET), crate::sys::process::geteuid())
    }

    /// [`Systemd::connect`] with the socket paths given (for tests).
    pub fn connect_at(private: &Path, bus: &Path, uid: u32) -> Result<Systemd> {
        let mut first_err = None;
        if uid == 0 && private.exists() {
            match Connection::open(private, uid, false) {
                Ok(conn) => return Ok(Systemd { conn, bus: false }),
                Err(e) => first_err = Some(e),
            }
        }
        if bus.exists() {
            match Connection::open(bus, uid, true) {
                Ok(conn) => {
                    let mut s = Systemd { conn, bus: true };
                    // A bus without systemd on it (a container's own dbus-daemon) is no systemd.
                    return match s.manager_cgroup() {
                        Err(CgroupError::Systemd { source, .. })
                            if source.error_name() == Some("org.freedesktop.DBus.Error.ServiceUnknown") =>
                        {
                            Err(CgroupError::SystemdNotRunning { socket: private.to_path_buf() })
                        }
                        _ => Ok(s),
                    };
                }
                Err(e) => first_err = first_err.or(Some(e)),
            }
        }
        match first_err {
            Some(source) => Err(CgroupError::Systemd { op: "connect to systemd", unit: String::new(), source }),
            None => Err(CgroupError::SystemdNotRunning { socket: private.to_path_buf() }),
        }
    }

    fn call(&mut self, op: &'static str, unit: &str, member: &str, args: Vec<Value>) -> Result<Vec<Value>> {
        let call = Call { destination: Some(DEST), path: PATH, interface: MANAGER, member, args };
        self.conn.call(&call).map_err(|source| CgroupError::Systemd { op, unit: unit.into(), source })
    }

    /// The manager's own cgroup (`""` or `/` for a host's PID 1, `/machine.slice/…` when
    /// systemd runs inside a container without a cgroup namespace).
    pub fn manager_cgroup(&mut self) -> Result<String> {
        let call = Call {
            destination: Some(DEST),
            path: PATH,
            interface: "org.freedesktop.DBus.Properties",
            member: "Get",
            args: vec![Value::str(MANAGER), Value::str("ControlGroup")],
        };
        let body = self.conn.call(&call).map_err(|source| CgroupError::Systemd {
            op: "read the manager's ControlGroup",
            unit: String::new(),
            source,
        })?;
        Ok(body.first().and_then(Value::as_str).unwrap_or("").trim_end_matches('/').to_string())
    }

    /// Start transient unit `unit` with `props` and wait until its job is done.
    pub fn start_scope(&mut self, unit: &str, props: Vec<Value>) -> Result<()> {
        self.subscribe(unit)?;
        let args = vec![
            Value::str(unit),
            Value::str("replace"),
            Value::Array("(sv)".into(), props),
            Value::Array("(sa(sv))".into(), vec![]),
        ];
        let job = self.call("start the transient scope", unit, "StartTransientUnit", args)?;
        self.wait_job(unit, &job, "start")
    }

    /// Change `unit`'s resource properties at run time (`update`), so a later daemon reload
    /// rewrites the new limits into the cgroup rather than the ones the scope started with.
    pub fn set_unit_properties(&mut self, unit: &str, props: Vec<Value>) -> Result<()> {
        let args = vec![Value::str(unit), Value::Bool(true), Value::Array("(sv)".into(), props)];
        self.call("set the scope's properties", unit, "SetUnitProperties", args).map(|_| ())
    }

    /// Stop `unit` and forget a failed state. A unit that is already gone is not an error.
    pub fn stop_unit(&mut self, unit: &str) -> Result<()> {
        self.subscribe(unit)?;
        match self.call("stop the scope", unit, "StopUnit", vec![Value::str(unit), Value::str("replace")]) {
            Ok(job) => self.wait_job(unit, &job, "stop")?,
            Err(e) if is_no_such_unit(&e) => return Ok(()),
            Err(e) => return Err(e),
        }
        match self.call("reset the failed scope", unit, "ResetFailedUnit", vec![Value::str(unit)]) {
            Err(e) if !is_no_such_unit(&e) => Err(e),
            _ => Ok(()),
        }
    }

    /// Ask for job signals (systemd sends them only to subscribers) and, on a bus, let the
    /// daemon route them to us.
    fn subscribe(&mut self, unit: &str) -> Result<()> {
        self.call("subscribe to job signals", unit, "Subscribe", vec![])?;
        if self.bus {
            let rule = format!("type='signal',sender='{DEST}',path='{PATH}',interface='{MANAGER}',member='JobRemoved'");
            let call = Call {
                destination: Some("org.freedesktop.DBus"),
                path: "/org/freedesktop/DBus",
                interface: "org.freedesktop.DBus",
                member: "AddMatch",
                args: vec![Value::str(rule)],
            };
            self.conn.call(&call).map_err(|source| CgroupError::Systemd {
                op: "subscribe to job signals",
                unit: unit.into(),
                source,
            })?;
        }
        Ok(())
    }

    fn wait_job(&mut self, unit: &str, reply: &[Value], what: &'static str) -> Result<()> {
        let Some(job) = reply.first().and_then(Value::as_str).map(str::to_string) else {
            return Err(CgroupError::SystemdJob { unit: unit.into(), what, result: "no job path in the reply".into() });
        };
        // JobRemoved(u id, o job, s unit, s result)
        let result = self
            .conn
            .wait_signal(&format!("the {what} job of {unit}"), JOB_TIMEOUT, |m| {
                let is_job_removed = m.member.as_deref() == Some("JobRemoved")
                    && m.interface.as_deref() == Some(MANAGER)
                    && m.body.get(1).and_then(Value::as_str) == Some(job.as_str());
                is_job_removed.then(|| m.body.get(3).and_then(Value::as_str).unwrap_or("").to_string())
            })
            .map_err(|source| CgroupError::Systemd { op: "wait for the job", unit: unit.into(), source })?;
        if result == "done" {
            Ok(())
        } else {
            Err(CgroupError::SystemdJob { unit: unit.into(), what, result })
        }
    }
}

fn is_no_such_unit(e: &CgroupError) -> bool {
    matches!(e, CgroupError::Systemd { source, .. }
        if matches!(source.error_name(), Some("org.freedesktop.systemd1.NoSuchUnit" | "org.freedesktop.systemd1.LoadFailed")))
}

/// What the scope is for.
#[derive(Debug, Clone)]
pub struct ScopeSpec<'a> {
    /// The unit's description.
    pub description: String,
    /// The slice, e.g. `system.slice`.
    pub slice: &'a str,
    /// The process to put in it.
    pub pid: u32,
    /// Whether the host is pure cgroup v2 (choose the v2 property names).
    pub v2: bool,
    /// `/proc/devices`, for device group names.
    pub proc_devices: &'a str,
}

fn prop(name: &str, v: Value) -> Value {
    Value::Struct(vec![Value::str(name), Value::var(v)])
}

/// The `a(sv)` properties for `StartTransientUnit` of a scope holding `s.pid` with `r`.
pub fn scope_properties(s: &ScopeSpec<'_>, r: &Resources) -> Result<Vec<Value>> {
    let mut p = vec![
        prop("Description", Value::str(&s.description)),
        prop("Slice", Value::str(s.slice)),
        prop("Delegate", Value::Bool(true)),
        prop("DefaultDependencies", Value::Bool(false)),
        prop("PIDs", Value::Array("u".into(), vec![Value::U32(s.pid)])),
        // Accounting on for every controller systemd drives: otherwise, on v1, systemd realises
        // the scope only in the hierarchies a set limit needs and trims the directories we add
        // in the others (seen: blkio's vanishing between our mkdir and the write of the pid).
        prop("MemoryAccounting", Value::Bool(true)),
        prop("CPUAccounting", Value::Bool(true)),
        prop("TasksAccounting", Value::Bool(true)),
        prop(if s.v2 { "IOAccounting" } else { "BlockIOAccounting" }, Value::Bool(true)),
    ];
    p.extend(resource_properties(s.v2, r, Some(s.proc_devices))?);
    Ok(p)
}

/// The resource properties for what `r` sets (for `SetUnitProperties` on `update`, and the
/// resource part of [`scope_properties`]). Device properties only with `proc_devices`: an
/// empty rule list means "no device" at create, but "unchanged" in an update.
pub fn resource_properties(v2: bool, r: &Resources, proc_devices: Option<&str>) -> Result<Vec<Value>> {
    let mut p = Vec::new();
    let max = |v: i64| if v < 0 { u64::MAX } else { v as u64 };
    if let Some(m) = &r.memory {
        if let Some(l) = m.limit.filter(|l| *l != 0) {
            p.push(prop(if v2 { "MemoryMax" } else { "MemoryLimit" }, Value::U64(max(l))));
        }
        if v2 {
            if let Some(low) = m.reservation.filter(|l| *l > 0) {
                p.push(prop("MemoryLow", Value::U64(low as u64)));
            }
            match (m.swap, m.limit) {
                (Some(-1), _) => p.push(prop("MemorySwapMax", Value::U64(u64::MAX))),
                (Some(sw), Some(l)) if sw > 0 && l > 0 && sw >= l => {
                    p.push(prop("MemorySwapMax", Value::U64((sw - l) as u64)))
                }
                _ => {}
            }
        }
    }
    if let Some(c) = &r.cpu {
        if let Some(sh) = c.shares.filter(|s| *s != 0) {
            if v2 {
                let sh = sh.clamp(2, 262_144);
                p.push(prop("CPUWeight", Value::U64(1 + ((sh - 2) * 9999) / 262_142)));
            } else {
                p.push(prop("CPUShares", Value::U64(sh)));
            }
        }
        if let Some(q) = c.quota {
            let period = c.period.filter(|p| *p > 0).unwrap_or(100_000);
            let per_sec = if q <= 0 { u64::MAX } else { (q as u64).saturating_mul(1_000_000) / period };
            p.push(prop("CPUQuotaPerSecUSec", Value::U64(per_sec)));
        }
        if let Some(period) = c.period.filter(|p| *p > 0) {
            p.push(prop("CPUQuotaPeriodUSec", Value::U64(period)));
        }
        // systemd drives cpuset only on the unified hierarchy.
        if v2 {
            if let Some(cpus) = c.cpus.as_deref().filter(|c| !c.is_empty()) {
                p.push(prop("AllowedCPUs", bytes(bitmask(cpus, "linux.resources.cpu.cpus")?)));
            }
            if let Some(mems) = c.mems.as_deref().filter(|c| !c.is_empty()) {
                p.push(prop("AllowedMemoryNodes", bytes(bitmask(mems, "linux.resources.cpu.mems")?)));
            }
        }
    }
    if let Some(pids) = &r.pids {
        p.push(prop("TasksMax", Value::U64(if pids.limit <= 0 { u64::MAX } else { pids.limit as u64 })));
    }
    if let Some(w) = r.block_io.as_ref().and_then(|b| b.weight).filter(|w| *w > 0) {
        if v2 {
            let w = u64::from(w.clamp(10, 1000));
            p.push(prop("IOWeight", Value::U64(1 + ((w - 10) * 9999) / 990)));
        } else {
            p.push(prop("BlockIOWeight", Value::U64(u64::from(w))));
        }
    }
    if let Some(allow) = proc_devices.and_then(|d| device_allow(&r.devices, d)) {
        p.push(prop("DevicePolicy", Value::str("strict")));
        let list = allow.into_iter().map(|(node, acc)| Value::Struct(vec![Value::Str(node), Value::Str(acc)]));
        p.push(prop("DeviceAllow", Value::Array("(ss)".into(), list.collect())));
    }
    Ok(p)
}

fn bytes(b: Vec<u8>) -> Value {
    Value::Array("y".into(), b.into_iter().map(Value::Byte).collect())
}

/// `"0-2,5"` → bitmask bytes, bit `n % 8` of byte `n / 8` for cpu (or node) `n`.
pub fn bitmask(list: &str, field: &'static str) -> Result<Vec<u8>> {
    let bad = |reason: String| CgroupError::InvalidValue { field, reason };
    let mut out = Vec::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let num = |s: &str| s.trim().parse::<usize>().map_err(|_| bad(format!("{part:?} is not a number or a range")));
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (num(a)?, num(b)?),
            None => (num(part)?, num(part)?),
        };
        if lo > hi || hi >= 8192 {
            return Err(bad(format!("range {part:?} is reversed or beyond 8191")));
        }
        if out.len() <= hi / 8 {
            out.resize(hi / 8 + 1, 0);
        }
        for n in lo..=hi {
            out[n / 8] |= 1 << (n % 8);
        }
    }
    Ok(out)
}

/// The `DeviceAllow` list for `rules`, or `None` when the rules end up allowing every device
/// (then no device property is passed: systemd's default is no restriction).
pub fn device_allow(rules: &[DeviceCgroup], proc_devices: &str) -> Option<Vec<(String, String)>> {
    // Like the fs driver: no rule means no device (the runtime spec's default is deny-all).
    let mut allow_all = false;
    let mut list: Vec<(String, String)> = Vec::new();
    for r in rules {
        let typ = r.typ.as_deref().unwrap_or("a");
        let major = r.major.filter(|m| *m >= 0);
        let minor = r.minor.filter(|m| *m >= 0);
        let access = r.access.as_deref().unwrap_or("rwm").to_string();
        if typ == "a" && major.is_none() && minor.is_none() {
            allow_all = r.allow;
            list.clear();
            continue;
        }
        let mut nodes = Vec::new();
        for (t, class) in [("c", "char"), ("b", "block")] {
            if typ != "a" && typ != t {
                continue;
            }
            match (major, minor) {
                (Some(ma), Some(mi)) => nodes.push(format!("/dev/{class}/{ma}:{mi}")),
                (Some(ma), None) => nodes.extend(group_name(proc_devices, class, ma).map(|n| format!("{class}-{n}"))),
                (None, _) => nodes.push(format!("{class}-*")),
            }
        }
        if r.allow {
            list.extend(nodes.into_iter().map(|n| (n, access.clone())));
        } else {
            list.retain(|(n, _)| !nodes.contains(n));
        }
    }
    (!allow_all).then_some(list)
}

/// The driver's name for block or char `major` in `/proc/devices`.
fn group_name<'a>(proc_devices: &'a str, class: &str, major: i64) -> Option<&'a str> {
    let header = if class == "char" { "Character devices:" } else { "Block devices:" };
    let mut in_section = false;
    for line in proc_devices.lines() {
        let line = line.trim();
        if line.ends_with("devices:") {
            in_section = line == header;
            continue;
        }
        let mut it = line.split_whitespace();
        if in_section && it.next().and_then(|m| m.parse::<i64>().ok()) == Some(major) {
            return it.next();
        }
    }
    None
}

/// `ocirun` scope unit of a cgroup path: the last component of its path.
pub fn unit_of(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Whether the error means systemd could not be reached at all (rather than refusing).
pub fn is_unreachable(e: &CgroupError) -> bool {
    matches!(e, CgroupError::SystemdNotRunning { .. })
        || matches!(e, CgroupError::Systemd { source: DbusError::Connect { .. } | DbusError::Timeout { .. }, .. })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{BlockIo, Cpu, Memory, Pids};

    const PROC_DEVICES: &str = "Character devices:\n  1 mem\n136 pts\n\nBlock devices:\n  8 sd\n";

    fn spec(v2: bool) -> ScopeSpec<'static> {
        ScopeSpec { description: "d".into(), slice: "system.slice", pid: 42, v2, proc_devices: PROC_DEVICES }
    }

    fn get<'a>(props: &'a [Value], name: &str) -> Option<&'a Value> {
        props.iter().find_map(|p| match p {
            Value::Struct(f) if f[0] == Value::str(name) => match &f[1] {
                Value::Variant(v) => Some(&**v),
                _ => None,
            },
            _ => None,
        })
    }

    fn resources() -> Resources {
        Resources {
            memory: Some(Memory {
                limit: Some(1 << 26),
                reservation: Some(1 << 20),
                swap: Some(1 << 27),
                ..Default::default()
            }),
            cpu: Some(Cpu {
                shares: Some(1024),
                quota: Some(50_000),
                period: Some(100_000),
                cpus: Some("0-2,9".into()),
                mems: Some("0".into()),
                ..Default::default()
            }),
            pids: Some(Pids { limit: 50 }),
            block_io: Some(BlockIo { weight: Some(500), ..Default::default() }),
            ..Default::default()
        }
    }

    #[test]
    fn v2_names_and_converted_values() {
        let p = scope_properties(&spec(true), &resources()).expect("props");
        assert_eq!(get(&p, "PIDs"), Some(&Value::Array("u".into(), vec![Value::U32(42)])));
        assert_eq!(get(&p, "Delegate"), Some(&Value::Bool(true)));
        assert_eq!(get(&p, "DefaultDependencies"), Some(&Value::Bool(false)));
        assert_eq!(get(&p, "Slice"), Some(&Value::str("system.slice")));
        assert_eq!(get(&p, "MemoryMax"), Some(&Value::U64(1 << 26)));
        assert_eq!(get(&p, "MemoryLow"), Some(&Value::U64(1 << 20)));
        assert_eq!(get(&p, "MemorySwapMax"), Some(&Value::U64(1 << 26)));
        assert_eq!(get(&p, "CPUWeight"), Some(&Value::U64(39)));
        assert_eq!(get(&p, "CPUQuotaPerSecUSec"), Some(&Value::U64(500_000)));
        assert_eq!(get(&p, "CPUQuotaPeriodUSec"), Some(&Value::U64(100_000)));
        assert_eq!(get(&p, "AllowedCPUs"), Some(&bytes(vec![0b111, 0b10])));
        assert_eq!(get(&p, "AllowedMemoryNodes"), Some(&bytes(vec![1])));
        assert_eq!(get(&p, "TasksMax"), Some(&Value::U64(50)));
        assert_eq!(get(&p, "IOWeight"), Some(&Value::U64(1 + (490 * 9999) / 990)));
        assert!(get(&p, "MemoryLimit").is_none() && get(&p, "CPUShares").is_none());
        // The whole list has the type StartTransientUnit takes.
        assert_eq!(Value::Array("(sv)".into(), p).signature(), "a(sv)");
    }

    #[test]
    fn update_properties_are_the_resources_alone_and_leave_devices_unless_given() {
        let r = Resources { pids: Some(Pids { limit: 30 }), ..Default::default() };
        let p = resource_properties(true, &r, None).expect("props");
        assert_eq!(p, vec![prop("TasksMax", Value::U64(30))]);
        // At create an empty rule list is "no device"; an update without rules changes none.
        let p = resource_properties(true, &r, Some("")).expect("props");
        assert_eq!(get(&p, "DevicePolicy"), Some(&Value::str("strict")));
    }

    #[test]
    fn legacy_names_on_v1_and_hybrid() {
        let p = scope_properties(&spec(false), &resources()).expect("props");
        assert_eq!(get(&p, "MemoryLimit"), Some(&Value::U64(1 << 26)));
        assert_eq!(get(&p, "CPUShares"), Some(&Value::U64(1024)));
        assert_eq!(get(&p, "BlockIOWeight"), Some(&Value::U64(500)));
        for v2_only in ["MemoryMax", "MemoryLow", "MemorySwapMax", "CPUWeight", "IOWeight", "AllowedCPUs"] {
            assert!(get(&p, v2_only).is_none(), "{v2_only}");
        }
    }

    #[test]
    fn unlimited_values_are_infinity() {
        let r = Resources {
            memory: Some(Memory { limit: Some(-1), swap: Some(-1), ..Default::default() }),
            cpu: Some(Cpu { quota: Some(-1), ..Default::default() }),
            pids: Some(Pids { limit: 0 }),
            ..Default::default()
        };
        let p = scope_properties(&spec(true), &r).expect("props");
        for name in ["MemoryMax", "MemorySwapMax", "CPUQuotaPerSecUSec", "TasksMax"] {
            assert_eq!(get(&p, name), Some(&Value::U64(u64::MAX)), "{name}");
        }
    }

    #[test]
    fn bad_cpu_lists_are_refused() {
        for bad in ["a", "3-1", "0-99999", "1-"] {
            let e = bitmask(bad, "linux.resources.cpu.cpus").expect_err(bad);
            assert!(e.to_string().contains("linux.resources.cpu.cpus"), "{e}");
        }
        assert_eq!(bitmask("0, 8", "f").expect("ok"), vec![1, 1]);
    }

    fn rule(allow: bool, typ: &str, major: Option<i64>, minor: Option<i64>, access: &str) -> DeviceCgroup {
        DeviceCgroup { allow, typ: Some(typ.into()), major, minor, access: Some(access.into()) }
    }

    #[test]
    fn device_rules_become_an_allow_list() {
        let rules = vec![
            rule(false, "a", None, None, "rwm"),
            rule(true, "c", Some(1), Some(3), "rwm"),
            rule(true, "c", Some(136), None, "rw"),
            rule(true, "b", None, None, "m"),
            rule(true, "c", Some(10), Some(200), "rw"),
            rule(false, "c", Some(10), Some(200), "rw"),
        ];
        let list = device_allow(&rules, PROC_DEVICES).expect("strict");
        let want = [("/dev/char/1:3", "rwm"), ("char-pts", "rw"), ("block-*", "m")];
        assert_eq!(list, want.map(|(a, b)| (a.to_string(), b.to_string())));
        // No rule, or a final allow-all: systemd gets no device property at all.
        assert_eq!(device_allow(&[], PROC_DEVICES), Some(vec![]));
        assert_eq!(device_allow(&[rule(true, "a", None, None, "rwm")], PROC_DEVICES), None);
        let p = scope_properties(&spec(true), &Resources::default()).expect("props");
        assert_eq!(get(&p, "DevicePolicy"), Some(&Value::str("strict")));
    }
}
