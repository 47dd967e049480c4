"""Procfs redirection (CVE-2019-16884, CVE-2025-52881 class): a symlink in the image sends a
volume mount over a /proc file, so the runtime's own writes there (oom_score_adj, sysctls)
land in the host file behind the volume. A destination that resolves inside /proc must be
refused (runc: "cannot be mounted because it is inside /proc"), and one whose symlink points
out of the root must stay inside it."""

import os

import pytest


def host_file(env, name, text):
    d = env.path("host")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(text)
    return path


VARIANTS = {
    # symlink in the image -> (mount destination through it, what the runtime then writes)
    "symlink-to-proc-self": ("/proc/self", "/link/oom_score_adj", "oom"),
    "symlink-to-proc-pid-dir": ("../proc/1", "/link/oom_score_adj", "oom"),
    "symlink-to-proc-sys": ("/proc/sys/net/ipv4", "/link/ip_forward", "sysctl"),
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_volume_through_symlink_into_proc(rt, variant):
    target, dest, kind = VARIANTS[variant]
    b = rt.bundle(args=["/bin/true"])
    os.symlink(target, os.path.join(b.rootfs, "link"))
    victim = host_file(rt, "victim", "untouched\n")
    b.config["mounts"].append({"destination": dest, "type": "bind", "source": victim,
                               "options": ["bind"]})
    if kind == "oom":
        b.config["process"]["oomScoreAdj"] = 123
    else:
        b.config["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1"}
    b.write()
    p = rt.rt.run("run", "--bundle", b.path, rt.cid())
    with open(victim) as f:
        assert f.read() == "untouched\n", f"the runtime wrote into the host file ({variant})"
    assert p.returncode != 0, "a mount destination inside /proc was accepted"
    if rt.kind == "ward":
        assert "inside /proc" in p.stderr, p.stderr


def test_symlink_destination_out_of_root_stays_inside(rt):
    b = rt.bundle(args=["/bin/true"])
    outside = rt.path("outside")
    os.makedirs(outside)
    os.symlink("../../../../../../../../" + outside.lstrip("/"), os.path.join(b.rootfs, "esc"))
    src = rt.path("src")
    os.makedirs(src)
    b.config["mounts"].append({"destination": "/esc/x", "type": "bind", "source": src,
                               "options": ["bind"]})
    b.write()
    rt.rt.run("run", "--bundle", b.path, rt.cid())
    assert os.listdir(outside) == [], "the mount destination left the root"
