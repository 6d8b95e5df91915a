#!/usr/bin/env bash
# Run the library's examples and the external consumers (a plain threaded program and a tokio
# program, built outside the workspace) against a busybox bundle made here; fail if any fails.
# Every run is bounded: a hang fails within a minute, naming the program.
set -euo pipefail
ex=${1:-target/debug/examples}
limit=${EXAMPLE_TIMEOUT:-60}
work=$(mktemp -d /tmp/ocirun-examples.XXXXXX)
ocirun="$PWD/target/debug/ocirun"
# The programs keep their state roots under $TMPDIR: a program killed for hanging leaves its
# container there, and it is deleted here (with its cgroup) before the directory goes.
export TMPDIR="$work/tmp"
mkdir -p "$TMPDIR"
cleanup() {
    for r in "$TMPDIR"/*/; do
        [ -d "$r" ] || continue
        for id in $("$ocirun" --root "$r" list -q 2>/dev/null); do
            "$ocirun" --root "$r" delete -f "$id" >/dev/null 2>&1 || true
        done
    done
    rm -rf --one-file-system "$work"
}
trap cleanup EXIT
passed=0
failed=0

# bounded NAME CMD...: run CMD with a time limit; a hang or a failure is reported by NAME.
bounded() {
    local name=$1 rc=0
    shift
    timeout --kill-after=5 "$limit" "$@" || rc=$?
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        echo "examples: $name hung: no exit within ${limit}s" >&2
        failed=$((failed + 1))
        return 1
    elif [ "$rc" -ne 0 ]; then
        echo "examples: $name failed with exit code $rc" >&2
        failed=$((failed + 1))
        return 1
    fi
    passed=$((passed + 1))
}

set_args() {
    python3 - "$work/b/config.json" "$@" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["process"]["terminal"] = False
c["process"]["args"] = sys.argv[2:]
json.dump(c, open(p, "w"))
PY
}

mkdir -p "$work/b/rootfs/bin" "$work/b/rootfs/proc" "$work/b/rootfs/dev" "$work/b/rootfs/sys"
cp "$(command -v busybox)" "$work/b/rootfs/bin/busybox"
for app in sh sleep true; do ln -s busybox "$work/b/rootfs/bin/$app"; done
"$ex/../ocirun" spec -b "$work/b" 2>/dev/null || ./target/debug/ocirun spec -b "$work/b"

set_args sh -c "exit 3"
if bounded run "$ex/run" "$work/b" >"$work/run.out"; then
    cat "$work/run.out"
    if ! grep -q "exited with 3" "$work/run.out"; then
        echo "examples: run printed no 'exited with 3'" >&2
        failed=$((failed + 1))
        passed=$((passed - 1))
    fi
fi
set_args sleep 600
bounded exec "$ex/exec" "$work/b" || true
bounded tokio "$ex/tokio" "$work/b" || true
bounded list "$ex/list" "$work/none" >/dev/null || true

# Crates outside the workspace that depend on ocirun by path. Building is not bounded (it
# can take minutes on a cold cache); running is.
ext="$PWD/target/external"
CARGO_TARGET_DIR="$ext" cargo build -q --manifest-path tests/external-consumer/Cargo.toml
bounded external-consumer-threaded "$ext/debug/threaded" "$work/b" || true
bounded external-consumer-tokio "$ext/debug/tokio" "$work/b" || true
echo "examples: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
