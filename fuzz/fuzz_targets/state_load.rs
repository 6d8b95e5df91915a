//! `state.json` as a crash, a full disk or a hand edit may leave it: load it through the state
//! store and compute the live status, the way `state`, `kill` and `delete` do.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

const ID: &str = "fuzz";

/// A store in `OCIRUN_FUZZ_STATE_DIR` (run-bounded.sh makes one on /dev/shm and removes it), or
/// in a per-process directory under the temp dir.
fn store() -> &'static (ocirun::state::Store, PathBuf) {
    static STORE: OnceLock<(ocirun::state::Store, PathBuf)> = OnceLock::new();
    STORE.get_or_init(|| {
        let root = std::env::var_os("OCIRUN_FUZZ_STATE_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| std::env::temp_dir().join(format!("ocirun-fuzz-state-{}", std::process::id())));
        let store = ocirun::state::Store::new(&root);
        // The directory must exist; its state is overwritten by every input.
        let _ = std::fs::create_dir_all(root.join(ID));
        (store, root.join(ID).join("state.json"))
    })
}

fuzz_target!(|data: &[u8]| {
    let (store, file) = store();
    std::fs::write(file, data).expect("write state.json");
    let dir = store.open(ID).expect("open the fuzz container dir");
    let Ok(st) = dir.load() else { return };
    let status = ocirun::container::live_status(&st);
    let _ = st.oci_state(status);
});
