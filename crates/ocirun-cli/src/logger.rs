//! The command's log writer behind the `log` facade the library reports through: every
//! message to stderr as `ocirun: LEVEL: message`, and to the `--log` file as text
//! (`TIME LEVEL: message`) or as the JSON lines engines read (`{"level":..,"msg":..,"time":..}`).
//! Debug messages only with `--debug`.

use std::io::Write;
use std::path::PathBuf;

/// Where the log goes.
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

struct Logger(LogConfig);

/// Install the writer as the `log` facade's logger (once, at start-up).
pub fn init(cfg: LogConfig) {
    let max = match (cfg.debug, cfg.errors_only) {
        (true, _) => log::LevelFilter::Debug,
        (false, true) => log::LevelFilter::Error,
        (false, false) => log::LevelFilter::Warn,
    };
    // Leaked on purpose: the logger lives as long as the process.
    if log::set_logger(Box::leak(Box::new(Logger(cfg)))).is_ok() {
        log::set_max_level(max);
    }
}

fn level_name(level: log::Level) -> &'static str {
    match level {
        log::Level::Error => "error",
        log::Level::Warn => "warning",
        log::Level::Info => "info",
        log::Level::Debug => "debug",
        log::Level::Trace => "trace",
    }
}

impl log::Log for Logger {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        let floor = if self.0.errors_only { log::Level::Error } else { log::Level::Warn };
        m.level() <= floor || self.0.debug
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let level = level_name(record.level());
        let msg = record.args().to_string();
        if let Some(path) = &self.0.file {
            let time = ocirun::state::time::now_rfc3339();
            let line = if self.0.json {
                serde_json::json!({"level": level, "msg": msg, "time": time}).to_string()
            } else {
                format!("{time} {level}: {msg}")
            };
            if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
                let _ = writeln!(f, "{line}");
            }
        }
        let _ = writeln!(std::io::stderr(), "ocirun: {level}: {msg}");
    }

    fn flush(&self) {}
}
