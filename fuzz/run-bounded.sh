#!/usr/bin/env bash
# Runs every fuzz target for a bounded time and fails on the first crash.
#
#   fuzz/run-bounded.sh SECONDS [TARGET...]     # CI: fuzz/run-bounded.sh 30
#
# First each target replays its files in fuzz/regressions/TARGET/ (inputs that once crashed
# it; each must now run clean), then fuzzes for SECONDS starting from the committed seeds in
# fuzz/corpus/TARGET/. New inputs go to a scratch corpus, so the committed seeds never grow by
# themselves. A crash leaves its input in fuzz/artifacts/TARGET/: copy it into
# fuzz/regressions/TARGET/ once it is understood and reported. Uses the nightly toolchain when
# rustup has one; otherwise the stable one with RUSTC_BOOTSTRAP=1 (cargo-fuzz passes -Z flags,
# and stable ships the sanitizer runtime), so a fresh machine with only stable fuzzes too. Needs
# cargo-fuzz (`cargo install cargo-fuzz`). Prints one line per target with executions and time.
set -euo pipefail

secs=${1:?usage: run-bounded.sh SECONDS [TARGET...]}
shift
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(spec_parse_validate seccomp_compile state_load)
fi

if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    toolchain=nightly
else
    toolchain=stable
    export RUSTC_BOOTSTRAP=1
    echo "fuzz: no nightly toolchain; building with stable and RUSTC_BOOTSTRAP=1"
fi
cargo +$toolchain fuzz build -O
scratch=$(mktemp -d /tmp/ocirun-fuzz.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
# The state_load target keeps its state store here (on tmpfs when /dev/shm exists).
statedir=$(mktemp -d /dev/shm/ocirun-fuzz-state.XXXXXX 2>/dev/null || mktemp -d /tmp/ocirun-fuzz-state.XXXXXX)
trap 'rm -rf "$scratch" "$statedir"' EXIT
export OCIRUN_FUZZ_STATE_DIR="$statedir/root"

failed=0
for t in "${targets[@]}"; do
    mkdir -p "$scratch/$t" "artifacts/$t"
    regressions=(regressions/"$t"/*)
    if [ -e "${regressions[0]}" ]; then
        if ! cargo +$toolchain fuzz run -O "$t" "${regressions[@]}" -- -runs=1 >"$scratch/$t.replay.log" 2>&1; then
            echo "FAIL $t: a regression input crashes again:"
            tail -40 "$scratch/$t.replay.log"
            failed=1
            continue
        fi
        echo "ok   $t: ${#regressions[@]} regression input(s) replayed"
    fi
    start=$(date +%s)
    if cargo +$toolchain fuzz run -O "$t" "$scratch/$t" "corpus/$t" -- \
        -max_total_time="$secs" -print_final_stats=1 -rss_limit_mb=2048 -timeout=10 \
        -artifact_prefix="artifacts/$t/" >"$scratch/$t.log" 2>&1; then
        status=ok
    else
        status=FAIL
        failed=1
    fi
    took=$(( $(date +%s) - start ))
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$scratch/$t.log" | grep -o '[0-9]*$' || echo '?')
    cov=$(grep -o 'cov: [0-9]*' "$scratch/$t.log" | tail -1 | grep -o '[0-9]*' || echo '?')
    echo "$status $t: $execs execs in ${took}s, coverage $cov edges, corpus $(ls "$scratch/$t" | wc -l) new + $(ls "corpus/$t" | wc -l) seeds"
    if [ "$status" = FAIL ]; then
        grep -A30 -m1 'ERROR: libFuzzer\|panicked at\|ERROR: AddressSanitizer' "$scratch/$t.log" || tail -40 "$scratch/$t.log"
        ls "artifacts/$t/"
    fi
    rm -rf "$OCIRUN_FUZZ_STATE_DIR"
done
exit $failed
