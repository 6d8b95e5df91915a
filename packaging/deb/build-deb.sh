#!/usr/bin/env bash
# Build target/dist/ocirun_<version>_amd64.deb from a static ocirun and the generated docs.
#
#   packaging/deb/build-deb.sh BIN DIST
#
# BIN is the static binary (`make static`), DIST the directory `ocirun-gen` wrote man/ and
# completions/ to; the package lands in DIST. The package has no Depends because the binary
# links nothing at run time; Built-Using names the glibc it embeds, as Debian asks of static
# binaries. `make deb` runs this with the right arguments.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 BIN DIST" >&2; exit 2; }
bin=$1 dist=$2
here=$(cd "$(dirname "$0")/.." && pwd)   # packaging/
repo=$(cd "$here/.." && pwd)

if ldd "$bin" 2>&1 | grep -q '=>'; then
    echo "build-deb: $bin is dynamically linked; the package declares no Depends (make STATIC=1 deb)" >&2
    exit 1
fi
version=$("$bin" --version | sed -n '1s/^ocirun version //p')
[ -n "$version" ] || { echo "build-deb: no version from $bin --version" >&2; exit 1; }
changelog_version=$(sed -n '1s/^ocirun (\([^)]*\)).*/\1/p' "$here/debian/changelog")
if [ "$changelog_version" != "$version" ]; then
    echo "build-deb: packaging/debian/changelog is at $changelog_version but ocirun is $version: add an entry" >&2
    exit 1
fi
arch=amd64
glibc=$(dpkg-query -W -f='${Version}' libc6-dev)

# A private staging tree per build: two builds at once (a second `make deb`, the test suite
# beside a person) once shared a fixed deb-root and removed each other's files mid-build.
mkdir -p "$dist"
rm -rf --one-file-system "$dist/deb-root"   # left by versions that staged there
root=$(mktemp -d "$dist/deb-root.XXXXXX")
chmod 0755 "$root"
trap 'rm -rf --one-file-system "$root" "$root.deb"' EXIT
doc="$root/usr/share/doc/ocirun"
install -D -m 0755 "$bin" "$root/usr/bin/ocirun"
install -d "$root/usr/share/man/man8" "$doc"
for page in "$dist"/man/*.8; do
    gzip -9n < "$page" > "$root/usr/share/man/man8/$(basename "$page").gz"
done
install -D -m 0644 "$dist/completions/ocirun" "$root/usr/share/bash-completion/completions/ocirun"
install -D -m 0644 "$dist/completions/_ocirun" "$root/usr/share/zsh/vendor-completions/_ocirun"
install -D -m 0644 "$dist/completions/ocirun.fish" "$root/usr/share/fish/vendor_completions.d/ocirun.fish"
# A native package (no Debian revision) keeps its changelog as changelog.gz.
gzip -9n < "$here/debian/changelog" > "$doc/changelog.gz"
crates=$(cd "$repo" && cargo metadata -q --format-version 1 --locked --filter-platform x86_64-unknown-linux-gnu \
    | python3 "$here/deb/linked-crates.py" ocirun-cli)
year=$(date -u -d "@${SOURCE_DATE_EPOCH:-$(date +%s)}" +%Y)
awk -v crates="$crates" -v year="$year" '$0 == "@CRATES@" { print crates; next } { sub("@YEAR@", year); print }' \
    "$here/debian/copyright.in" > "$doc/copyright"
install -D -m 0644 "$here/debian/lintian-overrides" "$root/usr/share/lintian/overrides/ocirun"
chmod 0644 "$root"/usr/share/man/man8/* "$doc"/*

mkdir -m 0755 "$root/DEBIAN"
size=$(du -sk --apparent-size "$root/usr" | cut -f1)
cat > "$root/DEBIAN/control" <<CONTROL
Package: ocirun
Version: $version
Architecture: $arch
Maintainer: ocirun developers <ocirun@example.invalid>
Installed-Size: $size
Built-Using: glibc (= $glibc)
Section: admin
Priority: optional
Description: OCI container runtime, a drop-in for crun and runc
 ocirun creates, starts, signals and deletes containers from OCI bundles,
 with the command line of crun and runc. This package ships one statically
 linked binary, so it depends on no library at run time, with the man pages
 ocirun(8) and ocirun-COMMAND(8) and bash, zsh and fish completions.
CONTROL
(cd "$root" && find usr -type f -print0 | sort -z | xargs -0 md5sum) > "$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/md5sums"

# Same sources, same package: no file newer than the commit (make sets SOURCE_DATE_EPOCH).
if [ -n "${SOURCE_DATE_EPOCH:-}" ]; then
    find "$root" -newermt "@$SOURCE_DATE_EPOCH" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
fi
deb="$dist/ocirun_${version}_${arch}.deb"
# Built beside its final name and renamed into place, so a reader never sees half a package.
dpkg-deb --root-owner-group -Zxz --build "$root" "$root.deb" >/dev/null
mv -f "$root.deb" "$deb"
echo "$deb"
