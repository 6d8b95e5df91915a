//! `ocirun`: the command line over the `ocirun` library. Each command parses its options and
//! makes one library call; errors are printed once, here.

mod commands;
mod logger;

use ocirun_cli::cli;

use clap::Parser;

fn main() {
    let cli = cli::Cli::parse();
    let level = cli.global.log_level.as_deref();
    logger::init(logger::LogConfig {
        file: cli.global.log.clone(),
        json: cli.global.log_format.as_deref() == Some("json"),
        debug: cli.global.debug || level == Some("debug"),
        errors_only: level == Some("error"),
    });
    match commands::dispatch(cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            log::error!("{e}");
            std::process::exit(1);
        }
    }
}
