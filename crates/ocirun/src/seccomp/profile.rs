//! From the OCI `linux.seccomp` object to typed rules per architecture: the strings of the
//! spec (`SCMP_ACT_*`, `SCMP_ARCH_*`, `SCMP_CMP_*`, `SECCOMP_FILTER_FLAG_*`) become enums,
//! syscall names become numbers, and every rule the spec forbids is an error naming its field.
//!
//! The meaning of a profile, as libseccomp gives it and runtimes rely on:
//! - the native architecture (x86_64) is always filtered; `architectures` adds x86 (i386) and
//!   x32. Other `SCMP_ARCH_*` values are accepted and ignored: an x86_64 kernel never reports
//!   them, so they cannot match anything here;
//! - a name unknown on every architecture is skipped, noted for `--debug` only (profiles ship newer than
//!   kernels); a name that exists on only some of the listed ABIs applies where it exists;
//! - several rules for one syscall are alternatives. Rules with `args` are tried in profile
//!   order, the first whose comparisons all hold decides; a rule without `args` decides when
//!   none of them holds; the default action when there is no such rule.

use super::syscalls;
use super::SeccompError;
use crate::spec::{Seccomp, SyscallArg};

/// `__X32_SYSCALL_BIT`: x32 syscalls arrive with this bit set in their number.
pub(crate) const X32_SYSCALL_BIT: u32 = 0x4000_0000;
/// `AUDIT_ARCH_X86_64` (also what x32 calls report).
pub(crate) const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
/// `AUDIT_ARCH_I386`.
pub(crate) const AUDIT_ARCH_I386: u32 = 0x4000_0003;

/// An x86 system call ABI the filter can tell apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Arch {
    /// 64-bit, the native ABI.
    X86_64 = 0,
    /// 32-bit i386 (`int 0x80`, `sysenter`): arguments are 32 bits wide.
    X86 = 1,
    /// x32: `AUDIT_ARCH_X86_64` with `__X32_SYSCALL_BIT` set in the number.
    X32 = 2,
}

impl Arch {
    /// The syscall number of `name` on this ABI.
    pub fn syscall_nr(self, name: &str) -> Option<u32> {
        let nr = syscalls::lookup(name)?[self as usize];
        (nr != syscalls::NONE).then_some(nr)
    }

    /// Whether the ABI passes 32-bit arguments (the kernel truncates anything wider).
    pub(crate) fn narrow_args(self) -> bool {
        self == Arch::X86
    }
}

/// What the filter does with a matching syscall (`SCMP_ACT_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Kill the calling thread (`SCMP_ACT_KILL`, `SCMP_ACT_KILL_THREAD`).
    KillThread,
    /// Kill the whole process.
    KillProcess,
    /// Send `SIGSYS`.
    Trap,
    /// Fail with this errno.
    Errno(u16),
    /// Notify a ptrace tracer, passing this value; fails with `ENOSYS` when not traced.
    Trace(u16),
    /// Run the syscall.
    Allow,
    /// Run the syscall and log it.
    Log,
    /// Ask the user-space listener.
    Notify,
}

impl Action {
    /// The `SECCOMP_RET_*` value a filter returns for this action.
    pub fn ret(self) -> u32 {
        match self {
            Action::KillThread => libc::SECCOMP_RET_KILL_THREAD,
            Action::KillProcess => libc::SECCOMP_RET_KILL_PROCESS,
            Action::Trap => libc::SECCOMP_RET_TRAP,
            Action::Errno(e) => libc::SECCOMP_RET_ERRNO | u32::from(e),
            Action::Trace(d) => libc::SECCOMP_RET_TRACE | u32::from(d),
            Action::Allow => libc::SECCOMP_RET_ALLOW,
            Action::Log => libc::SECCOMP_RET_LOG,
            Action::Notify => libc::SECCOMP_RET_USER_NOTIF,
        }
    }

