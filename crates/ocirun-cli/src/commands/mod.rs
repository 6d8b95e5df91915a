//! One function per command: turn parsed arguments into one library call.

mod cgroups;

use std::io::Write;

use ocirun::{CreateOptions, Error, RunOptions, Runtime};

use crate::cli::{Cli, Command, CreateArgs};

fn runtime(cli: &Cli) -> Runtime {
    let root = cli.global.root.clone().unwrap_or_else(ocirun::rootless::default_root);
    let mut rt = Runtime::new(root);
    // crun: the last of --systemd-cgroup and --cgroup-manager wins; clap cannot tell their
    // order, so an explicit --cgroup-manager decides.
    match cli.global.cgroup_manager.as_deref() {
        Some("systemd") => rt.systemd_cgroup = true,
        Some("disabled") => rt.no_cgroup = true,
        Some(_) => {}
        None => rt.systemd_cgroup = cli.global.systemd_cgroup,
    }
    rt.rootless = match cli.global.rootless.as_deref() {
        Some("true") => true,
        Some("false") => false,
        _ => rt.rootless,
    };
    rt
}

fn create_options(a: &CreateArgs) -> CreateOptions {
    let mut o = CreateOptions::new(&a.bundle);
    // crun resolves a relative --config against the working directory, not the bundle.
    o.config = a.config.as_ref().map(|c| std::env::current_dir().map(|d| d.join(c)).unwrap_or_else(|_| c.clone()));
    o.console_socket = a.console_socket.clone();
    o.pid_file = a.pid_file.clone();
    o.no_pivot = a.no_pivot;
    o.no_new_keyring = a.no_new_keyring;
    o.preserve_fds = a.preserve_fds;
    o.listen_fds = listen_fds();
    o.notify_socket = std::env::var_os("NOTIFY_SOCKET").filter(|s| !s.is_empty()).map(Into::into);
    o
}

/// Socket activation: the fds systemd passed us, when `LISTEN_PID` names this process.
fn listen_fds() -> u32 {
    let ours = std::env::var("LISTEN_PID").ok().and_then(|p| p.parse::<u32>().ok()) == Some(std::process::id());
    if !ours {
        return 0;
    }
    std::env::var("LISTEN_FDS").ok().and_then(|n| n.parse().ok()).unwrap_or(0)
}

fn print_json(v: &impl serde::Serialize) -> Result<(), Error> {
    let s = serde_json::to_string_pretty(v).map_err(|e| Error::InvalidArgument(e.to_string()))?;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{s}");
    Ok(())
}

/// Run the parsed command; returns the process exit code.
pub fn dispatch(cli: Cli) -> Result<i32, Error> {
    let rt = runtime(&cli);
    let Some(command) = &cli.command else {
        if cli.version {
            // A reader that stops early (`ocirun --version | head -1`) is no error.
            let _ = writeln!(std::io::stdout(), "ocirun version {}", crate::cli::VERSION);
            return Ok(0);
        }
        return Err(Error::InvalidArgument("no command given: see `ocirun --help`".into()));
    };
    match command {
        Command::Create(a) => {
            let c = rt.create(&a.id, &create_options(a))?;
            for w in &c.warnings {
                log::warn!("{w}");
            }
            Ok(0)
        }
        Command::Start(a) => rt.start(&a.id).map(|_| 0),
        Command::Run(a) => {
            rt.run(&a.create.id, &create_options(&a.create), &RunOptions::default().detach(a.detach).keep(a.keep))
        }
        Command::State(a) => print_json(&rt.state(&a.id)?).map(|_| 0),
        Command::Exec(a) => exec(&rt, a),
        Command::Kill(a) => {
            let sig = ocirun::container::signal::parse(&a.signal)?;
            if a.regex {
                return for_each_match(&rt, &a.id, |id| rt.kill(id, sig, a.all));
            }
            rt.kill(&a.id, sig, a.all).map(|_| 0)
        }
        Command::Delete(a) => {
            if a.regex {
                return for_each_match(&rt, &a.id, |id| rt.delete(id, a.force));
            }
            rt.delete(&a.id, a.force).map(|_| 0)
        }
        Command::List(a) => list(&rt, a.quiet, &a.format),
        Command::Spec(a) => spec(&a.bundle, cli.global.rootless.as_deref() == Some("true")),
        Command::Features => print_json(&ocirun::features::features()).map(|_| 0),
        Command::Pause(a) => rt.pause(&a.id).map(|_| 0),
        Command::Resume(a) => rt.resume(&a.id).map(|_| 0),
        Command::Update(a) => cgroups::update(&rt, a),
        Command::Ps(a) => cgroups::ps(&rt, a),
        Command::Events(a) => cgroups::events(&rt, a),
        Command::Checkpoint(a) => checkpoint(&rt, a),
        Command::Restore(a) => restore(&rt, a),
    }
}

fn cgroups_mode(m: &Option<String>) -> Result<Option<ocirun::ManageCgroups>, Error> {
    m.as_deref().map(str::parse).transpose()
}

fn checkpoint(rt: &Runtime, a: &crate::cli::CheckpointArgs) -> Result<i32, Error> {
    let mut o = ocirun::CheckpointOptions::new(&a.image_path);
    o.work_path = a.work_path.clone();
    o.leave_running = a.leave_running;
    o.tcp_established = a.tcp_established;
    o.file_locks = a.file_locks;
    o.pre_dump = a.pre_dump;
    o.parent_path = a.parent_path.clone();
    o.manage_cgroups = cgroups_mode(&a.manage_cgroups_mode)?;
    rt.checkpoint(&a.id, &o).map(|()| 0)
}

