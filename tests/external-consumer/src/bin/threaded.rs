//! A plain multi-threaded program: create → exec × 200 (from 8 threads) → kill → delete,
//! through ocirun's public API alone: `threaded BUNDLE` (the bundle's process keeps running,
//! e.g. `sleep 600`). Busy threads run meanwhile, as in a daemon.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use external_consumer::{exec_of, fd_count, zombies};
use ocirun::{CreateOptions, ErrorKind, Runtime};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let bundle = std::env::args().nth(1).ok_or("usage: threaded BUNDLE")?;
    let stop = Arc::new(AtomicBool::new(false));
    let busy: Vec<_> = (0..3)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut v = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    v.push(vec![0u8; 4096]);
                    if v.len() > 64 {
                        v.clear();
                    }
                }
            })
        })
        .collect();
    let root = std::env::temp_dir().join(format!("ocirun-external-{}", std::process::id()));
    let rt = Arc::new(Runtime::new(&root));
    let id = "external";
    let fds_before = fd_count();
    rt.create(id, &CreateOptions::new(&bundle))?;
    assert_eq!(rt.create(id, &CreateOptions::new(&bundle)).unwrap_err().kind(), ErrorKind::AlreadyExists);
    rt.start(id)?;
    assert_eq!(rt.state(id)?.status, "running");
    let workers: Vec<_> = (0..8)
        .map(|t| {
            let rt = rt.clone();
            std::thread::spawn(move || -> ocirun::Result<()> {
                for i in 0..25 {
                    let want = (t * 25 + i) % 256;
                    let code = rt.exec(id, &exec_of(&rt, id, &format!("exit {want}"))?)?;
                    assert_eq!(code, want, "exec {i} of thread {t}");
                }
                Ok(())
            })
        })
        .collect();
    for w in workers {
        w.join().expect("exec thread panicked")?;
    }
    rt.kill(id, libc::SIGKILL, false)?;
    rt.delete(id, true)?;
    assert_eq!(rt.state(id).unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(fd_count(), fds_before, "fd leak in a long-lived caller");
    assert_eq!(zombies(), Vec::<i32>::new(), "zombies left");
    stop.store(true, Ordering::Relaxed);
    for t in busy {
        let _ = t.join();
    }
    std::fs::remove_dir_all(&root)?;
    println!("external consumer (threads): create, exec x200 from 8 threads, kill, delete: ok");
    Ok(())
}
