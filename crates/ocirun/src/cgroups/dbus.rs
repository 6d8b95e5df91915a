//! A small D-Bus client: enough of the wire protocol to call systemd's manager and wait for
//! one of its signals, written from the D-Bus specification.
//!
//! ## Why not zbus or dbus-rs
//! The runtime needs four method calls and one signal. zbus brings an async executor and
//! several dozen crates (hundreds of KiB in a binary that is otherwise ~1 MiB); dbus-rs links
//! libdbus, a C library the static build cannot assume. This file is the whole cost: the
//! little-endian marshalling of the basic types, arrays, structs and variants, the `EXTERNAL`
//! SASL exchange, and blocking request/reply over a `UnixStream` (no `unsafe`, no threads).
//!
//! ## What is implemented
//! * **Transport**: a Unix stream socket, either the system bus
//!   (`/run/dbus/system_bus_socket`, where `Hello` must be called first) or a peer-to-peer
//!   socket such as systemd's `/run/systemd/private` (no bus daemon, no `Hello`).
//! * **Authentication**: a NUL byte, then `AUTH EXTERNAL <hex of the decimal uid>` and `BEGIN`
//!   at once; the server checks the uid against the socket's peer credentials and answers
//!   `OK <guid>`, and messages follow. Unix fd passing is not negotiated.
//! * **Messages**: method calls out; method returns, errors and signals in. Replies are matched
//!   by serial; signals that arrive meanwhile are queued for [`Connection::wait_signal`].
//! * **Types**: `y b n q i u x t s o g v a (…) {…}` (no `d`, no `h`).

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A D-Bus operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DbusError {
    /// The socket could not be reached.
    #[error("cannot connect to the D-Bus socket {path}: {source}")]
    Connect {
        /// The socket.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Reading or writing the socket failed (or timed out).
    #[error("D-Bus connection {path}: {op}: {source}")]
    Io {
        /// The socket.
        path: PathBuf,
        /// What was being done.
        op: &'static str,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The server refused our credentials.
    #[error("D-Bus server at {path} refused EXTERNAL authentication (answered {answer:?}); run as a user it trusts")]
    Auth {
        /// The socket.
        path: PathBuf,
        /// Its answer.
        answer: String,
    },
    /// The peer sent something that is not valid D-Bus.
    #[error("malformed D-Bus message from {path}: {reason}")]
    Protocol {
        /// The socket.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// The called method answered with an error.
    #[error("{member} failed: {name}: {message}")]
    Call {
        /// The method called.
        member: String,
        /// The D-Bus error name, e.g. `org.freedesktop.systemd1.NoSuchUnit`.
        name: String,
        /// The error text.
        message: String,
    },
    /// No answer (or no awaited signal) came in time.
    #[error("no answer from {path} to {what} within {secs} s")]
    Timeout {
        /// The socket.
        path: PathBuf,
        /// What we waited for.
        what: String,
        /// The limit.
        secs: u64,
    },
}

impl DbusError {
    /// The D-Bus error name, when the peer answered with an error.
    pub fn error_name(&self) -> Option<&str> {
        match self {
            DbusError::Call { name, .. } => Some(name),
            _ => None,
        }
    }
}

type Result<T, E = DbusError> = std::result::Result<T, E>;

/// A D-Bus value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// `y`
    Byte(u8),
    /// `b`
    Bool(bool),
    /// `n`
    I16(i16),
    /// `q`
    U16(u16),
    /// `i`
    I32(i32),
    /// `u`
    U32(u32),
    /// `x`
    I64(i64),
    /// `t`
    U64(u64),
    /// `s`
    Str(String),
    /// `o`
    Path(String),
    /// `g`
    Sig(String),
    /// `v`
    Variant(Box<Value>),
    /// `a<elem>`: the element signature (needed for empty arrays) and the elements.
    Array(String, Vec<Value>),
    /// `(…)`
    Struct(Vec<Value>),
    /// `{kv}`, only inside an array.
    Dict(Box<Value>, Box<Value>),
}

impl Value {
    /// A string.
    pub fn str(s: impl Into<String>) -> Value {
        Value::Str(s.into())
    }

    /// A variant holding `v`.
    pub fn var(v: Value) -> Value {
        Value::Variant(Box::new(v))
    }

    /// This value's type signature.
    pub fn signature(&self) -> String {
        match self {
            Value::Byte(_) => "y".into(),
            Value::Bool(_) => "b".into(),
            Value::I16(_) => "n".into(),
            Value::U16(_) => "q".into(),
            Value::I32(_) => "i".into(),
            Value::U32(_) => "u".into(),
            Value::I64(_) => "x".into(),
            Value::U64(_) => "t".into(),
            Value::Str(_) => "s".into(),
            Value::Path(_) => "o".into(),
            Value::Sig(_) => "g".into(),
            Value::Variant(_) => "v".into(),
            Value::Array(elem, _) => format!("a{elem}"),
            Value::Struct(fields) => format!("({})", fields.iter().map(Value::signature).collect::<String>()),
            Value::Dict(k, v) => format!("{{{}{}}}", k.signature(), v.signature()),
        }
    }

    /// The string inside `s`, `o`, `g` or a variant holding one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) | Value::Path(s) | Value::Sig(s) => Some(s),
            Value::Variant(v) => v.as_str(),
            _ => None,
        }
    }
}

