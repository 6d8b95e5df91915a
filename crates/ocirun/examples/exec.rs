//! Create a container, run a command in it with `exec`, and delete it, all through the API:
//! `exec BUNDLE` (as root). The bundle's process should keep running (e.g. `sleep 600`).
//! Threads are started first on purpose: the library must work from multi-threaded programs.
use ocirun::container::exec::process_from;
use ocirun::{CreateOptions, ExecOptions, ProcessOverrides, Runtime};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let bundle = std::env::args().nth(1).ok_or("usage: exec BUNDLE")?;
    let workers: Vec<_> =
        (0..4).map(|_| std::thread::spawn(|| std::thread::sleep(std::time::Duration::from_secs(2)))).collect();
    let id = format!("example-exec-{}", std::process::id());
    let root = std::env::temp_dir().join(format!("ocirun-example-{}", std::process::id()));
    let rt = Runtime::new(&root);
    rt.create(&id, &CreateOptions { bundle: bundle.into(), ..Default::default() })?;
    rt.start(&id)?;
    let overrides = ProcessOverrides { args: vec!["sh".into(), "-c".into(), "exit 42".into()], ..Default::default() };
    let process = process_from(&rt.container_process(&id)?, &overrides);
    let code = rt.exec(&id, &ExecOptions { process, ..Default::default() })?;
    println!("exec exited with {code}");
    println!("state: {}", rt.state(&id)?.status);
    rt.delete(&id, true)?;
    std::fs::remove_dir_all(&root)?;
    for w in workers {
        let _ = w.join();
    }
    if code != 42 {
        return Err(format!("expected exit code 42, got {code}").into());
    }
    Ok(())
}
