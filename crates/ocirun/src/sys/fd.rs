//! File descriptors: socket pairs, fd passing (SCM_RIGHTS), close_range, dup2 and the
//! terminal calls (pty allocation, controlling terminal, window size, raw mode).

use std::io::IoSlice;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use super::{SysError, SysResult};

/// A connected `AF_UNIX` `SOCK_SEQPACKET` pair, close-on-exec.
pub fn seqpacket_pair() -> SysResult<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: valid out array of two ints.
    if unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0, fds.as_mut_ptr()) } == -1
    {
        return Err(SysError::last("socketpair"));
    }
    // SAFETY: both fds are fresh and owned by us.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// A close-on-exec pipe: (read end, write end).
pub fn pipe() -> SysResult<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: valid out array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } == -1 {
        return Err(SysError::last("pipe2"));
    }
    // SAFETY: fresh fds.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Send `data` and optionally one fd over a unix socket.
pub fn send_with_fd(sock: BorrowedFd<'_>, data: &[u8], fd: Option<BorrowedFd<'_>>) -> SysResult<()> {
    let iov = [IoSlice::new(data)];
    let mut cmsg_buf = [0u64; 8];
    // SAFETY: msghdr is plain data; zeroed is a valid empty header.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = iov.as_ptr() as *mut libc::iovec;
    msg.msg_iovlen = 1;
    if let Some(fd) = fd {
        // SAFETY: CMSG_SPACE is a pure computation.
        let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) } as usize;
        msg.msg_control = cmsg_buf.as_mut_ptr().cast();
        msg.msg_controllen = space;
        // SAFETY: msg_control points at a buffer of at least `space` bytes, aligned for cmsghdr.
        unsafe {
            let c = libc::CMSG_FIRSTHDR(&msg);
            (*c).cmsg_level = libc::SOL_SOCKET;
            (*c).cmsg_type = libc::SCM_RIGHTS;
            (*c).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as usize;
            std::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<RawFd>(), fd.as_raw_fd());
        }
    }
    loop {
        // SAFETY: msg describes valid buffers alive across the call.
        let r = unsafe { libc::sendmsg(sock.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) };
        if r == -1 {
            if super::last_errno() == libc::EINTR {
                continue;
            }
            return Err(SysError::last("sendmsg"));
        }
        return Ok(());
    }
}

/// Receive one message (up to `buf.len()` bytes) and an fd if one was sent.
/// Returns the byte count (0 at end of stream).
pub fn recv_with_fd(sock: BorrowedFd<'_>, buf: &mut [u8]) -> SysResult<(usize, Option<OwnedFd>)> {
    let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
    let mut cmsg_buf = [0u64; 8];
    // SAFETY: plain data.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cmsg_buf.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&cmsg_buf);
    let n = loop {
        // SAFETY: msg describes valid buffers.
        let r = unsafe { libc::recvmsg(sock.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
        if r == -1 {
            if super::last_errno() == libc::EINTR {
                continue;
            }
            return Err(SysError::last("recvmsg"));
        }
        break r as usize;
    };
    let mut fd = None;
    // SAFETY: walking the control buffer the kernel filled, with the libc macros.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                let raw = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<RawFd>());
                fd = Some(OwnedFd::from_raw_fd(raw));
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    Ok((n, fd))
}

/// Connect a new `SOCK_STREAM` unix socket to `path`.
pub fn unix_connect(path: &std::path::Path) -> SysResult<OwnedFd> {
    use std::os::unix::net::UnixStream;
    let s = UnixStream::connect(path).map_err(|e| SysError::io("connect", path, &e))?;
    Ok(OwnedFd::from(s))
}

/// The access mode of an open file (`O_RDONLY`, `O_WRONLY` or `O_RDWR`), from `F_GETFL`.
pub fn access_mode(fd: BorrowedFd<'_>) -> SysResult<i32> {
    // SAFETY: F_GETFL takes no argument.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    if flags == -1 {
        return Err(SysError::last("fcntl(F_GETFL)"));
    }
    Ok(flags & libc::O_ACCMODE)
}
/// `dup2(2)`: make `newfd` a copy of `fd` (without close-on-exec).
pub fn dup2(fd: BorrowedFd<'_>, newfd: RawFd) -> SysResult<()> {
    // SAFETY: plain syscall; newfd is an fd number the caller intends to replace.
    if unsafe { libc::dup2(fd.as_raw_fd(), newfd) } == -1 {
        return Err(SysError::last("dup2"));
    }
    Ok(())
}

/// Mark every fd from `first` upwards close-on-exec (`close_range(2)` with CLOSE_RANGE_CLOEXEC).
pub fn cloexec_from(first: u32) -> SysResult<()> {
    const CLOSE_RANGE_CLOEXEC: u32 = 1 << 2;
    // SAFETY: plain syscall on an fd range.
    if unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, CLOSE_RANGE_CLOEXEC) } == -1 {
        return Err(SysError::last("close_range"));
    }
    Ok(())
}

