"""Fault injection (issue 11, item 5): `create`, `run -d` and `start` are SIGKILLed at each of
their side-effecting steps (strace stops the command at the Nth call of a syscall and kills it
there, so the syscall never runs), then `state` must tell the truth about what is left and
`delete --force` must remove exactly that: no state entry, no cgroup directory in any hierarchy,
no mount, no process.

The steps are found by tracing one undisturbed run of the command; every syscall that changes
something (mkdir, open, write, clone, sendmsg, mount, ...) is a kill point. WARD_FAULT_STEPS
(default 30) bounds the kill points tried per command, spread evenly over the trace;
WARD_FAULT_STEPS=0 tries them all. WARD_FAULT_REPORT=FILE appends the tried / clean / leaked /
lied / wedged figures to FILE."""

import json
import os
import re
import shutil
import subprocess

import pytest

import harness

STRACE = shutil.which("strace")
pytestmark = pytest.mark.skipif(STRACE is None, reason="strace not installed (apt-get install strace)")

# Syscalls at which a kill can leave something behind (or is the step right before one).
SIDE_EFFECTS = {
    "mkdir", "mkdirat", "openat", "open", "openat2", "write", "pwrite64", "writev", "rename",
    "renameat", "renameat2", "unlink", "unlinkat", "rmdir", "clone", "clone3", "fork", "vfork",
    "sendmsg", "sendto", "recvmsg", "connect", "bind", "listen", "socket", "socketpair", "flock",
    "fcntl", "mount", "umount2", "fsync", "fdatasync", "execve", "execveat", "kill",
    "pidfd_send_signal", "pidfd_open", "wait4", "poll", "ppoll", "exit_group", "memfd_create",
    "symlink", "symlinkat", "linkat", "fsconfig", "fsmount", "move_mount", "open_tree",
}
LINE = re.compile(r"^([a-z0-9_]+)\(")
WORKLOAD = ["/bin/sleep", "600"]
CMD_TIMEOUT = 20


def trace(rt, argv, log):
    """Runs argv under strace once; returns the syscall names in order."""
    # stdio to a file: the container's init inherits it and outlives the command.
    with open(log + ".err", "w+") as err:
        p = subprocess.run([STRACE, "-qq", "-o", log, "--", *rt.argv(*argv)], env=rt.env(),
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                           timeout=CMD_TIMEOUT)
        err.seek(0)
        assert p.returncode == 0, f"traced run failed: {err.read()}"
    names = []
    with open(log) as f:
        for line in f:
            m = LINE.match(line)
            if m:
                names.append(m.group(1))
    return names


def kill_points(names, limit):
    """(name, occurrence) of each side-effecting syscall, at most `limit` spread evenly."""
    seen = {}
    points = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        if n in SIDE_EFFECTS:
            points.append((n, seen[n]))
    if limit and len(points) > limit:
        step = len(points) / limit
        points = [points[int(i * step)] for i in range(limit)] + [points[-1]]
    return points


def inject(rt, argv, name, nth):
    """Runs argv with SIGKILL at the entry of its nth `name` syscall; returns its return code."""
    p = subprocess.run([STRACE, "-qq", "-o", "/dev/null", "-e", f"trace={name}",
                        "-e", f"inject={name}:signal=KILL:when={nth}", "--", *rt.argv(*argv)],
                       env=rt.env(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=CMD_TIMEOUT)
    return p.returncode


def exe_of(pid):
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return None


def alive(pid):
    st = harness.read(f"/proc/{pid}/stat", "")
    return bool(st) and st.rsplit(")", 1)[1].split()[0] != "Z"


def state_lie(rt, cid):
    """What `state` says, checked against the facts; returns a description of a lie or None."""
    p = rt.run("state", cid, timeout=CMD_TIMEOUT)
    if p.returncode != 0:
        lines = [l for l in p.stderr.splitlines() if l.strip()]
        if len(lines) != 1:
            return f"state failed without a one-line error: {p.stderr!r}"
        return None  # an error (does not exist, corrupt) is not a lie
    st = json.loads(p.stdout)
    status, pid = st["status"], st.get("pid", 0)
    exe = exe_of(pid) if pid > 0 and alive(pid) else None
    execd = exe is not None and exe.endswith("/busybox")
    if status == "running" and not execd:
        return f"state says running, but pid {pid} is {exe!r}"
    if status == "created" and (exe is None or execd):
        return f"state says created, but pid {pid} is {exe!r}"
    if status == "stopped" and exe is not None:
        return f"state says stopped, but pid {pid} runs {exe!r}"
    if status == "creating" and execd:
        return f"state says creating, but pid {pid} runs the workload"
    return None


def run_faults(env, command, limit):
    b = env.bundle(WORKLOAD, name=command)
    b.write()
    probe_id = env.cid("-trace")
    if command == "start":
        assert env.detached("create", "--bundle", b.path, probe_id)[0] == 0
        names = trace(env.rt, ["start", probe_id], env.path("trace.log"))
    elif command == "run":
        names = trace(env.rt, ["run", "-d", "--bundle", b.path, probe_id], env.path("trace.log"))
    else:
        names = trace(env.rt, ["create", "--bundle", b.path, probe_id], env.path("trace.log"))
    env.rt.run("delete", "--force", probe_id, check=True, timeout=CMD_TIMEOUT)
    assert not env.leftovers(), "an undisturbed run left something"

    points = kill_points(names, limit)
    tried = clean = 0
    leaked, lied, wedged = [], [], []
    for name, nth in points:
        cid = env.cid()
        tried += 1
        try:
            if command == "start":
                assert env.detached("create", "--bundle", b.path, cid)[0] == 0
                inject(env.rt, ["start", cid], name, nth)
            elif command == "run":
                inject(env.rt, ["run", "-d", "--bundle", b.path, cid], name, nth)
            else:
                inject(env.rt, ["create", "--bundle", b.path, cid], name, nth)
            lie = state_lie(env.rt, cid)
            if lie:
                lied.append(f"{name}#{nth}: {lie}")
            d = env.rt.run("delete", "--force", cid, timeout=CMD_TIMEOUT)
            left = env.leftovers()
            if d.returncode != 0:
                left = left + [f"delete --force exited {d.returncode}: {d.stderr.strip()}"]
        except subprocess.TimeoutExpired as e:
            wedged.append(f"{name}#{nth}: {' '.join(map(str, e.cmd))[-80:]}")
            left = env.leftovers()
        if left:
            leaked.append(f"{name}#{nth}: " + "; ".join(left))
            env.cleanup()
        elif not any(x.startswith(f"{name}#{nth}:") for x in lied + wedged):
            clean += 1
    summary = (f"faults {command}: tried {tried}, clean {clean}, leaked {len(leaked)}, "
               f"lied {len(lied)}, wedged {len(wedged)}")
    if os.environ.get("WARD_FAULT_REPORT"):
        with open(os.environ["WARD_FAULT_REPORT"], "a") as f:
            f.write(summary + "\n" + "".join(f"  {x}\n" for x in leaked + lied + wedged))
    print(summary)
    assert not (leaked or lied or wedged), summary + "\n  " + "\n  ".join(leaked + lied + wedged)


@pytest.mark.parametrize("command", ["create", "run", "start"])
def test_sigkill_at_every_step_leaves_nothing_after_delete_force(env, command):
    run_faults(env, command, int(os.environ.get("WARD_FAULT_STEPS", "30")))
