//! Cgroups: placeholder until the cgroup manager lands.

use crate::error::ErrorKind;

/// A cgroup operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// A cgroup file could not be written.
    #[error("cgroup {path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl CgroupError {
    /// The stable kind.
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::Io
    }
}