/// Which of the `count` fd numbers from `first` are open in this process (fcntl(F_GETFD) on
/// each: it opens nothing, so the answer is not disturbed by the check itself).
pub fn open_fds(first: RawFd, count: u32) -> Vec<RawFd> {
    let last = first.saturating_add(count.min(i32::MAX as u32) as i32);
    // SAFETY: fcntl(F_GETFD) only queries the fd number; EBADF means it is not open.
    (first..last).filter(|&fd| unsafe { libc::fcntl(fd, libc::F_GETFD) } != -1).collect()
}

/// Clear close-on-exec on a raw fd number the process holds (preserved fds).
pub fn clear_cloexec(fd: RawFd) -> SysResult<()> {
    // SAFETY: fcntl on an fd number; EBADF is reported if it is not open.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, 0) } == -1 {
        return Err(SysError::last("fcntl(F_SETFD)"));
    }
    Ok(())
}

/// Borrow standard fd `n` (0, 1 or 2) of this process, for calls like fstat and fchown on it.
pub(crate) fn borrow_stdio(n: RawFd) -> BorrowedFd<'static> {
    assert!((0..3).contains(&n), "borrow_stdio is for fds 0, 1 and 2");
    // SAFETY: fds 0-2 are never closed by the library: they stay open (or are replaced by
    // dup2, which keeps the number valid) for the life of the process; a closed one only
    // makes the call on it fail with EBADF.
    unsafe { BorrowedFd::borrow_raw(n) }
}

/// Write all of `data` to `fd`.
pub fn write_all(fd: BorrowedFd<'_>, mut data: &[u8]) -> SysResult<()> {
    while !data.is_empty() {
        // SAFETY: valid fd and buffer.
        let r = unsafe { libc::write(fd.as_raw_fd(), data.as_ptr().cast(), data.len()) };
        if r == -1 {
            if super::last_errno() == libc::EINTR {
                continue;
            }
            return Err(SysError::last("write"));
        }
        data = &data[r as usize..];
    }
    Ok(())
}

/// `read(2)` once, retrying on EINTR.
pub fn read(fd: BorrowedFd<'_>, buf: &mut [u8]) -> SysResult<usize> {
    loop {
        // SAFETY: valid fd and buffer.
        let r = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if r == -1 {
            if super::last_errno() == libc::EINTR {
                continue;
            }
            return Err(SysError::last("read"));
        }
        return Ok(r as usize);
    }
}

/// `poll(2)` on fds for readability; returns which are readable (or hung up).
pub fn poll_readable(fds: &[BorrowedFd<'_>], timeout_ms: i32) -> SysResult<Vec<bool>> {
    let mut p: Vec<libc::pollfd> =
        fds.iter().map(|f| libc::pollfd { fd: f.as_raw_fd(), events: libc::POLLIN, revents: 0 }).collect();
    loop {
        // SAFETY: valid array of pollfd.
        let r = unsafe { libc::poll(p.as_mut_ptr(), p.len() as libc::nfds_t, timeout_ms) };
        if r == -1 {
            if super::last_errno() == libc::EINTR {
                continue;
            }
            return Err(SysError::last("poll"));
        }
        return Ok(p.iter().map(|x| x.revents != 0).collect());
    }
}

/// Open a new pty master from `ptmx` and return (master, slave).
pub fn open_pty(ptmx: &std::path::Path) -> SysResult<(OwnedFd, OwnedFd)> {
    let master = super::mount::openat(None, ptmx, libc::O_RDWR | libc::O_NOCTTY, 0)?;
    let mut unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK takes a pointer to int.
    if unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &mut unlock) } == -1 {
        return Err(SysError::last("ioctl(TIOCSPTLCK)"));
    }
    // TIOCGPTPEER opens the slave through the master, without a path lookup in /dev/pts.
    // SAFETY: TIOCGPTPEER takes open flags and returns a new fd.
    let s =
        unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTPEER, libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC) };
    if s == -1 {
        return Err(SysError::last("ioctl(TIOCGPTPEER)"));
    }
    // SAFETY: fresh fd.
    Ok((master, unsafe { OwnedFd::from_raw_fd(s) }))
}

/// The pts number of a pty master.
pub fn pty_number(master: BorrowedFd<'_>) -> SysResult<u32> {
    let mut n: libc::c_uint = 0;
    // SAFETY: TIOCGPTN writes an unsigned int.
    if unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTN, &mut n) } == -1 {
        return Err(SysError::last("ioctl(TIOCGPTN)"));
    }
    Ok(n)
}

