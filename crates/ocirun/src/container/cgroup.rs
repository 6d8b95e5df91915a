//! Glue between the lifecycle and the cgroup manager ([`crate::cgroups`]): create the
//! container's cgroup from the spec, hand the init the `cgroup.procs` files it joins as its
//! last set-up step (so the runtime's own memory is never charged to the container), record
//! the manager in the state, and kill, thaw and destroy on delete.
//!
//! With `--systemd-cgroup` the cgroup is a systemd scope ([`crate::cgroups::systemd`]):
//! `setup` only connects to systemd, [`Cgroup::place`] starts the scope with the child in it
//! right after clone (systemd refuses an empty scope), and delete stops the unit.

use std::fs::File;
use std::path::PathBuf;

use crate::cgroups::systemd::{self, ScopeSpec, Systemd};
use crate::cgroups::{devices, CgroupPath, Layout, Manager};
use crate::error::Result;
use crate::spec::{Resources, Spec};
use crate::state::ContainerState;
use crate::sys::process as p;

/// The container's cgroup during create.
#[derive(Debug)]
pub struct Cgroup {
    mgr: Manager,
    /// With the systemd driver: the connection and what to start once the child exists.
    scope: Option<(Systemd, Resources)>,
}

impl Cgroup {
    /// What to record in the state.
    pub fn state(&self) -> Option<serde_json::Value> {
        serde_json::to_value(&self.mgr).ok()
    }
    /// The `cgroup.procs` files the init writes "0" to (none with systemd, which places the
    /// child itself).
    pub fn procs_files(&self) -> Result<Vec<File>> {
        if self.scope.is_some() {
            return Ok(Vec::new());
        }
        Ok(self.mgr.procs_files()?)
    }

    /// Right after clone: with systemd, start the scope holding `pid`, then create the
    /// directories systemd does not manage, add `pid` there and write every resource.
    pub fn place(&mut self, pid: i32) -> Result<()> {
        let Some((sd, res)) = self.scope.as_mut() else {
            return Ok(());
        };
        let (CgroupPath::Systemd { slice, .. }, Some(unit)) = (self.mgr.path(), self.mgr.path().unit()) else {
            return Ok(());
        };
        let proc_devices = std::fs::read_to_string("/proc/devices").unwrap_or_default();
        let spec = ScopeSpec {
            description: format!("ocirun container {}", self.mgr.path().as_str()),
            slice,
            pid: pid.unsigned_abs(),
            v2: self.mgr.layout().is_v2(),
            proc_devices: &proc_devices,
        };
        sd.start_scope(unit, systemd::scope_properties(&spec, res)?)?;
        let mgr = Manager::create(self.mgr.layout().clone(), self.mgr.path().clone())?;
        mgr.add_pid(pid)?;
        mgr.apply(res)?;
        Ok(())
    }
    /// The container's directory in each hierarchy.
    pub fn dirs(&self) -> Vec<PathBuf> {
        self.mgr.dirs()
    }
}

/// Create the cgroup for a new container and apply `linux.resources`.
pub fn setup(spec: &Spec, id: &str, systemd: bool) -> Result<Cgroup> {
    let linux = spec.linux.clone().unwrap_or_default();
    let layout = Layout::detect()?;
    let path = CgroupPath::resolve(linux.cgroups_path.as_deref(), id, systemd)?;
    let mut res = linux.resources.clone().unwrap_or_default();
    res.devices = devices::container_rules(&res.devices, &linux.devices);
    if systemd {
        let mut sd = Systemd::connect()?;
        let root = sd.manager_cgroup()?;
        let mgr = Manager::load(layout, path.under(&root));
        return Ok(Cgroup { mgr, scope: Some((sd, res)) });
    }
    let mgr = Manager::create(layout, path)?;
    if let Err(e) = mgr.apply(&res) {
        let _ = mgr.destroy(send);
        return Err(e.into());
    }
    Ok(Cgroup { mgr, scope: None })
}

fn send(pid: i32, sig: i32) -> std::result::Result<(), crate::sys::SysError> {
    p::kill(pid, sig)
}

/// The manager recorded in a container's state.
pub fn recorded(st: &ContainerState) -> Option<Manager> {
    st.cgroup.as_ref().and_then(|v| serde_json::from_value(v.clone()).ok())
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
            Err(e) if systemd::is_unreachable(&e) => crate::log::warn(&format!("cannot stop {unit}: {e}")),
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
