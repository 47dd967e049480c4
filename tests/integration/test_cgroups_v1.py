"""cgroup v1 checks of issue 4 on this hybrid host (v1 controllers at /sys/fs/cgroup/<name>,
cgroup2 with only hugetlb at /sys/fs/cgroup/unified), each observing the effect of a limit (an
OOM kill, a failed fork, a throttled loop, an affinity mask, an EPERM, a frozen counter), not
only the file the runtime wrote. The cgroup v2 twin is tests/vm/cgroupv2/test_cgroupv2.py.
Developed against runc 1.1.5 (WARD_RUNTIME=/usr/bin/runc); every check here holds for both."""

import fcntl
import json
import os
import re
import time

import pytest

import harness
from cgv1_lib import MiB, V1, alive, json_lines, kv, make_ctrs, read, sh, wait_for


@pytest.fixture
def ctrs(env):
    yield from make_ctrs(env)


# A container that waits for /tmp/go (written by the test through the rootfs), then runs
# `body`, records the exit status in /tmp/rc and stays up for inspection.
def gated(body):
    return sh("until [ -e /tmp/go ]; do sleep 0.05; done; " + body +
              "; echo $? > /tmp/rc; exec sleep 600")


def go(c):
    with open(c.rootfs_file("/tmp/go"), "w"):
        pass


def cpus():
    return len(os.sched_getaffinity(0))


# The sleeps must not hold the caller's stdout open (an exec'd loop returns once sh exits).
FORK_LOOP = ("i=0; while [ $i -lt {n} ]; do sleep 60 >/dev/null 2>&1 & i=$((i+1)); "
             "echo started $i; done; echo all-started")


def forks_capped(r, n, most):
    """The fork loop of FORK_LOOP (n forks) stopped after at most `most` with a fork error."""
    started = [int(m) for m in re.findall(r"started (\d+)", r.stdout)]
    assert "all-started" not in r.stdout, f"{n} forks succeeded: {r.stdout!r}"
    assert started and max(started) <= most, r.stdout
    assert re.search(r"can't fork|Resource temporarily unavailable", r.stderr), r.stderr


_ev_buf = {}


def _oom_seen(proc):
    """Reads what `events` printed so far (non-blocking) and looks for an oom event."""
    fd = proc.stdout.fileno()
    fl = fcntl.fcntl(fd, fcntl.F_GETFL)
    fcntl.fcntl(fd, fcntl.F_SETFL, fl | os.O_NONBLOCK)
    try:
        chunk = os.read(fd, 1 << 20).decode(errors="replace")
    except BlockingIOError:
        chunk = ""
    _ev_buf[proc.pid] = _ev_buf.get(proc.pid, "") + chunk
    return any(e.get("type") == "oom" for e in json_lines(_ev_buf[proc.pid]))


def test_memory_limit_oom_kills(ctrs):
    c = ctrs(gated("/cgh mem 96"), name="mem", helper=True)
    c.resources["memory"] = {"limit": 32 * MiB, "swap": 32 * MiB}
    c.start()
    assert int(c.cg("memory", "memory.limit_in_bytes")) == 32 * MiB
    # v1 takes "swap" as the memory+swap total (runc's convention): no swap on top.
    assert int(c.cg("memory", "memory.memsw.limit_in_bytes")) == 32 * MiB
    before = kv(c.cg("memory", "memory.oom_control")).get("oom_kill", 0)
    ev = c.rt.popen("events", "--interval", "1s", c.id)
    try:
        time.sleep(0.5)  # both runtimes register the OOM eventfd before their first interval
        go(c)
        rc = c.wait_rootfs_file("/tmp/rc", 30)
        assert rc == "137", f"the allocating process was not SIGKILLed: status {rc!r}, " \
                            f"output {c.stdout()!r}"
        assert "allocated" not in c.stdout()
        oc = kv(c.cg("memory", "memory.oom_control"))
        assert oc.get("oom_kill", 0) > before, f"memory.oom_control: {oc}"
        stats = c.rt.run("events", "--stats", c.id)
        assert stats.returncode == 0, stats.stderr
        snap = json.loads(stats.stdout)
        assert snap.get("type") == "stats" and snap.get("id") == c.id, snap
        mem = snap["data"]["memory"]
        assert mem["usage"]["limit"] == 32 * MiB, mem
        seen = wait_for(lambda: _oom_seen(ev), 10, step=0.5)
        assert seen, "`events` streamed no {\"type\":\"oom\"} event: " + _ev_buf.get(ev.pid, "")
        # the container itself survives: only the allocating process was chosen
        assert c.status() == "running"
    finally:
        ev.kill()
        ev.communicate(timeout=10)


