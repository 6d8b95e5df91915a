#!/usr/bin/env bash
# Build ocirun and run a demo container from a busybox root filesystem made here.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v busybox >/dev/null || ! file -L "$(command -v busybox)" 2>/dev/null | grep -q static; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static file >/dev/null
fi
cargo build --release -q -p ocirun-cli
bin="$PWD/target/release/ocirun"
work=$(mktemp -d /tmp/ocirun-demo.XXXXXX)
trap 'rm -rf --one-file-system "$work"' EXIT
mkdir -p "$work/rootfs/bin" "$work/rootfs/proc" "$work/rootfs/sys" "$work/rootfs/dev" "$work/rootfs/etc"
cp "$(command -v busybox)" "$work/rootfs/bin/busybox"
for app in sh ls cat echo hostname id uname ps mount; do ln -s busybox "$work/rootfs/bin/$app"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$work/rootfs/etc/passwd"
cd "$work"
"$bin" spec
# Non-interactive demo: no terminal, print what the container sees.
python3 - <<'PY'
import json
c = json.load(open("config.json"))
c["process"]["terminal"] = False
c["process"]["args"] = ["sh", "-c", "echo hello from $(hostname); id; uname -r; ps; ls /"]
json.dump(c, open("config.json", "w"), indent=2)
PY
"$bin" --root "$work/state" run demo
echo "ocirun demo: container exited with $?"
