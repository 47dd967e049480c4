"""The private procfs handle in a user namespace (runtime/platform/procfs.cpp). A user namespace
that does not own its pid namespace may not mount a fresh procfs (fsopen("proc") is EPERM), so
the init falls back to the /proc in view; that path must still be checked to be the root of a
procfs, and the writes made through it (sysctl, oom_score_adj) must land on procfs."""

import os

import pytest

from conftest import one_line_error

MAP = [{"containerID": 0, "hostID": 100000, "size": 65536}]


def traversable(env, path):
    """The mapped root (host uid 100000) must reach the bundle: open the suite's 0700 dirs."""
    d = os.path.abspath(path)
    while d.startswith(env.s["base"]):
        os.chmod(d, os.stat(d).st_mode | 0o055)
        d = os.path.dirname(d)


def userns_bundle(env, own_pidns, proc_source=None):
    b = env.bundle(args=["/bin/sh", "-c", "echo FWD=$(cat /proc/sys/net/ipv4/ip_forward);"
                                          " echo OOM=$(cat /proc/self/oom_score_adj)"])
    ns = [n for n in b.config["linux"]["namespaces"] if own_pidns or n["type"] != "pid"]
    b.config["linux"]["namespaces"] = ns + [{"type": "user"}]
    b.config["linux"]["uidMappings"] = MAP
    b.config["linux"]["gidMappings"] = MAP
    b.config["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1"}
    b.config["process"]["oomScoreAdj"] = 321
    # No cgroup mount: a user namespace cannot mount the host's v1 hierarchies read-write anyway.
    b.config["mounts"] = [m for m in b.config["mounts"] if m["type"] not in ("cgroup",)]
    if proc_source is not None:
        # Without its own pid namespace the container cannot mount a procfs: bind one.
        for m in b.config["mounts"]:
            if m["destination"] == "/proc":
                m.update(type="bind", source=proc_source, options=["rbind"])
        b.config["linux"]["maskedPaths"] = []
        b.config["linux"]["readonlyPaths"] = []
    traversable(env, b.rootfs)
    return b


@pytest.mark.parametrize("own_pidns", [True, False], ids=["own-pidns", "host-pidns-fallback"])
def test_userns_sysctl_and_oom_score_adj(env, own_pidns):
    with open("/proc/sys/net/ipv4/ip_forward") as f:
        host_fwd = f.read()
    b = userns_bundle(env, own_pidns, None if own_pidns else "/proc").write()
    p = env.rt.run("run", "--bundle", b.path, env.cid())
    assert p.returncode == 0, p.stderr
    assert "FWD=1" in p.stdout and "OOM=321" in p.stdout, p.stdout
    with open("/proc/sys/net/ipv4/ip_forward") as f:
        assert f.read() == host_fwd, "the sysctl landed in the host's network namespace"


def test_userns_fallback_refuses_a_fake_proc(env):
    """The fallback's /proc is a plain directory holding look-alike files: the runtime must
    refuse it (not the root of a procfs) instead of writing the sysctl and oom_score_adj
    there."""
    fake = env.path("fakeproc")
    for d in ("sys/net/ipv4", "self"):
        os.makedirs(os.path.join(fake, d))
    for f in ("sys/net/ipv4/ip_forward", "self/oom_score_adj"):
        with open(os.path.join(fake, f), "w") as fh:
            fh.write("untouched\n")
    os.chmod(fake, 0o755)
    b = userns_bundle(env, False, fake).write()
    p = env.rt.run("run", "--bundle", b.path, env.cid())
    for f in ("sys/net/ipv4/ip_forward", "self/oom_score_adj"):
        with open(os.path.join(fake, f)) as fh:
            assert fh.read() == "untouched\n", f"the runtime wrote {f} of a fake /proc"
    assert p.returncode != 0
    if env.s["version"].startswith("ward"):
        assert "procfs" in one_line_error(p), p.stderr
