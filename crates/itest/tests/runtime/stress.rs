//! Stress: many full lifecycles at once in one `--root`, with random ids, and commands racing on
//! the same container (two deletes at once, kill during create, state during delete, two starts).
//!
//! Every runtime call must either succeed or fail cleanly (an exit code, a message, no panic),
//! and afterwards the host must look as before: no process, mount, cgroup or state entry left.
//!
//! Sizes come from the environment so CI stays short and a person can push harder:
//!
//! ```text
//! cargo test -p itest -- stress::                                    # CI: 60 lifecycles, 16 at once
//! OCIRUN_STRESS_N=500 OCIRUN_STRESS_PAR=16 cargo test -p itest -- stress::
//! OCIRUN_STRESS_SEED=1234 cargo test -p itest -- stress::            # replay a printed seed
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use itest::fixture::TIMEOUT;
use itest::host::{self, Rng};
use itest::runtime::{command, run_with_deadline, runtime};
use itest::{note, Outcome, Test};
use serde_json::json;

/// What one worker needs to drive the runtime: shared, read-only.
struct Ctx {
    root: PathBuf,
    bundle: String,
    io: PathBuf,
    /// Distinct failure messages of racing commands (ids blanked), with counts, for the summary.
    failures: Mutex<BTreeMap<String, usize>>,
}

impl Ctx {
    /// Runs the runtime and fails the test if it crashed (whatever the exit code).
    fn rt(&self, args: &[&str]) -> Outcome {
        let mut cmd = command(runtime());
        cmd.arg("--root").arg(&self.root).args(args);
        let out = run_with_deadline(cmd, &self.io, TIMEOUT);
        assert!(!host::crashed(&out), "the runtime crashed: {out}");
        out
    }

    /// A command that races another on the same container: it may fail, but only cleanly, with
    /// a message, and never by calling the state corrupt (nothing here corrupts it).
    fn racing(&self, id: &str, args: &[&str]) -> Outcome {
        let out = self.rt(args);
        if out.code != Some(0) {
            assert!(!out.stderr.trim().is_empty(), "failure without a message: {out}");
            // B1 (reported, see faults.rs): a command that comes between create's mkdir and
            // its lock sees no state file. Counted in the summary; any other "corrupt" fails.
            let b1 = out.stderr.contains("state file is missing (creation was interrupted)");
            assert!(b1 || !out.stderr.contains("corrupt"), "a racing command saw the container as corrupt: {out}");
            let msg = out.stderr.trim().replace(id, "ID").replace(&*self.root.to_string_lossy(), "ROOT");
            *self.failures.lock().unwrap().entry(msg).or_default() += 1;
        }
        out
    }

    fn status(&self, id: &str) -> Option<String> {
        let out = self.rt(&["state", id]);
        (out.code == Some(0)).then(|| out.json()["status"].as_str().unwrap_or("").to_string())
    }

