//! `NOTIFY_SOCKET` (sd_notify(3)) for a container, as crun relays it: when the caller (a
//! systemd unit, podman `--sdnotify=container`) gives the runtime a notify socket, the
//! container gets one of its own, and `start` forwards its `READY=1` to the caller's.
//!
//! ```text
//!  create: <state>/notify/ ──bind──▶ $NOTIFY_SOCKET/ (the host socket's path, as a directory)
//!          container env NOTIFY_SOCKET=$NOTIFY_SOCKET/notify
//!  start:  bind <state>/notify/notify, release the init
//!          wait for READY=1 (or the init's exit) ──▶ "READY=1" + BARRIER=1 to the host socket
//! ```
//!
//! The paths are crun's (1.8 here, and its current tests): a program that knows the host's
//! socket path finds the container's below it. An abstract or relative host socket has no
//! such path; its directory is mounted at `/run/notify`.
//!
//! The socket is bound by `start`, the process that waits for it (crun does the same); until
//! then nothing listens. `start` returns when the container is ready or has exited: a
//! container that never sends READY=1 keeps `start` waiting for as long as it runs, which is
//! what a `Type=notify` unit asks for (systemd's start timeout ends it).

use std::os::fd::AsFd;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::spec::{Mount, Spec};
use crate::sys::{fd, process as p, SysError};

/// The directory in the state directory that holds the container's socket.
pub(crate) const STATE_DIR: &str = "notify";
/// Where that directory appears in the container when the host socket has no absolute path.
const FALLBACK_DIR: &str = "/run/notify";
/// The socket's name in it.
const SOCKET: &str = "notify";
/// How long the caller gets to take the READY=1 in (sd_notify_barrier's usual bound).
const BARRIER_MS: i32 = 5000;

/// Whether the container's init can reach `state_dir/notify` to mount it: with a user
/// namespace its root must be the owner of the (0700) state directories, as in a rootless
/// container; a host root that maps the container to other ids cannot (the mount source would
/// have to be handed over as an fd, which the mount step does not do yet).
pub(crate) fn check_reachable(spec: &Spec, owner: u32) -> Result<()> {
    let Some(l) = spec.linux.as_ref() else { return Ok(()) };
    if !l.namespaces.iter().any(|n| n.typ == "user") {
        return Ok(());
    }
    let root = l.uid_mappings.iter().find(|m| m.container_id == 0).map(|m| m.host_id);
    if root == Some(owner) {
        return Ok(());
    }
    Err(crate::error::Error::Unsupported {
        what: "NOTIFY_SOCKET with a user namespace".into(),
        reason: format!(
            "the container's root (host uid {}) cannot reach the runtime's state directory to mount its notify socket; unset NOTIFY_SOCKET or map the container's root to uid {owner}",
            root.map_or("unmapped".to_string(), |r| r.to_string())
        ),
    })
}

/// At create: give the container `NOTIFY_SOCKET` and mount `state_dir/notify` where it points
/// (at the host socket's path, see the module doc).
pub(crate) fn prepare(spec: &mut Spec, state_dir: &Path, host: &Path) {
    let dir = match host.to_str() {
        Some(h) if h.starts_with('/') && h.len() > 1 => h.trim_end_matches('/').to_string(),
        _ => FALLBACK_DIR.to_string(),
    };
    spec.mounts.push(Mount {
        destination: dir.clone(),
        typ: Some("bind".into()),
        source: Some(state_dir.join(STATE_DIR).to_string_lossy().into_owned()),
        options: vec!["bind".into(), "nosuid".into(), "nodev".into(), "noexec".into()],
        ..Default::default()
    });
    if let Some(p) = spec.process.as_mut() {
        p.env.retain(|e| !e.starts_with("NOTIFY_SOCKET="));
        p.env.push(format!("NOTIFY_SOCKET={dir}/{SOCKET}"));
    }
}

/// At create, in the published state directory: the directory the mount shows.
pub(crate) fn make_dir(state_dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    let dir = state_dir.join(STATE_DIR);
    // 0755: a non-root container process must reach the socket.
    std::fs::DirBuilder::new().mode(0o755).create(&dir).map_err(|e| SysError::io("mkdir", &dir, &e))?;
    Ok(())
}

