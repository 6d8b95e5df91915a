"""podman with its own containers.conf / storage.conf in a temp directory, driven with
``podman --runtime <path>``; the common scenarios plus podman-only ones (healthcheck, top,
stats) and the ``run --rm`` timing loop."""

import os
import resource
import shutil
import time

from . import cli_scenarios, hostcheck
from .harness import Fail, expect, expect_rc, log, scenario, sh
from .image import IMAGE

CONTAINERS_CONF = """\
[containers]
netns = "none"
log_driver = "k8s-file"
default_ulimits = ["nofile={nofile}:{nofile}", "nproc={nproc}:{nproc}"]

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "{d}/events.log"
tmp_dir = "{d}/tmp"
static_dir = "{d}/storage/libpod"
volume_path = "{d}/volumes"
lock_type = "file"

[network]
network_config_dir = "{d}/networks"
"""

STORAGE_CONF = """\
[storage]
driver = "overlay"
graphroot = "{d}/storage"
runroot = "{d}/run"
"""


def hard_limit(res, cap):
    """podman's built-in default ulimits exceed the hard limits here (no CAP_SYS_RESOURCE in the
    bounding set), so the test config asks for the hard limits instead. ``cap`` is what podman
    itself leaves as the hard limit of conmon and the runtime (32768 for NPROC, measured)."""
    v = resource.getrlimit(res)[1]
    return cap if v == resource.RLIM_INFINITY else min(v, cap)


class Podman:
    kind = "podman"

    def __init__(self, tmp, rootfs_tar):
        self.tmp = os.path.join(tmp, "podman")
        os.makedirs(self.tmp)
        self.rootfs_tar = rootfs_tar
        self.seq = 0
        self.binary = shutil.which("podman")
        d = self.tmp
        self.conf = os.path.join(d, "containers.conf")
        self.storage_conf = os.path.join(d, "storage.conf")
        with open(self.conf, "w") as f:
            f.write(CONTAINERS_CONF.format(d=d, nofile=hard_limit(resource.RLIMIT_NOFILE, 1048576), nproc=hard_limit(resource.RLIMIT_NPROC, 32768)))
        with open(self.storage_conf, "w") as f:
            f.write(STORAGE_CONF.format(d=d))
        self.env = dict(os.environ, CONTAINERS_CONF=self.conf, CONTAINERS_STORAGE_CONF=self.storage_conf,
                        CONTAINERS_REGISTRIES_CONF=os.path.join(d, "registries.conf"))
        open(self.env["CONTAINERS_REGISTRIES_CONF"], "w").close()

    def start(self):
        self.parent = hostcheck.ParentCgroups("libpod_parent", inner=["conmon"])
        res = self.cli(["import", self.rootfs_tar, IMAGE], timeout=120)
        expect_rc(res, 0)

    def stop(self):
        self.cleanup_containers()
        self.cli(["rmi", "-af"], timeout=120)
        # Unmounts the storage (overlay home) so nothing is left under our directory.
        self.cli(["system", "reset", "--force"], timeout=120)
        # conmon's cgroup (libpod_parent/conmon) is podman's own and podman never removes it.
        self.parent.remove_new()

    def cli(self, args, **kw):
        return sh([self.binary, *args], env=self.env, **kw)

    def runtime_flag(self, rt):
        return ["--runtime", rt.path]

    def runtime_name(self, rt):
        return rt.path

    def run(self, rt, opts, cmd, **kw):
        return self.cli(["--runtime", rt.path, "run", *opts, IMAGE, *cmd], **kw)

    def name(self):
        self.seq += 1
        return f"engt-{os.getpid()}-{self.seq}"

    def cleanup_containers(self):
        res = self.cli(["rm", "-af", "-t", "0"], timeout=120)
        if res.returncode != 0:
            raise Fail(f"podman rm -af failed: {res.stderr.strip()}")

    def timing(self, rt, n):
        start, fails = time.monotonic(), 0
        for _ in range(n):
            if self.run(rt, ["--rm"], ["true"]).returncode != 0:
                fails += 1
        return time.monotonic() - start, fails


cli_scenarios.register("podman")


@scenario("podman", "healthcheck", core=False, needs="exec")
def healthcheck(e, rt):
    name = cli_scenarios.detached(e, rt, ["--health-cmd", "test -e /bin/sh", "--health-interval", "disable"])
    res = e.cli(["healthcheck", "run", name])
    expect_rc(res, 0)
    st = cli_scenarios.inspect(e, name)["State"]
    health = st.get("Health") or st.get("Healthcheck") or {}
    expect(health.get("Status") == "healthy", f"health status is {health.get('Status')!r}")


# podman top reads /proc through psgo and does not call the runtime; kept out of the core set
# because the brief lists it with the exec-dependent scenarios.
@scenario("podman", "top", core=False)
def top(e, rt):
    name = cli_scenarios.detached(e, rt)
    res = e.cli(["top", name])
    expect_rc(res, 0)
    expect("sleep 300" in res.stdout, "top does not list the container's process", res)


# podman stats reads the cgroup files itself (no runtime call).
@scenario("podman", "stats", core=False)
def stats(e, rt):
    name = cli_scenarios.detached(e, rt, ["--memory", "64m"])
    res = e.cli(["stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}}", name])
    expect_rc(res, 0)
    # 64 MiB is printed in SI units: 67.11MB.
    expect(name in res.stdout and "/ 67.11MB" in res.stdout, "stats lacks the container or its memory limit", res)
