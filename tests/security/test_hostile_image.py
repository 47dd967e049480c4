"""Hostile images must not hang the runtime: files the runtime reads from the image are opened
without blocking and must be regular files, and `run`/`create` stay interruptible by
SIGTERM/SIGINT, cleaning up everything they made."""

import os
import signal
import subprocess
import time

import pytest

from conftest import one_line_error


@pytest.mark.parametrize("cmd", ["run", "create"])
def test_fifo_passwd_fails_fast(env, cmd):
    b = env.bundle(args=["/bin/true"])
    os.unlink(os.path.join(b.rootfs, "etc", "passwd"))
    os.mkfifo(os.path.join(b.rootfs, "etc", "passwd"))
    b.write()
    cid = env.cid()
    t0 = time.time()
    try:
        p = subprocess.run(env.rt.argv(cmd, "--bundle", b.path, cid), stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                           env=env.rt.env(), timeout=10)
        rc, err = p.returncode, p.stderr
    except subprocess.TimeoutExpired:
        pytest.fail(f"{cmd} hung on a FIFO at /etc/passwd")
    assert time.time() - t0 < 5
    assert rc != 0
    line = one_line_error(err)
    assert "/etc/passwd" in line and "regular file" in line, line


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
@pytest.mark.parametrize("cmd", ["run", "create"])
def test_signal_during_create_leaves_nothing(env, cmd, sig):
    b = env.bundle(args=["/bin/true"])
    # createContainer hooks run in the init, so the runtime waits on the init meanwhile.
    b.config["hooks"] = {"createContainer": [{"path": "/bin/sleep", "args": ["sleep", "20"]}]}
    b.write()
    cid = env.cid()
    p = env.rt.popen(cmd, "--bundle", b.path, cid)
    try:
        assert harness_wait(lambda: os.path.isdir(os.path.join(env.rt.root, cid)), 5)
        time.sleep(0.5)
        p.send_signal(sig)
        try:
            _, err = p.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{cmd} did not end within 5 s of {sig.name}")
        assert p.returncode != 0
        assert not os.path.exists(os.path.join(env.rt.root, cid)), "state directory left"
        # the env fixture checks cgroups, processes and mounts
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def harness_wait(pred, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return False
