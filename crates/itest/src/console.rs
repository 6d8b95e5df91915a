//! The receiving end of `--console-socket`: a unix listener that accepts one connection from
//! the runtime and takes the pty master it sends with SCM_RIGHTS.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::sys;

/// A listening console socket whose master arrives on a background thread.
pub struct ConsoleSocket {
    /// Where the socket lives (pass it to `--console-socket`).
    pub path: PathBuf,
    rx: mpsc::Receiver<io::Result<OwnedFd>>,
}

impl ConsoleSocket {
    /// Binds `path` and starts waiting for the runtime's connection.
    pub fn bind(path: &Path) -> io::Result<ConsoleSocket> {
        let listener = UnixListener::bind(path)?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let got = listener.accept().and_then(|(stream, _)| sys::recv_fd(&stream));
            let _ = tx.send(got);
        });
        Ok(ConsoleSocket { path: path.to_path_buf(), rx })
    }

    /// The pty master, once the runtime has sent it.
    pub fn master(&self, timeout: Duration) -> io::Result<Pty> {
        let fd = self
            .rx
            .recv_timeout(timeout)
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no pty master arrived on the console socket"))??;
        let file = File::from(fd);
        let mut reader = file.try_clone()?;
        let (tx, output) = mpsc::channel::<Vec<u8>>();
        // A pty master has no read timeout of its own, so one thread reads for the Pty's life;
        // it ends when the container side closes (EIO) or the Pty is dropped.
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Ok(Pty { file, output, seen: Vec::new() })
    }
}

/// The host side of a container's terminal.
pub struct Pty {
    file: File,
    output: mpsc::Receiver<Vec<u8>>,
    seen: Vec<u8>,
}

impl Pty {
    /// Types `text` into the container's terminal.
    pub fn write(&mut self, text: &str) -> io::Result<()> {
        self.file.write_all(text.as_bytes())
    }

    /// Sets the terminal size the container sees.
    pub fn set_size(&self, rows: u16, cols: u16) -> io::Result<()> {
        sys::set_winsize(&OwnedFd::from(self.file.try_clone()?), rows, cols)
    }

    /// Waits until everything read so far contains `needle` or `timeout` passes; returns all
    /// output read since the terminal was received.
    pub fn read_until(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        while !String::from_utf8_lossy(&self.seen).contains(needle) && Instant::now() < deadline {
            if let Ok(chunk) = self.output.recv_timeout(Duration::from_millis(50)) {
                self.seen.extend(chunk);
            }
        }
        String::from_utf8_lossy(&self.seen).into_owned()
    }
}
