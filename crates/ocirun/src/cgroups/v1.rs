//! `linux.resources` written to cgroup v1 controller directories, one function per controller
//! (see the kernel's `Documentation/admin-guide/cgroup-v1/`).
//!
//! Ordering matters in two places: `memory.memsw.limit_in_bytes` may never be below
//! `memory.limit_in_bytes`, and `cpu.cfs_quota_us`/`cpu.rt_runtime_us` are checked against
//! their periods; when the first write of such a pair is refused we write the pair the other
//! way round.

use std::collections::BTreeMap;
use std::path::Path;

use crate::spec::{BlockIo, Cpu, HugepageLimit, InterfacePriority, Memory, Pids, Rdma};

use super::{fs, CgroupError, Result};

/// `-1` (or any negative) is unlimited in v1 files.
fn limit(v: i64) -> String {
    if v < 0 {
        "-1".to_string()
    } else {
        v.to_string()
    }
}

/// Write `a` then `b`; if the kernel refuses `a` as inconsistent with the current `b`, write
/// `b` first.
pub(crate) fn write_pair(dir: &Path, a: (&str, &str), b: (&str, &str), field: &'static str) -> Result<()> {
    match fs::write_field(dir, a.0, a.1, field) {
        Ok(()) => fs::write_field(dir, b.0, b.1, field),
        Err(CgroupError::Write { source, .. })
            if matches!(source.raw_os_error(), Some(libc::EINVAL) | Some(libc::EBUSY)) =>
        {
            fs::write_field(dir, b.0, b.1, field)?;
            fs::write_field(dir, a.0, a.1, field)
        }
        Err(e) => Err(e),
    }
}

/// Memory; `update` enables `checkBeforeUpdate`.
pub fn memory(dir: &Path, m: &Memory, update: bool) -> Result<()> {
    const F: &str = "linux.resources.memory";
    let lim = m.limit.filter(|l| *l != 0);
    let swap = m.swap.filter(|s| *s != 0);
    if let (true, Some(true), Some(l)) = (update, m.check_before_update, lim) {
        check_usage(&dir.join("memory.usage_in_bytes"), l)?;
    }
    let memsw = "memory.memsw.limit_in_bytes";
    match (lim, swap) {
        (Some(l), Some(s)) => {
            if !dir.join(memsw).exists() && (s == l || s < 0) {
                // No swap accounting, and no swap asked for beyond the limit.
                fs::write_field(dir, "memory.limit_in_bytes", &limit(l), F)?;
            } else {
                write_pair(dir, (memsw, &limit(s)), ("memory.limit_in_bytes", &limit(l)), F)?;
            }
        }
        (Some(l), None) => fs::write_field(dir, "memory.limit_in_bytes", &limit(l), F)?,
        (None, Some(s)) => fs::write_field(dir, memsw, &limit(s), F)?,
        (None, None) => {}
    }
    if let Some(r) = m.reservation {
        fs::write_field(dir, "memory.soft_limit_in_bytes", &limit(r), F)?;
    }
    if let Some(k) = m.kernel {
        // Deprecated by the spec and removed from newer kernels: set it where it still exists.
        if dir.join("memory.kmem.limit_in_bytes").exists() {
            fs::write_field(dir, "memory.kmem.limit_in_bytes", &limit(k), F)?;
        }
    }
    if let Some(k) = m.kernel_tcp {
        fs::write_field(dir, "memory.kmem.tcp.limit_in_bytes", &limit(k), F)?;
    }
    if let Some(s) = m.swappiness {
        if s > 100 {
            return Err(CgroupError::InvalidValue {
                field: "linux.resources.memory.swappiness",
                reason: format!("{s} is above 100"),
            });
        }
        fs::write_field(dir, "memory.swappiness", &s.to_string(), F)?;
    }
    if let Some(d) = m.disable_oom_killer {
        fs::write_field(dir, "memory.oom_control", if d { "1" } else { "0" }, F)?;
    }
    if let Some(h) = m.use_hierarchy {
        fs::write_field(dir, "memory.use_hierarchy", if h { "1" } else { "0" }, F)?;
    }
    Ok(())
}

