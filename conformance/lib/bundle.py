"""Builds OCI bundles for ward's test suites: busybox-static rootfs, the static probe at /probe,
/etc/passwd and /etc/group, and a config.json shaped like `runc spec` output (written here, not
by runc) with a unique absolute cgroupsPath. Used by conformance/ and tests/integration/."""

import copy
import json
import os
import shutil
import subprocess
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
CONFORMANCE = os.path.dirname(HERE)
PROBE_SRC = os.path.join(CONFORMANCE, "probe", "probe.c")
PROBE_BIN = os.environ.get("WARD_PROBE", os.path.join(CONFORMANCE, ".build", "probe"))
BUSYBOX = "/bin/busybox"
APPLETS = ["sh", "ls", "cat", "id", "sleep", "true", "false", "echo", "env", "mkdir", "touch",
           "grep", "hostname", "ps", "mount", "stat", "readlink", "kill", "wc", "head", "tail"]

PASSWD = """root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
user:x:1000:1000:user:/home/user:/bin/sh
other:x:2000:2000:other:/home/other:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
"""
GROUP = """root:x:0:
daemon:x:1:
tty:x:5:
wheel:x:10:root,user
user:x:1000:
other:x:2000:user
nogroup:x:65534:
"""

_lock = threading.Lock()


def build_probe(force=False):
    """Compiles the probe statically (once); returns its path. Raises on a compiler error."""
    with _lock:
        if not force and os.path.exists(PROBE_BIN) and \
                os.path.getmtime(PROBE_BIN) >= os.path.getmtime(PROBE_SRC):
            return PROBE_BIN
        os.makedirs(os.path.dirname(PROBE_BIN), exist_ok=True)
        tmp = PROBE_BIN + ".tmp"
        subprocess.run(["gcc", "-static", "-O2", "-Wall", "-o", tmp, PROBE_SRC], check=True)
        os.replace(tmp, PROBE_BIN)
        return PROBE_BIN


def make_rootfs(rootfs):
    """Creates a minimal rootfs at `rootfs` (which must not exist)."""
    probe = build_probe()
    for d in ["bin", "dev", "etc", "proc", "sys", "tmp", "root", "home/user", "work/sub"]:
        os.makedirs(os.path.join(rootfs, d), exist_ok=True)
    os.chmod(os.path.join(rootfs, "tmp"), 0o1777)
    shutil.copy2(BUSYBOX, os.path.join(rootfs, "bin", "busybox"))
    for a in APPLETS:
        os.symlink("busybox", os.path.join(rootfs, "bin", a))
    shutil.copy2(probe, os.path.join(rootfs, "probe"))
    with open(os.path.join(rootfs, "etc", "passwd"), "w") as f:
        f.write(PASSWD)
    with open(os.path.join(rootfs, "etc", "group"), "w") as f:
        f.write(GROUP)
    with open(os.path.join(rootfs, "etc", "hostname"), "w") as f:
        f.write("image\n")


DEFAULT_CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]

BASE_CONFIG = {
    "ociVersion": "1.0.2-dev",
    "process": {
        "terminal": False,
        "user": {"uid": 0, "gid": 0},
        "args": ["/probe"],
        "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=xterm"],
        "cwd": "/",
        "capabilities": {k: list(DEFAULT_CAPS)
                         for k in ("bounding", "effective", "permitted", "ambient")},
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
        "noNewPrivileges": True,
    },
    "root": {"path": "rootfs", "readonly": True},
    "hostname": "runc",
    "mounts": [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs",
         "options": ["nosuid", "noexec", "nodev", "ro"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
    ],
    "linux": {
        "resources": {"devices": [{"allow": False, "access": "rwm"}]},
        "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
        "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                        "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                        "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
        "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                          "/proc/sysrq-trigger"],
    },
}


def base_config(cgroups_path, args=None, marker=None):
    """Returns a fresh copy of the base config with `cgroups_path` (absolute) and `args`."""
    cfg = copy.deepcopy(BASE_CONFIG)
    cfg["linux"]["cgroupsPath"] = cgroups_path
    if args is not None:
        cfg["process"]["args"] = list(args)
    if marker:
        cfg["process"]["env"].append("WARD_TEST_MARK=" + marker)
    return cfg


class Bundle:
    """A bundle directory: `path`/config.json and `path`/rootfs; edit `config`, then write()."""

    def __init__(self, path, cgroups_path, args=None, marker=None):
        self.path = path
        self.rootfs = os.path.join(path, "rootfs")
        self.cgroups_path = cgroups_path
        os.makedirs(path, exist_ok=True)
        make_rootfs(self.rootfs)
        self.config = base_config(cgroups_path, args, marker)

    @property
    def config_path(self):
        return os.path.join(self.path, "config.json")

    def set_namespaces(self, types):
        self.config["linux"]["namespaces"] = [{"type": t} for t in types]

    def namespace_types(self):
        return [n["type"] for n in self.config["linux"]["namespaces"]]

    def write(self):
        with open(self.config_path, "w") as f:
            json.dump(self.config, f, indent=1)
        return self
