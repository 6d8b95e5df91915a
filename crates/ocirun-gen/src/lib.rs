//! Writes ocirun's man pages and shell completions from the clap definition in `ocirun-cli`.
//!
//! A build-time tool, not part of the runtime binary: the runtime keeps its small clap feature
//! set, and the pages can never drift from the options because both come from the same
//! `Command`. There is one page per command, as runc and git do, so `man ocirun-run` lands on
//! the options of `run`, and `ocirun(8)` lists the commands with a pointer to each page.

use std::io;
use std::path::{Path, PathBuf};

use clap::Command;
use clap_complete::Shell;

/// Man section: ocirun is a system administration command.
pub const SECTION: &str = "8";

/// The shells we ship completions for, with the file name each one's loader looks for.
pub const SHELLS: [(Shell, &str); 3] = [(Shell::Bash, "ocirun"), (Shell::Zsh, "_ocirun"), (Shell::Fish, "ocirun.fish")];

/// One generated file: its name inside its directory and its bytes.
#[derive(Debug)]
pub struct Generated {
    pub name: String,
    pub contents: Vec<u8>,
}

/// The command line as the man pages and completions see it: built, so that global options are
/// propagated to every subcommand and each subcommand knows its display name (`ocirun-create`).
pub fn built_command() -> Command {
    let mut cmd = ocirun_cli::command();
    cmd.build();
    cmd
}

/// The package version, the first line of `ocirun --version`.
pub fn version() -> &'static str {
    ocirun_cli::cli::VERSION.lines().next().unwrap_or_default()
}

/// `ocirun.8` and one `ocirun-<command>.8` per visible subcommand (recursively), dated `date`
/// (`YYYY-MM-DD`; it must not be empty, clap_mangen would then shift the `.TH` fields).
pub fn man_pages(date: &str) -> io::Result<Vec<Generated>> {
    let root = built_command();
    let mut pages = Vec::new();
    add_pages(&root, None, date, &mut pages)?;
    Ok(pages)
}

fn add_pages(cmd: &Command, parent: Option<&Command>, date: &str, pages: &mut Vec<Generated>) -> io::Result<()> {
    let man = clap_mangen::Man::new(cmd.clone())
        .section(SECTION)
        .date(date)
        .source(format!("ocirun {}", version()))
        .manual("System Manager's Manual");
    let mut contents = Vec::new();
    man.render(&mut contents)?;
    contents.extend_from_slice(extra_sections(cmd, parent).as_bytes());
    pages.push(Generated { name: man.get_filename(), contents });
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        add_pages(sub, Some(cmd), date, pages)?;
    }
    Ok(())
}

/// What clap_mangen leaves out: a command's aliases (hidden ones too: the page is the full
/// reference), and SEE ALSO links between the pages.
fn extra_sections(cmd: &Command, parent: Option<&Command>) -> String {
    let mut roff = String::new();
    let aliases: Vec<&str> = cmd.get_all_aliases().collect();
    if !aliases.is_empty() {
        roff.push_str(".SH ALIASES\n");
        let parent_name = parent.and_then(|p| p.get_bin_name()).unwrap_or("ocirun");
        let names: Vec<String> =
            aliases.iter().map(|a| format!("\\fB{} {}\\fR", escape(parent_name), escape(a))).collect();
        roff.push_str(&names.join(", "));
        roff.push('\n');
    }
    let mut see_also: Vec<String> = Vec::new();
    if let Some(parent) = parent {
        see_also.push(page_name(parent));
    }
    see_also.extend(cmd.get_subcommands().filter(|s| !s.is_hide_set()).map(page_name));
    if !see_also.is_empty() {
        roff.push_str(".SH \"SEE ALSO\"\n");
        let refs: Vec<String> = see_also.iter().map(|n| format!("\\fB{}\\fR({SECTION})", escape(n))).collect();
        roff.push_str(&refs.join(",\n"));
        roff.push('\n');
    }
    roff
}

fn page_name(cmd: &Command) -> String {
    cmd.get_display_name().unwrap_or_else(|| cmd.get_name()).to_string()
}

/// Escape text for roff: a backslash starts an escape and `-` must be `\-` to stay an ASCII hyphen.
fn escape(text: &str) -> String {
    text.replace('\\', "\\e").replace('-', "\\-")
}

/// Completion scripts for bash, zsh and fish.
pub fn completions() -> Vec<Generated> {
    SHELLS
        .iter()
        .map(|(shell, name)| {
            let mut cmd = ocirun_cli::command();
            let mut contents = Vec::new();
            clap_complete::generate(*shell, &mut cmd, "ocirun", &mut contents);
            Generated { name: (*name).to_string(), contents }
        })
        .collect()
}

/// Where each generated file goes below the output directory.
pub fn layout(out: &Path) -> (PathBuf, PathBuf) {
    (out.join("man"), out.join("completions"))
}

/// Writes `man/*.8` and `completions/{ocirun,_ocirun,ocirun.fish}` below `out`; returns the paths.
pub fn write_all(out: &Path, date: &str) -> io::Result<Vec<PathBuf>> {
    let (man_dir, completion_dir) = layout(out);
    let mut written = Vec::new();
    for (dir, files) in [(man_dir, man_pages(date)?), (completion_dir, completions())] {
        // Start from an empty directory so a removed command leaves no stale page behind.
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)?;
        for file in files {
            let path = dir.join(&file.name);
            std::fs::write(&path, &file.contents)?;
            written.push(path);
        }
    }
    Ok(written)
}

/// `YYYY-MM-DD` (UTC) for a Unix time, for the man page date from `SOURCE_DATE_EPOCH`.
pub fn date_from_epoch(secs: u64) -> String {
    // Days since 1970-01-01 to a civil date (proleptic Gregorian), by 400-year eras.
    let days = (secs / 86_400) as i64 + 719_468;
    let era = days.div_euclid(146_097);
    let doe = days.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::date_from_epoch;

    #[test]
    fn dates_from_epoch() {
        assert_eq!(date_from_epoch(0), "1970-01-01");
        assert_eq!(date_from_epoch(951_782_400), "2000-02-29");
        assert_eq!(date_from_epoch(1_709_251_199), "2024-02-29");
        assert_eq!(date_from_epoch(1_735_689_600), "2025-01-01");
    }
}