/// Refuse a limit below the current usage read from `usage_file`.
pub(crate) fn check_usage(usage_file: &Path, limit: i64) -> Result<()> {
    if limit < 0 {
        return Ok(());
    }
    if let Some(Some(usage)) = fs::read_num(usage_file)? {
        if usage > limit as u64 {
            return Err(CgroupError::LimitBelowUsage { limit, usage, path: usage_file.to_path_buf() });
        }
    }
    Ok(())
}

/// The `cpu` controller part of [`Cpu`].
pub fn cpu(dir: &Path, c: &Cpu) -> Result<()> {
    const F: &str = "linux.resources.cpu";
    if let Some(s) = c.shares.filter(|s| *s != 0) {
        fs::write_field(dir, "cpu.shares", &s.to_string(), F)?;
    }
    let quota = c.quota.map(|q| if q <= 0 { "-1".to_string() } else { q.to_string() });
    match (c.period.filter(|p| *p != 0), quota) {
        (Some(p), Some(q)) => {
            write_pair(dir, ("cpu.cfs_period_us", &p.to_string()), ("cpu.cfs_quota_us", q.as_str()), F)?
        }
        (Some(p), None) => fs::write_field(dir, "cpu.cfs_period_us", &p.to_string(), F)?,
        (None, Some(q)) => fs::write_field(dir, "cpu.cfs_quota_us", q.as_str(), F)?,
        (None, None) => {}
    }
    if let Some(b) = c.burst {
        fs::write_field(dir, "cpu.cfs_burst_us", &b.to_string(), F)?;
    }
    let rt_runtime = c.realtime_runtime.map(|r| r.to_string());
    match (c.realtime_period.filter(|p| *p != 0), rt_runtime) {
        (Some(p), Some(r)) => {
            write_pair(dir, ("cpu.rt_period_us", &p.to_string()), ("cpu.rt_runtime_us", r.as_str()), F)?
        }
        (Some(p), None) => fs::write_field(dir, "cpu.rt_period_us", &p.to_string(), F)?,
        (None, Some(r)) => fs::write_field(dir, "cpu.rt_runtime_us", r.as_str(), F)?,
        (None, None) => {}
    }
    if let Some(i) = c.idle {
        fs::write_field(dir, "cpu.idle", &i.to_string(), F)?;
    }
    Ok(())
}

/// Give each ancestor of `dir` below the hierarchy's `mount` the realtime budget its children
/// need, before `dir` asks for `realtimeRuntime`: a new v1 cpu cgroup has
/// `cpu.rt_runtime_us` 0, and the kernel refuses a child more than its parent has (our
/// `/ocirun` parent would refuse every container). An ancestor is only ever raised, by what
/// the container adds to what its other children already hold.
pub fn rt_budget(mount: &Path, dir: &Path, c: &Cpu) -> Result<()> {
    const F: &str = "linux.resources.cpu.realtimeRuntime";
    let Some(runtime) = c.realtime_runtime.filter(|r| *r > 0) else { return Ok(()) };
    let period = match c.realtime_period.filter(|p| *p != 0) {
        Some(p) => p,
        None => rt_value(dir, "cpu.rt_period_us")?.filter(|p| *p > 0).unwrap_or(1_000_000) as u64,
    };
    let Ok(rel) = dir.strip_prefix(mount) else { return Ok(()) };
    let mut chain = Vec::new();
    let mut cur = mount.to_path_buf();
    let comps: Vec<_> = rel.components().collect();
    for comp in comps.iter().take(comps.len().saturating_sub(1)) {
        cur.push(comp);
        chain.push(cur.clone());
    }
    // Bottom-up: what each ancestor must hold, as (runtime, period) shares of its children.
    let mut shares: Vec<(u64, u64)> = vec![(runtime as u64, period)];
    let mut child = dir.to_path_buf();
    let mut needs = Vec::new();
    for a in chain.iter().rev() {
        for sub in subdirs(a)?.into_iter().filter(|s| *s != child) {
            let r = rt_value(&sub, "cpu.rt_runtime_us")?.unwrap_or(0);
            let p = rt_value(&sub, "cpu.rt_period_us")?.unwrap_or(0);
            if r > 0 && p > 0 {
                shares.push((r as u64, p as u64));
            }
        }
        needs.push((a.clone(), shares.clone()));
        child = a.clone();
    }
    // Top-down: raise where short, so each write finds its own parent already raised.
    for (a, shares) in needs.iter().rev() {
        let Some(a_period) = rt_value(a, "cpu.rt_period_us")?.filter(|p| *p > 0) else { continue };
        let want: u128 = shares.iter().map(|(r, p)| (*r as u128 * a_period as u128).div_ceil(*p as u128)).sum();
        let have = rt_value(a, "cpu.rt_runtime_us")?.unwrap_or(0);
        if have >= 0 && (have as u128) < want {
            fs::write_field(a, "cpu.rt_runtime_us", &want.to_string(), F)?;
        }
    }
    Ok(())
}

