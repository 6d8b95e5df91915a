//! A long-lived program that manages containers through the library (`ocirun::Runtime`) must
//! not leak: after N create/start/kill/delete cycles it holds exactly the descriptors it held
//! before, and no child of its own is left (not even a zombie).
//!
//! Creating a container forks the calling process, so this is its own test binary without the
//! libtest harness (which runs tests on threads): `main` is the only thread.
//!
//! ```text
//! cargo test -p itest --test library_fds                       # CI: 20 cycles
//! OCIRUN_LIBRARY_N=300 cargo test -p itest --test library_fds  # by hand
//! ```

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use itest::host;
use itest::Test;
use ocirun::{CreateOptions, Runtime};
use serde_json::json;

/// This process's open descriptors and what each points at.
fn fds() -> BTreeMap<String, String> {
    std::fs::read_dir("/proc/self/fd")
        .expect("read /proc/self/fd")
        .flatten()
        .map(|e| {
            let target = std::fs::read_link(e.path()).map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
            (e.file_name().to_string_lossy().into_owned(), target)
        })
        .collect()
}

/// Children of this process that are zombies (exited, never reaped).
fn zombie_children() -> Vec<String> {
    let me = std::process::id().to_string();
    let mut found = Vec::new();
    for p in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(p.path().join("stat")) else { continue };
        let Some((_, rest)) = stat.rsplit_once(") ") else { continue };
        let f: Vec<&str> = rest.split(' ').collect();
        if f.first() == Some(&"Z") && f.get(1) == Some(&me.as_str()) {
            found.push(p.file_name().to_string_lossy().into_owned());
        }
    }
    found
}

/// Reaps every exited child, so the check above leaves no zombie behind it.
fn reap_children() {
    let mut status = 0;
    // SAFETY: waitpid with WNOHANG writes only to `status`, which lives across the call.
    while unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) } > 0 {}
}

fn cycle(rt: &Runtime, opts: &CreateOptions, id: &str) {
    rt.create(id, opts).unwrap_or_else(|e| panic!("create {id}: {e}"));
    rt.start(id).unwrap_or_else(|e| panic!("start {id}: {e}"));
    rt.kill(id, libc::SIGKILL, false).unwrap_or_else(|e| panic!("kill {id}: {e}"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while rt.state(id).map(|s| s.status).unwrap_or_default() != "stopped" {
        assert!(Instant::now() < deadline, "{id} never stopped");
        std::thread::sleep(Duration::from_millis(5));
    }
    rt.delete(id, false).unwrap_or_else(|e| panic!("delete {id}: {e}"));
}

fn main() {
    let n = host::env_usize("OCIRUN_LIBRARY_N", 20);
    let Some(mut t) = Test::new() else {
        println!("test library_fds ... ignored (see the SKIP line)");
        return;
    };
    let marker = t.dir.to_string_lossy().into_owned();
    t.args(&["sleep", "600"]);
    t.config["process"]["env"].as_array_mut().unwrap().push(json!(host::marker_env(&marker)));
    t.write_config();
    let rt = Runtime::new(&t.root);
    let opts = CreateOptions::new(&t.bundle);
    // One cycle first: whatever the library opens once and keeps (a cache) is not a leak.
    cycle(&rt, &opts, &t.other_id("warm"));
    let before = fds();
    let started = Instant::now();
    for i in 0..n {
        cycle(&rt, &opts, &t.other_id(&format!("lib{i}")));
    }
    let took = started.elapsed();
    let after = fds();
    let zombies = zombie_children();
    println!(
        "library_fds: {n} cycles in {:.1}s; descriptors {} before, {} after; {} zombie children",
        took.as_secs_f64(),
        before.len(),
        after.len(),
        zombies.len()
    );
    let grown: Vec<_> = after.iter().filter(|(fd, target)| before.get(*fd) != Some(target)).collect();
    assert!(grown.is_empty(), "descriptors leaked by {n} library cycles: {grown:#?}");
    // The init is the caller's child: delete must reap it, or a long-lived caller collects
    // one zombie per container.
    assert!(zombies.is_empty(), "{} container inits left as zombie children of the library caller", zombies.len());
    reap_children();
    assert!(host::marked_processes(&marker).is_empty(), "container processes left");
    drop(t);
    println!("test library_fds ... ok");
}
