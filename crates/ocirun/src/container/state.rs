//! `state` and `list`.

use serde::Serialize;

use super::Runtime;
use crate::error::Result;
use crate::state::{ContainerState, Status};

/// One row of `list`.
#[derive(Debug, Clone, Serialize)]
pub struct ContainerInfo {
    /// Id.
    pub id: String,
    /// Init pid (0 once stopped).
    pub pid: i32,
    /// Live status.
    pub status: String,
    /// Bundle path.
    pub bundle: String,
    /// Creation time (RFC 3339).
    pub created: String,
    /// Owner's user name (or uid).
    pub owner: String,
}

impl Runtime {
    /// The container's state as the OCI spec defines it.
    pub fn state(&self, id: &str) -> Result<crate::spec::State> {
        let (_dir, st, status) = self.open(id)?;
        let mut state = st.oci_state(status);
        state.pid = Some(state.pid.unwrap_or(0));
        state.rootfs = Some(st.rootfs.to_string_lossy().into_owned());
        state.created = Some(st.created.clone());
        state.owner = Some(user_name(st.owner));
        Ok(state)
    }

    /// All containers under the root.
    pub fn list(&self) -> Result<Vec<ContainerInfo>> {
        let mut out = Vec::new();
        for id in self.store.list()? {
            let Ok((_dir, st, status)) = self.open(&id) else { continue };
            out.push(ContainerInfo {
                id: st.id.clone(),
                pid: if status == Status::Stopped { 0 } else { st.pid },
                status: status.to_string(),
                bundle: st.bundle.to_string_lossy().into_owned(),
                created: st.created.clone(),
                owner: user_name(st.owner),
            });
        }
        Ok(out)
    }
}

fn user_name(uid: u32) -> String {
    if let Ok(passwd) = std::fs::read_to_string("/etc/passwd") {
        for line in passwd.lines() {
            let f: Vec<&str> = line.split(':').collect();
            if f.len() > 2 && f[2].parse::<u32>().ok() == Some(uid) {
                return f[0].to_string();
            }
        }
    }
    uid.to_string()
}

/// Whether the container's cgroup is frozen.
pub fn is_paused(st: &ContainerState) -> bool {
    super::cgroup::is_frozen(st)
}
