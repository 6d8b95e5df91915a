//! `linux.netDevices`: move host network interfaces into the container's network namespace
//! and back, with rtnetlink (rtnetlink(7)) messages built here and sent by `sys::netlink`.
//!
//! The runtime side does the work, not the init: moving a device out of the runtime's network
//! namespace needs `CAP_NET_ADMIN` over *that* namespace, which an init inside a user namespace
//! never has. Steps, for each device:
//!
//! 1. look every device up by name in the runtime namespace (a missing one fails before any
//!    device moved) and make sure no interface of the target name exists in the container;
//! 2. read its permanent addresses of global scope (moving a device drops its addresses);
//! 3. move it with one `RTM_SETLINK` carrying `IFLA_NET_NS_FD` and `IFLA_IFNAME`, so the move
//!    and the rename happen together (MTU and MAC go with the device);
//! 4. in the container namespace, set it up and add the addresses again.
//!
//! [`move_out`] does the reverse before the namespace goes away (a virtual device would be
//! destroyed with it): down, back under its original name, addresses again. The container's
//! namespace is kept alive between create and delete by a bind mount of its nsfs file in the
//! container's state directory ([`pin`]), since no ocirun process lives that long.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use crate::spec::Linux;
use crate::sys::{mount as m, netlink as nl, process as p, SysError};

/// A failure to move a network device, naming the device and what to do.
#[derive(Debug, thiserror::Error)]
pub enum NetDevError {
    /// The device is not in the runtime's network namespace.
    #[error("linux.netDevices: no network device `{name}` in the runtime's network namespace: create it first or fix the name")]
    Missing {
        /// Host name of the device.
        name: String,
    },
    /// An interface of the target name exists in the container's network namespace already.
    #[error("linux.netDevices.{host}: the container's network namespace already has an interface named `{name}`: choose another `name`")]
    NameClash {
        /// Host name of the device.
        host: String,
        /// Name it should get in the container.
        name: String,
    },
    /// A netlink request failed.
    #[error("linux.netDevices.{device}: {op}: {source}")]
    Netlink {
        /// Device (host name) being handled.
        device: String,
        /// What was asked of the kernel.
        op: &'static str,
        /// The kernel's answer.
        #[source]
        source: SysError,
    },
    /// Opening or pinning the namespace, or a socket in it, failed.
    #[error("linux.netDevices: {0}")]
    Namespace(#[source] SysError),
}

impl NetDevError {
    /// The stable kind of this failure.
    pub fn kind(&self) -> crate::error::ErrorKind {
        use crate::error::ErrorKind;
        match self {
            NetDevError::Missing { .. } | NetDevError::NameClash { .. } => ErrorKind::InvalidSpec,
            NetDevError::Netlink { source, .. } | NetDevError::Namespace(source) => source.kind(),
        }
    }
}

type Result<T> = std::result::Result<T, NetDevError>;

// rtnetlink constants (linux/rtnetlink.h, linux/if_link.h, linux/if_addr.h).
const NLMSG_HDRLEN: usize = 16;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_DUMP: u16 = 0x300;
const NLM_F_CREATE: u16 = 0x400;
const NLM_F_REPLACE: u16 = 0x100;
const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
const RTM_SETLINK: u16 = 19;
const RTM_NEWADDR: u16 = 20;
const RTM_GETADDR: u16 = 22;
const IFLA_IFNAME: u16 = 3;
const IFLA_NET_NS_FD: u16 = 28;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_BROADCAST: u16 = 4;
const IFA_FLAGS: u16 = 8;
const IFA_F_PERMANENT: u32 = 0x80;
const RT_SCOPE_UNIVERSE: u8 = 0;
const IFF_UP: u32 = 0x1;
const IFINFOMSG_LEN: usize = 16;
const IFADDRMSG_LEN: usize = 8;

/// One interface address, as read from and given back to the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// `AF_INET` or `AF_INET6`.
    pub family: u8,
    /// Prefix length.
    pub prefix_len: u8,
    /// Scope (`RT_SCOPE_*`).
    pub scope: u8,
    /// `IFA_F_*` flags.
    pub flags: u32,
    /// `IFA_LOCAL`, `IFA_ADDRESS`, `IFA_BROADCAST` payloads.
    attrs: Vec<(u16, Vec<u8>)>,
}

/// A netlink message under construction: header, fixed part, attributes.
struct Msg(Vec<u8>);