fn restore(rt: &Runtime, a: &crate::cli::RestoreArgs) -> Result<i32, Error> {
    let mut o = ocirun::RestoreOptions::new(&a.bundle, &a.image_path);
    o.work_path = a.work_path.clone();
    o.tcp_established = a.tcp_established;
    o.file_locks = a.file_locks;
    o.manage_cgroups = cgroups_mode(&a.manage_cgroups_mode)?;
    o.detach = a.detach;
    o.pid_file = a.pid_file.clone();
    rt.restore(&a.id, &o)
}

/// `--regex`: apply `op` to every container whose id matches `pattern` (unanchored POSIX
/// ERE, as crun). A failure on one container is a warning and the others go on; the command
/// fails only when the pattern is invalid or the containers cannot be listed.
fn for_each_match(rt: &Runtime, pattern: &str, op: impl Fn(&str) -> Result<(), Error>) -> Result<i32, Error> {
    let re = ocirun::sys::regex::Regex::new(pattern)?;
    for c in rt.list()? {
        if re.is_match(&c.id) {
            if let Err(e) = op(&c.id) {
                log::warn!("{}: {e}", c.id);
            }
        }
    }
    Ok(0)
}

fn exec(rt: &Runtime, a: &crate::cli::ExecArgs) -> Result<i32, Error> {
    let process = match &a.process {
        Some(path) => {
            if !a.command.is_empty() {
                return Err(Error::InvalidArgument("give either --process or a command, not both".into()));
            }
            let data = std::fs::read(path).map_err(|e| ocirun::error::SysError::io("read", path, &e))?;
            let mut p: ocirun::spec::Process = serde_json::from_slice(&data)
                .map_err(|e| Error::SpecLoad { path: path.clone(), reason: e.to_string() })?;
            p.terminal |= a.tty;
            p
        }
        None => {
            if a.command.is_empty() {
                return Err(Error::InvalidArgument("exec needs a command (or --process FILE)".into()));
            }
            let user = match &a.user {
                None => None,
                Some(u) => Some(parse_user(u)?),
            };
            let mut o = ocirun::ProcessOverrides::new(a.command.clone());
            o.env = a.env.clone();
            o.cwd = a.cwd.clone();
            o.user = user;
            o.additional_gids = a.additional_gids.clone();
            o.caps = a.cap.clone();
            o.no_new_privs = a.no_new_privs;
            o.tty = a.tty;
            o.apparmor = a.apparmor.clone();
            o.process_label = a.process_label.clone();
            ocirun::container::exec::process_from(&rt.container_process(&a.id)?, &o)
        }
    };
    let mut opts = ocirun::ExecOptions::new(process);
    opts.console_socket = a.console_socket.clone();
    opts.detach = a.detach;
    opts.pid_file = a.pid_file.clone();
    opts.preserve_fds = a.preserve_fds;
    opts.ignore_paused = a.ignore_paused;
    opts.sub_cgroup = a.cgroup.clone();
    opts.pidfd_socket = a.pidfd_socket.clone();
    match rt.exec(&a.id, &opts) {
        // The process could not be set up or started inside the container (its program is
        // missing, say): exit 255 as runc does, and as crun does for a program it cannot
        // execute, so a caller tells it from the program's own exit codes. Errors before
        // that (no such container, not running) stay 1.
        Err(e) if e.child_error().is_some() => {
            log::error!("{e}");
            Ok(255)
        }
        r => r,
    }
}

fn parse_user(s: &str) -> Result<(u32, Option<u32>), Error> {
    let bad = || Error::InvalidArgument(format!("--user {s:?}: expected UID[:GID] as numbers"));
    let (u, g) = match s.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (s, None),
    };
    let uid = u.parse().map_err(|_| bad())?;
    let gid = match g {
        Some(g) => Some(g.parse().map_err(|_| bad())?),
        None => None,
    };
    Ok((uid, gid))
}

fn list(rt: &Runtime, quiet: bool, format: &str) -> Result<i32, Error> {
    let all = rt.list()?;
    let mut out = std::io::stdout().lock();
    if quiet {
        for c in &all {
            let _ = writeln!(out, "{}", c.id);
        }
    } else if format == "json" {
        drop(out);
        print_json(&all)?;
    } else {
        let w = all.iter().map(|c| c.id.len()).max().unwrap_or(2).max(2);
        let _ =
            writeln!(out, "{:<w$}  {:<8}  {:<8}  {:<40}  {:<30}  OWNER", "ID", "PID", "STATUS", "BUNDLE", "CREATED");
        for c in &all {
            let _ = writeln!(
                out,
                "{:<w$}  {:<8}  {:<8}  {:<40}  {:<30}  {}",
                c.id, c.pid, c.status, c.bundle, c.created, c.owner
            );
        }
    }
    Ok(0)
}

fn spec(bundle: &std::path::Path, rootless: bool) -> Result<i32, Error> {
    let path = bundle.join("config.json");
    if path.exists() {
        return Err(Error::InvalidArgument(format!("{} already exists: remove it first", path.display())));
    }
    let s = ocirun::spec::default::spec(rootless);
    let data = serde_json::to_string_pretty(&s).map_err(|e| Error::InvalidArgument(e.to_string()))?;
    std::fs::write(&path, data + "\n").map_err(|e| ocirun::error::SysError::io("write", &path, &e))?;
    Ok(0)
}
