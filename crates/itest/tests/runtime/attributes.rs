//! Process attributes applied before exec: scheduler, I/O priority, CPU affinity, personality
//! and memory policy, checked from inside the container.

use itest::Test;
use serde_json::json;

#[test]
fn scheduler_policy_and_nice() {
    let Some(mut t) = Test::new() else { return };
    t.config["process"]["scheduler"] = json!({"policy": "SCHED_BATCH", "nice": 5});
    let r = t.report();
    assert_eq!(r["scheduler"]["policy"], 3, "SCHED_BATCH is 3: {}", r["scheduler"]);
}

#[test]
fn scheduler_deadline_is_checked_before_clone_naming_the_field() {
    // crun 1.8 and runc 1.1 ignore process.scheduler (they run these); newer runc checks it
    // before it starts anything, as we do, where the kernel would say only EINVAL.
    let Some(mut t) = Test::new() else { return };
    let cases = [
        (json!({"policy": "SCHED_DEADLINE", "runtime": 100, "deadline": 1_000_000, "period": 1_000_000}), "runtime"),
        (json!({"policy": "SCHED_DEADLINE", "runtime": 2_000_000, "deadline": 1_000_000}), "runtime"),
        (json!({"policy": "SCHED_DEADLINE", "runtime": 100_000, "deadline": 0}), "deadline"),
        (json!({"policy": "SCHED_DEADLINE", "runtime": 100_000, "deadline": 1_000_000, "period": 10}), "period"),
        (json!({"policy": "SCHED_FIFO", "priority": 0}), "priority"),
    ];
    for (sched, field) in cases {
        t.config["process"]["scheduler"] = sched.clone();
        let out = t.run_reporter(&["exit", "0"]);
        out.expect_failure();
        let want = format!("process.scheduler.{field}");
        assert!(out.stderr.contains(&want), "{sched}: the error does not name {want}: {out}");
        assert!(!out.stderr.contains("init failed"), "{sched}: refused only inside the container: {out}");
    }
}

#[test]
fn io_priority() {
    let Some(mut t) = Test::new() else { return };
    t.config["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_BE", "priority": 5});
    let r = t.report();
    assert_eq!(r["ioprio"], json!((2 << 13) | 5), "{}", r["ioprio"]);
}

#[test]
fn exec_cpu_affinity_final() {
    let Some(mut t) = Test::new() else { return };
    t.config["process"]["execCPUAffinity"] = json!({"initial": "0", "final": "0"});
    let r = t.report();
    assert_eq!(r["cpu_affinity"], json!([0]), "{}", r["cpu_affinity"]);
}

#[test]
fn personality_linux32() {
    let Some(mut t) = Test::new() else { return };
    t.config["linux"]["personality"] = json!({"domain": "LINUX32"});
    let r = t.report();
    assert_eq!(r["personality"].as_u64().map(|p| p & 0xff), Some(8), "PER_LINUX32 is 8: {}", r["personality"]);
}

#[test]
fn memory_policy_is_applied_or_refused_clearly() {
    let Some(mut t) = Test::new() else { return };
    // Node 0 exists on every machine; MPOL_BIND to it is always valid.
    t.config["linux"]["memoryPolicy"] = json!({"mode": "MPOL_BIND", "nodes": "0"});
    t.args(&["cat", "/proc/self/status"]);
    let out = t.run();
    out.expect_code(0);
    t.config["linux"]["memoryPolicy"] = json!({"mode": "MPOL_NOPE"});
    let out = t.run();
    out.expect_code(1);
    assert!(out.stderr.contains("linux.memoryPolicy.mode"), "{out}");
}
