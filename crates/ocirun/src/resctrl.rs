//! Intel RDT (`linux.intelRdt`) through the resctrl file system: cache and memory-bandwidth
//! allocation per container, and optional monitoring.
//!
//! resctrl (Documentation/arch/x86/resctrl.rst) is a tree of groups under its mount point
//! (`/sys/fs/resctrl`, injectable with [`Resctrl::at`] so the logic runs on a plain temp
//! tree): each directory is a CLOS group with a `schemata` file (one `RESOURCE:id=value;…` line
//! per resource, e.g. `L3:0=ff;1=f0` or `MB:0=50`) and a `tasks` file; a task written to
//! `tasks` moves there, and its children inherit the group. `mon_groups/<name>` inside a group
//! is a monitoring group (counters only).
//!
//! * The group is `closID` (default: the container id). An existing group is joined, not
//!   changed: if the config also gives schemata, they must match what the group has, since
//!   other containers share it. A group we create is ours and removed on delete.
//! * Schemata lines are checked before anything is written: `l3CacheSchema` must be `L3…:`
//!   lines, `memBwSchema` `MB:` lines, and every resource must be one the host lists under
//!   `info/` (the kernel's own names; `info/L3_MON` style monitoring entries are not
//!   allocation resources). When the kernel still refuses a line, its reason from
//!   `info/last_cmd_status` is in the error.
//! * `enableMonitoring` creates `mon_groups/<id>` in the group and puts the init there too.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::ErrorKind;
use crate::spec::IntelRdt;

/// Where the host mounts resctrl.
pub const RESCTRL_ROOT: &str = "/sys/fs/resctrl";

/// An RDT operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RdtError {
    /// resctrl is not there.
    #[error("resctrl is not mounted at {}: the host has no Intel RDT or it is not mounted", root.display())]
    NotMounted {
        /// The expected mount point.
        root: PathBuf,
    },
    /// A schemata line or the closID is not acceptable.
    #[error("invalid linux.intelRdt.{field} {value:?}: {reason}")]
    Invalid {
        /// The config field.
        field: &'static str,
        /// The value.
        value: String,
        /// Why, and what would be accepted.
        reason: String,
    },
    /// Joining an existing group whose schemata differ from the config's.
    #[error("resctrl group {} exists with {existing:?}, not {wanted:?}: use another closID or the group's schemata", dir.display())]
    Mismatch {
        /// The group.
        dir: PathBuf,
        /// The line asked for.
        wanted: String,
        /// What the group has for that resource.
        existing: String,
    },
    /// A file or directory operation failed.
    #[error("cannot {op} {}: {source}{}", path.display(), if status.is_empty() { String::new() } else { format!(" (kernel: {status})") })]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The kernel's `info/last_cmd_status`, if it said anything.
        status: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl RdtError {
    /// The stable kind.
    pub fn kind(&self) -> ErrorKind {
        match self {
            RdtError::NotMounted { .. } => ErrorKind::Unsupported,
            RdtError::Invalid { .. } | RdtError::Mismatch { .. } => ErrorKind::InvalidSpec,
            RdtError::Io { source, .. } => match source.raw_os_error() {
                Some(libc::EPERM) | Some(libc::EACCES) => ErrorKind::Permission,
                _ => ErrorKind::Io,
            },
        }
    }
}

type Result<T, E = RdtError> = std::result::Result<T, E>;

/// A container's place in resctrl; serialisable into the container's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// The CLOS group directory.
    pub dir: PathBuf,
    /// Whether we created it (and so remove it).
    pub created: bool,
    /// The monitoring group, when `enableMonitoring`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mon: Option<PathBuf>,
}

/// The resctrl file system.
#[derive(Debug, Clone)]
pub struct Resctrl {
    root: PathBuf,
}

impl Default for Resctrl {
    fn default() -> Self {
        Resctrl::at(Path::new(RESCTRL_ROOT))
    }
}

impl Resctrl {
    /// resctrl mounted at `root`.
    pub fn at(root: &Path) -> Resctrl {
        Resctrl { root: root.to_path_buf() }
    }

    /// Whether resctrl is mounted (its root has a `schemata` file).
    pub fn is_mounted(&self) -> bool {
        self.root.join("schemata").is_file()
    }

