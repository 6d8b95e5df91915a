//! Glue between the lifecycle and the cgroup manager ([`crate::cgroups`]): create the
//! container's cgroup from the spec, hand the init the `cgroup.procs` files it joins as its
//! last set-up step (so the runtime's own memory is never charged to the container), record
//! the manager in the state, and kill, thaw and destroy on delete.
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

/// The container's cgroup during create; none for a rootless container without delegation.
#[derive(Debug)]
pub struct Cgroup {
    mgr: Option<Manager>,
    /// With the systemd driver: the connection and what to start once the child exists.
    scope: Option<(Systemd, Resources)>,
}

impl Cgroup {
    /// The `cgroup.procs` files the init writes "0" to (none with systemd, which places the
    /// child itself, and none without a cgroup).
    pub fn procs_files(&self) -> Result<Vec<File>> {
        match (&self.mgr, &self.scope) {
            (Some(m), None) => Ok(m.procs_files()?),
            _ => Ok(Vec::new()),
        }
    }

    /// Right after clone: with systemd, start the scope holding `pid`, then create the
    /// directories systemd does not manage, add `pid` there and write every resource.
    pub fn place(&mut self, pid: i32) -> Result<()> {
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
        return Ok(Cgroup { mgr: Some(mgr), scope: Some((sd, res)) });
    }
    record(Some(Manager::load(layout.clone(), path.clone())))?;
    let mgr = Manager::create(layout, path)?;
    if let Err(e) = mgr.apply(&res) {
        let _ = mgr.destroy(send);
        return Err(e.into());
    }
    Ok(Cgroup { mgr: Some(mgr), scope: None })
}

/// No cgroup at all (crun's `--cgroup-manager=disabled`): the init stays in the caller's
/// cgroup and nothing is recorded. `linux.resources` cannot be applied, which is a warning
/// (crun ignores it silently).
pub fn setup_disabled(spec: &Spec, warnings: &mut Vec<String>) -> Cgroup {
    let res = spec.linux.as_ref().and_then(|l| l.resources.as_ref());
    if crate::rootless::resources_requested(res) {
        warnings.push("the cgroup manager is disabled: linux.resources is not applied".into());
    }
    Cgroup { mgr: None, scope: None }
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
            return Ok(Cgroup { mgr: None, scope: None });
        }
    };
    record(Some(Manager::load(layout.clone(), path.clone())))?;
    let mgr = Manager::create(layout, path)?;
    if let Err(e) = linux.resources.as_ref().map_or(Ok(()), |r| mgr.apply_without_devices(r)) {
        let _ = mgr.destroy(send);
        return Err(e.into());
    }
    Ok(Cgroup { mgr: Some(mgr), scope: None })
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
