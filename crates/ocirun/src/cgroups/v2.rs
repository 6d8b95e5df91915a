//! `linux.resources` written to a cgroup v2 directory, one function per controller, with the
//! v1 → v2 conversions documented in the [module above](super) (see the kernel's
//! `Documentation/admin-guide/cgroup-v2.rst` for the files).

use std::collections::BTreeMap;
use std::path::Path;

use crate::spec::{BlockIo, Cpu, HugepageLimit, Memory};

use super::{fs, v1, CgroupError, Result};

/// `cpu.shares` (v1, 2..=262144) → `cpu.weight` (v2, 1..=10000).
pub fn shares_to_weight(shares: u64) -> u64 {
    let s = shares.clamp(2, 262_144);
    1 + ((s - 2) * 9999) / 262_142
}

/// `blkio.weight` (v1, 10..=1000) → `io.weight` (v2, 1..=10000).
pub fn blkio_weight_to_io_weight(weight: u16) -> u64 {
    let w = u64::from(weight.clamp(10, 1000));
    1 + ((w - 10) * 9999) / 990
}

/// `memory.swap.max` from the spec's `limit` and `swap` (memory + swap): `swap - limit`.
pub fn swap_max(limit: Option<i64>, swap: i64) -> Result<String> {
    if swap < 0 {
        return Ok("max".to_string());
    }
    let bad = |reason: String| CgroupError::InvalidValue { field: "linux.resources.memory.swap", reason };
    match limit {
        Some(l) if l > 0 => {
            if swap < l {
                Err(bad(format!("memory+swap {swap} is below the memory limit {l}")))
            } else {
                Ok((swap - l).to_string())
            }
        }
        _ => Err(bad("a swap limit needs a memory limit on cgroup v2".to_string())),
    }
}

fn max_or(v: i64) -> String {
    if v < 0 {
        "max".to_string()
    } else {
        v.to_string()
    }
}

fn unsupported(field: &'static str, reason: &'static str) -> CgroupError {
    CgroupError::Unsupported { field, version: "v2", reason }
}

/// Memory; `update` enables `checkBeforeUpdate`.
pub fn memory(dir: &Path, m: &Memory, update: bool) -> Result<()> {
    const F: &str = "linux.resources.memory";
    let lim = m.limit.filter(|l| *l != 0);
    if let (true, Some(true), Some(l)) = (update, m.check_before_update, lim) {
        v1::check_usage(&dir.join("memory.current"), l)?;
    }
    if let Some(l) = lim {
        fs::write_field(dir, "memory.max", &max_or(l), F)?;
    }
    if let Some(s) = m.swap.filter(|s| *s != 0) {
        let v = swap_max(lim, s)?;
        if dir.join("memory.swap.max").exists() {
            fs::write_field(dir, "memory.swap.max", &v, F)?;
        } else if v != "0" && v != "max" {
            return Err(CgroupError::FileUnavailable {
                path: dir.join("memory.swap.max"),
                field: "linux.resources.memory.swap",
            });
        }
    }
    if let Some(r) = m.reservation {
        fs::write_field(dir, "memory.low", &max_or(r), F)?;
    }
    if m.kernel_tcp.is_some() {
        return Err(unsupported("linux.resources.memory.kernelTCP", "v2 accounts TCP memory with the rest"));
    }
    if m.swappiness.is_some() {
        return Err(unsupported("linux.resources.memory.swappiness", "v2 has no per-cgroup swappiness"));
    }
    if m.disable_oom_killer == Some(true) {
        return Err(unsupported("linux.resources.memory.disableOOMKiller", "v2 cannot disable the OOM killer"));
    }
    if m.use_hierarchy == Some(false) {
        return Err(unsupported("linux.resources.memory.useHierarchy", "v2 is always hierarchical"));
    }
    Ok(())
}