    /// Parse `SCMP_ACT_*` with the rule's `errnoRet`; `field` names it in errors.
    fn parse(name: &str, errno_ret: Option<u32>, field: &str) -> Result<Action, SeccompError> {
        let data = |default: u32| -> Result<u16, SeccompError> {
            let v = errno_ret.unwrap_or(default);
            u16::try_from(v).map_err(|_| SeccompError::ErrnoOutOfRange { field: field.to_string(), value: v })
        };
        let takes_errno = matches!(name, "SCMP_ACT_ERRNO" | "SCMP_ACT_TRACE");
        if errno_ret.is_some() && !takes_errno {
            return Err(SeccompError::ErrnoNotAllowed { field: field.to_string(), action: name.to_string() });
        }
        Ok(match name {
            "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => Action::KillThread,
            "SCMP_ACT_KILL_PROCESS" => Action::KillProcess,
            "SCMP_ACT_TRAP" => Action::Trap,
            "SCMP_ACT_ERRNO" => Action::Errno(data(libc::EPERM as u32)?),
            "SCMP_ACT_TRACE" => Action::Trace(data(libc::EPERM as u32)?),
            "SCMP_ACT_ALLOW" => Action::Allow,
            "SCMP_ACT_LOG" => Action::Log,
            "SCMP_ACT_NOTIFY" => Action::Notify,
            _ => return Err(SeccompError::UnknownAction { field: field.to_string(), action: name.to_string() }),
        })
    }
}

/// An argument comparison operator (`SCMP_CMP_*`), on unsigned 64-bit values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `arg != value`.
    Ne,
    /// `arg < value`.
    Lt,
    /// `arg <= value`.
    Le,
    /// `arg == value`.
    Eq,
    /// `arg >= value`.
    Ge,
    /// `arg > value`.
    Gt,
    /// `arg & value == valueTwo`.
    MaskedEq,
}

/// One comparison of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArgCmp {
    /// Argument index, 0..=5.
    pub index: u8,
    /// Operator.
    pub op: CmpOp,
    /// Value, or the mask for [`CmpOp::MaskedEq`].
    pub value: u64,
    /// The expected masked value for [`CmpOp::MaskedEq`].
    pub value_two: u64,
}

impl ArgCmp {
    fn parse(a: &SyscallArg, field: &str) -> Result<ArgCmp, SeccompError> {
        let op = match a.op.as_str() {
            "SCMP_CMP_NE" => CmpOp::Ne,
            "SCMP_CMP_LT" => CmpOp::Lt,
            "SCMP_CMP_LE" => CmpOp::Le,
            "SCMP_CMP_EQ" => CmpOp::Eq,
            "SCMP_CMP_GE" => CmpOp::Ge,
            "SCMP_CMP_GT" => CmpOp::Gt,
            "SCMP_CMP_MASKED_EQ" => CmpOp::MaskedEq,
            other => return Err(SeccompError::UnknownOperator { field: format!("{field}.op"), op: other.to_string() }),
        };
        let index = u8::try_from(a.index)
            .ok()
            .filter(|i| *i < 6)
            .ok_or(SeccompError::ArgIndex { field: format!("{field}.index"), index: a.index })?;
        Ok(ArgCmp { index, op, value: a.value, value_two: a.value_two.unwrap_or(0) })
    }
}

/// A conditional rule: all comparisons must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rule {
    pub(crate) action: Action,
    pub(crate) args: Vec<ArgCmp>,
}

/// What one syscall on one ABI does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyscallRules {
    /// Tried in order; the first that holds decides.
    pub(crate) conditional: Vec<Rule>,
    /// The action when no conditional rule holds.
    pub(crate) fallback: Action,
}

/// A profile checked and resolved to numbers, ready for code generation.
#[derive(Debug)]
pub(crate) struct Resolved {
    pub(crate) default: Action,
    /// The ABIs allowed, native first; any other ABI is killed.
    pub(crate) arches: Vec<Arch>,
    /// Per ABI (indexed by `Arch as usize`), the syscalls whose outcome differs from the
    /// default, sorted by number.
    pub(crate) rules: [Vec<(u32, SyscallRules)>; 3],
    /// `SECCOMP_FILTER_FLAG_*` to pass to seccomp(2).
    pub(crate) flags: u32,
    pub(crate) uses_notify: bool,
    pub(crate) warnings: Vec<String>,
    /// Names unknown on every architecture and rules overridden by an earlier one: normal in
    /// engines' profiles (they list the syscalls of every arch and kernel), so only for
    /// `--debug`.
    pub(crate) skipped: Vec<String>,
}

