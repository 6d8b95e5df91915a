"""containerd started by the test with its own root, state, sockets and config.toml (CRI
disabled), driven with ``ctr``. ctr ignores the runc options' BinaryName, so each runtime is
chosen per container with ``ctr run --runc-binary <path>`` (shim io.containerd.runc.v2)."""

import os
import signal
import subprocess
import time

from . import hostcheck
from .harness import Fail, expect, expect_rc, log, scenario, sh, wait_for
from .image import IMAGE, REPORTER

NAMESPACE = "enginetest"

CONFIG = """\
version = 2
root = "{d}/root"
state = "{d}/state"
plugin_dir = "{d}/plugins"
disabled_plugins = [{disabled}]

[grpc]
  address = "{d}/containerd.sock"

[ttrpc]
  address = "{d}/containerd.sock.ttrpc"

[debug]
  address = "{d}/debug.sock"

[plugins."io.containerd.internal.v1.opt"]
  path = "{d}/opt"
{extra}"""


def config_toml(d, cri=False, extra=""):
    disabled = "" if cri else '"io.containerd.grpc.v1.cri"'
    return CONFIG.format(d=d, disabled=disabled, extra=extra)


class Containerd:
    kind = "containerd"

    def __init__(self, tmp, oci_tar, subdir="containerd", cri=False, extra=""):
        self.tmp = os.path.join(tmp, subdir)
        os.makedirs(self.tmp)
        self.oci_tar = oci_tar
        self.seq = 0
        self.sock = os.path.join(self.tmp, "containerd.sock")
        self.config = os.path.join(self.tmp, "config.toml")
        with open(self.config, "w") as f:
            f.write(config_toml(self.tmp, cri, extra))
        self.daemon = None

    def start(self):
        self.parent = hostcheck.ParentCgroups(NAMESPACE)
        self.log = open(os.path.join(self.tmp, "containerd.log"), "w")
        self.daemon = subprocess.Popen(["containerd", "--config", self.config], stdout=self.log,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_for(lambda: self.daemon.poll() is not None or self.ctr(["version"], timeout=10).returncode == 0, 60, "containerd")
        except Fail:
            raise Fail(f"containerd did not come up; log tail:\n{self.log_tail()}")
        if self.daemon.poll() is not None:
            raise Fail(f"containerd exited {self.daemon.returncode}; log tail:\n{self.log_tail()}")
        expect_rc(self.ctr(["images", "import", self.oci_tar], timeout=120), 0)

    def log_tail(self):
        self.log.flush()
        with open(self.log.name) as f:
            return "".join(f.readlines()[-20:])

    def stop(self):
        if not self.daemon:
            return
        try:
            self.cleanup_containers()
            self.ctr(["images", "rm", IMAGE])
            # Removes the snapshots and content so the overlay mounts are gone before we stop.
            self.ctr(["content", "prune", "references"])
        finally:
            self.daemon.send_signal(signal.SIGTERM)
            try:
                self.daemon.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.daemon.pid, signal.SIGKILL)
                self.daemon.wait()
                raise Fail("containerd did not exit within 60s of SIGTERM")
            finally:
                self.log.close()
        self.parent.remove_new()

    def ctr(self, args, **kw):
        return sh(["ctr", "--address", self.sock, "--namespace", NAMESPACE, *args], **kw)

    def run(self, rt, opts, id_, cmd, **kw):
        return self.ctr(["run", "--runc-binary", rt.path, *opts, IMAGE, id_, *cmd], **kw)

    def name(self):
        self.seq += 1
        return f"engt-{os.getpid()}-{self.seq}"

    def task_status(self, id_):
        for line in self.ctr(["task", "ls"]).stdout.splitlines()[1:]:
            f = line.split()
            if f and f[0] == id_:
                return f[-1]
        return None

    def cleanup_containers(self):
        for line in self.ctr(["task", "ls"]).stdout.splitlines()[1:]:
            id_ = line.split()[0]
            self.ctr(["task", "kill", "-s", "SIGKILL", id_])
            wait_for(lambda: self.task_status(id_) in ("STOPPED", None), 20, f"task {id_} to stop")
            self.ctr(["task", "delete", id_])
        for line in self.ctr(["containers", "ls", "-q"]).stdout.split():
            res = self.ctr(["containers", "delete", line])
            if res.returncode != 0:
                raise Fail(f"ctr containers delete {line} failed: {res.stderr.strip()}")


