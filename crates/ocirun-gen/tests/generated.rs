//! The generated man pages and completions against the clap definition they come from: every
//! command has a page that the root page lists, and every option and alias is on its page. New
//! commands and options are covered as soon as they are added to `cli.rs`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command as Process;

use clap::Command;

const DATE: &str = "2025-01-01";

/// The pages by file name, as plain text: roff font escapes dropped and `\-` back to `-`.
fn pages() -> BTreeMap<String, String> {
    ocirun_gen::man_pages(DATE)
        .expect("render man pages")
        .into_iter()
        .map(|page| {
            let roff = String::from_utf8(page.contents).expect("man page is UTF-8");
            (page.name, plain(&roff))
        })
        .collect()
}

fn plain(roff: &str) -> String {
    roff.replace("\\fB", "").replace("\\fI", "").replace("\\fR", "").replace("\\-", "-")
}

/// Every visible command in the tree with its page name, the root first.
fn commands() -> Vec<Command> {
    fn walk(cmd: &Command, out: &mut Vec<Command>) {
        out.push(cmd.clone());
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            walk(sub, out);
        }
    }
    let mut out = Vec::new();
    walk(&ocirun_gen::built_command(), &mut out);
    out
}

fn page_name(cmd: &Command) -> String {
    format!("{}.8", cmd.get_display_name().unwrap_or_else(|| cmd.get_name()))
}

#[test]
fn every_command_has_a_page_listed_on_its_parents_page() {
    let pages = pages();
    let commands = commands();
    assert!(commands.len() > 1, "the definition has subcommands");
    assert_eq!(pages.len(), commands.len(), "one page per command: {:?}", pages.keys());
    for cmd in &commands {
        let name = page_name(cmd);
        let page = pages.get(&name).unwrap_or_else(|| panic!("no page {name}"));
        let title = cmd.get_display_name().unwrap_or_else(|| cmd.get_name());
        assert!(
            page.contains(&format!(".TH {title} 8 {DATE} \"ocirun {}\"", ocirun_gen::version())),
            "{name}: header has name, section, date and source in place"
        );
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            let link = format!("{}-{}(8)", title, sub.get_name());
            assert!(page.contains(&link), "{name} lists {link}");
        }
    }
}

#[test]
fn every_option_and_alias_is_on_its_commands_page() {
    let pages = pages();
    let mut checked = 0;
    for cmd in commands() {
        let name = page_name(&cmd);
        let page = &pages[&name];
        for arg in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
            if let Some(long) = arg.get_long() {
                assert!(page.contains(&format!("--{long}")), "{name} documents --{long}");
                checked += 1;
            }
            if let Some(short) = arg.get_short() {
                assert!(page.contains(&format!("-{short}")), "{name} documents -{short}");
            }
            if let Some(help) = arg.get_help() {
                let first = help.to_string().lines().next().unwrap_or_default().replace('\'', "\\*(Aq");
                assert!(page.contains(&first), "{name} has the help of {}: {first}", arg.get_id());
            }
        }
        for alias in cmd.get_all_aliases() {
            assert!(page.contains(&format!(" {alias}")), "{name} mentions alias {alias}");
        }
    }
    assert!(checked > 10, "only {checked} long options were checked");
}

#[test]
fn completions_offer_every_command() {
    let completions = ocirun_gen::completions();
    assert_eq!(completions.len(), 3);
    let subcommands: Vec<String> = ocirun_gen::built_command()
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .map(|s| s.get_name().into())
        .collect();
    for file in completions {
        let script = String::from_utf8(file.contents).expect("completion is UTF-8");
        for sub in &subcommands {
            assert!(script.contains(sub.as_str()), "{} completes {sub}", file.name);
        }
        // fish spells a long option `-l root`, bash and zsh `--root`.
        assert!(script.contains("--root") || script.contains("-l root"), "{} completes the global --root", file.name);
    }
}

/// A scratch directory under Cargo's per-test temp dir, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Self {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("ocirun-gen-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn the_tool_writes_the_layout_the_makefile_installs() {
    let scratch = Scratch::new("layout");
    // A stale page from a command that no longer exists must not survive a run.
    std::fs::create_dir_all(scratch.0.join("man")).unwrap();
    std::fs::write(scratch.0.join("man/ocirun-gone.8"), "stale").unwrap();
    let out = Process::new(env!("CARGO_BIN_EXE_ocirun-gen"))
        .arg(&scratch.0)
        .env("SOURCE_DATE_EPOCH", "1735689600")
        .output()
        .expect("run ocirun-gen");
    assert!(out.status.success(), "ocirun-gen failed: {}", String::from_utf8_lossy(&out.stderr));
    for file in
        ["man/ocirun.8", "man/ocirun-run.8", "completions/ocirun", "completions/_ocirun", "completions/ocirun.fish"]
    {
        assert!(scratch.0.join(file).is_file(), "{file} written");
    }
    assert!(!scratch.0.join("man/ocirun-gone.8").exists(), "stale page removed");
    let root = std::fs::read_to_string(scratch.0.join("man/ocirun.8")).unwrap();
    assert!(root.contains(&format!(".TH ocirun 8 {DATE} ")), "date from SOURCE_DATE_EPOCH");
}

#[test]
fn pages_render_without_groff_warnings() {
    if Process::new("groff").arg("--version").output().is_err() {
        println!("skipped: groff is not installed (apt-get install groff-base)");
        return;
    }
    for page in ocirun_gen::man_pages(DATE).expect("render man pages") {
        let mut child = Process::new("groff")
            .args(["-man", "-Tutf8", "-ww", "-z"])
            .stdin(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn groff");
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), &page.contents).expect("feed groff");
        let out = child.wait_with_output().expect("wait for groff");
        let warnings = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && warnings.is_empty(), "{}: groff says: {warnings}", page.name);
    }
}
