//! Device access rules (`linux.resources.devices`) as v1 `devices.allow`/`devices.deny` lines
//! or as a v2 eBPF program.
//!
//! Semantics (both versions): everything is denied first, then the rules apply in order, a
//! later rule overriding an earlier one. An allow rule lets an access through when every
//! requested bit (`r`, `w`, `m`) is in the rule; a deny rule blocks it when any requested bit
//! is. The eBPF program checks the rules last to first and returns at the first match, which
//! is the same thing.
//!
//! The program (`BPF_PROG_TYPE_CGROUP_DEVICE`) gets `struct bpf_cgroup_dev_ctx { u32
//! access_type; u32 major; u32 minor; }` with the device type in the low 16 bits of
//! `access_type` and the access bits in the high 16, and returns 1 to allow, 0 to deny.

use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::spec::DeviceCgroup;
use crate::sys::bpf::{self, Insn};

use super::{CgroupError, Result};

const FIELD: &str = "linux.resources.devices";

/// One validated rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Allow (true) or deny.
    pub allow: bool,
    /// `a`, `c` or `b`.
    pub kind: char,
    /// Major, `None` for any.
    pub major: Option<u32>,
    /// Minor, `None` for any.
    pub minor: Option<u32>,
    /// Access bits: [`MKNOD`] | [`READ`] | [`WRITE`].
    pub access: u32,
}

/// Access bit for `m` (as in the kernel's `BPF_DEVCG_ACC_MKNOD`).
pub const MKNOD: u32 = 1;
/// Access bit for `r`.
pub const READ: u32 = 2;
/// Access bit for `w`.
pub const WRITE: u32 = 4;
const ALL: u32 = MKNOD | READ | WRITE;

impl Rule {
    /// Validate one config rule.
    pub fn from_spec(d: &DeviceCgroup) -> Result<Rule> {
        let bad = |reason: String| CgroupError::InvalidValue { field: FIELD, reason };
        let kind = match d.typ.as_deref() {
            None | Some("a") | Some("") => 'a',
            Some("c") => 'c',
            Some("b") => 'b',
            Some(t) => return Err(bad(format!("device type {t:?} is not a, b or c"))),
        };
        let num = |v: Option<i64>, what: &str| match v {
            None => Ok(None),
            Some(n) if n < 0 => Ok(None),
            Some(n) => u32::try_from(n).map(Some).map_err(|_| bad(format!("{what} {n} is out of range"))),
        };
        let access = match d.access.as_deref() {
            None | Some("") => ALL,
            Some(a) => a.chars().try_fold(0, |acc, c| match c {
                'm' => Ok(acc | MKNOD),
                'r' => Ok(acc | READ),
                'w' => Ok(acc | WRITE),
                _ => Err(bad(format!("access {a:?} may hold only r, w and m"))),
            })?,
        };
        Ok(Rule { allow: d.allow, kind, major: num(d.major, "major")?, minor: num(d.minor, "minor")?, access })
    }

    /// The v1 line, e.g. `c 1:3 rwm` or `a`.
    pub fn v1_line(&self) -> String {
        if self.kind == 'a' && self.major.is_none() && self.minor.is_none() && self.access == ALL {
            return "a".to_string();
        }
        let n = |v: Option<u32>| v.map_or("*".to_string(), |v| v.to_string());
        let mut acc = String::new();
        for (bit, c) in [(READ, 'r'), (WRITE, 'w'), (MKNOD, 'm')] {
            if self.access & bit != 0 {
                acc.push(c);
            }
        }
        format!("{} {}:{} {}", self.kind, n(self.major), n(self.minor), acc)
    }

    fn matches_everything(&self) -> bool {
        self.kind == 'a' && self.major.is_none() && self.minor.is_none() && self.access == ALL
    }
}

/// Validate all rules, with the implicit leading "deny everything".
pub fn rules(spec: &[DeviceCgroup]) -> Result<Vec<Rule>> {
    let mut out = vec![Rule { allow: false, kind: 'a', major: None, minor: None, access: ALL }];
    for d in spec {
        out.push(Rule::from_spec(d)?);
    }
    Ok(out)
}

