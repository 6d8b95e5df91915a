"""Print, from `cargo metadata` JSON on stdin, the crates linked into a package's binary.

One ` name version: license` line each (copyright-file continuation lines), following only
normal dependencies: build scripts and proc macros run at build time and are not in the binary.
"""
import json
import sys

meta = json.load(sys.stdin)
packages = {p["id"]: p for p in meta["packages"]}
nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
start = next(p["id"] for p in meta["packages"] if p["name"] == sys.argv[1])
seen, todo = set(), [start]
while todo:
    node = nodes[todo.pop()]
    for dep in node["deps"]:
        normal = any(k["kind"] is None for k in dep["dep_kinds"])
        proc_macro = any("proc-macro" in t["kind"] for t in packages[dep["pkg"]]["targets"])
        if normal and not proc_macro and dep["pkg"] not in seen:
            seen.add(dep["pkg"])
            todo.append(dep["pkg"])
for p in sorted((packages[i] for i in seen), key=lambda p: p["name"]):
    if p["source"] is None:  # our own workspace crates, covered by Files: *
        continue
    print(f" {p['name']} {p['version']}: {p['license'] or 'see crate'}")
