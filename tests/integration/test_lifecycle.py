"""The container lifecycle as a user of the runc command line sees it."""

import datetime
import json
import os
import re
import socket
import subprocess
import threading
import time

import pytest

from conftest import one_line_error, probe_report

LOOP = ["/bin/sh", "-c",
        "trap 'echo usr1 > /out/usr1' USR1; trap 'exit 0' TERM; "
        "while true; do sleep 0.05; done"]


def looping_bundle(env, name=None, outdir=None):
    b = env.bundle(LOOP, name=name)
    out = outdir or env.path((name or "loop") + "-out")
    os.makedirs(out, exist_ok=True)
    b.config["mounts"].append({"destination": "/out", "type": "bind", "source": out,
                               "options": ["rbind"]})
    b.config["annotations"] = {"org.example.owner": "tests", "k2": "v2"}
    return b.write(), out


def parse_rfc3339(s):
    s = re.sub(r"\.(\d{6})\d*", r".\1", s)  # Python takes at most microseconds
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))


def test_create_start_state_kill_delete(env):
    b, _ = looping_bundle(env)
    cid = env.cid()
    pidfile = env.path("init.pid")
    before = datetime.datetime.now(datetime.timezone.utc)
    rc, _, err = env.detached("create", "--bundle", b.path, "--pid-file", pidfile, cid)
    assert rc == 0, err

    st = env.rt.state(cid)
    assert st is not None
    assert st["status"] == "created"
    assert st["id"] == cid
    assert isinstance(st["ociVersion"], str) and st["ociVersion"].startswith("1.")
    assert st["pid"] > 0
    with open(pidfile) as f:
        assert int(f.read().strip()) == st["pid"]
    assert os.path.exists(f"/proc/{st['pid']}")
    assert st["bundle"] == b.path
    assert st["rootfs"] == b.rootfs
    created = parse_rfc3339(st["created"])
    assert abs((created - before).total_seconds()) < 60
    assert "owner" in st and st["owner"] in ("", "root")
    assert st["annotations"] == {"org.example.owner": "tests", "k2": "v2"}

    p = env.rt.run("start", cid)
    assert p.returncode == 0, p.stderr
    st = env.wait_status(cid, "running")
    assert st["pid"] > 0

    p = env.rt.run("kill", cid, "KILL")
    assert p.returncode == 0, p.stderr
    env.wait_status(cid, "stopped")

    p = env.rt.run("delete", cid)
    assert p.returncode == 0, p.stderr
    p = env.rt.run("state", cid)
    assert p.returncode != 0
    one_line_error(p)


def test_run_exit_status(env):
    b = env.bundle(["/probe", "-q", "exit", "7"]).write()
    p = env.rt.run("run", "--bundle", b.path, env.cid())
    assert p.returncode == 7, p.stderr


@pytest.mark.parametrize("sig", [9, 15])
def test_run_killed_by_signal(env, sig):
    # outside a new pid namespace, so that the probe is not its init (which ignores signals)
    b = env.bundle(["/probe", "-q", "kill-self", str(sig)])
    b.set_namespaces(["mount", "ipc", "uts", "network"])
    b.write()
    p = env.rt.run("run", "--bundle", b.path, env.cid())
    assert p.returncode == 128 + sig, p.stderr


def test_run_killed_from_outside(env):
    b, _ = looping_bundle(env)
    cid = env.cid()
    proc = env.rt.popen("run", "--bundle", b.path, cid)
    try:
        env.wait_status(cid, "running")
        p = env.rt.run("kill", cid, "KILL")
        assert p.returncode == 0, p.stderr
        assert proc.wait(timeout=20) == 128 + 9
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def test_run_probe_output(env):
    b = env.bundle(["/probe"]).write()
    p = env.rt.run("run", "--bundle", b.path, env.cid())
    assert p.returncode == 0, p.stderr
    r = probe_report(p.stdout)
    assert r["pid"] == 1 and r["uid"] == 0 and r["hostname"] == "runc"


def test_run_detach(env):
    b, _ = looping_bundle(env)
    cid = env.cid()
    pidfile = env.path("pid")
    t = time.time()
    rc, _, err = env.detached("run", "--detach", "--pid-file", pidfile, "--bundle", b.path, cid)
    assert rc == 0, err
    assert time.time() - t < 15
    st = env.wait_status(cid, "running")
    with open(pidfile) as f:
        assert int(f.read()) == st["pid"]
    assert env.rt.run("kill", cid, "9").returncode == 0
    env.wait_status(cid, "stopped")
    assert env.rt.run("delete", cid).returncode == 0


