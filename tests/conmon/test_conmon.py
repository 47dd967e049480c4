"""The runtime under conmon, driven as podman drives it: conmon runs `create` (and `exec`), the
engine itself calls start, state, kill, pause, resume, update and delete --force."""

import json
import os

import pytest

import bundle as bundle_lib  # conformance/lib, put on sys.path by conftest
from conftest import read, reap, wait_until

TERM_SCRIPT = 'trap "echo got-term; exit 7" TERM; echo ready; sleep 1000 & wait'


def created(session, conmon):
    """Checks what podman checks after conmon returns: a pid on the sync pipe that matches the
    pid file, and the runtime's state `created`."""
    msg = conmon.messages[0] if conmon.messages else None
    assert conmon.rc == 0, f"conmon exited {conmon.rc}: {conmon.stderr}"
    assert msg is not None, f"no sync message from conmon; stderr: {conmon.stderr}"
    assert msg.get("data", -1) > 0, f"create failed under conmon: {msg}; {conmon.stderr}"
    assert conmon.container_pid() == msg["data"]
    st = session.state(conmon.cid)
    assert st is not None and st["status"] == "created", st
    assert st["pid"] == msg["data"]
    return msg["data"]


def start_running(session, args, terminal=False):
    cid = session.new_id("run")
    b = session.bundle(cid, args, terminal=terminal).write()
    c = session.conmon(cid, b.path, terminal=terminal)
    c.launch()
    created(session, c)
    session.call("start", cid)
    return cid, b, c


def remove(session, cid):
    """podman rm: delete --force, then delete --force again on a container that no longer
    exists, which must succeed as with runc."""
    session.call("delete", "--force", cid)
    assert session.state(cid) is None
    p = session.call("delete", "--force", cid, check=False)
    assert p.returncode == 0, f"second delete --force exited {p.returncode}: {p.stderr}"


def test_prints_and_exits(session):
    cid = session.new_id("echo")
    b = session.bundle(cid, ["/bin/sh", "-c", "echo hello-out; echo hello-err >&2; exit 3"])
    b.write()
    c = session.conmon(cid, b.path)
    c.launch()
    created(session, c)
    session.call("start", cid)
    assert c.wait_exit() == 3
    lines = c.log_lines()
    assert ("stdout", "hello-out") in lines, lines
    assert ("stderr", "hello-err") in lines, lines
    assert read(os.path.join(c.persist, "exit")).strip() == "3"
    st = session.state(cid)
    assert st["status"] == "stopped", st
    remove(session, cid)


def test_long_running_started_by_engine_then_stopped(session):
    cid, b, c = start_running(session, ["/bin/sh", "-c", TERM_SCRIPT])
    assert wait_until(lambda: "ready" in c.log_text()), c.log_text()
    st = session.state(cid)
    assert st["status"] == "running", st
    assert not os.path.exists(c.exit_file)
    # podman stop: kill with the signal number, then wait for conmon's exit file.
    session.call("kill", cid, "15")
    assert c.wait_exit() == 7
    assert "got-term" in c.log_text()
    remove(session, cid)


def test_kill_9(session):
    cid, b, c = start_running(session, ["/bin/sleep", "1000"])
    session.call("kill", cid, "9")
    assert c.wait_exit() == 137
    remove(session, cid)


def exec_spec(session, name, args, terminal=False):
    spec = dict(bundle_process(session))
    spec["args"] = args
    spec["terminal"] = terminal
    path = os.path.join(session.base, name + ".json")
    with open(path, "w") as f:
        json.dump(spec, f)
    return path


def bundle_process(session):
    p = json.loads(json.dumps(bundle_lib.BASE_CONFIG["process"]))
    p["env"].append("WARD_TEST_MARK=" + session.marker)
    return p


def test_exec_through_conmon(session):
    cid, b, c = start_running(session, ["/bin/sleep", "1000"])
    spec = exec_spec(session, "exec1",
                     ["/bin/sh", "-c", "echo exec-out $(hostname) $$; echo exec-err >&2; exit 5"])
    e = session.conmon(cid, b.path, uuid=cid + "-exec1", exec_spec=spec)
    msg = e.launch()
    assert e.rc == 0, f"conmon --exec exited {e.rc}: {e.stderr}"
    assert msg is not None and msg.get("data", -1) > 0, f"exec failed: {msg}; {e.stderr}"
    assert e.wait_exit() == 5
    lines = e.log_lines()
    out = [t for s, t in lines if s == "stdout"]
    # The exec joined the container's uts and pid namespaces: its hostname, and a pid that is
    # not 1 but small.
    assert out and out[0].startswith("exec-out runc "), lines
    assert ("stderr", "exec-err") in lines, lines
    # With api-version 1 conmon reports the exec's exit status on the sync pipe too.
    final = e.next_message(timeout=5)
    if final is not None:
        assert final.get("data") == 5, final
    assert session.state(cid)["status"] == "running"
    session.call("kill", cid, "9")
    assert c.wait_exit() == 137
    remove(session, cid)