/// The `cpu` controller part of [`Cpu`].
pub fn cpu(dir: &Path, c: &Cpu) -> Result<()> {
    const F: &str = "linux.resources.cpu";
    if let Some(s) = c.shares.filter(|s| *s != 0) {
        fs::write_field(dir, "cpu.weight", &shares_to_weight(s).to_string(), F)?;
    }
    let period = c.period.filter(|p| *p != 0);
    if c.quota.is_some() || period.is_some() {
        let current = fs::read_opt(&dir.join("cpu.max"))?.unwrap_or_default();
        let mut cur = current.split_whitespace();
        let (cur_quota, cur_period) = (cur.next().unwrap_or("max"), cur.next().unwrap_or("100000"));
        let quota = match c.quota {
            Some(q) if q > 0 => q.to_string(),
            Some(_) => "max".to_string(),
            None => cur_quota.to_string(),
        };
        let period = period.map_or(cur_period.to_string(), |p| p.to_string());
        fs::write_field(dir, "cpu.max", &format!("{quota} {period}"), F)?;
    }
    if let Some(b) = c.burst {
        fs::write_field(dir, "cpu.max.burst", &b.to_string(), F)?;
    }
    if c.realtime_runtime.is_some_and(|r| r != 0) || c.realtime_period.is_some_and(|p| p != 0) {
        return Err(unsupported("linux.resources.cpu.realtimeRuntime", "v2 has no realtime CPU bandwidth"));
    }
    if let Some(i) = c.idle {
        fs::write_field(dir, "cpu.idle", &i.to_string(), F)?;
    }
    Ok(())
}

/// Block I/O as `io.*` (or `io.bfq.*` weights when BFQ is there).
pub fn io(dir: &Path, b: &BlockIo) -> Result<()> {
    const F: &str = "linux.resources.blockIO";
    let bfq = dir.join("io.bfq.weight").exists();
    let weight = |w: u16| {
        if bfq {
            w.to_string()
        } else {
            blkio_weight_to_io_weight(w).to_string()
        }
    };
    let file = if bfq { "io.bfq.weight" } else { "io.weight" };
    if let Some(w) = b.weight {
        fs::write_field(dir, file, &weight(w), "linux.resources.blockIO.weight")?;
    }
    if b.leaf_weight.is_some() || b.weight_device.iter().any(|d| d.leaf_weight.is_some()) {
        return Err(unsupported("linux.resources.blockIO.leafWeight", "v2 has no leaf weights"));
    }
    for d in &b.weight_device {
        if let Some(w) = d.weight {
            fs::write_field(dir, file, &format!("{}:{} {}", d.major, d.minor, weight(w)), F)?;
        }
    }
    for (list, key) in [
        (&b.throttle_read_bps_device, "rbps"),
        (&b.throttle_write_bps_device, "wbps"),
        (&b.throttle_read_iops_device, "riops"),
        (&b.throttle_write_iops_device, "wiops"),
    ] {
        for t in list {
            let rate = if t.rate == 0 { "max".to_string() } else { t.rate.to_string() };
            fs::write_field(dir, "io.max", &format!("{}:{} {key}={rate}", t.major, t.minor), F)?;
        }
    }
    Ok(())
}

/// `hugetlb.<size>.max`, and `hugetlb.<size>.rsvd.max` where the kernel has reservations.
pub fn hugetlb(dir: &Path, limits: &[HugepageLimit]) -> Result<()> {
    const F: &str = "linux.resources.hugepageLimits";
    for l in limits {
        let size = v1::page_size(l)?;
        fs::write_field(dir, &format!("hugetlb.{size}.max"), &l.limit.to_string(), F)?;
        let rsvd = format!("hugetlb.{size}.rsvd.max");
        if dir.join(&rsvd).exists() {
            fs::write_field(dir, &rsvd, &l.limit.to_string(), F)?;
        }
    }
    Ok(())
}

/// Raw `linux.resources.unified` files, written last so they override the converted values.
pub fn unified(dir: &Path, files: &BTreeMap<String, String>) -> Result<()> {
    for (key, value) in files {
        let bad = |reason| CgroupError::UnifiedKey { key: key.clone(), reason };
        if key.is_empty() || key.contains('/') || key == "." || key == ".." {
            return Err(bad("must be a file name in the cgroup directory"));
        }
        if matches!(key.as_str(), "cgroup.procs" | "cgroup.threads" | "cgroup.subtree_control") {
            return Err(bad("the runtime manages this file"));
        }
        let path = dir.join(key);
        if !path.is_file() {
            return Err(bad("no such file in the container's cgroup (is its controller enabled?)"));
        }
        fs::write(&path, value)?;
    }
    Ok(())
}
