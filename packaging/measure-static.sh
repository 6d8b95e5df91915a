#!/usr/bin/env bash
# Static vs dynamic ocirun, side by side in one run: start-up (`--version`), a whole
# `run` of /bin/true in a busybox bundle, peak RSS of each, and file sizes.
#
#   packaging/measure-static.sh [STATIC_BIN DYNAMIC_BIN]
#
# Defaults to the binaries of `make static` and `make dynamic`. Needs root, hyperfine, GNU time
# (package `time`) and busybox-static. Numbers go to stdout; packaging/README.md records them.
set -euo pipefail
cd "$(dirname "$0")/.."
name=measure
. packaging/tests/lib.sh
target=${CARGO_TARGET_DIR:-target}
static=$(realpath "${1:-$target/x86_64-unknown-linux-gnu/release/ocirun}")
dynamic=$(realpath "${2:-$target/release/ocirun}")
runs=${RUNS:-1000}

tmp=$(mktemp -d /tmp/ocirun-measure.XXXXXX)
trap 'rm -rf --one-file-system "$tmp"' EXIT
make_bundle "$tmp/bundle" "$static" '["/bin/true"]'

echo "== binaries"
for b in "$static" "$dynamic"; do
    printf '%-60s %8d bytes  %s\n' "$b" "$(stat -c %s "$b")" "$(file -b "$b" | grep -o '[a-z-]* linked')"
done

# Medians and minimums, not means: on a shared machine the mean mostly measures the neighbours.
times() { # times JSON: one line per command with min / median / mean in ms
    python3 - "$1" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print(f"{r['command']:<10} min {r['min'] * 1e3:7.3f} ms  median {r['median'] * 1e3:7.3f} ms  mean {r['mean'] * 1e3:7.3f} ms")
PY
}
echo "== start-up: --version ($runs runs each)"
hyperfine -N -w 50 -r "$runs" --style none --export-json "$tmp/version.json" \
    -n static "$static --version" -n dynamic "$dynamic --version" >/dev/null
times "$tmp/version.json"

echo "== run /bin/true: create + start + wait + delete ($((runs / 5)) runs each)"
cd "$tmp/bundle"
hyperfine -N -w 10 -r "$((runs / 5))" --style none --export-json "$tmp/run.json" \
    -n static "$static --root $tmp/state run m-static" \
    -n dynamic "$dynamic --root $tmp/state run m-dynamic" >/dev/null
times "$tmp/run.json"

# Peak RSS (KiB) of ocirun and the descendants it waits for, median of 21 runs.
median_rss() {
    for _ in $(seq 21); do /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; done | sort -n | sed -n 11p
}
echo "== peak RSS, KiB (median of 21)"
printf '%-10s %12s %12s\n' "" "--version" "run true"
for kind in static dynamic; do
    b=$static
    [ "$kind" = dynamic ] && b=$dynamic
    printf '%-10s %12s %12s\n' "$kind" "$(median_rss "$b" --version)" "$(median_rss "$b" --root "$tmp/state" run "m-$kind")"
done
