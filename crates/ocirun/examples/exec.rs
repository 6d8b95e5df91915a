//! Create a container, run commands in it with `exec` from several threads at once, and
//! delete it, all through the API: `exec BUNDLE` (as root). The bundle's process should keep
//! running (e.g. `sleep 600`).
//!
//! Worker threads are started first on purpose: the library must work from multi-threaded
//! programs, where a process's exit must never be lost to another thread (waiting uses a
//! pidfd, not SIGCHLD).
use ocirun::container::exec::process_from;
use ocirun::{CreateOptions, ExecOptions, ProcessOverrides, Runtime};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let bundle = std::env::args().nth(1).ok_or("usage: exec BUNDLE")?;
    let id = format!("example-exec-{}", std::process::id());
    let root = std::env::temp_dir().join(format!("ocirun-example-{}", std::process::id()));
    let rt = Runtime::new(&root);
    rt.create(&id, &CreateOptions::new(bundle))?;
    rt.start(&id)?;
    let base = rt.container_process(&id)?;
    // Four threads, each running ten execs; every exit code must come back.
    let codes: Vec<i32> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..4)
            .map(|t| {
                let (rt, id, base) = (&rt, &id, &base);
                s.spawn(move || -> Result<Vec<i32>, ocirun::Error> {
                    (0..10)
                        .map(|i| {
                            let o =
                                ProcessOverrides::new(vec!["sh".into(), "-c".into(), format!("exit {}", t * 10 + i)]);
                            rt.exec(id, &ExecOptions::new(process_from(base, &o)))
                        })
                        .collect()
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().expect("exec thread panicked")).collect::<Result<Vec<_>, _>>()
    })?
    .into_iter()
    .flatten()
    .collect();
    println!("40 execs from 4 threads exited with {:?}", &codes[..5]);
    println!("state: {}", rt.state(&id)?.status);
    rt.delete(&id, true)?;
    std::fs::remove_dir_all(&root)?;
    let want: Vec<i32> = (0..40).collect();
    if codes != want {
        return Err(format!("expected exit codes 0..40 in order, got {codes:?}").into());
    }
    Ok(())
}
