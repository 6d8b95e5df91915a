//! Capabilities: capget/capset, the bounding set and the ambient set.

use super::{SysError, SysResult};

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Default, Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const VERSION_3: u32 = 0x20080522;

/// Set the effective, permitted and inheritable sets of the calling thread (bit i = cap i).
pub fn capset(effective: u64, permitted: u64, inheritable: u64) -> SysResult<()> {
    let mut hdr = CapHeader { version: VERSION_3, pid: 0 };
    let data = [
        CapData { effective: effective as u32, permitted: permitted as u32, inheritable: inheritable as u32 },
        CapData {
            effective: (effective >> 32) as u32,
            permitted: (permitted >> 32) as u32,
            inheritable: (inheritable >> 32) as u32,
        },
    ];
    // SAFETY: header and two data structs as capset(2) v3 expects.
    if unsafe { libc::syscall(libc::SYS_capset, &mut hdr as *mut CapHeader, data.as_ptr()) } == -1 {
        return Err(SysError::last("capset"));
    }
    Ok(())
}

/// Drop `cap` from the bounding set.
pub fn drop_bounding(cap: u32) -> SysResult<()> {
    super::process::prctl("prctl(PR_CAPBSET_DROP)", libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0)
}

/// Raise `cap` in the ambient set.
pub fn raise_ambient(cap: u32) -> SysResult<()> {
    // SAFETY: PR_CAP_AMBIENT takes integer arguments.
    if unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong,
            cap as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    } == -1
    {
        return Err(SysError::last("prctl(PR_CAP_AMBIENT_RAISE)"));
    }
    Ok(())
}
