"""Fixtures for the monitor suite: a real `ward monitor` process per test (own loopback port,
state root, audit log), bundles from conformance/lib with the suite's static helpers, and
Prometheus' exposition parsed from /metrics. Needs root; every test cleans up after itself."""

import json
import os
import re
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import urllib.request

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "conformance", "lib"))

import bundle as bundlelib  # noqa: E402
import harness  # noqa: E402

BUILD = os.path.join(HERE, ".build")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read().decode()


def parse_metrics(text):
    """{(name, frozenset(labels.items())): value} from the text exposition."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$', line)
        assert m, f"bad exposition line {line!r}"
        labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        out[(m.group(1), frozenset(labels.items()))] = float(m.group(4))
    return out


def metric(metrics, name, **labels):
    """Sum of the samples of `name` whose labels include `labels`."""
    return sum(v for (n, ls), v in metrics.items()
               if n == name and all((k, str(val)) in ls for k, val in labels.items()))


def read_records(path):
    recs = []
    if not os.path.exists(path):
        return recs
    with open(path, "rb") as f:
        for line in f:
            recs.append(json.loads(line))
    return recs


class Monitor:
    def __init__(self, binary, roots, audit_log, workdir, rules=None, extra=()):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.audit_log = audit_log
        argv = [binary, "monitor", "--listen", f"127.0.0.1:{self.port}", "--audit-log", audit_log]
        for r in roots:
            argv += ["--root", r]
        if rules:
            argv += ["--rules", rules]
        argv += list(extra)
        self.out = open(os.path.join(workdir, f"monitor-{self.port}.log"), "w+")
        self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.out, stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        while True:
            try:
                if http_get(self.url + "/healthz", timeout=1)[0] == 200:
                    break
            except OSError:
                pass
            if self.p.poll() is not None or time.time() > deadline:
                self.out.seek(0)
                raise AssertionError(f"monitor did not come up: {self.out.read()}")
            time.sleep(0.05)

    def metrics_text(self):
        return http_get(self.url + "/metrics")[1]

    def metrics(self):
        return parse_metrics(self.metrics_text())

    def alerts(self, rule=None, container_id=None):
        return [r for r in read_records(self.audit_log)
                if r.get("event") == "alert" and (rule is None or r.get("rule") == rule)
                and (container_id is None or r.get("container_id") == container_id)]

    def wait_alerts(self, n, timeout=10, **kw):
        a = harness.wait_for(lambda: len(self.alerts(**kw)) >= n and self.alerts(**kw), timeout)
        return a or self.alerts(**kw)

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
                raise AssertionError("monitor ignored SIGTERM")
        self.out.close()
        return self.p.returncode


@pytest.fixture(scope="session")
def session():
    if os.geteuid() != 0:
        pytest.exit("the monitor tests need root", returncode=2)
    binary = harness.runtime_under_test()
    bundlelib.build_probe()
    os.makedirs(BUILD, exist_ok=True)
    for h in ("spawn", "suid"):
        subprocess.run(["gcc", "-static", "-O2", "-Wall", "-o", os.path.join(BUILD, h),
                        os.path.join(HERE, "helpers", h + ".c")], check=True)
    token = secrets.token_hex(4)
    base = tempfile.mkdtemp(prefix="ward-monitor-test-")
    s = {"binary": binary, "marker": "mon-" + token, "prefix": f"/ward-test-audit/mon-{token}", "base": base}
    yield s
    harness.remove_cgroup_prefix(s["prefix"])
    for h in harness.cgroup_hierarchies():
        try:
            os.rmdir(os.path.join(h, "ward-test-audit"))
        except OSError:
            pass
    shutil.rmtree(base, ignore_errors=True)


class Env:
    def __init__(self, s, name):
        self.s = s
        self.dir = os.path.join(s["base"], name)
        os.makedirs(self.dir)
        self.root = f"/run/ward-audit-{os.path.basename(s['base'])}-{name}"[:100]
        self.audit_log = os.path.join(self.dir, "audit.log")
        self.rt = harness.Runtime(s["binary"], self.root, s["marker"], extra_global=["--audit-log", self.audit_log])
        self.cg_paths, self.monitors, self.n = [], [], 0

    def bundle(self, args, uid=0, nnp=True, annotations=None, name=None):
        self.n += 1
        name = name or f"b{self.n}"
        cg = f"{self.s['prefix']}/{os.path.basename(self.dir)}-{name}"
        self.cg_paths.append(cg)
        b = bundlelib.Bundle(os.path.join(self.dir, name), cg, args=list(args), marker=self.s["marker"])
        for h in ("spawn", "suid"):
            dst = os.path.join(b.rootfs, h)
            shutil.copy2(os.path.join(BUILD, h), dst)
            os.chown(dst, 0, 0)
        os.chmod(os.path.join(b.rootfs, "suid"), 0o4755)
        b.config["process"]["user"] = {"uid": uid, "gid": uid}
        b.config["process"]["noNewPrivileges"] = nnp
        if annotations:
            b.config["annotations"] = dict(annotations)
        return b.write()

    def run_container(self, b, cid):
        """create + start; returns the container id."""
        out, err = os.path.join(self.dir, cid + ".out"), os.path.join(self.dir, cid + ".err")
        with open(out, "w") as o, open(err, "w") as e:
            p = subprocess.run(self.rt.argv("create", "-b", b.path, cid), stdin=subprocess.DEVNULL,
                               stdout=o, stderr=e, env=self.rt.env(), timeout=30)
        assert p.returncode == 0, open(err).read()
        self.rt.run("start", cid, check=True)
        return cid

    def container_output(self, cid):
        return harness.read(os.path.join(self.dir, cid + ".out"), "")

    def monitor(self, **kw):
        m = Monitor(self.s["binary"], [self.root], self.audit_log, self.dir, **kw)
        self.monitors.append(m)
        return m

    def cleanup(self):
        for m in self.monitors:
            m.stop()
        harness.cleanup(self.s["marker"], [self.root], self.cg_paths, [self.dir], [self.rt])
        left = harness.leftovers(self.s["marker"], [self.root], self.cg_paths, [self.dir])
        shutil.rmtree(self.root, ignore_errors=True)
        return left


@pytest.fixture
def env(session, request):
    name = "".join(c if c.isalnum() else "-" for c in request.node.name.lower())[:40]
    e = Env(session, name.replace("test-", "", 1))
    yield e
    left = e.cleanup()
    assert not left, "left behind:\n  " + "\n  ".join(left)


KUBE = {"io.kubernetes.cri.sandbox-name": "web-1", "io.kubernetes.cri.sandbox-namespace": "prod",
        "io.kubernetes.cri.container-name": "nginx"}