def test_exec_with_terminal_through_conmon(session):
    cid, b, c = start_running(session, ["/bin/sleep", "1000"])
    spec = exec_spec(session, "exec-tty",
                     ["/bin/sh", "-c", "[ -t 0 ] && [ -t 1 ] && echo exec-is-a-tty; exit 4"],
                     terminal=True)
    e = session.conmon(cid, b.path, uuid=cid + "-exectty", exec_spec=spec, terminal=True)
    msg = e.launch()
    assert e.rc == 0, f"conmon --exec -t exited {e.rc}: {e.stderr}"
    assert msg is not None and msg.get("data", -1) > 0, f"exec failed: {msg}; {e.stderr}"
    assert e.wait_exit() == 4
    assert "exec-is-a-tty" in e.log_text(), e.log_lines()
    session.call("kill", cid, "9")
    assert c.wait_exit() == 137
    remove(session, cid)


def test_terminal_container(session):
    cid = session.new_id("tty")
    b = session.bundle(cid, ["/bin/sh", "-c",
                             "[ -t 0 ] && [ -t 1 ] && [ -t 2 ] && echo is-a-tty; exit 2"],
                       terminal=True).write()
    c = session.conmon(cid, b.path, terminal=True)
    c.launch()
    created(session, c)
    session.call("start", cid)
    assert c.wait_exit() == 2
    assert "is-a-tty" in c.log_text(), c.log_lines()
    remove(session, cid)


def cgroup_file(cg_path, controller, name):
    return os.path.join("/sys/fs/cgroup", controller, cg_path.strip("/"), name)


def test_pause_resume_update_delete_force(session):
    cid, b, c = start_running(session, ["/bin/sleep", "1000"])
    cg = b.cgroups_path
    session.call("pause", cid)
    assert session.state(cid)["status"] == "paused"
    freezer = cgroup_file(cg, "freezer", "freezer.state")
    if os.path.exists(freezer):
        assert read(freezer).strip() == "FROZEN"
    session.call("resume", cid)
    assert session.state(cid)["status"] == "running"
    if os.path.exists(freezer):
        assert read(freezer).strip() == "THAWED"
    # podman update writes the resources to a file and passes --resources=FILE.
    res = os.path.join(session.base, "resources.json")
    with open(res, "w") as f:
        json.dump({"memory": {"limit": 64 * 1024 * 1024}, "pids": {"limit": 77},
                   "cpu": {"shares": 512}}, f)
    session.call("update", "--resources=" + res, cid)
    mem = cgroup_file(cg, "memory", "memory.limit_in_bytes")
    if os.path.exists(mem):
        assert int(read(mem)) == 64 * 1024 * 1024
    pids = cgroup_file(cg, "pids", "pids.max")
    if os.path.exists(pids):
        assert read(pids).strip() == "77"
    shares = cgroup_file(cg, "cpu", "cpu.shares")
    if os.path.exists(shares):
        assert read(shares).strip() == "512"
    assert session.state(cid)["status"] == "running"
    # podman rm -f on a running container: delete --force kills it; conmon records the exit.
    session.call("delete", "--force", cid)
    assert c.wait_exit() == 137
    assert session.state(cid) is None
    p = session.call("delete", "--force", cid, check=False)
    assert p.returncode == 0, p.stderr


def test_delete_force_of_paused_container(session):
    cid, b, c = start_running(session, ["/bin/sleep", "1000"])
    session.call("pause", cid)
    session.call("delete", "--force", cid)
    assert c.wait_exit() == 137
    assert session.state(cid) is None


def runtime_error_lines(path):
    """The `msg` of each error-level JSON line in the runtime's --log file."""
    out = []
    if not os.path.exists(path):
        return out
    for line in read(path).splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if rec.get("level") in ("error", "fatal"):
            out.append(rec.get("msg", ""))
    return out


BAD_CONFIGS = {
    # A mount of a filesystem type the kernel does not know: rejected during create.
    "bad-mount-type": lambda cfg: cfg["mounts"].append(
        {"destination": "/bogus", "type": "no-such-fs-type", "source": "none"}),
    # A namespace path that does not exist.
    "bad-namespace-path": lambda cfg: [n.update(path="/proc/no-such-pid/ns/ipc")
                                       for n in cfg["linux"]["namespaces"] if n["type"] == "ipc"],
}


@pytest.mark.parametrize("bad", sorted(BAD_CONFIGS))
def test_bad_config_error_reaches_conmon(session, bad):
    cid = session.new_id("bad")
    b = session.bundle(cid, ["/bin/true"])
    BAD_CONFIGS[bad](b.config)
    b.write()
    c = session.conmon(cid, b.path)
    msg = c.launch()
    errors = runtime_error_lines(c.runtime_log)
    assert errors, (f"runtime wrote no error line to --log {c.runtime_log}: "
                    f"{read(c.runtime_log) if os.path.exists(c.runtime_log) else '(missing)'}")
    line = errors[-1]
    assert "\n" not in line.strip(), line
    # podman reads the message from the sync pipe ({"data": -1, "message": ...}) and shows it
    # as the error; conmon takes it from the runtime's stderr.
    assert msg is not None, f"no sync message; conmon stderr: {c.stderr}"
    assert msg.get("data", 0) < 0, msg
    message = msg.get("message", "")
    assert line.strip() in message, f"runtime error {line!r} not in conmon's message {message!r}"
    if c.monitor_pid:
        assert wait_until(lambda: reap(c.monitor_pid), 10)
    assert session.state(cid) is None
    p = session.call("delete", "--force", cid, check=False)
    assert p.returncode == 0, p.stderr
