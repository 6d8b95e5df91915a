//! A cache of compiled programs, so starting many containers with the same profile compiles it
//! once. Entries live in a directory the caller chooses (the runtime root, e.g.
//! `/run/ocirun/seccomp-cache/`), one file per profile.
//!
//! The file name is a 64-bit FNV-1a hash of the key (compiler version + the profile serialised
//! as JSON; our `Seccomp` struct serialises its fields in a fixed order). The hash only picks
//! the file: the entry stores the whole key and a load compares it, so a hash collision or a
//! crafted profile can never pick up another profile's program; it just recompiles.
//!
//! Entry layout (little-endian):
//!
//! ```text
//! "OCIRUNSC" | format u32 | flags u32 | notify u32 | key_len u32 | prog_len u32 | warn_len u32
//! key bytes | program bytes (8 per insn) | [warnings, skipped] (JSON) | FNV-1a-64 of all before
//! ```
//!
//! Entries are written to a temporary file and renamed into place, so readers see a whole
//! entry or none. A short, corrupt or foreign entry is ignored, recompiled and rewritten. A
//! cache that cannot be written is not an error: the compiled filter is returned with a
//! warning.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::{compile, CompiledFilter, SeccompError, COMPILER_VERSION};
use crate::spec::Seccomp;

const MAGIC: &[u8; 8] = b"OCIRUNSC";
const FORMAT: u32 = 2;
const HEADER: usize = 8 + 4 * 6;

