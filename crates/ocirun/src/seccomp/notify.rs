//! Handing the seccomp notify fd to the agent at `linux.seccomp.listenerPath`: one connection
//! per container process, one "container process state" JSON document (runtime spec,
//! config-linux.md) with the fd attached to the first sendmsg as `SCM_RIGHTS`, then close.
//! Runs in the parent, after the init reported its listener fd.

use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::SeccompError;
use crate::spec::State;
use crate::sys::SysError;

/// The name of the listener fd in [`ContainerProcessState::fds`].
pub const SECCOMP_FD_NAME: &str = "seccompFd";

/// The runtime spec version we write into the state.
const OCI_VERSION: &str = "1.2.0";

/// What the seccomp agent receives (the spec's "container process state").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerProcessState {
    /// Runtime spec version of this document.
    pub oci_version: String,
    /// Names of the fds passed with `SCM_RIGHTS`, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fds: Vec<String>,
    /// The container process' pid as the runtime sees it.
    pub pid: i32,
    /// `listenerMetadata`, passed through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<String>,
    /// The container's state.
    pub state: State,
}

impl ContainerProcessState {
    /// The state for process `pid` of a container in `state`, carrying one `seccompFd`.
    pub fn new(pid: i32, metadata: Option<String>, state: State) -> Self {
        ContainerProcessState {
            oci_version: OCI_VERSION.to_string(),
            fds: vec![SECCOMP_FD_NAME.to_string()],
            pid,
            metadata,
            state,
        }
    }
}

/// Connect to the agent's unix socket at `listener_path` and send `state` with `notify_fd`.
/// The caller keeps (and then closes) its own `notify_fd`.
pub fn send_to_listener(
    listener_path: &Path,
    notify_fd: BorrowedFd<'_>,
    state: &ContainerProcessState,
) -> Result<(), SeccompError> {
    let err = |source: SysError| SeccompError::Listener { path: listener_path.to_path_buf(), source };
    let json = serde_json::to_vec(state)
        .map_err(|source| SeccompError::Serialize { what: "container process state", source })?;
    let mut sock = UnixStream::connect(listener_path).map_err(|e| err(SysError::io("connect", listener_path, &e)))?;
    // The fd rides on the first sendmsg; the spec allows the rest to follow in plain writes.
    let sent =
        crate::sys::seccomp::send_with_fd(sock.as_fd(), &json, notify_fd).map_err(|e| err(e.at(listener_path)))?;
    sock.write_all(&json[sent..]).map_err(|e| err(SysError::io("write", listener_path, &e)))?;
    Ok(())
}
