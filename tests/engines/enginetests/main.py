"""Entry point: parse options, install missing engines, build the image, then per engine:
start it in a temp directory, run every selected scenario with every runtime, stop it, check
that nothing leaked. Prints a parity table and ends with ``N passed, N failed, N skipped``."""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

from . import harness, hostcheck, image
from .harness import FAIL, PASS, SKIP, Result, Results, Runtime, Scenario, log

ENGINES = {
    "podman": ("podman", ["podman"]),
    "docker": ("dockerd", ["docker.io"]),
    "containerd": ("containerd", ["containerd"]),
    "cri": ("containerd", ["containerd"]),
}
REFERENCES = {"crun": "/usr/bin/crun", "runc": "/usr/sbin/runc"}


def parse_args(argv):
    p = argparse.ArgumentParser(prog="tests/engines/run", description=__doc__)
    p.add_argument("--runtime", required=True, help="the ocirun binary under test")
    p.add_argument("--compare", default=None,
                   help="reference runtimes, NAME=PATH,... or 'none' (default: crun and runc when installed; 'none' with --quick)")
    p.add_argument("--engines", default="podman,docker,containerd,cri")
    p.add_argument("--quick", action="store_true", help="core scenarios only, ocirun only, short timing loop")
    p.add_argument("--only", default=None, help="regex on engine/scenario")
    p.add_argument("--timing", type=int, default=None, help="containers in the podman run --rm timing loop (default 50, 10 with --quick)")
    p.add_argument("--no-install", action="store_true", help="skip an engine that is not installed instead of apt-get installing it")
    p.add_argument("--keep", action="store_true", help="keep the temp directory (engines are still stopped)")
    return p.parse_args(argv)


def runtimes_from(args):
    rts = [Runtime("ocirun", args.runtime)]
    if not os.access(rts[0].path, os.X_OK):
        raise SystemExit(f"{args.runtime}: not an executable")
    spec = args.compare if args.compare is not None else ("none" if args.quick else "")
    if spec == "none":
        return rts
    if spec:
        for item in spec.split(","):
            name, _, path = item.partition("=")
            rts.append(Runtime(name, path))
        return rts
    for name, path in REFERENCES.items():
        if os.access(path, os.X_OK):
            rts.append(Runtime(name, path))
        else:
            log(f"reference runtime {name} not found at {path}: left out of the parity table")
    return rts


def ensure_installed(engine, no_install):
    binary, packages = ENGINES[engine]
    if shutil.which(binary):
        return None
    if not packages:
        return f"{binary} is not installed and Debian 12 has no package for it (cri-tools is not in Debian); CRI not tested"
    if no_install:
        return f"{binary} is not installed (--no-install)"
    log(f"installing {' '.join(packages)} with apt-get")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    res = subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", *packages], env=env, capture_output=True, text=True)
    if res.returncode != 0 or not shutil.which(binary):
        return f"apt-get install {' '.join(packages)} failed: {res.stderr.strip()[-500:]}"
    return None


def make_engine(name, tmp, rootfs_tar, oci_tar, runtimes):
    if name == "podman":
        from .podman import Podman
        return Podman(tmp, rootfs_tar)
    if name == "docker":
        from .docker import Docker
        return Docker(tmp, rootfs_tar, runtimes)
    if name == "containerd":
        from .containerd import Containerd
        return Containerd(tmp, oci_tar)
    if name == "cri":
        from .cri import Cri
        return Cri(tmp, rootfs_tar, oci_tar, runtimes)
    raise SystemExit(f"unknown engine {name}")


def skip_all(results, engine, runtimes, scenarios, why):
    sc = Scenario(engine, "*", None, True, None)
    for rt in runtimes:
        results.add(Result(sc, rt.name, SKIP, why, 0.0))


