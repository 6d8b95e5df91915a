//! Usage counters read back from a container's cgroup, for `events --stats`.
//!
//! The shape follows what `events --stats` consumers already parse (cpu usage and throttling,
//! memory usage/limit/max/failcnt with swap and the raw `memory.stat`, pids, blkio entries,
//! hugetlb per page size). Every section is read from v1 when the controller is mounted there,
//! otherwise from the unified directory; a section whose controller is absent stays empty.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{fs, Manager, Result};

/// All counters of one container.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// CPU time and throttling.
    pub cpu: CpuStats,
    /// Memory.
    pub memory: MemoryStats,
    /// Task count.
    pub pids: PidsStats,
    /// Block I/O per device.
    pub blkio: BlkioStats,
    /// Hugepages per page size (`2MB`, ...).
    pub hugetlb: BTreeMap<String, Usage>,
}

/// CPU counters, nanoseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CpuStats {
    /// Usage.
    pub usage: CpuUsage,
    /// CFS bandwidth throttling.
    pub throttling: Throttling,
}

/// CPU time used, nanoseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CpuUsage {
    /// Total.
    pub total: u64,
    /// Per CPU (v1 only).
    #[serde(rename = "percpu", default, skip_serializing_if = "Vec::is_empty")]
    pub per_cpu: Vec<u64>,
    /// In the kernel.
    pub kernel: u64,
    /// In user space.
    pub user: u64,
}

/// CFS throttling.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Throttling {
    /// Periods elapsed.
    pub periods: u64,
    /// Periods throttled.
    #[serde(rename = "throttledPeriods")]
    pub throttled_periods: u64,
    /// Time throttled, nanoseconds.
    #[serde(rename = "throttledTime")]
    pub throttled_time: u64,
}

/// A usage counter with its limit and high-water mark, bytes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    /// Current usage.
    pub usage: u64,
    /// Peak usage.
    pub max: u64,
    /// Limit (`u64::MAX` when unlimited).
    pub limit: u64,
    /// Times the limit was hit.
    pub failcnt: u64,
}

/// Memory counters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MemoryStats {
    /// Page cache, bytes.
    pub cache: u64,
    /// Memory.
    pub usage: Usage,
    /// Swap (v2) or memory + swap (v1).
    pub swap: Usage,
    /// `memory.stat` as it is.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub raw: BTreeMap<String, u64>,
}

/// Task counters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PidsStats {
    /// Tasks now.
    pub current: u64,
    /// Limit (0 when unlimited).
    pub limit: u64,
}

/// One block I/O counter.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BlkioEntry {
    /// Device major.
    pub major: u64,
    /// Device minor.
    pub minor: u64,
    /// `Read`, `Write`, ...
    pub op: String,
    /// Value.
    pub value: u64,
}

/// Block I/O counters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BlkioStats {
    /// Bytes per device and operation.
    #[serde(rename = "ioServiceBytesRecursive", default)]
    pub io_service_bytes_recursive: Vec<BlkioEntry>,
    /// Operations per device and operation.
    #[serde(rename = "ioServicedRecursive", default)]
    pub io_serviced_recursive: Vec<BlkioEntry>,
}

fn num(p: &Path) -> Result<u64> {
    Ok(match fs::read_num(p)? {
        Some(Some(v)) => v,
        Some(None) => u64::MAX,
        None => 0,
    })
}

