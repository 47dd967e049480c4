"""cgroup v2 checks of issue 4, each observing the effect of a limit (a kill, a failed fork, a
throttled loop, an affinity mask, a slow read, a SIGBUS, an EPERM, a frozen counter), not only
the file the runtime wrote. Run it through tests/vm/run-suite."""

import json
import os
import re
import fcntl
import time

import pytest

from conftest import json_lines, kv, read, wait_for

MiB = 1 << 20


def sh(script):
    return ["/bin/sh", "-c", script]


# A container that waits for /tmp/go (written by the test through the rootfs), then runs
# `body`, records the exit status in /tmp/rc and stays up for inspection.
def gated(body):
    return sh("until [ -e /tmp/go ]; do sleep 0.05; done; " + body +
              "; echo $? > /tmp/rc; exec sleep 600")


def go(c):
    with open(c.rootfs_file("/tmp/go"), "w"):
        pass


def find_key(obj, pred):
    """All (key, value) pairs anywhere in a JSON object whose key satisfies pred."""
    found = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if pred(k):
                found.append((k, v))
            found += find_key(v, pred)
    elif isinstance(obj, list):
        for v in obj:
            found += find_key(v, pred)
    return found


def test_memory_max_oom_kills(env, containers):
    c = containers("mem", gated("/cgh mem 96"))
    c.resources["memory"] = {"limit": 32 * MiB, "swap": 32 * MiB}
    c.start()
    assert int(c.cg("memory.max")) == 32 * MiB
    before = kv(c.cg("memory.events")).get("oom_kill", 0)
    # Stream events from before the OOM happens; runc and ward both poll memory.events.
    ev = c.rt.popen("events", "--interval", "1s", c.id, text=True)
    try:
        time.sleep(0.5)
        go(c)
        rc = c.wait_rootfs_file("/tmp/rc", 60)
        assert rc == "137", f"the allocating process was not SIGKILLed: status {rc!r}, " \
                            f"output {c.stdout()!r}"
        assert "allocated" not in c.stdout()
        events = kv(c.cg("memory.events"))
        assert events.get("oom_kill", 0) > before, f"memory.events: {events}"
        stats = c.rt.run("events", "--stats", c.id)
        assert stats.returncode == 0, stats.stderr
        snap = json.loads(stats.stdout)
        assert snap.get("type") == "stats" and snap.get("id") == c.id, snap
        assert snap["data"]["memory"]["usage"]["limit"] == 32 * MiB, snap["data"]["memory"]
        # runc's stats format has no OOM counter; if a runtime adds one it must have counted.
        ooms = [v for k, v in find_key(snap, lambda k: "oom" in k.lower() and "kill" in k.lower())
                if isinstance(v, int)]
        assert not ooms or max(ooms) >= 1, f"events --stats counts no OOM kill: {ooms}"
        # Both runc 1.1 and ward report the OOM on the `events` stream.
        seen = wait_for(lambda: _oom_seen(ev), 10, step=0.5)
        assert seen, "`events` streamed no {\"type\":\"oom\"} event: " + _ev_buf.get(ev.pid, "")
    finally:
        ev.kill()
        ev.communicate(timeout=10)


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


def test_pids_max_caps_forks(env, containers):
    c = containers("pids", sh("i=0; while [ $i -lt 30 ]; do sleep 60 & i=$((i+1)); "
                              "echo started $i; done; echo all-started"))
    c.resources["pids"] = {"limit": 8}
    r = c.run(timeout=60)
    started = [int(m) for m in re.findall(r"started (\d+)", r.stdout)]
    assert "all-started" not in r.stdout, "30 forks succeeded under pids.max=8"
    assert started and max(started) <= 7, r.stdout
    assert re.search(r"can't fork|Resource temporarily unavailable", r.stderr), r.stderr
    assert r.returncode != 0


def test_cpu_max_throttles(env, containers):
    c = containers("cpu", gated("/cgh spin 2"))
    c.resources["cpu"] = {"quota": 10000, "period": 100000}
    c.start()
    assert c.cg("cpu.max").split() == ["10000", "100000"]
    before = kv(c.cg("cpu.stat"))
    go(c)
    assert c.wait_rootfs_file("/tmp/rc", 60) == "0"
    after = kv(c.cg("cpu.stat"))
    assert after["nr_throttled"] > before.get("nr_throttled", 0), after
    assert after["throttled_usec"] > before.get("throttled_usec", 0), after
    # 10% of one CPU for a 2 s busy loop: well under a second of CPU time.
    used = after["usage_usec"] - before.get("usage_usec", 0)
    assert used < 1_000_000, f"the busy loop used {used} us of CPU under a 10% quota"


def test_cpuset_pins(env, containers):
    if os.cpu_count() < 2:
        pytest.skip("needs 2 CPUs (ward-vm --smp 2)")
    c = containers("cpuset", sh("grep Cpus_allowed_list /proc/self/status; "
                                "cat /sys/fs/cgroup/cpuset.cpus.effective 2>/dev/null; true"))
    c.resources["cpu"] = {"cpus": "1", "mems": "0"}
    r = c.run()
    assert r.returncode == 0, r.stderr
    m = re.search(r"Cpus_allowed_list:\s*(\S+)", r.stdout)
    assert m and m.group(1) == "1", r.stdout