    #[track_caller]
    fn wait_status(&self, id: &str, want: &str) {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let now = self.status(id);
            if now.as_deref() == Some(want) {
                return;
            }
            assert!(Instant::now() < deadline, "{id} never reached {want}; last {now:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// After a lifecycle: the container is gone for the runtime too.
    #[track_caller]
    fn gone(&self, id: &str) {
        let out = self.rt(&["state", id]);
        out.expect_failure();
        assert!(out.stderr.contains("does not exist"), "deleted container still known: {out}");
    }
}

/// The racing situations a lifecycle can be put through.
#[derive(Debug, Clone, Copy)]
enum Scenario {
    Plain,
    DoubleDelete,
    KillDuringCreate,
    StateDuringDelete,
    DoubleStart,
}

const SCENARIOS: [Scenario; 5] = [
    Scenario::Plain,
    Scenario::DoubleDelete,
    Scenario::KillDuringCreate,
    Scenario::StateDuringDelete,
    Scenario::DoubleStart,
];

fn lifecycle(ctx: &Ctx, id: &str, scenario: Scenario, rng: &mut Rng) {
    let create = ["create", "--bundle", &ctx.bundle, id];
    match scenario {
        Scenario::Plain => {
            ctx.rt(&create).expect_ok();
            assert_eq!(ctx.status(id).as_deref(), Some("created"));
            ctx.rt(&["start", id]).expect_ok();
            assert_eq!(ctx.status(id).as_deref(), Some("running"));
            exec_hook(ctx, id);
            ctx.rt(&["kill", id, "KILL"]).expect_ok();
            ctx.wait_status(id, "stopped");
            ctx.rt(&["delete", id]).expect_ok();
        }
        Scenario::DoubleDelete => {
            ctx.rt(&create).expect_ok();
            if rng.below(2) == 0 {
                ctx.rt(&["start", id]).expect_ok();
            }
            let (a, b) = std::thread::scope(|s| {
                let a = s.spawn(|| ctx.racing(id, &["delete", "--force", id]));
                let b = s.spawn(|| ctx.racing(id, &["delete", "--force", id]));
                (a.join().unwrap(), b.join().unwrap())
            });
            assert!(a.code == Some(0) || b.code == Some(0), "neither delete succeeded:\n{a}\n{b}");
        }
        Scenario::KillDuringCreate => {
            let delay = Duration::from_millis(rng.below(40));
            let created = std::thread::scope(|s| {
                let c = s.spawn(|| ctx.rt(&create));
                std::thread::sleep(delay);
                ctx.racing(id, &["kill", id, "KILL"]);
                c.join().unwrap()
            });
            created.expect_ok();
            let st = ctx.status(id);
            assert!(matches!(st.as_deref(), Some("created" | "stopped")), "after kill during create: {st:?}");
            ctx.rt(&["delete", "--force", id]).expect_ok();
        }
        Scenario::StateDuringDelete => {
            ctx.rt(&create).expect_ok();
            ctx.rt(&["start", id]).expect_ok();
            std::thread::scope(|s| {
                let d = s.spawn(|| ctx.rt(&["delete", "--force", id]));
                for _ in 0..3 {
                    let out = ctx.racing(id, &["state", id]);
                    if out.code == Some(0) {
                        let st = out.json();
                        assert!(
                            matches!(st["status"].as_str(), Some("running" | "stopped")),
                            "state during delete: {out}"
                        );
                    } else {
                        assert!(out.stderr.contains("does not exist"), "state during delete: {out}");
                    }
                }
                d.join().unwrap().expect_ok();
            });
        }
        Scenario::DoubleStart => {
            ctx.rt(&create).expect_ok();
            let (a, b) = std::thread::scope(|s| {
                let a = s.spawn(|| ctx.racing(id, &["start", id]));
                let b = s.spawn(|| ctx.racing(id, &["start", id]));
                (a.join().unwrap(), b.join().unwrap())
            });
            let ok = [&a, &b].iter().filter(|o| o.code == Some(0)).count();
            assert_eq!(ok, 1, "two starts of one container: exactly one must succeed:\n{a}\n{b}");
            assert_eq!(ctx.status(id).as_deref(), Some("running"));
            ctx.rt(&["kill", id, "KILL"]).expect_ok();
            ctx.rt(&["delete", "--force", id]).expect_ok();
        }
    }
    ctx.gone(id);
}

/// TODO(exec): `ocirun exec` is being written on main. Until this branch merges it, the CLI
/// answers "unrecognized subcommand" and the stress loop runs no exec; once it exists this runs
/// one real `exec` in every plain lifecycle and requires it to succeed.
fn exec_hook(ctx: &Ctx, id: &str) {
    ctx.rt(&["exec", id, "/bin/true"]).expect_ok();
}

#[test]
fn parallel_lifecycles_leave_nothing_behind() {
    let Some(mut t) = Test::new() else { return };
    let n = host::env_usize("OCIRUN_STRESS_N", 60);
    let par = host::env_usize("OCIRUN_STRESS_PAR", 16).clamp(1, 64);
    let mut rng = Rng::from_env("OCIRUN_STRESS_SEED");
    let marker = t.dir.to_string_lossy().into_owned();
    t.args(&["sleep", "600"]);
    t.config["process"]["env"].as_array_mut().unwrap().push(json!(host::marker_env(&marker)));
    t.write_config();
    let prefix = format!("{}-", t.id);
    // Registered with the test, so its drop deletes them even if a worker panics half-way.
    let ids: Vec<String> = (0..n).map(|_| t.other_id(&rng.id(""))).collect();
    let plan: Vec<(String, Scenario, Rng)> =
        ids.iter().map(|id| (id.clone(), SCENARIOS[rng.below(5) as usize], rng.fork())).collect();
    let mounts_before = host::host_mounts(&t.dir);
    let ctx = Ctx { root: t.root.clone(), bundle: t.bundle_str(), io: t.dir.join("io"), failures: Mutex::default() };
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..par {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((id, scenario, rng)) = plan.get(i) else { break };
                lifecycle(&ctx, id, *scenario, &mut rng.clone());
            });
        }
    });
    note(&format!(
        "{n} lifecycles, {par} at once, in {:.1}s; clean failures of racing commands: {:#?}",
        started.elapsed().as_secs_f64(),
        ctx.failures.lock().unwrap()
    ));
    let procs = host::wait_marked_gone(&marker, Duration::from_secs(5));
    host::kill_marked(&marker);
    let cgroups = host::runtime_cgroups(&prefix);
    host::remove_cgroups(&cgroups);
    assert!(procs.is_empty(), "container processes left: {procs:#?}");
    assert!(cgroups.is_empty(), "cgroups left: {cgroups:#?}");
    assert_eq!(host::state_entries(&t.root), Vec::<String>::new(), "state left in the root");
    let changed = host::mount_changes(&mounts_before, &t.dir);
    assert!(changed.is_empty(), "the host's mount table changed:\n{changed}");
}
