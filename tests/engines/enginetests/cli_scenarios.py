"""Scenarios shared by the two docker-CLI-compatible engines (podman and Docker).

Each takes an engine object with ``cli(args, **kw)`` (runs the engine's CLI),
``run(rt, opts, cmd, **kw)`` (``<engine> run --runtime ... opts IMAGE cmd``), ``name()``
(a fresh container name) and ``kind`` ("podman" or "docker"). Every scenario checks the
behaviour inside the container with the reporter (or on the host, from the container's pid),
and where a wrong runtime could still pass, it also runs a control without the option.
"""

import json
import os
import tempfile
import time

from .harness import Fail, Skip, errno_of, expect, expect_rc, json_line, scenario, wait_for
from .image import REPORTER

R = REPORTER
EROFS, EPERM, EINVAL, EACCES, EAGAIN = 30, 1, 22, 13, 11

COMMON = []


def common(name, core=True, needs=None):
    def reg(func):
        COMMON.append((name, func, core, needs))
        return func

    return reg


def register(engine):
    for name, func, core, needs in COMMON:
        scenario(engine, name, core, needs)(func)


def detached(e, rt, opts=(), cmd=("sleep", "300")):
    name = e.name()
    res = e.run(rt, ["-d", "--name", name, *opts], list(cmd))
    expect_rc(res, 0)
    return name


def inspect(e, name):
    res = e.cli(["inspect", name], check=True)
    data = json.loads(res.stdout)
    return data[0] if isinstance(data, list) else data


def running_pid(e, name):
    st = inspect(e, name)["State"]
    expect(st.get("Running") and st.get("Pid", 0) > 0, f"{name} is not running: {json.dumps(st)[:600]}")
    return st["Pid"]


def env_map(report):
    env = report.get("env", {})
    if isinstance(env, dict):
        return env
    return dict(kv.split("=", 1) for kv in env if "=" in kv)


@common("run-rm-exit-code")
def exit_code(e, rt):
    expect_rc(e.run(rt, ["--rm"], [R, "exit", "42"]), 42)
    expect_rc(e.run(rt, ["--rm"], ["true"]), 0)


@common("stdin-echo")
def stdin_echo(e, rt):
    res = e.run(rt, ["--rm", "-i"], ["cat"], input="hello via stdin\n")
    expect_rc(res, 0)
    expect(res.stdout == "hello via stdin\n", "stdin was not echoed back", res)


@common("env-workdir")
def env_workdir(e, rt):
    res = e.run(rt, ["--rm", "-e", "ENGINE_FOO=bar baz", "-w", "/tmp"], [R, "report"])
    expect_rc(res, 0)
    rep = json_line(res, "cwd")
    expect(env_map(rep).get("ENGINE_FOO") == "bar baz", f"env lacks ENGINE_FOO=bar baz: {rep.get('env')}")
    expect(rep["cwd"] == "/tmp", f"cwd is {rep['cwd']}, expected /tmp")


@common("detached-ps-stop")
def detached_ps_stop(e, rt):
    name = detached(e, rt)
    pid = running_pid(e, name)
    ps = e.cli(["ps", "--format", "{{.Names}}"], check=True)
    expect(name in ps.stdout.split(), f"{name} missing from ps: {ps.stdout!r}")
    expect_rc(e.cli(["stop", "-t", "1", name], timeout=60), 0)
    st = inspect(e, name)["State"]
    expect(not st["Running"], f"still running after stop: {st}")
    expect(st.get("ExitCode") in (137, 143), f"exit code after stop is {st.get('ExitCode')}, expected 137 or 143")
    expect(not os.path.exists(f"/proc/{pid}") or _is_zombie_gone(pid), f"pid {pid} survived stop")


def _is_zombie_gone(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] in ("Z", "X")
    except OSError:
        return True


