//! The few raw calls the harness needs: unmounting, handing descriptors to a child runtime,
//! and receiving a pty master over a unix socket. Everything else in the harness is safe code.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::process::Command;

/// Detaches the mount at `path` (MNT_DETACH), so a busy mount still goes away.
pub fn umount_detach(path: &str) -> io::Result<()> {
    let p = CString::new(path).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    // SAFETY: `p` is NUL-terminated and outlives the call.
    if unsafe { libc::umount2(p.as_ptr(), libc::MNT_DETACH) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Makes `fds` appear in the child as descriptors 3, 4, ... without close-on-exec, the way a
/// caller passes descriptors for `--preserve-fds` or socket activation.
pub fn pass_fds(cmd: &mut Command, fds: Vec<OwnedFd>) {
    let raw: Vec<RawFd> = fds.iter().map(AsRawFd::as_raw_fd).collect();
    // SAFETY: the closure runs between fork and exec and only calls dup/dup2/fcntl, which are
    // async-signal-safe. The descriptors stay open in the parent because `fds` is moved into
    // the closure, which lives as long as `cmd`.
    unsafe {
        cmd.pre_exec(move || {
            let _keep = &fds;
            // First move every source above the target range so a dup2 never overwrites a
            // source that is still to be copied.
            let mut high = Vec::with_capacity(raw.len());
            for &fd in &raw {
                let h = libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 100);
                if h < 0 {
                    return Err(io::Error::last_os_error());
                }
                high.push(h);
            }
            for (i, &h) in high.iter().enumerate() {
                if libc::dup2(h, 3 + i as RawFd) < 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}

/// Receives one descriptor sent with SCM_RIGHTS (a runtime's `--console-socket` protocol).
pub fn recv_fd(sock: &UnixStream) -> io::Result<OwnedFd> {
    Ok(recv_fd_with_data(sock)?.1)
}

/// Receives one descriptor sent with SCM_RIGHTS and the bytes that came with it.
pub fn recv_fd_with_data(sock: &UnixStream) -> io::Result<(Vec<u8>, OwnedFd)> {
    let mut data = [0u8; 4096];
    let mut iov = libc::iovec { iov_base: data.as_mut_ptr().cast(), iov_len: data.len() };
    // Room for one control message carrying one int, kept aligned for cmsghdr.
    let mut control = [0u64; 8];
    // SAFETY: msghdr is plain data; all-zero is valid and every used field is set below.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control);
    // SAFETY: `msg` points at `iov` and `control`, both alive and writable for the call.
    let n = unsafe { libc::recvmsg(sock.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: CMSG_FIRSTHDR reads the header fields the kernel just filled in.
    let cmsg = unsafe { libc::CMSG_FIRSTHDR(&msg) };
    let is_rights = !cmsg.is_null()
        // SAFETY: a non-null cmsg points into `control`, which is still alive.
        && unsafe { (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS };
    if !is_rights {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "message carried no SCM_RIGHTS descriptor"));
    }
    // SAFETY: an SCM_RIGHTS message holds at least one int after its header, possibly unaligned.
    let fd: RawFd = unsafe { std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast()) };
    // SAFETY: the kernel installed `fd` in this process for us; nothing else owns it.
    Ok((data[..n as usize].to_vec(), unsafe { OwnedFd::from_raw_fd(fd) }))
}

/// A pipe whose ends are both close-on-exec (so only `pass_fds` hands them on).
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 just created both descriptors and nothing else owns them.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Sends `sig` to `pid`.
pub fn kill(pid: i32, sig: i32) -> io::Result<()> {
    // SAFETY: kill takes two integers and touches no memory.
    if unsafe { libc::kill(pid, sig) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Sets the window size of a terminal.
pub fn set_winsize(fd: &OwnedFd, rows: u16, cols: u16) -> io::Result<()> {
    let ws = libc::winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: TIOCSWINSZ reads one winsize from the valid `ws`.
    if unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &ws) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
