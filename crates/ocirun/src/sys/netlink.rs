//! `NETLINK_ROUTE` sockets (netlink(7), rtnetlink(7)): open one, send a request to the
//! kernel and read its replies. Building and parsing the messages is plain byte work and lives
//! in the safe [`crate::netdev`] module.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use super::{SysError, SysResult};

/// A close-on-exec `NETLINK_ROUTE` socket bound to a kernel-chosen port, in the calling
/// thread's network namespace (a socket keeps the namespace it was made in).
pub fn route_socket() -> SysResult<OwnedFd> {
    // SAFETY: plain syscall.
    let fd = unsafe { libc::socket(libc::AF_NETLINK, libc::SOCK_RAW | libc::SOCK_CLOEXEC, libc::NETLINK_ROUTE) };
    if fd == -1 {
        return Err(SysError::last("socket(AF_NETLINK)"));
    }
    // SAFETY: fresh fd owned by us.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: sockaddr_nl is plain data; all-zero asks the kernel to pick the port.
    let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    addr.nl_family = libc::AF_NETLINK as u16;
    // SAFETY: valid fd and a sockaddr_nl of the size given.
    let r = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&addr as *const libc::sockaddr_nl).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as u32,
        )
    };
    if r == -1 {
        return Err(SysError::last("bind(AF_NETLINK)"));
    }
    // Ask for the kernel's own words with errors (best effort: older kernels lack it).
    let one: libc::c_int = 1;
    // SAFETY: valid fd and an int option value.
    let _ = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_NETLINK,
            libc::NETLINK_EXT_ACK,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as u32,
        )
    };
    Ok(fd)
}

/// Send one netlink message (or a batch) to the kernel.
pub fn send(sock: BorrowedFd<'_>, msg: &[u8]) -> SysResult<()> {
    // SAFETY: sockaddr_nl is plain data; port 0 is the kernel.
    let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    addr.nl_family = libc::AF_NETLINK as u16;
    loop {
        // SAFETY: valid fd, buffer and address for the duration of the call.
        let r = unsafe {
            libc::sendto(
                sock.as_raw_fd(),
                msg.as_ptr().cast(),
                msg.len(),
                0,
                (&addr as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as u32,
            )
        };
        if r == -1 {
            if super::last_errno() == libc::EINTR {
                continue;
            }
            return Err(SysError::last("sendto(AF_NETLINK)"));
        }
        if r as usize != msg.len() {
            return Err(SysError::new("sendto(AF_NETLINK): short write", libc::EIO));
        }
        return Ok(());
    }
}

/// Receive one datagram (one or more netlink messages) into `buf`.
pub fn recv(sock: BorrowedFd<'_>, buf: &mut [u8]) -> SysResult<usize> {
    loop {
        // SAFETY: valid fd and writable buffer of the given length.
        let r = unsafe { libc::recv(sock.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if r == -1 {
            if super::last_errno() == libc::EINTR {
                continue;
            }
            return Err(SysError::last("recv(AF_NETLINK)"));
        }
        return Ok(r as usize);
    }
}
