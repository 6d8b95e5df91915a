//! The command-line definition (also the source of the man page and completions).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Version text: version, commit, spec version and compiled-in features.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    "\ncommit: ",
    env!("OCIRUN_COMMIT"),
    "\nspec: 1.2.0\n+CAP +SECCOMP +CGROUPV1 +CGROUPV2 +SYSTEMD +IDMAP +HOOKS +NETDEVICES +ROOTLESS"
);

/// An OCI container runtime: create, start, exec into, signal and delete containers.
#[derive(Debug, Parser)]
#[command(name = "ocirun", long_about = None, disable_help_subcommand = true, disable_version_flag = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    /// Print the version, commit, spec version and features
    #[arg(short = 'v', long)]
    pub version: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct Global {
    /// Directory for container state
    #[arg(long, global = true, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Log file, as a path or `file:PATH` (warnings and errors are also written to stderr)
    #[arg(long, global = true, value_name = "FILE", value_parser = log_destination)]
    pub log: Option<PathBuf>,
    /// Log format
    #[arg(long = "log-format", global = true, value_name = "text|json", value_parser = ["text", "json"])]
    pub log_format: Option<String>,
    /// Log debug messages (as --log-level debug)
    #[arg(long, global = true)]
    pub debug: bool,
    /// Messages to log: errors only, errors and warnings (the default), or also debug
    #[arg(long = "log-level", global = true, value_name = "error|warning|debug", value_parser = ["error", "warning", "debug"])]
    pub log_level: Option<String>,
    /// Use the systemd cgroup driver (as --cgroup-manager systemd)
    #[arg(long = "systemd-cgroup", global = true)]
    pub systemd_cgroup: bool,
    /// How containers get a cgroup: made in the cgroup file system, a systemd scope, or none
    /// (the container stays in the caller's cgroup and linux.resources is not applied)
    #[arg(long = "cgroup-manager", global = true, value_name = "cgroupfs|systemd|disabled", value_parser = ["cgroupfs", "systemd", "disabled"])]
    pub cgroup_manager: Option<String>,
    /// Run without privileges (auto, true or false); with `spec`, write a rootless config
    #[arg(long, global = true, value_name = "auto|true|false", num_args = 0..=1, default_missing_value = "true")]
    pub rootless: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a container (it waits for `start`)
    Create(CreateArgs),
    /// Start a created container
    Start(IdArg),
    /// Create and start a container, and wait for it unless detached
    Run(RunArgs),
    /// Print a container's state as JSON
    State(IdArg),
    /// Run a new process in a running container
    Exec(ExecArgs),
    /// Send a signal to a container's init (or all its processes)
    Kill(KillArgs),
    /// Delete a container
    Delete(DeleteArgs),
    /// List containers
    #[command(alias = "ls")]
    List(ListArgs),
    /// Write a default config.json
    Spec(SpecArgs),
    /// Print the features this runtime supports, as JSON
    Features,
    /// Freeze every process of a container
    Pause(IdArg),
    /// Thaw a paused container
    Resume(IdArg),
    /// Change a container's resource limits
    Update(UpdateArgs),
    /// List a container's processes
    Ps(PsArgs),
    /// Print a container's resource usage and OOM kills as JSON events
    Events(EventsArgs),
    /// Save a running container's processes with criu (the container is then deleted unless
    /// left running)
    Checkpoint(CheckpointArgs),
    /// Restore a checkpoint as a new container of a bundle
    Restore(RestoreArgs),
}

#[derive(Debug, Args)]
pub struct IdArg {
    /// Container id
    pub id: String,
}

