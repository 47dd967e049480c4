"""Fixtures of the differential suite: every test builds the same bundle twice, runs it with
`RUNTIME run` under the runtime under test (WARD_RUNTIME) and under the reference
(WARD_REFERENCE, runc), and compares what the probe observed."""

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))

import bundle as bundlelib  # noqa: E402
import harness  # noqa: E402
import normalize  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def load_differences():
    """Allowed differences from DIFFERENCES.md: table rows `| `test` | `dotted.key` | why |`
    (test `*` applies to every test)."""
    allowed = {}
    path = os.path.join(HERE, "DIFFERENCES.md")
    if not os.path.exists(path):
        return allowed
    with open(path) as f:
        for line in f:
            m = re.match(r"^\|\s*`([^`]+)`\s*\|\s*`([^`]+)`\s*\|\s*(\S.*)\|\s*$", line)
            if m:
                allowed.setdefault(m.group(1), []).append(m.group(2))
    return allowed


@pytest.fixture(scope="session")
def session():
    if os.geteuid() != 0:
        pytest.exit("the conformance suite needs root", returncode=2)
    try:
        ward = harness.runtime_under_test()
        ref = harness.reference_runtime()
    except RuntimeError as e:
        pytest.exit(str(e), returncode=2)
    bundlelib.build_probe()
    token = secrets.token_hex(4)
    base = tempfile.mkdtemp(prefix="ward-conf-")
    os.chmod(base, 0o755)  # mapped users of user-namespace tests must traverse it
    s = {
        "ward": ward,
        "ref": ref,
        "marker": "conf-" + token,
        "prefix": f"/ward-test/conf-{token}",
        "base": base,
        "allowed": load_differences(),
        "host_ns": normalize.host_namespaces(),
    }
    yield s
    left = harness.remove_cgroup_prefix(s["prefix"])
    try:
        for h in harness.cgroup_hierarchies():
            os.rmdir(os.path.join(h, "ward-test"))
    except OSError:
        pass
    shutil.rmtree(base, ignore_errors=True)
    assert not left, f"cgroup directories left under the suite prefix: {left}"


class Ctx:
    """What a test's configure() callback gets for one runtime's copy of the bundle."""

    def __init__(self, role, bundle, scratch, known_ns):
        self.role = role
        self.bundle = bundle
        self.scratch = scratch
        self.known_ns = known_ns
        self.helpers = []
        os.makedirs(scratch, exist_ok=True)

    def helper(self, argv, label):
        """Starts a helper process (ended after the run); its namespaces are labelled `label`."""
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        self.helpers.append(p)
        # wait until the helper has unshared (its netns differs from ours) or 2 s passed
        import time
        deadline = time.time() + 2
        while time.time() < deadline:
            try:
                if all(os.readlink(f"/proc/{p.pid}/ns/{n}") != os.readlink(f"/proc/self/ns/{n}")
                       for n in ("net",)):
                    break
            except OSError:
                pass
            time.sleep(0.01)
        for n in os.listdir(f"/proc/{p.pid}/ns"):
            v = os.readlink(f"/proc/{p.pid}/ns/{n}")
            if self.known_ns.get(v) != "host":
                self.known_ns[v] = label
        return p

    def subst(self):
        return [(self.bundle.path, "<BUNDLE>"), (self.scratch, "<SCRATCH>"),
                (self.bundle.cgroups_path, "<CG>")]


class Differential:
    def __init__(self, s, name):
        self.s = s
        self.name = name
        self.runtimes = {
            "test": harness.Runtime(s["ward"], os.path.join(s["base"], name, "test", "state"),
                                    s["marker"]),
            "ref": harness.Runtime(s["ref"], os.path.join(s["base"], name, "ref", "state"),
                                   s["marker"]),
        }

    def observe(self, role, configure, args, extra):
        s = self.s
        rt = self.runtimes[role]
        d = os.path.join(s["base"], self.name, role)
        cg = f"{s['prefix']}/{self.name}-{role}"
        b = bundlelib.Bundle(os.path.join(d, "bundle"), cg, args=args, marker=s["marker"])
        ctx = Ctx(role, b, os.path.join(d, "scratch"), dict(s["host_ns"]))
        cid = "conf-" + self.name
        left = []
        try:
            if configure:
                configure(b.config, ctx)
            b.write()
            try:
                p = rt.run("run", "--bundle", b.path, cid)
            except subprocess.TimeoutExpired as e:
                out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) \
                    else (e.stdout or "")
                p = subprocess.CompletedProcess(e.cmd, "timeout", out,
                                                f"timed out after {e.timeout} s")
            report = None
            for line in (p.stdout or "").splitlines():
                if line.startswith("{"):
                    report = json.loads(line)
                    break
            obs = {"rc": p.returncode}
            if report is not None:
                obs["report"] = normalize.normalize(report, ctx.known_ns, ctx.subst(),
                                                    s["marker"])
            if extra:
                obs["extra"] = extra(ctx)
        finally:
            left = harness.leftovers(s["marker"], [rt.root], [cg], [b.path])
            if left:
                harness.cleanup(s["marker"], [rt.root], [cg], [b.path], [rt])
            for h in ctx.helpers:
                h.kill()
                h.wait()
        return obs, p, left

    def check(self, configure=None, args=None, extra=None, expect_rc=0):
        """Runs both runtimes, asserts the reference behaved as expected, and compares."""
        ref, ref_p, ref_left = self.observe("ref", configure, args, extra)
        assert not ref_left, f"reference runtime left: {ref_left}"
        if expect_rc is not None:
            assert ref["rc"] == expect_rc, \
                f"reference exited {ref['rc']} (expected {expect_rc}): {ref_p.stderr.strip()}"
        assert "report" in ref, f"reference: no probe output; stderr: {ref_p.stderr.strip()}"
        got, p, left = self.observe("test", configure, args, extra)
        dump = os.environ.get("WARD_CONF_DUMP")
        if dump:  # keep both observations for a look by hand
            os.makedirs(dump, exist_ok=True)
            with open(os.path.join(dump, self.name + ".json"), "w") as f:
                json.dump({"test": got, "ref": ref}, f, indent=1)
        for key in self.s["allowed"].get(self.name, []) + self.s["allowed"].get("*", []):
            for o in (got, ref):
                normalize.drop_path(o, key)
        diffs = normalize.diff(got, ref)
        msg = ""
        if diffs:
            msg += "observations differ from the reference:\n  " + "\n  ".join(diffs)
            msg += f"\nstderr under test: {p.stderr.strip()}"
        if left:
            msg += "\nleftovers under test:\n  " + "\n  ".join(left)
        assert not msg, msg
        return got


@pytest.fixture
def diff(session, request):
    name = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower().replace("test_", "", 1))[:40]
    return Differential(session, name.strip("-"))


@pytest.fixture
def features(session):
    p = subprocess.run([session["ref"], "features"], capture_output=True, text=True)
    return json.loads(p.stdout) if p.returncode == 0 else {}
