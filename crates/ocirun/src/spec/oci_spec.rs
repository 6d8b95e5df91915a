//! Conversions to and from the Rust ecosystem's spec types, [`oci_spec::runtime::Spec`] (the
//! `oci-spec` feature; off by default, so the default build does not carry that crate).
//!
//! Both types are the same JSON document, so a conversion goes through `serde_json::Value`: a
//! field either side does not model is dropped, never invented, and a value the other side
//! rejects is an [`Error::SpecLoad`] that says which direction failed and why.

use std::path::PathBuf;

use super::Spec;
use crate::error::{Error, Result};

fn convert<A: serde::Serialize, B: serde::de::DeserializeOwned>(from: &A, what: &'static str) -> Result<B> {
    let fail = |reason: String| Error::SpecLoad { path: PathBuf::from(what), reason };
    let v = serde_json::to_value(from).map_err(|e| fail(e.to_string()))?;
    serde_json::from_value(v).map_err(|e| fail(e.to_string()))
}

impl Spec {
    /// This spec as an [`oci_spec::runtime::Spec`].
    pub fn to_oci_spec(&self) -> Result<oci_spec::runtime::Spec> {
        convert(self, "<conversion to oci_spec::runtime::Spec>")
    }

    /// Our spec from an [`oci_spec::runtime::Spec`] (not validated: [`Runtime::create`]
    /// validates it like a `config.json`).
    ///
    /// [`Runtime::create`]: crate::Runtime::create
    pub fn from_oci_spec(spec: &oci_spec::runtime::Spec) -> Result<Spec> {
        convert(spec, "<conversion from oci_spec::runtime::Spec>")
    }
}

impl TryFrom<&Spec> for oci_spec::runtime::Spec {
    type Error = Error;
    fn try_from(s: &Spec) -> Result<Self> {
        s.to_oci_spec()
    }
}

impl TryFrom<&oci_spec::runtime::Spec> for Spec {
    type Error = Error;
    fn try_from(s: &oci_spec::runtime::Spec) -> Result<Self> {
        Spec::from_oci_spec(s)
    }
}
