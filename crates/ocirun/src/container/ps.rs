//! `ps`: the processes of a container, as host pids read from its cgroup, or as the host's
//! `ps` table cut down to those pids (the runc contract: `ps -ef` unless options are given,
//! the header kept, rows matched on the `PID` column).

use std::path::Path;
use std::process::Command;

use super::Runtime;
use crate::error::{Error, Result};
use crate::sys::SysError;

/// `ps` options used when none are given.
pub const DEFAULT_PS_ARGS: &[&str] = &["-ef"];

impl Runtime {
    /// Host pids of every process in the container's cgroup (and its sub-cgroups), sorted.
    pub fn processes(&self, id: &str) -> Result<Vec<i32>> {
        let (_dir, st, _status) = self.open(id)?;
        let mgr = super::pause::manager(&st, "ps")?;
        Ok(mgr.pids()?)
    }

    /// Run the host's `ps` with `ps_args` (default `-ef`) and keep its header and the rows of
    /// the container's processes.
    pub fn ps_table(&self, id: &str, ps_args: &[String]) -> Result<String> {
        let pids = self.processes(id)?;
        let args: Vec<&str> =
            if ps_args.is_empty() { DEFAULT_PS_ARGS.to_vec() } else { ps_args.iter().map(String::as_str).collect() };
        let out = Command::new("ps").args(&args).output().map_err(|e| SysError::io("exec", Path::new("ps"), &e))?;
        let text = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            return Err(Error::InvalidArgument(format!(
                "ps {} failed ({}): {}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        filter_table(&text, &pids)
            .ok_or_else(|| Error::InvalidArgument(format!("the output of ps {} has no PID column", args.join(" "))))
    }
}

/// The header of a `ps` table and the rows whose `PID` column is in `pids`; `None` if the
/// header has no `PID` column. Columns before `PID` (user names) hold no spaces in `ps` output,
/// so the column is found by counting fields.
pub fn filter_table(text: &str, pids: &[i32]) -> Option<String> {
    let mut lines = text.lines();
    let header = lines.next()?;
    let col = header.split_whitespace().position(|f| f == "PID")?;
    let mut out = format!("{header}\n");
    for line in lines {
        let pid = line.split_whitespace().nth(col).and_then(|p| p.parse::<i32>().ok());
        if pid.is_some_and(|p| pids.contains(&p)) {
            out.push_str(line);
            out.push('\n');
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::filter_table;

    #[test]
    fn keeps_header_and_matching_rows() {
        let t = "UID PID PPID C STIME TTY TIME CMD\nroot 1 0 0 10:00 ? 00:00:01 init\nroot 42 1 0 10:00 ? 00:00:00 sh -c x\n";
        assert_eq!(
            filter_table(t, &[42]).unwrap(),
            "UID PID PPID C STIME TTY TIME CMD\nroot 42 1 0 10:00 ? 00:00:00 sh -c x\n"
        );
        assert_eq!(filter_table(t, &[]).unwrap(), "UID PID PPID C STIME TTY TIME CMD\n");
        assert!(filter_table("USER COMMAND\nroot init\n", &[1]).is_none());
    }
}
