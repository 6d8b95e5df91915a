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

/// A compiled filter (placeholder until the compiler lands).
#[derive(Debug, Clone)]
pub struct CompiledFilter;

/// Compile a profile.
pub fn compile(_profile: &crate::spec::Seccomp) -> Result<CompiledFilter, SeccompError> {
    Err(SeccompError::Invalid {
        field: "linux.seccomp".into(),
        reason: "seccomp is not supported by this build yet".into(),
    })
}

/// Install in the child.
pub fn install_in_child(
    _f: &CompiledFilter,
    _a: &crate::init::InitArgs,
) -> Result<(), crate::process::sync::ChildError> {
    Ok(())
}

/// The seccomp part of `features`.
pub fn features() -> serde_json::Value {
    serde_json::json!({ "enabled": false })
}