/// Alignment of the type starting with `c`.
fn align_of(c: u8) -> usize {
    match c {
        b'n' | b'q' => 2,
        b'b' | b'i' | b'u' | b's' | b'o' | b'a' => 4,
        b'x' | b't' | b'(' | b'{' => 8,
        _ => 1,
    }
}

fn pad(buf: &mut Vec<u8>, align: usize) {
    while buf.len() % align != 0 {
        buf.push(0);
    }
}

/// Append `v` to `buf`, whose offset 0 is 8-aligned in the message.
pub fn marshal(buf: &mut Vec<u8>, v: &Value) {
    let sig = v.signature();
    pad(buf, align_of(sig.as_bytes()[0]));
    match v {
        Value::Byte(b) => buf.push(*b),
        Value::Bool(b) => buf.extend_from_slice(&u32::from(*b).to_le_bytes()),
        Value::I16(n) => buf.extend_from_slice(&n.to_le_bytes()),
        Value::U16(n) => buf.extend_from_slice(&n.to_le_bytes()),
        Value::I32(n) => buf.extend_from_slice(&n.to_le_bytes()),
        Value::U32(n) => buf.extend_from_slice(&n.to_le_bytes()),
        Value::I64(n) => buf.extend_from_slice(&n.to_le_bytes()),
        Value::U64(n) => buf.extend_from_slice(&n.to_le_bytes()),
        Value::Str(s) | Value::Path(s) => {
            buf.extend_from_slice(&(s.len() as u32).to_le_bytes());
            buf.extend_from_slice(s.as_bytes());
            buf.push(0);
        }
        Value::Sig(s) => {
            buf.push(s.len() as u8);
            buf.extend_from_slice(s.as_bytes());
            buf.push(0);
        }
        Value::Variant(inner) => {
            marshal(buf, &Value::Sig(inner.signature()));
            marshal(buf, inner);
        }
        Value::Array(elem, items) => {
            let len_at = buf.len();
            buf.extend_from_slice(&[0; 4]);
            // The length counts the elements only, not the padding before the first one.
            pad(buf, align_of(elem.as_bytes().first().copied().unwrap_or(b'y')));
            let start = buf.len();
            for it in items {
                marshal(buf, it);
            }
            let n = (buf.len() - start) as u32;
            buf[len_at..len_at + 4].copy_from_slice(&n.to_le_bytes());
        }
        Value::Struct(fields) => fields.iter().for_each(|f| marshal(buf, f)),
        Value::Dict(k, v) => {
            marshal(buf, k);
            marshal(buf, v);
        }
    }
}

