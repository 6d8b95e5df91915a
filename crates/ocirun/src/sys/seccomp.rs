//! seccomp(2) and seccomp_unotify(2): installing a classic-BPF filter, the user-notification
//! ioctls a listener uses, and passing the listener fd over a unix socket (`SCM_RIGHTS`).
//!
//! [`set_mode_filter`] runs in the container's init between fork and execve, so it and the fd
//! passing helpers allocate nothing: they only build kernel structs on the stack.

use std::mem::{size_of, MaybeUninit};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use super::{SysError, SysResult};

/// One classic BPF instruction, as the kernel reads it (`struct sock_filter`).
pub type SockFilter = libc::sock_filter;

/// Install `filter` on the calling thread with `seccomp(SECCOMP_SET_MODE_FILTER, flags)`.
///
/// Returns the notification listener when `flags` holds `SECCOMP_FILTER_FLAG_NEW_LISTENER`.
/// The caller must have set `no_new_privs` or hold `CAP_SYS_ADMIN` in its user namespace,
/// else the kernel answers `EACCES`. Allocates nothing. See seccomp(2).
pub fn set_mode_filter(filter: &[SockFilter], flags: u32) -> SysResult<Option<OwnedFd>> {
    let len = u16::try_from(filter.len()).map_err(|_| SysError::new("seccomp", libc::EINVAL))?;
    let prog = libc::sock_fprog { len, filter: filter.as_ptr().cast_mut() };
    // SAFETY: `prog` points at `filter`, which outlives the call; the kernel copies the program
    // and never writes through the pointer.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            libc::c_ulong::from(flags),
            &prog as *const libc::sock_fprog,
        )
    };
    if ret < 0 {
        return Err(SysError::last("seccomp"));
    }
    if u64::from(flags) & libc::SECCOMP_FILTER_FLAG_NEW_LISTENER == 0 {
        return Ok(None);
    }
    let fd = i32::try_from(ret).map_err(|_| SysError::new("seccomp", libc::EBADF))?;
    // SAFETY: with NEW_LISTENER the kernel returned a fresh fd that nothing else owns.
    Ok(Some(unsafe { OwnedFd::from_raw_fd(fd) }))
}

/// Whether the kernel knows the filter return action `action` (`SECCOMP_GET_ACTION_AVAIL`).
pub fn action_available(action: u32) -> SysResult<bool> {
    // SAFETY: the kernel reads one u32 from the pointer, which points at a live local.
    let ret = unsafe { libc::syscall(libc::SYS_seccomp, libc::SECCOMP_GET_ACTION_AVAIL, 0, &action as *const u32) };
    if ret == 0 {
        return Ok(true);
    }
    match super::last_errno() {
        libc::EOPNOTSUPP => Ok(false),
        errno => Err(SysError::new("seccomp", errno)),
    }
}

/// One trapped system call, as `SECCOMP_IOCTL_NOTIF_RECV` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Notification {
    /// Cookie to answer with [`notif_send`].
    pub id: u64,
    /// Pid of the trapped thread, in the listener's pid namespace.
    pub pid: u32,
    /// Syscall number.
    pub nr: i32,
    /// `AUDIT_ARCH_*` of the call.
    pub arch: u32,
    /// Instruction pointer at the call.
    pub instruction_pointer: u64,
    /// The six raw arguments.
    pub args: [u64; 6],
}

/// Wait for the next notification on a listener fd. See seccomp_unotify(2).
pub fn notif_recv(listener: BorrowedFd<'_>) -> SysResult<Notification> {
    let mut notif = MaybeUninit::<libc::seccomp_notif>::zeroed();
    // SAFETY: the kernel requires a zeroed `seccomp_notif` and fills it; the pointer is valid
    // for its full size.
    let ret = unsafe { libc::ioctl(listener.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_RECV, notif.as_mut_ptr()) };
    if ret < 0 {
        return Err(SysError::last("ioctl(SECCOMP_IOCTL_NOTIF_RECV)"));
    }
    // SAFETY: zero is a valid value for every field and the kernel filled it on success.
    let n = unsafe { notif.assume_init() };
    Ok(Notification {
        id: n.id,
        pid: n.pid,
        nr: n.data.nr,
        arch: n.data.arch,
        instruction_pointer: n.data.instruction_pointer,
        args: n.data.args,
    })
}

/// How to answer a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifResponse {
    /// The syscall returns `val` without running.
    Return(i64),
    /// The syscall fails with this (positive) errno.
    Error(i32),
    /// Let the kernel run the syscall as if no filter had trapped it
    /// (`SECCOMP_USER_NOTIF_FLAG_CONTINUE`; see seccomp_unotify(2) for why that is not a
    /// security boundary).
    Continue,
}

