//! `update`: change the resource limits of a live container.
//!
//! The request is a partial `linux.resources`: what it sets replaces the recorded value, field
//! by field (a memory limit alone keeps the recorded swap and reservation), lists keyed by
//! something (hugepage sizes, RDMA devices, `unified` files, network priorities) are merged by
//! key, and other lists (per-device block I/O values, device rules) replace the recorded list
//! when given. The result is recorded in the container's config, so `state` and later updates
//! see the limits in force.
//!
//! Only the sections the request touches are written to the cgroup, each in full (so a memory
//! limit is written together with the recorded memory+swap limit, in the order the kernel
//! accepts). Device rules are always written, since the cgroup manager rebuilds them from
//! "deny all" on every write; they are the container's rules as `create` computed them.

use super::Runtime;
use crate::cgroups::{devices, systemd};
use crate::error::{Error, Result};
use crate::spec::{BlockIo, Cpu, Memory, Network, Resources};
use crate::state::Status;

impl Runtime {
    /// Apply `update` to a created, running or paused container and record the result.
    pub fn update(&self, id: &str, update: &Resources) -> Result<()> {
        let (dir, mut st, status) = self.open(id)?;
        if status == Status::Stopped || status == Status::Creating {
            return Err(Error::WrongState { id: id.into(), status: status.to_string(), op: "update its resources" });
        }
        let mgr = super::pause::manager(&st, "update")?;
        let mut linux = st.config.linux.clone().unwrap_or_default();
        let recorded = linux.resources.clone().unwrap_or_default();
        let merged = merge(&recorded, update);
        let mut write = touched(&merged, update);
        if !update.devices.is_empty() {
            write.devices = devices::container_rules(&merged.devices, &linux.devices);
        }
        if let Some(unit) = mgr.path().unit() {
            // systemd owns the scope: tell it first, or a reload would restore the old limits.
            let proc_devices = std::fs::read_to_string("/proc/devices").unwrap_or_default();
            let devices = (!write.devices.is_empty()).then_some(proc_devices.as_str());
            let props = systemd::resource_properties(mgr.layout().is_v2(), &write, devices)?;
            if !props.is_empty() {
                systemd::Systemd::connect()?.set_unit_properties(unit, props)?;
            }
        }
        mgr.update(&write)?;
        linux.resources = Some(merged);
        st.config.linux = Some(linux);
        dir.save(&st)
    }
}

/// `base` with everything `update` sets replacing it.
pub fn merge(base: &Resources, update: &Resources) -> Resources {
    let mut out = base.clone();
    if !update.devices.is_empty() {
        out.devices = update.devices.clone();
    }
    if let Some(m) = &update.memory {
        out.memory = Some(merge_memory(base.memory.as_ref(), m));
    }
    if let Some(c) = &update.cpu {
        out.cpu = Some(merge_cpu(base.cpu.as_ref(), c));
    }
    if let Some(p) = &update.pids {
        out.pids = Some(p.clone());
    }
    if let Some(b) = &update.block_io {
        out.block_io = Some(merge_block_io(base.block_io.as_ref(), b));
    }
    for h in &update.hugepage_limits {
        match out.hugepage_limits.iter_mut().find(|x| x.page_size == h.page_size) {
            Some(x) => x.limit = h.limit,
            None => out.hugepage_limits.push(h.clone()),
        }
    }
    if let Some(n) = &update.network {
        out.network = Some(merge_network(base.network.as_ref(), n));
    }
    out.rdma.extend(update.rdma.clone());
    out.unified.extend(update.unified.clone());
    out
}

/// The sections of `merged` that `update` touches; the rest stays unset so it is not written.
fn touched(merged: &Resources, update: &Resources) -> Resources {
    Resources {
        devices: Vec::new(),
        memory: update.memory.as_ref().and(merged.memory.clone()),
        cpu: update.cpu.as_ref().and(merged.cpu.clone()),
        pids: update.pids.as_ref().and(merged.pids.clone()),
        block_io: update.block_io.as_ref().and(merged.block_io.clone()),
        hugepage_limits: update.hugepage_limits.clone(),
        network: update.network.as_ref().and(merged.network.clone()),
        rdma: update.rdma.clone(),
        unified: update.unified.clone(),
    }
}

/// `b` if set, else `a`.
fn or<T: Clone>(a: &Option<T>, b: &Option<T>) -> Option<T> {
    b.clone().or_else(|| a.clone())
}

fn merge_memory(base: Option<&Memory>, u: &Memory) -> Memory {
    let b = base.cloned().unwrap_or_default();
    Memory {
        limit: or(&b.limit, &u.limit),
        reservation: or(&b.reservation, &u.reservation),
        swap: or(&b.swap, &u.swap),
        kernel: or(&b.kernel, &u.kernel),
        kernel_tcp: or(&b.kernel_tcp, &u.kernel_tcp),
        swappiness: or(&b.swappiness, &u.swappiness),
        disable_oom_killer: or(&b.disable_oom_killer, &u.disable_oom_killer),
        use_hierarchy: or(&b.use_hierarchy, &u.use_hierarchy),
        check_before_update: or(&b.check_before_update, &u.check_before_update),
    }
}