const FLAG_TSYNC: u32 = libc::SECCOMP_FILTER_FLAG_TSYNC as u32;
const FLAG_NEW_LISTENER: u32 = libc::SECCOMP_FILTER_FLAG_NEW_LISTENER as u32;
const FLAG_TSYNC_ESRCH: u32 = libc::SECCOMP_FILTER_FLAG_TSYNC_ESRCH as u32;
const FLAG_WAIT_KILLABLE_RECV: u32 = libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV as u32;

fn parse_arches(names: &[String]) -> Result<Vec<Arch>, SeccompError> {
    let mut arches = vec![Arch::X86_64];
    for (i, name) in names.iter().enumerate() {
        let arch = match name.as_str() {
            "SCMP_ARCH_X86_64" => Arch::X86_64,
            "SCMP_ARCH_X86" => Arch::X86,
            "SCMP_ARCH_X32" => Arch::X32,
            // Valid libseccomp names of ABIs an x86_64 kernel never reports.
            "SCMP_ARCH_ARM"
            | "SCMP_ARCH_AARCH64"
            | "SCMP_ARCH_MIPS"
            | "SCMP_ARCH_MIPS64"
            | "SCMP_ARCH_MIPS64N32"
            | "SCMP_ARCH_MIPSEL"
            | "SCMP_ARCH_MIPSEL64"
            | "SCMP_ARCH_MIPSEL64N32"
            | "SCMP_ARCH_PPC"
            | "SCMP_ARCH_PPC64"
            | "SCMP_ARCH_PPC64LE"
            | "SCMP_ARCH_S390"
            | "SCMP_ARCH_S390X"
            | "SCMP_ARCH_PARISC"
            | "SCMP_ARCH_PARISC64"
            | "SCMP_ARCH_RISCV64"
            | "SCMP_ARCH_LOONGARCH64"
            | "SCMP_ARCH_M68K"
            | "SCMP_ARCH_SH"
            | "SCMP_ARCH_SHEB" => continue,
            other => {
                return Err(SeccompError::UnknownArch {
                    field: format!("linux.seccomp.architectures[{i}]"),
                    arch: other.to_string(),
                })
            }
        };
        if !arches.contains(&arch) {
            arches.push(arch);
        }
    }
    Ok(arches)
}

fn parse_flags(names: &[String]) -> Result<u32, SeccompError> {
    let mut flags = 0;
    for (i, name) in names.iter().enumerate() {
        flags |= match name.as_str() {
            "SECCOMP_FILTER_FLAG_TSYNC" => FLAG_TSYNC,
            "SECCOMP_FILTER_FLAG_LOG" => libc::SECCOMP_FILTER_FLAG_LOG as u32,
            "SECCOMP_FILTER_FLAG_SPEC_ALLOW" => libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW as u32,
            "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV" => FLAG_WAIT_KILLABLE_RECV,
            other => {
                return Err(SeccompError::UnknownFlag {
                    field: format!("linux.seccomp.flags[{i}]"),
                    flag: other.to_string(),
                })
            }
        };
    }
    Ok(flags)
}

/// The rules gathered for one syscall: those with args in order, and the first action without.
type Collected = (Vec<Rule>, Option<Action>);

