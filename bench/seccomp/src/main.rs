//! Measures ocirun's seccomp compiler on a profile (Docker's default, ours as JSON):
//! cold and warm compile time, cache miss and cache hit, program size, BPF instructions
//! executed per syscall, and kernel time per getpid with the filter installed. Given a
//! libseccomp-exported program of the same profile, reports the same figures for it.
//!
//! Usage: seccomp-bench PROFILE.json [LIBSECCOMP.bpf]

#![deny(unsafe_op_in_unsafe_fn)]

use std::time::{Duration, Instant};

use ocirun::seccomp::{self, SeccompData};
use ocirun::sys::seccomp::SockFilter;

const X86_64: u32 = 0xc000_003e;
const I386: u32 = 0x4000_0003;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Minimal classic-BPF interpreter for a foreign program (libseccomp also uses `jset`).
fn run_foreign(prog: &[SockFilter], d: &SeccompData) -> Option<(u32, usize)> {
    let word = |k: u32| -> Option<u32> {
        Some(match k {
            0 => d.nr as u32,
            4 => d.arch,
            8 => d.instruction_pointer as u32,
            12 => (d.instruction_pointer >> 32) as u32,
            16..=63 => {
                let a = d.args[(k as usize - 16) / 8];
                if k % 8 == 0 {
                    a as u32
                } else {
                    (a >> 32) as u32
                }
            }
            _ => return None,
        })
    };
    let (mut a, mut pc, mut n) = (0u32, 0usize, 0usize);
    loop {
        let i = prog.get(pc)?;
        n += 1;
        pc += 1;
        match i.code {
            0x20 => a = word(i.k)?,
            0x54 => a &= i.k,
            0x05 => pc += i.k as usize,
            0x15 | 0x25 | 0x35 | 0x45 => {
                let t = match i.code {
                    0x15 => a == i.k,
                    0x25 => a > i.k,
                    0x35 => a >= i.k,
                    _ => a & i.k != 0,
                };
                pc += if t { i.jt } else { i.jf } as usize;
            }
            0x06 => return Some((i.k, n)),
            _ => return None,
        }
    }
}

