"""Builds the suite's container images from local files: a busybox-static root filesystem
(also used directly by `ctr run --rootfs`) and OCI image-layout tarballs that
`ctr images import` accepts, so nothing is ever pulled."""

import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile

BUSYBOX = "/bin/busybox"
DIRS = ("bin", "dev", "etc", "proc", "sys", "tmp", "root", "run", "var", "var/run")


def build_rootfs(dest):
    """A minimal root: /bin/busybox with every applet linked in /bin, plus mount points."""
    for d in DIRS:
        os.makedirs(os.path.join(dest, d), exist_ok=True)
    shutil.copy2(BUSYBOX, os.path.join(dest, "bin", "busybox"))
    applets = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True,
                             check=True).stdout.split()
    for a in applets:
        link = os.path.join(dest, "bin", a)
        if a != "busybox" and not os.path.lexists(link):
            os.symlink("busybox", link)
    with open(os.path.join(dest, "etc", "passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")
    with open(os.path.join(dest, "etc", "group"), "w") as f:
        f.write("root:x:0:\nnogroup:x:65534:\n")
    os.chmod(os.path.join(dest, "tmp"), 0o1777)
    return dest


def build_pause(src, dest):
    """Compiles pause.c statically to `dest`."""
    subprocess.run(["gcc", "-static", "-O2", "-Wall", "-o", dest, src], check=True)
    return dest


def _layer_tar(root):
    """Uncompressed, reproducible tar of `root` (ids 0, fixed mtime), as an OCI layer."""
    buf = io.BytesIO()

    def norm(ti):
        ti.uid = ti.gid = 0
        ti.uname = ti.gname = ""
        ti.mtime = 0
        return ti

    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(os.listdir(root)):
            tar.add(os.path.join(root, name), arcname=name, filter=norm)
    return buf.getvalue()


def _blob(blobs, data):
    digest = hashlib.sha256(data).hexdigest()
    with open(os.path.join(blobs, digest), "wb") as f:
        f.write(data)
    return "sha256:" + digest, len(data)


def build_image_tar(root, name, out, entrypoint=None, cmd=None, env=("PATH=/bin",)):
    """Writes an OCI image layout with one layer made of `root` into tarball `out`, tagged
    `name` (a full reference such as localhost/ward-test/busybox:1) for `ctr images import`."""
    work = out + ".d"
    shutil.rmtree(work, ignore_errors=True)
    blobs = os.path.join(work, "blobs", "sha256")
    os.makedirs(blobs)
    layer = _layer_tar(root)
    layer_digest, layer_size = _blob(blobs, layer)
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": list(env), "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
    }
    if entrypoint:
        config["config"]["Entrypoint"] = list(entrypoint)
    if cmd:
        config["config"]["Cmd"] = list(cmd)
    cfg_digest, cfg_size = _blob(blobs, json.dumps(config, sort_keys=True).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": cfg_digest, "size": cfg_size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": layer_digest, "size": layer_size}],
    }
    man_digest, man_size = _blob(blobs, json.dumps(manifest, sort_keys=True).encode())
    index = {
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": man_digest, "size": man_size,
            "platform": {"architecture": "amd64", "os": "linux"},
            "annotations": {"io.containerd.image.name": name,
                            "org.opencontainers.image.ref.name": name.rsplit(":", 1)[-1]},
        }],
    }
    with open(os.path.join(work, "index.json"), "w") as f:
        json.dump(index, f)
    with open(os.path.join(work, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    with tarfile.open(out, "w") as tar:
        for n in ("oci-layout", "index.json", "blobs"):
            tar.add(os.path.join(work, n), arcname=n)
    shutil.rmtree(work)
    return out