def test_pids_limit_caps_forks(ctrs, env):
    c = ctrs(sh(FORK_LOOP.format(n=30)), name="pids")
    c.resources["pids"] = {"limit": 8}
    c.b.write()
    r = env.rt.run("run", "--bundle", c.b.path, c.id, timeout=60)
    # the shell is one of the 8 tasks
    forks_capped(r, 30, 7)
    assert r.returncode != 0


def test_cpu_quota_throttles(ctrs):
    c = ctrs(gated("/cgh spin 1.5"), name="cpu", helper=True)
    c.resources["cpu"] = {"quota": 10000, "period": 100000}
    c.start()
    assert int(c.cg("cpu", "cpu.cfs_quota_us")) == 10000
    assert int(c.cg("cpu", "cpu.cfs_period_us")) == 100000
    before = kv(c.cg("cpu", "cpu.stat"))
    usage0 = int(c.cg("cpuacct", "cpuacct.usage"))
    go(c)
    assert c.wait_rootfs_file("/tmp/rc", 30) == "0", c.stdout()
    after = kv(c.cg("cpu", "cpu.stat"))
    assert after["nr_throttled"] > before.get("nr_throttled", 0), after
    assert after["throttled_time"] > before.get("throttled_time", 0), after
    # 10% of one CPU for a 1.5 s busy loop: well under a second of CPU time (ns).
    used = int(c.cg("cpuacct", "cpuacct.usage")) - usage0
    assert used < 800_000_000, f"the busy loop used {used} ns of CPU under a 10% quota"


def test_cpuset_pins(ctrs, env):
    if cpus() < 2:
        pytest.skip("needs 2 CPUs")
    c = ctrs(sh("grep Cpus_allowed_list /proc/self/status; exec sleep 600"), name="cpuset")
    c.resources["cpu"] = {"cpus": "1", "mems": "0"}
    c.start()
    assert c.cg("cpuset", "cpuset.cpus").strip() == "1"
    assert c.cg("cpuset", "cpuset.mems").strip() == "0"
    out = wait_for(lambda: re.search(r"Cpus_allowed_list:\s*(\S+)", c.stdout()), 10)
    assert out and out.group(1) == "1", c.stdout()
    # an exec'd process lands in the same cpuset
    r = c.exec(c.id, "/bin/grep", "Cpus_allowed_list", "/proc/self/status")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["Cpus_allowed_list:", "1"], r.stdout


def _device_nodes():
    """(allowed char device, denied char device) that exist on the host, are not among the
    runtime's default devices (runc allows /dev/net/tun by default) and need no capability
    to open: /dev/fuse (c 10:229) and /dev/loop-control (c 10:237)."""
    nodes = []
    for path in ("/dev/fuse", "/dev/loop-control"):
        try:
            st = os.stat(path)
        except OSError:
            pytest.skip(f"{path} missing on this host")
        nodes.append((os.major(st.st_rdev), os.minor(st.st_rdev)))
    return nodes


def test_device_rules(ctrs):
    (fmaj, fmin), (lmaj, lmin) = _device_nodes()
    c = ctrs(sh("exec sleep 600"), name="dev", helper=True)
    c.config["linux"]["devices"] = [
        {"path": "/dev/fuse", "type": "c", "major": fmaj, "minor": fmin, "fileMode": 0o666,
         "uid": 0, "gid": 0},
        {"path": "/dev/loop-control", "type": "c", "major": lmaj, "minor": lmin,
         "fileMode": 0o666,
         "uid": 0, "gid": 0},
        {"path": "/dev/loop0", "type": "b", "major": 7, "minor": 0, "fileMode": 0o660,
         "uid": 0, "gid": 0}]
    # deny all (base config), then fuse rw and loop0 read-only; loop-control stays denied.
    c.resources["devices"] += [
        {"allow": True, "type": "c", "major": fmaj, "minor": fmin, "access": "rw"},
        {"allow": True, "type": "b", "major": 7, "minor": 0, "access": "r"}]
    c.start()
    lst = c.cg("devices", "devices.list").split("\n")
    assert f"c {fmaj}:{fmin} rw" in lst and "b 7:0 r" in lst, lst
    assert "a *:* rwm" not in lst, lst
    r = c.exec(c.id, "/bin/sh", "-c", "for a in '/dev/fuse r' '/dev/fuse w' "
               "'/dev/loop-control r' '/dev/loop0 r' '/dev/loop0 w' '/dev/null w'; "
               "do /cgh open $a; done")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["ok", "ok", "EPERM", "ok", "EPERM", "ok"], \
        "fuse r, fuse w, loop-control r, loop0 r, loop0 w, null w: " + r.stdout


