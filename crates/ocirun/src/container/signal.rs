//! Signal names and numbers as `kill` accepts them: `TERM`, `SIGTERM`, `15`, `RTMIN+3`.

use crate::error::{Error, Result};

const NAMES: [(&str, i32); 31] = [
    ("HUP", 1),
    ("INT", 2),
    ("QUIT", 3),
    ("ILL", 4),
    ("TRAP", 5),
    ("ABRT", 6),
    ("IOT", 6),
    ("BUS", 7),
    ("FPE", 8),
    ("KILL", 9),
    ("USR1", 10),
    ("SEGV", 11),
    ("USR2", 12),
    ("PIPE", 13),
    ("ALRM", 14),
    ("TERM", 15),
    ("STKFLT", 16),
    ("CHLD", 17),
    ("CONT", 18),
    ("STOP", 19),
    ("TSTP", 20),
    ("TTIN", 21),
    ("TTOU", 22),
    ("URG", 23),
    ("XCPU", 24),
    ("XFSZ", 25),
    ("VTALRM", 26),
    ("PROF", 27),
    ("WINCH", 28),
    ("IO", 29),
    ("PWR", 30),
];

/// Parse a signal name or number.
pub fn parse(s: &str) -> Result<i32> {
    let bad = || Error::InvalidArgument(format!("invalid signal {s:?}: use a name like TERM or SIGKILL, or a number"));
    if let Ok(n) = s.parse::<i32>() {
        if (1..=libc::SIGRTMAX()).contains(&n) {
            return Ok(n);
        }
        return Err(bad());
    }
    let up = s.to_ascii_uppercase();
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    if name == "SYS" {
        return Ok(31);
    }
    if let Some(&(_, n)) = NAMES.iter().find(|(n, _)| *n == name) {
        return Ok(n);
    }
    let rt = |base: i32, off: &str, sign: i32| -> Result<i32> {
        let k: i32 = if off.is_empty() { 0 } else { off.parse().map_err(|_| bad())? };
        let n = base + sign * k;
        if (libc::SIGRTMIN()..=libc::SIGRTMAX()).contains(&n) {
            Ok(n)
        } else {
            Err(bad())
        }
    };
    if let Some(off) = name.strip_prefix("RTMIN") {
        return rt(libc::SIGRTMIN(), off.trim_start_matches('+'), 1);
    }
    if let Some(off) = name.strip_prefix("RTMAX") {
        return rt(libc::SIGRTMAX(), off.trim_start_matches('-'), -1);
    }
    Err(bad())
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses() {
        assert_eq!(super::parse("TERM").unwrap(), 15);
        assert_eq!(super::parse("SIGKILL").unwrap(), 9);
        assert_eq!(super::parse("sigusr1").unwrap(), 10);
        assert_eq!(super::parse("15").unwrap(), 15);
        assert_eq!(super::parse("RTMIN+2").unwrap(), libc::SIGRTMIN() + 2);
        assert!(super::parse("NOPE").is_err());
        assert!(super::parse("0").is_err());
        assert!(super::parse("99").is_err());
    }
}