@common("kill-signal")
def kill_signal(e, rt):
    name = detached(e, rt, cmd=[R, "wait-signal"])
    wait_for(lambda: '"ready"' in e.cli(["logs", name]).stdout, 20, "the reporter to be ready")
    expect_rc(e.cli(["kill", "--signal", "USR1", name]), 0)
    res = e.cli(["wait", name], timeout=30)
    expect(res.stdout.strip().splitlines()[-1:] == ["0"], "wait did not report exit 0", res)
    logs = e.cli(["logs", name]).stdout
    expect('"signal":10' in logs.replace(" ", ""), f"the container did not receive SIGUSR1: {logs!r}")


@common("memory-oom-137")
def memory_oom(e, rt):
    res = e.run(rt, ["--rm", "--memory", "32m", "--memory-swap", "32m"], [R, "alloc", "256"], timeout=120)
    expect_rc(res, 137)


@common("pids-limit")
def pids_limit(e, rt):
    res = e.run(rt, ["--rm", "--pids-limit", "8"], [R, "fork", "20"])
    expect_rc(res, 0)
    v = json_line(res, "forked")
    expect(v["forked"] < 20 and v["errno"] == EAGAIN, f"fork was not limited: {v}")


@common("cpus-quota")
def cpus(e, rt):
    name = detached(e, rt, ["--cpus", "1.5"])
    pid = running_pid(e, name)
    quota = cpu_quota(pid)
    expect(quota == 150000, f"cpu quota of the container's cgroup is {quota}, expected 150000 (period 100000)")


def cpu_quota(pid):
    with open(f"/proc/{pid}/cgroup") as f:
        lines = [l.rstrip("\n").split(":", 2) for l in f]
    for _, ctrls, path in lines:
        if "cpu" in ctrls.split(","):
            for mnt in ("cpu", "cpu,cpuacct"):
                p = f"/sys/fs/cgroup/{mnt}{path}/cpu.cfs_quota_us"
                if os.path.exists(p):
                    return int(open(p).read())
    for _, ctrls, path in lines:
        if ctrls == "":
            for base in ("/sys/fs/cgroup/unified", "/sys/fs/cgroup"):
                p = f"{base}{path}/cpu.max"
                if os.path.exists(p):
                    q = open(p).read().split()[0]
                    return None if q == "max" else int(q)
    raise Fail(f"no cpu cgroup for pid {pid}: {lines}")


@common("read-only")
def read_only(e, rt):
    res = e.run(rt, ["--rm", "--read-only"], [R, "write", "/etc/engine-x", "hi"])
    expect_rc(res, 0)
    expect(errno_of(res) == EROFS, "write to / of a --read-only container did not fail with EROFS", res)
    ctl = e.run(rt, ["--rm"], [R, "write", "/etc/engine-x", "hi"])
    expect(errno_of(ctl) == 0, "control: write to / of a normal container failed", ctl)


@common("user")
def user(e, rt):
    rep = json_line(e.run(rt, ["--rm", "--user", "1000:1000"], [R, "report"]), "uid")
    expect((rep["uid"], rep["euid"], rep["gid"]) == (1000, 1000, 1000), f"--user 1000:1000 gave uid/euid/gid {rep['uid']}/{rep['euid']}/{rep['gid']}")
    rep = json_line(e.run(rt, ["--rm", "--user", "nobody"], [R, "report"]), "uid")
    expect((rep["uid"], rep["gid"]) == (65534, 65534), f"--user nobody gave uid/gid {rep['uid']}/{rep['gid']}")


def cap_mask(rep, which):
    return int(rep["caps"][which]["hex"], 16)


@common("cap-drop-all")
def cap_drop_all(e, rt):
    rep = json_line(e.run(rt, ["--rm", "--cap-drop", "ALL"], [R, "report"]), "caps")
    for which in ("eff", "prm", "bnd", "inh", "amb"):
        expect(cap_mask(rep, which) == 0, f"--cap-drop ALL left {which} caps {rep['caps'][which]}")
    ctl = json_line(e.run(rt, ["--rm"], [R, "report"]), "caps")
    expect(cap_mask(ctl, "eff") != 0, f"control: default container has no effective caps {ctl['caps']}")