def test_pause_resume(ctrs):
    c = ctrs(sh("i=0; while :; do i=$((i+1)); echo $i > /tmp/c; sleep 0.05; done"),
             name="pause")
    c.start()
    counter = c.rootfs_file("/tmp/c")

    def value():
        try:
            return int(read(counter, "").strip() or 0)
        except ValueError:  # caught mid-write
            return 0

    assert wait_for(lambda: value() >= 3, 10), "the counter never advanced"
    r = c.rt.run("pause", c.id)
    assert r.returncode == 0, r.stderr
    assert c.status() == "paused"
    assert c.cg("freezer", "freezer.state").strip() == "FROZEN"
    v1 = value()
    time.sleep(0.5)
    assert value() == v1, "the counter advanced while paused"
    r = c.rt.run("resume", c.id)
    assert r.returncode == 0, r.stderr
    assert c.status() == "running"
    assert c.cg("freezer", "freezer.state").strip() == "THAWED"
    assert wait_for(lambda: value() > v1 + 2, 10), "the counter did not advance after resume"


def test_update_running_container(ctrs):
    c = ctrs(sh("exec sleep 600"), name="update", helper=True)
    c.resources["pids"] = {"limit": 100}
    c.resources["memory"] = {"limit": 32 * MiB}
    c.resources["cpu"] = {"quota": 50000, "period": 100000}
    c.start()
    assert c.cg("pids", "pids.max").strip() == "100"
    # 48 MiB does not fit under the 32 MiB limit: the OOM killer ends the exec'd helper.
    r = c.exec(c.id, "/cgh", "mem", "48")
    assert r.returncode == 137, (r.returncode, r.stdout, r.stderr)

    r = c.rt.run("update", "--memory", str(96 * MiB), "--pids-limit", "50",
                 "--cpu-quota", "20000", c.id)
    assert r.returncode == 0, r.stderr
    assert int(c.cg("memory", "memory.limit_in_bytes")) == 96 * MiB
    assert c.cg("pids", "pids.max").strip() == "50"
    assert int(c.cg("cpu", "cpu.cfs_quota_us")) == 20000
    assert int(c.cg("cpu", "cpu.cfs_period_us")) == 100000
    r = c.exec(c.id, "/cgh", "mem", "48")
    assert r.returncode == 0 and "allocated 48 MiB" in r.stdout, \
        f"48 MiB under the updated 96 MiB limit: {r.returncode} {r.stdout!r} {r.stderr!r}"

    # containerd's call: JSON on stdin; fields not named keep their values
    r = c.rt.run("update", "--resources", "-", c.id,
                 input=json.dumps({"pids": {"limit": 20}, "cpu": {"quota": 30000}}))
    assert r.returncode == 0, r.stderr
    assert c.cg("pids", "pids.max").strip() == "20"
    assert int(c.cg("cpu", "cpu.cfs_quota_us")) == 30000
    assert int(c.cg("memory", "memory.limit_in_bytes")) == 96 * MiB, \
        "update --resources lost the memory limit"
    stats = json.loads(c.rt.run("events", "--stats", c.id, check=True).stdout)
    assert stats["data"]["memory"]["usage"]["limit"] == 96 * MiB, stats["data"]["memory"]
    assert stats["data"]["pids"]["limit"] == 20, stats["data"]["pids"]
    # The new pids limit bites: init + this shell + up to 18 more before forks fail. (Not much
    # lower: runc's Go `runc init` needs several threads under the limit to start the exec.)
    r = c.exec(c.id, "/bin/sh", "-c", FORK_LOOP.format(n=40))
    forks_capped(r, 40, 18)
    assert len(c.procs()) == 19, c.procs()  # init and the 18 sleeps; sh has exited