    /// Create (or join) the group for container `id` and write its schemata. Nothing is left
    /// behind on failure.
    pub fn setup(&self, rdt: &IntelRdt, id: &str) -> Result<Group> {
        if !self.is_mounted() {
            return Err(RdtError::NotMounted { root: self.root.clone() });
        }
        let clos = rdt.clos_id.as_deref().unwrap_or(id);
        if clos.is_empty()
            || clos.contains('/')
            || clos == "."
            || clos == ".."
            || clos == "info"
            || clos == "mon_groups"
        {
            return Err(RdtError::Invalid {
                field: "closID",
                value: clos.into(),
                reason: "must be a plain directory name other than info and mon_groups".into(),
            });
        }
        let lines = self.lines(rdt)?;
        let dir = self.root.join(clos);
        let created = match std::fs::create_dir(&dir) {
            Ok(()) => true,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => false,
            Err(source) => return Err(self.io("create the resctrl group", &dir, source)),
        };
        let mut group = Group { dir, created, mon: None };
        if let Err(e) = self.fill(&mut group, &lines, rdt, id) {
            let _ = group.remove();
            return Err(e);
        }
        Ok(group)
    }

    fn fill(&self, group: &mut Group, lines: &[String], rdt: &IntelRdt, id: &str) -> Result<()> {
        if group.created {
            if !lines.is_empty() {
                let path = group.dir.join("schemata");
                let text = lines.join("\n") + "\n";
                std::fs::write(&path, text).map_err(|source| self.io("write schemata to", &path, source))?;
            }
        } else {
            check_matches(&group.dir, lines)?;
        }
        if rdt.enable_monitoring == Some(true) {
            let mon = group.dir.join("mon_groups").join(id);
            std::fs::create_dir(&mon).map_err(|source| self.io("create the monitoring group", &mon, source))?;
            group.mon = Some(mon);
        }
        Ok(())
    }

    /// Every schemata line the config asks for, checked.
    fn lines(&self, rdt: &IntelRdt) -> Result<Vec<String>> {
        let known = self.resources();
        let mut out: Vec<String> = Vec::new();
        let mut add = |field: &'static str, text: &str, only: Option<&[&str]>| -> Result<()> {
            for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
                let bad = |reason: String| RdtError::Invalid { field, value: line.into(), reason };
                let (res, domains) = line.split_once(':').ok_or_else(|| bad("expected RESOURCE:id=value;…".into()))?;
                let res = res.trim();
                if let Some(only) = only {
                    if !only.contains(&res) {
                        return Err(bad(format!("this field takes only {} lines", only.join(", "))));
                    }
                }
                if !known.is_empty() && !known.iter().any(|k| k == res) {
                    return Err(bad(format!(
                        "this host's resctrl has no resource {res} (it has {})",
                        known.join(", ")
                    )));
                }
                for d in domains.split(';').map(str::trim).filter(|d| !d.is_empty()) {
                    let ok = d.split_once('=').is_some_and(|(id, v)| {
                        !id.trim().is_empty()
                            && id.trim().chars().all(|c| c.is_ascii_digit() || c == '*')
                            && !v.trim().is_empty()
                    });
                    if !ok {
                        return Err(bad(format!("domain {d:?} is not id=value")));
                    }
                }
                if domains.trim().is_empty() {
                    return Err(bad("no domain given".into()));
                }
                if !out.iter().any(|l| l == line) {
                    out.push(line.to_string());
                }
            }
            Ok(())
        };
        if let Some(l3) = &rdt.l3_cache_schema {
            add("l3CacheSchema", l3, Some(&["L3", "L3CODE", "L3DATA"]))?;
        }
        if let Some(mb) = &rdt.mem_bw_schema {
            add("memBwSchema", mb, Some(&["MB"]))?;
        }
        for s in &rdt.schemata {
            add("schemata", s, None)?;
        }
        Ok(out)
    }

    /// The allocation resources the host offers: `info/<NAME>` other than the `_MON` ones.
    fn resources(&self) -> Vec<String> {
        let Ok(rd) = std::fs::read_dir(self.root.join("info")) else {
            return Vec::new();
        };
        let mut v: Vec<String> = rd
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_dir())
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| !n.ends_with("_MON"))
            .collect();
        v.sort();
        v
    }

    fn io(&self, op: &'static str, path: &Path, source: std::io::Error) -> RdtError {
        let status = std::fs::read_to_string(self.root.join("info/last_cmd_status")).unwrap_or_default();
        let status = status.trim();
        let status = if status == "ok" { String::new() } else { status.to_string() };
        RdtError::Io { op, path: path.to_path_buf(), status, source }
    }
}

