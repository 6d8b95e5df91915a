//! Await containers from tokio without a blocking thread: start a container with
//! [`Runtime::spawn`] and processes in it with [`Runtime::spawn_exec`], then await each
//! [`Child`]'s pidfd: `tokio BUNDLE` (as root; the bundle's process should keep running,
//! e.g. `sleep 600`). tokio's own `process::Command` keeps working next to it: waiting never
//! takes SIGCHLD from tokio.
use ocirun::container::child::Child;
use ocirun::container::exec::process_from;
use ocirun::{CreateOptions, ExecOptions, ProcessOverrides, Runtime};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The exit code of `child`, awaited on its pidfd.
async fn wait(mut child: Child) -> Result<i32, BoxError> {
    let fd = child.pidfd().try_clone_to_owned()?;
    // SAFETY: the AsyncFd owns this OwnedFd, which stays open and the same fd until the
    // AsyncFd drops it.
    let fd = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }.map_err(std::io::Error::from)?;
    loop {
        if let Some(code) = child.try_wait()? {
            return Ok(code);
        }
        fd.readable().await?.clear_ready();
    }
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let bundle = std::env::args().nth(1).ok_or("usage: tokio BUNDLE")?;
    let root = std::env::temp_dir().join(format!("ocirun-example-tokio-{}", std::process::id()));
    let rt = std::sync::Arc::new(Runtime::new(&root));
    let id = format!("example-tokio-{}", std::process::id());
    // The init is a Child too: it ends when we kill it below.
    let init = rt.spawn(&id, &CreateOptions::new(bundle))?;
    let base = rt.container_process(&id)?;
    let mut tasks = Vec::new();
    for i in 0..10 {
        let (rt, id) = (rt.clone(), id.clone());
        let opts = ExecOptions::new(process_from(
            &base,
            &ProcessOverrides::new(vec!["sh".into(), "-c".into(), format!("exit {i}")]),
        ));
        tasks.push(tokio::spawn(async move {
            let child = tokio::task::spawn_blocking(move || rt.spawn_exec(&id, &opts)).await??;
            wait(child).await
        }));
    }
    let theirs = tokio::process::Command::new("/bin/sh").args(["-c", "exit 7"]).status();
    let mut codes = Vec::new();
    for t in tasks {
        codes.push(t.await??);
    }
    let theirs = theirs.await?.code();
    println!("execs exited with {codes:?}; tokio's own child with {theirs:?}");
    init.kill(libc::SIGKILL)?;
    println!("init exited with {}", wait(init).await?);
    rt.delete(&id, true)?;
    std::fs::remove_dir_all(&root)?;
    if codes != (0..10).collect::<Vec<_>>() || theirs != Some(7) {
        return Err("unexpected exit codes".into());
    }
    Ok(())
}