/// Answer notification `id` (`SECCOMP_IOCTL_NOTIF_SEND`).
pub fn notif_send(listener: BorrowedFd<'_>, id: u64, response: NotifResponse) -> SysResult<()> {
    let (val, error, flags) = match response {
        NotifResponse::Return(v) => (v, 0, 0),
        NotifResponse::Error(e) => (0, -e, 0),
        NotifResponse::Continue => (0, 0, libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32),
    };
    let mut resp = libc::seccomp_notif_resp { id, val, error, flags };
    // SAFETY: `resp` is a fully initialised struct the kernel reads.
    let ret = unsafe { libc::ioctl(listener.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_SEND, &mut resp) };
    if ret < 0 {
        return Err(SysError::last("ioctl(SECCOMP_IOCTL_NOTIF_SEND)"));
    }
    Ok(())
}

/// Whether notification `id` is still pending (the target has not died or been interrupted).
pub fn notif_id_valid(listener: BorrowedFd<'_>, id: u64) -> SysResult<bool> {
    let mut id = id;
    // SAFETY: the kernel reads one u64 from a live local.
    let ret = unsafe { libc::ioctl(listener.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_ID_VALID, &mut id) };
    if ret == 0 {
        return Ok(true);
    }
    match super::last_errno() {
        libc::ENOENT => Ok(false),
        errno => Err(SysError::new("ioctl(SECCOMP_IOCTL_NOTIF_ID_VALID)", errno)),
    }
}

/// Room for one `cmsghdr` carrying one fd, 8-byte aligned as `cmsghdr` needs.
#[repr(C, align(8))]
struct FdCmsgBuf([u8; 32]);

/// Send `data` on a connected unix socket with `fd` attached as `SCM_RIGHTS`, in one
/// sendmsg(2). Returns how many bytes of `data` went out. Allocates nothing.
pub fn send_with_fd(sock: BorrowedFd<'_>, data: &[u8], fd: BorrowedFd<'_>) -> SysResult<usize> {
    let mut cbuf = FdCmsgBuf([0; 32]);
    // SAFETY: CMSG_SPACE is pure arithmetic.
    let space = unsafe { libc::CMSG_SPACE(size_of::<libc::c_int>() as u32) } as usize;
    debug_assert!(space <= cbuf.0.len());
    let mut iov = libc::iovec { iov_base: data.as_ptr().cast_mut().cast(), iov_len: data.len() };
    // SAFETY: msghdr is plain data; all-zero is its empty value.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.0.as_mut_ptr().cast();
    msg.msg_controllen = space;
    // SAFETY: msg_control points at `cbuf`, aligned and at least CMSG_SPACE(int) long, so the
    // first header and its data lie inside it.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(size_of::<libc::c_int>() as u32) as usize;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::c_int>(), fd.as_raw_fd());
    }
    loop {
        // SAFETY: `msg` points at `iov`, `data` and `cbuf`, all alive for the call.
        let ret = unsafe { libc::sendmsg(sock.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) };
        if ret >= 0 {
            return Ok(ret as usize);
        }
        let err = SysError::last("sendmsg");
        if err.errno != libc::EINTR {
            return Err(err);
        }
    }
}

/// Receive into `buf` from a unix socket, taking the first fd passed with `SCM_RIGHTS` (set
/// close-on-exec; any further ones are closed). Returns the byte count and the fd, if one came.
pub fn recv_with_fd(sock: BorrowedFd<'_>, buf: &mut [u8]) -> SysResult<(usize, Option<OwnedFd>)> {
    let mut cbuf = FdCmsgBuf([0; 32]);
    let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
    // SAFETY: msghdr is plain data; all-zero is its empty value.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.0.as_mut_ptr().cast();
    msg.msg_controllen = cbuf.0.len();
    let n = loop {
        // SAFETY: `msg` points at `iov`, `buf` and `cbuf`, all alive and writable.
        let ret = unsafe { libc::recvmsg(sock.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
        if ret >= 0 {
            break ret as usize;
        }
        let err = SysError::last("recvmsg");
        if err.errno != libc::EINTR {
            return Err(err);
        }
    };
    let mut fd = None;
    // SAFETY: the kernel filled `cbuf` and set msg_controllen; the CMSG_* macros stay inside it.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(cmsg).cast::<libc::c_int>();
                let count = ((*cmsg).cmsg_len - libc::CMSG_LEN(0) as usize) / size_of::<libc::c_int>();
                for i in 0..count {
                    // The kernel installed these fds for us; nothing else owns them. Keep the
                    // first, close any extra by dropping it.
                    let owned = OwnedFd::from_raw_fd(std::ptr::read_unaligned(data.add(i)));
                    if fd.is_none() {
                        fd = Some(owned);
                    }
                }
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    if msg.msg_flags & libc::MSG_CTRUNC != 0 {
        return Err(SysError::new("recvmsg", libc::EMSGSIZE));
    }
    Ok((n, fd))
}
