"""Fixtures of the cgroup v2 suite (issue 4). It runs inside tests/vm/ward-vm (a pure cgroup v2
guest, started by tests/vm/run-suite) against the runtime named by WARD_RUNTIME (default
build/ward; /usr/bin/runc works as a reference) and skips everywhere else.

Bundles are built with conformance/lib/bundle.py in the guest's /tmp (a tmpfs: 9p cannot hold
the device nodes a runtime makes), each container gets an absolute cgroupsPath under a prefix of
this suite, and every test ends with `delete --force` and a check that its cgroup is gone."""

import json
import os
import secrets
import shutil
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, os.path.join(REPO, "conformance", "lib"))

import bundle as bundlelib  # noqa: E402
import harness  # noqa: E402
from harness import kv, read, wait_for  # noqa: E402,F401  (re-exported to the tests)

CG = "/sys/fs/cgroup"
HELPER_SRC = os.path.join(HERE, "cghelper.c")
HELPER_BIN = os.environ.get("WARD_CG_HELPER", os.path.join(HERE, ".build", "cghelper"))
EXTRA_APPLETS = ["dd", "seq", "nproc"]


def build_helper():
    """Compiles cghelper.c statically unless an up-to-date binary exists (run-suite builds it
    on the host before the boot, so the guest normally only finds it)."""
    if os.path.exists(HELPER_BIN) and os.path.getmtime(HELPER_BIN) >= os.path.getmtime(HELPER_SRC):
        return HELPER_BIN
    os.makedirs(os.path.dirname(HELPER_BIN), exist_ok=True)
    tmp = HELPER_BIN + ".tmp"
    subprocess.run(["gcc", "-static", "-O2", "-Wall", "-o", tmp, HELPER_SRC], check=True)
    os.replace(tmp, HELPER_BIN)
    return HELPER_BIN


def pure_cgroup2():
    """True when /sys/fs/cgroup is a cgroup2 mount and nothing else is mounted below it."""
    kinds = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            if fields[4] == CG or fields[4].startswith(CG + "/"):
                kinds.append((fields[4], fields[sep + 1]))
    return kinds and all(k == "cgroup2" for _, k in kinds) and any(m == CG for m, _ in kinds)


class Env:
    def __init__(self, binary, token):
        self.binary = binary
        self.version = harness.version_line(binary)
        self.is_runc = self.version.startswith("runc")
        self.token = token
        self.marker = "cgv2-" + token
        self.prefix = f"/ward-cgv2/{token}"
        self.base = f"/tmp/ward-cgv2-{token}"
        self.rt = harness.Runtime(binary, f"/run/ward-cgv2-{token}", self.marker)
        self.helper = build_helper()


@pytest.fixture(scope="session")
def env():
    if os.geteuid() != 0:
        pytest.skip("needs root")
    if not pure_cgroup2():
        pytest.skip("not on a pure cgroup v2 host: run it through tests/vm/run-suite")
    try:
        binary = harness.runtime_under_test()
    except RuntimeError as e:
        pytest.fail(str(e))
    bundlelib.build_probe()
    e = Env(binary, secrets.token_hex(3))
    os.makedirs(e.base)
    yield e
    harness.cleanup(e.marker, state_roots=[e.rt.root], cg_paths=[e.prefix], runtimes=[e.rt])
    left = harness.remove_cgroup_prefix(e.prefix)
    try:
        os.rmdir(os.path.join(CG, "ward-cgv2"))
    except OSError:
        pass
    shutil.rmtree(e.base, ignore_errors=True)
    assert not left, f"cgroup directories left under the suite prefix: {left}"


class Container:
    """One bundle + container id. configure the bundle through `config`, then create()/start()
    (detached, stdout/stderr to files in the bundle) or run() (foreground, captured)."""

    def __init__(self, env, name, args):
        self.env = env
        self.rt = env.rt
        self.id = f"cgv2-{env.token}-{name}"
        self.cgpath = f"{env.prefix}/{name}"
        self.path = os.path.join(env.base, name)
        self.b = bundlelib.Bundle(self.path, self.cgpath, args, marker=env.marker)
        bindir = os.path.join(self.b.rootfs, "bin")
        for a in EXTRA_APPLETS:
            if not os.path.lexists(os.path.join(bindir, a)):
                os.symlink("busybox", os.path.join(bindir, a))
        shutil.copy2(env.helper, os.path.join(self.b.rootfs, "cgh"))
        self.config = self.b.config
        self.config["root"]["readonly"] = False  # tests leave markers in the rootfs's /tmp
        self.resources = self.config["linux"].setdefault("resources", {})
        self.out_path = os.path.join(self.path, "stdout")
        self.err_path = os.path.join(self.path, "stderr")

    @property
    def cgdir(self):
        return CG + self.cgpath

    def cg(self, name, default=None):
        return read(os.path.join(self.cgdir, name), default)

    def rootfs_file(self, rel):
        return os.path.join(self.b.rootfs, rel.lstrip("/"))

    def create(self):
        self.b.write()
        with open(self.out_path, "w") as o, open(self.err_path, "w") as e:
            p = subprocess.run(self.rt.argv("create", "--bundle", self.path, self.id),
                               stdin=subprocess.DEVNULL, stdout=o, stderr=e, timeout=60,
                               env=self.rt.env())
        assert p.returncode == 0, f"create exited {p.returncode}: {self.stderr()}"
        return self

    def start(self):
        self.create()
        r = self.rt.run("start", self.id, timeout=60)
        assert r.returncode == 0, f"start exited {r.returncode}: {r.stderr}"
        return self

    def run(self, timeout=120):
        """Foreground `run`: returns CompletedProcess (its returncode is the container's)."""
        self.b.write()
        return self.rt.run("run", "--bundle", self.path, self.id, timeout=timeout)

    def stdout(self):
        return read(self.out_path, "")

    def stderr(self):
        return read(self.err_path, "")

    def state(self):
        return self.rt.state(self.id)

    def status(self):
        s = self.state()
        return s and s.get("status")

    def exec(self, *args, timeout=60):
        return self.rt.run("exec", self.id, *args, timeout=timeout)

    def wait_rootfs_file(self, rel, timeout=30):
        """Waits until the container wrote the rootfs file `rel` (non-empty); returns its text."""
        p = self.rootfs_file(rel)
        return wait_for(lambda: read(p, "").strip(), timeout)

    def procs(self):
        return [int(x) for x in self.cg("cgroup.procs", "").split()]

    def delete(self):
        return self.rt.run("delete", "--force", self.id, timeout=60)


@pytest.fixture
def containers(env):
    """Factory: containers(name, args) -> Container. At teardown every container is deleted
    with --force and the test fails if its cgroup directory stays."""
    made = []

    def make(name, args):
        c = Container(env, name, args)
        made.append(c)
        return c

    yield make
    problems = []
    for c in made:
        if c.state() is not None:
            r = c.delete()
            if r.returncode != 0:
                problems.append(f"delete --force {c.id} exited {r.returncode}: {r.stderr.strip()}")
        if wait_for(lambda: not os.path.isdir(c.cgdir), 5) is False:
            problems.append(f"cgroup {c.cgdir} left behind (procs: {c.cg('cgroup.procs', '?')!r})")
            harness.cleanup(env.marker, cg_paths=[c.cgpath])
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
