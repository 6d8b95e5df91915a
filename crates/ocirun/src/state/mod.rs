//! The state store: one directory per container under the runtime root (0700), holding
//! `state.json` (replaced atomically: temp file + rename) and the start socket. Operations on
//! one container are serialised by an exclusive `flock` on its directory.
//!
//! A container's init is identified by its pid *and* its start time (field 22 of
//! `/proc/PID/stat`), so a reused pid never makes a dead container look alive.

mod status;
pub mod time;

pub use status::Status;

use std::fs;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::spec::Spec;
use crate::sys::{self, SysError};

/// Longest container id accepted (a directory name).
pub const MAX_ID_LEN: usize = 255;

/// Check a container id: `[A-Za-z0-9][A-Za-z0-9_.+-]*`, at most [`MAX_ID_LEN`] bytes.
pub fn validate_id(id: &str) -> Result<()> {
    let bad = |reason| Err(Error::InvalidId { id: id.to_string(), reason });
    if id.is_empty() {
        return bad("empty");
    }
    if id.len() > MAX_ID_LEN {
        return bad("longer than 255 characters");
    }
    if !id.as_bytes()[0].is_ascii_alphanumeric() {
        return bad("must start with a letter or digit");
    }
    if !id.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.+-".contains(&b)) {
        return bad("invalid character: only letters, digits and _ . + - are allowed");
    }
    Ok(())
}

/// What the runtime records about a container.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerState {
    /// Container id.
    pub id: String,
    /// Init pid on the host (0 before it exists).
    pub pid: i32,
    /// Init start time in clock ticks since boot, to detect pid reuse.
    pub pid_start: u64,
    /// Absolute bundle path.
    pub bundle: PathBuf,
    /// Absolute rootfs path.
    pub rootfs: PathBuf,
    /// Recorded status (the live status also looks at the process, see [`crate::container::live_status`]).
    pub status: Status,
    /// Creation time, RFC 3339.
    pub created: String,
    /// Uid of the creator.
    pub owner: u32,
    /// The config the container was created from.
    pub config: Spec,
    /// The cgroup the container lives in (layout and path), recorded before it is created;
    /// `None` for a rootless container without one. A record that does not decode makes the
    /// whole state file [`Error::CorruptState`], never a skipped
    /// cgroup removal.
    #[serde(default, deserialize_with = "cgroup_record")]
    pub cgroup: Option<crate::cgroups::Manager>,
    /// Whether the systemd cgroup driver was used.
    #[serde(default)]
    pub systemd_cgroup: bool,
    /// The container's resctrl group (`linux.intelRdt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rdt: Option<crate::resctrl::Group>,
    /// The caller's `NOTIFY_SOCKET` at create, which `start` forwards READY=1 to
    /// (as crun relays it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_socket: Option<PathBuf>,
}

impl ContainerState {
    /// The state as the OCI spec defines it, with the live status.
    pub fn oci_state(&self, status: Status) -> crate::spec::State {
        crate::spec::State {
            oci_version: crate::spec::OCI_VERSION.into(),
            id: self.id.clone(),
            status: status.as_str().into(),
            pid: if status == Status::Stopped { None } else { Some(self.pid) },
            bundle: self.bundle.to_string_lossy().into_owned(),
            annotations: self.config.annotations.clone(),
            ..Default::default()
        }
    }

    /// Whether the recorded init process is still the one we started.
    pub fn init_alive(&self) -> bool {
        self.pid > 0 && process_start_time(self.pid) == Some(self.pid_start)
    }
}

/// The start time of `pid` (clock ticks since boot), if it exists and is not a zombie.
pub fn process_start_time(pid: i32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses: fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split(' ');
    let state = fields.next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    // `rest` starts at field 3 (state); start time is field 22.
    fields.nth(18)?.parse().ok()
}

/// Reap the container's init if it is a zombie child of this process (a library caller that
/// created it): checked by pid *and* start time, so no other child of the caller is reaped.
pub fn reap_if_zombie(st: &ContainerState) {
    if st.pid <= 0 {
        return;
    }
    let Ok(stat) = fs::read_to_string(format!("/proc/{}/stat", st.pid)) else { return };
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) else { return };
    let mut fields = rest.split(' ');
    let zombie = fields.next() == Some("Z");
    let start: Option<u64> = fields.nth(18).and_then(|s| s.parse().ok());
    if zombie && start == Some(st.pid_start) {
        let _ = sys::process::waitpid(st.pid, true);
    }
}

/// The runtime root: where container directories live.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

/// A locked container directory. The lock is released when this is dropped.
#[derive(Debug)]
pub struct ContainerDir {
    /// The directory.
    pub path: PathBuf,
    /// The container id.
    pub id: String,
    _lock: OwnedFd,
}

