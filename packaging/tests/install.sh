#!/usr/bin/env bash
# `make install` into a temporary DESTDIR: every file lands where the Makefile says, the
# installed binary runs, the man pages render, bash loads the completion, and `make uninstall`
# leaves nothing behind. Builds the release binary first if needed (slow the first time).
set -euo pipefail
cd "$(dirname "$0")/../.."
name=install
. packaging/tests/lib.sh

tmp=$(mktemp -d /tmp/ocirun-install-test.XXXXXX)
trap 'rm -rf --one-file-system "$tmp"' EXIT
dest=$tmp/root
prefix=/usr/local
make -s install PREFIX=$prefix DESTDIR="$dest" >"$tmp/make.log" 2>&1 || { cat "$tmp/make.log"; exit 1; }

bin=$dest$prefix/bin/ocirun
check "binary installed executable" test -x "$bin"
check "binary is static (ldd lists no library)" bash -c "! ldd '$bin' 2>&1 | grep -q '=>' && file -b '$bin' | grep -q static"
check "--version names version and commit" bash -c "'$bin' --version | grep -q '^ocirun version ' && '$bin' --version | grep -q '^commit: '"
man8=$dest$prefix/share/man/man8
check "ocirun.8 installed" test -f "$man8/ocirun.8"
for page in "$man8"/*.8; do
    title=$(basename "$page" .8)
    check "$title(8) renders" renders "$page" "$title"
done
# Every command in `ocirun --help` has its page (the generator test checks the options).
for cmd in $("$bin" --help | awk '/^Commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 } on && /^$/ { on = 0 }'); do
    check "page for $cmd" test -f "$man8/ocirun-$cmd.8"
done
check "bash completion installed" test -f "$dest$prefix/share/bash-completion/completions/ocirun"
check "bash completion loads" bash -c ". '$dest$prefix/share/bash-completion/completions/ocirun' && complete -p ocirun"
check "zsh completion installed" grep -q "^#compdef ocirun" "$dest$prefix/share/zsh/site-functions/_ocirun"
check "fish completion installed" grep -q "complete -c ocirun" "$dest$prefix/share/fish/vendor_completions.d/ocirun.fish"
check "binary mode 0755" test "$(stat -c %a "$bin")" = 755
for file in "$man8"/*.8 "$dest$prefix"/share/*/*/ocirun "$dest$prefix"/share/*/*/_ocirun "$dest$prefix"/share/*/*/ocirun.fish; do
    check "$file mode 0644" test "$(stat -c %a "$file")" = 644
done

make -s uninstall PREFIX=$prefix DESTDIR="$dest"
check "uninstall removes every file" bash -c "[ -z \"\$(find '$dest' -type f)\" ]"
summary