def test_kill_all(ctrs):
    # No pid namespace: killing init alone would leave the background sleeps running.
    c = ctrs(sh("sleep 600 & sleep 600 & sleep 600 & echo up > /tmp/up; wait"), name="killall")
    c.b.set_namespaces(["network", "ipc", "uts", "mount"])
    c.start()
    assert c.wait_rootfs_file("/tmp/up", 10) == "up"
    assert wait_for(lambda: len(c.procs()) >= 4, 10), c.procs()
    pids = c.procs()
    r = c.rt.run("kill", "--all", c.id, "KILL")
    assert r.returncode == 0, r.stderr
    assert wait_for(lambda: c.procs() == [], 10), f"left in the cgroup: {c.procs()}"
    assert wait_for(lambda: not [p for p in pids if alive(p)], 5), \
        f"still alive after kill --all: {[p for p in pids if alive(p)]}"
    assert wait_for(lambda: c.status() == "stopped", 10), c.state()


def _ps_table_pids(text):
    lines = text.splitlines()
    assert lines, "ps printed nothing"
    head = lines[0].split()
    assert "PID" in head, lines[0]
    col = head.index("PID")
    return sorted(int(l.split()[col]) for l in lines[1:] if l.strip())


def test_ps(ctrs):
    c = ctrs(sh("sleep 600 & sleep 600 & echo up > /tmp/up; wait"), name="ps")
    c.b.set_namespaces(["network", "ipc", "uts", "mount"])
    c.start()
    assert c.wait_rootfs_file("/tmp/up", 10) == "up"
    assert wait_for(lambda: len(c.procs()) >= 3, 10), c.procs()
    want = c.procs()
    assert c.pid() in want
    r = c.rt.run("ps", "--format", "json", c.id)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert isinstance(got, list) and sorted(got) == want, (got, want)
    r = c.rt.run("ps", c.id)
    assert r.returncode == 0, r.stderr
    assert _ps_table_pids(r.stdout) == want, r.stdout
    # table is the default format; say it explicitly too
    r = c.rt.run("ps", "--format", "table", c.id)
    assert r.returncode == 0, r.stderr
    assert _ps_table_pids(r.stdout) == want, r.stdout


def test_delete_leaves_no_cgroup(ctrs, env):
    c = ctrs(sh("exec sleep 600"), name="del")
    c.resources["pids"] = {"limit": 10}
    c.resources["memory"] = {"limit": 64 * MiB}
    c.start()
    pid = c.pid()
    # the init is in the container's cgroup in every v1 controller
    own = {}
    for line in read(f"/proc/{pid}/cgroup").splitlines():
        _, ctl, path = line.split(":", 2)
        for name in ctl.split(","):
            own[name] = path
    for ctl in V1:
        assert own.get(ctl) == c.cgpath, f"{ctl}: init in {own.get(ctl)!r}, not {c.cgpath}"
        assert os.path.isdir(c.cgdir(ctl)), c.cgdir(ctl)
        assert pid in c.procs(ctl), f"init not in {ctl}'s cgroup.procs"
    made = harness.cgroup_dirs(c.cgpath)
    r = c.delete()
    assert r.returncode == 0, r.stderr
    assert wait_for(lambda: not harness.cgroup_dirs(c.cgpath), 5), \
        f"left after delete: {harness.cgroup_dirs(c.cgpath)} (made {made})"
    assert c.state() is None
    # created but never started, then deleted
    d = ctrs(sh("true"), name="del2")
    d.create()
    assert harness.cgroup_dirs(d.cgpath)
    r = d.rt.run("delete", d.id)
    assert r.returncode == 0, r.stderr
    assert wait_for(lambda: not harness.cgroup_dirs(d.cgpath), 5), harness.cgroup_dirs(d.cgpath)
    # exited by itself, then deleted
    e = ctrs(sh("true"), name="del3")
    e.start()
    assert wait_for(lambda: e.status() == "stopped", 10), e.state()
    r = e.rt.run("delete", e.id)
    assert r.returncode == 0, r.stderr
    assert wait_for(lambda: not harness.cgroup_dirs(e.cgpath), 5), harness.cgroup_dirs(e.cgpath)
