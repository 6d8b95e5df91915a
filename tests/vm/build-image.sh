#!/usr/bin/env bash
# Builds the Debian bookworm guest that tests/vm/boot.sh boots: a minbase root with systemd,
# the distribution kernel (6.1) and its initramfs, busybox-static, crun, runc, apparmor, criu and
# iptables (criu runs iptables-restore to lock a container's network while it dumps or restores
# it, and fails without it), as an ext4 image. The result is cached under
# target/vm/<hash of this recipe>/ and rebuilt only when this file changes. Prints the image
# directory on its last line.
#
# The guest needs no network: the checkout and a per-boot io directory come in over 9p, and a
# unit (ocirun-vm.service) runs /io/cmd from there, records its exit code and powers off.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$repo/target}"
hash="$(sha256sum "$here/build-image.sh" | cut -c1-16)"
out="$target/vm/$hash"
if [ -f "$out/ready" ]; then
    echo "$out"
    exit 0
fi
for tool in debootstrap mkfs.ext4; do
    command -v "$tool" >/dev/null || { echo "vm: $tool is missing (apt-get install debootstrap e2fsprogs)" >&2; exit 1; }
done
mirror="${OCIRUN_VM_MIRROR:-http://deb.debian.org/debian}"
work="$target/vm/build.$$"
rm -rf --one-file-system "$work"
mkdir -p "$work"
trap 'for m in proc sys dev; do umount -l "$work/root/$m" 2>/dev/null || true; done; rm -rf --one-file-system "$work"' EXIT
root="$work/root"
packages=systemd,systemd-sysv,udev,dbus,kmod,linux-image-amd64,initramfs-tools,busybox-static,crun,runc,uidmap,util-linux,procps,iproute2,passwd,apparmor,criu,iptables
echo "vm: debootstrap bookworm into $root (2-5 min)" >&2
debootstrap --variant=minbase --include="$packages" bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log" >&2; echo "vm: debootstrap failed (log above)" >&2; exit 1; }

echo ocirun-vm >"$root/etc/hostname"
printf '/dev/vda / ext4 rw,errors=remount-ro 0 1\n' >"$root/etc/fstab"
passwd_hash='*'
sed -i "s|^root:[^:]*:|root:$passwd_hash:|" "$root/etc/shadow"
# The 9p modules load before the unit mounts the shares.
printf '9p\n9pnet_virtio\n' >"$root/etc/modules-load.d/9p.conf"
# Nothing in the guest waits for a network or a login.
for unit in systemd-networkd-wait-online.service getty@tty1.service serial-getty@ttyS0.service \
    apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer systemd-timesyncd.service; do
    ln -sf /dev/null "$root/etc/systemd/system/$unit"
done

cat >"$root/usr/local/sbin/ocirun-vm-run" <<'SH'
#!/bin/sh
# Runs the command the host left in /io/cmd (inside the checkout, mounted at the host's path)
# and records its output and exit code in /io, then powers the guest off.
set -u
checkout=$(sed -n 's/.*ocirun_vm.checkout=\([^ ]*\).*/\1/p' /proc/cmdline)
mkdir -p /io "$checkout"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288 io /io
mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288,cache=loose checkout "$checkout"
cd "$checkout"
echo "vm: cgroup layout: $(stat -fc %T /sys/fs/cgroup), kernel $(uname -r)" >/io/out
sh /io/cmd >>/io/out 2>&1
echo $? >/io/rc.tmp
mv /io/rc.tmp /io/rc
sync
systemctl poweroff --no-block
SH
chmod 755 "$root/usr/local/sbin/ocirun-vm-run"
cat >"$root/etc/systemd/system/ocirun-vm.service" <<'UNIT'
[Unit]
Description=run the ocirun test command from the host
After=multi-user.target systemd-modules-load.service
[Service]
Type=oneshot
# The command (the tests) owns the cgroup subtree below this service, as an engine would.
Delegate=yes
ExecStart=/usr/local/sbin/ocirun-vm-run
StandardOutput=journal+console
StandardError=journal+console
[Install]
WantedBy=multi-user.target
UNIT
ln -sf /etc/systemd/system/ocirun-vm.service "$root/etc/systemd/system/multi-user.target.wants/ocirun-vm.service"

cp "$root"/boot/vmlinuz-* "$work/vmlinuz"
cp "$root"/boot/initrd.img-* "$work/initrd.img"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
echo "vm: making the ext4 image" >&2
mkfs.ext4 -q -L ocirun-vm -d "$root" "$work/rootfs.ext4" 3G
mkdir -p "$out"
mv "$work/vmlinuz" "$work/initrd.img" "$work/rootfs.ext4" "$out/"
touch "$out/ready"
echo "$out"
