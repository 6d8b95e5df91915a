//! `report`: one JSON object describing everything the process can see about itself.
//!
//! Each field is read the way a program inside a container would read it (syscalls and /proc),
//! so the integration tests compare what the runtime promised with what the process got. A field
//! that cannot be read becomes `{"error": errno}` instead of aborting the report.

use std::fs;

use serde_json::{json, Map, Value};

use crate::names;
use crate::sys;

/// Builds the report; `sysctls` are names like `net.ipv4.ip_forward` to read as well.
pub fn report(sysctls: &[String]) -> Value {
    let (uid, euid, suid) = sys::resuid();
    let (gid, egid, sgid) = sys::resgid();
    let (hostname, domainname) = sys::uname();
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    json!({
        "uid": uid, "euid": euid, "suid": suid,
        "gid": gid, "egid": egid, "sgid": sgid,
        "groups": sys::groups(),
        "umask": status_field(&status, "Umask").map(|u| u32::from_str_radix(&u, 8).ok()),
        "cwd": std::env::current_dir().map(|p| p.display().to_string()).ok(),
        "env": std::env::vars_os()
            .map(|(k, v)| (k.to_string_lossy().into_owned(), Value::from(v.to_string_lossy())))
            .collect::<Map<_, _>>(),
        "argv": std::env::args_os().map(|a| a.to_string_lossy().into_owned()).collect::<Vec<_>>(),
        "hostname": hostname,
        "domainname": domainname,
        "pid": std::process::id(),
        "ppid": sys::getppid(),
        "namespaces": namespaces(),
        "cgroup": lines("/proc/self/cgroup"),
        "mountinfo": lines("/proc/self/mountinfo"),
        "caps": caps(&status),
        "no_new_privs": status_field(&status, "NoNewPrivs").and_then(|v| v.parse::<u32>().ok()),
        "seccomp": status_field(&status, "Seccomp").and_then(|v| v.parse::<u32>().ok()),
        "rlimits": rlimits(),
        "fds": fds(),
        "oom_score_adj": read_trimmed("/proc/self/oom_score_adj").and_then(|v| v.parse::<i32>().ok()),
        "cpu_affinity": errno_or(sys::affinity(), |cpus| json!(cpus)),
        "personality": errno_or(sys::personality(), |p| json!(p)),
        "scheduler": errno_or(sys::scheduler(), |(policy, prio)| json!({"policy": policy, "priority": prio})),
        "ioprio": errno_or(sys::ioprio(), |p| json!(p)),
        "uid_map": read_trimmed("/proc/self/uid_map"),
        "gid_map": read_trimmed("/proc/self/gid_map"),
        "timens_offsets": read_trimmed("/proc/self/timens_offsets"),
        "sysctls": sysctls.iter().map(|s| (s.clone(), sysctl(s))).collect::<Map<_, _>>(),
        "tty": tty(),
        "clocks": clocks(),
    })
}

/// A value, or `{"error": errno, "errno_name": ...}` when the read failed.
pub fn errno_or<T>(r: Result<T, i32>, f: impl FnOnce(T) -> Value) -> Value {
    match r {
        Ok(v) => f(v),
        Err(e) => json!({"error": e, "errno_name": names::errno_name(e)}),
    }
}

fn status_field(status: &str, key: &str) -> Option<String> {
    status.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k == key).then(|| v.trim().to_string())
    })
}

fn read_trimmed(path: &str) -> Option<String> {
    fs::read_to_string(path).ok().map(|s| s.trim_end().to_string())
}

fn lines(path: &str) -> Vec<String> {
    fs::read_to_string(path).map(|s| s.lines().map(String::from).collect()).unwrap_or_default()
}

/// `{"pid": "pid:[4026531836]", ...}`; a namespace the kernel lacks is left out.
fn namespaces() -> Value {
    let mut map = Map::new();
    for ns in ["pid", "net", "mnt", "ipc", "uts", "user", "cgroup", "time"] {
        if let Ok(target) = fs::read_link(format!("/proc/self/ns/{ns}")) {
            map.insert(ns.into(), target.display().to_string().into());
        }
    }
    Value::Object(map)
}