@common("seccomp-default")
def seccomp_default(e, rt):
    # swapoff is blocked unconditionally by both default profiles (podman's and moby's). With
    # CAP_SYS_ADMIN the kernel itself would answer ENOENT for a missing path, so EPERM can only
    # come from the filter; the seccomp=unconfined control must see ENOENT.
    swapoff = ["swapoff", "/nonexistent-swap"]
    res = e.run(rt, ["--rm", "--cap-add", "SYS_ADMIN"], swapoff)
    expect("Operation not permitted" in res.stderr + res.stdout, "default seccomp profile did not block swapoff", res)
    rep = json_line(e.run(rt, ["--rm"], [R, "report"]), "seccomp")
    expect(rep["seccomp"] == 2, f"Seccomp mode is {rep['seccomp']}, expected 2 (filter)")
    if e.kind == "docker":  # moby's profile does not allow keyctl at all; podman's does
        res = e.run(rt, ["--rm"], [R, "syscall", "keyctl"])
        expect(errno_of(res) == EPERM, "docker's default seccomp profile did not block keyctl", res)
    ctl = e.run(rt, ["--rm", "--cap-add", "SYS_ADMIN", "--security-opt", "seccomp=unconfined"], swapoff)
    expect("No such file or directory" in ctl.stderr + ctl.stdout, "control: with seccomp=unconfined swapoff should fail with ENOENT", ctl)


@common("seccomp-custom-profile")
def seccomp_custom(e, rt):
    profile = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["chroot"], "action": "SCMP_ACT_ERRNO", "errnoRet": EACCES},
            {"names": ["keyctl"], "action": "SCMP_ACT_ERRNO"},
        ],
    }
    path = os.path.join(e.tmp, "custom-seccomp.json")
    with open(path, "w") as f:
        json.dump(profile, f)
    opts = ["--rm", "--security-opt", f"seccomp={path}"]
    res = e.run(rt, opts, [R, "syscall", "chroot"])
    expect(errno_of(res) == EACCES, "custom profile: chroot should fail with EACCES (errnoRet 13)", res)
    res = e.run(rt, opts, [R, "syscall", "keyctl"])
    expect(errno_of(res) == EPERM, "custom profile: keyctl should fail with EPERM (default errno)", res)
    res = e.run(rt, opts, [R, "syscall", "getpid"])
    expect(errno_of(res) == 0, "custom profile: getpid should be allowed", res)


@common("bind-mount")
def bind_mount(e, rt):
    d = tempfile.mkdtemp(dir=e.tmp, prefix="bind-")
    with open(os.path.join(d, "in"), "w") as f:
        f.write("from the host")
    res = e.run(rt, ["--rm", "-v", f"{d}:/data"], ["sh", "-c", f"cat /data/in && {R} write /data/out from-container"])
    expect_rc(res, 0)
    expect(res.stdout.startswith("from the host"), "bind-mounted file not visible", res)
    expect(open(os.path.join(d, "out")).read() == "from-container", "write through the bind mount did not reach the host")
    res = e.run(rt, ["--rm", "-v", f"{d}:/ro:ro"], [R, "write", "/ro/x", "y"])
    expect(errno_of(res) == EROFS, "write to a :ro bind mount should fail with EROFS", res)


@common("tmpfs")
def tmpfs(e, rt):
    res = e.run(rt, ["--rm", "--tmpfs", "/scratch:rw,size=1m"], ["sh", "-c", f"{R} write /scratch/x hi && {R} report"])
    expect_rc(res, 0)
    first = json.loads(res.stdout.splitlines()[0])
    expect(first == {"ok": True}, "write to the tmpfs failed", res)
    rep = json_line(res, "mountinfo")
    mi = [l for l in rep["mountinfo"] if l.split()[4] == "/scratch"]
    expect(mi and " - tmpfs " in mi[-1], f"/scratch is not a tmpfs: {mi}")


