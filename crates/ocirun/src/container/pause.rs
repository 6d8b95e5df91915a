//! `pause` and `resume`: freeze and thaw every process of a container through its cgroup's
//! freezer (v1 `freezer.state`, or v2 `cgroup.freeze` where v1 has no freezer).
//!
//! "Paused" is never written to the state file: it is read from the freezer by
//! [`super::live_status`], so the recorded status keeps saying whether the container was
//! `created` or `running` before it was frozen, and is right again after `resume` (or after
//! someone thaws the cgroup by hand). A created container can be paused too, as runc allows;
//! `start` refuses it until it is resumed.

use super::Runtime;
use crate::cgroups::Manager;
use crate::error::{Error, Result};
use crate::state::{ContainerState, Status};

impl Runtime {
    /// Freeze a running (or created) container.
    pub fn pause(&self, id: &str) -> Result<()> {
        let (_dir, st, status) = self.open(id)?;
        if !matches!(status, Status::Running | Status::Created) {
            return Err(Error::WrongState { id: id.into(), status: status.to_string(), op: "pause it" });
        }
        manager(&st, "pause")?.freeze()?;
        Ok(())
    }

    /// Thaw a paused container.
    pub fn resume(&self, id: &str) -> Result<()> {
        let (_dir, st, status) = self.open(id)?;
        if status != Status::Paused {
            return Err(Error::WrongState { id: id.into(), status: status.to_string(), op: "resume it" });
        }
        manager(&st, "resume")?.thaw()?;
        Ok(())
    }
}

/// The cgroup manager recorded for the container, or an error naming `op`.
pub(crate) fn manager(st: &ContainerState, op: &str) -> Result<Manager> {
    super::cgroup::recorded(st).ok_or_else(|| Error::Unsupported {
        what: op.to_string(),
        reason: format!("container {:?} has no cgroup recorded in its state", st.id),
    })
}