fn caps(status: &str) -> Value {
    let mut map = Map::new();
    for (key, field) in [("inh", "CapInh"), ("prm", "CapPrm"), ("eff", "CapEff"), ("bnd", "CapBnd"), ("amb", "CapAmb")]
    {
        if let Some(hex) = status_field(status, field) {
            let mask = u64::from_str_radix(&hex, 16).unwrap_or(0);
            map.insert(key.into(), json!({"hex": hex, "names": names::cap_names(mask)}));
        }
    }
    Value::Object(map)
}

/// `{"RLIMIT_NOFILE": [soft, hard], ...}` with `null` for unlimited.
fn rlimits() -> Value {
    let limit = |v: u64| {
        if v == libc::RLIM_INFINITY {
            Value::Null
        } else {
            json!(v)
        }
    };
    names::RLIMITS
        .iter()
        .map(|&(name, res)| (name.to_string(), errno_or(sys::getrlimit(res), |(s, h)| json!([limit(s), limit(h)]))))
        .collect::<Map<_, _>>()
        .into()
}

/// Open descriptors and what they point at. The directory handle used to list /proc/self/fd is
/// closed before the links are read, so its number fails to resolve and is left out.
fn fds() -> Value {
    let numbers: Vec<String> = fs::read_dir("/proc/self/fd")
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    let mut map = Map::new();
    for n in numbers {
        if let Ok(target) = fs::read_link(format!("/proc/self/fd/{n}")) {
            map.insert(n, target.display().to_string().into());
        }
    }
    Value::Object(map)
}

fn sysctl(name: &str) -> Value {
    let path = format!("/proc/sys/{}", name.replace('.', "/"));
    match fs::read_to_string(&path) {
        Ok(v) => v.trim_end().into(),
        Err(e) => errno_or::<()>(Err(e.raw_os_error().unwrap_or(0)), |_| Value::Null),
    }
}

fn tty() -> Value {
    let size = |fd| errno_or(sys::winsize(fd), |(rows, cols)| json!({"rows": rows, "cols": cols}));
    json!({
        "stdin": sys::isatty(0),
        "stdout": sys::isatty(1),
        "size": size(if sys::isatty(1) { 1 } else { 0 }),
    })
}

/// `CLOCK_MONOTONIC` and `CLOCK_BOOTTIME` in seconds, as the process's time namespace shows them.
fn clocks() -> Value {
    let secs = |c| errno_or(sys::clock_ns(c), |ns| json!((ns / 1_000_000_000) as i64));
    json!({"monotonic": secs(libc::CLOCK_MONOTONIC), "boottime": secs(libc::CLOCK_BOOTTIME)})
}

/// `{"NAME": {"ifindex", "mtu", "up", "mac", "addresses": ["ADDR/PREFIX", ...]}}` for every
/// interface in /sys/class/net, addresses from getifaddrs.
pub fn netdevs() -> Value {
    let addrs = sys::if_addresses().unwrap_or_default();
    let mut map = Map::new();
    let names: Vec<String> = fs::read_dir("/sys/class/net")
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    for name in names {
        let attr = |a: &str| read_trimmed(&format!("/sys/class/net/{name}/{a}"));
        let flags = attr("flags").and_then(|f| u32::from_str_radix(f.trim_start_matches("0x"), 16).ok());
        let mine: Vec<String> =
            addrs.iter().filter(|(n, _, _)| *n == name).map(|(_, a, p)| format!("{a}/{p}")).collect();
        map.insert(
            name.clone(),
            json!({
                "ifindex": attr("ifindex").and_then(|v| v.parse::<u32>().ok()),
                "mtu": attr("mtu").and_then(|v| v.parse::<u32>().ok()),
                "up": flags.map(|f| f & 1 != 0),
                "mac": attr("address"),
                "addresses": mine,
            }),
        );
    }
    Value::Object(map)
}
