//! Parent ↔ child messages.

use serde::{Deserialize, Serialize};

/// An error that happened in the container's init, sent to the parent as data.
#[derive(Debug, Clone, Serialize, Deserialize, thiserror::Error)]
#[error("{step}: {message}")]
pub struct ChildError {
    /// The init step that failed, e.g. `mount /proc`.
    pub step: String,
    /// What failed, with path and errno text.
    pub message: String,
    /// errno, when a system call failed.
    pub errno: Option<i32>,
}
