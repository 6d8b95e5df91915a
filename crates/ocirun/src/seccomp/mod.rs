//! Seccomp: placeholder until the compiler lands.

use crate::error::ErrorKind;

/// A seccomp profile could not be compiled or installed.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    /// The profile names something unknown.
    #[error("seccomp: {field}: {reason}")]
    Invalid {
        /// The field.
        field: String,
        /// Why.
        reason: String,
    },
}

impl SeccompError {
    /// The stable kind.
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::InvalidSpec
    }
}
