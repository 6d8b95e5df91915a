//! Code generation: resolved rules to a classic BPF program.
//!
//! Layout of the program (first instruction first):
//!
//! ```text
//!   A = arch
//!   arch == X86_64 ? -> x86_64 : (arch == I386 and x86 allowed ? -> i386 : ret KILL_PROCESS)
//! x86_64:
//!   A = nr
//!   nr >= __X32_SYSCALL_BIT ? -> x32 tree (x32 allowed)
//!                            | nr == -1 ? ret default : ret KILL_PROCESS   (x32 not allowed)
//!   x86_64 tree
//! i386:
//!   A = nr ; i386 tree
//! ```
//!
//! Each tree is a binary search over the syscall numbers: the number line is cut into
//! intervals (consecutive numbers with the same plain outcome merged, gaps take the default
//! action), and each inner node is one `jge`. A syscall costs O(log intervals) jumps whatever
//! the rule count: 7 or 8 for Docker's default profile. A syscall with argument rules ends in
//! a leaf that runs its comparisons, each 64-bit comparison done on the two 32-bit halves.
//!
//! A foreign ABI is killed with `SECCOMP_RET_KILL_PROCESS` (libseccomp's default is
//! kill-thread; killing the whole process leaves no half-dead multi-threaded program behind).
//! An x32 number when x32 is not allowed counts as a foreign ABI, so x32 calls cannot pass as
//! the x86_64 syscall with the same low bits. The number -1 is kept out of that rule: tracers
//! use it to skip a syscall, and it gets the default action.

use super::bpf::{off_arg_lo, Assembler, Label, JEQ, JGE, JGT, MAX_INSNS, OFF_ARCH, OFF_NR};
use super::profile::{
    Action, Arch, ArgCmp, CmpOp, Resolved, Rule, SyscallRules, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT,
};
use super::SeccompError;
use crate::sys::seccomp::SockFilter;

/// What happens to a foreign ABI.
pub(crate) const BAD_ARCH: Action = Action::KillProcess;

/// Generate the program for `r`.
pub(crate) fn generate(r: &Resolved) -> Result<Vec<SockFilter>, SeccompError> {
    let mut asm = Assembler::new();
    let default = r.default.ret();
    let rules = |arch: Arch| r.rules[arch as usize].as_slice();

    // Emitted back to front: the i386 block last in the program, x86_64's tree right after
    // the dispatch so the common path jumps least.
    let i386 = if r.arches.contains(&Arch::X86) {
        let tree = emit_tree(&mut asm, rules(Arch::X86), 0, u32::MAX, default, Arch::X86.narrow_args());
        asm.goto(tree);
        Some(asm.load(OFF_NR))
    } else {
        None
    };
    let high_numbers = if r.arches.contains(&Arch::X32) {
        emit_tree(&mut asm, rules(Arch::X32), X32_SYSCALL_BIT, u32::MAX, default, Arch::X32.narrow_args())
    } else {
        let bad = asm.ret(BAD_ARCH.ret());
        let skip = asm.ret(default);
        asm.jump(JEQ, u32::MAX, skip, bad)
    };
    let x86_64_tree =
        emit_tree(&mut asm, rules(Arch::X86_64), 0, X32_SYSCALL_BIT - 1, default, Arch::X86_64.narrow_args());
    asm.jump(JGE, X32_SYSCALL_BIT, high_numbers, x86_64_tree);
    let x86_64 = asm.load(OFF_NR);
    let bad = asm.ret(BAD_ARCH.ret());
    let not_x86_64 = match i386 {
        Some(l) => asm.jump(JEQ, AUDIT_ARCH_I386, l, bad),
        None => bad,
    };
    asm.jump(JEQ, AUDIT_ARCH_X86_64, x86_64, not_x86_64);
    asm.load(OFF_ARCH);

    let prog = asm.finish();
    if prog.len() > MAX_INSNS {
        return Err(SeccompError::TooLong { len: prog.len() });
    }
    Ok(prog)
}

/// What a stretch of syscall numbers leads to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Leaf<'a> {
    Ret(u32),
    Rules(&'a SyscallRules),
}

/// Emit the binary search over `[lo, hi]` (A holds the number) and return its entry.
fn emit_tree(
    asm: &mut Assembler,
    rules: &[(u32, SyscallRules)],
    lo: u32,
    hi: u32,
    default: u32,
    narrow: bool,
) -> Label {
    // Cut [lo, hi] into intervals (start, leaf), merging neighbours with the same return.
    fn push<'a>(iv: &mut Vec<(u32, Leaf<'a>)>, start: u64, leaf: Leaf<'a>) {
        if let (Some((_, Leaf::Ret(prev))), Leaf::Ret(cur)) = (iv.last(), leaf) {
            if *prev == cur {
                return;
            }
        }
        iv.push((start as u32, leaf));
    }
    let mut iv: Vec<(u32, Leaf<'_>)> = Vec::with_capacity(rules.len() * 2 + 1);
    let mut next = u64::from(lo);
    let from = rules.partition_point(|(nr, _)| *nr < lo);
    let to = rules.partition_point(|(nr, _)| *nr <= hi);
    for (nr, sr) in &rules[from..to] {
        let nr = *nr;
        if u64::from(nr) > next {
            push(&mut iv, next, Leaf::Ret(default));
        }
        let leaf = if sr.conditional.is_empty() { Leaf::Ret(sr.fallback.ret()) } else { Leaf::Rules(sr) };
        push(&mut iv, u64::from(nr), leaf);
        next = u64::from(nr) + 1;
    }
    if next <= u64::from(hi) {
        push(&mut iv, next, Leaf::Ret(default));
    }
    emit_node(asm, &iv, narrow)
}

