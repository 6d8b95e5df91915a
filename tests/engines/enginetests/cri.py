"""The Kubernetes path: containerd's CRI plugin with one runtime handler per runtime under test
(``ocirun``, and ``crun``/``runc`` for parity), each ``runtime_type = "io.containerd.runc.v2"``
with ``options.BinaryName`` set to the runtime binary, driven over containerd's gRPC socket the
way the kubelet drives it (RunPodSandbox, CreateContainer, StartContainer, ExecSync,
ContainerStatus, StopContainer, RemoveContainer, StopPodSandbox, RemovePodSandbox).

No crictl is packaged for Debian 12 and the standard library has no gRPC, so the client is ours:
``grpcio`` + ``grpcio-tools`` from PyPI in a venv cached under ~/.cache, and Python stubs
generated at test time from the CRI ``api.proto`` (runtime.v1) shipped in the ``k8s-cri``
crate, fetched with ``cargo fetch`` when it is not in the cargo registry cache already.

No image registry and no CNI: the test image and a sandbox ("pause") image built from the same
rootfs with ``sleep`` as its command are imported into the ``k8s.io`` namespace with ``ctr``,
the sandbox image is the plugin's ``sandbox_image``, and pods use the host network
(``namespace_options.network = NODE``). Pods get ``cgroup_parent = /enginetest-cri`` so the
leak check can see their cgroups."""

import glob
import os
import shutil
import signal
import subprocess
import sys
import time

from . import hostcheck
from .containerd import config_toml
from .harness import Fail, Skip, expect, expect_rc, log, scenario, sh, wait_for
from .image import IMAGE, REPORTER, build_oci_archive

NAMESPACE = "k8s.io"
PAUSE_IMAGE = "localhost/enginetest-pause:latest"
CGROUP_PARENT = "enginetest-cri"
K8S_CRI = "0.11.0"  # crate version whose proto/v1.proto is the CRI API we generate stubs from

CRI_CONFIG = """
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{pause}"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  disable_apparmor = true
  disable_cgroup = false
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{d}/cni/bin"
    conf_dir = "{d}/cni/conf"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "{default}"
{runtimes}"""

RUNTIME = """\
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.{name}]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.{name}.options]
        BinaryName = "{path}"
        Root = "{d}/runtime-state"
        SystemdCgroup = false
"""


def cache_dir():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "ocirun-enginetests")


def grpc_venv():
    """site-packages of a venv (same interpreter) with grpcio and grpcio-tools; made once."""
    ver = f"py{sys.version_info.major}.{sys.version_info.minor}"
    venv = os.path.join(cache_dir(), f"cri-venv-{ver}")
    py = os.path.join(venv, "bin", "python")
    probe = [py, "-c", "import grpc, grpc_tools.protoc"]
    if not (os.path.exists(py) and subprocess.run(probe, capture_output=True).returncode == 0):
        log(f"installing grpcio + grpcio-tools from PyPI into {venv}")
        res = sh([sys.executable, "-m", "venv", "--clear", venv], timeout=120)
        if res.returncode == 0:
            res = sh([py, "-m", "pip", "install", "-q", "--disable-pip-version-check", "grpcio", "grpcio-tools"], timeout=600)
        if res.returncode != 0:
            raise Skip(f"no gRPC client: pip install grpcio grpcio-tools failed: {(res.stderr or res.stdout).strip()[-500:]}")
    site = glob.glob(os.path.join(venv, "lib", "python*", "site-packages"))
    if not site:
        raise Skip(f"no site-packages in {venv}")
    return py, site[0]


def cri_proto(tmp):
    """proto/v1.proto of the k8s-cri crate, from the cargo registry cache or ``cargo fetch``."""
    home = os.environ.get("CARGO_HOME") or os.path.join(os.path.expanduser("~"), ".cargo")
    pattern = os.path.join(home, "registry", "src", "*", f"k8s-cri-{K8S_CRI}", "proto", "v1.proto")
    found = glob.glob(pattern)
    if not found and not shutil.which("cargo"):
        raise Skip(f"no CRI api.proto: k8s-cri {K8S_CRI} is not in the cargo registry cache and there is no cargo to fetch it")
    if not found:
        proj = os.path.join(tmp, "fetch-k8s-cri")
        os.makedirs(os.path.join(proj, "src"), exist_ok=True)
        with open(os.path.join(proj, "Cargo.toml"), "w") as f:
            f.write(f'[package]\nname = "fetch-k8s-cri"\nversion = "0.0.0"\nedition = "2021"\n\n'
                    f'[dependencies]\nk8s-cri = "={K8S_CRI}"\n')
        open(os.path.join(proj, "src", "lib.rs"), "w").close()
        log(f"fetching the k8s-cri {K8S_CRI} crate (for the CRI api.proto) with cargo fetch")
        res = sh(["cargo", "fetch", "--manifest-path", os.path.join(proj, "Cargo.toml")], timeout=300)
        found = glob.glob(pattern)
        if not found:
            raise Skip(f"no CRI api.proto: cargo fetch k8s-cri {K8S_CRI} failed: {res.stderr.strip()[-500:]}")
    return found[0]


