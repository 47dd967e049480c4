"""Root filesystem cases where runc 1.1.5 itself is wrong or refuses, so they are not in the
differential suite (issue 15 items 2, 7, 8 and 26; conformance/DIFFERENCES.md)."""

import os

from conftest import one_line_error


def sh(env, script):
    return env.bundle(args=["/bin/sh", "-c", script])


def test_readonly_root_without_proc(env):
    # item 8: runc fails ("open /proc/self/fd"); the read-only root needs no /proc
    b = sh(env, "touch /x 2>/dev/null && echo writable || echo readonly")
    b.config["mounts"] = [m for m in b.config["mounts"] if m["type"] != "proc"]
    b.config["linux"]["maskedPaths"] = []
    b.config["linux"]["readonlyPaths"] = []
    b.write()
    p = env.rt.run("run", "--bundle", b.path, env.cid())
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "readonly"


def test_bind_onto_root_listed_last(env):
    # item 7: mounted first wherever it is listed, so /proc, /sys, /dev and volumes stay
    # visible (runc 1.1.5 mounts it last, covering /proc, and fails)
    import bundle as bundlelib
    other = env.path("other-root")
    bundlelib.make_rootfs(other)
    with open(os.path.join(other, "marker"), "w") as f:
        f.write("bound")
    vol = env.path("vol")
    os.makedirs(vol)
    with open(os.path.join(vol, "v"), "w") as f:
        f.write("volume")
    b = sh(env, "cat /marker /mnt/v; echo; test -e /proc/self/status && echo proc; "
                "test -e /sys/kernel && echo sys; test -c /dev/null && echo dev; "
                "touch /x 2>/dev/null || echo readonly")
    b.config["mounts"].append({"destination": "/mnt", "type": "bind", "source": vol,
                               "options": ["rbind"]})
    b.config["mounts"].append({"destination": "/", "type": "bind", "source": other,
                               "options": ["rbind"]})
    b.write()
    p = env.rt.run("run", "--bundle", b.path, env.cid())
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["boundvolume", "proc", "sys", "dev", "readonly"], p.stdout


def test_rootfs_propagation_unbindable(env):
    # item 2: applied after pivot_root, as crun (runc 1.1.5 fails with EINVAL)
    b = env.bundle(args=["/bin/cat", "/proc/self/mountinfo"])
    b.config["linux"]["rootfsPropagation"] = "unbindable"
    b.write()
    p = env.rt.run("run", "--bundle", b.path, env.cid())
    assert p.returncode == 0, p.stderr
    root = [l for l in p.stdout.splitlines() if l.split()[4] == "/"]
    assert root and "unbindable" in root[-1], p.stdout


def test_proc_and_sysfs_through_symlink_refused(env):
    # item 26: as runc, "must be mounted on ordinary directory"
    for d, fstype in (("proc", "proc"), ("sys", "sysfs")):
        b = env.bundle(args=["/bin/true"])
        os.rmdir(os.path.join(b.rootfs, d))
        os.makedirs(os.path.join(b.rootfs, "elsewhere"))
        os.symlink("/elsewhere", os.path.join(b.rootfs, d))
        b.write()
        p = env.rt.run("run", "--bundle", b.path, env.cid())
        assert p.returncode != 0, f"{fstype} mounted through a symlink"
        line = one_line_error(p)
        assert f'"{fstype}" must be mounted on ordinary directory' in line, line
        assert os.listdir(os.path.join(b.rootfs, "elsewhere")) == []
