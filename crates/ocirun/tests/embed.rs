//! The library inside the programs that embed it: many threads at once, a tokio runtime with
//! its own SIGCHLD handling (tokio's `process::Command`) running at the same time, and no fd
//! or zombie left behind. Every wait is bounded: a lost exit fails the test, naming the step.

mod common;

use std::sync::Arc;

use ocirun::container::exec::process_from;
use ocirun::{CreateOptions, ExecOptions, ProcessOverrides, Runtime};

/// The tests share one process: fd and zombie counts are only meaningful one test at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Await the pidfd of `child` becoming readable (the process exited), without a thread.
async fn exited(child: &ocirun::container::child::Child) {
    let fd = child.pidfd().try_clone_to_owned().unwrap();
    // SAFETY: the AsyncFd owns this OwnedFd, which stays open and the same fd until the
    // AsyncFd drops it.
    let fd = unsafe { tokio::io::unix::AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }.unwrap();
    let _ = fd.readable().await.unwrap();
}

fn exec_opts(rt: &Runtime, id: &str, script: &str) -> ExecOptions {
    let base = rt.container_process(id).unwrap();
    ExecOptions::new(process_from(&base, &ProcessOverrides::new(vec!["sh".into(), "-c".into(), script.into()])))
}

/// 200 foreground execs from 8 threads: each returns its own exit code, none hangs.
#[test]
fn exec_200_times_from_8_threads() {
    let _serial = serial();
    let Some(b) = common::bundle("embed-threads", &["sleep", "600"]) else { return };
    let rt = Arc::new(Runtime::new(b.state_root()));
    let fds = common::fd_count();
    rt.create("threads", &CreateOptions::new(b.path())).unwrap();
    rt.start("threads").unwrap();
    let rt2 = rt.clone();
    common::within("200 execs from 8 threads", 120, move || {
        let workers: Vec<_> = (0..8)
            .map(|t| {
                let rt = rt2.clone();
                std::thread::spawn(move || {
                    for i in 0..25 {
                        let want = (t * 25 + i) % 200;
                        let code = rt.exec("threads", &exec_opts(&rt, "threads", &format!("exit {want}"))).unwrap();
                        assert_eq!(code, want, "thread {t} exec {i}");
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
    });
    rt.kill("threads", libc::SIGKILL, false).unwrap();
    rt.delete("threads", true).unwrap();
    assert_eq!(common::fd_count(), fds, "fds left open");
    assert_eq!(common::zombies(), Vec::<String>::new(), "zombies left");
}

/// Under tokio: detached execs awaited on their pidfd (no blocking thread), while tokio's own
/// `process::Command` (which installs a SIGCHLD handler) runs children at the same time, and
/// a `spawn`ed container's init awaited the same way.
#[test]
fn tokio_awaits_pidfds_next_to_tokio_process() {
    let _serial = serial();
    let Some(b) = common::bundle("embed-tokio", &["sleep", "600"]) else { return };
    let root = b.state_root();
    let bundle = b.path();
    // tokio keeps process-wide fds once its signal handling exists (its SIGCHLD self-pipe):
    // make them before counting ours.
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
        tokio::process::Command::new("/bin/true").status().await.unwrap();
    });
    let fds = common::fd_count();
    common::within("tokio: spawn_exec x50 next to tokio::process", 120, move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build().unwrap();
        rt.block_on(async move {
            let ocirun = Arc::new(Runtime::new(&root));
            ocirun.create("tok", &CreateOptions::new(&bundle)).unwrap();
            ocirun.start("tok").unwrap();
            // tokio's own children, concurrently: their exits must still reach tokio.
            let theirs = tokio::spawn(async {
                for _ in 0..50 {
                    let st = tokio::process::Command::new("/bin/sh").arg("-c").arg("exit 9").status().await.unwrap();
                    assert_eq!(st.code(), Some(9));
                }
            });
            let mut ours = Vec::new();
            for i in 0..50 {
                let rt = ocirun.clone();
                ours.push(tokio::spawn(async move {
                    // The start itself blocks briefly (fork, setns): keep it off the reactor.
                    let opts = exec_opts(&rt, "tok", &format!("exit {i}"));
                    let mut child =
                        tokio::task::spawn_blocking(move || rt.spawn_exec("tok", &opts)).await.unwrap().unwrap();
                    exited(&child).await;
                    let code = child.try_wait().unwrap().expect("exited");
                    assert_eq!(code, i);
                }));
            }
            for t in ours {
                t.await.unwrap();
            }
            theirs.await.unwrap();
            ocirun.kill("tok", libc::SIGKILL, false).unwrap();
            ocirun.delete("tok", true).unwrap();

            // A whole container as a Child: run -d, then await its init.
            let mut opts = CreateOptions::new(&bundle);
            let mut spec = ocirun::spec::load(&bundle.join("config.json")).unwrap();
            spec.process.as_mut().unwrap().args = vec!["sh".into(), "-c".into(), "exit 4".into()];
            opts = opts.with_spec(spec);
            opts.pid_file = None;
            let mut init = ocirun.spawn("tok-run", &opts).unwrap();
            exited(&init).await;
            assert_eq!(init.try_wait().unwrap(), Some(4));
            ocirun.delete("tok-run", true).unwrap();
        });
    });
    assert_eq!(common::fd_count(), fds, "fds left open");
    assert_eq!(common::zombies(), Vec::<String>::new(), "zombies left");
}

/// An exec whose program does not exist fails after the process started, with the errno as
/// data: ENOENT maps to 127 without reading the message.
#[test]
fn exec_failure_carries_errno() {
    let _serial = serial();
    let Some(b) = common::bundle("embed-errno", &["sleep", "600"]) else { return };
    let rt = Runtime::new(b.state_root());
    let fds = common::fd_count();
    rt.create("errno", &CreateOptions::new(b.path())).unwrap();
    rt.start("errno").unwrap();
    let base = rt.container_process("errno").unwrap();
    let e = rt
        .exec("errno", &ExecOptions::new(process_from(&base, &ProcessOverrides::new(vec!["/nope".into()]))))
        .unwrap_err();
    let child = e.child_error().expect("a child error");
    assert_eq!(child.errno, Some(libc::ENOENT), "{e}");
    assert_eq!(child.exec_exit_code(), Some(127), "{e}");
    rt.delete("errno", true).unwrap();

    // After `start`: the container's program is not executable (execve says EACCES).
    std::fs::write(b.path().join("rootfs/noexec"), b"#!/bin/sh\n").unwrap();
    let mut spec = ocirun::spec::load(&b.path().join("config.json")).unwrap();
    spec.process.as_mut().unwrap().args = vec!["/noexec".into()];
    rt.create("errno2", &CreateOptions::new(b.path()).with_spec(spec)).unwrap();
    let e = rt.start("errno2").unwrap_err();
    let child = e.child_error().expect("a child error");
    assert_eq!(child.errno, Some(libc::EACCES), "{e}");
    assert_eq!(child.exec_exit_code(), Some(126), "{e}");
    rt.delete("errno2", true).unwrap();
    assert_eq!(common::fd_count(), fds, "fds left open by failed execs");
    assert_eq!(common::zombies(), Vec::<String>::new(), "zombies left by failed execs");
}
