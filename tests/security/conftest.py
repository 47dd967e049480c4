"""Fixtures for the security tests. They reuse the integration suite's session and per-test
Env (own --root, own cgroup prefix, nothing left behind) and add `rt`: the per-test Env for
the runtime under test and, for tests parametrized with REFERENCE, for Debian's runc."""

import importlib.util
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
INTEG = os.path.join(os.path.dirname(HERE), "integration")
sys.path.insert(0, INTEG)

_spec = importlib.util.spec_from_file_location("integration_conftest",
                                               os.path.join(INTEG, "conftest.py"))
integ = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(integ)

Env = integ.Env
one_line_error = integ.one_line_error
probe_report = integ.probe_report
_ward_only = integ._ward_only  # noqa: F401  (autouse fixture)
env = integ.env  # noqa: F401

RUNC = os.environ.get("WARD_REFERENCE", "/usr/sbin/runc")


def pytest_configure(config):
    integ.pytest_configure(config)


@pytest.fixture(scope="session")
def session():
    # The integration session with its own cgroup prefix for this suite.
    gen = integ.session.__wrapped__()
    s = next(gen)
    s["prefix"] = s["prefix"].replace("/ward-test/integ-", "/ward-test/security-")
    yield s
    try:
        next(gen)
    except StopIteration:
        pass


@pytest.fixture(params=["ward", "runc"])
def rt(request, session):
    """An Env for the runtime under test ("ward") or for runc ("runc"): a test taking `rt`
    performs the same attack on both, since runc refuses every attack such a test covers."""
    if request.param == "runc":
        if not os.access(RUNC, os.X_OK):
            pytest.skip(f"reference runtime {RUNC} not installed")
        s = dict(session, binary=RUNC, version="runc")
    else:
        s = session
    name = "".join(c if c.isalnum() else "-" for c in request.node.name.lower())[:60]
    e = Env(s, name.replace("test-", "", 1))
    e.kind = request.param
    yield e
    left = e.leftovers()
    if left:
        e.cleanup()
    assert not left, "left behind:\n  " + "\n  ".join(left)