/// 64-bit FNV-1a: tiny, fast, and enough to spread file names (not relied on for identity).
fn fnv1a(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The cache key of `profile`: compiler version, a NUL, the profile as JSON.
fn key(profile: &Seccomp) -> Result<Vec<u8>, SeccompError> {
    let mut k = Vec::with_capacity(16 * 1024);
    k.extend_from_slice(COMPILER_VERSION.as_bytes());
    k.push(0);
    serde_json::to_writer(&mut k, profile)
        .map_err(|source| SeccompError::Serialize { what: "seccomp profile", source })?;
    Ok(k)
}

/// The file that holds (or will hold) the entry for `profile` under `cache_dir`.
pub fn entry_path(profile: &Seccomp, cache_dir: &Path) -> Result<PathBuf, SeccompError> {
    Ok(cache_dir.join(format!("{:016x}.bpf", fnv1a(&key(profile)?))))
}

/// [`compile`], through the cache in `cache_dir` (created if missing, mode 0700).
pub fn compile_cached(profile: &Seccomp, cache_dir: &Path) -> Result<CompiledFilter, SeccompError> {
    let key = key(profile)?;
    let path = cache_dir.join(format!("{:016x}.bpf", fnv1a(&key)));
    if let Ok(bytes) = fs::read(&path) {
        if let Some(filter) = decode(&bytes, &key) {
            return Ok(filter);
        }
    }
    let mut filter = compile(profile)?;
    if let Err(e) = store(cache_dir, &path, &encode(&filter, &key)) {
        filter.warnings.push(format!("cannot write seccomp cache entry {}: {e}", path.display()));
    }
    Ok(filter)
}

fn encode(filter: &CompiledFilter, key: &[u8]) -> Vec<u8> {
    let prog = filter.program_bytes();
    // A Vec<String> always serialises.
    let warnings = serde_json::to_vec(&(&filter.warnings, &filter.skipped)).unwrap_or_else(|_| b"[[],[]]".to_vec());
    let mut out = Vec::with_capacity(HEADER + key.len() + prog.len() + warnings.len() + 8);
    out.extend_from_slice(MAGIC);
    for v in [
        FORMAT,
        filter.flags(),
        u32::from(filter.uses_notify()),
        key.len() as u32,
        filter.program().len() as u32,
        warnings.len() as u32,
    ] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(key);
    out.extend_from_slice(&prog);
    out.extend_from_slice(&warnings);
    let sum = fnv1a(&out);
    out.extend_from_slice(&sum.to_le_bytes());
    out
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The entry in `bytes` if it is whole, of this format and for exactly `key`.
fn decode(bytes: &[u8], key: &[u8]) -> Option<CompiledFilter> {
    let body_len = bytes.len().checked_sub(8)?;
    let (body, sum) = bytes.split_at(body_len);
    if body.get(..8)? != MAGIC || u32_at(body, 8)? != FORMAT {
        return None;
    }
    if u64::from_le_bytes(sum.try_into().ok()?) != fnv1a(body) {
        return None;
    }
    let flags = u32_at(body, 12)?;
    let notify = u32_at(body, 16)? != 0;
    let key_len = u32_at(body, 20)? as usize;
    let prog_len = (u32_at(body, 24)? as usize).checked_mul(8)?;
    let warn_len = u32_at(body, 28)? as usize;
    let key_end = HEADER.checked_add(key_len)?;
    let prog_end = key_end.checked_add(prog_len)?;
    if prog_end.checked_add(warn_len)? != body.len() || body.get(HEADER..key_end)? != key {
        return None;
    }
    let mut filter = CompiledFilter::from_parts(&body[key_end..prog_end], flags, notify).ok()?;
    (filter.warnings, filter.skipped) = serde_json::from_slice(&body[prog_end..]).ok()?;
    Some(filter)
}

fn store(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("entry"),
        std::process::id()
    ));
    let result = (|| {
        let mut f = fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
        f.write_all(bytes)?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Syscall;

    struct TempDir(PathBuf);
    impl TempDir {
        fn new(tag: &str) -> Self {
            let p = std::env::temp_dir().join(format!("ocirun-seccomp-cache-{tag}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&p);
            TempDir(p)
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn profile(names: &[&str]) -> Seccomp {
        Seccomp {
            default_action: "SCMP_ACT_ERRNO".into(),
            syscalls: vec![Syscall {
                names: names.iter().map(|s| s.to_string()).collect(),
                action: "SCMP_ACT_ALLOW".into(),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn second_load_comes_from_the_cache_and_matches() {
        let dir = TempDir::new("hit");
        let p = profile(&["read", "write", "no_such_syscall"]);
        let first = compile_cached(&p, &dir.0).unwrap();
        let path = entry_path(&p, &dir.0).unwrap();
        assert!(path.exists(), "entry written");
        let second = compile_cached(&p, &dir.0).unwrap();
        assert_eq!(first.program_bytes(), second.program_bytes());
        assert_eq!(first.flags(), second.flags());
        assert_eq!(first.skipped, second.skipped, "skipped names survive the cache");
        assert_eq!(second.skipped.len(), 1);
        assert!(second.warnings.is_empty(), "an unknown name is no warning: {:?}", second.warnings);
        // No temporary files left behind.
        let names: Vec<_> = fs::read_dir(&dir.0).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn corrupt_entry_is_recompiled_and_rewritten() {
        let dir = TempDir::new("corrupt");
        let p = profile(&["read"]);
        let good = compile_cached(&p, &dir.0).unwrap();
        let path = entry_path(&p, &dir.0).unwrap();
        let mut bytes = fs::read(&path).unwrap();
        let mid = bytes.len() - 20;
        bytes[mid] ^= 0xff;
        fs::write(&path, &bytes).unwrap();
        assert!(decode(&bytes, &key(&p).unwrap()).is_none(), "checksum catches the flip");
        let again = compile_cached(&p, &dir.0).unwrap();
        assert_eq!(good.program_bytes(), again.program_bytes());
        assert_eq!(fs::read(&path).unwrap(), encode(&good, &key(&p).unwrap()), "rewritten");
        // Truncated entries too.
        fs::write(&path, &bytes[..10]).unwrap();
        assert_eq!(compile_cached(&p, &dir.0).unwrap().program_bytes(), good.program_bytes());
    }

    #[test]
    fn an_entry_for_another_profile_is_not_used() {
        let dir = TempDir::new("collide");
        let a = profile(&["read"]);
        let b = profile(&["write"]);
        let fa = compile_cached(&a, &dir.0).unwrap();
        // Put a's entry where b's would be, as a hash collision would.
        fs::copy(entry_path(&a, &dir.0).unwrap(), entry_path(&b, &dir.0).unwrap()).unwrap();
        let fb = compile_cached(&b, &dir.0).unwrap();
        assert_ne!(fa.program_bytes(), fb.program_bytes());
        assert_eq!(fb.program_bytes(), compile(&b).unwrap().program_bytes());
    }

    #[test]
    fn unwritable_cache_still_compiles_with_a_warning() {
        let dir = TempDir::new("ro");
        fs::write(&dir.0, b"a file, not a directory").unwrap();
        let f = compile_cached(&profile(&["read"]), &dir.0.join("sub")).unwrap();
        assert!(f.warnings.iter().any(|w| w.contains("cannot write seccomp cache entry")), "{:?}", f.warnings);
        let _ = fs::remove_file(&dir.0);
    }
}
