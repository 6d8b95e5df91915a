#!/usr/bin/env bash
# The whole test suite, as root on a fresh Debian 12 machine: installs what it needs, builds,
# runs the unit and kernel tests, the integration tests (against the built ocirun), the
# library examples, the packaging (static binary, make install, .deb), the engines (podman,
# Docker, containerd), the benchmark's quick mode, bounded fuzzing, and the cgroup-dependent
# tests again in pure cgroup v2 and pure v1 guests (tests/vm).
#
# Every step runs under a deadline: a hang fails that step, naming it, and the suite goes on
# to the next one. A step that cannot run here exits 77 after printing why; it is counted as
# skipped, never as passed. The last line counts the steps: `suites: N passed, N failed, N skipped`.
# Logs of every step are kept in target/test-logs/.
set -uo pipefail
cd "$(dirname "$0")/.."
logs=target/test-logs
mkdir -p "$logs"
passed=0 failed=0 skipped=0
failures=() skips=()
t_suite=$(date +%s)

# step NAME SECONDS COMMAND...: run COMMAND with a deadline, show and keep its output, count it.
step() {
    local name=$1 limit=$2
    shift 2
    local log="$logs/$name.log" t0 rc
    t0=$(date +%s)
    echo "== $name (deadline ${limit}s)"
    # Through bash, so that NAME's command may be one of the functions below. Output goes to a
    # file that tail follows until the step ends: a daemon a step leaves behind could hold a
    # pipe open for ever, but not a file.
    : > "$log"
    timeout --kill-after=30 "$limit" bash -c "$(declare -f); \"\$@\"" step "$@" < /dev/null > "$log" 2>&1 &
    local pid=$!
    tail -n +1 -f --pid="$pid" "$log" &
    local tailpid=$!
    wait "$pid"
    rc=$?
    wait "$tailpid" 2>/dev/null
    local took=$(($(date +%s) - t0))
    case $rc in
        0) passed=$((passed + 1)); echo "-- $name: passed in ${took}s" ;;
        77) skipped=$((skipped + 1)); skips+=("$name"); echo "-- $name: SKIPPED in ${took}s (reason above)" ;;
        124 | 137) failed=$((failed + 1)); failures+=("$name (hung: killed at its ${limit}s deadline)")
            echo "-- $name: FAILED: still running after ${limit}s, killed" ;;
        *) failed=$((failed + 1)); failures+=("$name (exit $rc)"); echo "-- $name: FAILED (exit $rc) in ${took}s" ;;
    esac
}

install_packages() {
    local need=() pkg
    for pkg in busybox-static crun runc hyperfine file python3 iproute2 time make man-db groff-base uidmap gcc \
        systemd strace debootstrap qemu-system-x86 e2fsprogs; do
        dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
    done
    [ ${#need[@]} -eq 0 ] && { echo "all packages present"; return 0; }
    echo "installing: ${need[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
}

# The host's cgroup state, printed so a reader knows what the runtimes saw (nothing is changed).
host_cgroups() {
    if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
        echo "host cgroups: pure v2 (controllers: $(cat /sys/fs/cgroup/cgroup.controllers))"
    elif [ -f /sys/fs/cgroup/unified/cgroup.controllers ]; then
        echo "host cgroups: hybrid; cgroup2 controllers: [$(cat /sys/fs/cgroup/unified/cgroup.controllers)]," \
            "enabled at its root: [$(cat /sys/fs/cgroup/unified/cgroup.subtree_control)]"
    else
        echo "host cgroups: pure v1"
    fi
}

fuzz() {
    command -v cargo-fuzz >/dev/null || cargo install -q cargo-fuzz --locked || return 1
    bash fuzz/run-bounded.sh 10
}

step install 1200 install_packages
host_cgroups
step build 1800 cargo build -q --workspace
step unit 1200 cargo test -q --workspace --exclude itest
step oci-spec 1200 bash -c 'cargo test -q -p ocirun --features oci-spec --test oci_spec && RUSTDOCFLAGS="-D warnings" cargo doc -q --no-deps -p ocirun --features oci-spec'
step integration 2400 cargo test -q -p itest -- --test-threads=4
if [ -f "$logs/integration.log" ]; then
    n=$(grep -c 'SKIP: ' "$logs/integration.log" || true)
    echo "integration: $n test(s) skipped, each with its reason:"
    grep 'SKIP: ' "$logs/integration.log" | sed 's/^/   /' || true
fi
step examples 600 bash -c 'cargo build -q --examples -p ocirun && bash scripts/examples.sh target/debug/examples'
step packaging-install 1800 bash packaging/tests/install.sh
step packaging-deb 900 bash packaging/tests/deb.sh
static=target/x86_64-unknown-linux-gnu/release/ocirun
step engines 2400 python3 tests/engines/run --runtime "$static" --quick
step bench 900 python3 bench/run --quick --ocirun "$static"
step fuzz 900 fuzz
# Last: the cgroup-dependent tests in a pure cgroup v2 and a pure v1 guest (QEMU, software
# emulation; the first run also builds the guest image, cached by recipe under target/vm).
step vm-guests 2700 bash tests/vm/run-suite.sh

echo
echo "suite time: $(($(date +%s) - t_suite))s"
for f in "${failures[@]}"; do echo "failed: $f"; done
for s in "${skips[@]}"; do echo "skipped: $s"; done
echo "suites: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
