"""Bad input and wrong-state commands: each must exit non-zero, say one line on stderr and
leave nothing behind (the `env` fixture checks state dir, cgroups, mounts and processes)."""

import json
import os
import time

import pytest

from conftest import one_line_error
from test_lifecycle import looping_bundle


@pytest.mark.parametrize("cmd", ["run", "create"])
def test_missing_config(env, cmd):
    d = env.path("empty")
    os.makedirs(d)
    rc, _, err = env.detached(cmd, "--bundle", d, env.cid())
    assert rc != 0
    one_line_error(err)


@pytest.mark.parametrize("cmd", ["run", "create"])
def test_malformed_config(env, cmd):
    b = env.bundle().write()
    with open(b.config_path, "w") as f:
        f.write('{"ociVersion": "1.0.2", "process": {')
    rc, _, err = env.detached(cmd, "--bundle", b.path, env.cid())
    assert rc != 0
    one_line_error(err)


def test_config_wrong_types(env):
    b = env.bundle().write()
    b.config["process"]["args"] = "not-a-list"
    b.write()
    rc, _, err = env.detached("run", "--bundle", b.path, env.cid())
    assert rc != 0
    one_line_error(err)


@pytest.mark.parametrize("cmd", ["run", "create"])
def test_missing_rootfs(env, cmd):
    b = env.bundle()
    b.config["root"]["path"] = "no-such-rootfs"
    b.write()
    rc, _, err = env.detached(cmd, "--bundle", b.path, env.cid())
    assert rc != 0
    one_line_error(err)


def test_missing_executable(env):
    b = env.bundle(["/no/such/binary"]).write()
    rc, _, err = env.detached("run", "--bundle", b.path, env.cid())
    assert rc != 0
    one_line_error(err)


@pytest.mark.parametrize("bad_id", ["../x", "a/b", "..", "with space", "/abs"])
def test_invalid_id(env, bad_id):
    b = env.bundle().write()
    rc, _, err = env.detached("run", "--bundle", b.path, bad_id)
    assert rc != 0
    one_line_error(err)
    assert not os.path.exists(os.path.join(os.path.dirname(env.rt.root), "x"))


def test_duplicate_id(env):
    b, _ = looping_bundle(env)
    cid = env.cid()
    rc, _, err = env.detached("create", "--bundle", b.path, cid)
    assert rc == 0, err
    b2, _ = looping_bundle(env, name="second")
    rc, _, err = env.detached("create", "--bundle", b2.path, cid)
    assert rc != 0
    one_line_error(err)
    st = env.rt.state(cid)
    assert st["status"] == "created" and st["bundle"] == b.path, "the first one must survive"
    assert env.rt.run("delete", "--force", cid).returncode == 0


def test_start_running(env):
    b, _ = looping_bundle(env)
    cid = env.cid()
    rc, _, err = env.detached("run", "-d", "--bundle", b.path, cid)
    assert rc == 0, err
    env.wait_status(cid, "running")
    p = env.rt.run("start", cid)
    assert p.returncode != 0
    one_line_error(p)
    assert env.rt.state(cid)["status"] == "running"
    assert env.rt.run("delete", "--force", cid).returncode == 0


def test_start_stopped(env):
    b = env.bundle(["/probe", "-q"]).write()
    cid = env.cid()
    rc, _, err = env.detached("create", "--bundle", b.path, cid)
    assert rc == 0, err
    assert env.rt.run("start", cid).returncode == 0
    env.wait_status(cid, "stopped")
    p = env.rt.run("start", cid)
    assert p.returncode != 0
    one_line_error(p)
    assert env.rt.run("delete", cid).returncode == 0


def test_kill_stopped(env):
    b = env.bundle(["/probe", "-q"]).write()
    cid = env.cid()
    rc, _, err = env.detached("run", "-d", "--bundle", b.path, cid)
    assert rc == 0, err
    env.wait_status(cid, "stopped")
    p = env.rt.run("kill", cid, "KILL")
    assert p.returncode != 0
    one_line_error(p)
    assert env.rt.run("delete", cid).returncode == 0


def test_delete_running_without_force(env):
    b, _ = looping_bundle(env)
    cid = env.cid()
    rc, _, err = env.detached("run", "-d", "--bundle", b.path, cid)
    assert rc == 0, err
    env.wait_status(cid, "running")
    p = env.rt.run("delete", cid)
    assert p.returncode != 0
    one_line_error(p)
    assert env.rt.state(cid)["status"] == "running"
    assert env.rt.run("delete", "--force", cid).returncode == 0


@pytest.mark.parametrize("cmd", [["state"], ["start"], ["kill", "KILL"], ["delete"]])
def test_nonexistent_container(env, cmd):
    argv = [cmd[0], "no-such-container", *cmd[1:]]
    p = env.rt.run(*argv)
    assert p.returncode != 0
    one_line_error(p)


def test_bad_signal(env):
    b, _ = looping_bundle(env)
    cid = env.cid()
    rc, _, err = env.detached("run", "-d", "--bundle", b.path, cid)
    assert rc == 0, err
    env.wait_status(cid, "running")
    p = env.rt.run("kill", cid, "NOSUCHSIG")
    assert p.returncode != 0
    one_line_error(p)
    assert env.rt.state(cid)["status"] == "running"
    assert env.rt.run("delete", "--force", cid).returncode == 0


