"""The runtime run by an unprivileged user (issue 13 item 2): a user namespace mapped with the
user's subordinate ids, state under $XDG_RUNTIME_DIR, cgroups skipped, `spec --rootless`, and
rootless podman using the runtime. Every test runs as a throwaway user (conftest.py)."""

import json
import os
import time

import pytest

from conftest import alive, busybox_rootfs, one_line_error


def write_config(bundle, cfg):
    p = os.path.join(bundle, "config.json")
    with open(p, "w") as f:
        json.dump(cfg, f)


def rootless_spec(user, name):
    """A bundle whose config.json is the runtime's own `spec --rootless`, written as the user."""
    bundle = user.mkdir(name)
    busybox_rootfs(user, name, "rootfs")
    r = user.ward("spec", "--rootless", cwd=bundle)
    assert r.returncode == 0, r.stderr
    with open(os.path.join(bundle, "config.json")) as f:
        return bundle, json.load(f)


def state_dirs(user):
    """Container state directories under the user's state root (not ward's @seccomp-cache)."""
    d = os.path.join(user.xdg, user.runtime_name)
    return sorted(e for e in os.listdir(d) if not e.startswith("@")) if os.path.isdir(d) else []


def test_spec_rootless_config_runs_as_is(user, version):
    if not version.startswith("ward"):
        # runc's attached run with terminal: true opens /dev/tty (conformance/DIFFERENCES.md).
        pytest.skip("runc needs a controlling terminal for terminal: true")
    bundle, cfg = rootless_spec(user, "b")
    # As written: terminal true, args ["sh"]; the shell reads its commands from stdin.
    assert cfg["process"]["terminal"] is True and cfg["process"]["args"] == ["sh"]
    r = user.ward("run", "spec-as-is", cwd=bundle, input="echo uidmap:$(cat /proc/self/uid_map); exit 7\n")
    assert r.returncode == 7, r.stdout + r.stderr
    assert ["uidmap:", "0", str(user.uid), "1"] in [l.split() for l in r.stdout.splitlines()], r.stdout
    assert not os.path.exists(os.path.join(user.xdg, user.runtime_name, "spec-as-is"))


def test_subordinate_ids_map_and_host_ownership(user):
    bundle, cfg = rootless_spec(user, "b")
    share = user.mkdir("share", mode=0o1777)
    s, n = user.subid_start, user.subid_count
    cfg["linux"]["uidMappings"] = [{"containerID": 0, "hostID": user.uid, "size": 1},
                                   {"containerID": 1, "hostID": s, "size": n}]
    cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": user.gid, "size": 1},
                                   {"containerID": 1, "hostID": s, "size": n}]
    cfg["mounts"].append({"destination": "/share", "type": "bind", "source": share, "options": ["rbind", "rw"]})
    cfg["process"]["terminal"] = False
    cfg["process"]["args"] = ["sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; touch /share/by-root"]
    write_config(bundle, cfg)
    r = user.ward("run", "maps", cwd=bundle)
    assert r.returncode == 0, r.stderr
    lines = [l.split() for l in r.stdout.splitlines()]
    assert lines == [["0", str(user.uid), "1"], ["1", str(s), str(n)],
                     ["0", str(user.gid), "1"], ["1", str(s), str(n)]]
    st = os.stat(os.path.join(share, "by-root"))
    assert (st.st_uid, st.st_gid) == (user.uid, user.gid)

    # Container uid 1000 is host uid s+999: the second range is real, not only printed.
    cfg["process"]["user"] = {"uid": 1000, "gid": 1000}
    cfg["process"]["args"] = ["sh", "-c", "id -u; touch /share/by-1000"]
    write_config(bundle, cfg)
    r = user.ward("run", "maps2", cwd=bundle)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["1000"]
    st = os.stat(os.path.join(share, "by-1000"))
    assert (st.st_uid, st.st_gid) == (s + 999, s + 999)


def test_lifecycle_under_xdg_runtime_dir(user):
    bundle, cfg = rootless_spec(user, "b")
    cfg["process"]["terminal"] = False
    cfg["process"]["args"] = ["sleep", "600"]
    write_config(bundle, cfg)
    r = user.ward("run", "-d", "life", cwd=bundle, detached=True)
    assert r.returncode == 0, r.stderr
    # State where runc keeps it for a rootless caller: $XDG_RUNTIME_DIR/<runtime>/<id>.
    sdir = os.path.join(user.xdg, user.runtime_name, "life")
    assert os.path.isdir(sdir)
    assert os.stat(sdir).st_uid == user.uid
    r = user.ward("state", "life")
    assert r.returncode == 0, r.stderr
    st = json.loads(r.stdout)
    assert st["status"] == "running" and st["pid"] > 0
    pid = st["pid"]
    assert os.stat(f"/proc/{pid}").st_uid == user.uid
    with open(f"/proc/{pid}/uid_map") as f:
        assert f.read().split() == ["0", str(user.uid), "1"]
    r = user.ward("list", "--format", "json")
    assert r.returncode == 0, r.stderr
    listed = json.loads(r.stdout)
    assert [c["id"] for c in listed] == ["life"] and listed[0]["status"] == "running"
    r = user.ward("kill", "life", "KILL")
    assert r.returncode == 0, r.stderr
    deadline = time.time() + 10
    while time.time() < deadline:
        st = json.loads(user.ward("state", "life").stdout)
        if st["status"] == "stopped":
            break
        time.sleep(0.05)
    assert st["status"] == "stopped"
    r = user.ward("delete", "life")
    assert r.returncode == 0, r.stderr
    assert not os.path.exists(sdir)
    assert not alive(pid)
    assert user.ward("list", "-q").stdout.strip() == ""