def _vda():
    try:
        maj, mnr = read("/sys/block/vda/dev").strip().split(":")
    except OSError:
        pytest.skip("no /dev/vda (ward-vm --disk)")
    return int(maj), int(mnr)


def _with_vda(c, access="rwm"):
    maj, mnr = _vda()
    c.config["linux"]["devices"] = [{"path": "/dev/vda", "type": "b", "major": maj,
                                     "minor": mnr, "fileMode": 0o660, "uid": 0, "gid": 0}]
    c.resources.setdefault("devices", [{"allow": False, "access": "rwm"}]).append(
        {"allow": True, "type": "b", "major": maj, "minor": mnr, "access": access})
    return maj, mnr


def test_io_max_throttles_reads(env, containers):
    # 4 MiB with O_DIRECT at 1 MiB/s: about 4 s (blk-throttle may let the first slice through).
    c = containers("io", sh("read a _ </proc/uptime; "
                            "dd if=/dev/vda of=/dev/null bs=64k count=64 iflag=direct && "
                            "read b _ </proc/uptime && echo took $a $b"))
    maj, mnr = _with_vda(c)
    c.resources["blockIO"] = {"throttleReadBpsDevice": [{"major": maj, "minor": mnr,
                                                          "rate": MiB}]}
    r = c.run(timeout=120)
    assert r.returncode == 0, r.stderr
    assert "64+0 records in" in r.stderr, r.stderr
    m = re.search(r"took ([\d.]+) ([\d.]+)", r.stdout)
    assert m, r.stdout
    secs = float(m.group(2)) - float(m.group(1))
    print(f"4 MiB read at rbps=1MiB/s took {secs:.2f} s")
    assert secs >= 2.5, f"4 MiB at 1 MiB/s took only {secs:.2f} s: io.max did not throttle"


def test_hugetlb_limit_kills(env, containers):
    if int(read("/proc/sys/vm/nr_hugepages").strip() or 0) < 4:
        pytest.skip("needs hugepages (ward-vm --hugepages 16)")
    c = containers("huge", sh("/cgh huge 1; echo one=$?; /cgh huge 2; echo two=$?"))
    c.resources["hugepageLimits"] = [{"pageSize": "2MB", "limit": 2 * MiB}]
    r = c.run()
    assert r.returncode == 0, r.stderr
    assert "one=0" in r.stdout, r.stdout
    m = re.search(r"two=(\d+)", r.stdout)
    assert m and m.group(1) in ("135", "137"), \
        f"mapping 2 huge pages under a 1-page limit was not stopped: {r.stdout!r}"
    assert "touched 2" not in r.stdout


DEFAULT_CHAR = [(1, 3), (1, 5), (1, 7), (1, 8), (1, 9), (5, 0), (5, 1), (5, 2), (136, None)]


def _device_container(containers, name):
    c = containers(name, sh("exec sleep 600"))
    _with_vda(c, access="r")
    c.config["linux"]["devices"].append({"path": "/dev/kmsg2", "type": "c", "major": 1,
                                         "minor": 11, "fileMode": 0o660, "uid": 0, "gid": 0})
    c.start()
    return c


def _opens(c):
    """Opens vda for reading and writing, kmsg2 (c 1:11) for reading, /dev/null for writing."""
    r = c.exec("/bin/sh", "-c", "/cgh open /dev/vda r; /cgh open /dev/vda w; "
               "/cgh open /dev/kmsg2 r; /cgh open /dev/null w")
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


def test_device_rules(env, containers):
    # deny all, the runtime's default devices, b 254:0 r: a denied node gives EPERM on open.
    c = _device_container(containers, "dev")
    assert _opens(c) == ["ok", "EPERM", "EPERM", "ok"], "vda r, vda w, kmsg2 r, null w"


def test_device_rules_update(env, containers):
    c = _device_container(containers, "devupd")
    assert _opens(c) == ["ok", "EPERM", "EPERM", "ok"], "vda r, vda w, kmsg2 r, null w"
    rules = [{"allow": False, "access": "rwm"}]
    rules += [{"allow": True, "type": "c", "major": a, **({"minor": b} if b is not None else {}),
               "access": "rwm"} for a, b in DEFAULT_CHAR]
    # vda flips from read-only to write-only. (kmsg2, c 1:11, cannot show an
    # allow: reading /dev/kmsg also needs CAP_SYSLOG under dmesg_restrict.)
    rules += [{"allow": True, "type": "b", "major": 254, "minor": 0, "access": "w"}]
    r = c.rt.run("update", "--resources", "-", c.id, input=json.dumps({"devices": rules}))
    assert r.returncode == 0, r.stderr
    got = _opens(c)
    if env.is_runc and got == ["ok", "EPERM", "EPERM", "ok"]:
        pytest.skip("runc 1.1 ignores linux.resources.devices in update (ward-only check)")
    assert got == ["EPERM", "ok", "EPERM", "ok"], \
        f"after update (vda write-only): vda r, vda w, kmsg2 r, null w = {got}"


