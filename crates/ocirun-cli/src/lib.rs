//! The `ocirun` command-line definition as a library, so that build-time tools (`ocirun-gen`,
//! which writes the man pages and shell completions) read the same clap definition as the binary.

pub mod cli;

/// The whole command line as a clap `Command`, the single source of the man pages and completions.
pub fn command() -> clap::Command {
    <cli::Cli as clap::CommandFactory>::command()
}
