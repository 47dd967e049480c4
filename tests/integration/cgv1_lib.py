"""Helpers for test_cgroups_v1.py and test_exec.py: a long-running container driven through the
runtime's command line on this hybrid host (cgroup v1 controllers under /sys/fs/cgroup/<name>,
cgroup2 at /sys/fs/cgroup/unified), plus the static cghelper of the cgroup v2 suite
(tests/vm/cgroupv2/cghelper.c, compiled here into conformance/.build) copied into its rootfs.

Containers are made from the `env` fixture of conftest.py, so they get an absolute cgroupsPath
under the suite's prefix; the `ctrs` fixture (defined by the test modules) deletes each one with
--force before conftest checks for leftovers."""

import json
import os
import shutil
import subprocess
import threading
import time

import harness
from harness import kv, read, wait_for  # noqa: F401  (re-exported to the tests)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CG = "/sys/fs/cgroup"
HELPER_SRC = os.path.join(REPO, "tests", "vm", "cgroupv2", "cghelper.c")
HELPER_BIN = os.path.join(REPO, "conformance", ".build", "cghelper")
V1 = ["cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids"]
MiB = 1 << 20

_lock = threading.Lock()


def build_helper():
    with _lock:
        if os.path.exists(HELPER_BIN) and \
                os.path.getmtime(HELPER_BIN) >= os.path.getmtime(HELPER_SRC):
            return HELPER_BIN
        os.makedirs(os.path.dirname(HELPER_BIN), exist_ok=True)
        tmp = HELPER_BIN + f".tmp{os.getpid()}"
        subprocess.run(["gcc", "-static", "-O2", "-Wall", "-o", tmp, HELPER_SRC], check=True)
        os.replace(tmp, HELPER_BIN)
        return HELPER_BIN


def sh(script):
    return ["/bin/sh", "-c", script]


def alive(pid):
    """True while `pid` exists and is not a zombie."""
    st = read(f"/proc/{pid}/stat", "")
    return bool(st) and st.rsplit(")", 1)[1].split()[0] != "Z"


class Ctr:
    """One container: edit `config` / `resources`, then start() (create + start, stdio to files
    in the bundle directory)."""

    def __init__(self, env, args, name=None, helper=False):
        self.env = env
        self.rt = env.rt
        self.b = env.bundle(args, name=name)
        self.id = env.cid()
        self.cgpath = self.b.cgroups_path
        self.config = self.b.config
        self.config["root"]["readonly"] = False  # tests leave markers in the rootfs's /tmp
        self.resources = self.config["linux"].setdefault("resources", {})
        if helper:
            shutil.copy2(build_helper(), os.path.join(self.b.rootfs, "cgh"))
        self.out_path = os.path.join(self.b.path, "stdout")
        self.err_path = os.path.join(self.b.path, "stderr")

    def cgdir(self, controller):
        return os.path.join(CG, controller, self.cgpath.lstrip("/"))

    def cg(self, controller, name, default=None):
        return read(os.path.join(self.cgdir(controller), name), default)

    def procs(self, controller="pids"):
        return sorted(int(x) for x in self.cg(controller, "cgroup.procs", "").split())

    def rootfs_file(self, rel):
        return os.path.join(self.b.rootfs, rel.lstrip("/"))

    def wait_rootfs_file(self, rel, timeout=30):
        p = self.rootfs_file(rel)
        return wait_for(lambda: read(p, "").strip(), timeout)

    def create(self):
        self.b.write()
        with open(self.out_path, "w") as o, open(self.err_path, "w") as e:
            p = subprocess.run(self.rt.argv("create", "--bundle", self.b.path, self.id),
                               stdin=subprocess.DEVNULL, stdout=o, stderr=e,
                               env=self.rt.env(), timeout=harness.RUN_TIMEOUT)
        assert p.returncode == 0, f"create exited {p.returncode}: {self.stderr()}"
        return self

    def start(self):
        self.create()
        r = self.rt.run("start", self.id)
        assert r.returncode == 0, f"start exited {r.returncode}: {r.stderr}"
        return self

    def stdout(self):
        return read(self.out_path, "")

    def stderr(self):
        return read(self.err_path, "")

    def state(self):
        return self.rt.state(self.id)

    def status(self):
        s = self.state()
        return s and s.get("status")

    def pid(self):
        return self.state()["pid"]

    def exec(self, *args, timeout=harness.RUN_TIMEOUT, input=None):
        return self.rt.run("exec", *args, timeout=timeout, input=input)

    def delete(self):
        return self.rt.run("delete", "--force", self.id)


def make_ctrs(env):
    """Generator behind the `ctrs` fixture: yields a factory ctrs(args, name=None, helper=False)
    and at teardown deletes every container with --force; raises if a delete failed."""
    made = []

    def make(args, name=None, helper=False):
        c = Ctr(env, args, name=name, helper=helper)
        made.append(c)
        return c

    yield make
    problems = []
    for c in made:
        if c.state() is not None:
            r = c.delete()
            if r.returncode != 0:
                problems.append(f"delete --force {c.id} exited {r.returncode}: {r.stderr.strip()}")
    assert not problems, "; ".join(problems)


def json_lines(text):
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out