impl Msg {
    fn new(typ: u16, flags: u16, fixed: &[u8]) -> Msg {
        let mut b = vec![0u8; NLMSG_HDRLEN];
        b[4..6].copy_from_slice(&typ.to_ne_bytes());
        b[6..8].copy_from_slice(&(flags | NLM_F_REQUEST).to_ne_bytes());
        b.extend_from_slice(fixed);
        pad(&mut b);
        Msg(b)
    }

    fn attr(mut self, typ: u16, data: &[u8]) -> Msg {
        let len = 4 + data.len();
        self.0.extend_from_slice(&(len as u16).to_ne_bytes());
        self.0.extend_from_slice(&typ.to_ne_bytes());
        self.0.extend_from_slice(data);
        pad(&mut self.0);
        self
    }

    fn finish(mut self, seq: u32) -> Vec<u8> {
        let len = self.0.len() as u32;
        self.0[0..4].copy_from_slice(&len.to_ne_bytes());
        self.0[8..12].copy_from_slice(&seq.to_ne_bytes());
        self.0
    }
}

fn pad(b: &mut Vec<u8>) {
    while b.len() % 4 != 0 {
        b.push(0);
    }
}

fn ifinfomsg(index: i32, flags: u32, change: u32) -> [u8; IFINFOMSG_LEN] {
    let mut b = [0u8; IFINFOMSG_LEN];
    // family AF_UNSPEC, pad, type 0.
    b[4..8].copy_from_slice(&index.to_ne_bytes());
    b[8..12].copy_from_slice(&flags.to_ne_bytes());
    b[12..16].copy_from_slice(&change.to_ne_bytes());
    b
}

fn cstring_attr(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The netlink messages in one datagram: (type, payload after the header).
fn messages(buf: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    let mut at = 0;
    while let (Some(len), Some(typ)) = (u32_at(buf, at), u16_at(buf, at + 4)) {
        let len = len as usize;
        if len < NLMSG_HDRLEN || at + len > buf.len() {
            break;
        }
        out.push((typ, &buf[at + NLMSG_HDRLEN..at + len]));
        at += (len + 3) & !3;
    }
    out
}

/// Attributes after a fixed part of `skip` bytes: (type, payload).
fn attributes(payload: &[u8], skip: usize) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    let mut at = skip;
    while let (Some(len), Some(typ)) = (u16_at(payload, at), u16_at(payload, at + 2)) {
        let len = len as usize;
        if len < 4 || at + len > payload.len() {
            break;
        }
        out.push((typ & 0x3fff, &payload[at + 4..at + len]));
        at += (len + 3) & !3;
    }
    out
}

/// A route netlink socket in one network namespace.
pub struct Netlink {
    sock: OwnedFd,
    seq: u32,
}

impl Netlink {
    /// A socket in the calling thread's network namespace.
    pub fn open() -> std::result::Result<Netlink, SysError> {
        Ok(Netlink { sock: nl::route_socket()?, seq: 1 })
    }

    /// A socket in the network namespace `netns`. A short-lived thread joins the namespace and
    /// makes the socket there, so the caller's own namespace never changes.
    pub fn open_in(netns: BorrowedFd<'_>) -> std::result::Result<Netlink, SysError> {
        let ns = netns.try_clone_to_owned().map_err(|e| SysError::io("dup", Path::new("netns"), &e))?;
        let sock = std::thread::spawn(move || {
            p::setns(ns.as_fd(), libc::CLONE_NEWNET)?;
            nl::route_socket()
        })
        .join()
        .map_err(|_| SysError::new("netlink socket thread", libc::EIO))??;
        Ok(Netlink { sock, seq: 1 })
    }

    fn send(&mut self, msg: Msg) -> std::result::Result<u32, SysError> {
        self.seq = self.seq.wrapping_add(1);
        nl::send(self.sock.as_fd(), &msg.finish(self.seq))?;
        Ok(self.seq)
    }