/// The rules a container needs to work at all: the standard character devices every runtime
/// creates in `/dev` (null, zero, full, random, urandom, tty, console, ptmx, pts) and `mknod`
/// of any device (creating a node grants no access to it). Callers add these, and rules for
/// `linux.devices`, after the config's own rules.
pub fn default_allowed() -> Vec<DeviceCgroup> {
    let c = |major: i64, minor: Option<i64>, access: &str| DeviceCgroup {
        allow: true,
        typ: Some("c".into()),
        major: Some(major),
        minor,
        access: Some(access.into()),
    };
    let mknod =
        |t: &str| DeviceCgroup { allow: true, typ: Some(t.into()), major: None, minor: None, access: Some("m".into()) };
    vec![
        mknod("c"),
        mknod("b"),
        c(1, Some(3), "rwm"),
        c(1, Some(5), "rwm"),
        c(1, Some(7), "rwm"),
        c(1, Some(8), "rwm"),
        c(1, Some(9), "rwm"),
        c(5, Some(0), "rwm"),
        c(5, Some(1), "rwm"),
        c(5, Some(2), "rwm"),
        c(136, None, "rwm"),
    ]
}

/// The full rule list for a container: the config's rules, then [`default_allowed`], then
/// read/write/mknod for every device in `linux.devices` (a `u` device is a character device;
/// FIFOs, `p`, need no rule). Pass the result as `Resources::devices` to
/// [`super::Manager::apply`], which itself starts from "deny everything".
pub fn container_rules(spec: &[DeviceCgroup], linux_devices: &[crate::spec::Device]) -> Vec<DeviceCgroup> {
    let mut out = spec.to_vec();
    out.extend(default_allowed());
    for d in linux_devices {
        let typ = match d.typ.as_str() {
            "b" => "b",
            "c" | "u" => "c",
            _ => continue,
        };
        out.push(DeviceCgroup {
            allow: true,
            typ: Some(typ.into()),
            major: d.major,
            minor: d.minor,
            access: Some("rwm".into()),
        });
    }
    out
}

/// Write the rules to a v1 `devices` cgroup directory, the leading deny first.
pub fn apply_v1(dir: &Path, rules: &[Rule]) -> Result<()> {
    use std::io::Write;
    // The kernel takes one rule per write(2): open each file once and write rule by rule.
    let open = |name: &str| {
        let path = dir.join(name);
        std::fs::OpenOptions::new().write(true).open(&path).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => CgroupError::FileUnavailable { path: path.clone(), field: FIELD },
            _ => CgroupError::Write { path: path.clone(), value: String::new(), source },
        })
    };
    let (mut allow, mut deny) = (None, None);
    for r in rules {
        let (slot, name) = if r.allow { (&mut allow, "devices.allow") } else { (&mut deny, "devices.deny") };
        if slot.is_none() {
            *slot = Some(open(name)?);
        }
        if let Some(f) = slot.as_mut() {
            let line = r.v1_line();
            f.write_all(line.as_bytes()).map_err(|source| CgroupError::Write {
                path: dir.join(name),
                value: line,
                source,
            })?;
        }
    }
    Ok(())
}

// Opcodes (include/uapi/linux/bpf.h, bpf_common.h).
const LDX_MEM_W: u8 = 0x61; // dst = *(u32 *)(src + off)
const ALU64_AND_K: u8 = 0x57; // dst &= imm
const ALU64_RSH_K: u8 = 0x77; // dst >>= imm
const ALU64_MOV_K: u8 = 0xb7; // dst = imm
const ALU64_MOV_X: u8 = 0xbf; // dst = src
const JMP32_JEQ_K: u8 = 0x16; // if (u32)dst == imm goto +off
const JMP32_JNE_K: u8 = 0x56; // if (u32)dst != imm goto +off
const JMP_EXIT: u8 = 0x95;

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn { code, regs: dst | (src << 4), off, imm }
}