def test_failing_prestart_hook(env):
    b = env.bundle()
    b.config["hooks"] = {"prestart": [{"path": "/bin/false"}]}
    b.write()
    rc, _, err = env.detached("run", "--bundle", b.path, env.cid())
    assert rc != 0
    one_line_error(err)


def test_unknown_command(env):
    p = env.rt.run("no-such-command")
    assert p.returncode != 0
    assert p.stderr.strip()


# ---- ward's own wording (skipped unless the binary says it is ward) ---------------------------

@pytest.mark.ward_only
def test_ward_error_names_the_missing_config(env):
    d = env.path("empty")
    os.makedirs(d)
    rc, _, err = env.detached("run", "--bundle", d, env.cid())
    assert rc != 0
    assert "config.json" in one_line_error(err)


@pytest.mark.ward_only
def test_ward_malformed_config_names_position(env):
    b = env.bundle().write()
    b.config["process"]["args"] = "not-a-list"
    b.write()
    rc, _, err = env.detached("run", "--bundle", b.path, env.cid())
    assert rc != 0
    line = one_line_error(err)
    assert "process.args" in line or "/process/args" in line, line


@pytest.mark.ward_only
def test_ward_log_json_error_line(env):
    log = env.path("log.json")
    d = env.path("empty")
    os.makedirs(d)
    p = env.rt.run("--log", log, "--log-format", "json", "run", "--bundle", d, env.cid())
    assert p.returncode != 0
    recs = [json.loads(l) for l in open(log).read().splitlines() if l.strip()]
    assert recs[-1]["level"] == "error" and "config.json" in recs[-1]["msg"]


# ---- issue 11 item 3: hostile input refused up front (unit tests: tests/unit/spec) -------------

def _deep(b):
    """config.json with a value nested 10^6 deep (runc refuses it; ward must not overflow)."""
    text = json.dumps(b.config)
    with open(b.config_path, "w") as f:
        f.write(text[:-1] + ', "x": ' + "[" * 1_000_000 + "]" * 1_000_000 + "}")


HOSTILE = {
    "env-without-equals": (lambda b: b.config["process"].update(env=["PATH=/bin", "NOEQUALS"]),
                           "process.env[1]: invalid environment variable \"NOEQUALS\": missing '='"),
    "nesting-1e6": (_deep, "invalid JSON: nesting deeper than 1000 levels"),
    "device-major-2^32+1": (lambda b: b.config["linux"].update(devices=[
        {"path": "/dev/x", "type": "c", "major": 2**32 + 1, "minor": 3}]),
        "linux.devices[0].major: value 4294967297 is out of range [0, 4095]"),
    "uid-minus-one": (lambda b: b.config["process"]["user"].update(uid=2**32 - 1),
                      "process.user.uid: value 4294967295 is not a valid id"),
    "rlimit-beyond-64-bits": (lambda b: b.config["process"].update(rlimits=[
        {"type": "RLIMIT_NOFILE", "soft": 1, "hard": 2**65}]),
        "process.rlimits[0].hard: value 3.6893488147419103e+19 is out of range"),
    "memory-limit-negative": (lambda b: b.config["linux"]["resources"].update(memory={"limit": -5}),
                              "linux.resources.memory.limit: value -5 is out of range"),
    "string-not-utf8": (None, "invalid JSON: parse error"),
    "hugepage-size-not-on-host": (lambda b: b.config["linux"]["resources"].update(
        hugepageLimits=[{"pageSize": "4MB", "limit": 4194304}]),
        "linux.resources.hugepageLimits[0].pageSize: hugepage size \"4MB\" is not supported by this host"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
@pytest.mark.parametrize("cmd", ["create", "run"])
def test_hostile_config_refused_with_its_path(env, cmd, case):
    """One line naming the file and JSON path, non-zero, and nothing left (the env fixture
    checks state dirs, cgroups, mounts and processes)."""
    if not env.s["version"].startswith("ward"):
        pytest.skip("ward's messages")
    edit, want = HOSTILE[case]
    b = env.bundle(["/bin/true"])
    if edit is None:
        b.write()
        with open(b.config_path, "rb") as f:
            raw = f.read()
        with open(b.config_path, "wb") as f:
            f.write(raw.replace(b'"/bin/true"', b'"/bin/tr\xffue"'))
    else:
        edit(b)
        if case != "nesting-1e6":
            b.write()
    cid = env.cid()
    rc, _, err = env.detached(cmd, "--bundle", b.path, cid)
    assert rc != 0, f"{case}: {cmd} succeeded"
    line = one_line_error(err)
    assert "config.json: " in line and want in line, line
    assert env.rt.state(cid) is None


def test_bundle_path_not_utf8_refused(env):
    """A bundle path with a byte that is not UTF-8 used to abort ward (SIGABRT) and leave an
    empty state dir: now one line, exit 1, nothing left."""
    if not env.s["version"].startswith("ward"):
        pytest.skip("ward's message")
    b = env.bundle(["/bin/true"]).write()
    bad = os.fsencode(env.dir) + b"/bundle-\xff"
    os.rename(b.path, bad)
    cid = env.cid()
    rc, _, err = env.detached("create", "--bundle", bad, cid)
    assert rc == 1, (rc, err)
    line = one_line_error(err)
    assert "the path is not valid UTF-8" in line, line
    assert env.rt.state(cid) is None