    /// Send a request and wait for its acknowledgement.
    fn request(&mut self, op: &'static str, msg: Msg) -> std::result::Result<(), SysError> {
        let seq = self.send(msg)?;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = nl::recv(self.sock.as_fd(), &mut buf)?;
            for (typ, payload) in messages(&buf[..n]) {
                if typ == NLMSG_ERROR {
                    let errno = u32_at(payload, 0).map_or(libc::EIO, |e| -(e as i32));
                    // The echoed request header carries our sequence number.
                    if u32_at(payload, 4 + 8) != Some(seq) {
                        continue;
                    }
                    return if errno == 0 { Ok(()) } else { Err(SysError::new(op, errno)) };
                }
            }
        }
    }

    /// Send a dump request and collect the payloads of messages of type `want`.
    fn dump(&mut self, op: &'static str, msg: Msg, want: u16) -> std::result::Result<Vec<Vec<u8>>, SysError> {
        let seq = self.send(msg)?;
        let mut buf = vec![0u8; 64 * 1024];
        let mut out = Vec::new();
        loop {
            let n = nl::recv(self.sock.as_fd(), &mut buf)?;
            for (typ, payload) in messages(&buf[..n]) {
                match typ {
                    NLMSG_DONE => return Ok(out),
                    NLMSG_ERROR => {
                        let errno = u32_at(payload, 0).map_or(libc::EIO, |e| -(e as i32));
                        if errno != 0 {
                            return Err(SysError::new(op, errno));
                        }
                    }
                    t if t == want => out.push(payload.to_vec()),
                    _ => {}
                }
            }
            let _ = seq;
        }
    }

    /// The index of the interface called `name`, or `None` when there is none.
    pub fn link_index(&mut self, name: &str) -> std::result::Result<Option<i32>, SysError> {
        let msg = Msg::new(RTM_GETLINK, 0, &ifinfomsg(0, 0, 0)).attr(IFLA_IFNAME, &cstring_attr(name));
        let seq = self.send(msg)?;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = nl::recv(self.sock.as_fd(), &mut buf)?;
            for (typ, payload) in messages(&buf[..n]) {
                match typ {
                    RTM_NEWLINK => return Ok(u32_at(payload, 4).map(|i| i as i32)),
                    NLMSG_ERROR => {
                        let errno = u32_at(payload, 0).map_or(libc::EIO, |e| -(e as i32));
                        return match errno {
                            libc::ENODEV => Ok(None),
                            0 => continue,
                            e => Err(SysError::new("RTM_GETLINK", e)),
                        };
                    }
                    _ => {}
                }
            }
            let _ = seq;
        }
    }

    /// Permanent addresses of global scope on interface `index`: the ones to carry over.
    pub fn addresses(&mut self, index: i32) -> std::result::Result<Vec<Address>, SysError> {
        let msg = Msg::new(RTM_GETADDR, NLM_F_DUMP, &[0u8; IFADDRMSG_LEN]);
        let mut out = Vec::new();
        for payload in self.dump("RTM_GETADDR", msg, RTM_NEWADDR)? {
            let (Some(&family), Some(&prefix_len), Some(&flags8), Some(&scope), Some(idx)) =
                (payload.first(), payload.get(1), payload.get(2), payload.get(3), u32_at(&payload, 4))
            else {
                continue;
            };
            if idx as i32 != index {
                continue;
            }
            let mut flags = flags8 as u32;
            let mut attrs = Vec::new();
            for (typ, data) in attributes(&payload, IFADDRMSG_LEN) {
                match typ {
                    IFA_FLAGS => flags = u32_at(data, 0).unwrap_or(flags),
                    IFA_ADDRESS | IFA_LOCAL | IFA_BROADCAST => attrs.push((typ, data.to_vec())),
                    _ => {}
                }
            }
            if scope == RT_SCOPE_UNIVERSE && flags & IFA_F_PERMANENT != 0 {
                out.push(Address { family, prefix_len, scope, flags, attrs });
            }
        }
        Ok(out)
    }

    /// Move interface `index` into the namespace `netns`, named `name` there.
    pub fn move_to(&mut self, index: i32, netns: BorrowedFd<'_>, name: &str) -> std::result::Result<(), SysError> {
        let fd = std::os::fd::AsRawFd::as_raw_fd(&netns) as u32;
        let msg = Msg::new(RTM_SETLINK, NLM_F_ACK, &ifinfomsg(index, 0, 0))
            .attr(IFLA_NET_NS_FD, &fd.to_ne_bytes())
            .attr(IFLA_IFNAME, &cstring_attr(name));
        self.request("RTM_SETLINK IFLA_NET_NS_FD", msg)
    }

    /// Set interface `index` up or down.
    pub fn set_up(&mut self, index: i32, up: bool) -> std::result::Result<(), SysError> {
        let msg = Msg::new(RTM_SETLINK, NLM_F_ACK, &ifinfomsg(index, if up { IFF_UP } else { 0 }, IFF_UP));
        self.request(if up { "set link up" } else { "set link down" }, msg)
    }

    /// Add `addr` to interface `index` (replacing an equal one).
    pub fn add_address(&mut self, index: i32, addr: &Address) -> std::result::Result<(), SysError> {
        let mut fixed = [0u8; IFADDRMSG_LEN];
        fixed[0] = addr.family;
        fixed[1] = addr.prefix_len;
        fixed[2] = addr.flags as u8;
        fixed[3] = addr.scope;
        fixed[4..8].copy_from_slice(&(index as u32).to_ne_bytes());
        let mut msg = Msg::new(RTM_NEWADDR, NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE, &fixed);
        for (typ, data) in &addr.attrs {
            msg = msg.attr(*typ, data);
        }
        msg = msg.attr(IFA_FLAGS, &addr.flags.to_ne_bytes());
        self.request("RTM_NEWADDR", msg)
    }
}

