//! One container's cgroup across every hierarchy: create it, write its resources, put
//! processes in it, freeze, signal and remove it.
//!
//! Each controller is driven through v1 when the host mounts it as a v1 hierarchy and
//! through the unified directory otherwise (so on a hybrid host a controller that only exists
//! in v2, such as `hugetlb` here, still works). Core v2 files (`cgroup.freeze`, `cgroup.kill`,
//! device eBPF programs) need no controller and are used on hybrid hosts too.
//!
//! ## Placing the container's init
//! The runtime's own memory must not be charged to the container (a `pids.limit` of 1 and a
//! 128 KiB memory limit must still run `/bin/true`). So the parent creates the cgroup and opens
//! every `cgroup.procs` with [`Manager::procs_files`]; the child, as its last step before
//! `execve`, calls [`join_self`], which writes `"0"` (meaning "the writer") to each without
//! allocating. Memory already charged stays where it was (v2 never moves charges; v1 only does
//! with `memory.move_charge_at_immigrate`, which we leave off). On pure v2,
//! `clone3(CLONE_INTO_CGROUP)` with [`Manager::open_v2_dir`] is the alternative.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::spec::Resources;
use crate::sys::SysError;

use super::{devices, fs, v1, v2, CgroupError, CgroupPath, Layout, Result};

/// Sends a signal to a process: `(pid, signal)`. The cgroup layer holds no `kill(2)` of its
/// own; callers pass the sys layer's. `ESRCH` (already gone) is ignored by the caller of this.
pub type SendSignal = fn(pid: i32, signal: i32) -> std::result::Result<(), SysError>;

const SIGKILL: i32 = 9;
const FREEZE_TIMEOUT: Duration = Duration::from_secs(5);
const KILL_TIMEOUT: Duration = Duration::from_secs(5);
const RMDIR_TRIES: u32 = 50;

/// A container's cgroup. Serialisable: store it in the container's state and rebuild it with
/// [`Manager::load`] (or deserialise it) for later commands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manager {
    layout: Layout,
    path: CgroupPath,
}

/// Where one controller is driven.
enum Backend {
    V1(PathBuf),
    V2(PathBuf),
}

impl Manager {
    /// Create the cgroup in every hierarchy (enabling controllers for it on v2 and filling in
    /// v1 `cpuset` values). Directories that exist already (a systemd scope's) are kept;
    /// nothing we made is left behind on failure.
    pub fn create(layout: Layout, path: CgroupPath) -> Result<Manager> {
        let m = Manager { layout, path };
        let mut created = Vec::new();
        let r = m.make_dirs(&mut created);
        if let Err(e) = r {
            for d in created.iter().rev() {
                let _ = std::fs::remove_dir(d);
            }
            return Err(e);
        }
        Ok(m)
    }

    fn make_dirs(&self, created: &mut Vec<PathBuf>) -> Result<()> {
        if let Some(ctrls) = self.layout.v1_controllers() {
            for (name, mount) in ctrls {
                let dir = mount.join(self.path.relative());
                created.extend(fs::mkdir_all(&dir)?);
                if name == "cpuset" {
                    v1::inherit_cpuset(mount, &dir)?;
                }
            }
        }
        if let Some(root) = self.layout.unified() {
            let dir = root.join(self.path.relative());
            created.extend(fs::mkdir_all(&dir)?);
            // Pure v2: every available controller, as crun and runc do (stats need them even
            // without limits). Hybrid: none here; `write_resources` enables only what a limit
            // needs, since a controller in use on cgroup2 can no longer be bound to v1.
            if self.layout.is_v2() {
                enable_controllers(root, &dir, None);
            }
        }
        Ok(())
    }

    /// Rebuild the manager of an existing cgroup (no file system access).
    pub fn load(layout: Layout, path: CgroupPath) -> Manager {
        Manager { layout, path }
    }

    /// The host layout.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The cgroup path.
    pub fn path(&self) -> &CgroupPath {
        &self.path
    }

