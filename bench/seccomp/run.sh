#!/usr/bin/env bash
# Build and run the seccomp measurements. Uses the repository's target dir; builds the
# libseccomp comparison only when libseccomp.so.2 and gcc are present.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
export CARGO_TARGET_DIR="$root/target"
profile="$root/crates/ocirun/tests/data/seccomp/default.json"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
args=("$profile")
if command -v gcc >/dev/null && ls /usr/lib/x86_64-linux-gnu/libseccomp.so.2 >/dev/null 2>&1; then
  gcc -O2 -o "$work/libseccomp_default" "$here/libseccomp_default.c" -l:libseccomp.so.2
  python3 -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))["syscalls"][0]["names"]))' \
    "$profile" > "$work/allow.txt"
  read -r first median min < <("$work/libseccomp_default" "$work/allow.txt" "$work/libseccomp.bpf" 50)
  echo "libseccomp 2.5.4 build+export of the same profile: first ${first} us, median ${median} us, min ${min} us"
  args+=("$work/libseccomp.bpf")
else
  echo "libseccomp comparison skipped: needs gcc and libseccomp.so.2"
fi
cargo run --quiet --release --manifest-path "$here/Cargo.toml" -- "${args[@]}"