impl Store {
    /// A store at `root` (created on first use, mode 0700).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Store { root: root.into() }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn ensure_root(&self) -> Result<()> {
        match fs::DirBuilder::new().recursive(true).mode(0o700).create(&self.root) {
            Ok(()) => Ok(()),
            Err(e) => Err(SysError::io("mkdir", &self.root, &e).into()),
        }
    }

    /// Create the directory of a new container with its first state, locked. The directory
    /// is prepared under a hidden name and renamed into place only once it is locked and holds
    /// `state.json`, so no other command ever sees a container without a state.
    pub fn create(&self, id: &str, initial: &ContainerState) -> Result<ContainerDir> {
        validate_id(id)?;
        self.ensure_root()?;
        let path = self.root.join(id);
        if path.exists() {
            return Err(Error::AlreadyExists { id: id.into() });
        }
        self.remove_stale_staging(id);
        let tmp = self.root.join(format!(".{id}.{}.new", std::process::id()));
        if let Err(e) = fs::DirBuilder::new().mode(0o700).create(&tmp) {
            return Err(SysError::io("mkdir", &tmp, &e).into());
        }
        let publish = || -> Result<ContainerDir> {
            let lock = lock_dir(&tmp)?;
            let staged = ContainerDir { path: tmp.clone(), id: id.into(), _lock: lock };
            staged.save(initial)?;
            match sys::fs_stat::rename_noreplace(&tmp, &path) {
                Ok(()) => Ok(ContainerDir { path: path.clone(), ..staged }),
                Err(e) if e.errno == libc::EEXIST || e.errno == libc::ENOTEMPTY => {
                    Err(Error::AlreadyExists { id: id.into() })
                }
                Err(e) => Err(e.into()),
            }
        };
        let r = publish();
        if r.is_err() {
            let _ = fs::remove_dir_all(&tmp);
        }
        r
    }

    /// Open and lock an existing container's directory.
    pub fn open(&self, id: &str) -> Result<ContainerDir> {
        validate_id(id)?;
        let path = self.root.join(id);
        let lock = match lock_dir(&path) {
            Ok(l) => l,
            Err(Error::Sys(e)) if e.errno == libc::ENOENT => {
                return Err(Error::NotFound { id: id.into(), root: self.root.clone() })
            }
            Err(e) => return Err(e),
        };
        // The directory may have been removed while we waited for the lock.
        if !path.join(STATE_FILE).exists() && !path.exists() {
            return Err(Error::NotFound { id: id.into(), root: self.root.clone() });
        }
        Ok(ContainerDir { path, id: id.into(), _lock: lock })
    }

    /// Remove staging directories of `id` left by a create that was killed before it
    /// published the container (their creator's pid is gone).
    pub fn remove_stale_staging(&self, id: &str) {
        let Ok(rd) = fs::read_dir(&self.root) else { return };
        let prefix = format!(".{id}.");
        for e in rd.flatten() {
            let name = e.file_name();
            let Some(name) = name.to_str() else { continue };
            let Some(pid) = name.strip_prefix(&prefix).and_then(|r| r.strip_suffix(".new")) else { continue };
            let alive = pid.parse::<i32>().is_ok_and(|p| Path::new(&format!("/proc/{p}")).exists());
            if !alive {
                let _ = fs::remove_dir_all(e.path());
            }
        }
    }

    /// Ids of all containers in the store.
    pub fn list(&self) -> Result<Vec<String>> {
        let rd = match fs::read_dir(&self.root) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(SysError::io("readdir", &self.root, &e).into()),
        };
        let mut ids: Vec<String> = rd
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|id| validate_id(id).is_ok())
            .collect();
        ids.sort();
        Ok(ids)
    }
}

const STATE_FILE: &str = "state.json";

fn lock_dir(path: &Path) -> Result<OwnedFd> {
    let f = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| SysError::io("open", path, &e))?;
    let fd = OwnedFd::from(f);
    sys::fd::flock_exclusive(fd.as_fd()).map_err(|e| e.at(path))?;
    Ok(fd)
}

impl ContainerDir {
    /// Read `state.json`.
    pub fn load(&self) -> Result<ContainerState> {
        let p = self.path.join(STATE_FILE);
        let data = match fs::read(&p) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::CorruptState {
                    id: self.id.clone(),
                    path: p,
                    reason: "state file is missing (creation was interrupted)".into(),
                })
            }
            Err(e) => return Err(SysError::io("read", &p, &e).into()),
        };
        serde_json::from_slice(&data).map_err(|e| Error::CorruptState {
            id: self.id.clone(),
            path: p,
            reason: e.to_string(),
        })
    }

    /// Replace `state.json` atomically.
    pub fn save(&self, st: &ContainerState) -> Result<()> {
        let p = self.path.join(STATE_FILE);
        let tmp = self.path.join(".state.json.tmp");
        let data =
            serde_json::to_vec(st).map_err(|e| Error::InvalidArgument(format!("cannot serialise state: {e}")))?;
        fs::write(&tmp, &data).map_err(|e| SysError::io("write", &tmp, &e))?;
        fs::rename(&tmp, &p).map_err(|e| SysError::io("rename", &p, &e))?;
        Ok(())
    }

    /// Remove the directory and everything in it.
    pub fn remove(&self) -> Result<()> {
        match fs::remove_dir_all(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(SysError::io("remove", &self.path, &e).into()),
        }
    }

    /// Path of a file inside the container directory.
    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