/// Build the eBPF device program for `rules` (as returned by [`rules`]).
pub fn program(rules: &[Rule]) -> Vec<Insn> {
    // r2 = device type, r3 = requested access, r4 = major, r5 = minor.
    let mut p = vec![
        insn(LDX_MEM_W, 2, 1, 0, 0),
        insn(ALU64_AND_K, 2, 0, 0, 0xffff),
        insn(LDX_MEM_W, 3, 1, 0, 0),
        insn(ALU64_RSH_K, 3, 0, 0, 16),
        insn(LDX_MEM_W, 4, 1, 4, 0),
        insn(LDX_MEM_W, 5, 1, 8, 0),
    ];
    let mut decided = false;
    for r in rules.iter().rev() {
        // Each block ends in `exit`; its conditional jumps skip to the block's end (offset
        // patched once the block's length is known). The verifier rejects unreachable code,
        // so nothing is emitted after a rule that matches every access.
        let mut block: Vec<Insn> = Vec::new();
        let mut jumps = Vec::new();
        let mut jump_unless_eq = |block: &mut Vec<Insn>, reg: u8, val: u32| {
            jumps.push(block.len());
            block.push(insn(JMP32_JNE_K, reg, 0, 0, val as i32));
        };
        match r.kind {
            'c' => jump_unless_eq(&mut block, 2, 2),
            'b' => jump_unless_eq(&mut block, 2, 1),
            _ => {}
        }
        if let Some(m) = r.major {
            jump_unless_eq(&mut block, 4, m);
        }
        if let Some(m) = r.minor {
            jump_unless_eq(&mut block, 5, m);
        }
        if r.access != ALL {
            block.push(insn(ALU64_MOV_X, 1, 3, 0, 0));
            if r.allow {
                // Allow only when no requested bit lies outside the rule's.
                block.push(insn(ALU64_AND_K, 1, 0, 0, (!r.access & ALL) as i32));
                jumps.push(block.len());
                block.push(insn(JMP32_JNE_K, 1, 0, 0, 0));
            } else {
                // Deny when any requested bit is in the rule's.
                block.push(insn(ALU64_AND_K, 1, 0, 0, r.access as i32));
                jumps.push(block.len());
                block.push(insn(JMP32_JEQ_K, 1, 0, 0, 0));
            }
        }
        block.push(insn(ALU64_MOV_K, 0, 0, 0, i32::from(r.allow)));
        block.push(insn(JMP_EXIT, 0, 0, 0, 0));
        let len = block.len();
        for j in jumps {
            // Blocks are a handful of instructions, far below i16::MAX.
            block[j].off = (len - j - 1) as i16;
        }
        p.extend(block);
        if r.matches_everything() {
            decided = true;
            break;
        }
    }
    if !decided {
        p.push(insn(ALU64_MOV_K, 0, 0, 0, 0));
        p.push(insn(JMP_EXIT, 0, 0, 0, 0));
    }
    p
}

