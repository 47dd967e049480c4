"""`ward quarantine ID [--dump DIR]` (issue 13 item 4): a suspect container is frozen, its
processes recorded (status, cmdline, exe hash, open files, sockets, maps), its network taken
down, and it stays frozen until `resume` or `delete --force`. Runbook: docs/incident-response.md.
ward-only: runc has no such command."""

import hashlib
import json
import os
import re
import subprocess
import time

import pytest

from cgv1_lib import make_ctrs, read, sh, wait_for
from conftest import one_line_error

pytestmark = pytest.mark.ward_only

PORT = 7777

# lo up, a listener on PORT in the container's own net namespace, a sleep holding /tmp/held
# open on fd 3, and a counter loop writing /tmp/c.
SCRIPT = ("ip link set lo up; touch /tmp/held; "
          f"nc -l -p {PORT} </dev/null >/dev/null 2>&1 & "
          "sleep 600 3</tmp/held >/dev/null 2>&1 & "
          "i=0; while :; do i=$((i+1)); echo $i > /tmp/c; sleep 0.05; done")


@pytest.fixture
def ctrs(env):
    yield from make_ctrs(env)


def lo_flags(pid):
    r = subprocess.run(["nsenter", "-t", str(pid), "-n", "ip", "-o", "link", "show", "lo"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    return r.stdout.split("<", 1)[1].split(">", 1)[0].split(",")


def host_links():
    r = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, timeout=10)
    return sorted(l.split("<", 1)[1].split(">", 1)[0] + l.split(":")[1] for l in r.stdout.splitlines())


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def suspect(ctrs):
    c = ctrs(sh(SCRIPT), name="q")
    for a in ("nc", "ip"):
        os.symlink("busybox", c.rootfs_file("/bin/" + a))
    caps = c.config["process"]["capabilities"]
    for k in caps:
        caps[k].append("CAP_NET_ADMIN")
    c.start()
    return c


def counter(c):
    try:
        return int(read(c.rootfs_file("/tmp/c"), "").strip() or 0)
    except ValueError:
        return 0


def test_quarantine_freezes_records_and_isolates(ctrs, env):
    c = suspect(ctrs)
    assert wait_for(lambda: counter(c) >= 3 and len(c.procs()) >= 4, 10), "the container never got going"
    assert wait_for(lambda: "UP" in lo_flags(c.pid()), 5), "lo never came up in the container"
    host_before = host_links()
    dump = env.path("dump")

    r = c.rt.run("quarantine", "--dump", dump, c.id)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == dump
    assert c.status() == "paused"
    v = counter(c)
    time.sleep(0.5)
    assert counter(c) == v, "the counter advanced after quarantine"

    m = json.load(open(os.path.join(dump, "manifest.json")))
    assert m["id"] == c.id and m["frozen"] is True
    pids = sorted(p["pid"] for p in m["processes"])
    assert pids == c.procs(), "the manifest does not list every process of the cgroup"
    for p in m["processes"]:
        assert p["state"].startswith(("S", "D", "R")), p
        exe = os.readlink(f"/proc/{p['pid']}/exe")
        assert p["exe_sha256"] == sha256(f"/proc/{p['pid']}/exe"), p
        assert p["exe"] == exe
        d = os.path.join(dump, "processes", str(p["pid"]))
        for f in ("status", "cmdline", "maps", "cgroup", "net_tcp", "net_unix", "fds.json"):
            assert os.path.exists(os.path.join(d, f)), f"{f} missing for pid {p['pid']}"
    # Every exe is the rootfs's busybox (sh, nc, sleep): one hash, that of the file.
    assert {p["exe_sha256"] for p in m["processes"]} == {sha256(c.rootfs_file("/bin/busybox"))}
    sleeper = [p for p in m["processes"] if p.get("cmdline") == ["sleep", "600"]]
    assert sleeper and sleeper[0]["fds"]["3"] == "/tmp/held", sleeper
    listener = [p for p in m["processes"] if p.get("cmdline", [""])[0] == "nc"]
    assert listener, m["processes"]
    pdir = os.path.join(dump, "processes", str(listener[0]["pid"]))
    tcp = read(os.path.join(pdir, "net_tcp")) + read(os.path.join(pdir, "net_tcp6"))
    assert re.search(f":{PORT:04X} 0+:0000 0A ", tcp), "the listening socket is not in the record: " + tcp
    assert any(t.startswith("socket:[") for t in listener[0]["fds"].values())
    assert json.load(open(os.path.join(dump, "config.json")))["process"]["args"] == c.config["process"]["args"]
    assert json.load(open(os.path.join(dump, "state.json")))["status"] == "paused"
    assert "memory" in json.load(open(os.path.join(dump, "cgroup-stats.json")))
    assert m["criu"]["status"] in ("skipped", "captured", "failed") and (m["criu"].get("reason") or m["criu"]["status"] != "skipped")
    assert m["network"]["status"] == "down" and "lo" in m["network"]["interfaces_down"], m["network"]
    assert m["failed"] == [], m["failed"]

    assert "UP" not in lo_flags(c.pid()), "the container's lo is still up"
    assert host_links() == host_before, "the host's interfaces changed"

    r = c.rt.run("resume", c.id)
    assert r.returncode == 0, r.stderr
    assert wait_for(lambda: counter(c) > v + 2, 10), "the counter did not continue after resume"
    assert "UP" not in lo_flags(c.pid()), "resume must not bring the network back"
    r = c.rt.run("delete", "--force", c.id)
    assert r.returncode == 0, r.stderr
    assert c.state() is None


def test_quarantine_leaves_it_frozen_for_delete_force(ctrs, env):
    c = suspect(ctrs)
    assert wait_for(lambda: counter(c) >= 1, 10)
    r = c.rt.run("quarantine", c.id)  # default dir: <bundle>/quarantine-<time>
    assert r.returncode == 0, r.stderr
    dump = r.stdout.strip()
    assert os.path.dirname(dump) == c.b.path and os.path.basename(dump).startswith("quarantine-")
    assert os.path.exists(os.path.join(dump, "manifest.json"))
    assert c.status() == "paused"
    r = c.rt.run("delete", "--force", c.id)
    assert r.returncode == 0, r.stderr
    assert c.state() is None


def test_quarantine_refusals(ctrs, env):
    r = env.rt.run("quarantine", "no-such-ctr")
    assert r.returncode != 0 and "no-such-ctr" in one_line_error(r)

    c = ctrs(sh("exec sleep 600"), name="created")
    c.create()
    dump = env.path("d-created")
    r = c.rt.run("quarantine", "--dump", dump, c.id)
    assert r.returncode != 0 and "not running" in one_line_error(r)
    assert not os.path.exists(dump), "a refused quarantine left its dump directory"
    assert c.status() == "created"

    c.rt.run("start", c.id)
    full = env.path("full")
    os.makedirs(full)
    open(os.path.join(full, "x"), "w").close()
    r = c.rt.run("quarantine", "--dump", full, c.id)
    assert r.returncode != 0 and "not empty" in one_line_error(r)
    assert c.status() == "running", "a refused quarantine froze the container"
    assert os.listdir(full) == ["x"]


def test_quarantine_never_touches_the_host_network(ctrs, env):
    c = ctrs(sh("exec sleep 600"), name="hostnet")
    c.b.set_namespaces([t for t in c.b.namespace_types() if t != "network"])
    c.start()
    before = host_links()
    r = c.rt.run("quarantine", "--dump", env.path("dump"), c.id)
    assert r.returncode == 0, r.stderr
    m = json.load(open(env.path("dump", "manifest.json")))
    assert m["network"]["status"] == "skipped" and "host" in m["network"]["reason"], m["network"]
    assert host_links() == before, "quarantine changed the host's interfaces"
    assert c.status() == "paused"
