"""Fixtures for the integration tests: they drive the binary in WARD_RUNTIME (default
build/ward) through runc's command line and check what a user observes. Every test gets its
own --root state directory and cgroup prefix, and must leave nothing behind."""

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "conformance", "lib"))

import bundle as bundlelib  # noqa: E402
import harness  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line("markers", "ward_only: checks ward's own wording; skipped unless "
                                       "the runtime's --version starts with 'ward'")


@pytest.fixture(scope="session")
def session():
    if os.geteuid() != 0:
        pytest.exit("the integration tests need root", returncode=2)
    try:
        binary = harness.runtime_under_test()
    except RuntimeError as e:
        pytest.exit(str(e), returncode=2)
    bundlelib.build_probe()
    token = secrets.token_hex(4)
    base = tempfile.mkdtemp(prefix="ward-integ-")
    s = {"binary": binary, "marker": "integ-" + token, "prefix": f"/ward-test/integ-{token}",
         "base": base, "version": harness.version_line(binary)}
    yield s
    left = harness.remove_cgroup_prefix(s["prefix"])
    for h in harness.cgroup_hierarchies():
        try:
            os.rmdir(os.path.join(h, "ward-test"))
        except OSError:
            pass
    shutil.rmtree(base, ignore_errors=True)
    assert not left, f"cgroup directories left under the suite prefix: {left}"


@pytest.fixture(autouse=True)
def _ward_only(request, session):
    if request.node.get_closest_marker("ward_only") and not session["version"].startswith("ward"):
        pytest.skip(f"ward-specific wording; runtime under test is {session['version']!r}")


class Env:
    """Per-test helper: a runtime with its own --root, bundles with unique cgroup paths."""

    def __init__(self, s, name):
        self.s = s
        # Tests in different files may share a name: keep their dirs apart.
        self.dir = os.path.join(s["base"], name)
        k = 1
        while os.path.exists(self.dir):
            k += 1
            self.dir = os.path.join(s["base"], f"{name}-{k}")
        os.makedirs(self.dir)
        self.rt = harness.Runtime(s["binary"], os.path.join(self.dir, "state"), s["marker"])
        self.cg_paths = []
        self.n = 0

    def path(self, *p):
        return os.path.join(self.dir, *p)

    def bundle(self, args=("/probe",), name=None):
        self.n += 1
        name = name or f"b{self.n}"
        cg = f"{self.s['prefix']}/{os.path.basename(self.dir)}-{name}"
        self.cg_paths.append(cg)
        return bundlelib.Bundle(self.path(name), cg, args=list(args), marker=self.s["marker"])

    def cid(self, suffix=""):
        self.n += 1
        return f"it-{os.path.basename(self.dir)[:40]}-{self.n}{suffix}"

    def detached(self, *args, **kw):
        """Runs a command whose children may keep stdio open (create, run -d): stdio go to
        files, read once the command returns. Returns (rc, stdout, stderr)."""
        self.n += 1
        out, err = self.path(f"out{self.n}"), self.path(f"err{self.n}")
        with open(out, "w") as o, open(err, "w") as e:
            p = subprocess.run(self.rt.argv(*args), stdin=subprocess.DEVNULL, stdout=o,
                               stderr=e, env=self.rt.env(), timeout=harness.RUN_TIMEOUT, **kw)
        with open(out) as o, open(err) as e:
            return p.returncode, o.read(), e.read()

    def wait_status(self, cid, status, timeout=10.0):
        deadline = time.time() + timeout
        st = None
        while time.time() < deadline:
            st = self.rt.state(cid)
            if st and st["status"] == status:
                return st
            time.sleep(0.02)
        raise AssertionError(f"container {cid} did not reach {status!r}; last state: {st}")

    def leftovers(self):
        return harness.leftovers(self.s["marker"], [self.rt.root], self.cg_paths, [self.dir])

    def cleanup(self):
        harness.cleanup(self.s["marker"], [self.rt.root], self.cg_paths, [self.dir], [self.rt])


@pytest.fixture
def env(session, request):
    name = "".join(c if c.isalnum() else "-" for c in request.node.name.lower())[:60]
    e = Env(session, name.replace("test-", "", 1))
    yield e
    left = e.leftovers()
    if left:
        e.cleanup()
    assert not left, "left behind:\n  " + "\n  ".join(left)


def one_line_error(p_or_stderr):
    """Asserts a failed command said something, on one line; returns that line."""
    text = p_or_stderr if isinstance(p_or_stderr, str) else p_or_stderr.stderr
    lines = [l for l in text.splitlines() if l.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}: {text!r}"
    return lines[0]


def probe_report(stdout):
    for line in stdout.splitlines():
        if line.startswith("{"):
            return json.loads(line)
    raise AssertionError(f"no probe output in {stdout!r}")
