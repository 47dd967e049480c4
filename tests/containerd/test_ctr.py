"""containerd's own client, ctr, running containers through containerd-shim-runc-v2 with
`--runc-binary` = the runtime under test: attached and detached, with and without a tty, exec,
pause/resume, ps, kill, delete, and a config the runtime rejects."""

import json
import os
import shutil
import subprocess

import pytest

from conftest import (CTR_NS, cgroup_dirs, cgroup_v1, cgroup_v2_root, read, run_in_pty,
                      shims_of, wait_until)

# A container init that exits 0 on SIGTERM at once (sh's `wait` returns for a trapped signal).
SERVE = "trap 'exit 0' TERM; /bin/sleep 100000 & wait"


@pytest.fixture
def box(ctrd):
    """Per-test bookkeeping: ids and cgroups used, checked to be gone afterwards."""

    class Box:
        ids = []
        cgs = []

        def new(self, what="c"):
            cid = ctrd.uid(what)
            cg = f"{ctrd.prefix}/{cid}"
            self.ids.append(cid)
            self.cgs.append(cg)
            return cid, cg

        def state_dir(self, cid):
            return os.path.join(ctrd.ctr_root, CTR_NS, cid)

    b = Box()
    b.ids, b.cgs = [], []
    yield b
    failed = []
    for cid in b.ids:
        if ctrd.task_status(cid) is not None:
            failed.append(f"task {cid} still known to containerd")
            ctrd.ctr("task", "kill", "-a", "-s", "SIGKILL", cid, check=False)
            wait_until(lambda: ctrd.task_status(cid) in (None, "STOPPED"), timeout=5)
            ctrd.ctr("task", "rm", "-f", cid, check=False)
        if cid in ctrd.ctr("container", "ls", "-q").stdout.split():
            failed.append(f"container {cid} still known to containerd")
            ctrd.ctr("container", "rm", cid, check=False)
        if os.path.exists(b.state_dir(cid)):
            failed.append(f"runtime state left: {b.state_dir(cid)}")
        if shims_of(ctrd.sock, cid):
            failed.append(f"shim for {cid} still running")
    for cg in b.cgs:
        dirs = wait_until(lambda: not cgroup_dirs(cg), timeout=3) or cgroup_dirs(cg)
        if dirs is not True:
            failed.append(f"cgroup left: {dirs}")
    assert not failed, "left behind after the test: " + "; ".join(failed)


def start_detached(ctrd, box, *cmd, tty=False):
    cid, cg = box.new()
    argv = ctrd.ctr_run_argv(cid, cg, *(cmd or ("/bin/sh", "-c", SERVE)), detach=True, tty=tty)
    if tty:
        rc, out = run_in_pty(argv)
        assert rc == 0, f"ctr run -d -t failed ({rc}): {out}"
    else:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=60,
                           stdin=subprocess.DEVNULL)
        assert p.returncode == 0, f"ctr run -d failed: {p.stderr}"
    assert wait_until(lambda: ctrd.task_status(cid) == "RUNNING", timeout=10), \
        f"task {cid} not RUNNING: {ctrd.task_status(cid)}"
    return cid, cg


def remove(ctrd, cid):
    """Stops a task with SIGKILL and deletes task and container, as a user would."""
    ctrd.ctr("task", "kill", "-s", "SIGKILL", cid)
    assert wait_until(lambda: ctrd.task_status(cid) == "STOPPED", timeout=10)
    ctrd.ctr("task", "delete", cid)
    ctrd.ctr("container", "delete", cid)


def init_pid(ctrd, cid):
    for line in ctrd.ctr("task", "ls").stdout.splitlines()[1:]:
        f = line.split()
        if f and f[0] == cid:
            return int(f[1])
    return None


def freezer_state(cg):
    v1 = cgroup_v1("freezer")
    if v1:
        return read(os.path.join(v1, cg.strip("/"), "freezer.state"))
    v2 = cgroup_v2_root()
    frozen = read(os.path.join(v2, cg.strip("/"), "cgroup.freeze"))
    return "FROZEN" if frozen == "1" else "THAWED"


