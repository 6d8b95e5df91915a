//! Classic BPF as seccomp uses it: the few opcodes we emit, an assembler that lays out the
//! program back to front so every jump target is already placed, and an interpreter that runs a
//! program over a [`SeccompData`] and counts the instructions executed.
//!
//! Classic BPF jumps only forward, and a conditional jump reaches at most 255 instructions.
//! Building the program from its end lets the assembler know each distance when it emits a
//! jump: a target too far away gets an unconditional `ja` (32-bit offset) right after the
//! branch, and a far `ret` is simply emitted again nearby, which is as small and one step
//! faster.
//!
//! The interpreter is what tests and the benchmark use to count the cost of a syscall, and
//! what the cache uses to check that a stored program is well formed.

use std::collections::HashMap;

use crate::sys::seccomp::SockFilter;

/// `BPF_LD | BPF_W | BPF_ABS`: A = 32-bit word of `seccomp_data` at offset k.
pub(crate) const LD_ABS: u16 = 0x20;
/// `BPF_ALU | BPF_AND | BPF_K`: A &= k.
pub(crate) const AND_K: u16 = 0x54;
/// `BPF_JMP | BPF_JA`: jump forward k.
pub(crate) const JA: u16 = 0x05;
/// `BPF_JMP | BPF_JEQ | BPF_K`.
pub(crate) const JEQ: u16 = 0x15;
/// `BPF_JMP | BPF_JGT | BPF_K` (unsigned).
pub(crate) const JGT: u16 = 0x25;
/// `BPF_JMP | BPF_JGE | BPF_K` (unsigned).
pub(crate) const JGE: u16 = 0x35;
/// `BPF_RET | BPF_K`.
pub(crate) const RET: u16 = 0x06;

/// Longest program the kernel accepts (`BPF_MAXINSNS`).
pub const MAX_INSNS: usize = 4096;

/// Offsets into `struct seccomp_data` (little-endian x86).
pub(crate) const OFF_NR: u32 = 0;
pub(crate) const OFF_ARCH: u32 = 4;
/// Offset of the low 32 bits of argument `i`; the high half is 4 bytes further.
pub(crate) const fn off_arg_lo(i: u8) -> u32 {
    16 + 8 * i as u32
}

/// A position in the program under construction, counted from its end (so it does not move
/// as more instructions are put in front).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Label(usize);

/// Builds a program from its last instruction to its first.
pub(crate) struct Assembler {
    rev: Vec<SockFilter>,
    rets: HashMap<u32, Label>,
}

fn insn(code: u16, jt: u8, jf: u8, k: u32) -> SockFilter {
    SockFilter { code, jt, jf, k }
}

impl Assembler {
    pub(crate) fn new() -> Self {
        Assembler { rev: Vec::with_capacity(512), rets: HashMap::new() }
    }

    fn push(&mut self, i: SockFilter) -> Label {
        self.rev.push(i);
        Label(self.rev.len())
    }

    /// Distance from a new instruction put in front now to `target`.
    fn dist(&self, target: Label) -> usize {
        self.rev.len() - target.0
    }

    /// A `ret k`, reusing an earlier one when a jump from here can still reach it.
    pub(crate) fn ret(&mut self, k: u32) -> Label {
        if let Some(&l) = self.rets.get(&k) {
            // Leave room for the two trampolines a caller's jump may add in between.
            if self.dist(l) + 2 <= 255 {
                return l;
            }
        }
        let l = self.push(insn(RET, 0, 0, k));
        self.rets.insert(k, l);
        l
    }

    /// `A = seccomp_data[off]`.
    pub(crate) fn load(&mut self, off: u32) -> Label {
        self.push(insn(LD_ABS, 0, 0, off))
    }

    /// `A &= k`.
    pub(crate) fn and(&mut self, k: u32) -> Label {
        self.push(insn(AND_K, 0, 0, k))
    }

    /// An unconditional jump to `target` (nothing when it is the next instruction).
    pub(crate) fn goto(&mut self, target: Label) -> Label {
        match self.dist(target) {
            0 => target,
            d => self.push(insn(JA, 0, 0, d as u32)),
        }
    }

    /// A conditional jump `if A <op> k goto jt else goto jf`, adding `ja` trampolines for
    /// targets beyond the 8-bit offset.
    pub(crate) fn jump(&mut self, code: u16, k: u32, jt: Label, jf: Label) -> Label {
        if jt == jf {
            return self.goto(jt);
        }
        let mut jt = jt;
        let mut jf = jf;
        if self.dist(jt) > 255 {
            jt = self.goto(jt);
        }
        if self.dist(jf) > 255 {
            jf = self.goto(jf);
        }
        // A trampoline for jf moved jt one further; it was at most 255 + 1 before, and the
        // trampoline itself is at distance 0 or 1, so re-check once.
        if self.dist(jt) > 255 {
            jt = self.goto(jt);
        }
        let (t, f) = (self.dist(jt), self.dist(jf));
        self.push(insn(code, t as u8, f as u8, k))
    }

