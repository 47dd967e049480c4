"""Readonly paths, masked paths and mount destinations (issue 8 items 1 and 5, issue 15 item 17):
a readonly path keeps the flags its mount had; a mask is a real null device or an empty
read-only tmpfs and nothing else; a path swapped to a symlink can neither leave the root nor
land a mount inside /proc; --no-pivot leaves no host procfs or sysfs to escape to."""

import os
import subprocess

import pytest


def mount_line(out, mountpoint):
    """The top mount at `mountpoint` (the last line for it)."""
    found = None
    for line in out.splitlines():
        f = line.split()
        if len(f) > 5 and f[4] == mountpoint:
            found = f
    assert found, f"no mount at {mountpoint} in:\n{out}"
    return found


def test_readonly_path_keeps_nosuid_nodev_noexec(rt):
    # runc's readonlyPath keeps what the mount had; a plain remount ends "ro,relatime"
    b = rt.bundle(args=["/bin/cat", "/proc/self/mountinfo"])
    src = rt.path("data")
    os.makedirs(src)
    b.config["mounts"].append({"destination": "/data", "type": "bind", "source": src,
                               "options": ["rbind", "nosuid", "nodev", "noexec"]})
    b.config["linux"]["readonlyPaths"].append("/data")
    b.write()
    p = rt.rt.run("run", "--bundle", b.path, rt.cid())
    assert p.returncode == 0, p.stderr
    opts = set(mount_line(p.stdout, "/data")[5].split(","))
    assert {"ro", "nosuid", "nodev", "noexec"} <= opts, f"/data is mounted {sorted(opts)}"


def host_secret(env):
    path = env.path("secret")
    with open(path, "w") as f:
        f.write("host secret\n")
    return path


FAKE_NULL = ["symlink-to-passwd", "host-file-bound-on-dev-null"]


@pytest.mark.parametrize("variant", FAKE_NULL)
def test_mask_with_fake_dev_null(env, variant):
    # CVE-2025-31133: when masks are applied the container's /dev/null is not the null device;
    # binding it anyway would show passwd (or a host file) where a mask should be empty.
    # runc 1.1.5 has this hole (shown: WARD_RUNTIME=/usr/sbin/runc tests/security/run -k fake)
    b = env.bundle(args=["/bin/cat", "/etc/hostname"])
    b.config["root"]["readonly"] = False
    b.config["linux"]["maskedPaths"] = ["/etc/hostname"]
    if variant == "symlink-to-passwd":
        # the image's own /dev (no tmpfs): the runtime finds a symlink there
        b.config["mounts"] = [m for m in b.config["mounts"] if m["destination"] != "/dev"
                              and not m["destination"].startswith("/dev/")]
        os.symlink("/etc/passwd", os.path.join(b.rootfs, "dev", "null"))
        leak = "root:x:0:0"
    else:
        b.config["mounts"].append({"destination": "/dev/null", "type": "bind",
                                   "source": host_secret(env), "options": ["bind"]})
        leak = "host secret"
    b.write()
    p = env.rt.run("run", "--bundle", b.path, env.cid())
    assert leak not in p.stdout, f"the mask shows {p.stdout!r}"
    assert "image" not in p.stdout, "the masked file was not masked"
    if p.returncode != 0:
        assert "/dev/null" in p.stderr, p.stderr


@pytest.mark.parametrize("kind", ["readonlyPaths", "maskedPaths"])
def test_readonly_masked_symlink_out_of_root(rt, kind):
    # a path that is a symlink out of the root (absolute, "..", or a magic link) is resolved
    # inside it: no host directory becomes read-only or masked, the container still starts
    outside = rt.path("outside")
    os.makedirs(outside)
    with open(os.path.join(outside, "f"), "w") as f:
        f.write("host")
    b = rt.bundle(args=["/bin/true"])
    os.symlink("../../../../../../../.." + outside, os.path.join(b.rootfs, "esc"))
    os.symlink(outside, os.path.join(b.rootfs, "abs"))
    b.config["linux"][kind] += ["/esc", "/abs", "/esc/f"]
    b.write()
    before = open("/proc/self/mountinfo").read()
    p = rt.rt.run("run", "--bundle", b.path, rt.cid())
    assert p.returncode == 0, p.stderr
    assert outside not in open("/proc/self/mountinfo").read().replace(before, "")
    with open(os.path.join(outside, "f")) as f:
        assert f.read() == "host"
    with open(os.path.join(outside, "w"), "w") as f:
        f.write("still writable")


