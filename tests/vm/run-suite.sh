#!/usr/bin/env bash
# The integration tests that depend on the cgroup layout, run on real kernels that this host
# cannot show: a pure cgroup v2 guest and a pure v1 guest (tests/vm/boot.sh). The test binaries,
# ocirun and the static reporter are built here on the host; the guests run them from the
# checkout shared over 9p. Ends with one line 'N passed, N failed' over both guests.
#
#   bash tests/vm/run-suite.sh            # both guests
#   bash tests/vm/run-suite.sh --v2       # one
#
# OCIRUN_VM_FILTER overrides which integration tests run (libtest filters, space-separated).
# OCIRUN_VM_RUNTIME names another runtime binary *inside the guest* (/usr/bin/crun, /usr/sbin/runc)
# for the integration tests to drive instead of the ocirun built here; the ocirun unit tests are
# then not run (they test our library, not the runtime under test).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cd "$repo"
target="${CARGO_TARGET_DIR:-$repo/target}"
layouts=()
for a in "$@"; do
    case "$a" in --v2|--v1) layouts+=("$a") ;; *) echo "usage: run-suite.sh [--v2] [--v1]" >&2; exit 2 ;; esac
done
[ ${#layouts[@]} -gt 0 ] || layouts=(--v2 --v1)
filters="${OCIRUN_VM_FILTER:-cgroups:: systemd:: rootless:: lifecycle:: exec:: devices:: apparmor:: checkpoint::}"
peer="${OCIRUN_VM_RUNTIME:-}"

start=$(date +%s)
echo "vm: building ocirun, the test binaries and the static reporter on the host"
cargo build -q -p ocirun-cli
exe() { sed -n 's/^ *Executable .*(\(.*\))$/\1/p' | tail -1; }
itest=$(cargo test -p itest --test runtime --no-run 2>&1 | exe)
unit=$(cargo test -p ocirun --lib --no-run 2>&1 | exe)
RUSTFLAGS="-C target-feature=+crt-static" cargo build -q -p reporter --release \
    --target x86_64-unknown-linux-gnu --target-dir "$target/reporter-static"
reporter="$target/reporter-static/x86_64-unknown-linux-gnu/release/ocirun-reporter"
for f in "$itest" "$unit" "$target/debug/ocirun" "$reporter"; do
    [ -x "$repo/$f" ] || [ -x "$f" ] || { echo "vm: $f was not built" >&2; exit 1; }
done
abs() { case "$1" in /*) echo "$1" ;; *) echo "$repo/$1" ;; esac; }
itest=$(abs "$itest"); unit=$(abs "$unit")
t0=$(date +%s)
bash "$here/build-image.sh" >/dev/null
echo "vm: host build $((t0 - start)) s, guest image $(($(date +%s) - t0)) s"

passed=0
failed=0
for layout in "${layouts[@]}"; do
    log=$(mktemp /tmp/ocirun-vm-suite.XXXXXX)
    t0=$(date +%s)
    if [ -n "$peer" ]; then
        echo "== ${layout#--} guest: with the guest's $peer (no unit tests): $filters"
        guest_rt=$peer
        unit_step=":"
    else
        echo "== ${layout#--} guest: cgroups unit and host tests, then: $filters"
        guest_rt=$target/debug/ocirun
        unit_step="$unit --test-threads=2 cgroups::"
    fi
    set +e
    bash "$here/boot.sh" "$layout" --timeout "${OCIRUN_VM_TIMEOUT:-1500}" -- \
        "export OCIRUN_TEST_RUNTIME=$guest_rt OCIRUN_TEST_REPORTER=$reporter RUST_BACKTRACE=1
         [ -x $guest_rt ] || { echo 'vm: $guest_rt is not in the guest' >&2; exit 1; }
         $guest_rt --version | head -1
         rc=0
         $unit_step || rc=1
         $itest --test-threads=2 $filters || rc=1
         exit \$rc" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    set -e
    read -r p f < <(awk '/^test result: /{for(i=1;i<=NF;i++){if($(i+1)~/^passed/)p+=$i; if($(i+1)~/^failed/)f+=$i}} END{print p+0, f+0}' "$log")
    if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
        echo "vm: the ${layout#--} guest ended with $rc and no failed test: counted as one failure"
        f=1
    fi
    echo "== ${layout#--} guest: $p passed, $f failed in $(($(date +%s) - t0)) s"
    passed=$((passed + p)); failed=$((failed + f))
    rm -f "$log"
done
echo "vm: total $(($(date +%s) - start)) s"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
