//! The `bpf(2)` calls the device cgroup needs on cgroup v2: load a `BPF_PROG_TYPE_CGROUP_DEVICE`
//! program, attach it to a cgroup directory, list and detach the programs already there.
//!
//! Only the syscalls live here; the program itself is built from the config's device rules by
//! `cgroups::devices`, which hands us plain [`Insn`]s. See `bpf(2)` and the kernel's
//! `include/uapi/linux/bpf.h` for the attribute layouts mirrored below.

use std::mem::size_of;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use super::{SysError, SysResult};

/// One eBPF instruction, laid out as the kernel's `struct bpf_insn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[repr(C)]
pub struct Insn {
    /// Opcode.
    pub code: u8,
    /// Destination register in the low nibble, source register in the high nibble.
    pub regs: u8,
    /// Signed offset (jumps, memory accesses).
    pub off: i16,
    /// Signed immediate.
    pub imm: i32,
}

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_DETACH: libc::c_long = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
const BPF_PROG_QUERY: libc::c_long = 16;

const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 1 << 1;

/// The `BPF_PROG_LOAD` part of `union bpf_attr`, up to `expected_attach_type`.
#[repr(C)]
#[derive(Default)]
struct LoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

/// The `BPF_PROG_ATTACH` / `BPF_PROG_DETACH` part of `union bpf_attr`.
#[repr(C)]
#[derive(Default)]
struct AttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

/// The `BPF_PROG_QUERY` part of `union bpf_attr`.
#[repr(C)]
#[derive(Default)]
struct QueryAttr {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
    _pad: u32,
}

/// The `BPF_PROG_GET_FD_BY_ID` part of `union bpf_attr`.
#[repr(C)]
#[derive(Default)]
struct GetFdAttr {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
}

/// Issue `bpf(cmd, attr, sizeof attr)`.
fn bpf<T>(op: &'static str, cmd: libc::c_long, attr: &mut T) -> SysResult<libc::c_long> {
    // SAFETY: `attr` is a live, initialised `#[repr(C)]` prefix of `union bpf_attr` for `cmd`
    // and we pass its exact size; the kernel reads and writes only within that size. Pointers
    // stored inside it (instructions, license, id buffer) are kept alive by our callers.
    let r = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr as *mut T, size_of::<T>()) };
    if r < 0 {
        Err(SysError::last(op))
    } else {
        Ok(r)
    }
}

fn owned(r: libc::c_long, op: &'static str) -> SysResult<OwnedFd> {
    let fd = i32::try_from(r).map_err(|_| SysError::new(op, libc::EBADF))?;
    // SAFETY: the kernel just returned this new descriptor to us and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Load a `BPF_PROG_TYPE_CGROUP_DEVICE` program. [bpf(2)](https://man7.org/linux/man-pages/man2/bpf.2.html)
///
/// On a verifier rejection the kernel's log is not kept; the errno (usually `EINVAL` or
/// `EACCES`) says which class of failure it was.
pub fn load_cgroup_device_prog(insns: &[Insn]) -> SysResult<OwnedFd> {
    const OP: &str = "bpf(BPF_PROG_LOAD)";
    let license = b"Apache-2.0\0";
    let mut attr = LoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: u32::try_from(insns.len()).map_err(|_| SysError::new(OP, libc::E2BIG))?,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        ..Default::default()
    };
    attr.prog_name[..6].copy_from_slice(b"ocirun");
    let r = bpf(OP, BPF_PROG_LOAD, &mut attr)?;
    owned(r, OP)
}

/// Attach `prog` to the cgroup directory `cgroup` as a device program, alongside any already
/// attached there (`BPF_F_ALLOW_MULTI`: every attached program must allow an access).
pub fn attach_cgroup_device_prog(cgroup: BorrowedFd<'_>, prog: BorrowedFd<'_>) -> SysResult<()> {
    let mut attr = AttachAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
        replace_bpf_fd: 0,
    };
    bpf("bpf(BPF_PROG_ATTACH)", BPF_PROG_ATTACH, &mut attr).map(drop)
}

/// Detach the device program `prog` from the cgroup directory `cgroup`.
pub fn detach_cgroup_device_prog(cgroup: BorrowedFd<'_>, prog: BorrowedFd<'_>) -> SysResult<()> {
    let mut attr = AttachAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        ..Default::default()
    };
    bpf("bpf(BPF_PROG_DETACH)", BPF_PROG_DETACH, &mut attr).map(drop)
}

/// The ids of the device programs attached directly to the cgroup directory `cgroup`.
pub fn query_cgroup_device_progs(cgroup: BorrowedFd<'_>) -> SysResult<Vec<u32>> {
    const OP: &str = "bpf(BPF_PROG_QUERY)";
    let mut ids = vec![0u32; 64];
    loop {
        let mut attr = QueryAttr {
            target_fd: cgroup.as_raw_fd() as u32,
            attach_type: BPF_CGROUP_DEVICE,
            prog_ids: ids.as_mut_ptr() as u64,
            prog_cnt: ids.len() as u32,
            ..Default::default()
        };
        match bpf(OP, BPF_PROG_QUERY, &mut attr) {
            Ok(_) => {
                ids.truncate(attr.prog_cnt as usize);
                return Ok(ids);
            }
            // The kernel wrote the real count: grow and ask again.
            Err(e) if e.errno == libc::ENOSPC && attr.prog_cnt as usize > ids.len() => {
                ids = vec![0u32; attr.prog_cnt as usize];
            }
            Err(e) => return Err(e),
        }
    }
}

/// A descriptor for the loaded program with id `id`.
pub fn prog_fd_by_id(id: u32) -> SysResult<OwnedFd> {
    const OP: &str = "bpf(BPF_PROG_GET_FD_BY_ID)";
    let mut attr = GetFdAttr { prog_id: id, ..Default::default() };
    let r = bpf(OP, BPF_PROG_GET_FD_BY_ID, &mut attr)?;
    owned(r, OP)
}
