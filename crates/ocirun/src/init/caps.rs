//! Capabilities: names to numbers, and applying the five sets in the order the kernel needs
//! (bounding before the user switch, then effective/permitted/inheritable, then ambient).

use crate::spec::Capabilities;
use crate::sys::{self, SysResult};

/// `CAP_SYS_ADMIN`, which loading a seccomp filter without no_new_privs needs.
pub const CAP_SYS_ADMIN: u32 = 21;

/// Capability names in number order (CAP_CHOWN = 0 ... CAP_CHECKPOINT_RESTORE = 40).
pub const NAMES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// The number of a capability name (`CAP_` prefix optional, case-insensitive).
pub fn number(name: &str) -> Option<u32> {
    let upper = name.to_ascii_uppercase();
    let full = if upper.starts_with("CAP_") { upper } else { format!("CAP_{upper}") };
    NAMES.iter().position(|n| *n == full).map(|i| i as u32)
}

/// The highest capability the running kernel knows.
pub fn last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap").ok().and_then(|s| s.trim().parse().ok()).unwrap_or(40)
}

/// The five sets as bit masks, computed before fork so the child does not allocate.
#[derive(Debug, Clone, Copy, Default)]
pub struct CapSets {
    /// Bounding.
    pub bounding: u64,
    /// Effective.
    pub effective: u64,
    /// Permitted.
    pub permitted: u64,
    /// Inheritable.
    pub inheritable: u64,
    /// Ambient.
    pub ambient: u64,
    /// Highest capability of the kernel.
    pub last_cap: u32,
}

impl CapSets {
    /// Masks from the spec; capabilities the kernel lacks are dropped, with a warning each.
    pub fn from_spec(c: &Capabilities, warn: &mut Vec<String>) -> CapSets {
        let last = last_cap();
        let mask = |list: &Option<Vec<String>>, warn: &mut Vec<String>| {
            let mut m = 0u64;
            for n in list.iter().flatten() {
                match number(n) {
                    Some(b) if b <= last => m |= 1 << b,
                    Some(_) => warn.push(format!("capability {n} is not known to the running kernel: skipped")),
                    None => warn.push(format!("unknown capability {n}: skipped")),
                }
            }
            m
        };
        let mut sets = CapSets {
            bounding: mask(&c.bounding, warn),
            effective: mask(&c.effective, warn),
            permitted: mask(&c.permitted, warn),
            inheritable: mask(&c.inheritable, warn),
            ambient: mask(&c.ambient, warn),
            last_cap: last,
        };
        // The kernel raises an ambient capability only if it is permitted and inheritable;
        // engines' configs often list ambient caps without inheritable ones. Skip those, as
        // other runtimes do, instead of failing the container.
        let dropped = sets.ambient & !(sets.permitted & sets.inheritable);
        if dropped != 0 {
            for cap in 0..=last {
                if dropped & (1 << cap) != 0 {
                    log::debug!(
                        "ambient capability {} is not in the permitted and inheritable sets: not raised",
                        NAMES[cap as usize]
                    );
                }
            }
            sets.ambient &= !dropped;
        }
        sets
    }

    /// Drop from the bounding set everything not listed. Needs CAP_SETPCAP: call before the
    /// user switch.
    pub fn apply_bounding(&self) -> SysResult<()> {
        for cap in 0..=self.last_cap {
            if self.bounding & (1 << cap) == 0 {
                sys::caps::drop_bounding(cap)?;
            }
        }
        Ok(())
    }

    /// Set effective/permitted/inheritable, then raise the ambient ones. Call after the user
    /// switch (with keepcaps set before it). `keep_admin` leaves CAP_SYS_ADMIN in the
    /// effective and permitted sets, for a seccomp filter loaded without no_new_privs after
    /// this call: execve recomputes both sets from the bounding, inheritable and ambient ones
    /// (the permitted set before it does not count), so the program does not inherit it.
    pub fn apply_sets(&self, keep_admin: bool) -> SysResult<()> {
        let admin = if keep_admin { 1u64 << CAP_SYS_ADMIN } else { 0 };
        sys::caps::capset(self.effective | admin, self.permitted | admin, self.inheritable)?;
        for cap in 0..=self.last_cap {
            if self.ambient & (1 << cap) != 0 {
                sys::caps::raise_ambient(cap)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn names() {
        assert_eq!(super::number("CAP_CHOWN"), Some(0));
        assert_eq!(super::number("sys_admin"), Some(21));
        assert_eq!(super::number("CAP_CHECKPOINT_RESTORE"), Some(40));
        assert_eq!(super::number("CAP_NOPE"), None);
    }
}