@common("hostname")
def hostname(e, rt):
    rep = json_line(e.run(rt, ["--rm", "--hostname", "enginebox"], [R, "report"]), "hostname")
    expect(rep["hostname"] == "enginebox", f"hostname is {rep['hostname']!r}")


@common("network-none")
def network_none(e, rt):
    res = e.run(rt, ["--rm", "--network", "none"], ["sh", "-c", f"{R} ls /sys/class/net; {R} report"])
    expect_rc(res, 0)
    expect(res.stdout.splitlines()[0] == '["lo"]', "expected only lo in /sys/class/net", res)
    rep = json_line(res, "namespaces")
    expect(rep["namespaces"]["net"] != os.readlink("/proc/self/ns/net"), "the container shares the host's network namespace")


@common("inspect")
def inspect_running(e, rt):
    name = detached(e, rt)
    data = inspect(e, name)
    pid = running_pid(e, name)
    cmd = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
    expect(cmd[:2] == [b"sleep", b"300"], f"inspect's pid {pid} is not the container's process: {cmd}")
    used = data.get("OCIRuntime") or data.get("HostConfig", {}).get("Runtime")
    expect(used in (rt.name, rt.path, e.runtime_name(rt)), f"inspect says runtime {used!r}, expected {rt.name}")


@common("restart")
def restart(e, rt):
    name = detached(e, rt)
    pid1 = running_pid(e, name)
    expect_rc(e.cli(["restart", "-t", "1", name], timeout=60), 0)
    pid2 = running_pid(e, name)
    expect(pid2 != pid1, "restart kept the same pid")


@common("nonexistent-cmd-127")
def nonexistent(e, rt):
    expect_rc(e.run(rt, ["--rm"], ["/nonexistent"]), 127)


@common("pids-limit-1-echo")
def pids_limit_1(e, rt):
    res = e.run(rt, ["--rm", "--pids-limit", "1"], ["echo", "it works"])
    expect_rc(res, 0)
    expect(res.stdout == "it works\n", "wrong output", res)


@common("memory-4m-echo")
def memory_4m(e, rt):
    res = e.run(rt, ["--rm", "--memory", "4m"], ["echo", "it works"])
    if e.kind == "docker" and "Minimum memory limit allowed is 6MB" in res.stderr:
        res = e.run(rt, ["--rm", "--memory", "6m"], ["echo", "it works"])
    expect_rc(res, 0)
    expect(res.stdout == "it works\n", "wrong output", res)


@common("exec", core=False, needs="exec")
def exec_(e, rt):
    name = detached(e, rt)
    res = e.cli(["exec", name, "echo", "hi from exec"])
    expect(res.returncode == 0 and res.stdout == "hi from exec\n", "exec echo failed", res)
    res = e.cli(["exec", "--user", "1000", "-w", "/tmp", "-e", "EXEC_VAR=1", name, R, "report"])
    expect_rc(res, 0)
    rep = json_line(res, "uid")
    expect(rep["uid"] == 1000 and rep["cwd"] == "/tmp" and env_map(rep).get("EXEC_VAR") == "1", f"exec options ignored: uid={rep['uid']} cwd={rep['cwd']}")
    expect_rc(e.cli(["exec", name, R, "exit", "7"]), 7)
    res = e.cli(["exec", "-i", name, "cat"], input="exec stdin\n")
    expect(res.stdout == "exec stdin\n", "exec -i did not pass stdin", res)


@common("pause-unpause", core=False, needs="pause")
def pause(e, rt):
    name = detached(e, rt)
    expect_rc(e.cli(["pause", name]), 0)
    st = inspect(e, name)["State"]
    expect(st.get("Paused") or st.get("Status") == "paused", f"not paused: {st}")
    expect_rc(e.cli(["unpause", name]), 0)
    st = inspect(e, name)["State"]
    expect(st["Running"] and not st.get("Paused"), f"not running after unpause: {st}")