/// A signed number in a v1 cpu file (`-1` is unlimited); `None` when the file is absent.
fn rt_value(dir: &Path, file: &str) -> Result<Option<i64>> {
    let path = dir.join(file);
    let Some(s) = fs::read_opt(&path)? else { return Ok(None) };
    Ok(s.trim().parse().ok())
}

/// The child cgroups of `dir`.
fn subdirs(dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(|source| CgroupError::Read { path: dir.to_path_buf(), source })?;
    Ok(entries.flatten().filter(|e| e.file_type().is_ok_and(|t| t.is_dir())).map(|e| e.path()).collect())
}

/// The `cpuset` part of [`Cpu`].
pub fn cpuset(dir: &Path, c: &Cpu) -> Result<()> {
    if let Some(cpus) = c.cpus.as_deref().filter(|s| !s.is_empty()) {
        fs::write_field(dir, "cpuset.cpus", cpus, "linux.resources.cpu.cpus")?;
    }
    if let Some(mems) = c.mems.as_deref().filter(|s| !s.is_empty()) {
        fs::write_field(dir, "cpuset.mems", mems, "linux.resources.cpu.mems")?;
    }
    Ok(())
}

/// Copy `cpuset.cpus` and `cpuset.mems` from the parent into each directory from `mount`
/// down to `dir` that has none: a v1 cpuset starts empty and refuses tasks until both are set.
pub(crate) fn inherit_cpuset(mount: &Path, dir: &Path) -> Result<()> {
    let Ok(rel) = dir.strip_prefix(mount) else {
        return Ok(());
    };
    let mut cur = mount.to_path_buf();
    for part in rel.components() {
        let parent = cur.clone();
        cur.push(part);
        for file in ["cpuset.cpus", "cpuset.mems"] {
            let mine = fs::read(&cur.join(file))?;
            if mine.trim().is_empty() {
                let theirs = fs::read(&parent.join(file))?;
                fs::write(&cur.join(file), theirs.trim())?;
            }
        }
    }
    Ok(())
}

/// `pids.max`; a limit ≤ 0 is unlimited.
pub fn pids(dir: &Path, p: &Pids) -> Result<()> {
    let v = if p.limit <= 0 { "max".to_string() } else { p.limit.to_string() };
    fs::write_field(dir, "pids.max", &v, "linux.resources.pids.limit")
}

