#!/usr/bin/env bash
# The whole test suite, as root on a fresh Debian 12 machine: installs what it needs, builds,
# runs the unit tests, the kernel tests, the integration tests (against the built ocirun) and
# the benchmark's quick mode.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
for pkg in busybox-static crun runc hyperfine file python3 iproute2 time; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
echo "== build"
cargo build -q --workspace
echo "== unit and kernel tests (library, cgroups, seccomp)"
cargo test -q --workspace --exclude itest
echo "== integration tests (ocirun CLI on real bundles)"
cargo test -q -p itest -- --test-threads=4
echo "== library examples (run from a multi-threaded program, exec, list)"
cargo build -q --examples -p ocirun
bash scripts/examples.sh target/debug/examples
echo "== engines: podman, Docker and containerd running their workloads on ocirun"
cargo build -q --release -p ocirun-cli
python3 tests/engines/run --runtime target/release/ocirun --quick
echo "== benchmark quick mode (proves bench/run works; its numbers mean nothing)"
cargo build -q --release -p ocirun-cli
python3 bench/run --quick --ocirun target/release/ocirun
