//! The container lifecycle, one file per operation: [`create`], [`start`], [`run`], [`exec`],
//! [`kill`], [`delete`], [`state`] (state and list), and the commands that act on a live
//! container's cgroup: [`pause`] (pause and resume), [`update`], [`ps`], [`events`]; and
//! [`checkpoint`] (checkpoint and restore, with criu).
//! [`Runtime`] is the entry point: it holds the options every operation shares (the state
//! root, the cgroup driver).

pub(crate) mod cgroup;
pub mod checkpoint;
pub mod child;
pub mod create;
pub mod delete;
pub mod events;
pub mod exec;
pub mod kill;
pub(crate) mod notify;
pub mod pause;
pub mod ps;
pub mod run;
pub mod signal;
pub mod start;
pub mod state;
pub mod units;
pub mod update;

use std::path::PathBuf;

use crate::error::Result;
use crate::state::{ContainerDir, ContainerState, Status, Store};

pub use checkpoint::{CheckpointOptions, ManageCgroups, RestoreOptions};
pub use create::CreateOptions;
pub use events::{Event, EventKind};
pub use exec::{ExecOptions, ProcessOverrides};
pub use run::RunOptions;
pub use state::ContainerInfo;

/// Default state root when running as root.
pub const DEFAULT_ROOT: &str = "/run/ocirun";

/// The runtime: where state lives and how cgroups are driven.
#[derive(Debug, Clone)]
pub struct Runtime {
    pub(crate) store: Store,
    /// Use the systemd cgroup driver.
    pub systemd_cgroup: bool,
    /// Give containers no cgroup of their own (crun's `--cgroup-manager=disabled`): the init
    /// stays in the caller's cgroup and `linux.resources` is not applied.
    pub no_cgroup: bool,
    /// Run without privileges (rootless): require a user namespace and use a cgroup only
    /// where one is delegated to us (see [`crate::rootless`]). [`Runtime::new`] sets it when
    /// the effective uid is not 0.
    pub rootless: bool,
}

impl Runtime {
    /// A runtime keeping its state under `root`; rootless when not running as root.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Runtime {
            store: Store::new(root),
            systemd_cgroup: false,
            no_cgroup: false,
            rootless: crate::sys::process::geteuid() != 0,
        }
    }

    /// A runtime with the default state root: `$XDG_RUNTIME_DIR/ocirun` when not root (see
    /// [`crate::rootless::default_root`]), else [`DEFAULT_ROOT`].
    pub fn with_default_root() -> Self {
        Runtime::new(crate::rootless::default_root())
    }

    /// The state root.
    pub fn root(&self) -> &std::path::Path {
        self.store.root()
    }

    /// Open a container and read its state and live status.
    pub(crate) fn open(&self, id: &str) -> Result<(ContainerDir, ContainerState, Status)> {
        let dir = self.store.open(id)?;
        let st = dir.load()?;
        let status = live_status(&st);
        Ok((dir, st, status))
    }
}

/// The status as it is now: the recorded one, corrected by whether the init still lives.
pub fn live_status(st: &ContainerState) -> Status {
    match st.status {
        Status::Stopped => Status::Stopped,
        Status::Creating if st.pid == 0 => Status::Stopped,
        s => {
            if !st.init_alive() {
                return Status::Stopped;
            }
            if (s == Status::Running || s == Status::Created) && crate::container::state::is_paused(st) {
                return Status::Paused;
            }
            s
        }
    }
}