/// Block I/O. Weights go to the CFQ files when the kernel has them, otherwise to BFQ's.
pub fn blkio(dir: &Path, b: &BlockIo) -> Result<()> {
    const F: &str = "linux.resources.blockIO";
    let prefix = if dir.join("blkio.weight").exists() { "blkio" } else { "blkio.bfq" };
    if let Some(w) = b.weight {
        fs::write_field(dir, &format!("{prefix}.weight"), &w.to_string(), "linux.resources.blockIO.weight")?;
    }
    if let Some(w) = b.leaf_weight {
        fs::write_field(dir, "blkio.leaf_weight", &w.to_string(), "linux.resources.blockIO.leafWeight")?;
    }
    for d in &b.weight_device {
        if let Some(w) = d.weight {
            let v = format!("{}:{} {}", d.major, d.minor, w);
            fs::write_field(dir, &format!("{prefix}.weight_device"), &v, F)?;
        }
        if let Some(w) = d.leaf_weight {
            let v = format!("{}:{} {}", d.major, d.minor, w);
            fs::write_field(dir, "blkio.leaf_weight_device", &v, F)?;
        }
    }
    for (list, file) in [
        (&b.throttle_read_bps_device, "blkio.throttle.read_bps_device"),
        (&b.throttle_write_bps_device, "blkio.throttle.write_bps_device"),
        (&b.throttle_read_iops_device, "blkio.throttle.read_iops_device"),
        (&b.throttle_write_iops_device, "blkio.throttle.write_iops_device"),
    ] {
        for t in list {
            fs::write_field(dir, file, &format!("{}:{} {}", t.major, t.minor, t.rate), F)?;
        }
    }
    Ok(())
}

/// A hugepage size as it appears in file names (`2MB`, `1GB`), checked to be a plain name.
pub(crate) fn page_size(l: &HugepageLimit) -> Result<&str> {
    let s = l.page_size.as_str();
    if s.is_empty() || !s.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(CgroupError::InvalidValue {
            field: "linux.resources.hugepageLimits",
            reason: format!("page size {s:?} is not like \"2MB\""),
        });
    }
    Ok(s)
}

/// `hugetlb.<size>.limit_in_bytes`.
pub fn hugetlb(dir: &Path, limits: &[HugepageLimit]) -> Result<()> {
    for l in limits {
        let file = format!("hugetlb.{}.limit_in_bytes", page_size(l)?);
        fs::write_field(dir, &file, &l.limit.to_string(), "linux.resources.hugepageLimits")?;
    }
    Ok(())
}

/// `net_cls.classid`.
pub fn net_cls(dir: &Path, class_id: u32) -> Result<()> {
    fs::write_field(dir, "net_cls.classid", &class_id.to_string(), "linux.resources.network.classID")
}

/// `net_prio.ifpriomap`, one interface per write.
pub fn net_prio(dir: &Path, prios: &[InterfacePriority]) -> Result<()> {
    for p in prios {
        if p.name.is_empty() || p.name.contains(char::is_whitespace) {
            return Err(CgroupError::InvalidValue {
                field: "linux.resources.network.priorities",
                reason: format!("interface name {:?} is empty or has spaces", p.name),
            });
        }
        let v = format!("{} {}", p.name, p.priority);
        fs::write_field(dir, "net_prio.ifpriomap", &v, "linux.resources.network.priorities")?;
    }
    Ok(())
}

/// `rdma.max`, one device per write (same format on v1 and v2).
pub fn rdma(dir: &Path, map: &BTreeMap<String, Rdma>) -> Result<()> {
    for (dev, r) in map {
        if dev.is_empty() || dev.contains(char::is_whitespace) {
            return Err(CgroupError::InvalidValue {
                field: "linux.resources.rdma",
                reason: format!("device name {dev:?} is empty or has spaces"),
            });
        }
        let mut v = dev.clone();
        if let Some(h) = r.hca_handles {
            v.push_str(&format!(" hca_handle={h}"));
        }
        if let Some(o) = r.hca_objects {
            v.push_str(&format!(" hca_object={o}"));
        }
        if v.len() > dev.len() {
            fs::write_field(dir, "rdma.max", &v, "linux.resources.rdma")?;
        }
    }
    Ok(())
}