/// At start, before the init is released: bind the container's socket.
pub(crate) fn listen(state_dir: &Path) -> Result<UnixDatagram> {
    use std::os::unix::fs::PermissionsExt;
    let path = state_dir.join(STATE_DIR).join(SOCKET);
    let _ = std::fs::remove_file(&path);
    let sock = UnixDatagram::bind(&path).map_err(|e| SysError::io("bind", &path, &e))?;
    // Any user of the container may notify; the state directory keeps the host's users out.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777))
        .map_err(|e| SysError::io("chmod", &path, &e))?;
    Ok(sock)
}

/// After start: wait until the container sends READY=1 and forward it to `host`, or until
/// the init (`pid`) exits, whichever comes first. Other messages (STATUS=, ...) are not
/// forwarded, as with crun.
pub(crate) fn relay_ready(sock: &UnixDatagram, pid: i32, host: &Path) -> Result<()> {
    let pidfd = p::pidfd_open(pid)?;
    let mut buf = [0u8; 4096];
    loop {
        let ready = fd::poll_readable(&[sock.as_fd(), pidfd.as_fd()], -1)?;
        if ready.first() == Some(&true) {
            let n = match sock.recv(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(SysError::io("recv", &PathBuf::from(SOCKET), &e).into()),
            };
            if is_ready(&buf[..n]) {
                return forward_ready(host);
            }
        } else if ready.get(1) == Some(&true) {
            // Exited without READY=1: nothing to forward.
            return Ok(());
        }
    }
}

/// Whether a notification datagram holds the line `READY=1`.
fn is_ready(msg: &[u8]) -> bool {
    msg.split(|&b| b == b'\n').any(|l| l == b"READY=1")
}

/// Send READY=1 to the caller's socket, then a barrier (sd_notify_barrier(3)): the caller
/// has read the message once it closes the pipe end we pass, so it can still tell that the
/// message came from us (systemd attributes it by the sender's cgroup).
fn forward_ready(host: &Path) -> Result<()> {
    let sock = connect(host)?;
    sock.send(b"READY=1").map_err(|e| SysError::io("send", host, &e))?;
    let (r, w) = fd::pipe()?;
    fd::send_with_fd(sock.as_fd(), b"BARRIER=1", Some(w.as_fd())).map_err(|e| e.at(host))?;
    drop(w);
    // EOF (or the deadline) ends the wait; a reader that never looks costs BARRIER_MS.
    let _ = fd::poll_readable(&[r.as_fd()], BARRIER_MS);
    Ok(())
}

/// A datagram socket connected to `path`; a leading `@` names an abstract socket.
fn connect(path: &Path) -> Result<UnixDatagram> {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::ffi::OsStrExt;
    let sock = UnixDatagram::unbound().map_err(|e| SysError::io("socket", path, &e))?;
    let bytes = path.as_os_str().as_bytes();
    let r = match bytes.strip_prefix(b"@") {
        Some(name) => std::os::unix::net::SocketAddr::from_abstract_name(name).and_then(|a| sock.connect_addr(&a)),
        None => sock.connect(path),
    };
    r.map_err(|e| SysError::io("connect", path, &e))?;
    Ok(sock)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_is_a_whole_line() {
        assert!(is_ready(b"READY=1"));
        assert!(is_ready(b"STATUS=up\nREADY=1\n"));
        assert!(!is_ready(b"READY=10"));
        assert!(!is_ready(b"STATUS=READY=1"));
    }

    #[test]
    fn prepare_points_the_container_at_its_mounted_socket() {
        let mut spec = crate::spec::default::spec(false);
        if let Some(p) = spec.process.as_mut() {
            p.env.push("NOTIFY_SOCKET=/host/path".into());
        }
        prepare(&mut spec, Path::new("/run/ocirun/c1"), Path::new("/run/systemd/notify"));
        let env = |s: &Spec| {
            let env = s.process.as_ref().map(|p| p.env.clone()).unwrap_or_default();
            env.into_iter().filter(|e| e.starts_with("NOTIFY_SOCKET=")).collect::<Vec<_>>()
        };
        assert_eq!(env(&spec), ["NOTIFY_SOCKET=/run/systemd/notify/notify"]);
        let m = spec.mounts.last().expect("a mount");
        assert_eq!(
            (m.destination.as_str(), m.source.as_deref()),
            ("/run/systemd/notify", Some("/run/ocirun/c1/notify"))
        );
        let mut spec = crate::spec::default::spec(false);
        prepare(&mut spec, Path::new("/s/c2"), Path::new("@abstract"));
        assert_eq!(env(&spec), ["NOTIFY_SOCKET=/run/notify/notify"]);
    }
}
