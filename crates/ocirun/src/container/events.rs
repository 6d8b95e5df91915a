//! `events`: a container's resource usage and OOM kills as a stream of JSON events, in the
//! shape runc prints (`{"type":"stats","id":ID,"data":{cpu,memory,pids,blkio,hugetlb}}` and
//! `{"type":"oom","id":ID}`).
//!
//! The stream polls the cgroup: stats every interval, the OOM kill counter
//! ([`crate::cgroups::Manager::oom_kill_count`]) more often, so an OOM kill is reported within
//! [`OOM_POLL`] even with a long interval. It ends when the container's init has exited. The
//! container's lock is held only while its state is read, so `events` never blocks `kill` or
//! `delete`.

use std::thread::sleep;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::Runtime;
use crate::cgroups::Stats;
use crate::error::{Error, Result};
use crate::state::Status;

/// How often the OOM kill counter is read while waiting for the next stats.
pub const OOM_POLL: Duration = Duration::from_millis(100);

/// What an [`Event`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    /// Usage counters, in `data`.
    Stats,
    /// The OOM killer killed a process of the container.
    Oom,
}

/// One event, serialised as one JSON line.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    /// What happened.
    #[serde(rename = "type")]
    pub kind: EventKind,
    /// The container id.
    pub id: String,
    /// The counters of a `stats` event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Stats>,
}

impl Runtime {
    /// The container's usage counters now, as a `stats` event.
    pub fn stats(&self, id: &str) -> Result<Event> {
        let (_dir, st, status) = self.open(id)?;
        if status == Status::Stopped {
            return Err(Error::WrongState { id: id.into(), status: status.to_string(), op: "read its stats" });
        }
        let mgr = super::pause::manager(&st, "events")?;
        Ok(Event { kind: EventKind::Stats, id: id.into(), data: Some(mgr.stats()?) })
    }

    /// Report stats every `interval` (the first right away) and every OOM kill, by calling
    /// `on_event`, until the container's init exits or `on_event` returns `false`.
    pub fn events(&self, id: &str, interval: Duration, on_event: &mut dyn FnMut(&Event) -> bool) -> Result<()> {
        if interval.is_zero() {
            return Err(Error::InvalidArgument("the events interval must be greater than zero".into()));
        }
        let (dir, st, status) = self.open(id)?;
        drop(dir);
        if status == Status::Stopped {
            return Err(Error::WrongState { id: id.into(), status: status.to_string(), op: "watch its events" });
        }
        let mgr = super::pause::manager(&st, "events")?;
        let mut ooms = mgr.oom_kill_count()?.unwrap_or(0);
        let tick = interval.min(OOM_POLL);
        let mut next_stats = Instant::now();
        loop {
            let alive = st.init_alive();
            // Once the init is gone `delete` may remove the cgroup under us: that ends the
            // stream, it is not an error.
            let count = match mgr.oom_kill_count() {
                Ok(c) => c.unwrap_or(0),
                Err(_) if !alive => return Ok(()),
                Err(e) => return Err(e.into()),
            };
            if count > ooms {
                ooms = count;
                if !on_event(&Event { kind: EventKind::Oom, id: id.into(), data: None }) {
                    return Ok(());
                }
            }
            if !alive {
                return Ok(());
            }
            if Instant::now() >= next_stats {
                let stats = match mgr.stats() {
                    Ok(s) => s,
                    Err(_) if !st.init_alive() => return Ok(()),
                    Err(e) => return Err(e.into()),
                };
                if !on_event(&Event { kind: EventKind::Stats, id: id.into(), data: Some(stats) }) {
                    return Ok(());
                }
                next_stats += interval;
                if next_stats < Instant::now() {
                    // Reading took longer than the interval: skip, do not burst.
                    next_stats = Instant::now() + interval;
                }
            }
            sleep(tick.min(next_stats.saturating_duration_since(Instant::now())).max(Duration::from_millis(1)));
        }
    }
}
