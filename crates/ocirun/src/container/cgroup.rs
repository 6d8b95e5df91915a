//! Glue between the lifecycle and the cgroup manager ([`crate::cgroups`]): create the
//! container's cgroup from the spec, hand the init the `cgroup.procs` files it joins as its
//! last set-up step (so the runtime's own memory is never charged to the container), record
//! the manager in the state, and kill, thaw and destroy on delete.

use std::fs::File;
use std::path::PathBuf;

use crate::cgroups::{devices, CgroupPath, Layout, Manager};
use crate::error::Result;
use crate::spec::Spec;
use crate::state::ContainerState;
use crate::sys::process as p;

/// The container's cgroup during create.
#[derive(Debug)]
pub struct Cgroup {
    mgr: Manager,
}

impl Cgroup {
    /// What to record in the state.
    pub fn state(&self) -> Option<serde_json::Value> {
        serde_json::to_value(&self.mgr).ok()
    }
    /// The `cgroup.procs` files the init writes "0" to.
    pub fn procs_files(&self) -> Result<Vec<File>> {
        Ok(self.mgr.procs_files()?)
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
    let mgr = Manager::create(layout, path)?;
    let mut res = linux.resources.clone().unwrap_or_default();
    res.devices = devices::container_rules(&res.devices, &linux.devices);
    if let Err(e) = mgr.apply(&res) {
        let _ = mgr.destroy(send);
        return Err(e.into());
    }
    Ok(Cgroup { mgr })
}

fn send(pid: i32, sig: i32) -> std::result::Result<(), crate::sys::SysError> {
    p::kill(pid, sig)
}

/// The manager recorded in a container's state.
pub fn recorded(st: &ContainerState) -> Option<Manager> {
    st.cgroup.as_ref().and_then(|v| serde_json::from_value(v.clone()).ok())
}

/// Destroy the cgroup recorded in a container's state (killing what is left in it).
pub fn destroy_recorded(st: &ContainerState) -> Result<()> {
    match recorded(st) {
        Some(m) => Ok(m.destroy(send)?),
        None => Ok(()),
    }
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