def test_destination_swapped_into_proc_in_shared_volume(rt):
    # a volume shared with another container: that one left a symlink to /proc/self in it;
    # a later mount through it would cover the init's /proc/self/oom_score_adj
    vol = rt.path("vol")
    os.makedirs(vol)
    os.symlink("/proc/self", os.path.join(vol, "link"))
    victim = rt.path("victim")
    with open(victim, "w") as f:
        f.write("untouched\n")
    b = rt.bundle(args=["/bin/true"])
    b.config["process"]["oomScoreAdj"] = 123
    b.config["mounts"] += [
        {"destination": "/vol", "type": "bind", "source": vol, "options": ["rbind"]},
        {"destination": "/vol/link/oom_score_adj", "type": "bind", "source": victim,
         "options": ["bind"]},
    ]
    b.write()
    p = rt.rt.run("run", "--bundle", b.path, rt.cid())
    with open(victim) as f:
        assert f.read() == "untouched\n", "the runtime wrote into the host file"
    assert p.returncode != 0, "a destination resolving inside /proc was accepted"
    if rt.kind == "ward":
        assert "inside /proc" in p.stderr, p.stderr


REVEAL_C = r"""
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
int main(void) {
    /* mount_too_revealing: a user namespace may mount a fresh procfs or sysfs only if one
       is already fully visible in its mount namespace (no masks, no readonly paths) */
    mkdir("/tmp/p", 0755);
    mkdir("/tmp/s", 0755);
    if (unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET) != 0) {
        printf("unshare=%s\n", strerror(errno));
        return 2;
    }
    pid_t pid = fork();
    if (pid == 0) {
        int p = mount("proc", "/tmp/p", "proc", 0, NULL);
        printf("proc=%s\n", p == 0 ? "mounted" : strerror(errno));
        int s = mount("sysfs", "/tmp/s", "sysfs", 0, NULL);
        printf("sysfs=%s\n", s == 0 ? "mounted" : strerror(errno));
        fflush(stdout);
        _exit(0);
    }
    waitpid(pid, NULL, 0);
    return 0;
}
"""


def test_no_pivot_leaves_no_host_proc_or_sys(rt):
    # --no-pivot keeps the host's root, with its full /proc and /sys, underneath the container;
    # the kernel then lets a user namespace in the container mount a fresh, unmasked procfs
    # and sysfs (maskedPaths and readonlyPaths undone). runc detaches the host's first
    # (issue 15 item 17).
    b = rt.bundle(args=["/reveal"])
    src = rt.path("reveal.c")
    with open(src, "w") as f:
        f.write(REVEAL_C)
    subprocess.run(["gcc", "-static", "-O2", "-o", os.path.join(b.rootfs, "reveal"), src],
                   check=True)
    b.config["root"]["readonly"] = False
    b.write()
    p = rt.rt.run("run", "--no-pivot", "--bundle", b.path, rt.cid())
    assert p.returncode == 0, p.stderr
    assert "proc=Operation not permitted" in p.stdout, f"a fresh procfs: {p.stdout!r}"
    assert "sysfs=Operation not permitted" in p.stdout, f"a fresh sysfs: {p.stdout!r}"
    # and the host itself still has them
    assert os.path.exists("/proc/1/comm") and os.path.exists("/sys/kernel")


def test_pivot_masks_hold_against_fresh_procfs(rt):
    # the same attack with pivot_root: the old root is gone, the masks hold
    b = rt.bundle(args=["/reveal"])
    src = rt.path("reveal.c")
    with open(src, "w") as f:
        f.write(REVEAL_C)
    subprocess.run(["gcc", "-static", "-O2", "-o", os.path.join(b.rootfs, "reveal"), src],
                   check=True)
    b.config["root"]["readonly"] = False
    b.write()
    p = rt.rt.run("run", "--bundle", b.path, rt.cid())
    assert p.returncode == 0, p.stderr
    assert "proc=Operation not permitted" in p.stdout, f"a fresh procfs: {p.stdout!r}"