def test_pause_resume(env, containers):
    c = containers("pause", sh("i=0; while :; do i=$((i+1)); echo $i > /tmp/c; sleep 0.1; done"))
    c.start()
    counter = c.rootfs_file("/tmp/c")

    def value():
        try:
            return int(read(counter, "").strip() or 0)
        except ValueError:  # caught mid-write
            return 0

    assert wait_for(lambda: value() >= 3, 30), "the counter never advanced"
    r = c.rt.run("pause", c.id)
    assert r.returncode == 0, r.stderr
    assert c.status() == "paused"
    assert wait_for(lambda: "frozen 1" in c.cg("cgroup.events"), 5), c.cg("cgroup.events")
    v1 = value()
    time.sleep(1.0)
    assert value() == v1, "the counter advanced while paused"
    r = c.rt.run("resume", c.id)
    assert r.returncode == 0, r.stderr
    assert c.status() == "running"
    assert "frozen 0" in c.cg("cgroup.events")
    assert wait_for(lambda: value() > v1 + 2, 10), "the counter did not advance after resume"


def test_update_running_container(env, containers):
    c = containers("update", sh("exec sleep 600"))
    c.resources["pids"] = {"limit": 100}
    c.resources["memory"] = {"limit": 64 * MiB}
    c.start()
    assert c.cg("pids.max").strip() == "100"
    r = c.rt.run("update", "--memory", str(96 * MiB), "--pids-limit", "50", c.id)
    assert r.returncode == 0, r.stderr
    assert int(c.cg("memory.max")) == 96 * MiB
    assert c.cg("pids.max").strip() == "50"
    r = c.rt.run("update", "--resources", "-", c.id, input=json.dumps({"pids": {"limit": 5}}))
    assert r.returncode == 0, r.stderr
    assert c.cg("pids.max").strip() == "5"
    assert int(c.cg("memory.max")) == 96 * MiB, "update --resources lost the memory limit"
    # The new limit bites: init + this shell + up to 3 more before forks fail.
    r = c.exec("/bin/sh", "-c", "i=0; while [ $i -lt 20 ]; do sleep 30 & i=$((i+1)); "
               "echo started $i; done; echo all-started")
    assert "all-started" not in r.stdout, "20 forks succeeded after pids.max was set to 5"
    assert re.search(r"can't fork|Resource temporarily unavailable", r.stderr), r.stderr


def test_kill_all(env, containers):
    # No pid namespace: killing init alone would leave the background sleeps running.
    c = containers("killall", sh("sleep 600 & sleep 600 & sleep 600 & echo up > /tmp/up; wait"))
    c.b.set_namespaces(["network", "ipc", "uts", "mount"])
    c.start()
    assert c.wait_rootfs_file("/tmp/up", 30) == "up"
    assert wait_for(lambda: len(c.procs()) >= 4, 10), c.procs()
    pids = c.procs()
    r = c.rt.run("kill", "--all", c.id, "KILL")
    assert r.returncode == 0, r.stderr
    assert wait_for(lambda: c.procs() == [], 10), f"left in the cgroup: {c.procs()}"
    alive = [p for p in pids if os.path.exists(f"/proc/{p}") and
             read(f"/proc/{p}/stat", ") Z").rsplit(")", 1)[1].split()[0] != "Z"]
    assert not alive, f"still alive after kill --all: {alive}"
    assert wait_for(lambda: c.status() == "stopped", 10), c.state()


def test_delete_removes_cgroup(env, containers):
    c = containers("del", sh("exec sleep 600"))
    c.cgpath = f"{env.prefix}/del/a/b"
    c.config["linux"]["cgroupsPath"] = c.cgpath
    c.resources["pids"] = {"limit": 10}
    c.start()
    assert os.path.isdir(c.cgdir)
    assert c.procs(), "the container's process is not in its cgroup"
    r = c.delete()
    assert r.returncode == 0, r.stderr
    assert wait_for(lambda: not os.path.isdir(c.cgdir), 5), f"{c.cgdir} left after delete"
    assert c.state() is None
    # created but never started, then deleted
    d = containers("del2", sh("true"))
    d.create()
    assert os.path.isdir(d.cgdir)
    r = d.rt.run("delete", d.id)
    assert r.returncode == 0, r.stderr
    assert wait_for(lambda: not os.path.isdir(d.cgdir), 5), f"{d.cgdir} left after delete"
    # exited by itself, then deleted
    e = containers("del3", sh("true"))
    e.start()
    assert wait_for(lambda: e.status() == "stopped", 20), e.state()
    r = e.rt.run("delete", e.id)
    assert r.returncode == 0, r.stderr
    assert wait_for(lambda: not os.path.isdir(e.cgdir), 5), f"{e.cgdir} left after delete"