/// A device to move: its name on the host and in the container.
struct Device<'a> {
    host: &'a str,
    inside: &'a str,
}

fn devices(l: &Linux) -> Vec<Device<'_>> {
    l.net_devices
        .iter()
        .map(|(host, d)| Device { host: host.as_str(), inside: d.name.as_deref().unwrap_or(host.as_str()) })
        .collect()
}

fn nl_err<'a>(device: &'a str, op: &'static str) -> impl FnOnce(SysError) -> NetDevError + 'a {
    move |source| NetDevError::Netlink { device: device.to_string(), op, source }
}

/// Move every device of `l.netDevices` into `netns` (the container's network namespace).
/// Either all devices move or, on error, those already moved are moved back.
pub fn move_in(l: &Linux, netns: BorrowedFd<'_>) -> Result<()> {
    let devs = devices(l);
    if devs.is_empty() {
        return Ok(());
    }
    let mut host = Netlink::open().map_err(NetDevError::Namespace)?;
    let mut inner = Netlink::open_in(netns).map_err(NetDevError::Namespace)?;
    let mut found = Vec::new();
    for d in &devs {
        let idx = host.link_index(d.host).map_err(nl_err(d.host, "look up"))?;
        let idx = idx.ok_or_else(|| NetDevError::Missing { name: d.host.to_string() })?;
        if inner.link_index(d.inside).map_err(nl_err(d.host, "look up in the container"))?.is_some() {
            return Err(NetDevError::NameClash { host: d.host.to_string(), name: d.inside.to_string() });
        }
        found.push(idx);
    }
    let host_ns = own_netns()?;
    for (i, (d, idx)) in devs.iter().zip(found).enumerate() {
        if let Err(e) = move_one(&mut host, &mut inner, d, idx, netns) {
            // Put back what moved, the failed one included if it got across.
            for back in devs[..=i].iter().rev() {
                let _ = move_back_one(&mut inner, &mut host, back, host_ns.as_fd());
            }
            return Err(e);
        }
    }
    Ok(())
}

fn move_one(host: &mut Netlink, inner: &mut Netlink, d: &Device<'_>, idx: i32, netns: BorrowedFd<'_>) -> Result<()> {
    let addrs = host.addresses(idx).map_err(nl_err(d.host, "read addresses"))?;
    host.move_to(idx, netns, d.inside).map_err(|e| match e.errno {
        libc::EEXIST | libc::ENFILE => NetDevError::NameClash { host: d.host.to_string(), name: d.inside.to_string() },
        _ => nl_err(d.host, "move into the container's network namespace")(e),
    })?;
    // The index is kept unless the namespace already uses it.
    let idx = inner
        .link_index(d.inside)
        .map_err(nl_err(d.host, "look up in the container"))?
        .ok_or_else(|| NetDevError::Missing { name: d.host.to_string() })?;
    inner.set_up(idx, true).map_err(nl_err(d.host, "set up"))?;
    for a in &addrs {
        inner.add_address(idx, a).map_err(nl_err(d.host, "restore an address"))?;
    }
    Ok(())
}