fn merge_cpu(base: Option<&Cpu>, u: &Cpu) -> Cpu {
    let b = base.cloned().unwrap_or_default();
    Cpu {
        shares: or(&b.shares, &u.shares),
        quota: or(&b.quota, &u.quota),
        burst: or(&b.burst, &u.burst),
        period: or(&b.period, &u.period),
        realtime_runtime: or(&b.realtime_runtime, &u.realtime_runtime),
        realtime_period: or(&b.realtime_period, &u.realtime_period),
        cpus: or(&b.cpus, &u.cpus),
        mems: or(&b.mems, &u.mems),
        idle: or(&b.idle, &u.idle),
    }
}

fn merge_block_io(base: Option<&BlockIo>, u: &BlockIo) -> BlockIo {
    let b = base.cloned().unwrap_or_default();
    BlockIo {
        weight: or(&b.weight, &u.weight),
        leaf_weight: or(&b.leaf_weight, &u.leaf_weight),
        weight_device: list(&b.weight_device, &u.weight_device),
        throttle_read_bps_device: list(&b.throttle_read_bps_device, &u.throttle_read_bps_device),
        throttle_write_bps_device: list(&b.throttle_write_bps_device, &u.throttle_write_bps_device),
        throttle_read_iops_device: list(&b.throttle_read_iops_device, &u.throttle_read_iops_device),
        throttle_write_iops_device: list(&b.throttle_write_iops_device, &u.throttle_write_iops_device),
    }
}

/// `n` if given, else `a`.
fn list<T: Clone>(a: &[T], n: &[T]) -> Vec<T> {
    if n.is_empty() {
        a.to_vec()
    } else {
        n.to_vec()
    }
}

fn merge_network(base: Option<&Network>, u: &Network) -> Network {
    let mut out = base.cloned().unwrap_or_default();
    if u.class_id.is_some() {
        out.class_id = u.class_id;
    }
    for p in &u.priorities {
        match out.priorities.iter_mut().find(|x| x.name == p.name) {
            Some(x) => x.priority = p.priority,
            None => out.priorities.push(p.clone()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{HugepageLimit, Pids};

    fn base() -> Resources {
        Resources {
            memory: Some(Memory { limit: Some(100), swap: Some(200), reservation: Some(50), ..Default::default() }),
            cpu: Some(Cpu { shares: Some(512), cpus: Some("0".into()), ..Default::default() }),
            pids: Some(Pids { limit: 10 }),
            hugepage_limits: vec![HugepageLimit { page_size: "2MB".into(), limit: 4 }],
            ..Default::default()
        }
    }

    #[test]
    fn merge_replaces_only_what_is_set() {
        let u = Resources {
            memory: Some(Memory { limit: Some(300), ..Default::default() }),
            cpu: Some(Cpu { quota: Some(5000), ..Default::default() }),
            hugepage_limits: vec![
                HugepageLimit { page_size: "2MB".into(), limit: 8 },
                HugepageLimit { page_size: "1GB".into(), limit: 1 },
            ],
            ..Default::default()
        };
        let m = merge(&base(), &u);
        let mem = m.memory.as_ref().unwrap();
        assert_eq!((mem.limit, mem.swap, mem.reservation), (Some(300), Some(200), Some(50)));
        let cpu = m.cpu.as_ref().unwrap();
        assert_eq!((cpu.shares, cpu.quota, cpu.cpus.as_deref()), (Some(512), Some(5000), Some("0")));
        assert_eq!(m.pids, Some(Pids { limit: 10 }));
        assert_eq!(m.hugepage_limits.len(), 2);
        assert_eq!(m.hugepage_limits[0].limit, 8);
    }

    #[test]
    fn only_touched_sections_are_written() {
        let u = Resources { pids: Some(Pids { limit: 3 }), ..Default::default() };
        let m = merge(&base(), &u);
        let w = touched(&m, &u);
        assert_eq!(w.pids, Some(Pids { limit: 3 }));
        assert!(w.memory.is_none() && w.cpu.is_none() && w.hugepage_limits.is_empty());
        // A touched section is written whole: the recorded swap goes with a new limit.
        let u = Resources { memory: Some(Memory { limit: Some(150), ..Default::default() }), ..Default::default() };
        let w = touched(&merge(&base(), &u), &u);
        let mem = w.memory.unwrap();
        assert_eq!((mem.limit, mem.swap), (Some(150), Some(200)));
    }

    #[test]
    fn merge_into_nothing() {
        let u = base();
        assert_eq!(merge(&Resources::default(), &u), u);
    }
}