def test_run_attached_exit_status_and_output(ctrd, box):
    cid, cg = box.new()
    p = subprocess.run(
        ctrd.ctr_run_argv(cid, cg, "/bin/sh", "-c",
                          "echo to-stdout; echo to-stderr >&2; test -t 0 || echo no-tty; "
                          "grep -q \"$0\" /proc/self/cgroup && echo in-cgroup; exit 7", cg,
                          rm=True),
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert p.returncode == 7, p.stderr
    assert p.stdout.split() == ["to-stdout", "no-tty", "in-cgroup"], p.stdout
    assert "to-stderr" in p.stderr


def test_run_attached_stdin_is_forwarded(ctrd, box):
    cid, cg = box.new()
    p = subprocess.run(ctrd.ctr_run_argv(cid, cg, "/bin/sh", "-c", "/bin/head -n 2; echo done",
                                         rm=True, extra=["--env", "X=1"]),
                       input="line one\nline two\n", capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout == "line one\nline two\ndone\n"


def test_run_attached_with_tty(ctrd, box):
    cid, cg = box.new()
    rc, out = run_in_pty(ctrd.ctr_run_argv(
        cid, cg, "/bin/sh", "-c",
        "test -t 0 && test -t 1 && echo tty-ok; /bin/tty; /bin/stty size; exit 3",
        tty=True, rm=True))
    assert rc == 3, out
    lines = out.split("\n")
    assert "tty-ok" in lines, out
    assert any(line.startswith("/dev/pts/") for line in lines), out


def test_detached_runs_under_runtime_with_its_state_and_cgroup(ctrd, box):
    cid, cg = start_detached(ctrd, box)
    # The runtime under test knows the container, under the --runc-root plus namespace.
    assert os.path.isdir(box.state_dir(cid)), os.listdir(os.path.dirname(box.state_dir(cid)))
    st = ctrd.runtime_state(os.path.join(ctrd.ctr_root, CTR_NS), cid)
    assert st is not None and st["status"] == "running", st
    pid = init_pid(ctrd, cid)
    assert st["pid"] == pid
    # It is in the cgroup ctr asked for, in every hierarchy.
    with open(f"/proc/{pid}/cgroup") as f:
        paths = {line.rstrip("\n").split(":", 2)[2] for line in f}
    assert paths == {cg}, paths
    # `ctr task ps` goes through the runtime's `ps --format json`.
    ps = ctrd.ctr("task", "ps", cid).stdout.split()
    assert str(pid) in ps, ps
    remove(ctrd, cid)


def test_exec_into_running_container(ctrd, box):
    cid, _ = start_detached(ctrd, box)
    p = ctrd.exec(cid, "e1", "/bin/sh", "-c",
                  "echo exec-out; echo exec-err >&2; cat /proc/1/cmdline | tr '\\0' ' '; exit 4",
                  check=False)
    assert p.returncode == 4, p.stderr
    assert p.stdout.startswith("exec-out\n/bin/sh -c"), p.stdout
    assert "exec-err" in p.stderr
    # Same pid namespace as the init: its pid 1 is the container's init.
    p = ctrd.exec(cid, "e2", "/bin/pwd", extra=["--cwd", "/tmp"])
    assert p.stdout == "/tmp\n"
    # An exec with a terminal.
    rc, out = run_in_pty(ctrd.exec_argv(cid, "e3", "/bin/sh", "-c", "/bin/tty; exit 5", tty=True))
    assert rc == 5, out
    assert out.strip().startswith("/dev/pts/"), out
    remove(ctrd, cid)


def test_detached_with_tty_then_exec(ctrd, box):
    cid, _ = start_detached(ctrd, box, "/bin/sh", "-c", SERVE, tty=True)
    p = ctrd.exec(cid, "e1", "/bin/readlink", "/proc/1/fd/0")
    assert p.stdout.startswith("/dev/pts/"), p.stdout
    remove(ctrd, cid)


def test_pause_and_resume(ctrd, box):
    cid, cg = start_detached(ctrd, box)
    root = os.path.join(ctrd.ctr_root, CTR_NS)
    ctrd.ctr("task", "pause", cid)
    assert ctrd.task_status(cid) == "PAUSED"
    assert ctrd.runtime_state(root, cid)["status"] == "paused"
    assert freezer_state(cg) == "FROZEN"
    ctrd.ctr("task", "resume", cid)
    assert ctrd.task_status(cid) == "RUNNING"
    assert ctrd.runtime_state(root, cid)["status"] == "running"
    assert freezer_state(cg) == "THAWED"
    # Still alive and serving after the round trip.
    assert ctrd.exec(cid, "e1", "/bin/echo", "alive").stdout \
        == "alive\n"
    remove(ctrd, cid)


def test_kill_with_sigterm_then_delete(ctrd, box):
    cid, cg = start_detached(ctrd, box)
    ctrd.ctr("task", "kill", cid)  # SIGTERM: the init's trap exits 0
    assert wait_until(lambda: ctrd.task_status(cid) == "STOPPED", timeout=10)
    ctrd.ctr("task", "delete", cid)
    assert not os.path.exists(box.state_dir(cid))
    ctrd.ctr("container", "delete", cid)
    assert wait_until(lambda: not cgroup_dirs(cg), timeout=3), cgroup_dirs(cg)


def test_kill_all_reaches_exec_processes(ctrd, box):
    cid, _ = start_detached(ctrd, box, "/bin/sh", "-c", SERVE)
    ctrd.exec(cid, "bg", "/bin/sleep", "100000", detach=True)
    ps = ctrd.ctr("task", "ps", cid).stdout.split("\n")[1:]
    assert len([line for line in ps if line.strip()]) >= 3, ps  # sh, its sleep, exec'd sleep
    ctrd.ctr("task", "kill", "--all", "-s", "SIGKILL", cid)
    assert wait_until(lambda: ctrd.task_status(cid) == "STOPPED", timeout=10)
    ctrd.ctr("task", "delete", cid)
    ctrd.ctr("container", "delete", cid)


def test_force_delete_running_task(ctrd, box):
    cid, cg = start_detached(ctrd, box)
    ctrd.ctr("task", "delete", "--force", cid)
    assert ctrd.task_status(cid) is None
    assert not os.path.exists(box.state_dir(cid))
    ctrd.ctr("container", "delete", cid)
    assert wait_until(lambda: not cgroup_dirs(cg), timeout=3), cgroup_dirs(cg)


def bad_spec(ctrd, cg):
    """A valid-looking OCI config the runtime must reject at create: a sysctl that is not
    namespaced (vm.*), which runc refuses with a one-line validation error."""
    return {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": False, "user": {"uid": 0, "gid": 0}, "args": ["/bin/true"],
            "env": ["PATH=/bin"], "cwd": "/",
            "capabilities": {k: ["CAP_KILL"] for k in
                             ("bounding", "effective", "permitted")},
            "noNewPrivileges": True,
        },
        "root": {"path": ctrd.rootfs, "readonly": True},
        "hostname": "bad",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        ],
        "linux": {
            "cgroupsPath": cg,
            "sysctl": {"vm.swappiness": "10"},
            "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
            "maskedPaths": ["/proc/kcore"],
        },
    }


