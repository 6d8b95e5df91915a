//! Create a container, exec into it, check its state and delete it, from a multi-threaded
//! program, through ocirun's public API alone: `external-consumer BUNDLE`.
use ocirun::container::exec::process_from;
use ocirun::{CreateOptions, ErrorKind, ExecOptions, ProcessOverrides, Runtime};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let bundle = std::env::args().nth(1).ok_or("usage: external-consumer BUNDLE")?;
    // Busy threads, as an async runtime would have.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let threads: Vec<_> = (0..3)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut v = Vec::new();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    v.push(vec![0u8; 4096]);
                    if v.len() > 64 {
                        v.clear();
                    }
                }
            })
        })
        .collect();
    let root = std::env::temp_dir().join(format!("ocirun-external-{}", std::process::id()));
    let rt = Runtime::new(&root);
    let id = "external";
    let fds_before = std::fs::read_dir("/proc/self/fd")?.count();
    for round in 0..3 {
        rt.create(id, &CreateOptions { bundle: bundle.clone().into(), ..Default::default() })?;
        assert_eq!(rt.create(id, &CreateOptions { bundle: bundle.clone().into(), ..Default::default() }).unwrap_err().kind(), ErrorKind::AlreadyExists);
        rt.start(id)?;
        assert_eq!(rt.state(id)?.status, "running");
        let o = ProcessOverrides { args: vec!["sh".into(), "-c".into(), format!("exit {}", 10 + round)], ..Default::default() };
        let code = rt.exec(id, &ExecOptions { process: process_from(&rt.container_process(id)?, &o), ..Default::default() })?;
        assert_eq!(code, 10 + round, "exec exit code");
        assert_eq!(rt.list()?.len(), 1);
        rt.delete(id, true)?;
        assert_eq!(rt.state(id).unwrap_err().kind(), ErrorKind::NotFound);
    }
    let fds_after = std::fs::read_dir("/proc/self/fd")?.count();
    assert_eq!(fds_before, fds_after, "fd leak in a long-lived caller");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    std::fs::remove_dir_all(&root)?;
    println!("external consumer: create/exec/delete x3 through the API: ok");
    Ok(())
}
