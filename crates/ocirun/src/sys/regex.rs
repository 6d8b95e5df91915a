//! POSIX extended regular expressions (regcomp(3)), for `delete --regex` and `kill --regex`:
//! crun matches container ids with the C library's ERE, unanchored, so the same pattern
//! selects the same containers here.

use std::ffi::CString;

/// A compiled extended regular expression.
pub struct Regex {
    // Boxed so the compiled pattern never moves while the C library holds pointers into it.
    re: Box<libc::regex_t>,
}

/// Why a pattern did not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid regular expression {pattern:?}: {reason}")]
pub struct RegexError {
    /// The pattern given.
    pub pattern: String,
    /// regerror(3)'s message.
    pub reason: String,
}

impl Regex {
    /// Compile `pattern` as an ERE (REG_EXTENDED | REG_NOSUB).
    pub fn new(pattern: &str) -> Result<Regex, RegexError> {
        let c = CString::new(pattern)
            .map_err(|_| RegexError { pattern: pattern.into(), reason: "it contains a NUL byte".into() })?;
        // SAFETY: regex_t is a plain C struct for which all-zero bytes is a valid value; it is
        // only read by regcomp after this.
        let mut re: Box<libc::regex_t> = Box::new(unsafe { std::mem::zeroed() });
        // SAFETY: `re` points to a writable regex_t and `c` is a NUL-terminated string that
        // outlives the call.
        let rc = unsafe { libc::regcomp(&mut *re, c.as_ptr(), libc::REG_EXTENDED | libc::REG_NOSUB) };
        if rc != 0 {
            let mut buf = [0u8; 256];
            // SAFETY: `re` is the regex_t regcomp just failed on (regerror only reads it) and
            // `buf` is writable for its full length.
            let n = unsafe { libc::regerror(rc, &*re, buf.as_mut_ptr().cast(), buf.len()) };
            let end = n.min(buf.len()).saturating_sub(1);
            let reason = String::from_utf8_lossy(&buf[..end]).to_lowercase();
            // regcomp frees what it allocated when it fails: the box is dropped without regfree.
            return Err(RegexError { pattern: pattern.into(), reason });
        }
        Ok(Regex { re })
    }

    /// Whether `text` contains a match (regexec(3), unanchored like crun).
    pub fn is_match(&self, text: &str) -> bool {
        let Ok(c) = CString::new(text) else { return false };
        // SAFETY: `self.re` was compiled by regcomp and not freed; `c` is NUL-terminated;
        // with no match array regexec writes nothing.
        unsafe { libc::regexec(&*self.re, c.as_ptr(), 0, std::ptr::null_mut(), 0) == 0 }
    }
}

impl Drop for Regex {
    fn drop(&mut self) {
        // SAFETY: `self.re` was compiled successfully by regcomp and is freed once, here.
        unsafe { libc::regfree(&mut *self.re) };
    }
}

impl std::fmt::Debug for Regex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Regex")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_anywhere_like_regexec() {
        let re = Regex::new("b-[0-9]+").expect("compiles");
        assert!(re.is_match("ab-12c"));
        assert!(!re.is_match("ab-c"));
        let anchored = Regex::new("^a(b|c)$").expect("compiles");
        assert!(anchored.is_match("ac"));
        assert!(!anchored.is_match("xac"));
    }

    #[test]
    fn a_bad_pattern_is_an_error_naming_it() {
        let e = Regex::new("a(").expect_err("unbalanced");
        assert_eq!(e.pattern, "a(");
        assert!(!e.reason.is_empty(), "{e}");
    }
}