@pytest.mark.ward_only
def test_missing_subordinate_ids_are_one_line_errors(user):
    bundle, cfg = rootless_spec(user, "b")
    cfg["process"]["terminal"] = False
    cfg["process"]["args"] = ["true"]
    far = user.subid_start + user.subid_count + 1000000
    cfg["linux"]["uidMappings"] = [{"containerID": 0, "hostID": user.uid, "size": 1},
                                   {"containerID": 1, "hostID": far, "size": 10}]
    write_config(bundle, cfg)
    r = user.ward("run", "bad", cwd=bundle)
    assert r.returncode != 0
    line = one_line_error(r.stderr)
    assert "linux.uidMappings[1]" in line and f'"{user.name}"' in line and "/etc/subuid" in line, line
    assert not os.path.exists(os.path.join(user.xdg, "ward", "bad"))

    # No entry at all for the user in /etc/subgid.
    with open("/etc/subgid") as f:
        keep = [l for l in f if l.split(":")[0] != user.name]
    with open("/etc/subgid", "w") as f:
        f.writelines(keep)
    cfg["linux"]["uidMappings"] = [{"containerID": 0, "hostID": user.uid, "size": 1}]
    cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": user.gid, "size": 1},
                                   {"containerID": 1, "hostID": user.subid_start, "size": 10}]
    write_config(bundle, cfg)
    r = user.ward("run", "bad2", cwd=bundle)
    assert r.returncode != 0
    line = one_line_error(r.stderr)
    assert f'user "{user.name}" has no entry in /etc/subgid' in line, line
    assert not os.path.exists(os.path.join(user.xdg, "ward", "bad2"))

    # Without a cgroup (the user cannot create one) a limit cannot be kept: refused, naming it.
    cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": user.gid, "size": 1}]
    cfg["linux"]["resources"] = {"memory": {"limit": 64 << 20}}
    write_config(bundle, cfg)
    r = user.ward("run", "bad4", cwd=bundle)
    assert r.returncode != 0
    assert "linux.resources.memory" in one_line_error(r.stderr)
    assert not os.path.exists(os.path.join(user.xdg, "ward", "bad4"))
    del cfg["linux"]["resources"]

    # A rootless container without a user namespace cannot be set up (runc refuses it too).
    cfg["linux"]["namespaces"] = [n for n in cfg["linux"]["namespaces"] if n["type"] != "user"]
    del cfg["linux"]["uidMappings"], cfg["linux"]["gidMappings"]
    write_config(bundle, cfg)
    r = user.ward("run", "bad3", cwd=bundle)
    assert r.returncode != 0
    assert "user namespace" in one_line_error(r.stderr)
    assert not os.path.exists(os.path.join(user.xdg, "ward", "bad3"))


def test_rootless_podman_uses_the_runtime(user):
    # An image built locally: a busybox tarball imported, no registry.
    img = busybox_rootfs(user, "img")
    tar = os.path.join(user.base, "bb.tar")
    import subprocess
    subprocess.run(["tar", "-C", img, "-cf", tar, "."], check=True)
    os.chown(tar, user.uid, user.gid)
    # A wrapper records every call podman (and conmon) make, so the test knows the runtime ran.
    calls = os.path.join(user.base, "calls.log")
    wrapper = os.path.join(user.base, "rt-wrapper")
    with open(wrapper, "w") as f:
        f.write(f"#!/bin/sh\necho \"$*\" >> {calls}\nexec {user.runtime} \"$@\"\n")
    os.chmod(wrapper, 0o755)
    open(calls, "w").close()
    os.chmod(calls, 0o666)
    podman = ["podman", "--runtime", wrapper, "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs",
              "--events-backend", "file"]
    try:
        r = user.run(*podman, "import", tar, "localhost/ward-rootless-bb")
        assert r.returncode == 0, r.stderr
        r = user.run(*podman, "run", "--rm", "--network", "none", "localhost/ward-rootless-bb",
                     "/bin/sh", "-c", "echo hello-from-$(id -u); cat /proc/self/uid_map")
        assert r.returncode == 0, r.stdout + r.stderr
        out = r.stdout.splitlines()
        assert out[0] == "hello-from-0"
        # podman's own user namespace: the user's uid and its subordinate ids.
        assert [l.split() for l in out[1:]] == [["0", str(user.uid), "1"],
                                              ["1", str(user.subid_start), str(user.subid_count)]]
        assert r.stderr.strip() == "", r.stderr
        with open(calls) as f:
            log = f.read()
        verbs = [l.split()[0] for l in log.splitlines() if l.strip()]
        assert "create" in verbs and "start" in verbs and "delete" in verbs, log
        # podman passes no --root: the runtime, root of podman's user namespace with $USER set,
        # kept its state under $XDG_RUNTIME_DIR/<runtime> and removed it at delete.
        assert "--root" not in log, log
        assert os.path.isdir(os.path.join(user.xdg, user.runtime_name)), os.listdir(user.xdg)
        assert state_dirs(user) == [], state_dirs(user)
        r = user.run(*podman, "ps", "-a", "-q")
        assert r.returncode == 0 and r.stdout.strip() == "", r.stdout + r.stderr
    finally:
        user.run(*podman, "rm", "-a", "-f")
        # podman keeps a pause process holding its user namespace; it is ours: end it by pid.
        pause = os.path.join(user.xdg, "libpod", "tmp", "pause.pid")
        if os.path.exists(pause):
            with open(pause) as f:
                pid = int(f.read().strip() or 0)
            if pid > 0 and alive(pid):
                os.kill(pid, 15)
                deadline = time.time() + 5
                while alive(pid) and time.time() < deadline:
                    time.sleep(0.05)
