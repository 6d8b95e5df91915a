//! The `oci-spec` feature: a real bundle's config converts to `oci_spec::runtime::Spec` and
//! back without losing anything, a spec built with `oci-spec` runs as a container, and the
//! default spec survives the round trip both ways.
#![cfg(feature = "oci-spec")]

mod common;

use ocirun::spec::Spec;
use ocirun::{CreateOptions, RunOptions, Runtime};

/// Drop empty objects and arrays and `false` (`"annotations": {}`, `"devices": []`,
/// `"terminal": false` and an absent field mean the same in the spec).
fn prune(v: &mut serde_json::Value) {
    if let Some(m) = v.as_object_mut() {
        m.values_mut().for_each(prune);
        m.retain(|_, x| {
            !(x.as_object().is_some_and(|o| o.is_empty())
                || x.as_array().is_some_and(|a| a.is_empty())
                || x.as_bool() == Some(false))
        });
    } else if let Some(a) = v.as_array_mut() {
        a.iter_mut().for_each(prune);
    }
}

/// The document as JSON, with capability lists sorted (oci-spec keeps them in hash sets, so
/// their order is not kept; the kernel does not care either) and empty objects dropped.
fn json(v: &impl serde::Serialize) -> serde_json::Value {
    let mut v = serde_json::to_value(v).unwrap();
    prune(&mut v);
    if let Some(caps) = v.pointer_mut("/process/capabilities").and_then(|c| c.as_object_mut()) {
        for list in caps.values_mut() {
            if let Some(a) = list.as_array_mut() {
                a.sort_by_key(|c| c.to_string());
            }
        }
    }
    v
}

#[test]
fn default_spec_round_trips_both_ways() {
    let ours = ocirun::spec::default::spec(false);
    let theirs = ours.to_oci_spec().unwrap();
    let back = Spec::from_oci_spec(&theirs).unwrap();
    assert_eq!(json(&back), json(&ours), "ours -> oci-spec -> ours");
    let theirs2 = oci_spec::runtime::Spec::try_from(&back).unwrap();
    assert_eq!(json(&theirs2), json(&theirs), "oci-spec -> ours -> oci-spec");
    // oci-spec's own default (runc's `spec`) converts to ours and back too.
    let od = oci_spec::runtime::Spec::default();
    let od_back = Spec::from_oci_spec(&od).unwrap().to_oci_spec().unwrap();
    assert_eq!(json(&od_back), json(&od), "oci-spec default -> ours -> oci-spec");
}

/// A bundle's config.json read by oci-spec, converted, run by us; and our config written,
/// read back by oci-spec's loader.
#[test]
fn real_bundle_both_ways() {
    let Some(b) = common::bundle("oci-spec", &["sh", "-c", "exit 6"]) else { return };
    let config = b.path().join("config.json");
    let theirs = oci_spec::runtime::Spec::load(&config).expect("oci-spec reads our config.json");
    let ours = Spec::from_oci_spec(&theirs).unwrap();
    assert_eq!(json(&ours), json(&ocirun::spec::load(&config).unwrap()), "same spec either way");
    let rt = Runtime::new(b.state_root());
    let code = rt.run("from-oci-spec", &CreateOptions::new(b.path()).with_spec(ours.clone()), &RunOptions::default());
    assert_eq!(code.unwrap(), 6, "the converted spec runs");
    // And back: oci-spec loads what we write from the converted spec.
    let written = b.dir.join("written.json");
    std::fs::write(&written, serde_json::to_vec(&ours).unwrap()).unwrap();
    let reread = oci_spec::runtime::Spec::load(&written).unwrap();
    assert_eq!(json(&reread), json(&theirs));
}
