#!/usr/bin/env bash
# Boots the test guest with a pure cgroup v2 (--v2) or pure v1 (--v1) hierarchy, runs COMMAND
# (a shell command line) in the checkout, which the guest mounts over 9p at the same path as on
# the host so the host-built binaries find their files, prints its output and exits with its
# exit code. The disk is a snapshot: every boot starts from the clean image.
#
#   bash tests/vm/boot.sh --v2 [--timeout SECONDS] -- 'target/debug/ocirun --version'
#
# Exit codes: the command's own, 124 when the guest did not finish in time, 125 when the guest
# could not be built or booted.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
layout=
timeout_s=900
while [ $# -gt 0 ]; do
    case "$1" in
        --v2) layout=v2 ;;
        --v1) layout=v1 ;;
        --timeout) timeout_s="$2"; shift ;;
        --) shift; break ;;
        *) break ;;
    esac
    shift
done
[ -n "$layout" ] && [ $# -gt 0 ] || { echo "usage: boot.sh --v2|--v1 [--timeout S] -- COMMAND" >&2; exit 125; }
qemu=$(command -v qemu-system-x86_64 || true)
[ -n "$qemu" ] || { echo "vm: qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)" >&2; exit 125; }
image=$(bash "$here/build-image.sh" | tail -1) || { echo "vm: building the guest image failed" >&2; exit 125; }
case "$layout" in
    v2) cg="systemd.unified_cgroup_hierarchy=1" ;;
    v1) cg="systemd.unified_cgroup_hierarchy=0 systemd.legacy_systemd_cgroup_controller=1" ;;
esac
io=$(mktemp -d /tmp/ocirun-vm-io.XXXXXX)
trap 'rm -rf --one-file-system "$io"' EXIT
printf '%s\n' "$*" >"$io/cmd"
# TCG, not KVM: the /dev/kvm here is nested and slower than plain emulation.
# The guest writes the command's output to /io/out as it runs; it is followed here live.
tail -n +1 -F "$io/out" 2>/dev/null &
tailer=$!
set +e
timeout --kill-after=10 "$timeout_s" "$qemu" -accel tcg -cpu max -smp "${OCIRUN_VM_CPUS:-2}" -m 2048 \
    -nographic -no-reboot -nodefaults -serial file:"$io/console" \
    -kernel "$image/vmlinuz" -initrd "$image/initrd.img" \
    -append "root=/dev/vda rw console=ttyS0 quiet loglevel=3 panic=-1 apparmor=1 security=apparmor $cg ocirun_vm.checkout=$repo" \
    -drive file="$image/rootfs.ext4",format=raw,if=virtio,snapshot=on \
    -virtfs local,path="$repo",mount_tag=checkout,security_model=none,id=checkout \
    -virtfs local,path="$io",mount_tag=io,security_model=none,id=io \
    >"$io/qemu.log" 2>&1
qrc=$?
set -e
sleep 0.5
kill "$tailer" 2>/dev/null || true
wait "$tailer" 2>/dev/null || true
if [ -f "$io/rc" ]; then
    exit "$(cat "$io/rc")"
fi
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
    echo "vm: the $layout guest did not finish within ${timeout_s}s; last console lines:" >&2
    tail -20 "$io/console" >&2 || true
    exit 124
fi
echo "vm: qemu exited with $qrc before the command finished:" >&2
cat "$io/qemu.log" >&2
tail -30 "$io/console" >&2 || true
exit 125
