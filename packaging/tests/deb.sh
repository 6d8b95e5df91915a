#!/usr/bin/env bash
# `make deb`, then install the package with apt as an admin would, run a container with the
# installed /usr/bin/ocirun, and remove the package again so the machine is left as it was.
# Needs root and a Debian-like system; skips with the reason otherwise.
set -euo pipefail
cd "$(dirname "$0")/../.."
name=deb
. packaging/tests/lib.sh

if [ "$(id -u)" -ne 0 ]; then echo "deb: skipped: installing a package needs root"; exit 0; fi
if ! command -v apt-get >/dev/null || ! command -v dpkg-deb >/dev/null; then
    echo "deb: skipped: no apt-get/dpkg-deb on this system"
    exit 0
fi
if dpkg-query -W -f='${Status}' ocirun 2>/dev/null | grep -q "installed"; then
    echo "deb: the ocirun package is already installed; not replacing it (apt-get remove ocirun first)" >&2
    exit 1
fi

tmp=$(mktemp -d /tmp/ocirun-deb-test.XXXXXX)
cleanup() {
    if dpkg-query -W -f='${Status}' ocirun 2>/dev/null | grep -q "installed"; then
        /usr/bin/ocirun --root "$tmp/state" delete --force deb-test >/dev/null 2>&1 || true
        DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq --purge ocirun >/dev/null
    fi
    rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT

deb=$(make -s deb | tail -1)
check "package built at target/dist/ocirun_<version>_amd64.deb" test -f "$deb"
deb=$(realpath "$deb")
case "$deb" in */ocirun_*_amd64.deb) ;; *) echo "FAIL: unexpected package name $deb" >&2; failed=$((failed + 1)) ;; esac
dpkg-deb --field "$deb" > "$tmp/control"
check "no Depends (static binary)" bash -c "! grep -q '^Depends:' '$tmp/control'"
check "Built-Using names glibc" grep -q "^Built-Using: glibc (= " "$tmp/control"
dpkg-deb --contents "$deb" | awk '{ print $NF }' > "$tmp/contents"
for file in ./usr/bin/ocirun ./usr/share/man/man8/ocirun.8.gz ./usr/share/man/man8/ocirun-run.8.gz \
    ./usr/share/doc/ocirun/copyright ./usr/share/doc/ocirun/changelog.gz \
    ./usr/share/bash-completion/completions/ocirun ./usr/share/zsh/vendor-completions/_ocirun \
    ./usr/share/fish/vendor_completions.d/ocirun.fish; do
    check "package contains $file" grep -qx "$file" "$tmp/contents"
done
check "files are owned by root" bash -c "dpkg-deb --contents '$deb' | awk '{ print \$2 }' | sort -u | grep -qx root/root"
if command -v lintian >/dev/null; then
    check "lintian finds no errors" lintian --fail-on error "$deb"
else
    echo "note: lintian is not installed; policy checks skipped (apt-get install lintian)"
fi

DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$deb" >"$tmp/apt.log" 2>&1 || { cat "$tmp/apt.log"; exit 1; }
check "dpkg lists ocirun as installed" bash -c "dpkg-query -W -f='\${Status}' ocirun | grep -q 'install ok installed'"
check "installed binary runs" bash -c "/usr/bin/ocirun --version | grep -q '^ocirun version '"
check "man finds ocirun(8)" bash -c "! command -v man >/dev/null || MANWIDTH=80 man 8 ocirun | grep -q 'ocirun-run(8)'"
check "installed page renders" renders /usr/share/man/man8/ocirun-run.8.gz ocirun-run

make_bundle "$tmp/bundle" /usr/bin/ocirun '["/bin/sh", "-c", "echo hello from the package"]'
out=$(cd "$tmp/bundle" && /usr/bin/ocirun --root "$tmp/state" run deb-test 2>&1) && rc=0 || rc=$?
check "container run by /usr/bin/ocirun exits 0 (rc $rc: $out)" test "$rc" -eq 0
check "container printed its greeting" test "$out" = "hello from the package"

DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq --purge ocirun >/dev/null
check "package removed" bash -c "! dpkg-query -W -f='\${Status}' ocirun 2>/dev/null | grep -q 'installed'"
check "/usr/bin/ocirun gone" test ! -e /usr/bin/ocirun
check "man pages gone" bash -c "! ls /usr/share/man/man8/ocirun*.8.gz 2>/dev/null"
summary
