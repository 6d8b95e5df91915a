//! Reading and writing cgroup files with errors that name the file and the value.
//!
//! A cgroup file takes one value per `write(2)`, so a value is written with a single call, and
//! a missing file is reported distinctly: it means a controller or a kernel feature is absent.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind as IoKind, Read, Write};
use std::path::{Path, PathBuf};

use super::{CgroupError, Result};

/// Write `value` to the cgroup file `path` in one `write(2)`.
pub(crate) fn write(path: &Path, value: &str) -> Result<()> {
    let err = |source| CgroupError::Write { path: path.to_path_buf(), value: value.to_string(), source };
    let mut f = OpenOptions::new().write(true).truncate(true).open(path).map_err(err)?;
    let n = f.write(value.as_bytes()).map_err(err)?;
    if n != value.len() {
        return Err(err(std::io::Error::from(IoKind::WriteZero)));
    }
    Ok(())
}

/// Write `value` to `file` for config field `field`; a missing file becomes
/// [`CgroupError::FileUnavailable`].
pub(crate) fn write_field(dir: &Path, file: &str, value: &str, field: &'static str) -> Result<()> {
    let path = dir.join(file);
    match write(&path, value) {
        Err(CgroupError::Write { source, .. }) if source.kind() == IoKind::NotFound => {
            Err(CgroupError::FileUnavailable { path, field })
        }
        r => r,
    }
}

/// The whole content of a cgroup file.
pub(crate) fn read(path: &Path) -> Result<String> {
    let mut s = String::new();
    File::open(path)
        .and_then(|mut f| f.read_to_string(&mut s))
        .map_err(|source| CgroupError::Read { path: path.to_path_buf(), source })?;
    Ok(s)
}

/// The content of a cgroup file, or `None` if the file does not exist.
pub(crate) fn read_opt(path: &Path) -> Result<Option<String>> {
    match read(path) {
        Ok(s) => Ok(Some(s)),
        Err(CgroupError::Read { source, .. }) if source.kind() == IoKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// A file holding one number, or `max` (read as `None` inside `Some`); `None` if absent.
pub(crate) fn read_num(path: &Path) -> Result<Option<Option<u64>>> {
    let Some(s) = read_opt(path)? else {
        return Ok(None);
    };
    parse_num(path, s.trim()).map(Some)
}

fn parse_num(path: &Path, s: &str) -> Result<Option<u64>> {
    if s == "max" {
        return Ok(None);
    }
    s.parse::<u64>()
        .map(Some)
        .map_err(|_| CgroupError::Parse { path: path.to_path_buf(), reason: format!("{s:?} is not a number") })
}

/// `key value` lines (`memory.stat`, `cpu.stat`, `memory.events`) as pairs; bad lines skipped.
pub(crate) fn parse_flat_keyed(text: &str) -> Vec<(&str, u64)> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k, v.trim().parse().ok()?))
        })
        .collect()
}

/// Look `key` up in a `key value` file; `None` if the file or the key is absent.
pub(crate) fn read_keyed(path: &Path, key: &str) -> Result<Option<u64>> {
    let Some(text) = read_opt(path)? else {
        return Ok(None);
    };
    Ok(parse_flat_keyed(&text).into_iter().find(|(k, _)| *k == key).map(|(_, v)| v))
}

/// Create `dir` and any missing parents; returns the directories created, outermost first.
pub(crate) fn mkdir_all(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut missing = Vec::new();
    let mut cur = Some(dir);
    while let Some(d) = cur {
        if d.exists() {
            break;
        }
        missing.push(d.to_path_buf());
        cur = d.parent();
    }
    missing.reverse();
    for d in &missing {
        match std::fs::create_dir(d) {
            Ok(()) => {}
            Err(e) if e.kind() == IoKind::AlreadyExists => {}
            Err(source) => return Err(CgroupError::Create { path: d.clone(), source }),
        }
    }
    Ok(missing)
}

/// The pids listed in a `cgroup.procs` file; an absent file (a removed cgroup) is empty.
pub(crate) fn read_pids(path: &Path) -> Result<Vec<i32>> {
    let Some(text) = read_opt(path)? else {
        return Ok(Vec::new());
    };
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.trim()
                .parse()
                .map_err(|_| CgroupError::Parse { path: path.to_path_buf(), reason: format!("{l:?} is not a pid") })
        })
        .collect()
}

/// `dir` and every cgroup below it, deepest last.
pub(crate) fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    let mut i = 0;
    while i < out.len() {
        if let Ok(entries) = std::fs::read_dir(&out[i]) {
            for e in entries.flatten() {
                if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                    out.push(e.path());
                }
            }
        }
        i += 1;
    }
    out
}
