"""The test image: static busybox + the static ocirun-reporter, as a rootfs tarball (for
``podman import`` / ``docker import``) and as an OCI image-layout archive (for ``ctr images
import``), both built here from local files because there is no registry to pull from."""

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile

from .harness import log

IMAGE = "localhost/enginetest:latest"
REPORTER = "/bin/ocirun-reporter"
TRIPLE = "x86_64-unknown-linux-gnu"

PASSWD = "root:x:0:0:root:/root:/bin/sh\ntester:x:1000:1000:tester:/home/tester:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
GROUP = "root:x:0:\ntester:x:1000:\nnogroup:x:65534:\n"


def is_static(path):
    """True when the ELF file has no PT_INTERP program header."""
    with open(path, "rb") as f:
        elf = f.read(1 << 16)
    if elf[:4] != b"\x7fELF" or elf[4] != 2:
        return False
    phoff = int.from_bytes(elf[32:40], "little")
    phentsize = int.from_bytes(elf[54:56], "little")
    phnum = int.from_bytes(elf[56:58], "little")
    for i in range(phnum):
        off = phoff + i * phentsize
        if int.from_bytes(elf[off:off + 4], "little") == 3:  # PT_INTERP
            return False
    return True


def find_busybox():
    for p in (os.environ.get("ENGINES_BUSYBOX"), "/usr/bin/busybox", "/bin/busybox"):
        if p and os.path.exists(p) and is_static(p):
            return p
    return None


def reporter(workspace):
    """The static reporter: $OCIRUN_TEST_REPORTER, or built the way crates/itest builds it."""
    env = os.environ.get("OCIRUN_TEST_REPORTER")
    if env:
        path = env
    else:
        target = os.path.join(workspace, "target", "reporter-static")
        path = os.path.join(target, TRIPLE, "release", "ocirun-reporter")
        log("building the static reporter (cargo)")
        cmd = ["cargo", "build", "-q", "-p", "reporter", "--release", "--target", TRIPLE, "--target-dir", target]
        env = dict(os.environ, RUSTFLAGS="-C target-feature=+crt-static")
        env.pop("CARGO_ENCODED_RUSTFLAGS", None)
        subprocess.run(cmd, cwd=workspace, env=env, check=True)
    if not is_static(path):
        raise SystemExit(f"{path} is not a static binary; it cannot run in the bare test rootfs")
    return path


def _add_dir(tar, name, mode=0o755):
    ti = tarfile.TarInfo(name)
    ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, mode, 0
    tar.addfile(ti)


def _add_bytes(tar, name, data, mode=0o644):
    ti = tarfile.TarInfo(name)
    ti.size, ti.mode, ti.mtime = len(data), mode, 0
    tar.addfile(ti, io.BytesIO(data))


def _add_symlink(tar, name, target):
    ti = tarfile.TarInfo(name)
    ti.type, ti.linkname, ti.mode, ti.mtime = tarfile.SYMTYPE, target, 0o777, 0
    tar.addfile(ti)


def build_rootfs_tar(path, busybox, reporter_bin):
    applets = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True).stdout.split()
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as tar:
        for d in ("bin", "dev", "etc", "proc", "sys", "root", "home", "home/tester", "run", "var", "mnt", "usr", "usr/bin", "sbin"):
            _add_dir(tar, d)
        for d in ("tmp", "var/tmp"):
            _add_dir(tar, d, 0o1777)
        with open(busybox, "rb") as f:
            _add_bytes(tar, "bin/busybox", f.read(), 0o755)
        with open(reporter_bin, "rb") as f:
            _add_bytes(tar, REPORTER.lstrip("/"), f.read(), 0o755)
        for a in applets:
            if a != "busybox":
                _add_symlink(tar, f"bin/{a}", "busybox")
        _add_bytes(tar, "etc/passwd", PASSWD.encode())
        _add_bytes(tar, "etc/group", GROUP.encode())


def _blob(dir_, data):
    digest = hashlib.sha256(data).hexdigest()
    with open(os.path.join(dir_, "blobs", "sha256", digest), "wb") as f:
        f.write(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def build_oci_archive(path, rootfs_tar, workdir, name=IMAGE, cmd=("/bin/sh",)):
    """An OCI image layout (oci-layout, index.json, blobs) tarred up, named ``name`` (IMAGE)
    through the annotations containerd reads on import, with ``cmd`` as the default command."""
    layout = os.path.join(workdir, "oci-layout")
    shutil.rmtree(layout, ignore_errors=True)
    os.makedirs(os.path.join(layout, "blobs", "sha256"))
    with open(rootfs_tar, "rb") as f:
        raw = f.read()
    diff_id = "sha256:" + hashlib.sha256(raw).hexdigest()
    layer = _blob(layout, gzip.compress(raw, mtime=0))
    layer["mediaType"] = "application/vnd.oci.image.layer.v1.tar+gzip"
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": ["PATH=/bin:/usr/bin:/sbin"], "Cmd": list(cmd)},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }
    cfg = _blob(layout, json.dumps(config).encode())
    cfg["mediaType"] = "application/vnd.oci.image.config.v1+json"
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": cfg, "layers": [layer]}
    man = _blob(layout, json.dumps(manifest).encode())
    man["mediaType"] = "application/vnd.oci.image.manifest.v1+json"
    man["platform"] = {"architecture": "amd64", "os": "linux"}
    man["annotations"] = {"io.containerd.image.name": name, "org.opencontainers.image.ref.name": name.rsplit(":", 1)[-1]}
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [man]}
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump(index, f)
    with open(os.path.join(layout, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    with tarfile.open(path, "w") as tar:
        for name in ("oci-layout", "index.json", "blobs"):
            tar.add(os.path.join(layout, name), arcname=name)
    shutil.rmtree(layout)