    /// The container's directory in the unified hierarchy (v2 and hybrid).
    pub fn unified_dir(&self) -> Option<PathBuf> {
        self.layout.unified().map(|u| u.join(self.path.relative()))
    }

    /// The container's directory in the v1 hierarchy of `controller`.
    pub fn v1_dir(&self, controller: &str) -> Option<PathBuf> {
        self.layout.v1_controllers()?.get(controller).map(|m| m.join(self.path.relative()))
    }

    /// The container's directory in each v1 hierarchy, with the controllers mounted there
    /// (`cpu,cpuacct` is one hierarchy with two).
    pub fn v1_hierarchies(&self) -> Vec<(Vec<String>, PathBuf)> {
        let mut out: Vec<(Vec<String>, PathBuf)> = Vec::new();
        for (ctrl, mount) in self.layout.v1_controllers().into_iter().flatten() {
            let d = mount.join(self.path.relative());
            match out.iter_mut().find(|(_, dir)| *dir == d) {
                Some((ctrls, _)) => ctrls.push(ctrl.clone()),
                None => out.push((vec![ctrl.clone()], d)),
            }
        }
        out
    }

    /// The container's directory in every hierarchy, each once.
    pub fn dirs(&self) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = Vec::new();
        if let Some(ctrls) = self.layout.v1_controllers() {
            for mount in ctrls.values() {
                let d = mount.join(self.path.relative());
                if !out.contains(&d) {
                    out.push(d);
                }
            }
        }
        out.extend(self.unified_dir());
        out
    }

    /// Where to drive a controller: its v1 hierarchy, else the unified directory if the
    /// controller is enabled there (`v2_ctrls` is that directory's `cgroup.controllers`).
    fn backend(&self, v1_name: &str, v2_name: &str, v2_ctrls: &[String]) -> Option<Backend> {
        if let Some(d) = self.v1_dir(v1_name) {
            return Some(Backend::V1(d));
        }
        let u = self.unified_dir()?;
        v2_ctrls.iter().any(|c| c == v2_name).then_some(Backend::V2(u))
    }

    fn v2_controllers(&self) -> Result<Vec<String>> {
        let Some(u) = self.unified_dir() else {
            return Ok(Vec::new());
        };
        let text = fs::read_opt(&u.join("cgroup.controllers"))?.unwrap_or_default();
        Ok(text.split_whitespace().map(str::to_string).collect())
    }

    /// On a hybrid host, the cgroup2 controllers `r` needs because no v1 hierarchy has them.
    fn hybrid_v2_needs(&self, r: &Resources) -> Vec<&'static str> {
        let v1 = |name: &str| self.v1_dir(name).is_some();
        let mut need = Vec::new();
        let mut want = |asks: bool, v1_name: &str, v2_name: &'static str| {
            if asks && !v1(v1_name) {
                need.push(v2_name);
            }
        };
        let cpu = r.cpu.as_ref();
        let nonempty = |s: &Option<String>| s.as_deref().is_some_and(|s| !s.is_empty());
        want(cpu.is_some_and(|c| nonempty(&c.cpus) || nonempty(&c.mems)), "cpuset", "cpuset");
        want(r.memory.as_ref().is_some_and(|m| !memory_is_default(m)), "memory", "memory");
        want(
            cpu.is_some_and(|c| {
                c.shares.is_some_and(|s| s != 0) || c.quota.is_some() || c.period.is_some() || c.burst.is_some()
            }),
            "cpu",
            "cpu",
        );
        want(r.pids.as_ref().is_some_and(|p| p.limit > 0), "pids", "pids");
        want(r.block_io.as_ref().is_some_and(|b| *b != Default::default()), "blkio", "io");
        want(!r.hugepage_limits.is_empty(), "hugetlb", "hugetlb");
        want(!r.rdma.is_empty(), "rdma", "rdma");
        for key in r.unified.keys() {
            for (prefix, c) in [
                ("memory.", "memory"),
                ("cpu.", "cpu"),
                ("io.", "io"),
                ("pids.", "pids"),
                ("hugetlb.", "hugetlb"),
                ("cpuset.", "cpuset"),
                ("rdma.", "rdma"),
                ("misc.", "misc"),
            ] {
                if key.starts_with(prefix) && !need.contains(&c) {
                    need.push(c);
                }
            }
        }
        need.sort_unstable();
        need.dedup();
        need
    }

    /// Write `linux.resources` (at create time, before any process joins).
    pub fn apply(&self, r: &Resources) -> Result<()> {
        self.write_resources(r, false, true)
    }

    /// Write `linux.resources` except the device rules, for a rootless container: an
    /// unprivileged caller cannot load the device eBPF program, and in a user namespace device
    /// nodes are bind mounts whose access the host's file permissions already bound.
    pub fn apply_without_devices(&self, r: &Resources) -> Result<()> {
        self.write_resources(r, false, false)
    }

    /// Change resources of a live container; honours `memory.checkBeforeUpdate`.
    pub fn update(&self, r: &Resources) -> Result<()> {
        self.write_resources(r, true, true)
    }

    fn write_resources(&self, r: &Resources, update: bool, devices: bool) -> Result<()> {
        let normalized = zero_means_unset(r);
        let r = &normalized;
        if let (Some(root), Some(dir), false) = (self.layout.unified(), self.unified_dir(), self.layout.is_v2()) {
            let need = self.hybrid_v2_needs(r);
            if !need.is_empty() {
                enable_controllers(root, &dir, Some(&need));
            }
        }
        let v2c = self.v2_controllers()?;
        let missing = |controller: &str, field| {
            Err(CgroupError::ControllerUnavailable { controller: controller.to_string(), field })
        };
        if let Some(c) = &r.cpu {
            if c.cpus.as_deref().is_some_and(|s| !s.is_empty()) || c.mems.as_deref().is_some_and(|s| !s.is_empty()) {
                match self.backend("cpuset", "cpuset", &v2c) {
                    Some(Backend::V1(d) | Backend::V2(d)) => v1::cpuset(&d, c)?,
                    None => return missing("cpuset", "linux.resources.cpu.cpus"),
                }
            }
        }
        if let Some(m) = &r.memory {
            match self.backend("memory", "memory", &v2c) {
                Some(Backend::V1(d)) => v1::memory(&d, m, update)?,
                Some(Backend::V2(d)) => v2::memory(&d, m, update)?,
                None if memory_is_default(m) => {}
                None => return missing("memory", "linux.resources.memory"),
            }
        }
        if let Some(c) = &r.cpu {
            let asks = c.shares.is_some_and(|s| s != 0)
                || c.quota.is_some()
                || c.period.is_some()
                || c.burst.is_some()
                || c.realtime_runtime.is_some()
                || c.realtime_period.is_some()
                || c.idle.is_some();
            match self.backend("cpu", "cpu", &v2c) {
                _ if !asks => {}
                Some(Backend::V1(d)) => {
                    if let Some(mount) = self.layout.v1_controllers().and_then(|m| m.get("cpu")) {
                        v1::rt_budget(mount, &d, c)?;
                    }
                    v1::cpu(&d, c)?
                }
                Some(Backend::V2(d)) => v2::cpu(&d, c)?,
                None => return missing("cpu", "linux.resources.cpu"),
            }
        }
        if let Some(p) = &r.pids {
            match self.backend("pids", "pids", &v2c) {
                Some(Backend::V1(d) | Backend::V2(d)) => v1::pids(&d, p)?,
                None if p.limit <= 0 => {}
                None => return missing("pids", "linux.resources.pids"),
            }
        }
        if let Some(b) = &r.block_io {
            match self.backend("blkio", "io", &v2c) {
                Some(Backend::V1(d)) => v1::blkio(&d, b)?,
                Some(Backend::V2(d)) => v2::io(&d, b)?,
                None if *b == Default::default() => {}
                None => return missing("blkio", "linux.resources.blockIO"),
            }
        }
        if !r.hugepage_limits.is_empty() {
            match self.backend("hugetlb", "hugetlb", &v2c) {
                Some(Backend::V1(d)) => v1::hugetlb(&d, &r.hugepage_limits)?,
                Some(Backend::V2(d)) => v2::hugetlb(&d, &r.hugepage_limits)?,
                None => return missing("hugetlb", "linux.resources.hugepageLimits"),
            }
        }
        if let Some(n) = &r.network {
            self.network(n)?;
        }
        if !r.rdma.is_empty() {
            match self.backend("rdma", "rdma", &v2c) {
                Some(Backend::V1(d) | Backend::V2(d)) => v1::rdma(&d, &r.rdma)?,
                None => return missing("rdma", "linux.resources.rdma"),
            }
        }
        // An update that does not touch the device rules leaves them alone: rewriting them
        // starts from "deny all" and would refuse the container its devices for a moment.
        if devices && (!update || !r.devices.is_empty()) {
            self.devices(r)?;
        }
        if !r.unified.is_empty() {
            match self.unified_dir() {
                Some(d) => v2::unified(&d, &r.unified)?,
                None => {
                    return Err(CgroupError::Unsupported {
                        field: "linux.resources.unified",
                        version: "v1",
                        reason: "this host has no cgroup2 hierarchy",
                    })
                }
            }
        }
        Ok(())
    }

    fn network(&self, n: &crate::spec::Network) -> Result<()> {
        if let Some(id) = n.class_id {
            match self.v1_dir("net_cls") {
                Some(d) => v1::net_cls(&d, id)?,
                None if self.layout.is_v2() => return Err(no_network_on_v2()),
                None => {
                    return Err(CgroupError::ControllerUnavailable {
                        controller: "net_cls".into(),
                        field: "linux.resources.network.classID",
                    })
                }
            }
        }
        if !n.priorities.is_empty() {
            match self.v1_dir("net_prio") {
                Some(d) => v1::net_prio(&d, &n.priorities)?,
                None if self.layout.is_v2() => return Err(no_network_on_v2()),
                None => {
                    return Err(CgroupError::ControllerUnavailable {
                        controller: "net_prio".into(),
                        field: "linux.resources.network.priorities",
                    })
                }
            }
        }
        Ok(())
    }

    /// Device rules: v1 `devices` when mounted, else an eBPF program on the unified directory.
    /// Written on every apply/update, since the default is "deny all".
    fn devices(&self, r: &Resources) -> Result<()> {
        let rules = devices::rules(&r.devices)?;
        if let Some(d) = self.v1_dir("devices") {
            devices::apply_v1(&d, &rules)
        } else if let Some(d) = self.unified_dir() {
            devices::apply_bpf(&d, &rules)
        } else {
            Err(CgroupError::ControllerUnavailable { controller: "devices".into(), field: "linux.resources.devices" })
        }
    }

    /// Move process `pid` into the cgroup in every hierarchy.
    pub fn add_pid(&self, pid: i32) -> Result<()> {
        for d in self.dirs() {
            let procs = d.join("cgroup.procs");
            match fs::write(&procs, &pid.to_string()) {
                // A v1 directory systemd removed under us while it realised a scope (it trims
                // the hierarchies a unit does not account): make it again, once.
                Err(CgroupError::Write { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                    fs::mkdir_all(&d)?;
                    fs::write(&procs, &pid.to_string())?;
                }
                r => r?,
            }
        }
        Ok(())
    }

    /// Open `cgroup.procs` of every hierarchy for writing, for [`join_self`] in a child.
    pub fn procs_files(&self) -> Result<Vec<File>> {
        self.dirs()
            .into_iter()
            .map(|d| {
                let p = d.join("cgroup.procs");
                OpenOptions::new()
                    .write(true)
                    .custom_flags(libc::O_CLOEXEC)
                    .open(&p)
                    .map_err(|source| CgroupError::Open { path: p, source })
            })
            .collect()
    }

    /// The cgroup directory, opened for `clone3(CLONE_INTO_CGROUP)`; `None` unless the host is
    /// pure v2 (on hybrid hosts that would miss the v1 hierarchies).
    pub fn open_v2_dir(&self) -> Result<Option<OwnedFd>> {
        let Layout::V2 { .. } = self.layout else {
            return Ok(None);
        };
        let Some(d) = self.unified_dir() else {
            return Ok(None);
        };
        let f = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
            .open(&d)
            .map_err(|source| CgroupError::Open { path: d, source })?;
        Ok(Some(f.into()))
    }

    /// The freezer to use: v1 `freezer.state` if mounted, else v2 `cgroup.freeze`.
    fn freezer(&self) -> Option<Backend> {
        if let Some(d) = self.v1_dir("freezer") {
            return Some(Backend::V1(d));
        }
        self.unified_dir().map(Backend::V2)
    }

    /// Freeze every process of the container and wait until the kernel says it is frozen.
    pub fn freeze(&self) -> Result<()> {
        self.set_frozen(true)
    }

    /// Thaw the container.
    pub fn thaw(&self) -> Result<()> {
        self.set_frozen(false)
    }

    /// Whether the container is frozen.
    pub fn is_frozen(&self) -> Result<bool> {
        match self.freezer() {
            Some(Backend::V1(d)) => Ok(fs::read_opt(&d.join("freezer.state"))?.is_some_and(|s| s.trim() == "FROZEN")),
            Some(Backend::V2(d)) => Ok(fs::read_keyed(&d.join("cgroup.events"), "frozen")? == Some(1)),
            None => Ok(false),
        }
    }

    fn set_frozen(&self, frozen: bool) -> Result<()> {
        let (path, value, want) = match self.freezer() {
            Some(Backend::V1(d)) => {
                let state = if frozen { "FROZEN" } else { "THAWED" };
                (d.join("freezer.state"), state, state)
            }
            Some(Backend::V2(d)) => {
                (d.join("cgroup.freeze"), if frozen { "1" } else { "0" }, if frozen { "frozen 1" } else { "frozen 0" })
            }
            None => return Err(CgroupError::ControllerUnavailable { controller: "freezer".into(), field: "pause" }),
        };
        fs::write(&path, value)?;
        let poll = match path.file_name().and_then(|n| n.to_str()) {
            Some("cgroup.freeze") => path.with_file_name("cgroup.events"),
            _ => path.clone(),
        };
        let start = Instant::now();
        let mut delay = Duration::from_millis(1);
        loop {
            let seen = fs::read(&poll)?;
            let done = if poll == path { seen.trim() == want } else { seen.lines().any(|l| l.trim() == want) };
            if done {
                return Ok(());
            }
            if start.elapsed() > FREEZE_TIMEOUT {
                if frozen {
                    // Leave it running rather than half-frozen.
                    let _ = fs::write(&path, if value == "1" { "0" } else { "THAWED" });
                }
                return Err(CgroupError::FreezeTimeout { path: poll, want, seen: seen.trim().to_string() });
            }
            // A v1 freeze can stall on a task in an uninterruptible sleep: ask again.
            if frozen && poll == path {
                fs::write(&path, value)?;
            }
            sleep(delay);
            delay = (delay * 2).min(Duration::from_millis(50));
        }
    }

    /// Every process in the container's cgroup and its sub-cgroups, in any hierarchy.
    pub fn pids(&self) -> Result<Vec<i32>> {
        let mut out = Vec::new();
        for d in self.dirs() {
            for sub in fs::walk(&d) {
                out.extend(fs::read_pids(&sub.join("cgroup.procs"))?);
            }
        }
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    /// Send `signal` to every process of the container. For SIGKILL, keep going until the
    /// cgroup is empty (catching processes forked meanwhile) and thaw a frozen cgroup so the
    /// signal is delivered; `cgroup.kill` is used where the kernel has it.
    pub fn kill_all(&self, signal: i32, send: SendSignal) -> Result<()> {
        if signal != SIGKILL {
            for pid in self.pids()? {
                signal_one(send, pid, signal)?;
            }
            return Ok(());
        }
        let kill_file = self.unified_dir().map(|d| d.join("cgroup.kill")).filter(|p| p.exists());
        let start = Instant::now();
        loop {
            let pids = self.pids()?;
            if pids.is_empty() {
                return Ok(());
            }
            match &kill_file {
                Some(k) => fs::write(k, "1")?,
                None => {
                    for pid in &pids {
                        signal_one(send, *pid, SIGKILL)?;
                    }
                }
            }
            // Frozen tasks take SIGKILL only once thawed (v1; v2 handles it, thawing is harmless).
            if self.is_frozen()? {
                self.thaw()?;
            }
            if start.elapsed() > KILL_TIMEOUT {
                let path = self.dirs().into_iter().next().unwrap_or_default();
                return Err(CgroupError::KillTimeout { path, count: pids.len() });
            }
            sleep(Duration::from_millis(5));
        }
    }

    /// Kill what is left and remove the cgroup (and any sub-cgroups) in every hierarchy.
    /// Succeeds if it is already gone.
    pub fn destroy(&self, send: SendSignal) -> Result<()> {
        // Fast path: after the container exited its cgroup is an empty leaf in every
        // hierarchy, and one rmdir each removes it (no listing, no reads).
        let mut rest = Vec::new();
        for d in self.dirs() {
            match std::fs::remove_dir(&d) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(_) => rest.push(d),
            }
        }
        if rest.is_empty() {
            return Ok(());
        }
        if !self.pids()?.is_empty() {
            self.kill_all(SIGKILL, send)?;
        }
        for d in rest {
            for sub in fs::walk(&d).iter().rev() {
                remove_dir(sub)?;
            }
        }
        Ok(())
    }

    /// How many times the OOM killer killed a process in this cgroup (`None` when the memory
    /// controller is not available). `events` polls this and reports an `oom` event when it
    /// grows.
    pub fn oom_kill_count(&self) -> Result<Option<u64>> {
        if let Some(d) = self.v1_dir("memory") {
            return fs::read_keyed(&d.join("memory.oom_control"), "oom_kill");
        }
        match self.unified_dir() {
            Some(d) => fs::read_keyed(&d.join("memory.events"), "oom_kill"),
            None => Ok(None),
        }
    }
}

