//! Glue between the lifecycle and the cgroup manager ([`crate::cgroups`]): create the
//! container's cgroup from the spec, put the init in it, record the manager in the state, and
//! kill, thaw and destroy on delete.
//!
//! ## When the init enters its cgroup
//! As with crun and runc, the init is in its cgroup from clone on: prestart and createRuntime
//! hooks read `/proc/PID/cgroup` to find it (device plugins add device rules there). On pure
//! v2 the kernel creates it there (`clone3(CLONE_INTO_CGROUP)`), which also spares the
//! migration's RCU grace period; elsewhere the parent writes its pid right after clone.
//!
//! The exception is a limit too tight for the runtime's own set-up (a memory limit below
//! [`TIGHT_MEMORY`] or a pids limit below [`TIGHT_PIDS`]) when no hook runs before start: the
//! init then joins as its last step before `execve` with the `cgroup.procs` files opened here,
//! so the set-up is charged to the caller (v2 never moves charges; v1 only with
//! `memory.move_charge_at_immigrate`, left off) and `/bin/true` still runs with a
//! 128 KiB limit and `pids.max` 1.
//!
//! With `--systemd-cgroup` the cgroup is a systemd scope ([`crate::cgroups::systemd`]):
//! `setup` only connects to systemd, [`Cgroup::place`] starts the scope with the child in it
//! right after clone (systemd refuses an empty scope), and delete stops the unit.
//!
//! A rootless container gets a cgroup only below a delegated cgroup v2 subtree
//! ([`crate::cgroups::delegated`]); otherwise it has none (nothing is recorded, and kill,
//! delete and state work from the init's pid alone), which is an error only when the config
//! asks for limits.

use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;

use crate::cgroups::systemd::{self, ScopeSpec, Systemd};
use crate::cgroups::{delegated, devices, CgroupPath, Layout, Manager};
use crate::error::Result;
use crate::rootless::RootlessError;
use crate::spec::{Resources, Spec};
use crate::state::ContainerState;
use crate::sys::process as p;

/// Called with the planned cgroup's state before it is created.
pub type Record<'a> = &'a mut dyn FnMut(Option<Manager>) -> Result<()>;

/// A memory limit (bytes) below which the runtime's set-up is kept off the container's charge.
/// The init's own set-up charges a few hundred KiB of copied pages plus kernel objects
/// (mount and namespace copies, page tables); 16 MiB leaves a wide margin.
pub const TIGHT_MEMORY: i64 = 16 << 20;
/// A pids limit below which the init joins last: set-up may briefly use a second and third
/// process (the fork into a joined pid namespace, the helper that makes an idmapped mount's
/// user namespace).
pub const TIGHT_PIDS: i64 = 4;

/// The container's cgroup during create; none for a rootless container without delegation.
#[derive(Debug)]
pub struct Cgroup {
    mgr: Option<Manager>,
    /// With the systemd driver: the connection and what to start once the child exists.
    scope: Option<(Systemd, Resources)>,
    placement: Placement,
}

/// How the init gets into its cgroup (see the module docs).
#[derive(Debug)]
enum Placement {
    /// Created there by clone3 (pure v2); the parent writes the pid if the kernel refuses.
    Clone(OwnedFd),
    /// The parent writes the pid right after clone.
    Parent,
    /// The init joins itself as its last step.
    Init,
}

impl Cgroup {
    fn new(mgr: Option<Manager>, scope: Option<(Systemd, Resources)>, placement: Placement) -> Cgroup {
        Cgroup { mgr, scope, placement }
    }

    /// The `cgroup.procs` files the init writes "0" to as its last step: only when a tight
    /// limit keeps it out until then (none with systemd, which places the child itself, and
    /// none without a cgroup).
    pub fn procs_files(&self) -> Result<Vec<File>> {
        match (&self.mgr, &self.scope, &self.placement) {
            (Some(m), None, Placement::Init) => Ok(m.procs_files()?),
            _ => Ok(Vec::new()),
        }
    }

