"""CVE-2019-5736 class: a container that executes /proc/self/exe while a runtime process is
its parent image runs the runtime's own binary. The attacker keeps an fd to that binary
(here O_RDONLY, as good as the exploit's O_PATH), lets the runtime in the container exit, and
reopens the fd for writing through /proc/self/fd/N once nothing executes the file (so ETXTBSY
no longer protects it). The host binary must stay byte for byte what it was.

The runtime under test is copied to a private directory and run from there, so an old build
that has the hole overwrites only the copy. Not run against runc: Debian's runc is dynamically
linked and cannot execute inside the busybox-only test rootfs."""

import hashlib
import os
import shutil
import time

import pytest

import harness


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


ATTACK = ("exec 3</proc/{pid}/exe || exit 3; cat /fifo >/dev/null; "
          "i=0; while [ $i -lt 60 ]; do "
          "if (printf '#!/bin/sh\\necho PWNED\\n' >/proc/self/fd/3) 2>/dev/null; then exit 0; fi; "
          "i=$((i+1)); sleep 0.1; done; exit 1")


@pytest.mark.parametrize("route", ["entrypoint", "exec-script"])
def test_container_cannot_overwrite_runtime_binary(env, route):
    private = env.path("bin")
    os.makedirs(private)
    copy = os.path.join(private, "ward")
    shutil.copy2(env.s["binary"], copy)
    before = sha(copy)
    rt = harness.Runtime(copy, env.rt.root, env.s["marker"])
    env.rt = rt

    if route == "entrypoint":
        b = env.bundle(args=["/proc/self/exe", "--log=/fifo", "list"])
    else:
        b = env.bundle(args=["/bin/sleep", "60"])
        with open(os.path.join(b.rootfs, "x"), "w") as f:
            f.write("#!/proc/self/exe --root\n")
        os.chmod(os.path.join(b.rootfs, "x"), 0o755)
    # No pid namespace: the attacker must outlive the runtime process it targets.
    b.set_namespaces(["network", "ipc", "uts", "mount"])
    os.mkfifo(os.path.join(b.rootfs, "fifo"), 0o666)
    b.write()
    cid = env.cid()
    try:
        rc, _, err = env.detached("run", "-d", "--bundle", b.path, cid)
        assert rc == 0, err
        if route == "entrypoint":
            target = env.rt.state(cid)["pid"]
        else:
            pidf = env.path("target.pid")
            rc, _, err = env.detached("exec", "-d", "--pid-file", pidf, cid,
                                      "/x", "--log=/fifo", "list")
            assert rc == 0, err
            with open(pidf) as f:
                target = int(f.read())
        # The target now runs the runtime's binary inside the container, blocked on the fifo.
        exe = harness.wait_for(lambda: "--log=/fifo" in harness.read(f"/proc/{target}/cmdline", ""), 5)
        assert exe, f"the container is not running the runtime's binary as pid {target}"
        apid = env.path("attacker.pid")
        rc, _, err = env.detached("exec", "-d", "--pid-file", apid, cid, "/bin/sh", "-c",
                                  ATTACK.format(pid=target))
        assert rc == 0, err
        with open(apid) as f:
            attacker = int(f.read())
        deadline = time.time() + 12
        while time.time() < deadline and os.path.exists(f"/proc/{attacker}") and \
                harness.read(f"/proc/{attacker}/stat", "").split(" ")[2:3] != ["Z"]:
            time.sleep(0.1)
        assert sha(copy) == before, f"the container overwrote the runtime binary ({route})"
    finally:
        env.rt.run("delete", "--force", cid)
