"""dockerd started by the test with its own data-root, exec-root, pidfile and socket, every
runtime registered with ``--add-runtime``; its containerd is the one dockerd supervises
itself (state under the exec-root). The common scenarios, run with ``docker run --runtime``."""

import json
import os
import shutil
import signal
import subprocess
import time

from . import cli_scenarios, hostcheck
from .harness import Fail, Skip, expect, expect_rc, log, sh, wait_for
from .image import IMAGE


ETC_KEY = "/etc/docker/key.json"


def docker_name(rt):
    # "runc" is dockerd's built-in name and cannot be redefined with --add-runtime.
    return "runc-ref" if rt.name == "runc" else rt.name


class Docker:
    kind = "docker"

    def __init__(self, tmp, rootfs_tar, runtimes):
        self.tmp = os.path.join(tmp, "docker")
        os.makedirs(self.tmp)
        self.rootfs_tar = rootfs_tar
        self.runtimes = runtimes
        self.seq = 0
        self.sock = os.path.join(self.tmp, "docker.sock")
        # The client that ships with the daemon; a newer one from PATH also works (it negotiates).
        self.binary = "/usr/bin/docker" if os.path.exists("/usr/bin/docker") else shutil.which("docker")
        self.env = dict(os.environ, DOCKER_HOST=f"unix://{self.sock}", DOCKER_CONFIG=os.path.join(self.tmp, "client"))
        self.daemon = None

    def daemon_argv(self):
        d = self.tmp
        config = os.path.join(d, "daemon.json")
        with open(config, "w") as f:
            # Our own file keeps /etc/docker/daemon.json out of the test; the (undocumented) key
            # path keeps dockerd 20.10 from writing its trust key to /etc/docker/key.json.
            json.dump({"deprecated-key-path": f"{d}/key.json"}, f)
        argv = [
            "dockerd",
            "--config-file", config,
            "--data-root", f"{d}/data",
            "--exec-root", f"{d}/exec",
            "--pidfile", f"{d}/docker.pid",
            "-H", f"unix://{self.sock}",
            "--iptables=false",
            "--ip-masq=false",
            "--bridge=none",
            "--storage-driver", "overlay2",
            "--exec-opt", "native.cgroupdriver=cgroupfs",
        ]
        for rt in self.runtimes:
            argv += ["--add-runtime", f"{docker_name(rt)}={rt.path}"]
        return argv

    def start(self):
        self.parent = hostcheck.ParentCgroups("docker")
        self.had_etc_key = os.path.exists(ETC_KEY)
        self.log = open(os.path.join(self.tmp, "dockerd.log"), "w")
        argv = self.daemon_argv()
        log(" ".join(argv))
        self.daemon = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_for(lambda: self.daemon.poll() is not None or self.cli(["version"], timeout=10).returncode == 0, 60, "dockerd")
        except Fail:
            raise Fail(f"dockerd did not come up; log tail:\n{self.log_tail()}")
        if self.daemon.poll() is not None:
            raise Fail(f"dockerd exited {self.daemon.returncode}; log tail:\n{self.log_tail()}")
        expect_rc(self.cli(["import", self.rootfs_tar, IMAGE], timeout=120), 0)

    def log_tail(self):
        self.log.flush()
        with open(self.log.name) as f:
            return "".join(f.readlines()[-20:])

    def stop(self):
        if not self.daemon:
            return
        try:
            self.cleanup_containers()
        finally:
            self.daemon.send_signal(signal.SIGTERM)
            try:
                self.daemon.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.daemon.pid, signal.SIGKILL)
                self.daemon.wait()
                raise Fail("dockerd did not exit within 60s of SIGTERM")
            finally:
                self.log.close()
        self.parent.remove_new()
        if os.path.exists(ETC_KEY) and not self.had_etc_key:
            raise Fail(f"dockerd wrote {ETC_KEY} outside its temp directory")

    def cli(self, args, **kw):
        return sh([self.binary, *args], env=self.env, **kw)

    def runtime_name(self, rt):
        return docker_name(rt)

    def run(self, rt, opts, cmd, **kw):
        # --bridge=none leaves no default network: every container gets --network none unless
        # the scenario sets one itself.
        net = [] if any(o.startswith("--network") for o in opts) else ["--network", "none"]
        return self.cli(["run", "--runtime", docker_name(rt), *net, *opts, IMAGE, *cmd], **kw)

    def name(self):
        self.seq += 1
        return f"engt-{os.getpid()}-{self.seq}"

    def cleanup_containers(self):
        ids = self.cli(["ps", "-aq"], timeout=60).stdout.split()
        if ids:
            res = self.cli(["rm", "-f", *ids], timeout=120)
            if res.returncode != 0:
                raise Fail(f"docker rm -f failed: {res.stderr.strip()}")


cli_scenarios.register("docker")