def detached(e, rt, cmd=("sleep", "300")):
    id_ = e.name()
    expect_rc(e.run(rt, ["-d"], id_, list(cmd)), 0)
    wait_for(lambda: e.task_status(id_) == "RUNNING", 20, f"{id_} to be RUNNING")
    return id_


@scenario("containerd", "run-rm-exit-code")
def exit_code(e, rt):
    expect_rc(e.run(rt, ["--rm"], e.name(), [REPORTER, "exit", "42"]), 42)
    res = e.run(rt, ["--rm"], e.name(), ["echo", "it works"])
    expect(res.returncode == 0 and res.stdout == "it works\n", "echo failed", res)


@scenario("containerd", "kill-signal")
def kill_signal(e, rt):
    id_ = e.name()
    fg = subprocess.Popen(["ctr", "--address", e.sock, "--namespace", NAMESPACE, "run", "--rm", "--runc-binary", rt.path,
                           IMAGE, id_, REPORTER, "wait-signal"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          start_new_session=True)
    try:
        wait_for(lambda: e.task_status(id_) == "RUNNING", 20, f"{id_} to be RUNNING")
        time.sleep(0.3)  # the reporter prints "ready" once its signal mask is set
        expect_rc(e.ctr(["task", "kill", "-s", "SIGUSR1", id_]), 0)
        out, err = fg.communicate(timeout=30)
    except (Fail, subprocess.TimeoutExpired) as exc:
        os.killpg(fg.pid, signal.SIGKILL)
        fg.communicate()
        raise Fail(f"{exc}")
    expect(fg.returncode == 0 and b'"signal":10' in out, f"ctr run exited {fg.returncode}, stdout {out!r}, stderr {err!r}")


@scenario("containerd", "detached-kill-delete")
def kill_delete(e, rt):
    id_ = detached(e, rt)
    pid = int(next(l.split()[1] for l in e.ctr(["task", "ls"]).stdout.splitlines()[1:] if l.split()[0] == id_))
    expect_rc(e.ctr(["task", "kill", "-s", "SIGKILL", id_]), 0)
    wait_for(lambda: e.task_status(id_) == "STOPPED", 20, f"{id_} to be STOPPED")
    res = e.ctr(["task", "delete", id_])
    expect(res.returncode == 0 and "exit code 137" in res.stdout + res.stderr, "task delete should report exit code 137", res)
    expect_rc(e.ctr(["containers", "delete", id_]), 0)
    expect(not os.path.exists(f"/proc/{pid}"), f"pid {pid} survived")


@scenario("containerd", "memory-oom-137")
def memory_oom(e, rt):
    res = e.run(rt, ["--rm", "--memory-limit", str(32 << 20)], e.name(), [REPORTER, "alloc", "256"], timeout=120)
    expect_rc(res, 137)


@scenario("containerd", "exec", core=False, needs="exec")
def exec_(e, rt):
    id_ = detached(e, rt)
    res = e.ctr(["task", "exec", "--exec-id", "e1", id_, "echo", "hi from exec"])
    expect(res.returncode == 0 and res.stdout == "hi from exec\n", "ctr task exec failed", res)
    expect_rc(e.ctr(["task", "exec", "--exec-id", "e2", id_, REPORTER, "exit", "7"]), 7)


@scenario("containerd", "pause-resume", core=False, needs="pause")
def pause(e, rt):
    id_ = detached(e, rt)
    expect_rc(e.ctr(["task", "pause", id_]), 0)
    expect(e.task_status(id_) == "PAUSED", f"status after pause is {e.task_status(id_)}")
    expect_rc(e.ctr(["task", "resume", id_]), 0)
    expect(e.task_status(id_) == "RUNNING", f"status after resume is {e.task_status(id_)}")