/// Check `profile` and resolve it for the x86 ABIs.
pub(crate) fn resolve(profile: &Seccomp) -> Result<Resolved, SeccompError> {
    let default = Action::parse(&profile.default_action, profile.default_errno_ret, "linux.seccomp.defaultAction")?;
    if default == Action::Notify {
        // Every syscall of the runtime's own init after the install, the one that hands the
        // listener over included, would wait for a listener that does not have it yet.
        return Err(SeccompError::NotifyDefault);
    }
    if profile.listener_metadata.is_some() && profile.listener_path.is_none() {
        return Err(SeccompError::MetadataWithoutListener);
    }
    let arches = parse_arches(&profile.architectures)?;
    let mut flags = parse_flags(&profile.flags)?;
    let mut warnings = Vec::new();
    let mut skipped = Vec::new();

    // Per ABI and number: the rules in profile order, with and without args. Every number of
    // the tables is below 1024 once the x32 bit is cleared, so a dense slot array indexes them.
    let mut slots = [[0u16; 1024]; 3];
    let mut collected: Vec<(Arch, u32, Collected)> = Vec::with_capacity(1024);
    let mut uses_notify = false;
    for (ri, sc) in profile.syscalls.iter().enumerate() {
        let field = format!("linux.seccomp.syscalls[{ri}]");
        if sc.names.is_empty() {
            return Err(SeccompError::NoNames { field: format!("{field}.names") });
        }
        let action = Action::parse(&sc.action, sc.errno_ret, &format!("{field}.action"))?;
        let args = sc
            .args
            .iter()
            .enumerate()
            .map(|(ai, a)| ArgCmp::parse(a, &format!("{field}.args[{ai}]")))
            .collect::<Result<Vec<_>, _>>()?;
        for name in &sc.names {
            let mut known = false;
            let mut overridden = None;
            for &arch in &arches {
                let Some(nr) = arch.syscall_nr(name) else {
                    continue;
                };
                known = true;
                uses_notify |= action == Action::Notify;
                let slot = &mut slots[arch as usize][(nr & !X32_SYSCALL_BIT) as usize & 1023];
                if *slot == 0 {
                    collected.push((arch, nr, Collected::default()));
                    *slot = collected.len() as u16;
                }
                let entry = &mut collected[usize::from(*slot) - 1].2;
                if args.is_empty() {
                    match entry.1 {
                        None => entry.1 = Some(action),
                        Some(first) if first != action => overridden = Some(first),
                        Some(_) => {}
                    }
                } else {
                    entry.0.push(Rule { action, args: args.clone() });
                }
            }
            if !known {
                skipped.push(format!("{field}: unknown syscall {name:?} skipped"));
            }
            // The first rule wins. Engines' default profiles do this on purpose (podman's allows
            // setns, then denies it again for a container without CAP_SYS_ADMIN), so it is no
            // warning either.
            if let Some(first) = overridden {
                skipped.push(format!(
                    "{field}: {name}: already has action {first:?} without arguments; {action:?} ignored"
                ));
            }
        }
    }

    collected.sort_unstable_by_key(|(arch, nr, _)| (*arch, *nr));
    let mut rules: [Vec<(u32, SyscallRules)>; 3] = Default::default();
    for (arch, nr, (mut conditional, unconditional)) in collected {
        let fallback = unconditional.unwrap_or(default);
        // A trailing rule that leads where failing it leads anyway changes nothing.
        while conditional.last().is_some_and(|r| r.action == fallback) {
            conditional.pop();
        }
        if conditional.is_empty() && fallback == default {
            continue;
        }
        rules[arch as usize].push((nr, SyscallRules { conditional, fallback }));
    }

    if uses_notify {
        flags |= FLAG_NEW_LISTENER;
        if flags & FLAG_TSYNC != 0 {
            // The kernel refuses TSYNC with NEW_LISTENER unless told to report a sync failure
            // as ESRCH (the fd return value is taken).
            flags |= FLAG_TSYNC_ESRCH;
        }
    } else if flags & FLAG_WAIT_KILLABLE_RECV != 0 {
        flags &= !FLAG_WAIT_KILLABLE_RECV;
        warnings.push(
            "linux.seccomp.flags: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV ignored: no rule uses SCMP_ACT_NOTIFY"
                .to_string(),
        );
    }
    Ok(Resolved { default, arches, rules, flags, uses_notify, warnings, skipped })
}