/// Engines send zero for "not set" in weights and shares (Docker sends `blockIO.weight: 0`
/// and `cpu.shares: 0` for every container); the kernel rejects a zero weight. Treat them as
/// absent, as other runtimes do.
fn zero_means_unset(r: &Resources) -> Resources {
    let mut r = r.clone();
    if let Some(b) = r.block_io.as_mut() {
        b.weight = b.weight.filter(|w| *w != 0);
        b.leaf_weight = b.leaf_weight.filter(|w| *w != 0);
        for d in &mut b.weight_device {
            d.weight = d.weight.filter(|w| *w != 0);
            d.leaf_weight = d.leaf_weight.filter(|w| *w != 0);
        }
        b.weight_device.retain(|d| d.weight.is_some() || d.leaf_weight.is_some());
    }
    if let Some(c) = r.cpu.as_mut() {
        c.shares = c.shares.filter(|s| *s != 0);
    }
    r
}

/// Move the calling process into the cgroups whose `cgroup.procs` files were opened with
/// [`Manager::procs_files`], by writing `"0"` (the writer itself) to each. Allocates nothing,
/// so it is safe in a child between `fork` and `execve`. Returns the errno of the first
/// failure.
pub fn join_self(procs: &[File]) -> std::result::Result<(), i32> {
    for mut f in procs {
        match f.write(b"0") {
            Ok(1) => {}
            Ok(_) => return Err(libc::EIO),
            Err(e) => return Err(e.raw_os_error().unwrap_or(libc::EIO)),
        }
    }
    Ok(())
}

