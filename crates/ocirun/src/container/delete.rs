//! `delete`: kill what is left of the container (with `--force`, or a created container),
//! remove its cgroup, run poststop hooks and remove its state.

use std::time::{Duration, Instant};

use super::Runtime;
use crate::error::{Error, Result};
use crate::state::{ContainerState, Status};
use crate::sys::process as p;

impl Runtime {
    /// Delete a container. Without `force` it must be stopped or created.
    pub fn delete(&self, id: &str, force: bool) -> Result<()> {
        let dir = self.store.open(id)?;
        let st = match dir.load() {
            Ok(st) => st,
            Err(e @ Error::CorruptState { .. }) => {
                if force {
                    return dir.remove();
                }
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        let status = super::live_status(&st);
        if !force && !status.can_delete() {
            return Err(Error::WrongState {
                id: id.into(),
                status: status.to_string(),
                op: "delete it without --force (stop it first)",
            });
        }
        if status != Status::Stopped {
            kill_all(&st);
        }
        let cg = super::cgroup::destroy_recorded(&st);
        let rdt = st.rdt.as_ref().map_or(Ok(()), |g| g.remove());
        if let Some(h) = &st.config.hooks {
            let state = serde_json::to_string(&st.oci_state(Status::Stopped)).unwrap_or_default();
            for hook in &h.poststop {
                if let Err(e) = crate::hooks::run(hook, &state) {
                    crate::log::warn(&format!("poststop hook {e}"));
                }
            }
        }
        dir.remove()?;
        cg?;
        Ok(rdt?)
    }
}

/// SIGKILL every process of the container and wait (bounded) for the init to go.
pub(crate) fn kill_all(st: &ContainerState) {
    if let Ok(pids) = super::cgroup::pids(st) {
        for pid in pids {
            let _ = p::kill(pid, libc::SIGKILL);
        }
    }
    let _ = super::kill::signal_init(st, libc::SIGKILL);
    super::cgroup::thaw(st);
    let deadline = Instant::now() + Duration::from_secs(10);
    while st.init_alive() && Instant::now() < deadline {
        // Reap it if it is our child (run), otherwise wait for its parent to.
        let _ = p::waitpid(st.pid, true);
        std::thread::sleep(Duration::from_millis(1));
    }
}
