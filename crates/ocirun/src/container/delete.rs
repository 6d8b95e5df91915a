//! `delete`: kill what is left of the container (with `--force`, or a created container),
//! remove its cgroup, run poststop hooks and remove its state.

use std::time::{Duration, Instant};

use super::Runtime;
use crate::error::{Error, Result};
use crate::state::{ContainerState, Status};
use crate::sys::process as p;

impl Runtime {
    /// Delete a container. Without `force` it must be stopped or created; with `force` a
    /// container that does not exist is not an error (as with crun and runc: the engine's
    /// cleanup may race the container's own removal).
    pub fn delete(&self, id: &str, force: bool) -> Result<()> {
        if force {
            // What a create killed before it published the container left behind.
            crate::state::validate_id(id)?;
            self.store.remove_stale_staging(id);
        }
        let dir = match self.store.open(id) {
            Ok(dir) => dir,
            Err(Error::NotFound { .. }) if force => return Ok(()),
            Err(e) => return Err(e),
        };
        let st = match dir.load() {
            Ok(st) => st,
            Err(e @ Error::CorruptState { .. }) => {
                if force {
                    // Unpin a network namespace left behind (its devices' names are unknown).
                    let _ = crate::netdev::release(None, &dir.file(super::create::NETNS_PIN));
                    salvage(&dir.file("state.json"), id);
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
        crate::state::reap_if_zombie(&st);
        // The pinned network namespace outlives the init: give its devices back first.
        let net = crate::netdev::release(st.config.linux.as_ref(), &dir.file(super::create::NETNS_PIN));
        let cg = super::cgroup::destroy_recorded(&st);
        let rdt = st.rdt.as_ref().map_or(Ok(()), |g| g.remove());
        if let Some(h) = &st.config.hooks {
            let state = serde_json::to_string(&st.oci_state(Status::Stopped)).unwrap_or_default();
            for hook in &h.poststop {
                if let Err(e) = crate::hooks::run(hook, &state, Some(&st.bundle)) {
                    log::warn!("poststop hook {e}");
                }
            }
        }
        dir.remove()?;
        net?;
        cg?;
        Ok(rdt?)
    }
}

/// `delete --force` of a container whose state is unreadable: kill the init if the fields
/// that identify it are still there and still match the live process (pid and start time),
/// and remove its cgroup and the default one, so nothing keeps running unseen.
fn salvage(state_file: &std::path::Path, id: &str) {
    let text = std::fs::read_to_string(state_file).unwrap_or_default();
    let field = |name: &str| -> Option<u64> {
        let key = format!("\"{name}\":");
        let at = text.find(&key)? + key.len();
        let digits: String = text[at..].chars().take_while(|c| c.is_ascii_digit()).collect();
        digits.parse().ok()
    };
    let mut paths = vec![None];
    if let (Some(pid), Some(start)) = (field("pid"), field("pid_start")) {
        let pid = pid as i32;
        if pid > 1 && crate::state::process_start_time(pid) == Some(start) {
            // The init's own cgroup (a custom cgroupsPath), read before it dies.
            let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
            if let Some(path) = own.lines().find_map(|l| l.strip_prefix("0::")).filter(|p| *p != "/") {
                paths.push(Some(path.to_string()));
            }
            let _ = p::kill(pid, libc::SIGKILL);
            let _ = p::waitpid(pid, true);
        }
    }
    let Ok(layout) = crate::cgroups::Layout::detect() else { return };
    for path in paths {
        if let Ok(cp) = crate::cgroups::CgroupPath::resolve(path.as_deref(), id, false) {
            let m = crate::cgroups::Manager::load(layout.clone(), cp);
            let _ = m.destroy(p::kill);
        }
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