/// Reads values out of a message body (or header), tracking alignment from its start.
struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn align(&mut self, a: usize) -> Option<()> {
        let p = self.pos.div_ceil(a) * a;
        (p <= self.data.len()).then(|| self.pos = p)
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.data.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(s)
    }

    fn u32(&mut self) -> Option<u32> {
        self.align(4)?;
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    fn string(&mut self, len: usize) -> Option<String> {
        let s = self.take(len)?;
        let nul = self.take(1)?;
        (nul == [0]).then_some(())?;
        String::from_utf8(s.to_vec()).ok()
    }

    /// One complete value of the single complete type at the start of `sig`; returns the
    /// value and the rest of the signature.
    fn value<'s>(&mut self, sig: &'s [u8], depth: u32) -> Option<(Value, &'s [u8])> {
        if depth > 32 {
            return None;
        }
        let (&c, rest) = sig.split_first()?;
        self.align(align_of(c))?;
        let v = match c {
            b'y' => Value::Byte(self.take(1)?[0]),
            b'b' => Value::Bool(self.u32()? != 0),
            b'n' => Value::I16(i16::from_le_bytes(self.take(2)?.try_into().ok()?)),
            b'q' => Value::U16(u16::from_le_bytes(self.take(2)?.try_into().ok()?)),
            b'i' => Value::I32(i32::from_le_bytes(self.take(4)?.try_into().ok()?)),
            b'u' => Value::U32(self.u32()?),
            b'x' => Value::I64(i64::from_le_bytes(self.take(8)?.try_into().ok()?)),
            b't' => Value::U64(u64::from_le_bytes(self.take(8)?.try_into().ok()?)),
            b's' | b'o' => {
                let n = self.u32()? as usize;
                let s = self.string(n)?;
                if c == b's' {
                    Value::Str(s)
                } else {
                    Value::Path(s)
                }
            }
            b'g' => {
                let n = self.take(1)?[0] as usize;
                Value::Sig(self.string(n)?)
            }
            b'v' => {
                let n = self.take(1)?[0] as usize;
                let inner = self.string(n)?;
                let (v, left) = self.value(inner.as_bytes(), depth + 1)?;
                left.is_empty().then_some(())?;
                Value::var(v)
            }
            b'a' => {
                let n = self.u32()? as usize;
                let elem_len = single_type_len(rest)?;
                let elem = &rest[..elem_len];
                self.align(align_of(elem[0]))?;
                let end = self.pos.checked_add(n)?;
                (end <= self.data.len()).then_some(())?;
                let mut items = Vec::new();
                while self.pos < end {
                    items.push(self.value(elem, depth + 1)?.0);
                }
                (self.pos == end).then_some(())?;
                let elem = std::str::from_utf8(elem).ok()?.to_string();
                return Some((Value::Array(elem, items), &rest[elem_len..]));
            }
            b'(' | b'{' => {
                let close = if c == b'(' { b')' } else { b'}' };
                let mut s = rest;
                let mut fields = Vec::new();
                while s.first() != Some(&close) {
                    let (v, left) = self.value(s, depth + 1)?;
                    fields.push(v);
                    s = left;
                }
                let v = if c == b'{' && fields.len() == 2 {
                    let val = fields.pop()?;
                    let key = fields.pop()?;
                    Value::Dict(Box::new(key), Box::new(val))
                } else if c == b'(' {
                    Value::Struct(fields)
                } else {
                    return None;
                };
                return Some((v, &s[1..]));
            }
            _ => return None,
        };
        Some((v, rest))
    }
}

/// Length of the single complete type at the start of `sig`.
fn single_type_len(sig: &[u8]) -> Option<usize> {
    match sig.first()? {
        b'a' => Some(1 + single_type_len(&sig[1..])?),
        open @ (b'(' | b'{') => {
            let close = if *open == b'(' { b')' } else { b'}' };
            let mut i = 1;
            while *sig.get(i)? != close {
                i += single_type_len(&sig[i..])?;
            }
            Some(i + 1)
        }
        _ => Some(1),
    }
}

/// Parse every value of `sig` from `data` (a body starting 8-aligned).
pub fn unmarshal(data: &[u8], sig: &str) -> Option<Vec<Value>> {
    let mut r = Reader { data, pos: 0 };
    let mut s = sig.as_bytes();
    let mut out = Vec::new();
    while !s.is_empty() {
        let (v, rest) = r.value(s, 0)?;
        out.push(v);
        s = rest;
    }
    Some(out)
}

/// Message types.
const METHOD_CALL: u8 = 1;
const METHOD_RETURN: u8 = 2;
const ERROR: u8 = 3;
const SIGNAL: u8 = 4;

/// A message received.
#[derive(Debug, Clone)]
pub struct Message {
    /// 2 return, 3 error, 4 signal (1 call).
    pub kind: u8,
    /// Its serial.
    pub serial: u32,
    /// The serial it answers.
    pub reply_serial: Option<u32>,
    /// Object path.
    pub path: Option<String>,
    /// Interface.
    pub interface: Option<String>,
    /// Member (method or signal name).
    pub member: Option<String>,
    /// Error name.
    pub error_name: Option<String>,
    /// Body.
    pub body: Vec<Value>,
}

/// A method call to send.
#[derive(Debug, Clone)]
pub struct Call<'a> {
    /// Bus name of the peer (ignored on peer-to-peer connections).
    pub destination: Option<&'a str>,
    /// Object path.
    pub path: &'a str,
    /// Interface.
    pub interface: &'a str,
    /// Method.
    pub member: &'a str,
    /// Arguments.
    pub args: Vec<Value>,
}