fn keyed(p: &Path) -> Result<BTreeMap<String, u64>> {
    let text = fs::read_opt(p)?.unwrap_or_default();
    Ok(fs::parse_flat_keyed(&text).into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

impl Manager {
    /// Read the container's counters.
    pub fn stats(&self) -> Result<Stats> {
        let mut s = Stats::default();
        let u = self.unified_dir();
        let v2_ctrls: Vec<String> = match &u {
            Some(d) => fs::read_opt(&d.join("cgroup.controllers"))?
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_string)
                .collect(),
            None => Vec::new(),
        };
        let v2_has = |c: &str| v2_ctrls.iter().any(|x| x == c);

        // CPU: cpuacct on v1; cpu.stat exists in every v2 cgroup even without the controller.
        if let Some(d) = self.v1_dir("cpuacct") {
            s.cpu.usage.total = num(&d.join("cpuacct.usage"))?;
            s.cpu.usage.user = num(&d.join("cpuacct.usage_user"))?;
            s.cpu.usage.kernel = num(&d.join("cpuacct.usage_sys"))?;
            let per = fs::read_opt(&d.join("cpuacct.usage_percpu"))?.unwrap_or_default();
            s.cpu.usage.per_cpu = per.split_whitespace().filter_map(|v| v.parse().ok()).collect();
        } else if let Some(d) = &u {
            let st = keyed(&d.join("cpu.stat"))?;
            let us = |k: &str| st.get(k).copied().unwrap_or(0) * 1000;
            s.cpu.usage.total = us("usage_usec");
            s.cpu.usage.user = us("user_usec");
            s.cpu.usage.kernel = us("system_usec");
        }
        if let Some(d) = self.v1_dir("cpu") {
            let st = keyed(&d.join("cpu.stat"))?;
            s.cpu.throttling = Throttling {
                periods: st.get("nr_periods").copied().unwrap_or(0),
                throttled_periods: st.get("nr_throttled").copied().unwrap_or(0),
                throttled_time: st.get("throttled_time").copied().unwrap_or(0),
            };
        } else if let (Some(d), true) = (&u, v2_has("cpu")) {
            let st = keyed(&d.join("cpu.stat"))?;
            s.cpu.throttling = Throttling {
                periods: st.get("nr_periods").copied().unwrap_or(0),
                throttled_periods: st.get("nr_throttled").copied().unwrap_or(0),
                throttled_time: st.get("throttled_usec").copied().unwrap_or(0) * 1000,
            };
        }

        if let Some(d) = self.v1_dir("memory") {
            let m = &mut s.memory;
            m.usage = Usage {
                usage: num(&d.join("memory.usage_in_bytes"))?,
                max: num(&d.join("memory.max_usage_in_bytes"))?,
                limit: num(&d.join("memory.limit_in_bytes"))?,
                failcnt: num(&d.join("memory.failcnt"))?,
            };
            m.swap = Usage {
                usage: num(&d.join("memory.memsw.usage_in_bytes"))?,
                max: num(&d.join("memory.memsw.max_usage_in_bytes"))?,
                limit: num(&d.join("memory.memsw.limit_in_bytes"))?,
                failcnt: num(&d.join("memory.memsw.failcnt"))?,
            };
            m.raw = keyed(&d.join("memory.stat"))?;
            m.cache = m.raw.get("total_cache").or(m.raw.get("cache")).copied().unwrap_or(0);
        } else if let (Some(d), true) = (&u, v2_has("memory")) {
            let m = &mut s.memory;
            let events = keyed(&d.join("memory.events"))?;
            m.usage = Usage {
                usage: num(&d.join("memory.current"))?,
                max: num(&d.join("memory.peak"))?,
                limit: num(&d.join("memory.max"))?,
                failcnt: events.get("max").copied().unwrap_or(0),
            };
            m.swap = Usage {
                usage: num(&d.join("memory.swap.current"))?,
                max: num(&d.join("memory.swap.peak"))?,
                limit: num(&d.join("memory.swap.max"))?,
                failcnt: 0,
            };
            m.raw = keyed(&d.join("memory.stat"))?;
            m.cache = m.raw.get("file").copied().unwrap_or(0);
        }

        let pids_dir = self.v1_dir("pids").or_else(|| u.clone().filter(|_| v2_has("pids")));
        if let Some(d) = pids_dir {
            s.pids.current = num(&d.join("pids.current"))?;
            s.pids.limit = match num(&d.join("pids.max"))? {
                u64::MAX => 0,
                v => v,
            };
        }

        if let Some(d) = self.v1_dir("blkio") {
            s.blkio.io_service_bytes_recursive = parse_v1_blkio(
                &fs::read_opt(&d.join("blkio.throttle.io_service_bytes_recursive"))?.unwrap_or_default(),
            );
            s.blkio.io_serviced_recursive =
                parse_v1_blkio(&fs::read_opt(&d.join("blkio.throttle.io_serviced_recursive"))?.unwrap_or_default());
        } else if let (Some(d), true) = (&u, v2_has("io")) {
            let (bytes, ios) = parse_io_stat(&fs::read_opt(&d.join("io.stat"))?.unwrap_or_default());
            s.blkio.io_service_bytes_recursive = bytes;
            s.blkio.io_serviced_recursive = ios;
        }

        let huge = self
            .v1_dir("hugetlb")
            .map(|d| (d, true))
            .or_else(|| u.clone().filter(|_| v2_has("hugetlb")).map(|d| (d, false)));
        if let Some((d, is_v1)) = huge {
            for size in hugepage_sizes(&d) {
                let f = |suffix: &str| d.join(format!("hugetlb.{size}.{suffix}"));
                let usage = if is_v1 {
                    Usage {
                        usage: num(&f("usage_in_bytes"))?,
                        max: num(&f("max_usage_in_bytes"))?,
                        limit: num(&f("limit_in_bytes"))?,
                        failcnt: num(&f("failcnt"))?,
                    }
                } else {
                    Usage {
                        usage: num(&f("current"))?,
                        max: 0,
                        limit: num(&f("max"))?,
                        failcnt: keyed(&f("events"))?.get("max").copied().unwrap_or(0),
                    }
                };
                s.hugetlb.insert(size, usage);
            }
        }
        Ok(s)
    }
}

/// Page sizes with a hugetlb file in `dir` (`hugetlb.2MB.*`).
fn hugepage_sizes(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let size = name.strip_prefix("hugetlb.")?.split('.').next()?.to_string();
            Some(size)
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// v1 `blkio.throttle.io_service_bytes_recursive`: `"8:0 Read 4096"` lines and a `Total`.
fn parse_v1_blkio(text: &str) -> Vec<BlkioEntry> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let (dev, op, value) = (it.next()?, it.next()?, it.next()?);
            let (major, minor) = dev.split_once(':')?;
            Some(BlkioEntry {
                major: major.parse().ok()?,
                minor: minor.parse().ok()?,
                op: op.to_string(),
                value: value.parse().ok()?,
            })
        })
        .collect()
}

