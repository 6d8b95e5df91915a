//! Where the runtime's warnings and errors go: stderr, and the `--log` file in text or the
//! JSON lines engines read (`{"level":..,"msg":..,"time":..}`).

use std::io::Write;
use std::path::PathBuf;
use std::sync::OnceLock;

/// Log output settings.
#[derive(Debug, Clone, Default)]
pub struct LogConfig {
    /// File to append to.
    pub file: Option<PathBuf>,
    /// JSON lines instead of text.
    pub json: bool,
    /// Include debug messages.
    pub debug: bool,
    /// Leave warnings out too: errors only (`--log-level error`).
    pub errors_only: bool,
}

static CONFIG: OnceLock<LogConfig> = OnceLock::new();

/// Set the log destination once, at start-up.
pub fn init(cfg: LogConfig) {
    let _ = CONFIG.set(cfg);
}

fn emit(level: &str, msg: &str, to_stderr: bool) {
    let cfg = CONFIG.get();
    if let Some(path) = cfg.and_then(|c| c.file.as_ref()) {
        let line = if cfg.is_some_and(|c| c.json) {
            serde_json::json!({"level": level, "msg": msg, "time": crate::state::time::now_rfc3339()}).to_string()
        } else {
            format!("{} {level}: {msg}", crate::state::time::now_rfc3339())
        };
        if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
            let _ = writeln!(f, "{line}");
        }
    }
    if to_stderr {
        let _ = writeln!(std::io::stderr(), "ocirun: {level}: {msg}");
    }
}

/// A warning: the operation goes on.
pub fn warn(msg: &str) {
    if CONFIG.get().is_some_and(|c| c.errors_only) {
        return;
    }
    emit("warning", msg, true);
}

/// An error that ends the operation (printed once, by the CLI's main).
pub fn error(msg: &str) {
    emit("error", msg, true);
}

/// A debug message (only with `--debug`).
pub fn debug(msg: &str) {
    if CONFIG.get().is_some_and(|c| c.debug) {
        emit("debug", msg, true);
    }
}
