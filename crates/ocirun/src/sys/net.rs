//! Network interface flags: bringing the loopback device of a new network namespace up
//! ([netdevice(7)](https://man7.org/linux/man-pages/man7/netdevice.7.html), `SIOCSIFFLAGS`).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use super::{SysError, SysResult};

/// Set `IFF_UP` on `lo` in the caller's network namespace.
pub fn loopback_up() -> SysResult<()> {
    // SAFETY: plain socket(2) call; the fd is owned right below.
    let raw = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if raw == -1 {
        return Err(SysError::last("socket(AF_INET)"));
    }
    // SAFETY: `raw` is a new fd that nothing else owns.
    let sock = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: ifreq is plain data; all zeroes is a valid value.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in ifr.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: a valid socket and a valid ifreq the kernel fills in.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut ifr) } == -1 {
        return Err(SysError::last("ioctl(SIOCGIFFLAGS) lo"));
    }
    // SAFETY: SIOCGIFFLAGS filled the flags member of the union.
    unsafe { ifr.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
    // SAFETY: a valid socket and a valid ifreq the kernel only reads.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &ifr) } == -1 {
        return Err(SysError::last("ioctl(SIOCSIFFLAGS) lo"));
    }
    Ok(())
}