fn signal_one(send: SendSignal, pid: i32, signal: i32) -> Result<()> {
    match send(pid, signal) {
        Err(e) if e.errno != libc::ESRCH => Err(CgroupError::Signal { pid, source: e }),
        _ => Ok(()),
    }
}

fn remove_dir(d: &Path) -> Result<()> {
    let mut tries = 0;
    loop {
        match std::fs::remove_dir(d) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            // Exiting tasks leave the cgroup a moment after they leave cgroup.procs.
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && tries < RMDIR_TRIES => {
                tries += 1;
                // Usually gone within microseconds: back off from 50 µs to 20 ms (~0.5 s total).
                sleep(Duration::from_micros((50u64 << tries.min(9)).min(20_000)));
            }
            Err(source) => return Err(CgroupError::Remove { path: d.to_path_buf(), source }),
        }
    }
}

/// Enable controllers for `dir` in `cgroup.subtree_control` of each ancestor from `root` down:
/// all that are available (`only` = None) or just those in `only`. A controller already
/// enabled is left alone, so nothing is written where nothing is missing. Failures are not
/// errors here: a controller that could not be enabled is missing from `dir`'s
/// `cgroup.controllers`, and applying a resource that needs it names it.
///
/// An ancestor below the root that holds processes (the caller's own delegated cgroup, for a
/// rootless container) is left alone: the kernel refuses domain controllers there (EBUSY),
/// but accepts the threaded ones (cpu, cpuset, pids), which turns it into a thread root and
/// every new child into "domain invalid", so the init could never join its cgroup
/// (EOPNOTSUPP). Seen on a pure v2 kernel; the hybrid host's unified mount has no controllers.
fn enable_controllers(root: &Path, dir: &Path, only: Option<&[&str]>) {
    let Ok(rel) = dir.strip_prefix(root) else {
        return;
    };
    let mut cur = root.to_path_buf();
    let parts: Vec<_> = rel.components().collect();
    for (i, part) in parts.iter().enumerate() {
        let avail = fs::read_opt(&cur.join("cgroup.controllers")).ok().flatten().unwrap_or_default();
        let enabled = fs::read_opt(&cur.join("cgroup.subtree_control")).ok().flatten().unwrap_or_default();
        let mut missing = avail
            .split_whitespace()
            .filter(|c| only.map_or(true, |o| o.contains(c)))
            .filter(|c| !enabled.split_whitespace().any(|e| e == *c))
            .peekable();
        if missing.peek().is_some() && (cur == root || !has_processes(&cur)) {
            for c in missing {
                let _ = fs::write(&cur.join("cgroup.subtree_control"), &format!("+{c}"));
            }
        }
        if i + 1 < parts.len() {
            cur.push(part);
        }
    }
}

fn has_processes(dir: &Path) -> bool {
    fs::read_opt(&dir.join("cgroup.procs")).ok().flatten().is_some_and(|p| !p.trim().is_empty())
}

fn memory_is_default(m: &crate::spec::Memory) -> bool {
    let unset = |v: Option<i64>| v.map_or(true, |v| v <= 0);
    unset(m.limit)
        && unset(m.swap)
        && unset(m.reservation)
        && unset(m.kernel)
        && unset(m.kernel_tcp)
        && m.swappiness.is_none()
        && m.disable_oom_killer != Some(true)
}

fn no_network_on_v2() -> CgroupError {
    CgroupError::Unsupported {
        field: "linux.resources.network",
        version: "v2",
        reason: "net_cls and net_prio exist only in v1; use eBPF or nftables on the cgroup instead",
    }
}