/// Load the program for `rules`, attach it to the v2 cgroup directory `dir`, then detach the
/// programs that were there before (an update replaces the old rules; while both are attached
/// an access must pass both, so there is no window where the old or new rules are loosened).
pub fn apply_bpf(dir: &Path, rules: &[Rule]) -> Result<()> {
    let bpf_err = |source| CgroupError::Bpf { path: dir.to_path_buf(), source };
    let cg = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(dir)
        .map_err(|source| CgroupError::Open { path: dir.to_path_buf(), source })?;
    let old = bpf::query_cgroup_device_progs(cg.as_fd()).map_err(bpf_err)?;
    let prog = bpf::load_cgroup_device_prog(&program(rules)).map_err(bpf_err)?;
    bpf::attach_cgroup_device_prog(cg.as_fd(), prog.as_fd()).map_err(bpf_err)?;
    for id in old {
        match bpf::prog_fd_by_id(id) {
            Ok(fd) => match bpf::detach_cgroup_device_prog(cg.as_fd(), fd.as_fd()) {
                Ok(()) => {}
                Err(e) if e.errno == libc::ENOENT => {}
                Err(e) => return Err(bpf_err(e)),
            },
            // Detached and freed meanwhile.
            Err(e) if e.errno == libc::ENOENT => {}
            Err(e) => return Err(bpf_err(e)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(allow: bool, t: &str, major: Option<i64>, minor: Option<i64>, access: &str) -> DeviceCgroup {
        DeviceCgroup { allow, typ: Some(t.into()), major, minor, access: Some(access.into()) }
    }

    #[test]
    fn v1_lines() {
        let r = rules(&[dev(true, "c", Some(1), Some(3), "rwm"), dev(false, "b", None, Some(0), "w")]).expect("ok");
        let lines: Vec<_> = r.iter().map(|r| (r.allow, r.v1_line())).collect();
        assert_eq!(lines, [(false, "a".to_string()), (true, "c 1:3 rwm".to_string()), (false, "b *:0 w".to_string())]);
    }

    #[test]
    fn container_rules_append_defaults_and_linux_devices() {
        let spec = [dev(false, "a", None, None, "rwm")];
        let fuse = crate::spec::Device {
            typ: "c".into(),
            path: "/dev/fuse".into(),
            major: Some(10),
            minor: Some(229),
            ..Default::default()
        };
        let fifo = crate::spec::Device { typ: "p".into(), path: "/dev/f".into(), ..Default::default() };
        let all = container_rules(&spec, &[fuse, fifo]);
        assert_eq!(all[0], spec[0]);
        assert_eq!(all.len(), 1 + default_allowed().len() + 1);
        let p = program(&rules(&all).expect("valid"));
        assert_eq!(run(&p, 2, READ | WRITE, 10, 229), 1, "fuse allowed");
        assert_eq!(run(&p, 2, READ | WRITE, 1, 3), 1, "null allowed");
        assert_eq!(run(&p, 2, MKNOD, 4, 0), 1, "mknod allowed");
        assert_eq!(run(&p, 2, READ, 4, 0), 0, "tty0 denied");
        assert_eq!(run(&p, 1, READ, 8, 0), 0, "disk denied");
    }

    #[test]
    fn bad_rules_are_refused() {
        assert!(Rule::from_spec(&dev(true, "x", None, None, "r")).is_err());
        assert!(Rule::from_spec(&dev(true, "c", None, None, "rx")).is_err());
        assert!(Rule::from_spec(&dev(true, "c", Some(1 << 40), None, "r")).is_err());
    }

    /// A tiny interpreter for exactly the instructions [`program`] emits, so the rule logic is
    /// checked here; the kernel verifier and real device opens are checked in `tests_host`.
    fn run(p: &[Insn], kind: u32, access: u32, major: u32, minor: u32) -> u64 {
        let ctx = [(access << 16) | kind, major, minor];
        let mut r = [0u64; 11];
        let mut pc = 0usize;
        loop {
            let i = p[pc];
            let (dst, src) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
            pc += 1;
            match i.code {
                LDX_MEM_W => r[dst] = u64::from(ctx[i.off as usize / 4]),
                ALU64_AND_K => r[dst] &= i.imm as i64 as u64,
                ALU64_RSH_K => r[dst] >>= i.imm,
                ALU64_MOV_K => r[dst] = i.imm as i64 as u64,
                ALU64_MOV_X => r[dst] = r[src],
                JMP32_JEQ_K if r[dst] as u32 == i.imm as u32 => pc += i.off as usize,
                JMP32_JNE_K if r[dst] as u32 != i.imm as u32 => pc += i.off as usize,
                JMP32_JEQ_K | JMP32_JNE_K => {}
                JMP_EXIT => return r[0],
                c => panic!("unexpected opcode {c:#x}"),
            }
        }
    }

    #[test]
    fn program_follows_the_rules_last_match_wins() {
        let r = rules(&[
            dev(true, "c", Some(1), None, "rw"),
            dev(false, "c", Some(1), Some(5), "w"),
            dev(true, "b", Some(8), Some(0), "m"),
        ])
        .expect("ok");
        let p = program(&r);
        const C: u32 = 2;
        const B: u32 = 1;
        assert_eq!(run(&p, C, READ | WRITE, 1, 3), 1, "null rw");
        assert_eq!(run(&p, C, MKNOD, 1, 3), 0, "null mknod not granted");
        assert_eq!(run(&p, C, READ, 1, 5), 1, "zero read");
        assert_eq!(run(&p, C, READ | WRITE, 1, 5), 0, "zero write denied by the later rule");
        assert_eq!(run(&p, B, MKNOD, 8, 0), 1);
        assert_eq!(run(&p, B, READ, 8, 0), 0);
        assert_eq!(run(&p, C, READ, 4, 1), 0, "default deny");
    }

    #[test]
    fn an_allow_all_rule_ends_the_program() {
        let r = rules(&[dev(false, "c", Some(1), Some(3), "rwm"), dev(true, "a", None, None, "rwm")]).expect("ok");
        let p = program(&r);
        // loads (6) + one unconditional block (2), nothing unreachable after it
        assert_eq!(p.len(), 8);
        assert_eq!(run(&p, 2, READ, 1, 3), 1);
    }
}
