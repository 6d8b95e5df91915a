#!/usr/bin/env bash
# The whole test suite, as root on a fresh Debian 12 machine: installs what it needs, builds,
# runs the unit and kernel tests, the integration tests (against the built ocirun), the
# library examples, the packaging (static binary, make install, .deb), the engines (podman,
# Docker, containerd), the benchmark's quick mode and bounded fuzzing.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
for pkg in busybox-static crun runc hyperfine file python3 iproute2 time make man-db groff-base uidmap gcc systemd; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
echo "== build"
cargo build -q --workspace
echo "== unit and kernel tests (library, cgroups, seccomp, man page generator)"
cargo test -q --workspace --exclude itest
echo "== library with the oci-spec feature (conversions both ways on a real bundle) and its docs"
cargo test -q -p ocirun --features oci-spec --test oci_spec
RUSTDOCFLAGS="-D warnings" cargo doc -q --no-deps -p ocirun --features oci-spec
echo "== integration tests (ocirun CLI on real bundles; stress, faults, hostile bundles)"
cargo test -q -p itest -- --test-threads=4
echo "== library examples (run, exec from threads, tokio, list; external threaded and tokio consumers)"
cargo build -q --examples -p ocirun
bash scripts/examples.sh target/debug/examples
echo "== packaging (static binary, make install into a temp DESTDIR, .deb installed with apt and removed)"
bash packaging/tests/install.sh
bash packaging/tests/deb.sh
static=target/x86_64-unknown-linux-gnu/release/ocirun
echo "== engines: podman, Docker and containerd running their workloads on ocirun"
python3 tests/engines/run --runtime "$static" --quick
echo "== benchmark quick mode (proves bench/run works; its numbers mean nothing)"
python3 bench/run --quick --ocirun "$static"
echo "== fuzzing, bounded (spec, seccomp compiler, state file)"
if ! rustup toolchain list | grep -q nightly; then
    echo "fuzz: SKIP: no nightly toolchain on this machine (cargo-fuzz needs it)"
else
    command -v cargo-fuzz >/dev/null || cargo install -q cargo-fuzz --locked
    bash fuzz/run-bounded.sh 10
fi
# set -e stops at the first failing suite, so reaching here means all of them passed.
echo "suites: 8 passed, 0 failed"
