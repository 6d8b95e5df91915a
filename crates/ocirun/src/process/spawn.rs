//! The parent's side of creating the init: clone3 with the namespace plan, user namespace
//! maps, cgroup placement, hooks on request, until the child is `Ready`.

use std::path::Path;

use super::namespaces::NsPlan;
use super::sync::{Channel, Msg};
use crate::error::{Error, Result};
use crate::init::InitArgs;
use crate::spec::{IdMapping, Spec};
use crate::sys::process as p;
use crate::sys::{fd, SysError};

/// What the parent must do while the child sets up.
pub trait ParentHooks {
    /// The cgroup to create the child in with `clone3(CLONE_INTO_CGROUP)`, if any.
    fn clone_into(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        None
    }
    /// Place `pid` in the container's cgroup (before the child does anything); `cloned_into`
    /// says the kernel already created it in [`ParentHooks::clone_into`]'s cgroup.
    fn place(&mut self, pid: i32, cloned_into: bool) -> Result<()>;
    /// Run prestart and createRuntime hooks for the init `pid`; return the state JSON.
    fn run_hooks(&mut self, pid: i32) -> Result<String>;
    /// Move `linux.netDevices` into the network namespace of the init `pid`.
    fn move_net_devices(&mut self, _pid: i32) -> Result<()> {
        Ok(())
    }
}

/// The running init as the parent sees it.
#[derive(Debug)]
pub struct Spawned {
    /// The init's pid.
    pub pid: i32,
    /// Parent end of the sync socket (send `Continue` once the state is recorded).
    pub sync: Channel,
    /// Warnings the child sent.
    pub warnings: Vec<String>,
}

/// Clone the init and drive it to `Ready`. On error the child is killed and reaped.
pub fn spawn(mut args: InitArgs, plan: NsPlan, parent: &mut dyn ParentHooks) -> Result<Spawned> {
    let (ours, theirs) = fd::seqpacket_pair()?;
    args.sync = Channel(theirs);
    let uid_maps =
        args.spec.linux.as_ref().map(|l| (l.uid_mappings.clone(), l.gid_mappings.clone())).unwrap_or_default();
    // The middle process (multi-threaded callers only) reports on a copy of the child's end.
    let middle_sync = Channel(args.sync.0.try_clone().map_err(|e| SysError::io("dup", Path::new("sync socket"), &e))?);
    // The child closes every fd it does not need (our end included) as its first step.
    let (child, middle, cloned_into) =
        super::fork_child(plan.clone_flags, parent.clone_into(), &middle_sync, move || crate::init::run(args))?;
    drop(middle_sync);
    let sync = Channel(ours);
    let mut init_pid = child;
    let result = (|| {
        let target = if middle { wait_init_pid(&sync, child)? } else { child };
        init_pid = target;
        drive(&sync, target, &mut init_pid, &plan, &uid_maps, cloned_into, parent)
    })();
    match result {
        Ok(warnings) => Ok(Spawned { pid: init_pid, sync, warnings }),
        Err(e) => {
            let _ = p::kill(init_pid, libc::SIGKILL);
            let _ = p::kill(child, libc::SIGKILL);
            let _ = p::waitpid(child, false);
            if init_pid != child {
                let _ = p::waitpid(init_pid, false);
            }
            Err(e)
        }
    }
}

/// With a middle process, the first message is the real child's pid.
fn wait_init_pid(sync: &Channel, middle: i32) -> Result<i32> {
    let r = match sync.recv()? {
        Some(Msg::Forked(pid)) => Ok(pid),
        Some(Msg::Error(e)) => Err(Error::Init(e)),
        _ => Err(Error::Init(crate::process::sync::ChildError::msg("clone", "the intermediate process exited"))),
    };
    let _ = p::waitpid(middle, false);
    if r.is_err() {
        // The child can fail and report before the middle process reports its pid (seen under
        // load): that pid is in the socket once the middle has exited; reap the child by it.
        if let Some(pid) = late_forked(sync) {
            let _ = p::waitpid(pid, false);
        }
    }
    r
}

/// The pid a middle process that has exited reported after a failure had already been read:
/// the rest of the socket, up to that message or the end (every writer has exited or is
/// exiting after its failure).
pub(crate) fn late_forked(sync: &Channel) -> Option<i32> {
    loop {
        match sync.recv() {
            Ok(Some(Msg::Forked(pid))) => return Some(pid),
            Ok(Some(_)) => continue,
            _ => return None,
        }
    }
}

fn drive(
    sync: &Channel,
    child: i32,
    init_pid: &mut i32,
    plan: &NsPlan,
    maps: &(Vec<IdMapping>, Vec<IdMapping>),
    cloned_into: bool,
    parent: &mut dyn ParentHooks,
) -> Result<Vec<String>> {
    if plan.new_userns && !plan.late_userns {
        write_maps(child, &maps.0, &maps.1)?;
    }
    parent.place(child, cloned_into)?;
    sync.send(&Msg::Continue)?;
    let mut warnings = Vec::new();
    loop {
        match sync.recv()? {
            Some(Msg::MapsNeeded) => {
                write_maps(child, &maps.0, &maps.1)?;
                sync.send(&Msg::Continue)?;
            }
            Some(Msg::InitPid(pid)) => {
                *init_pid = pid;
                // Reap the middle process that forked the init.
                let _ = p::waitpid(child, false);
            }
            Some(Msg::NetDevices) => match parent.move_net_devices(*init_pid) {
                Ok(()) => sync.send(&Msg::Continue)?,
                Err(e) => {
                    let _ = sync.send(&Msg::Error(crate::process::sync::ChildError::msg("netDevices", e.to_string())));
                    return Err(e);
                }
            },
            Some(Msg::RunHooks) => match parent.run_hooks(*init_pid) {
                Ok(state) => sync.send(&Msg::State(state))?,
                Err(e) => {
                    let _ = sync.send(&Msg::Error(crate::process::sync::ChildError::msg("hooks", e.to_string())));
                    return Err(e);
                }
            },
            Some(Msg::Warning(w)) => warnings.push(w),
            Some(Msg::Ready) => return Ok(warnings),
            Some(Msg::Error(e)) => return Err(Error::Init(e)),
            Some(other) => {
                return Err(Error::Init(crate::process::sync::ChildError::msg(
                    "sync",
                    format!("unexpected message {other:?}"),
                )))
            }
            None => {
                let status = p::waitpid(child, false).ok().flatten();
                return Err(Error::Init(crate::process::sync::ChildError::msg(
                    "init",
                    format!("the container's init exited during set-up ({status:?}) without reporting an error"),
                )));
            }
        }
    }
}

/// Write `/proc/PID/{uid,gid}_map` (directly, or through newuidmap/newgidmap when an
/// unprivileged caller maps more than its own ids: see [`super::idmaps`]).
pub fn write_maps(pid: i32, uids: &[IdMapping], gids: &[IdMapping]) -> Result<()> {
    super::idmaps::write(pid, uids, gids)
}

/// The spec's state JSON for hooks.
pub fn hook_state(spec: &Spec, id: &str, pid: i32, bundle: &Path, status: &str) -> String {
    let st = crate::spec::State {
        oci_version: crate::spec::OCI_VERSION.into(),
        id: id.into(),
        status: status.into(),
        pid: Some(pid),
        bundle: bundle.to_string_lossy().into_owned(),
        annotations: spec.annotations.clone(),
        ..Default::default()
    };
    serde_json::to_string(&st).unwrap_or_default()
}
