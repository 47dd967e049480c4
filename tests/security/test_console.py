"""Console games from a hostile image (CVE-2025-52565 class): the runtime opens the pty of the
devpts mounted at the container's /dev/pts only (checked devpts root, its ptmx checked to be
that instance's multiplexer), takes the peer with TIOCGPTPEER instead of by its ptsname string,
and binds /dev/console from that fd, never through a symlink the image put at /dev/console.
These attacks need an image whose /dev is not covered by a tmpfs, so the configs below drop
the /dev tmpfs (and, where said, the devpts) mount. ward only: runc 1.1.5 predates the fix."""

import os
import select
import socket
import threading
import time

import pytest

from conftest import one_line_error

pytestmark = pytest.mark.ward_only


class ConsoleReceiver:
    """Takes the pty master sent over --console-socket (SCM_RIGHTS)."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(1)
        self.sock.settimeout(15)
        self.fd = None
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        try:
            conn, _ = self.sock.accept()
            with conn:
                _, fds, _, _ = socket.recv_fds(conn, 4096, 4)
                self.fd = fds[0] if fds else None
        except OSError:
            pass

    def master(self, timeout=15):
        self.thread.join(timeout)
        self.sock.close()
        return self.fd


def read_for(fd, seconds):
    data, deadline = b"", time.time() + seconds
    while time.time() < deadline:
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # EIO once every slave is closed
                break
            if not chunk:
                break
            data += chunk
    return data


def image_dev_bundle(env, args, devpts=True):
    b = env.bundle(args=args)
    drop = {"/dev"} if devpts else {"/dev", "/dev/pts"}
    b.config["mounts"] = [m for m in b.config["mounts"] if m["destination"] not in drop]
    b.config["process"]["terminal"] = True
    b.config["root"]["readonly"] = False
    return b


def run_with_console(env, b, cid):
    """create + start with a console socket; returns (create rc, stderr, console output)."""
    sock = env.path(f"console-{cid[-4:]}.sock")
    recv = ConsoleReceiver(sock)
    t0 = time.time()
    rc, _, err = env.detached("create", "--bundle", b.path, "--console-socket", sock, cid)
    assert time.time() - t0 < 15, "create hung"
    master = recv.master(timeout=1 if rc else 15)
    out = b""
    if rc == 0:
        try:
            assert env.rt.run("start", cid).returncode == 0
            out = read_for(master, 5)
        finally:
            os.close(master)
        env.wait_status(cid, "stopped")
        assert env.rt.run("delete", cid).returncode == 0
    elif master is not None:
        os.close(master)
    return rc, err, out.decode(errors="replace").replace("\r\n", "\n")


@pytest.mark.parametrize("where", ["host-volume-file", "image-file"])
def test_console_symlink_is_not_followed(env, where):
    """/dev/console pre-created by the image as a symlink: the console is bound at /dev/console
    itself; the file the symlink names (a host file behind a volume, or an image file) keeps
    being that file."""
    if where == "host-volume-file":
        vol = env.path("vol")
        os.makedirs(vol)
        with open(os.path.join(vol, "hostfile"), "w") as f:
            f.write("host-data\n")
        target = "/vol/hostfile"
    else:
        target = "/etc/hostname"
    b = image_dev_bundle(env, ["/bin/sh", "-c",
                               f"echo T=$(stat -c %F {target}); echo C=$(stat -c %F /dev/console);"
                               f" echo L=$(readlink /dev/console); cat {target}; tty"])
    if where == "host-volume-file":
        b.config["mounts"].append({"destination": "/vol", "type": "bind", "source": vol,
                                   "options": ["rbind"]})
    os.symlink(target, os.path.join(b.rootfs, "dev", "console"))
    b.write()
    rc, err, out = run_with_console(env, b, env.cid())
    assert rc == 0, err
    assert "T=regular file" in out, f"the console was bound over {target}: {out!r}"
    assert "C=character special file" in out, out
    assert "L=\n" in out, f"/dev/console is still a symlink: {out!r}"
    assert ("host-data" if where == "host-volume-file" else "image") in out, out
    if where == "host-volume-file":
        with open(os.path.join(env.path("vol"), "hostfile")) as f:
            assert f.read() == "host-data\n"


def plant_host_terminal(b, host_master, host_slave):
    """No devpts mount and no pid namespace (so /proc shows host pids); the image's
    /dev/pts/ptmx names a host pty master through /proc/PID/fd and every /dev/pts/N the host
    pty's slave. A runtime that opens /dev/ptmx and the ptsname path by string hands the
    container that host terminal."""
    b.config["linux"]["namespaces"] = [n for n in b.config["linux"]["namespaces"]
                                       if n["type"] != "pid"]
    pts = os.path.join(b.rootfs, "dev", "pts")
    os.makedirs(pts)
    me = os.getpid()
    os.symlink(f"/proc/{me}/fd/{host_master}", os.path.join(pts, "ptmx"))
    for n in range(4096):
        os.symlink(f"/proc/{me}/fd/{host_slave}", os.path.join(pts, str(n)))


def test_ptmx_through_magic_link_gets_no_host_terminal(env):
    host_master, host_slave = os.openpty()
    try:
        b = image_dev_bundle(env, ["/bin/sh", "-c", "echo PWNED-CONSOLE"], devpts=False)
        plant_host_terminal(b, host_master, host_slave)
        b.write()
        rc, err, _ = run_with_console(env, b, env.cid())
        leaked = read_for(host_master, 2)
        assert b"PWNED" not in leaked, "the container wrote to a host terminal"
        assert rc != 0, "a console from a /dev/pts that is not a devpts was accepted"
        line = one_line_error(err)
        assert "/dev/pts" in line and "devpts" in line, line
    finally:
        os.close(host_master)
        os.close(host_slave)


def test_exec_tty_through_magic_link_gets_no_host_terminal(env):
    """The same image, `exec -t` into it: the exec'd process must not get the host terminal
    as its stdio (it would write to it)."""
    host_master, host_slave = os.openpty()
    try:
        b = image_dev_bundle(env, ["/bin/sleep", "30"], devpts=False)
        b.config["process"]["terminal"] = False
        plant_host_terminal(b, host_master, host_slave)
        b.write()
        cid = env.cid()
        rc, _, err = env.detached("run", "-d", "--bundle", b.path, cid)
        assert rc == 0, err
        try:
            sock = env.path("exec-console.sock")
            recv = ConsoleReceiver(sock)
            t0 = time.time()
            rc, _, err = env.detached("exec", "--tty", "--detach", "--console-socket", sock, cid,
                                      "/bin/sh", "-c", "echo PWNED-EXEC; sleep 1")
            assert time.time() - t0 < 15, "exec hung"
            m = recv.master(timeout=1 if rc else 15)
            if m is not None:
                os.close(m)
            leaked = read_for(host_master, 3)
            assert b"PWNED" not in leaked, "the exec'd process wrote to a host terminal"
            assert rc != 0, "exec -t with a /dev/pts that is not a devpts was accepted"
            line = one_line_error(err)
            assert "/dev/pts" in line and "devpts" in line, line
        finally:
            env.rt.run("kill", cid, "KILL")
            env.wait_status(cid, "stopped")
            env.rt.run("delete", "--force", cid)
    finally:
        os.close(host_master)
        os.close(host_slave)


@pytest.mark.parametrize("kind", ["fifo", "regular-file", "symlink-to-host-dev"])
def test_pts_replaced_fails_fast(env, kind):
    """/dev/pts replaced by a FIFO, a regular file, or a symlink to /dev/pts of the host (clamped
    to the root, where nothing is a devpts): a one-line error, no hang, nothing left behind."""
    b = image_dev_bundle(env, ["/bin/true"], devpts=False)
    pts = os.path.join(b.rootfs, "dev", "pts")
    if kind == "fifo":
        os.mkfifo(pts)
    elif kind == "regular-file":
        with open(pts, "w") as f:
            f.write("not a devpts\n")
    else:
        os.symlink("/proc/1/root/dev/pts", pts)
    b.write()
    rc, err, _ = run_with_console(env, b, env.cid())
    assert rc != 0
    line = one_line_error(err)
    assert "/dev/pts" in line, line