/// Make `fd` the controlling terminal of the calling session leader.
pub fn set_controlling_tty(fd: BorrowedFd<'_>) -> SysResult<()> {
    // SAFETY: TIOCSCTTY takes an int argument.
    if unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSCTTY, 0) } == -1 {
        return Err(SysError::last("ioctl(TIOCSCTTY)"));
    }
    Ok(())
}

/// Set a terminal's window size.
pub fn set_winsize(fd: BorrowedFd<'_>, rows: u16, cols: u16) -> SysResult<()> {
    let ws = libc::winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: TIOCSWINSZ reads a winsize.
    if unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &ws) } == -1 {
        return Err(SysError::last("ioctl(TIOCSWINSZ)"));
    }
    Ok(())
}

/// A terminal's window size, if `fd` is a terminal.
pub fn get_winsize(fd: BorrowedFd<'_>) -> Option<(u16, u16)> {
    // SAFETY: plain data.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ writes a winsize.
    if unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) } == -1 {
        return None;
    }
    Some((ws.ws_row, ws.ws_col))
}

/// Saved terminal attributes, restored by [`restore_termios`].
pub struct Termios(libc::termios);

/// Put the terminal at `fd` in raw mode; returns the previous attributes (None if not a tty).
pub fn make_raw(fd: BorrowedFd<'_>) -> Option<Termios> {
    // SAFETY: plain data.
    let mut t: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: valid fd and out-pointer.
    if unsafe { libc::tcgetattr(fd.as_raw_fd(), &mut t) } == -1 {
        return None;
    }
    let old = Termios(t);
    // SAFETY: cfmakeraw edits the struct in place.
    unsafe {
        libc::cfmakeraw(&mut t);
        libc::tcsetattr(fd.as_raw_fd(), libc::TCSANOW, &t);
    }
    Some(old)
}

/// Restore terminal attributes saved by [`make_raw`].
pub fn restore_termios(fd: BorrowedFd<'_>, t: &Termios) {
    // SAFETY: valid fd and attributes.
    unsafe { libc::tcsetattr(fd.as_raw_fd(), libc::TCSANOW, &t.0) };
}

/// `flock(2)` exclusive, blocking.
pub fn flock_exclusive(fd: BorrowedFd<'_>) -> SysResult<()> {
    loop {
        // SAFETY: plain syscall.
        if unsafe { libc::flock(fd.as_raw_fd(), libc::LOCK_EX) } == -1 {
            if super::last_errno() == libc::EINTR {
                continue;
            }
            return Err(SysError::last("flock"));
        }
        return Ok(());
    }
}

/// Close every fd of the process except those in `keep` (close_range over the gaps).
pub fn close_all_except(keep: &[RawFd]) -> SysResult<()> {
    let mut k: Vec<u32> = keep.iter().filter(|&&f| f >= 0).map(|&f| f as u32).collect();
    k.sort_unstable();
    k.dedup();
    let mut next = 0u32;
    for &f in k.iter().chain(std::iter::once(&u32::MAX)) {
        if f > next {
            // SAFETY: closing fd numbers the caller asked to drop; nothing in this process
            // refers to them afterwards (the child owns its fds as a copy of the parent's).
            if unsafe { libc::syscall(libc::SYS_close_range, next, f - 1, 0) } == -1 {
                return Err(SysError::last("close_range"));
            }
        }
        if f == u32::MAX {
            break;
        }
        next = f + 1;
    }
    Ok(())
}

/// A connected `AF_UNIX` `SOCK_STREAM` pair, close-on-exec.
pub fn stream_pair() -> SysResult<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: valid out array of two ints.
    if unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0, fds.as_mut_ptr()) } == -1 {
        return Err(SysError::last("socketpair"));
    }
    // SAFETY: both fds are fresh and owned by us.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Send what fits without blocking and without SIGPIPE; `Ok(0)` when the socket is full.
pub fn send_nonblocking(sock: BorrowedFd<'_>, data: &[u8]) -> SysResult<usize> {
    if data.is_empty() {
        return Ok(0);
    }
    // SAFETY: valid fd and buffer.
    let r = unsafe {
        libc::send(sock.as_raw_fd(), data.as_ptr().cast(), data.len(), libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL)
    };
    if r == -1 {
        let e = super::last_errno();
        if e == libc::EAGAIN || e == libc::EINTR {
            return Ok(0);
        }
        return Err(SysError::new("send", e));
    }
    Ok(r as usize)
}

/// Receive what is there without blocking; `Ok(0)` when nothing is (or at end of stream).
pub fn recv_nonblocking(sock: BorrowedFd<'_>, buf: &mut [u8]) -> SysResult<usize> {
    // SAFETY: valid fd and buffer.
    let r = unsafe { libc::recv(sock.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) };
    if r == -1 {
        let e = super::last_errno();
        if e == libc::EAGAIN || e == libc::EINTR {
            return Ok(0);
        }
        return Err(SysError::new("recv", e));
    }
    Ok(r as usize)
}