/// Encode a method call (little-endian) with `serial`.
pub fn encode_call(call: &Call<'_>, serial: u32) -> Vec<u8> {
    let mut body = Vec::new();
    for a in &call.args {
        marshal(&mut body, a);
    }
    let sig: String = call.args.iter().map(Value::signature).collect();
    let field = |code: u8, v: Value| Value::Struct(vec![Value::Byte(code), Value::var(v)]);
    let mut fields = vec![
        field(1, Value::Path(call.path.into())),
        field(2, Value::str(call.interface)),
        field(3, Value::str(call.member)),
    ];
    if let Some(d) = call.destination {
        fields.push(field(6, Value::str(d)));
    }
    if !sig.is_empty() {
        fields.push(field(8, Value::Sig(sig)));
    }
    let mut msg = vec![b'l', METHOD_CALL, 0, 1];
    msg.extend_from_slice(&(body.len() as u32).to_le_bytes());
    msg.extend_from_slice(&serial.to_le_bytes());
    marshal(&mut msg, &Value::Array("(yv)".into(), fields));
    pad(&mut msg, 8);
    msg.extend_from_slice(&body);
    msg
}

/// Decode one complete message. Only little-endian messages are accepted: that is what every
/// peer on a little-endian Linux host sends (dbus-daemon and systemd use the native order).
pub fn decode(msg: &[u8]) -> Option<Message> {
    if msg.len() < 16 || msg[0] != b'l' || msg[3] != 1 {
        return None;
    }
    let kind = msg[1];
    let body_len = u32::from_le_bytes(msg[4..8].try_into().ok()?) as usize;
    let serial = u32::from_le_bytes(msg[8..12].try_into().ok()?);
    let mut r = Reader { data: msg, pos: 12 };
    let (fields, _) = r.value(b"a(yv)", 0)?;
    r.align(8)?;
    let body = msg.get(r.pos..r.pos.checked_add(body_len)?)?;
    let mut m = Message {
        kind,
        serial,
        reply_serial: None,
        path: None,
        interface: None,
        member: None,
        error_name: None,
        body: Vec::new(),
    };
    let mut sig = String::new();
    let Value::Array(_, fields) = fields else { return None };
    for f in fields {
        let Value::Struct(parts) = f else { return None };
        let [Value::Byte(code), Value::Variant(v)] = parts.as_slice() else { return None };
        let s = v.as_str().map(str::to_string);
        match (code, &**v) {
            (1, _) => m.path = s,
            (2, _) => m.interface = s,
            (3, _) => m.member = s,
            (4, _) => m.error_name = s,
            (5, Value::U32(n)) => m.reply_serial = Some(*n),
            (8, _) => sig = s.unwrap_or_default(),
            _ => {}
        }
    }
    m.body = unmarshal(body, &sig)?;
    Some(m)
}

/// Total length of the message whose first 16 bytes are `head`.
fn message_len(head: &[u8; 16]) -> Option<usize> {
    if head[0] != b'l' {
        return None;
    }
    let body = u32::from_le_bytes(head[4..8].try_into().ok()?) as usize;
    let fields = u32::from_le_bytes(head[12..16].try_into().ok()?) as usize;
    let total = (16 + fields).div_ceil(8) * 8 + body;
    // The specification caps a message at 128 MiB.
    (total <= 128 << 20).then_some(total)
}

/// How long to wait for a reply, like libdbus's default.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(25);

/// A blocking connection.
#[derive(Debug)]
pub struct Connection {
    sock: UnixStream,
    path: PathBuf,
    serial: u32,
    queued: VecDeque<Message>,
}

impl Connection {
    /// Connect to `path` and authenticate as `uid`; call `Hello` when `bus` (a bus daemon,
    /// not a peer-to-peer socket).
    pub fn open(path: &Path, uid: u32, bus: bool) -> Result<Connection> {
        let sock =
            UnixStream::connect(path).map_err(|source| DbusError::Connect { path: path.to_path_buf(), source })?;
        let mut c = Connection { sock, path: path.to_path_buf(), serial: 0, queued: VecDeque::new() };
        c.sock.set_read_timeout(Some(REPLY_TIMEOUT)).map_err(|e| c.io("set a timeout", e))?;
        c.auth(uid)?;
        if bus {
            c.call(&Call {
                destination: Some("org.freedesktop.DBus"),
                path: "/org/freedesktop/DBus",
                interface: "org.freedesktop.DBus",
                member: "Hello",
                args: vec![],
            })?;
        }
        Ok(c)
    }

