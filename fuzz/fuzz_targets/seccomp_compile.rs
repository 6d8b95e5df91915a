//! `linux.seccomp` profiles: parse one as the spec's type and compile it to BPF. The compiler
//! may refuse a profile, never crash on one.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(profile) = serde_json::from_slice::<ocirun::spec::Seccomp>(data) else { return };
    let _ = ocirun::seccomp::compile(&profile);
});