@pytest.mark.parametrize("signame", ["USR1", "SIGUSR1", "10"])
def test_kill_by_name_and_number(env, signame):
    b, out = looping_bundle(env)
    cid = env.cid()
    rc, _, err = env.detached("run", "-d", "--bundle", b.path, cid)
    assert rc == 0, err
    env.wait_status(cid, "running")
    time.sleep(0.2)  # let the shell install its traps
    p = env.rt.run("kill", cid, signame)
    assert p.returncode == 0, p.stderr
    deadline = time.time() + 5
    while not os.path.exists(os.path.join(out, "usr1")) and time.time() < deadline:
        time.sleep(0.02)
    assert os.path.exists(os.path.join(out, "usr1")), "the container did not get SIGUSR1"
    assert env.wait_status(cid, "running")
    assert env.rt.run("kill", cid, "TERM").returncode == 0
    env.wait_status(cid, "stopped")
    assert env.rt.run("delete", cid).returncode == 0


def test_kill_default_signal_is_term(env):
    b, _ = looping_bundle(env)
    cid = env.cid()
    rc, _, err = env.detached("run", "-d", "--bundle", b.path, cid)
    assert rc == 0, err
    env.wait_status(cid, "running")
    time.sleep(0.2)
    assert env.rt.run("kill", cid).returncode == 0
    env.wait_status(cid, "stopped")
    assert env.rt.run("delete", cid).returncode == 0


def test_kill_all(env):
    b = env.bundle(["/bin/sh", "-c", "sleep 100 & sleep 100 & sleep 100 & wait"]).write()
    cid = env.cid()
    rc, _, err = env.detached("run", "-d", "--bundle", b.path, cid)
    assert rc == 0, err
    env.wait_status(cid, "running")
    time.sleep(0.2)
    p = env.rt.run("kill", "--all", cid, "KILL")
    assert p.returncode == 0, p.stderr
    env.wait_status(cid, "stopped")
    assert env.rt.run("delete", cid).returncode == 0


def test_delete_force_running(env):
    b, _ = looping_bundle(env)
    cid = env.cid()
    rc, _, err = env.detached("run", "-d", "--bundle", b.path, cid)
    assert rc == 0, err
    env.wait_status(cid, "running")
    p = env.rt.run("delete", "--force", cid)
    assert p.returncode == 0, p.stderr
    assert env.rt.run("state", cid).returncode != 0


def test_delete_force_created(env):
    b, _ = looping_bundle(env)
    cid = env.cid()
    rc, _, err = env.detached("create", "--bundle", b.path, cid)
    assert rc == 0, err
    p = env.rt.run("delete", "--force", cid)
    assert p.returncode == 0, p.stderr


def test_list(env):
    ids = []
    for i in range(2):
        b, _ = looping_bundle(env, name=f"l{i}")
        cid = env.cid()
        rc, _, err = env.detached("create", "--bundle", b.path, cid)
        assert rc == 0, err
        ids.append(cid)
    assert env.rt.run("start", ids[1]).returncode == 0
    env.wait_status(ids[1], "running")

    p = env.rt.run("list", "-q")
    assert p.returncode == 0, p.stderr
    assert sorted(p.stdout.split()) == sorted(ids)

    p = env.rt.run("list", "--format", "json")
    assert p.returncode == 0, p.stderr
    entries = {e["id"]: e for e in json.loads(p.stdout)}
    assert sorted(entries) == sorted(ids)
    assert entries[ids[0]]["status"] == "created"
    assert entries[ids[1]]["status"] == "running"
    for e in entries.values():
        assert e["pid"] > 0 and e["bundle"].startswith(env.dir) and "created" in e

    p = env.rt.run("list")
    assert p.returncode == 0
    header = p.stdout.splitlines()[0].split()
    assert header[:3] == ["ID", "PID", "STATUS"]

    for cid in ids:
        assert env.rt.run("delete", "--force", cid).returncode == 0


def test_spec_writes_config(env):
    d = env.path("specdir")
    os.makedirs(d)
    p = env.rt.run("spec", "--bundle", d)
    assert p.returncode == 0, p.stderr
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    assert cfg["ociVersion"].startswith("1.")
    assert cfg["root"]["path"] == "rootfs"
    assert cfg["process"]["args"]
    assert {n["type"] for n in cfg["linux"]["namespaces"]} >= {"pid", "mount"}
    # a second spec must not overwrite it
    p = env.rt.run("spec", "--bundle", d)
    assert p.returncode != 0
    one_line_error(p)


