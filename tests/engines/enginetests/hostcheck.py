"""What an engine run may leave on the host, and a check that it left none of it.

Other people's tests run on this machine at the same time, so a global before/after diff would
blame them on us. We look only at what is ours: mounts under the engine's temp directory,
processes whose command line, root or cwd points into it, cgroup directories whose path carries
one of our markers (``libpod``, ``docker``, the containerd namespace), and network namespaces
created while our engine ran (bind mounts under our directory or new entries in /run/netns).
"""

import os

CGROUP_ROOT = "/sys/fs/cgroup"


def mounts_under(dir_):
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4].replace("\\040", " ")
            if mp == dir_ or mp.startswith(dir_ + "/"):
                found.append(mp)
    return found


def processes_under(dir_):
    found = {}
    me = os.getpid()
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == me:
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
            links = [os.readlink(f"/proc/{pid}/{l}") for l in ("root", "cwd")]
        except OSError:
            continue
        if dir_ in cmd or any(l == dir_ or l.startswith(dir_ + "/") for l in links):
            found[int(pid)] = cmd
    return found


def cgroup_dirs(markers, depth=4):
    found = set()
    try:
        hierarchies = os.listdir(CGROUP_ROOT)
    except OSError:
        return found
    for h in hierarchies:
        base = os.path.join(CGROUP_ROOT, h)
        if os.path.islink(base) or not os.path.isdir(base):
            continue
        stack = [(base, 0)]
        while stack:
            d, lvl = stack.pop()
            if lvl >= depth:
                continue
            try:
                entries = os.scandir(d)
            except OSError:
                continue
            for e in entries:
                if e.is_dir(follow_symlinks=False):
                    rel = e.path[len(base):]
                    if any(m in rel for m in markers):
                        found.add(e.path)
                    stack.append((e.path, lvl + 1))
    return found


def netns_entries():
    try:
        return set(os.listdir("/run/netns"))
    except OSError:
        return set()


def engine_owned(path, parents):
    """Whether a cgroup directory is one the engine itself makes on first use and keeps (its
    parent cgroup, podman's ``libpod_parent/conmon``), not one a runtime made for a container.
    ``parents`` are paths relative to a hierarchy's root, like ``libpod_parent/conmon``."""
    rel = path[len(CGROUP_ROOT):].lstrip("/").split("/", 1)
    rel = rel[1] if len(rel) == 2 else ""
    return rel in parents


class Snapshot:
    """``parents``: the engine's own cgroups (see :func:`engine_owned`). They are created on
    first use, in whichever hierarchies exist then, and say nothing about the runtime under
    test, so the leak check leaves them out (seen: podman's ``hugetlb/libpod_parent`` on a
    fresh machine). Container cgroups under them are still checked."""

    def __init__(self, dir_, markers, parents=()):
        self.dir, self.markers, self.parents = dir_, markers, set(parents)
        self.cgroups = self._cgroups()
        self.netns = netns_entries()

    def _cgroups(self):
        return {c for c in cgroup_dirs(self.markers) if not engine_owned(c, self.parents)}

    def leaks(self):
        """Human-readable list of what appeared since the snapshot and is still there."""
        out = []
        out += [f"mount: {m}" for m in mounts_under(self.dir)]
        out += [f"process {p}: {c}" for p, c in processes_under(self.dir).items()]
        out += [f"cgroup: {c}" for c in sorted(self._cgroups() - self.cgroups)]
        out += [f"netns: /run/netns/{n}" for n in sorted(netns_entries() - self.netns)]
        return out

    def clean(self):
        """Best-effort removal of what ``leaks`` reported, so one bad run does not poison the
        machine for the others. Only touches things that are ours by the rules above."""
        for pid in processes_under(self.dir):
            try:
                os.kill(pid, 9)
            except OSError:
                pass
        for mp in sorted(mounts_under(self.dir), key=len, reverse=True):
            os.system(f"umount -l '{mp}' 2>/dev/null")
        for c in sorted(self._cgroups() - self.cgroups, key=len, reverse=True):
            try:
                os.rmdir(c)
            except OSError:
                pass


class ParentCgroups:
    """The parent cgroup an engine puts its containers under (``libpod_parent``, ``docker``, the
    containerd namespace). Engines and runtimes create it on first use and never remove it;
    it is not a per-container leak, so the engine removes it at stop if this run created it.
    Children listed in ``inner`` (podman's ``conmon``) go first; a parent that still has other
    children is left alone and shows up in the leak check."""

    def __init__(self, name, inner=()):
        self.name, self.inner = name, inner
        self.before = self._existing()

    def _existing(self):
        found = set()
        for h in os.listdir(CGROUP_ROOT):
            p = os.path.join(CGROUP_ROOT, h, self.name)
            if os.path.isdir(p):
                found.add(p)
        return found

    def remove_new(self):
        for parent in self._existing() - self.before:
            for d in [os.path.join(parent, i) for i in self.inner] + [parent]:
                try:
                    os.rmdir(d)
                except OSError:
                    pass