    /// The cgroup directory to clone the init into, on pure v2.
    pub fn clone_into(&self) -> Option<BorrowedFd<'_>> {
        match &self.placement {
            Placement::Clone(fd) if self.scope.is_none() => Some(fd.as_fd()),
            _ => None,
        }
    }

    /// Right after clone: put `pid` in the cgroup unless the kernel did (`cloned_into`) or the
    /// init joins last. With systemd, start the scope holding `pid`, then create the
    /// directories systemd does not manage, add `pid` there and write every resource.
    pub fn place(&mut self, pid: i32, cloned_into: bool) -> Result<()> {
        if self.scope.is_none() {
            return match (&self.mgr, &self.placement) {
                (Some(m), Placement::Parent | Placement::Clone(_)) if !cloned_into => Ok(m.add_pid(pid)?),
                (Some(m), _) if cloned_into => {
                    log::debug!("the init ({pid}) was created in cgroup {} by clone3", m.path().as_str());
                    Ok(())
                }
                _ => Ok(()),
            };
        }
        let (Some((sd, res)), Some(mgr)) = (self.scope.as_mut(), self.mgr.as_ref()) else {
            return Ok(());
        };
        let (CgroupPath::Systemd { slice, .. }, Some(unit)) = (mgr.path(), mgr.path().unit()) else {
            return Ok(());
        };
        let proc_devices = std::fs::read_to_string("/proc/devices").unwrap_or_default();
        let spec = ScopeSpec {
            description: format!("ocirun container {}", mgr.path().as_str()),
            slice,
            pid: pid.unsigned_abs(),
            v2: mgr.layout().is_v2(),
            proc_devices: &proc_devices,
        };
        sd.start_scope(unit, systemd::scope_properties(&spec, res)?)?;
        let created = Manager::create(mgr.layout().clone(), mgr.path().clone())?;
        created.add_pid(pid)?;
        created.apply(res)?;
        Ok(())
    }

    /// The container's directory in each hierarchy.
    pub fn dirs(&self) -> Vec<PathBuf> {
        self.mgr.as_ref().map(Manager::dirs).unwrap_or_default()
    }
}

/// Create the cgroup for a new container and apply `linux.resources`. `record` is called with
/// what to store in the state before anything is created.
pub fn setup(spec: &Spec, id: &str, systemd: bool, record: Record<'_>) -> Result<Cgroup> {
    let linux = spec.linux.clone().unwrap_or_default();
    let layout = Layout::detect()?;
    let path = CgroupPath::resolve(linux.cgroups_path.as_deref(), id, systemd)?;
    let mut res = linux.resources.clone().unwrap_or_default();
    res.devices = devices::container_rules(&res.devices, &linux.devices);
    if systemd {
        let mut sd = Systemd::connect()?;
        let root = sd.manager_cgroup()?;
        let mgr = Manager::load(layout, path.under(&root));
        record(Some(mgr.clone()))?;
        return Ok(Cgroup::new(Some(mgr), Some((sd, res)), Placement::Parent));
    }
    record(Some(Manager::load(layout.clone(), path.clone())))?;
    let mgr = Manager::create(layout, path)?;
    let placed = mgr.apply(&res).map_err(Into::into).and_then(|()| placement(spec, &mgr));
    match placed {
        Ok(placement) => Ok(Cgroup::new(Some(mgr), None, placement)),
        Err(e) => {
            let _ = mgr.destroy(send);
            Err(e)
        }
    }
}

/// How the init of `spec` enters `mgr`'s cgroup.
fn placement(spec: &Spec, mgr: &Manager) -> Result<Placement> {
    let hooks = spec
        .hooks
        .as_ref()
        .is_some_and(|h| !h.prestart.is_empty() || !h.create_runtime.is_empty() || !h.create_container.is_empty());
    let res = spec.linux.as_ref().and_then(|l| l.resources.as_ref());
    if !hooks && res.is_some_and(tight_limits) {
        return Ok(Placement::Init);
    }
    Ok(match mgr.open_v2_dir()? {
        Some(fd) => Placement::Clone(fd),
        None => Placement::Parent,
    })
}

/// Whether `res` limits memory or pids below what the runtime's set-up needs.
fn tight_limits(res: &Resources) -> bool {
    // 0 and -1 mean unlimited.
    let below = |v: Option<i64>, min: i64| v.is_some_and(|v| (1..min).contains(&v));
    let mem = res.memory.as_ref();
    let unified = |key: &str| res.unified.get(key).and_then(|v| v.trim().parse::<i64>().ok());
    below(mem.and_then(|m| m.limit), TIGHT_MEMORY)
        || below(mem.and_then(|m| m.swap), TIGHT_MEMORY)
        || below(unified("memory.max"), TIGHT_MEMORY)
        || below(unified("memory.high"), TIGHT_MEMORY)
        || below(res.pids.as_ref().map(|p| p.limit), TIGHT_PIDS)
        || below(unified("pids.max"), TIGHT_PIDS)
}

