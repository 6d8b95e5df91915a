//! Building the static `ocirun-reporter` that every test rootfs carries.
//!
//! The build uses its own target directory and passes `+crt-static` through RUSTFLAGS for that
//! one cargo call, so the workspace's normal (dynamic) builds are neither forced static nor
//! invalidated by it. `OCIRUN_TEST_REPORTER` may name a prebuilt binary instead.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use crate::runtime::{target_dir, workspace_root};

const TRIPLE: &str = "x86_64-unknown-linux-gnu";

/// Path of the static reporter, built on first use.
pub fn reporter_path() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let path = match std::env::var_os("OCIRUN_TEST_REPORTER") {
            Some(p) => PathBuf::from(p),
            None => build(),
        };
        let elf = std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        assert!(
            !has_interpreter(&elf),
            "{} is dynamically linked; it must be static to run in a bare rootfs",
            path.display()
        );
        path
    })
}

fn build() -> PathBuf {
    let dir = target_dir().join("reporter-static");
    let status = Command::new(env!("CARGO"))
        .args(["build", "-p", "reporter", "--release", "--target", TRIPLE, "--target-dir"])
        .arg(&dir)
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .current_dir(workspace_root())
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building the static reporter failed");
    dir.join(TRIPLE).join("release/ocirun-reporter")
}

/// Whether an x86-64 ELF file has a PT_INTERP program header, i.e. needs a dynamic loader.
pub fn has_interpreter(elf: &[u8]) -> bool {
    const PT_INTERP: u32 = 3;
    let u16_at = |o: usize| u16::from_le_bytes([elf[o], elf[o + 1]]) as usize;
    let u32_at = |o: usize| u32::from_le_bytes(elf[o..o + 4].try_into().unwrap_or_default());
    let u64_at = |o: usize| u64::from_le_bytes(elf[o..o + 8].try_into().unwrap_or_default()) as usize;
    assert!(elf.len() > 64 && &elf[..4] == b"\x7fELF" && elf[4] == 2, "not a 64-bit ELF file");
    let (phoff, phentsize, phnum) = (u64_at(32), u16_at(54), u16_at(56));
    (0..phnum).any(|i| {
        let off = phoff + i * phentsize;
        off + 4 <= elf.len() && u32_at(off) == PT_INTERP
    })
}