def runtime_error_line(ctrd, spec, tmp):
    """Creates the bundle directly with the runtime (as the shim does, with --log and json
    format) and returns the last error message it logged."""
    bundle = os.path.join(tmp, "direct")
    os.makedirs(bundle)
    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(spec, f)
    root = os.path.join(tmp, "direct-root")
    log = os.path.join(bundle, "log.json")
    cid = "direct-bad"
    p = subprocess.run([ctrd.binary, "--root", root, "--log", log, "--log-format", "json",
                        "create", "--bundle", bundle, "--pid-file", bundle + "/init.pid", cid],
                       capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    subprocess.run([ctrd.binary, "--root", root, "delete", "--force", cid], capture_output=True)
    assert p.returncode != 0, "the runtime accepted a non-namespaced sysctl"
    msgs = []
    if os.path.exists(log):
        with open(log) as f:
            for line in f:
                try:
                    e = json.loads(line)
                except ValueError:
                    continue
                if e.get("level") in ("error", "fatal"):
                    msgs.append(e.get("msg", ""))
    assert msgs, f"no error line in {log}; stderr was: {p.stderr}"
    return msgs[-1]


def test_rejected_config_error_reaches_the_user(ctrd, box, tmp_path):
    cid, cg = box.new("bad")
    direct_cg = cg + "-direct"
    box.cgs.append(direct_cg)
    expected = runtime_error_line(ctrd, bad_spec(ctrd, direct_cg), str(tmp_path))
    assert "\n" not in expected.strip(), f"runtime error is not one line: {expected!r}"
    assert "swappiness" in expected, f"runtime error does not name the sysctl: {expected!r}"

    cfg = tmp_path / "bad.json"
    cfg.write_text(json.dumps(bad_spec(ctrd, cg)))
    p = ctrd.ctr("run", "--rm", "--runc-binary", ctrd.binary, "--runc-root", ctrd.ctr_root,
                 "--fifo-dir", ctrd.fifo_dir, "--config", str(cfg), cid, check=False)
    assert p.returncode != 0
    err = p.stderr.strip()
    assert "OCI runtime create failed" in err, err
    assert expected.strip() in err, f"runtime's error {expected!r} not in ctr's: {err!r}"
    shutil.rmtree(tmp_path / "direct", ignore_errors=True)
