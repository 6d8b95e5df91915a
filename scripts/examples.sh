#!/usr/bin/env bash
# Run the library's examples against a busybox bundle made here; fail if any fails.
set -euo pipefail
ex=${1:-target/debug/examples}
work=$(mktemp -d /tmp/ocirun-examples.XXXXXX)
trap 'rm -rf --one-file-system "$work"' EXIT
mkdir -p "$work/b/rootfs/bin" "$work/b/rootfs/proc" "$work/b/rootfs/dev" "$work/b/rootfs/sys"
cp "$(command -v busybox)" "$work/b/rootfs/bin/busybox"
for app in sh sleep true; do ln -s busybox "$work/b/rootfs/bin/$app"; done
"$ex/../ocirun" spec -b "$work/b" 2>/dev/null || ./target/debug/ocirun spec -b "$work/b"
python3 - "$work/b/config.json" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["process"]["terminal"] = False
c["process"]["args"] = ["sh", "-c", "exit 3"]
json.dump(c, open(p, "w"))
PY
out=$("$ex/run" "$work/b")
echo "$out"
grep -q "exited with 3" <<<"$out"
python3 - "$work/b/config.json" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["process"]["args"] = ["sleep", "600"]
json.dump(c, open(p, "w"))
PY
"$ex/exec" "$work/b"
"$ex/list" "$work/none" >/dev/null
echo "examples: 3 passed, 0 failed"