def run_engine(name, args, runtimes, tmp, rootfs_tar, oci_tar, results):
    why = ensure_installed(name, args.no_install)
    # Importing the engine's module registers its scenarios.
    engine = None if why else make_engine(name, tmp, rootfs_tar, oci_tar, runtimes)
    scenarios = [s for s in harness.SCENARIOS if s.engine == name and (s.core or not args.quick)]
    if args.only:
        scenarios = [s for s in scenarios if re.search(args.only, s.label)]
    if why:
        skip_all(results, name, runtimes, scenarios, why)
        return
    if not scenarios and name != "podman":
        return
    snap = hostcheck.Snapshot(tmp, engine_markers(name), engine_parents(name))
    log(f"starting {name}")
    started = False
    try:
        engine.start()
        started = True
    except harness.Skip as e:
        skip_all(results, name, runtimes, scenarios, str(e))
    except Exception as e:
        sc = Scenario(name, "start", None, True, None)
        results.add(Result(sc, "-", FAIL, f"{type(e).__name__}: {e}", 0.0))
    try:
        if started:
            harness.run_scenarios(engine, runtimes, scenarios, results)
            n = args.timing if args.timing is not None else (10 if args.quick else 50)
            if name == "podman" and n > 0 and not args.only:
                for rt in runtimes:
                    log(f"timing: {n} x podman run --rm [{rt.name}]")
                    secs, fails = engine.timing(rt, n)
                    results.timings.append((name, rt.name, n, secs, fails))
    finally:
        log(f"stopping {name}")
        stop_error = None
        try:
            engine.stop()
        except Exception as e:
            stop_error = f"{type(e).__name__}: {e}"
        leaks = snap.leaks()
        sc = Scenario(name, "stop-and-no-leaks", None, True, None)
        if stop_error or leaks:
            results.add(Result(sc, "all", FAIL, "\n".join(filter(None, [stop_error, *leaks])), 0.0))
            snap.clean()
        else:
            results.add(Result(sc, "all", PASS, "", 0.0))


def engine_parents(name):
    """The engine's own cgroups (made on first use, kept by the engine), not the runtime's."""
    return {"podman": ["libpod_parent", "libpod_parent/conmon"], "docker": ["docker"],
            "containerd": ["enginetest"], "cri": ["enginetest-cri"]}[name]


def engine_markers(name):
    return {"podman": ["libpod"], "docker": ["docker"], "containerd": ["enginetest"], "cri": ["enginetest", "k8s.io"]}[name]


def main(argv):
    args = parse_args(argv)
    if os.geteuid() != 0:
        print("SKIP: the engine tests need root (they start daemons and mount filesystems)")
        print("0 passed, 0 failed, 1 skipped")
        return 0
    runtimes = runtimes_from(args)
    workspace = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
    busybox = image.find_busybox()
    if not busybox:
        print("SKIP: no static busybox (apt-get install busybox-static) to build the test image from")
        print("0 passed, 0 failed, 1 skipped")
        return 0
    reporter = image.reporter(workspace)
    tmp = tempfile.mkdtemp(prefix="ocirun-engines-")
    log(f"work dir {tmp}; runtimes: {', '.join(map(repr, runtimes))}")
    rootfs_tar = os.path.join(tmp, "rootfs.tar")
    oci_tar = os.path.join(tmp, "image-oci.tar")
    image.build_rootfs_tar(rootfs_tar, busybox, reporter)
    image.build_oci_archive(oci_tar, rootfs_tar, tmp)
    results = Results()
    t0 = time.monotonic()
    # Engines and their helpers drop files in their working directory (conmon writes an "oom"
    # marker there): keep those inside the temp directory too.
    cwd = os.getcwd()
    os.chdir(tmp)
    try:
        for name in args.engines.split(","):
            run_engine(name, args, runtimes, tmp, rootfs_tar, oci_tar, results)
    finally:
        os.chdir(cwd)
        if not args.keep:
            left = hostcheck.mounts_under(tmp)
            if left:
                print(f"not removing {tmp}: still mounted: {left}")
            else:
                shutil.rmtree(tmp, ignore_errors=True)
    harness.print_table(results, runtimes)
    c = results.counts()
    print(f"\ntotal time {time.monotonic() - t0:.0f}s")
    print(f"{c[PASS]} passed, {c[FAIL]} failed, {c[SKIP]} skipped")
    return 1 if c[FAIL] else 0