#[derive(Debug, Args, Clone)]
pub struct CreateArgs {
    /// Container id
    pub id: String,
    /// Bundle directory
    #[arg(short, long, value_name = "DIR", default_value = ".")]
    pub bundle: PathBuf,
    /// Config file to use instead of the bundle's config.json (relative to the working directory)
    #[arg(short = 'f', long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Unix socket that receives the pty master
    #[arg(long = "console-socket", value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// File to write the container's init pid to
    #[arg(long = "pid-file", value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// Use MS_MOVE and chroot instead of pivot_root (less safe)
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Do not create a new session keyring
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    /// Pass N extra fds (3..3+N) to the container
    #[arg(long = "preserve-fds", value_name = "N", default_value_t = 0)]
    pub preserve_fds: u32,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub create: CreateArgs,
    /// Return once the container started
    #[arg(short, long)]
    pub detach: bool,
    /// Keep the container's state after it exits
    #[arg(long)]
    pub keep: bool,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Container id
    pub id: String,
    /// Command and arguments (not with --process)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
    /// JSON file with the process to run (the runtime spec's `process` object)
    #[arg(short, long, value_name = "FILE")]
    pub process: Option<PathBuf>,
    /// Allocate a pseudo-terminal
    #[arg(short, long)]
    pub tty: bool,
    /// Unix socket that receives the pty master
    #[arg(long = "console-socket", value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// Return once the process started
    #[arg(short, long)]
    pub detach: bool,
    /// File to write the process's pid to
    #[arg(long = "pid-file", value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// Working directory in the container
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<String>,
    /// Set an environment variable (repeatable)
    #[arg(short, long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// User id and optional group id
    #[arg(short, long, value_name = "UID[:GID]")]
    pub user: Option<String>,
    /// Additional group ids (repeatable)
    #[arg(short = 'g', long = "additional-gids", value_name = "GID")]
    pub additional_gids: Vec<u32>,
    /// Add a capability (repeatable): to the bounding, effective and permitted sets, and to the ambient set where the process has it inheritable
    #[arg(short, long = "cap", value_name = "CAP")]
    pub cap: Vec<String>,
    /// Set no_new_privs for the process
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    /// SELinux label of the process
    #[arg(long = "process-label", value_name = "LABEL")]
    pub process_label: Option<String>,
    /// AppArmor profile of the process
    #[arg(long, value_name = "PROFILE")]
    pub apparmor: Option<String>,
    /// Pass N extra fds (3..3+N)
    #[arg(long = "preserve-fds", value_name = "N", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Run in an existing sub-cgroup of the container (repeatable); with controllers, only in
    /// their cgroup v1 hierarchies
    #[arg(long, value_name = "[CONTROLLER[,CONTROLLER]:]PATH")]
    pub cgroup: Vec<String>,
    /// Allow exec into a paused container
    #[arg(long = "ignore-paused")]
    pub ignore_paused: bool,
    /// Unix socket that receives a pidfd of the new process
    #[arg(long = "pidfd-socket", value_name = "PATH")]
    pub pidfd_socket: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct KillArgs {
    /// Container id (with --regex, a pattern)
    pub id: String,
    /// Signal name or number
    #[arg(default_value = "TERM")]
    pub signal: String,
    /// Signal every process of the container
    #[arg(short, long)]
    pub all: bool,
    /// The id is a POSIX extended regular expression: signal every container whose id it matches
    #[arg(short, long)]
    pub regex: bool,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// Container id (with --regex, a pattern)
    pub id: String,
    /// Kill the container first if it runs; a container that does not exist is not an error
    #[arg(short, long)]
    pub force: bool,
    /// The id is a POSIX extended regular expression: delete every container whose id it matches
    #[arg(short, long)]
    pub regex: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print only ids
    #[arg(short, long)]
    pub quiet: bool,
    /// Output format
    #[arg(short, long, value_name = "table|json", default_value = "table", value_parser = ["table", "json"])]
    pub format: String,
}

#[derive(Debug, Args)]
pub struct SpecArgs {
    /// Directory to write config.json to
    #[arg(short, long, value_name = "DIR", default_value = ".")]
    pub bundle: PathBuf,
}

/// `update`: each option sets one `linux.resources` field; unset options leave it as it is.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Container id
    pub id: String,
    /// Read the new linux.resources as JSON from FILE (`-`: stdin); other options are ignored
    #[arg(short = 'r', long, value_name = "FILE")]
    pub resources: Option<PathBuf>,
    /// Memory limit (bytes, or with a unit: 64m, 1g; -1: unlimited)
    #[arg(long, value_name = "SIZE", allow_hyphen_values = true)]
    pub memory: Option<String>,
    /// Memory plus swap limit (-1: unlimited swap)
    #[arg(long = "memory-swap", value_name = "SIZE", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Memory soft limit
    #[arg(long = "memory-reservation", value_name = "SIZE", allow_hyphen_values = true)]
    pub memory_reservation: Option<String>,
    /// Kernel memory limit (deprecated; ignored where the kernel has none)
    #[arg(long = "kernel-memory", value_name = "SIZE", allow_hyphen_values = true)]
    pub kernel_memory: Option<String>,
    /// Kernel TCP buffer memory limit (cgroup v1)
    #[arg(long = "kernel-memory-tcp", value_name = "SIZE", allow_hyphen_values = true)]
    pub kernel_memory_tcp: Option<String>,
    /// CPU shares (relative weight)
    #[arg(long = "cpu-shares", visible_alias = "cpu-share", value_name = "N")]
    pub cpu_shares: Option<u64>,
    /// CFS quota per period, microseconds (-1: unlimited)
    #[arg(long = "cpu-quota", value_name = "USEC", allow_negative_numbers = true)]
    pub cpu_quota: Option<i64>,
    /// CFS period, microseconds
    #[arg(long = "cpu-period", value_name = "USEC")]
    pub cpu_period: Option<u64>,
    /// CFS burst, microseconds
    #[arg(long = "cpu-burst", value_name = "USEC")]
    pub cpu_burst: Option<u64>,
    /// Realtime period, microseconds
    #[arg(long = "cpu-rt-period", value_name = "USEC")]
    pub cpu_rt_period: Option<u64>,
    /// Realtime runtime per period, microseconds
    #[arg(long = "cpu-rt-runtime", value_name = "USEC", allow_negative_numbers = true)]
    pub cpu_rt_runtime: Option<i64>,
    /// CPUs to run on (e.g. 0-3,7)
    #[arg(long = "cpuset-cpus", value_name = "LIST")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes to use
    #[arg(long = "cpuset-mems", value_name = "LIST")]
    pub cpuset_mems: Option<String>,
    /// Maximum number of processes (0 or -1: unlimited)
    #[arg(long = "pids-limit", value_name = "N", allow_negative_numbers = true)]
    pub pids_limit: Option<i64>,
    /// Block I/O weight, 10 to 1000
    #[arg(long = "blkio-weight", value_name = "N")]
    pub blkio_weight: Option<u16>,
}

