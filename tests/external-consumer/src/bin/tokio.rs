//! A tokio program: create → exec × 200 → kill → delete through ocirun's public API, each
//! exec started with `spawn_exec` and awaited on its pidfd (no thread blocks on it), while
//! tokio's own `process::Command` runs children at the same time: `tokio BUNDLE` (the
//! bundle's process keeps running, e.g. `sleep 600`).
use std::sync::Arc;

use external_consumer::{exec_of, fd_count, zombies};
use ocirun::container::child::Child;
use ocirun::{CreateOptions, Runtime};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Wait for `child` without blocking a thread: its pidfd becomes readable when it exits.
async fn wait(mut child: Child) -> Result<i32, BoxError> {
    let fd = child.pidfd().try_clone_to_owned()?;
    // SAFETY: the AsyncFd owns this OwnedFd, which stays open and the same fd until the
    // AsyncFd drops it.
    let fd = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }.map_err(std::io::Error::from)?;
    loop {
        if let Some(code) = child.try_wait()? {
            return Ok(code);
        }
        let mut guard = fd.readable().await?;
        guard.clear_ready();
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() -> Result<(), BoxError> {
    let bundle = std::env::args().nth(1).ok_or("usage: tokio BUNDLE")?;
    // tokio's signal handling keeps process-wide fds once it exists: make them before counting.
    tokio::process::Command::new("/bin/true").status().await?;
    let fds_before = fd_count();
    let root = std::env::temp_dir().join(format!("ocirun-external-tokio-{}", std::process::id()));
    let rt = Arc::new(Runtime::new(&root));
    let id = "external-tokio";
    rt.create(id, &CreateOptions::new(&bundle))?;
    rt.start(id)?;
    // tokio's own children, at the same time: their exits must still reach tokio.
    let theirs = tokio::spawn(async {
        for _ in 0..100 {
            let st = tokio::process::Command::new("/bin/sh").args(["-c", "exit 9"]).status().await?;
            assert_eq!(st.code(), Some(9), "tokio's child lost its exit status");
        }
        Ok::<_, std::io::Error>(())
    });
    let mut ours = Vec::new();
    for i in 0..200 {
        let rt = rt.clone();
        ours.push(tokio::spawn(async move {
            // Starting blocks briefly (fork, setns, the child's set-up): off the reactor.
            let child = tokio::task::spawn_blocking(move || rt.spawn_exec(id, &exec_of(&rt, id, &format!("exit {}", i % 256))?))
                .await
                .expect("spawn_exec panicked")?;
            let code = wait(child).await?;
            assert_eq!(code, i % 256, "exec {i}");
            Ok::<_, BoxError>(())
        }));
    }
    for t in ours {
        t.await??;
    }
    theirs.await??;
    rt.kill(id, libc::SIGKILL, false)?;
    rt.delete(id, true)?;
    assert_eq!(fd_count(), fds_before, "fd leak in a long-lived caller");
    assert_eq!(zombies(), Vec::<i32>::new(), "zombies left");
    std::fs::remove_dir_all(&root)?;
    println!("external consumer (tokio): create, exec x200 awaited on pidfds next to tokio::process, kill, delete: ok");
    Ok(())
}