/// Joining an existing group: each requested line must equal the group's line for the same
/// resource (whitespace and leading zeros of hex masks aside).
fn check_matches(dir: &Path, lines: &[String]) -> Result<()> {
    if lines.is_empty() {
        return Ok(());
    }
    let path = dir.join("schemata");
    let have = std::fs::read_to_string(&path).map_err(|source| RdtError::Io {
        op: "read",
        path: path.clone(),
        status: String::new(),
        source,
    })?;
    for want in lines {
        let res = want.split(':').next().unwrap_or("").trim();
        let existing = have.lines().find(|l| l.split(':').next().map(str::trim) == Some(res)).unwrap_or("").trim();
        if normalize(existing) != normalize(want) {
            return Err(RdtError::Mismatch { dir: dir.to_path_buf(), wanted: want.clone(), existing: existing.into() });
        }
    }
    Ok(())
}

/// `L3:0=00ff; 1=f` → `L3:0=ff;1=f`, domains sorted.
fn normalize(line: &str) -> String {
    let Some((res, domains)) = line.split_once(':') else {
        return line.trim().to_string();
    };
    let mut d: Vec<String> = domains
        .split(';')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| match d.split_once('=') {
            Some((id, v)) => {
                let v = v.trim().trim_start_matches('0');
                format!("{}={}", id.trim(), if v.is_empty() { "0" } else { v })
            }
            None => d.to_string(),
        })
        .collect();
    d.sort();
    format!("{}:{}", res.trim(), d.join(";"))
}

impl Group {
    /// Move `pid` into the group (and its monitoring group).
    pub fn add_task(&self, pid: i32) -> Result<()> {
        for dir in std::iter::once(&self.dir).chain(self.mon.as_ref()) {
            let path = dir.join("tasks");
            std::fs::write(&path, pid.to_string()).map_err(|source| RdtError::Io {
                op: "write the init's pid to",
                path: path.clone(),
                status: String::new(),
                source,
            })?;
        }
        Ok(())
    }