#[derive(Debug, Args)]
pub struct PsArgs {
    /// Output format: a `ps` table, or a JSON array of host pids
    #[arg(short, long, value_name = "table|json", default_value = "table", value_parser = ["table", "json"])]
    pub format: String,
    /// Container id
    pub id: String,
    /// Options for ps (default -ef), table format only
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_name = "PS-OPTIONS")]
    pub ps_args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Container id
    pub id: String,
    /// Print the stats once and exit
    #[arg(long)]
    pub stats: bool,
    /// Time between stats events (e.g. 5s, 500ms)
    #[arg(long, value_name = "DURATION", default_value = "5s")]
    pub interval: String,
}

#[derive(Debug, Args)]
pub struct CheckpointArgs {
    /// Container id
    pub id: String,
    /// Directory for the checkpoint images (created if missing)
    #[arg(long = "image-path", value_name = "DIR", default_value = "checkpoint")]
    pub image_path: PathBuf,
    /// Directory for criu's log and work files (default: the image directory)
    #[arg(long = "work-path", value_name = "DIR")]
    pub work_path: Option<PathBuf>,
    /// Keep the container running after the checkpoint
    #[arg(long = "leave-running")]
    pub leave_running: bool,
    /// Save established TCP connections
    #[arg(long = "tcp-established")]
    pub tcp_established: bool,
    /// Save file locks
    #[arg(long = "file-locks")]
    pub file_locks: bool,
    /// Only save memory and leave the container running, for a later checkpoint with --parent-path
    #[arg(long = "pre-dump")]
    pub pre_dump: bool,
    /// Images of an earlier --pre-dump (relative to the image directory, or absolute): only
    /// memory changed since is saved
    #[arg(long = "parent-path", value_name = "DIR")]
    pub parent_path: Option<PathBuf>,
    /// How criu treats cgroups
    #[arg(long = "manage-cgroups-mode", value_name = "soft|full|strict|ignore", value_parser = ["soft", "full", "strict", "ignore"])]
    pub manage_cgroups_mode: Option<String>,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// Container id
    pub id: String,
    /// Directory holding the checkpoint images
    #[arg(long = "image-path", value_name = "DIR", default_value = "checkpoint")]
    pub image_path: PathBuf,
    /// Directory for criu's log and work files (default: the image directory)
    #[arg(long = "work-path", value_name = "DIR")]
    pub work_path: Option<PathBuf>,
    /// Restore established TCP connections
    #[arg(long = "tcp-established")]
    pub tcp_established: bool,
    /// Restore file locks
    #[arg(long = "file-locks")]
    pub file_locks: bool,
    /// How criu treats cgroups
    #[arg(long = "manage-cgroups-mode", value_name = "soft|full|strict|ignore", value_parser = ["soft", "full", "strict", "ignore"])]
    pub manage_cgroups_mode: Option<String>,
    /// Bundle directory
    #[arg(short, long, value_name = "DIR", default_value = ".")]
    pub bundle: PathBuf,
    /// Return once restored instead of waiting for the container to exit
    #[arg(short, long)]
    pub detach: bool,
    /// File to write the restored init's pid to
    #[arg(long = "pid-file", value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
}

/// `--log`: a path, or crun's `TYPE:VALUE` form of which only `file:` is a file. `syslog:` and
/// `journald:` are refused rather than written to a file of that name, as is any other type.
fn log_destination(v: &str) -> Result<PathBuf, String> {
    match v.split_once(':') {
        Some(("file", path)) if !path.is_empty() => Ok(PathBuf::from(path)),
        Some((kind @ ("syslog" | "journald"), _)) => {
            Err(format!("log destination {kind}: is not supported; give a file path or file:PATH"))
        }
        Some((kind, _)) if !kind.contains('/') => {
            Err(format!("unknown log type {kind:?}; give a file path or file:PATH"))
        }
        _ => Ok(PathBuf::from(v)),
    }
}