fn emit_node(asm: &mut Assembler, iv: &[(u32, Leaf<'_>)], narrow: bool) -> Label {
    if iv.len() == 1 {
        return match iv[0].1 {
            Leaf::Ret(k) => asm.ret(k),
            Leaf::Rules(sr) => emit_rules(asm, sr, narrow),
        };
    }
    let mid = iv.len() / 2;
    let right = emit_node(asm, &iv[mid..], narrow);
    let left = emit_node(asm, &iv[..mid], narrow);
    asm.jump(JGE, iv[mid].0, right, left)
}

/// Outcome of a comparison known when compiling.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Known {
    Pass,
    Fail,
    Runtime,
}

/// On a 32-bit ABI the high half of an argument is 0 (the kernel uses only the low half);
/// decide what the high half of the comparison does.
fn narrow_high(c: &ArgCmp) -> Known {
    let vh = (c.value >> 32) as u32;
    match c.op {
        CmpOp::MaskedEq => {
            if (c.value_two >> 32) == 0 {
                Known::Runtime
            } else {
                Known::Fail
            }
        }
        _ if vh == 0 => Known::Runtime,
        // 0 < vh: the argument is smaller.
        CmpOp::Ne | CmpOp::Lt | CmpOp::Le => Known::Pass,
        CmpOp::Eq | CmpOp::Gt | CmpOp::Ge => Known::Fail,
    }
}

/// Emit the rules of one syscall and return their entry.
fn emit_rules(asm: &mut Assembler, sr: &SyscallRules, narrow: bool) -> Label {
    let mut next = asm.ret(sr.fallback.ret());
    for rule in sr.conditional.iter().rev() {
        if let Some(entry) = emit_rule(asm, rule, next, narrow) {
            next = entry;
        }
    }
    next
}

/// Emit one rule: all comparisons pass → its action, any fails → `fail`. None when the rule
/// can never hold on this ABI.
fn emit_rule(asm: &mut Assembler, rule: &Rule, fail: Label, narrow: bool) -> Option<Label> {
    let mut checks: Vec<(&ArgCmp, bool)> = Vec::with_capacity(rule.args.len());
    for c in &rule.args {
        let high = if narrow { narrow_high(c) } else { Known::Runtime };
        match high {
            Known::Fail => return None,
            Known::Pass => {}
            Known::Runtime => checks.push((c, !narrow)),
        }
    }
    let mut pass = asm.ret(rule.action.ret());
    for (c, wide) in checks.into_iter().rev() {
        pass = emit_cmp(asm, c, wide, pass, fail);
    }
    Some(pass)
}

/// Emit `arg <op> value` going to `pass` or `fail`; `wide` compares the high halves too.
fn emit_cmp(asm: &mut Assembler, c: &ArgCmp, wide: bool, pass: Label, fail: Label) -> Label {
    let (vh, vl) = ((c.value >> 32) as u32, c.value as u32);
    let lo_off = off_arg_lo(c.index);
    let hi_off = lo_off + 4;
    if c.op == CmpOp::MaskedEq {
        let (dh, dl) = ((c.value_two >> 32) as u32, c.value_two as u32);
        asm.jump(JEQ, dl, pass, fail);
        asm.and(vl);
        let lo = asm.load(lo_off);
        if !wide {
            return lo;
        }
        asm.jump(JEQ, dh, lo, fail);
        asm.and(vh);
        return asm.load(hi_off);
    }
    // The low halves decide when the high halves are equal, compared unsigned.
    match c.op {
        CmpOp::Eq => asm.jump(JEQ, vl, pass, fail),
        CmpOp::Ne => asm.jump(JEQ, vl, fail, pass),
        CmpOp::Gt => asm.jump(JGT, vl, pass, fail),
        CmpOp::Ge => asm.jump(JGE, vl, pass, fail),
        CmpOp::Lt => asm.jump(JGE, vl, fail, pass),
        CmpOp::Le => asm.jump(JGT, vl, fail, pass),
        CmpOp::MaskedEq => unreachable!("handled above"),
    };
    let lo = asm.load(lo_off);
    if !wide {
        return lo;
    }
    // High half greater / smaller than vh decides alone.
    let (if_greater, if_smaller) = match c.op {
        CmpOp::Eq => (fail, fail),
        CmpOp::Ne => (pass, pass),
        CmpOp::Gt | CmpOp::Ge => (pass, fail),
        CmpOp::Lt | CmpOp::Le => (fail, pass),
        CmpOp::MaskedEq => unreachable!("handled above"),
    };
    if if_greater == if_smaller {
        asm.jump(JEQ, vh, lo, if_greater);
    } else {
        let eq = asm.jump(JEQ, vh, lo, if_smaller);
        asm.jump(JGT, vh, if_greater, eq);
    }
    asm.load(hi_off)
}