    fn io(&self, op: &'static str, source: std::io::Error) -> DbusError {
        if matches!(source.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) {
            return DbusError::Timeout { path: self.path.clone(), what: op.into(), secs: REPLY_TIMEOUT.as_secs() };
        }
        DbusError::Io { path: self.path.clone(), op, source }
    }

    fn auth(&mut self, uid: u32) -> Result<()> {
        // BEGIN goes with AUTH (pipelining, which the specification allows): the first
        // message then never shares a read with BEGIN, which sd-bus's server side leaves
        // unprocessed until more data arrives.
        let hex: String = uid.to_string().bytes().map(|b| format!("{b:02x}")).collect();
        let hello = format!("\0AUTH EXTERNAL {hex}\r\nBEGIN\r\n");
        self.sock.write_all(hello.as_bytes()).map_err(|e| self.io("send AUTH", e))?;
        let answer = self.read_line()?;
        if !answer.starts_with("OK ") {
            return Err(DbusError::Auth { path: self.path.clone(), answer });
        }
        Ok(())
    }

    /// One `\r\n`-terminated line, read a byte at a time so nothing after it is consumed.
    fn read_line(&mut self) -> Result<String> {
        let mut line = Vec::new();
        let mut b = [0u8; 1];
        while !line.ends_with(b"\r\n") {
            match self.sock.read(&mut b) {
                Ok(0) => {
                    return Err(DbusError::Auth {
                        path: self.path.clone(),
                        answer: String::from_utf8_lossy(&line).into_owned(),
                    })
                }
                Ok(_) => line.push(b[0]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io("read the AUTH answer", e)),
            }
            if line.len() > 4096 {
                return Err(self.protocol("authentication line too long"));
            }
        }
        line.truncate(line.len() - 2);
        Ok(String::from_utf8_lossy(&line).into_owned())
    }

    fn protocol(&self, reason: impl Into<String>) -> DbusError {
        DbusError::Protocol { path: self.path.clone(), reason: reason.into() }
    }

    fn read_message(&mut self) -> Result<Message> {
        let mut head = [0u8; 16];
        self.sock.read_exact(&mut head).map_err(|e| self.io("read a message", e))?;
        let len = message_len(&head).ok_or_else(|| self.protocol("bad header (big-endian or too long)"))?;
        let mut msg = head.to_vec();
        msg.resize(len, 0);
        self.sock.read_exact(&mut msg[16..]).map_err(|e| self.io("read a message", e))?;
        decode(&msg).ok_or_else(|| self.protocol("cannot parse a message"))
    }

    /// Call a method and wait for its reply; signals arriving meanwhile are queued.
    pub fn call(&mut self, call: &Call<'_>) -> Result<Vec<Value>> {
        self.serial = self.serial.wrapping_add(1).max(1);
        let serial = self.serial;
        let msg = encode_call(call, serial);
        self.sock.write_all(&msg).map_err(|e| self.io("send a call", e))?;
        loop {
            let m = self.read_message()?;
            match m.kind {
                SIGNAL => self.queued.push_back(m),
                METHOD_RETURN if m.reply_serial == Some(serial) => return Ok(m.body),
                ERROR if m.reply_serial == Some(serial) => {
                    return Err(DbusError::Call {
                        member: call.member.into(),
                        name: m.error_name.unwrap_or_default(),
                        message: m.body.first().and_then(Value::as_str).unwrap_or("").into(),
                    })
                }
                // Calls to us (peers may ping) and stray replies are not ours to answer.
                _ => {}
            }
        }
    }