    /// Remove the monitoring group and, if we created it, the group. Already gone is fine.
    pub fn remove(&self) -> Result<()> {
        let dirs = self.mon.iter().chain(self.created.then_some(&self.dir));
        for d in dirs {
            match std::fs::remove_dir(d) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(RdtError::Io { op: "remove", path: d.clone(), status: String::new(), source: e })
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// Set up `linux.intelRdt` of `spec` for container `id` on the host, if it asks for it.
pub fn setup(spec: &crate::spec::Spec, id: &str) -> Result<Option<Group>> {
    match spec.linux.as_ref().and_then(|l| l.intel_rdt.as_ref()) {
        Some(rdt) => Resctrl::default().setup(rdt, id).map(Some),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Tree(PathBuf);
    impl Drop for Tree {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// A resctrl-shaped tree of plain files: root schemata, info/{L3,MB,L3_MON}.
    fn tree(name: &str) -> Tree {
        let root = std::env::temp_dir().join(format!("ocirun-rdt-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for d in ["info/L3", "info/MB", "info/L3_MON"] {
            std::fs::create_dir_all(root.join(d)).expect("mkdir");
        }
        std::fs::write(root.join("schemata"), "L3:0=fff\nMB:0=100\n").expect("schemata");
        Tree(root)
    }

    fn rdt(l3: Option<&str>, mb: Option<&str>, schemata: &[&str], clos: Option<&str>, mon: bool) -> IntelRdt {
        IntelRdt {
            clos_id: clos.map(str::to_string),
            schemata: schemata.iter().map(|s| s.to_string()).collect(),
            l3_cache_schema: l3.map(str::to_string),
            mem_bw_schema: mb.map(str::to_string),
            enable_monitoring: Some(mon),
        }
    }

    #[test]
    fn a_new_group_gets_the_schemata_and_is_removed() {
        let t = tree("new");
        let r = Resctrl::at(&t.0);
        let g = r.setup(&rdt(Some("L3:0=f"), Some("MB:0=50"), &["L3:0=f"], None, false), "web").expect("setup");
        assert_eq!(g.dir, t.0.join("web"));
        assert!(g.created && g.mon.is_none());
        assert_eq!(std::fs::read_to_string(g.dir.join("schemata")).expect("read"), "L3:0=f\nMB:0=50\n");
        // A plain directory does not grow mon_groups as a resctrl group does: the monitoring
        // step fails, and the group made for it is removed again.
        let e = r.setup(&rdt(None, None, &[], Some("web2"), true), "web").expect_err("no mon_groups");
        assert!(e.to_string().contains("monitoring group"), "{e}");
        assert!(!t.0.join("web2").exists(), "a failed setup leaves nothing");
        let g = Group { dir: t.0.join("web"), created: true, mon: None };
        g.add_task(42).expect("tasks");
        assert_eq!(std::fs::read_to_string(t.0.join("web/tasks")).expect("read"), "42");
        std::fs::remove_file(t.0.join("web/tasks")).expect("rm");
        std::fs::remove_file(t.0.join("web/schemata")).expect("rm");
        g.remove().expect("remove");
        assert!(!t.0.join("web").exists());
    }

    #[test]
    fn monitoring_group_is_made_and_removed_but_a_joined_group_stays() {
        let t = tree("join");
        std::fs::create_dir_all(t.0.join("shared/mon_groups")).expect("mkdir");
        std::fs::write(t.0.join("shared/schemata"), "L3:0=00f0;1=f\nMB:0=70\n").expect("write");
        let r = Resctrl::at(&t.0);
        let g = r.setup(&rdt(Some("L3:1=f;0=f0"), None, &[], Some("shared"), true), "c1").expect("join");
        assert!(!g.created);
        assert_eq!(g.mon, Some(t.0.join("shared/mon_groups/c1")));
        g.add_task(7).expect("tasks");
        std::fs::remove_file(t.0.join("shared/mon_groups/c1/tasks")).expect("rm");
        g.remove().expect("remove");
        assert!(!t.0.join("shared/mon_groups/c1").exists());
        assert!(t.0.join("shared").is_dir(), "a group we joined is not ours to remove");
        let e = r.setup(&rdt(None, Some("MB:0=50"), &[], Some("shared"), false), "c1").expect_err("mismatch");
        assert!(matches!(e, RdtError::Mismatch { .. }), "{e}");
    }

    #[test]
    fn bad_lines_are_refused_before_anything_is_made() {
        let t = tree("bad");
        let r = Resctrl::at(&t.0);
        for (cfg, field) in [
            (rdt(Some("MB:0=50"), None, &[], None, false), "l3CacheSchema"),
            (rdt(None, Some("L3:0=f"), &[], None, false), "memBwSchema"),
            (rdt(None, None, &["L2:0=f"], None, false), "schemata"),
            (rdt(None, None, &["L3"], None, false), "schemata"),
            (rdt(None, None, &["L3:0"], None, false), "schemata"),
            (rdt(None, None, &["L3:"], None, false), "schemata"),
            (rdt(None, None, &["L3_MON:0=1"], None, false), "schemata"),
            (rdt(None, None, &[], Some("../x"), false), "closID"),
            (rdt(None, None, &[], Some("info"), false), "closID"),
        ] {
            let e = r.setup(&cfg, "c").expect_err(field);
            assert!(e.to_string().contains(field), "{field}: {e}");
            assert_eq!(e.kind(), ErrorKind::InvalidSpec);
        }
        assert!(!t.0.join("c").exists());
    }

    #[test]
    fn not_mounted_is_named() {
        let dir = std::env::temp_dir().join(format!("ocirun-rdt-none-{}", std::process::id()));
        let e = Resctrl::at(&dir).setup(&IntelRdt::default(), "c").expect_err("not mounted");
        assert!(e.to_string().starts_with("resctrl is not mounted at"), "{e}");
        assert_eq!(e.kind(), ErrorKind::Unsupported);
    }
}