def test_log_json_success_and_failure(env):
    log = env.path("log.json")
    b = env.bundle(["/probe", "-q"]).write()
    rt_args = ["--log", log, "--log-format", "json"]
    p = env.rt.run(*rt_args, "run", "--bundle", b.path, env.cid())
    assert p.returncode == 0, p.stderr
    for line in open(log).read().splitlines() if os.path.exists(log) else []:
        rec = json.loads(line)
        assert {"level", "msg", "time"} <= set(rec)

    bad = env.path("nobundle")
    os.makedirs(bad)
    p = env.rt.run(*rt_args, "run", "--bundle", bad, env.cid())
    assert p.returncode != 0
    recs = [json.loads(l) for l in open(log).read().splitlines() if l.strip()]
    assert recs, "nothing logged"
    for rec in recs:
        assert {"level", "msg", "time"} <= set(rec), rec
        parse_rfc3339(rec["time"])
    assert recs[-1]["level"] == "error" and recs[-1]["msg"]


class ConsoleReceiver:
    """An AF_UNIX listener that takes the pty master fd sent with SCM_RIGHTS."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(1)
        self.sock.settimeout(20)
        self.fd = None
        self.error = None
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        try:
            conn, _ = self.sock.accept()
            with conn:
                _, fds, _, _ = socket.recv_fds(conn, 4096, 4)
                self.fd = fds[0] if fds else None
        except Exception as e:  # reported by the test
            self.error = e

    def master(self):
        self.thread.join(20)
        self.sock.close()
        assert self.error is None, f"console socket: {self.error}"
        assert self.fd is not None, "no fd received on the console socket"
        return self.fd


def read_all(fd, timeout=10):
    import select
    data = b""
    deadline = time.time() + timeout
    while time.time() < deadline:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # EIO once the slave side is closed
                break
            if not chunk:
                break
            data += chunk
    return data


def test_console_socket(env):
    b = env.bundle(["/probe"])
    b.config["process"]["terminal"] = True
    b.write()
    sock = env.path("console.sock")
    recv = ConsoleReceiver(sock)
    cid = env.cid()
    rc, _, err = env.detached("create", "--bundle", b.path, "--console-socket", sock, cid)
    assert rc == 0, err
    master = recv.master()
    try:
        assert os.isatty(master)
        assert env.rt.run("start", cid).returncode == 0
        data = read_all(master).decode(errors="replace")
    finally:
        os.close(master)
    env.wait_status(cid, "stopped")
    assert env.rt.run("delete", cid).returncode == 0
    r = probe_report(data.replace("\r\n", "\n"))
    assert r["tty"] == [True, True, True]
    assert r["fds"]["0"].startswith("/dev/pts/")


def test_console_socket_interactive(env):
    b = env.bundle(["/bin/sh", "-c", "read line; echo got:$line"])
    b.config["process"]["terminal"] = True
    b.write()
    sock = env.path("console.sock")
    recv = ConsoleReceiver(sock)
    cid = env.cid()
    rc, _, err = env.detached("run", "-d", "--bundle", b.path, "--console-socket", sock, cid)
    assert rc == 0, err
    master = recv.master()
    try:
        os.write(master, b"hello\n")
        data = read_all(master).decode(errors="replace")
    finally:
        os.close(master)
    assert "got:hello" in data
    env.wait_status(cid, "stopped")
    assert env.rt.run("delete", cid).returncode == 0


def test_preserve_fds(env):
    target = env.path("preserved.txt")
    b = env.bundle(["/probe", "write", "/proc/self/fd/3", "through-fd-3"]).write()
    # a shell opens fd 3 for the runtime, so that no fd of pytest's is clobbered
    argv = env.rt.argv("run", "--preserve-fds", "1", "--bundle", b.path, env.cid())
    p = subprocess.run(["/bin/sh", "-c", 'exec "$@" 3>"$TARGET"', "sh", *argv],
                       env={**env.rt.env(), "TARGET": target}, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    r = probe_report(p.stdout)
    assert "3" in r["fds"]
    assert r["actions"][0]["errno"] == 0
    with open(target) as f:
        assert f.read() == "through-fd-3"


def test_fds_not_leaked_without_preserve(env):
    b = env.bundle(["/probe"]).write()
    fd = os.open("/dev/null", os.O_RDONLY)
    try:
        os.set_inheritable(fd, True)
        p = env.rt.run("run", "--bundle", b.path, env.cid(), pass_fds=(fd,))
    finally:
        os.close(fd)
    assert p.returncode == 0, p.stderr
    assert sorted(probe_report(p.stdout)["fds"]) == ["0", "1", "2"]
