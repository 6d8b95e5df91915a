//! `update`, `ps` and `events`: their options turned into one library call each, and the
//! output printed the way runc prints it.

use std::io::{Read, Write};

use ocirun::container::units::{parse_bytes, parse_duration};
use ocirun::error::SysError;
use ocirun::spec::{BlockIo, Cpu, Memory, Pids, Resources};
use ocirun::{Error, Runtime};

use crate::cli::{EventsArgs, PsArgs, UpdateArgs};

pub fn update(rt: &Runtime, a: &UpdateArgs) -> Result<i32, Error> {
    let res = match &a.resources {
        Some(path) => read_resources(path)?,
        None => resources_from_flags(a)?,
    };
    rt.update(&a.id, &res).map(|_| 0)
}

/// `-r FILE` or `-r -`: a JSON `linux.resources` object.
fn read_resources(path: &std::path::Path) -> Result<Resources, Error> {
    let mut data = Vec::new();
    let read = if path.as_os_str() == "-" {
        std::io::stdin().read_to_end(&mut data)
    } else {
        std::fs::File::open(path).and_then(|mut f| f.read_to_end(&mut data))
    };
    read.map_err(|e| SysError::io("read", path, &e))?;
    serde_json::from_slice(&data)
        .map_err(|e| Error::InvalidArgument(format!("cannot parse resources in {}: {e}", path.display())))
}

fn resources_from_flags(a: &UpdateArgs) -> Result<Resources, Error> {
    let size = |v: &Option<String>, flag: &str| -> Result<Option<i64>, Error> {
        v.as_deref().map(|s| parse_bytes(s).map_err(|e| Error::InvalidArgument(format!("--{flag}: {e}")))).transpose()
    };
    let memory = Memory {
        limit: size(&a.memory, "memory")?,
        swap: size(&a.memory_swap, "memory-swap")?,
        reservation: size(&a.memory_reservation, "memory-reservation")?,
        kernel: size(&a.kernel_memory, "kernel-memory")?,
        kernel_tcp: size(&a.kernel_memory_tcp, "kernel-memory-tcp")?,
        ..Default::default()
    };
    let cpu = Cpu {
        shares: a.cpu_shares,
        quota: a.cpu_quota,
        period: a.cpu_period,
        burst: a.cpu_burst,
        realtime_period: a.cpu_rt_period,
        realtime_runtime: a.cpu_rt_runtime,
        cpus: a.cpuset_cpus.clone(),
        mems: a.cpuset_mems.clone(),
        ..Default::default()
    };
    let block_io = BlockIo { weight: a.blkio_weight, ..Default::default() };
    Ok(Resources {
        memory: (memory != Memory::default()).then_some(memory),
        cpu: (cpu != Cpu::default()).then_some(cpu),
        pids: a.pids_limit.map(|limit| Pids { limit }),
        block_io: (block_io != BlockIo::default()).then_some(block_io),
        ..Default::default()
    })
}

pub fn ps(rt: &Runtime, a: &PsArgs) -> Result<i32, Error> {
    let text = if a.format == "json" {
        if !a.ps_args.is_empty() {
            return Err(Error::InvalidArgument("ps options cannot be used with --format json".into()));
        }
        let pids = rt.processes(&a.id)?;
        serde_json::to_string(&pids).map_err(|e| Error::InvalidArgument(e.to_string()))? + "\n"
    } else {
        rt.ps_table(&a.id, &a.ps_args)?
    };
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    Ok(0)
}

pub fn events(rt: &Runtime, a: &EventsArgs) -> Result<i32, Error> {
    let interval = parse_duration(&a.interval).map_err(|e| Error::InvalidArgument(format!("--interval: {e}")))?;
    if a.stats {
        let ev = rt.stats(&a.id)?;
        let _ = print_line(&ev);
        return Ok(0);
    }
    // A reader that went away (a closed pipe) ends the stream quietly.
    rt.events(&a.id, interval, &mut |ev| print_line(ev).is_ok())?;
    Ok(0)
}

/// One event as one JSON line, in one write and flushed, so a reader sees it whole at once
/// (`writeln!` wrote a line longer than stdout's buffer and its newline in two writes, and a
/// reader polling the file could see half a line).
fn print_line(v: &impl serde::Serialize) -> std::io::Result<()> {
    let mut line = serde_json::to_string(v).map_err(std::io::Error::other)?;
    line.push('\n');
    let mut out = std::io::stdout().lock();
    out.write_all(line.as_bytes())?;
    out.flush()
}