/// Decode the `cgroup` field, naming it in the error (serde's own message does not).
fn cgroup_record<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<crate::cgroups::Manager>, D::Error> {
    let v = <Option<serde_json::Value> as serde::Deserialize>::deserialize(d)?;
    v.map(|v| serde_json::from_value(v).map_err(|e| serde::de::Error::custom(format!("the cgroup record: {e}"))))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        for ok in ["a", "abc-1.2_3+x", "0abc", &"a".repeat(255)] {
            assert!(validate_id(ok).is_ok(), "{ok}");
        }
        for bad in ["", "../x", "a/b", ".x", "-x", "a b", "..", &"a".repeat(256), "a\0b"] {
            assert!(validate_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn start_time_of_self_and_missing() {
        let me = std::process::id() as i32;
        assert!(process_start_time(me).is_some());
        assert_eq!(process_start_time(i32::MAX - 1), None);
    }

    #[test]
    fn store_roundtrip_and_corruption() {
        let dir = std::env::temp_dir().join(format!("ocirun-state-test-{}", std::process::id()));
        let store = Store::new(&dir);
        let st = ContainerState {
            id: "c1".into(),
            pid: 1,
            pid_start: 2,
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            status: Status::Created,
            created: time::now_rfc3339(),
            owner: 0,
            config: Spec::default(),
            cgroup: None,
            systemd_cgroup: false,
            notify_socket: None,
            rdt: None,
        };
        let c = store.create("c1", &st).unwrap();
        assert!(matches!(store.create("c1", &st), Err(Error::AlreadyExists { .. })));
        assert_eq!(c.load().unwrap().pid_start, 2);
        assert_eq!(store.list().unwrap(), vec!["c1".to_string()]);
        fs::write(c.file(STATE_FILE), b"{\"id\": 3").unwrap();
        assert!(matches!(c.load(), Err(Error::CorruptState { .. })));
        c.remove().unwrap();
        drop(c);
        assert!(matches!(store.open("c1"), Err(Error::NotFound { .. })));
        assert_eq!(store.list().unwrap(), Vec::<String>::new());
        fs::remove_dir_all(&dir).unwrap();
    }

    /// The cgroup record as the previous version wrote it (a `serde_json::Value` of the
    /// manager) decodes into the typed record; a record that does not decode is an error that
    /// names the state file.
    #[test]
    fn cgroup_record_is_typed() {
        let dir = std::env::temp_dir().join(format!("ocirun-state-cg-{}", std::process::id()));
        let store = Store::new(&dir);
        let mut st = ContainerState {
            id: "c2".into(),
            pid: 1,
            pid_start: 2,
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            status: Status::Created,
            created: time::now_rfc3339(),
            owner: 0,
            config: Spec::default(),
            cgroup: None,
            systemd_cgroup: false,
            rdt: None,
            notify_socket: None,
        };
        let c = store.create("c2", &st).unwrap();
        let written_before = r#"{"layout": {"controllers": {"blkio": "/sys/fs/cgroup/blkio", "cpu": "/sys/fs/cgroup/cpu", "memory": "/sys/fs/cgroup/memory", "pids": "/sys/fs/cgroup/pids"}, "mode": "hybrid", "unified": "/sys/fs/cgroup/unified"}, "path": {"driver": "fs", "path": "/ocirun/t1"}}"#;
        let mut v = serde_json::to_value(&st).unwrap();
        v["cgroup"] = serde_json::from_str(written_before).unwrap();
        fs::write(c.file(STATE_FILE), serde_json::to_vec(&v).unwrap()).unwrap();
        let m = c.load().unwrap().cgroup.expect("cgroup record");
        assert_eq!(m.path().as_str(), "/ocirun/t1");
        assert!(m.dirs().contains(&PathBuf::from("/sys/fs/cgroup/memory/ocirun/t1")), "{:?}", m.dirs());
        // Saved again, it reads back the same.
        st.cgroup = Some(m);
        c.save(&st).unwrap();
        assert_eq!(c.load().unwrap().cgroup.unwrap().dirs(), st.cgroup.as_ref().unwrap().dirs());
        v["cgroup"] = serde_json::json!({"layout": "v3", "path": 7});
        fs::write(c.file(STATE_FILE), serde_json::to_vec(&v).unwrap()).unwrap();
        match c.load() {
            Err(e @ Error::CorruptState { .. }) => {
                assert!(e.to_string().contains(&c.file(STATE_FILE).display().to_string()), "{e}");
                assert!(e.to_string().contains("cgroup"), "{e}");
            }
            other => panic!("expected a corrupt state, got {other:?}"),
        }
        c.remove().unwrap();
        drop(c);
        fs::remove_dir_all(&dir).unwrap();
    }
}
