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