fn read_bpf(path: &str) -> Vec<SockFilter> {
    let b = std::fs::read(path).expect("read bpf");
    b.chunks_exact(8)
        .map(|c| SockFilter {
            code: u16::from_le_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_le_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect()
}

/// Kernel time per `syscall(nr, arg0)` in a child with `prog` installed (None: no filter).
fn kernel_ns(prog: Option<(&[SockFilter], u32)>, nr: i64, arg0: u64) -> f64 {
    const N: u32 = 2_000_000;
    let mut p = [0; 2];
    // SAFETY: pipe fills the two-int array.
    assert_eq!(unsafe { libc::pipe(p.as_mut_ptr()) }, 0);
    // SAFETY: this program is single-threaded; the child makes raw syscalls and exits.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: raw syscalls on our own fds, then _exit.
        unsafe {
            libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
            if let Some((prog, flags)) = prog {
                if ocirun::sys::seccomp::set_mode_filter(prog, flags).is_err() {
                    libc::_exit(1);
                }
            }
            let t = Instant::now();
            for _ in 0..N {
                libc::syscall(nr, arg0);
            }
            let ns = t.elapsed().as_nanos() as f64 / f64::from(N);
            libc::write(p[1], (&ns as *const f64).cast(), 8);
            libc::_exit(0);
        }
    }
    let mut ns = 0f64;
    // SAFETY: reads 8 bytes into a live f64; waits for our child.
    unsafe {
        libc::close(p[1]);
        libc::read(p[0], (&mut ns as *mut f64).cast(), 8);
        libc::close(p[0]);
        libc::waitpid(pid, std::ptr::null_mut(), 0);
    }
    ns
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = args.get(1).expect("usage: seccomp-bench PROFILE.json [LIBSECCOMP.bpf]");
    let text = std::fs::read(path).expect("read profile");

    let t = Instant::now();
    let profile: ocirun::spec::Seccomp = serde_json::from_slice(&text).expect("parse profile");
    let parse = t.elapsed();
    let t = Instant::now();
    let first = seccomp::compile(&profile).expect("compile");
    let cold = t.elapsed();
    let warm = median(
        (0..200)
            .map(|_| {
                let t = Instant::now();
                let _ = seccomp::compile(&profile);
                t.elapsed()
            })
            .collect(),
    );

    let dir = std::env::temp_dir().join(format!("ocirun-seccomp-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let t = Instant::now();
    let _ = seccomp::compile_cached(&profile, &dir).expect("cache miss");
    let miss = t.elapsed();
    let hit = median(
        (0..200)
            .map(|_| {
                let t = Instant::now();
                let f = seccomp::compile_cached(&profile, &dir).expect("cache hit");
                assert_eq!(f.program().len(), first.program().len());
                t.elapsed()
            })
            .collect(),
    );
    let _ = std::fs::remove_dir_all(&dir);

    println!("profile {path}: {} syscalls rules", profile.syscalls.len());
    println!("  parse JSON                {:8.1} us", us(parse));
    println!("  compile, first call       {:8.1} us", us(cold));
    println!("  compile, median of 200    {:8.1} us", us(warm));
    println!("  compile_cached, miss      {:8.1} us (compile + write)", us(miss));
    println!("  compile_cached, hit       {:8.1} us (median of 200)", us(hit));
    println!("  program                   {:8} instructions, flags {:#x}", first.program().len(), first.flags());

    let foreign = args.get(2).map(|p| read_bpf(p));
    if let Some(f) = &foreign {
        println!("  libseccomp program        {:8} instructions", f.len());
    }
    let cases: [(&str, i32, u32, [u64; 6]); 8] = [
        ("getpid (x86_64)", 39, X86_64, [0; 6]),
        ("read (x86_64)", 0, X86_64, [0; 6]),
        ("write (x86_64)", 1, X86_64, [0; 6]),
        ("futex (x86_64)", 202, X86_64, [0; 6]),
        ("unknown nr 1000 (x86_64)", 1000, X86_64, [0; 6]),
        ("personality(0xffffffff)", 135, X86_64, [0xffff_ffff, 0, 0, 0, 0, 0]),
        ("clone(CLONE_NEWNET)", 56, X86_64, [0x4000_0000, 0, 0, 0, 0, 0]),
        ("getpid (i386)", 20, I386, [0; 6]),
    ];
    println!("  instructions executed:    {:>8} {:>12}", "ocirun", "libseccomp");
    for (name, nr, arch, a) in cases {
        let d = SeccompData { nr, arch, instruction_pointer: 0, args: a };
        let ours = first.evaluate(&d);
        let theirs = foreign.as_ref().and_then(|f| run_foreign(f, &d));
        let theirs_s = match theirs {
            Some((ret, n)) if ret == ours.ret => format!("{n}"),
            Some((ret, n)) => format!("{n} (ret {ret:#x} vs ours {:#x})", ours.ret),
            None => "-".to_string(),
        };
        println!("    {name:<24} {:>8} {:>12}", ours.executed, theirs_s);
    }
    let worst = |eval: &dyn Fn(&SeccompData) -> Option<usize>| {
        (0..480).filter_map(|nr| eval(&SeccompData { nr, arch: X86_64, ..Default::default() })).max()
    };
    let our_worst = worst(&|d| Some(first.evaluate(d).executed));
    let their_worst = foreign.as_ref().and_then(|f| worst(&|d| run_foreign(f, d).map(|r| r.1)));
    println!(
        "    {:<24} {:>8} {:>12}",
        "worst x86_64 nr 0..480",
        our_worst.unwrap_or(0),
        their_worst.map_or("-".into(), |n| n.to_string())
    );

    // The kernel skips the filter for syscalls it proved always allowed (its per-arch bitmap
    // cache), so getpid shows that path; personality(0xffffffff) (argument rule) and an
    // unknown number (default action) run the filter on every call.
    let calls: [(&str, i64, u64); 3] =
        [("getpid", 39, 0), ("personality(0xffffffff)", 135, 0xffff_ffff), ("nr 1000 (denied)", 1000, 0)];
    println!("  kernel ns per call:       {:>9} {:>9} {:>11}", "no filter", "ocirun", "libseccomp");
    for (name, nr, arg0) in calls {
        let none = kernel_ns(None, nr, arg0);
        let ours = kernel_ns(Some((first.program(), first.flags())), nr, arg0);
        let theirs = foreign.as_ref().map_or("-".to_string(), |f| format!("{:.1}", kernel_ns(Some((f, 0)), nr, arg0)));
        println!("    {name:<24} {none:>9.1} {ours:>9.1} {theirs:>11}");
    }
}
