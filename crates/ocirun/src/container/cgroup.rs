//! Glue between the lifecycle and the cgroup manager ([`crate::cgroups`]): create the
//! container's cgroup from the spec, hand the init the `cgroup.procs` files it joins as its
//! last set-up step (so the runtime's own memory is never charged to the container), record
//! the manager in the state, and kill, thaw and destroy on delete.
//!
//! A rootless container gets a cgroup only below a delegated cgroup v2 subtree
//! ([`crate::cgroups::delegated`]); otherwise it has none (nothing is recorded, and kill,
//! delete and state work from the init's pid alone), which is an error only when the config
//! asks for limits.

use std::fs::File;
use std::path::PathBuf;

use crate::cgroups::{delegated, devices, CgroupPath, Layout, Manager};
use crate::error::Result;
use crate::rootless::RootlessError;
use crate::spec::Spec;
use crate::state::ContainerState;
use crate::sys::process as p;

/// Called with the planned cgroup's state before it is created.
pub type Record<'a> = &'a mut dyn FnMut(Option<serde_json::Value>) -> Result<()>;

/// The container's cgroup during create; none for a rootless container without delegation.
#[derive(Debug)]
pub struct Cgroup {
    mgr: Option<Manager>,
}

impl Cgroup {
    /// What to record in the state.
    pub fn state(&self) -> Option<serde_json::Value> {
        self.mgr.as_ref().and_then(|m| serde_json::to_value(m).ok())
    }
    /// The `cgroup.procs` files the init writes "0" to.
    pub fn procs_files(&self) -> Result<Vec<File>> {
        match &self.mgr {
            Some(m) => Ok(m.procs_files()?),
            None => Ok(Vec::new()),
        }
    }
    /// The container's directory in each hierarchy.
    pub fn dirs(&self) -> Vec<PathBuf> {
        self.mgr.as_ref().map(Manager::dirs).unwrap_or_default()
    }
}

/// Create the cgroup for a new container and apply `linux.resources`.
/// `record` is called with what to store in the state before anything is created.
pub fn setup(spec: &Spec, id: &str, systemd: bool, record: Record<'_>) -> Result<Cgroup> {
    let linux = spec.linux.clone().unwrap_or_default();
    let layout = Layout::detect()?;
    let path = CgroupPath::resolve(linux.cgroups_path.as_deref(), id, systemd)?;
    record(serde_json::to_value(Manager::load(layout.clone(), path.clone())).ok())?;
    let mgr = Manager::create(layout, path)?;
    let mut res = linux.resources.clone().unwrap_or_default();
    res.devices = devices::container_rules(&res.devices, &linux.devices);
    if let Err(e) = mgr.apply(&res) {
        let _ = mgr.destroy(send);
        return Err(e.into());
    }
    Ok(Cgroup { mgr: Some(mgr) })
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
            return Ok(Cgroup { mgr: None });
        }
    };
    record(serde_json::to_value(Manager::load(layout.clone(), path.clone())).ok())?;
    let mgr = Manager::create(layout, path)?;
    if let Err(e) = linux.resources.as_ref().map_or(Ok(()), |r| mgr.apply_without_devices(r)) {
        let _ = mgr.destroy(send);
        return Err(e.into());
    }
    Ok(Cgroup { mgr: Some(mgr) })
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
