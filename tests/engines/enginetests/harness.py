"""Scenario registry, command runner, result table.

A scenario is a function ``(engine, runtime) -> None`` that raises ``Fail`` (or any exception)
when the engine did not do what a runtime should make it do, and ``Skip`` when it cannot run
here. Each scenario runs once per runtime (ocirun and the reference runtimes) on the same
engine instance, which is what makes the parity table meaningful: only the runtime differs.
"""

import json
import os
import signal
import subprocess
import sys
import time

PASS, FAIL, SKIP = "PASS", "FAIL", "SKIP"


class Fail(Exception):
    """The scenario ran and the engine/runtime misbehaved."""


class Skip(Exception):
    """The scenario cannot run on this machine; the message says why."""


class Scenario:
    def __init__(self, engine, name, func, core, needs):
        self.engine, self.name, self.func, self.core, self.needs = engine, name, func, core, needs

    @property
    def label(self):
        return f"{self.engine}/{self.name}"


SCENARIOS = []


def scenario(engine, name, core=True, needs=None):
    """Registers a scenario. ``needs`` names an ocirun feature that is not written yet
    ("exec", "pause"): such scenarios still run and still fail, but the output says why."""

    def register(func):
        SCENARIOS.append(Scenario(engine, name, func, core, needs))
        return func

    return register


class Runtime:
    def __init__(self, name, path):
        self.name, self.path = name, os.path.abspath(path)

    def __repr__(self):
        return f"{self.name}={self.path}"


class Result:
    def __init__(self, scenario, runtime, status, detail, seconds):
        self.scenario, self.runtime, self.status = scenario, runtime, status
        self.detail, self.seconds = detail, seconds


class Results:
    def __init__(self):
        self.items = []
        self.timings = []  # (engine, runtime, count, seconds, failures)

    def add(self, res):
        self.items.append(res)
        sc = res.scenario
        tag = f" ({'needs ' + sc.needs})" if sc.needs and res.status == FAIL else ""
        line = f"{res.status}{tag} {sc.label} [{res.runtime}] {res.seconds:.1f}s"
        if res.detail and res.status != PASS:
            line += "\n    " + res.detail.replace("\n", "\n    ")
        print(line, flush=True)

    def counts(self):
        c = {PASS: 0, FAIL: 0, SKIP: 0}
        for r in self.items:
            c[r.status] += 1
        return c


def sh(argv, *, env=None, input=None, timeout=90, check=False, cwd=None):
    """Runs a command to completion with a deadline; on timeout the whole process group is
    killed and ``Fail`` is raised, so a hung engine fails one scenario instead of the run."""
    proc = subprocess.Popen(
        [str(a) for a in argv],
        stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=cwd,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(input.encode() if isinstance(input, str) else input, timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        out, err = proc.communicate()
        raise Fail(f"timed out after {timeout}s: {' '.join(map(str, argv))}\nstderr: {err.decode(errors='replace')[-1500:]}")
    res = subprocess.CompletedProcess(argv, proc.returncode, out.decode(errors="replace"), err.decode(errors="replace"))
    if check and res.returncode != 0:
        raise Fail(describe(res, "failed"))
    return res


def kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def describe(res, what):
    cmd = " ".join(map(str, res.args))
    text = f"{what}: `{cmd}` exited {res.returncode}"
    if res.stdout.strip():
        text += f"\nstdout: {res.stdout.strip()[-1500:]}"
    if res.stderr.strip():
        text += f"\nstderr: {res.stderr.strip()[-1500:]}"
    return text


def expect(cond, msg, res=None):
    if not cond:
        raise Fail(describe(res, msg) if res is not None else msg)


def expect_rc(res, rc):
    expect(res.returncode == rc, f"expected exit {rc}", res)


def json_line(res, key=None):
    """The last stdout line that parses as a JSON object (and has ``key``, if given)."""
    for line in reversed(res.stdout.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                v = json.loads(line)
            except ValueError:
                continue
            if key is None or key in v:
                return v
    raise Fail(describe(res, f"no JSON{' with ' + repr(key) if key else ''} in the output"))


def errno_of(res):
    """errno of a reporter ``syscall``/``write`` probe, 0 on success."""
    v = json_line(res)
    r = v.get("result", v)
    if isinstance(r, dict) and "error" in r:
        return r["error"]
    return 0


def wait_for(pred, timeout, what, interval=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    raise Fail(f"timed out after {timeout}s waiting for {what}")


def run_scenarios(engine, runtimes, scenarios, results):
    for sc in scenarios:
        for rt in runtimes:
            start = time.monotonic()
            try:
                sc.func(engine, rt)
                status, detail = PASS, ""
            except Skip as e:
                status, detail = SKIP, str(e)
            except Fail as e:
                status, detail = FAIL, str(e)
            except Exception as e:  # a bug in the scenario is still a failure, never a pass
                status, detail = FAIL, f"{type(e).__name__}: {e}"
            try:
                engine.cleanup_containers()
            except Exception as e:
                if status == PASS:
                    status, detail = FAIL, f"cleanup after the scenario failed: {e}"
            results.add(Result(sc, rt.name, status, detail, time.monotonic() - start))


def print_table(results, runtimes):
    names = [r.name for r in runtimes]
    rows = {}
    for r in results.items:
        rows.setdefault(r.scenario.label, {"sc": r.scenario})[r.runtime] = r.status
    width = max([len(k) for k in rows] + [10]) + 2
    print("\n== parity (scenario x runtime) ==")
    print("scenario".ljust(width) + "".join(n.ljust(10) for n in names) + "note")
    for label, row in rows.items():
        sc = row["sc"]
        note = f"needs {sc.needs}" if sc.needs else ""
        note += " ".join(f"{st} ({rt})" for rt, st in row.items() if rt != "sc" and rt not in names)
        print(label.ljust(width) + "".join(row.get(n, "-").ljust(10) for n in names) + note)
    if results.timings:
        print("\n== timing ==")
        for engine, rt, n, secs, fails in results.timings:
            per = f"{secs / n * 1000:.0f} ms/container" if n else ""
            print(f"{engine} run --rm x{n} [{rt}]: {secs:.1f}s  {per}  failures={fails}")


def log(msg):
    print(f"-- {msg}", file=sys.stdout, flush=True)
