//! `ocirun-reporter`: a small static program that the integration tests put inside containers.
//!
//! `report` (the default) prints one JSON object with what the process sees; the other verbs do
//! one thing each (exit with a code, try a syscall, write a file) and print the outcome as one
//! JSON line, errno included, so the tests assert on data instead of scraping a shell's output.
//! It is linked statically so that it runs in a rootfs that holds nothing else.

mod names;
mod report;
mod sys;

use std::io::{Read, Write};
use std::process::ExitCode;

use serde_json::{json, Value};

const USAGE: &str = "usage: ocirun-reporter [report [SYSCTL...] | exit N | sleep SECS | kill-self SIG |
  cat FILE | write FILE TEXT | ls DIR | stat PATH | syscall NAME | fork N | alloc MB |
  open-write PATH | wait-signal | netdevs | notify MESSAGE | lock-count LOCK FILE | try-lock LOCK]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let verb = args.first().map_or("report", String::as_str);
    let rest = args.get(1..).unwrap_or(&[]);
    match run(verb, rest) {
        Ok(code) => code,
        Err(msg) => {
            eprintln!("ocirun-reporter: {msg}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn run(verb: &str, rest: &[String]) -> Result<ExitCode, String> {
    let arg = |i: usize| rest.get(i).map(String::as_str).ok_or_else(|| format!("{verb}: missing argument"));
    let num =
        |i: usize| -> Result<u64, String> { arg(i)?.parse().map_err(|_| format!("{verb}: not a number: {}", rest[i])) };
    match verb {
        "report" => print(report::report(rest)),
        "exit" => return Ok(ExitCode::from(num(0)? as u8)),
        "sleep" => {
            let secs: f64 = arg(0)?.parse().map_err(|_| "sleep: not a number".to_string())?;
            std::thread::sleep(std::time::Duration::from_secs_f64(secs));
        }
        "kill-self" => {
            let sig = names::parse_signal(arg(0)?).ok_or("kill-self: unknown signal")?;
            sys::default_and_unblock(sig);
            let r = sys::kill_self(sig);
            // Only reached when the signal did not end the process.
            print(json!({"signal": sig, "result": report::errno_or(r, |_| json!("survived"))}));
            return Ok(ExitCode::from(1));
        }
        "cat" => {
            let mut out = Vec::new();
            let r = std::fs::File::open(arg(0)?).and_then(|mut f| f.read_to_end(&mut out));
            match r {
                Ok(_) => std::io::stdout().write_all(&out).map_err(|e| e.to_string())?,
                Err(e) => return io_failure(e),
            }
        }
        "write" => {
            let r = std::fs::write(arg(0)?, arg(1)?);
            print(io_result(r));
        }
        "open-write" => {
            let r = std::fs::OpenOptions::new().write(true).create(true).truncate(false).open(arg(0)?);
            print(io_result(r.map(drop)));
        }
        "ls" => match std::fs::read_dir(arg(0)?) {
            Ok(dir) => {
                let mut names: Vec<String> =
                    dir.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect();
                names.sort();
                print(json!(names));
            }
            Err(e) => return io_failure(e),
        },
        "stat" => print(stat(arg(0)?)),
        "netdevs" => print(report::netdevs()),
        "syscall" => {
            let r = sys::probe_syscall(arg(0)?).ok_or("syscall: unknown name")?;
            print(json!({"syscall": rest[0], "result": report::errno_or(r, |v| json!({"ret": v}))}));
        }
        "fork" => {
            let (forked, err) = sys::fork_children(num(0)? as usize);
            print(json!({"requested": num(0)?, "forked": forked, "errno": err}));
        }
        "alloc" => {
            let mb = num(0)? as usize;
            let mut mem = vec![0u8; mb << 20];
            // Touch every page so the memory is really charged to the cgroup.
            for page in mem.chunks_mut(4096) {
                page[0] = 1;
            }
            print(json!({"allocated_mb": mb, "sum": mem.iter().step_by(4096).map(|&b| b as u64).sum::<u64>()}));
        }
        "wait-signal" => {
            print(json!({"ready": true}));
            let sig = sys::wait_any_signal();
            print(report::errno_or(sig, |s| json!({"signal": s, "name": names::signal_name(s)})));
        }
        "notify" => {
            // sd_notify(3): one datagram to $NOTIFY_SOCKET ('\n' in MESSAGE separates fields).
            let path = std::env::var("NOTIFY_SOCKET").map_err(|_| "NOTIFY_SOCKET is not set".to_string())?;
            let msg = arg(0)?.replace("\\n", "\n");
            let sent = std::os::unix::net::UnixDatagram::unbound().and_then(|s| s.send_to(msg.as_bytes(), &path));
            print(match sent {
                Ok(n) => json!({"sent": n, "socket": path}),
                Err(e) => json!({"errno": e.raw_os_error(), "error": e.to_string(), "socket": path}),
            });
        }
        "lock-count" => {
            // Hold an exclusive flock on LOCK and append 1, 2, 3, ... to FILE every 0.2 s, a line
            // at a time (never truncating, so a checkpoint cannot catch the file empty).
            let lock = std::fs::OpenOptions::new().write(true).create(true).truncate(false).open(arg(0)?);
            let lock = lock.map_err(|e| format!("open {}: {e}", rest[0]))?;
            sys::flock(&lock, false).map_err(|e| format!("flock {}: errno {e}", rest[0]))?;
            let file = arg(1)?;
            for i in 1u64.. {
                let mut f = std::fs::OpenOptions::new()
                    .append(true)
                    .create(true)
                    .open(file)
                    .map_err(|e| format!("open {file}: {e}"))?;
                f.write_all(format!("{i}\n").as_bytes()).map_err(|e| format!("write {file}: {e}"))?;
                drop(f);
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
        }
        "try-lock" => {
            // Exit 0 having taken the flock on LOCK, 1 when someone else holds it.
            let lock = std::fs::OpenOptions::new().write(true).create(true).truncate(false).open(arg(0)?);
            let lock = lock.map_err(|e| format!("open {}: {e}", rest[0]))?;
            let held = sys::flock(&lock, true) == Err(libc::EWOULDBLOCK);
            print(json!({"held_by_another": held}));
            return Ok(ExitCode::from(held as u8));
        }
        "help" | "--help" | "-h" => println!("{USAGE}"),
        other => return Err(format!("unknown verb {other:?}")),
    }
    Ok(ExitCode::SUCCESS)
}

fn print(v: Value) {
    let mut out = std::io::stdout().lock();
    // A closed stdout is the test's problem to notice; the reporter has no one else to tell.
    let _ = writeln!(out, "{v}");
    let _ = out.flush();
}

fn io_result(r: std::io::Result<()>) -> Value {
    report::errno_or(r.map_err(|e| e.raw_os_error().unwrap_or(0)), |_| json!({"ok": true}))
}

fn io_failure(e: std::io::Error) -> Result<ExitCode, String> {
    print(io_result(Err(e)));
    Ok(ExitCode::from(1))
}

fn stat(path: &str) -> Value {
    report::errno_or(sys::lstat(path), |st| {
        let kind = match st.st_mode & libc::S_IFMT {
            libc::S_IFREG => "file",
            libc::S_IFDIR => "dir",
            libc::S_IFLNK => "symlink",
            libc::S_IFCHR => "char",
            libc::S_IFBLK => "block",
            libc::S_IFIFO => "fifo",
            libc::S_IFSOCK => "socket",
            _ => "unknown",
        };
        let (major, minor) = sys::major_minor(st.st_rdev);
        let target = std::fs::read_link(path).ok().map(|t| t.display().to_string());
        json!({
            "type": kind, "mode": st.st_mode & 0o7777, "uid": st.st_uid, "gid": st.st_gid,
            "rdev": [major, minor], "size": st.st_size, "target": target,
        })
    })
}
