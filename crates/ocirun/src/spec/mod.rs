//! The bundle's `config.json`: types, loading, validation ([`validate`]) and the
//! default config that `ocirun spec` writes ([`default`]).

pub mod default;
#[cfg(feature = "oci-spec")]
mod oci_spec;
mod types;
pub mod validate;

pub use types::*;

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The spec version this runtime implements.
pub const OCI_VERSION: &str = "1.2.0";

/// Read and parse `path` (a `config.json`), then validate it.
pub fn load(path: &Path) -> Result<Spec> {
    let data = read_regular(path).map_err(|e| Error::SpecLoad {
        path: path.to_path_buf(),
        reason: match e.kind() {
            std::io::ErrorKind::NotFound => "no such file or directory: is the bundle path right?".into(),
            _ => e.to_string(),
        },
    })?;
    let spec = parse(&data).map_err(|reason| Error::SpecLoad { path: path.to_path_buf(), reason })?;
    validate::validate(&spec)?;
    Ok(spec)
}

/// Read a file that must be a regular file. It is opened non-blocking and checked with fstat
/// before any read, so a FIFO or a device in its place is refused instead of blocking `create`.
fn read_regular(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY).open(path)?;
    let ft = f.metadata()?.file_type();
    if !ft.is_file() {
        let kind = if ft.is_dir() { "a directory" } else { "not a regular file (a FIFO, socket or device)" };
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("it is {kind}")));
    }
    let mut data = Vec::new();
    f.read_to_end(&mut data)?;
    Ok(data)
}

/// Parse JSON bytes into a [`Spec`] without validating; the error names line, column and field.
pub fn parse(data: &[u8]) -> std::result::Result<Spec, String> {
    let de = &mut serde_json::Deserializer::from_slice(data);
    let spec: Spec = serde::Deserialize::deserialize(&mut *de).map_err(|e| e.to_string())?;
    // Anything after the object (a concatenated or half-overwritten file) is an error.
    de.end().map_err(|e| format!("{e}: unexpected data after the JSON object"))?;
    Ok(spec)
}

/// The absolute root filesystem path of a bundle.
pub fn rootfs_path(spec: &Spec, bundle: &Path) -> PathBuf {
    let root = spec.root.as_ref().map_or("rootfs", |r| r.path.as_str());
    let p = Path::new(root);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        bundle.join(p)
    }
}
