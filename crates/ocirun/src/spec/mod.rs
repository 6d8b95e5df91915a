//! The bundle's `config.json`: types, loading and validation.

mod types;
pub use types::*;