    /// Wait up to `timeout` for a signal for which `pick` returns something.
    pub fn wait_signal<T>(
        &mut self,
        what: &str,
        timeout: Duration,
        mut pick: impl FnMut(&Message) -> Option<T>,
    ) -> Result<T> {
        while let Some(m) = self.queued.pop_front() {
            if let Some(t) = pick(&m) {
                return Ok(t);
            }
        }
        let deadline = Instant::now() + timeout;
        let path = self.path.clone();
        let timed_out = || DbusError::Timeout { path: path.clone(), what: what.to_string(), secs: timeout.as_secs() };
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(timed_out());
            }
            self.sock.set_read_timeout(Some(left)).map_err(|e| self.io("set a timeout", e))?;
            let m = match self.read_message() {
                Err(DbusError::Timeout { .. }) => return Err(timed_out()),
                r => r?,
            };
            if m.kind == SIGNAL {
                if let Some(t) = pick(&m) {
                    self.sock.set_read_timeout(Some(REPLY_TIMEOUT)).map_err(|e| self.io("set a timeout", e))?;
                    return Ok(t);
                }
            }
        }
    }

    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_types_are_aligned_and_little_endian() {
        let mut b = Vec::new();
        marshal(&mut b, &Value::Byte(7));
        marshal(&mut b, &Value::U32(1));
        marshal(&mut b, &Value::U64(2));
        marshal(&mut b, &Value::str("ab"));
        assert_eq!(b, [7, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, b'a', b'b', 0]);
    }

    #[test]
    fn array_length_excludes_padding_before_the_first_element() {
        let mut b = Vec::new();
        let a = Value::Array("t".into(), vec![Value::U64(1)]);
        marshal(&mut b, &a);
        // length 8, then 4 bytes of padding to reach offset 8, then the element
        assert_eq!(&b[..4], &8u32.to_le_bytes());
        assert_eq!(b.len(), 16);
        let empty = Value::Array("(sv)".into(), vec![]);
        let mut b = Vec::new();
        marshal(&mut b, &empty);
        assert_eq!(b, [0, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn nested_values_round_trip() {
        let props = Value::Array(
            "(sv)".into(),
            vec![
                Value::Struct(vec![Value::str("Delegate"), Value::var(Value::Bool(true))]),
                Value::Struct(vec![
                    Value::str("PIDs"),
                    Value::var(Value::Array("u".into(), vec![Value::U32(42), Value::U32(43)])),
                ]),
                Value::Struct(vec![
                    Value::str("AllowedCPUs"),
                    Value::var(Value::Array("y".into(), vec![Value::Byte(0b101)])),
                ]),
                Value::Struct(vec![
                    Value::str("DeviceAllow"),
                    Value::var(Value::Array(
                        "(ss)".into(),
                        vec![Value::Struct(vec![Value::str("/dev/null"), Value::str("rwm")])],
                    )),
                ]),
            ],
        );
        let args = vec![
            Value::str("x.scope"),
            Value::str("replace"),
            props,
            Value::Array("(sa(sv))".into(), vec![]),
            Value::Array(
                "{sv}".into(),
                vec![Value::Dict(Box::new(Value::str("k")), Box::new(Value::var(Value::I64(-1))))],
            ),
        ];
        let sig: String = args.iter().map(Value::signature).collect();
        assert_eq!(sig, "ssa(sv)a(sa(sv))a{sv}");
        let mut b = Vec::new();
        for a in &args {
            marshal(&mut b, a);
        }
        assert_eq!(unmarshal(&b, &sig).expect("parse"), args);
    }

    #[test]
    fn a_call_encodes_and_decodes() {
        let call = Call {
            destination: Some("org.freedesktop.systemd1"),
            path: "/org/freedesktop/systemd1",
            interface: "org.freedesktop.systemd1.Manager",
            member: "StopUnit",
            args: vec![Value::str("a.scope"), Value::str("replace")],
        };
        let msg = encode_call(&call, 9);
        let head: [u8; 16] = msg[..16].try_into().expect("16");
        assert_eq!(message_len(&head), Some(msg.len()));
        let m = decode(&msg).expect("decode");
        assert_eq!((m.kind, m.serial), (METHOD_CALL, 9));
        assert_eq!(m.member.as_deref(), Some("StopUnit"));
        assert_eq!(m.path.as_deref(), Some("/org/freedesktop/systemd1"));
        assert_eq!(m.body, call.args);
    }

    #[test]
    fn truncated_or_hostile_input_is_refused() {
        let call = Call { destination: None, path: "/", interface: "a.b", member: "C", args: vec![Value::str("x")] };
        let msg = encode_call(&call, 1);
        for n in 0..msg.len() {
            assert!(decode(&msg[..n]).is_none(), "prefix of {n} bytes");
        }
        assert!(unmarshal(&[255, 255, 255, 255], "s").is_none());
        assert!(unmarshal(&[1, 0, 0, 0], "a").is_none());
        // Nesting deeper than 32 levels is refused, not followed.
        let mut v = Value::Array("y".into(), vec![]);
        for _ in 0..40 {
            let elem = v.signature();
            v = Value::Array(elem, vec![v]);
        }
        let mut deep = Vec::new();
        marshal(&mut deep, &Value::var(v));
        assert!(unmarshal(&deep, "v").is_none());
    }
}