/// No cgroup at all (crun's `--cgroup-manager=disabled`): the init stays in the caller's
/// cgroup and nothing is recorded. `linux.resources` cannot be applied, which is a warning
/// (crun ignores it silently).
pub fn setup_disabled(spec: &Spec, warnings: &mut Vec<String>) -> Cgroup {
    let res = spec.linux.as_ref().and_then(|l| l.resources.as_ref());
    if crate::rootless::resources_requested(res) {
        warnings.push("the cgroup manager is disabled: linux.resources is not applied".into());
    }
    Cgroup::new(None, None, Placement::Parent)
}

/// The cgroup of a rootless container: below our delegated cgroup v2 subtree when there is
/// one, else none (with a warning, or an error when `linux.resources` asks for limits).
pub fn setup_rootless(spec: &Spec, id: &str, warnings: &mut Vec<String>, record: Record<'_>) -> Result<Cgroup> {
    let linux = spec.linux.clone().unwrap_or_default();
    let asks = crate::rootless::resources_requested(linux.resources.as_ref());
    let layout = Layout::detect()?;
    let proc_cgroup = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let found = delegated::find(&layout, &proc_cgroup, crate::sys::fs_stat::writable)
        .and_then(|d| Ok((d.layout(), d.container_path(linux.cgroups_path.as_deref(), id)?)));
    let (layout, path) = match found {
        Ok(x) => x,
        Err(why) if asks => return Err(RootlessError::ResourcesWithoutCgroup { reason: why.to_string() }.into()),
        Err(why) => {
            warnings.push(format!("rootless: the container runs in our own cgroup, without one of its own: {why}"));
            return Ok(Cgroup::new(None, None, Placement::Parent));
        }
    };
    record(Some(Manager::load(layout.clone(), path.clone())))?;
    let mgr = Manager::create(layout, path)?;
    let placed = linux
        .resources
        .as_ref()
        .map_or(Ok(()), |r| mgr.apply_without_devices(r))
        .map_err(Into::into)
        .and_then(|()| placement(spec, &mgr));
    match placed {
        Ok(placement) => Ok(Cgroup::new(Some(mgr), None, placement)),
        Err(e) => {
            let _ = mgr.destroy(send);
            Err(e)
        }
    }
}

fn send(pid: i32, sig: i32) -> std::result::Result<(), crate::sys::SysError> {
    p::kill(pid, sig)
}

/// The manager recorded in a container's state.
pub fn recorded(st: &ContainerState) -> Option<Manager> {
    st.cgroup.clone()
}

/// Destroy the cgroup recorded in a container's state (killing what is left in it); a
/// systemd scope is stopped first.
pub fn destroy_recorded(st: &ContainerState) -> Result<()> {
    let Some(m) = recorded(st) else {
        return Ok(());
    };
    if let Some(unit) = m.path().unit() {
        m.kill_all(libc::SIGKILL, send)?;
        match Systemd::connect().and_then(|mut sd| sd.stop_unit(unit)) {
            Ok(()) => {}
            // Gone with systemd: what is left in the file system is removed below.
            Err(e) if systemd::is_unreachable(&e) => log::warn!("cannot stop {unit}: {e}"),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(m.destroy(send)?)
}

/// Pids in the container's cgroup.
pub fn pids(st: &ContainerState) -> Result<Vec<i32>> {
    match recorded(st) {
        Some(m) => Ok(m.pids()?),
        None => Ok(Vec::new()),
    }
}

/// Whether the container's cgroup is frozen.
pub fn is_frozen(st: &ContainerState) -> bool {
    recorded(st).is_some_and(|m| m.is_frozen().unwrap_or(false))
}

/// Thaw the cgroup so killed processes can die.
pub fn thaw(st: &ContainerState) {
    if let Some(m) = recorded(st) {
        let _ = m.thaw();
    }
}