/// v2 `io.stat`: `"8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0"` per device.
fn parse_io_stat(text: &str) -> (Vec<BlkioEntry>, Vec<BlkioEntry>) {
    let (mut bytes, mut ios) = (Vec::new(), Vec::new());
    for l in text.lines() {
        let mut it = l.split_whitespace();
        let Some((major, minor)) = it.next().and_then(|d| d.split_once(':')) else {
            continue;
        };
        let (Ok(major), Ok(minor)) = (major.parse(), minor.parse()) else {
            continue;
        };
        for kv in it {
            let Some((k, v)) = kv.split_once('=') else {
                continue;
            };
            let Ok(value) = v.parse() else { continue };
            let (list, op) = match k {
                "rbytes" => (&mut bytes, "Read"),
                "wbytes" => (&mut bytes, "Write"),
                "dbytes" => (&mut bytes, "Discard"),
                "rios" => (&mut ios, "Read"),
                "wios" => (&mut ios, "Write"),
                "dios" => (&mut ios, "Discard"),
                _ => continue,
            };
            list.push(BlkioEntry { major, minor, op: op.to_string(), value });
        }
    }
    (bytes, ios)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_stat_and_v1_blkio_parse() {
        let (b, i) = parse_io_stat("8:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n");
        assert_eq!(b.len(), 3);
        assert_eq!((b[1].op.as_str(), b[1].value), ("Write", 20));
        assert_eq!((i[0].major, i[0].minor, i[0].value), (8, 0, 1));
        let v = parse_v1_blkio("8:0 Read 4096\n8:0 Write 0\nTotal 4096\n");
        assert_eq!(v.len(), 2);
        assert_eq!(v[0], BlkioEntry { major: 8, minor: 0, op: "Read".into(), value: 4096 });
    }
}