def load_client(tmp):
    """Imports grpc and the generated runtime.v1 stubs into this process."""
    py, site = grpc_venv()
    gen = os.path.join(tmp, "cri-stubs")
    os.makedirs(gen, exist_ok=True)
    with open(cri_proto(tmp)) as src, open(os.path.join(gen, "api.proto"), "w") as dst:
        dst.write(src.read())
    res = sh([py, "-m", "grpc_tools.protoc", f"-I{gen}", f"--python_out={gen}", f"--grpc_python_out={gen}", "api.proto"], cwd=gen)
    expect_rc(res, 0)
    for p in (site, gen):
        if p not in sys.path:
            sys.path.insert(0, p)
    import grpc  # noqa: E402
    import api_pb2  # noqa: E402
    import api_pb2_grpc  # noqa: E402
    return grpc, api_pb2, api_pb2_grpc


class Cri:
    kind = "cri"

    def __init__(self, tmp, rootfs_tar, oci_tar, runtimes):
        self.tmp = os.path.join(tmp, "cri")
        os.makedirs(self.tmp)
        self.rootfs_tar, self.oci_tar = rootfs_tar, oci_tar
        self.pause_tar = os.path.join(self.tmp, "pause-oci.tar")
        self.sock = os.path.join(self.tmp, "containerd.sock")
        self.config = os.path.join(self.tmp, "config.toml")
        rts = "".join(RUNTIME.format(name=rt.name, path=rt.path, d=self.tmp) for rt in runtimes)
        extra = CRI_CONFIG.format(d=self.tmp, pause=PAUSE_IMAGE, default=runtimes[0].name, runtimes=rts)
        self.config_text = config_toml(self.tmp, cri=True, extra=extra)
        with open(self.config, "w") as f:
            f.write(self.config_text)
        self.daemon = None
        self.channel = None
        self.seq = 0
        self.pods = []  # pods of the running scenario, removed by cleanup_containers
        self.stuck = False

    def start(self):
        self.grpc, self.pb, stubs = load_client(self.tmp)
        build_oci_archive(self.pause_tar, self.rootfs_tar, self.tmp, name=PAUSE_IMAGE, cmd=("/bin/sleep", "1000000"))
        self.parent = hostcheck.ParentCgroups(CGROUP_PARENT)
        self.log = open(os.path.join(self.tmp, "containerd.log"), "w")
        self.daemon = subprocess.Popen(["containerd", "--config", self.config], stdout=self.log,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        self.channel = self.grpc.insecure_channel(f"unix://{self.sock}")
        self.rs = stubs.RuntimeServiceStub(self.channel)
        self.ims = stubs.ImageServiceStub(self.channel)

        def up():
            if self.daemon.poll() is not None:
                return True
            try:
                self.rs.Version(self.pb.VersionRequest(), timeout=5)
                return True
            except self.grpc.RpcError:
                return False

        try:
            wait_for(up, 60, "containerd's CRI service")
        except Fail:
            raise Fail(f"containerd's CRI service did not come up; log tail:\n{self.log_tail()}")
        if self.daemon.poll() is not None:
            raise Fail(f"containerd exited {self.daemon.returncode}; log tail:\n{self.log_tail()}")
        for tar in (self.oci_tar, self.pause_tar):
            expect_rc(self.ctr(["images", "import", tar], timeout=120), 0)
        for ref in (IMAGE, PAUSE_IMAGE):
            wait_for(lambda: self.ims.ImageStatus(self.pb.ImageStatusRequest(image=self.pb.ImageSpec(image=ref)),
                                                   timeout=10).image.id, 20, f"CRI to see {ref}")

    NOISE = ("copy shim log", "loading cgroup for", "failed to load cni during init")

    def log_errors(self, n=4):
        """The last ``n`` error lines of containerd's log, without the ones every run has
        (no CNI config; the shim's v1 cgroup lookup on this hybrid host)."""
        self.log.flush()
        with open(self.log.name) as f:
            lines = [l for l in f if "level=error" in l and not any(x in l for x in self.NOISE)]
        return "".join(l[:700] + ("...\n" if len(l) > 700 else "") for l in lines[-n:])

    def log_tail(self, n=20):
        self.log.flush()
        with open(self.log.name) as f:
            return "".join(f.readlines()[-n:])

    def ctr(self, args, **kw):
        return sh(["ctr", "--address", self.sock, "--namespace", NAMESPACE, *args], **kw)

    def stop(self):
        if not self.daemon:
            return
        try:
            # Anything a scenario left is already failed (or stuck, see force_cleanup).
            for s in self.rs.ListPodSandbox(self.pb.ListPodSandboxRequest(), timeout=30).items:
                self.pods.append(s.id)
            try:
                self.cleanup_containers()
            finally:
                if self.stuck:
                    self.force_cleanup()
            for ref in self.ctr(["images", "ls", "-q"]).stdout.split():
                self.ctr(["images", "rm", ref])
            self.ctr(["content", "prune", "references"])
        finally:
            if self.channel:
                self.channel.close()
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

    def cleanup_containers(self):
        """Stops and removes the pods of the last scenario (and their containers); goes on
        past errors, then reports them. Pods that cannot be removed are remembered for
        ``force_cleanup`` at stop and not retried, so one runtime's failure does not fail the
        other runtimes' scenarios."""
        pb, errors = self.pb, []

        def attempt(method, req):
            try:
                getattr(self.rs, method)(req, timeout=60)
            except self.grpc.RpcError as e:
                errors.append(f"{method}: {e.code().name}: {e.details()}")

        pods, self.pods = self.pods, []
        for c in self.rs.ListContainers(pb.ListContainersRequest(), timeout=30).containers:
            if c.pod_sandbox_id in pods:
                attempt("StopContainer", pb.StopContainerRequest(container_id=c.id, timeout=0))
                attempt("RemoveContainer", pb.RemoveContainerRequest(container_id=c.id))
        for s in self.rs.ListPodSandbox(pb.ListPodSandboxRequest(), timeout=30).items:
            if s.id in pods:
                attempt("StopPodSandbox", pb.StopPodSandboxRequest(pod_sandbox_id=s.id))
                attempt("RemovePodSandbox", pb.RemovePodSandboxRequest(pod_sandbox_id=s.id))
        if errors:
            self.stuck = True
            raise Fail("CRI cleanup: " + "\n".join(errors))

    def force_cleanup(self):
        """After a failed CRI cleanup: SIGKILL every process in our pods' cgroups, so no
        container outlives the test (the leak check still reports the mounts and shims)."""
        for h in os.listdir(hostcheck.CGROUP_ROOT):
            base = os.path.join(hostcheck.CGROUP_ROOT, h, CGROUP_PARENT)
            for d, _, _ in os.walk(base):
                try:
                    with open(os.path.join(d, "cgroup.procs")) as f:
                        pids = [int(l) for l in f.read().split()]
                except OSError:
                    continue
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass

    # --- what a kubelet sends -------------------------------------------------------------

    def call(self, method, req, timeout=60):
        try:
            return getattr(self.rs, method)(req, timeout=timeout)
        except self.grpc.RpcError as e:
            raise Fail(f"{method} failed: {e.code().name}: {e.details()}\ncontainerd errors:\n{self.log_errors()}")

    def pod_config(self, name):
        pb = self.pb
        self.seq += 1
        return pb.PodSandboxConfig(
            metadata=pb.PodSandboxMetadata(name=name, uid=f"uid-{os.getpid()}-{self.seq}", namespace="enginetest", attempt=0),
            log_directory=os.path.join(self.tmp, "pod-logs", f"{name}-{self.seq}"),
            linux=pb.LinuxPodSandboxConfig(
                cgroup_parent=f"/{CGROUP_PARENT}",
                security_context=pb.LinuxSandboxSecurityContext(
                    namespace_options=pb.NamespaceOption(network=pb.NODE, pid=pb.CONTAINER, ipc=pb.POD))),
        )

    def run_pod(self, rt, name):
        cfg = self.pod_config(name)
        os.makedirs(cfg.log_directory, exist_ok=True)
        pod = self.call("RunPodSandbox", self.pb.RunPodSandboxRequest(config=cfg, runtime_handler=rt.name), timeout=120).pod_sandbox_id
        self.pods.append(pod)
        return pod, cfg

    def create(self, pod, cfg, name, cmd):
        pb = self.pb
        ccfg = pb.ContainerConfig(
            metadata=pb.ContainerMetadata(name=name, attempt=0),
            image=pb.ImageSpec(image=IMAGE),
            command=list(cmd),
            log_path=f"{name}.log",
            linux=pb.LinuxContainerConfig(),
        )
        return self.call("CreateContainer", pb.CreateContainerRequest(pod_sandbox_id=pod, config=ccfg, sandbox_config=cfg)).container_id

    def status(self, cid):
        return self.call("ContainerStatus", self.pb.ContainerStatusRequest(container_id=cid)).status

    def state_name(self, cid):
        return self.pb.ContainerState.Name(self.status(cid).state)


@scenario("cri", "pod-lifecycle-exec")
def pod_lifecycle(e, rt):
    pb = e.pb
    pod, cfg = e.run_pod(rt, "lifecycle")
    ps = e.call("PodSandboxStatus", pb.PodSandboxStatusRequest(pod_sandbox_id=pod)).status
    expect(ps.state == pb.SANDBOX_READY, f"pod sandbox state {pb.PodSandboxState.Name(ps.state)}, want SANDBOX_READY")
    cid = e.create(pod, cfg, "sleeper", ["sleep", "300"])
    expect(e.state_name(cid) == "CONTAINER_CREATED", f"state after CreateContainer: {e.state_name(cid)}")
    e.call("StartContainer", pb.StartContainerRequest(container_id=cid))
    expect(e.state_name(cid) == "CONTAINER_RUNNING", f"state after StartContainer: {e.state_name(cid)}")

    r = e.call("ExecSync", pb.ExecSyncRequest(container_id=cid, cmd=["echo", "hi"], timeout=30))
    expect(r.exit_code == 0 and r.stdout == b"hi\n", f"ExecSync echo hi: exit {r.exit_code}, stdout {r.stdout!r}, stderr {r.stderr!r}")
    r = e.call("ExecSync", pb.ExecSyncRequest(container_id=cid, cmd=[REPORTER, "exit", "7"], timeout=30))
    expect(r.exit_code == 7, f"ExecSync exit 7: exit {r.exit_code}, stdout {r.stdout!r}, stderr {r.stderr!r}")
    r = e.call("ExecSync", pb.ExecSyncRequest(container_id=cid, cmd=["sh", "-c", "echo out; echo err >&2; exit 3"], timeout=30))
    expect((r.exit_code, r.stdout, r.stderr) == (3, b"out\n", b"err\n"),
           f"ExecSync sh -c: exit {r.exit_code}, stdout {r.stdout!r}, stderr {r.stderr!r}")

    # SIGTERM, then SIGKILL after 2 s if the container is still there: 143 or 137.
    e.call("StopContainer", pb.StopContainerRequest(container_id=cid, timeout=2))
    st = e.status(cid)
    expect(pb.ContainerState.Name(st.state) == "CONTAINER_EXITED" and st.exit_code in (137, 143),
           f"after StopContainer: state {pb.ContainerState.Name(st.state)}, exit code {st.exit_code}, want CONTAINER_EXITED 143 or 137")
    e.call("RemoveContainer", pb.RemoveContainerRequest(container_id=cid))
    e.call("StopPodSandbox", pb.StopPodSandboxRequest(pod_sandbox_id=pod))
    e.call("RemovePodSandbox", pb.RemovePodSandboxRequest(pod_sandbox_id=pod))
    left = [s.id for s in e.call("ListPodSandbox", pb.ListPodSandboxRequest()).items]
    expect(pod not in left, f"pod {pod} still listed after RemovePodSandbox")


@scenario("cri", "container-exit-code")
def container_exit_code(e, rt):
    pb = e.pb
    pod, cfg = e.run_pod(rt, "exitcode")
    cid = e.create(pod, cfg, "exiter", [REPORTER, "exit", "42"])
    e.call("StartContainer", pb.StartContainerRequest(container_id=cid))
    try:
        wait_for(lambda: e.state_name(cid) == "CONTAINER_EXITED", 10, f"{cid} to exit")
    except Fail as x:
        raise Fail(f"{x}; still {e.state_name(cid)}; containerd errors:\n{e.log_errors()}")
    st = e.status(cid)
    expect(st.exit_code == 42, f"exit code {st.exit_code}, want 42 (reason {st.reason!r}, message {st.message!r})")
    e.call("RemoveContainer", pb.RemoveContainerRequest(container_id=cid))
    e.call("StopPodSandbox", pb.StopPodSandboxRequest(pod_sandbox_id=pod))
    e.call("RemovePodSandbox", pb.RemovePodSandboxRequest(pod_sandbox_id=pod))
