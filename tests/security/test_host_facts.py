"""Security decisions must rest on host facts the runtime measured itself, not on the
container's own /proc, which the image can fake: a bind mount in config.json over
/proc/sys/kernel/cap_last_cap ("1") would keep every bounding capability above 1, and one over
/proc/self/setgroups ("deny") would make the runtime skip setgroups and leak its own
supplementary groups into the container. Either the mount is refused, or it changes nothing."""

import os
import subprocess

import pytest

CAPS = ["CAP_KILL", "CAP_NET_BIND_SERVICE"]
KILL, NET_BIND = 5, 10


def status_fields(out):
    f = {}
    for line in out.splitlines():
        k, _, v = line.partition(":")
        f[k.strip()] = v.strip()
    return f


def fake_file(b, name, text):
    path = os.path.join(b.rootfs, name)
    with open(path, "w") as f:
        f.write(text)
    return path


@pytest.mark.parametrize("dest", ["/proc/sys/kernel/cap_last_cap", "/proc/self/setgroups"])
def test_faked_proc_files_change_nothing(rt, dest):
    b = rt.bundle(args=["/bin/cat", "/proc/self/status"])
    src = fake_file(b, "fake", "1\n" if dest.endswith("cap_last_cap") else "deny\n")
    b.config["mounts"].append({"destination": dest, "type": "bind", "source": src,
                               "options": ["bind", "ro"]})
    b.config["process"]["capabilities"] = {k: list(CAPS) for k in
                                           ("bounding", "effective", "permitted")}
    b.write()
    # The runtime runs with a supplementary group the container must not inherit.
    p = subprocess.run(rt.rt.argv("run", "--bundle", b.path, rt.cid()), capture_output=True,
                       text=True, timeout=30, env=rt.rt.env(), stdin=subprocess.DEVNULL,
                       preexec_fn=lambda: os.setgroups([4242]))
    if p.returncode != 0:
        return  # refused: nothing ran with the fake
    st = status_fields(p.stdout)
    assert int(st["CapBnd"], 16) == (1 << KILL) | (1 << NET_BIND), \
        f"bounding set {st['CapBnd']} with {dest} faked"
    assert "4242" not in st["Groups"].split(), f"the runtime's group leaked: {st['Groups']!r}"