    /// The program, first instruction first.
    pub(crate) fn finish(mut self) -> Vec<SockFilter> {
        self.rev.reverse();
        self.rev
    }
}

/// What the kernel hands a filter (`struct seccomp_data`), for [`run`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeccompData {
    /// Syscall number, as the filter sees it (x32 calls carry `__X32_SYSCALL_BIT`).
    pub nr: i32,
    /// `AUDIT_ARCH_*` of the calling convention.
    pub arch: u32,
    /// Instruction pointer at the call.
    pub instruction_pointer: u64,
    /// The six raw arguments.
    pub args: [u64; 6],
}

impl SeccompData {
    fn word(&self, off: u32) -> Option<u32> {
        let w = match off {
            0 => self.nr as u32,
            4 => self.arch,
            8 => self.instruction_pointer as u32,
            12 => (self.instruction_pointer >> 32) as u32,
            16..=63 if off % 4 == 0 => {
                let a = self.args[(off as usize - 16) / 8];
                if off % 8 == 0 {
                    a as u32
                } else {
                    (a >> 32) as u32
                }
            }
            _ => return None,
        };
        Some(w)
    }
}

/// The result of running a program: the filter's return value and how many instructions it
/// executed to get there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Evaluation {
    /// The 32-bit `SECCOMP_RET_*` value (action in the high 16 bits, data in the low 16).
    pub ret: u32,
    /// Instructions executed, the `ret` included.
    pub executed: usize,
}

/// Why a program is not one this module could have produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    /// Index of the offending instruction.
    pub at: usize,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// Check that `prog` only uses the opcodes we emit, loads only inside `seccomp_data`, keeps
/// every jump inside the program and cannot run off its end.
pub fn validate(prog: &[SockFilter]) -> Result<(), Malformed> {
    if prog.is_empty() || prog.len() > MAX_INSNS {
        return Err(Malformed { at: 0, reason: "empty or longer than 4096 instructions" });
    }
    for (at, i) in prog.iter().enumerate() {
        let last = prog.len() - 1 - at;
        let ok = match i.code {
            LD_ABS => i.k < 64 && i.k % 4 == 0 && last > 0,
            AND_K => last > 0,
            JA => (i.k as usize) < last,
            JEQ | JGT | JGE => (i.jt as usize) < last && (i.jf as usize) < last,
            RET => true,
            _ => return Err(Malformed { at, reason: "unknown opcode" }),
        };
        if !ok {
            return Err(Malformed { at, reason: "load or jump out of range" });
        }
    }
    Ok(())
}

/// Run `prog` over `data` as the kernel would. The program must pass [`validate`]; a
/// malformed one is reported, never run past its end.
pub fn run(prog: &[SockFilter], data: &SeccompData) -> Result<Evaluation, Malformed> {
    let mut a: u32 = 0;
    let mut pc = 0usize;
    let mut executed = 0usize;
    loop {
        let i = prog.get(pc).ok_or(Malformed { at: pc, reason: "ran off the end" })?;
        executed += 1;
        pc += 1;
        match i.code {
            LD_ABS => a = data.word(i.k).ok_or(Malformed { at: pc - 1, reason: "bad load" })?,
            AND_K => a &= i.k,
            JA => pc += i.k as usize,
            JEQ | JGT | JGE => {
                let taken = match i.code {
                    JEQ => a == i.k,
                    JGT => a > i.k,
                    _ => a >= i.k,
                };
                pc += if taken { i.jt } else { i.jf } as usize;
            }
            RET => return Ok(Evaluation { ret: i.k, executed }),
            _ => return Err(Malformed { at: pc - 1, reason: "unknown opcode" }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn far_targets_get_trampolines_and_stay_reachable() {
        let mut asm = Assembler::new();
        let far = asm.ret(1);
        for _ in 0..600 {
            asm.load(OFF_NR);
        }
        let near = asm.push(insn(RET, 0, 0, 2));
        let head = asm.jump(JEQ, 7, far, near);
        asm.load(OFF_NR);
        let _ = head;
        let prog = asm.finish();
        validate(&prog).expect("valid program");
        let hit = run(&prog, &SeccompData { nr: 7, ..Default::default() }).unwrap();
        assert_eq!(hit.ret, 1);
        assert_eq!(hit.executed, 4, "load, jeq, ja, ret");
        let miss = run(&prog, &SeccompData { nr: 8, ..Default::default() }).unwrap();
        assert_eq!(miss.ret, 2);
    }

    #[test]
    fn validate_rejects_jumps_past_the_end() {
        let prog = [insn(JEQ, 0, 5, 1), insn(RET, 0, 0, 0)];
        assert!(validate(&prog).is_err());
        let prog = [insn(LD_ABS, 0, 0, 64), insn(RET, 0, 0, 0)];
        assert!(validate(&prog).is_err());
        let prog = [insn(0x07, 0, 0, 0), insn(RET, 0, 0, 0)];
        assert!(validate(&prog).is_err());
    }
}
