# Helpers for the packaging tests: counting checks and building a busybox bundle.
# Sourced by install.sh and deb.sh, which set `name` first.

passed=0
failed=0

check() { # check DESCRIPTION COMMAND...: run a check and count it
    local what=$1
    shift
    if "$@" >/dev/null 2>&1; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "FAIL: $what" >&2
    fi
}

summary() {
    echo "$name: $passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}

# The page renders and its NAME section names it; with man-db absent, groff; failing that,
# at least the roff header is right.
renders() { # renders PAGE_FILE TITLE
    local page=$1 title=$2
    if command -v man >/dev/null; then
        MANWIDTH=80 man -l "$page" 2>/dev/null | grep -q "^NAME" &&
            MANWIDTH=80 man -l "$page" 2>/dev/null | grep -q "^ *$title  *-"
    elif command -v groff >/dev/null; then
        zcat -f "$page" | groff -man -Tascii 2>/dev/null | grep -q "$title  *-"
    else
        echo "note: neither man nor groff is installed; checking the roff header only" >&2
        zcat -f "$page" | grep -q "^\.TH $title 8 "
    fi
}

# A static busybox from the host (apt-get install busybox-static), or fail saying so.
static_busybox() {
    local bb
    bb=$(command -v busybox) || { echo "no busybox: apt-get install busybox-static" >&2; return 1; }
    file -L "$bb" | grep -q "statically linked" ||
        { echo "$bb is dynamically linked: apt-get install busybox-static" >&2; return 1; }
    echo "$bb"
}

# make_bundle DIR OCIRUN ARGS_JSON: a busybox rootfs and `ocirun spec`'s config with the given
# process.args and no terminal.
make_bundle() {
    local dir=$1 ocirun=$2 args=$3 bb
    bb=$(static_busybox)
    mkdir -p "$dir/rootfs/bin" "$dir/rootfs/proc" "$dir/rootfs/sys" "$dir/rootfs/dev" "$dir/rootfs/etc"
    cp "$bb" "$dir/rootfs/bin/busybox"
    for app in sh true echo cat; do ln -s busybox "$dir/rootfs/bin/$app"; done
    (cd "$dir" && "$ocirun" spec)
    python3 - "$dir/config.json" "$args" <<'PY'
import json, sys
path, args = sys.argv[1], json.loads(sys.argv[2])
config = json.load(open(path))
config["process"]["terminal"] = False
config["process"]["args"] = args
json.dump(config, open(path, "w"), indent=2)
PY
}