fn move_back_one(inner: &mut Netlink, host: &mut Netlink, d: &Device<'_>, host_ns: BorrowedFd<'_>) -> Result<bool> {
    let Some(idx) = inner.link_index(d.inside).map_err(nl_err(d.host, "look up in the container"))? else {
        return Ok(false);
    };
    let addrs = inner.addresses(idx).map_err(nl_err(d.host, "read addresses"))?;
    // Down first, so it cannot clash with anything while it arrives.
    inner.set_up(idx, false).map_err(nl_err(d.host, "set down"))?;
    inner.move_to(idx, host_ns, d.host).map_err(|e| match e.errno {
        libc::EEXIST => NetDevError::NameClash { host: d.host.to_string(), name: d.host.to_string() },
        _ => nl_err(d.host, "move back to the runtime's network namespace")(e),
    })?;
    if let Some(idx) = host.link_index(d.host).map_err(nl_err(d.host, "look up"))? {
        for a in &addrs {
            host.add_address(idx, a).map_err(nl_err(d.host, "restore an address"))?;
        }
    }
    Ok(true)
}

/// Move every device of `l.netDevices` from `netns` back to the caller's network namespace
/// under its original name. A device no longer in the container is skipped; every device is
/// tried, and the first failure is returned.
pub fn move_out(l: &Linux, netns: BorrowedFd<'_>) -> Result<()> {
    let devs = devices(l);
    if devs.is_empty() {
        return Ok(());
    }
    let mut host = Netlink::open().map_err(NetDevError::Namespace)?;
    let mut inner = Netlink::open_in(netns).map_err(NetDevError::Namespace)?;
    let host_ns = own_netns()?;
    let mut first = None;
    for d in &devs {
        if let Err(e) = move_back_one(&mut inner, &mut host, d, host_ns.as_fd()) {
            first.get_or_insert(e);
        }
    }
    first.map_or(Ok(()), Err)
}

fn own_netns() -> Result<OwnedFd> {
    m::openat(None, Path::new("/proc/thread-self/ns/net"), libc::O_RDONLY | libc::O_CLOEXEC, 0)
        .map_err(NetDevError::Namespace)
}

/// Keep the network namespace of `pid` alive at `pin` (an nsfs bind mount), and return it.
pub fn pin(pid: i32, pin: &Path) -> Result<OwnedFd> {
    let src = format!("/proc/{pid}/ns/net");
    std::fs::write(pin, b"").map_err(|e| NetDevError::Namespace(SysError::io("create", pin, &e)))?;
    m::mount(Some(&src), pin, None, libc::MS_BIND, None).map_err(|e| NetDevError::Namespace(e.at(pin)))?;
    m::openat(None, pin, libc::O_RDONLY | libc::O_CLOEXEC, 0).map_err(NetDevError::Namespace)
}

/// Move the devices back out of the namespace pinned at `pin` and drop the pin. Nothing to do
/// when there is no pin (no devices, or already released).
pub fn release(l: Option<&Linux>, pin: &Path) -> Result<()> {
    let Ok(ns) = m::openat(None, pin, libc::O_RDONLY | libc::O_CLOEXEC, 0) else { return Ok(()) };
    let moved = match l {
        Some(l) if crate::sys::fs_stat::is_nsfs(ns.as_fd()) => move_out(l, ns.as_fd()),
        _ => Ok(()),
    };
    drop(ns);
    let unpinned = m::umount2(pin, libc::MNT_DETACH)
        .or_else(|e| if e.errno == libc::EINVAL { Ok(()) } else { Err(e) })
        .and_then(|()| std::fs::remove_file(pin).map_err(|e| SysError::io("remove", pin, &e)))
        .map_err(NetDevError::Namespace);
    moved.and(unpinned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_layout() {
        let b = Msg::new(RTM_SETLINK, NLM_F_ACK, &ifinfomsg(7, IFF_UP, IFF_UP)).attr(IFLA_IFNAME, b"ab\0").finish(9);
        assert_eq!(b.len(), NLMSG_HDRLEN + IFINFOMSG_LEN + 8);
        assert_eq!(u32_at(&b, 0), Some(b.len() as u32));
        assert_eq!(u16_at(&b, 4), Some(RTM_SETLINK));
        assert_eq!(u16_at(&b, 6), Some(NLM_F_ACK | NLM_F_REQUEST));
        assert_eq!(u32_at(&b, 8), Some(9));
        assert_eq!(u32_at(&b, NLMSG_HDRLEN + 4), Some(7));
        let attrs = attributes(&b[NLMSG_HDRLEN..], IFINFOMSG_LEN);
        assert_eq!(attrs, vec![(IFLA_IFNAME, &b"ab\0"[..])]);
        assert_eq!(messages(&b).len(), 1);
    }

    #[test]
    fn truncated_input_is_ignored() {
        assert!(messages(&[1, 2, 3]).is_empty());
        assert!(attributes(&[0xff, 0xff, 1, 0], 0).is_empty());
    }
}
