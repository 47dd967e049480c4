"""checkpoint/restore on this host (issue 13 items 3 and 5). criu 3.17 cannot work on the host's
kernel (`criu check`: "Unexpected rt vDSO area bounds"); the real checkpoint/restore tests run in
the VM (tests/vm/criu/run). Here: `features` says what `criu check` says, a checkpoint that criu
cannot do is one line and leaves the container running, and the container's init leads its own
session (as under runc; criu refuses a session led from outside the pid namespace)."""

import json
import os
import shutil
import subprocess

import pytest

from conftest import one_line_error

COUNTER = "i=0; while :; do i=$((i+1)); echo $i > /tmp/c; sleep 0.1; done"


def test_init_leads_its_own_session(env):
    b = env.bundle(["/bin/sh", "-c", "sleep 60"]).write()
    cid = env.cid()
    rc, _, err = env.detached("run", "-d", "--bundle", b.path, cid)
    assert rc == 0, err
    pid = env.wait_status(cid, "running")["pid"]
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    assert int(fields[3]) == pid, f"session of the init is {fields[3]}, not its pid {pid}"
    env.rt.run("delete", "--force", cid)


@pytest.mark.ward_only
def test_features_match_criu_check(env):
    feats = json.loads(env.rt.run("features").stdout)["annotations"]
    criu = shutil.which("criu")
    if criu is None:
        assert feats["io.github.ward.checkpoint"] == "false"
        assert "not found" in feats["io.github.ward.checkpoint.reason"]
        return
    ok = subprocess.run([criu, "check"], capture_output=True).returncode == 0
    assert feats["io.github.ward.checkpoint"] == ("true" if ok else "false"), feats
    assert feats["io.github.ward.checkpoint.criu"] == criu
    # Rootless works wherever user namespaces exist (tests/rootless runs it here).
    assert feats["io.github.ward.rootless"] == ("true" if os.path.exists("/proc/self/ns/user") else "false")
    tools = all(os.access(f"/usr/bin/{t}", os.X_OK) for t in ("newuidmap", "newgidmap"))
    assert feats["io.github.ward.rootless.idmapTools"] == ("true" if tools else "false")


@pytest.mark.ward_only
def test_checkpoint_criu_cannot_do_is_one_line_and_container_runs(env):
    criu = shutil.which("criu")
    if criu and subprocess.run([criu, "check"], capture_output=True).returncode == 0:
        pytest.skip("criu works on this host: tests/vm/criu covers the real thing")
    b = env.bundle(["/bin/sh", "-c", COUNTER])
    b.config["root"]["readonly"] = False
    b.write()
    cid = env.cid()
    rc, _, err = env.detached("run", "-d", "--bundle", b.path, cid)
    assert rc == 0, err
    env.wait_status(cid, "running")
    img = env.path("img")
    p = env.rt.run("checkpoint", "--image-path", img, cid)
    line = one_line_error(p)
    assert p.returncode != 0 and "checkpoint" in line, line
    assert env.rt.state(cid)["status"] == "running"
    bad = env.rt.run("checkpoint", "--image-path", "/etc/hostname/img", cid)
    assert "/etc/hostname/img" in one_line_error(bad)
    assert env.rt.state(cid)["status"] == "running"
    r = env.rt.run("restore", "-d", "--bundle", b.path, "--image-path", env.path("none"), cid + "x")
    assert "inventory.img" in one_line_error(r) and env.rt.state(cid + "x") is None
    env.rt.run("delete", "--force", cid)
