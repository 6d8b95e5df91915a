//! `config.json` as a hostile bundle may have it: parse, validate, and check that what parses
//! serialises back to something that parses and validates the same way.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(spec) = ocirun::spec::parse(data) else { return };
    let verdict = ocirun::spec::validate::validate(&spec).is_ok();
    let text = serde_json::to_vec(&spec).expect("a parsed spec serialises");
    let again = ocirun::spec::parse(&text).expect("a serialised spec parses again");
    assert_eq!(ocirun::spec::validate::validate(&again).is_ok(), verdict, "validation changed after a round trip");
    // What `create` derives from the spec before any process exists.
    let _ = ocirun::spec::rootfs_path(&spec, std::path::Path::new("/bundle"));
});
