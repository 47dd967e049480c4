"""The create/start protocol: `start` reports success only on a positive "about to execve"
message followed by the exec, never on a bare EOF (an init killed before exec is a failure),
and no seccomp rule on a syscall the runtime uses to hand over the notify fd (sendmsg) can
hang `start`: it ends in bounded time."""

import array
import os
import signal
import socket
import subprocess
import threading
import time

import pytest


def test_init_killed_before_exec_is_a_failure(env):
    b = env.bundle(args=["/bin/true"])
    # startContainer hooks run in the init after start connected: kill it meanwhile.
    b.config["hooks"] = {"startContainer": [{"path": "/bin/sleep", "args": ["sleep", "3"]}]}
    b.write()
    cid = env.cid()
    rc, _, err = env.detached("create", "--bundle", b.path, cid)
    assert rc == 0, err
    try:
        pid = env.rt.state(cid)["pid"]
        p = env.rt.popen("start", cid)
        time.sleep(0.7)
        os.kill(pid, signal.SIGKILL)
        _, err = p.communicate(timeout=15)
        assert p.returncode != 0, "start reported success for an init killed before exec"
        assert err.strip(), "start failed without saying why"
    finally:
        env.rt.run("delete", "--force", cid)


class Agent:
    """A seccomp agent that takes the notify fd and never answers a notification."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(4)
        self.fds = []
        self.t = threading.Thread(target=self.serve, daemon=True)
        self.t.start()

    def serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            fds = array.array("i")
            try:
                _, anc, _, _ = c.recvmsg(65536, socket.CMSG_LEN(16 * fds.itemsize))
                for level, kind, data in anc:
                    if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                        fds.frombytes(data[:len(data) - len(data) % fds.itemsize])
            except OSError:
                pass
            self.fds += list(fds)
            c.close()

    def close(self):
        self.sock.close()
        for fd in self.fds:
            os.close(fd)


@pytest.mark.parametrize("agent", [True, False])
def test_notify_on_sendmsg_cannot_hang_start(env, agent):
    b = env.bundle(args=["/bin/true"])
    listener = env.path("agent.sock")
    b.config["linux"]["seccomp"] = {
        "defaultAction": "SCMP_ACT_ALLOW", "listenerPath": listener,
        "syscalls": [{"names": ["sendmsg"], "action": "SCMP_ACT_NOTIFY"}]}
    b.write()
    a = Agent(listener) if agent else None
    cid = env.cid()
    try:
        rc, _, err = env.detached("create", "--bundle", b.path, cid)
        assert rc == 0, err
        t0 = time.time()
        try:
            p = env.rt.run("start", cid, timeout=25)
        except subprocess.TimeoutExpired:
            pytest.fail("start hung on a seccomp NOTIFY rule for sendmsg")
        assert time.time() - t0 < 20
        if agent:
            assert p.returncode == 0, p.stderr
            assert a.fds, "the agent got no notify fd"
        else:
            assert p.returncode != 0 and "seccomp" in p.stderr, p.stderr
    finally:
        env.rt.run("delete", "--force", cid)
        if a:
            a.close()
