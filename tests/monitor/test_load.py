"""Load: the audit trail under 100 parallel containers, and the monitor under a fork storm."""

import concurrent.futures
import json
import os
import subprocess
import time

import harness
from conftest import metric


def test_100_containers_created_and_deleted_in_parallel_give_exactly_their_audit_lines(env):
    b = env.bundle(["true"])
    ids = [f"load-{i}" for i in range(100)]
    # One rootfs, a bundle (config.json with its own cgroup) per container.
    bundles = {}
    for cid in ids:
        d = os.path.join(env.dir, "bundles", cid)
        os.makedirs(d)
        cfg = json.loads(json.dumps(b.config))
        cfg["root"]["path"] = b.rootfs
        cg = f"{b.cgroups_path}-{cid}"
        env.cg_paths.append(cg)
        cfg["linux"]["cgroupsPath"] = cg
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(cfg, f)
        bundles[cid] = d

    def one(cid):
        # The created container keeps create's stdio open: stderr goes to a file.
        err = os.path.join(env.dir, cid + ".err")
        with open(err, "w") as e:
            p = subprocess.run(env.rt.argv("create", "-b", bundles[cid], cid), stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=e, env=env.rt.env(), timeout=120)
        q = subprocess.run(env.rt.argv("delete", "--force", cid), stdin=subprocess.DEVNULL, capture_output=True,
                           env=env.rt.env(), timeout=120)
        return p.returncode, open(err).read(), q.returncode, q.stderr

    with concurrent.futures.ThreadPoolExecutor(max_workers=32) as ex:
        results = list(ex.map(one, ids))
    assert all(r[0] == 0 and r[2] == 0 for r in results), [r for r in results if r[0] or r[2]][:3]
    with open(env.audit_log, "rb") as f:
        raw = f.read()
    assert raw.endswith(b"\n")
    lines = raw.split(b"\n")[:-1]
    recs = [json.loads(l) for l in lines]  # every line is one whole JSON record
    assert len(recs) == 200
    got = sorted((r["event"], r["container_id"], r["outcome"]) for r in recs)
    assert got == sorted([("create", c, "ok") for c in ids] + [("delete", c, "ok") for c in ids])
    assert all(r["bundle"] == bundles[r["container_id"]] and r["time"].endswith("Z") for r in recs)
    assert all(r["pid"] > 0 for r in recs if r["event"] == "create")


def test_fork_storm_is_followed_and_lost_events_are_counted(env):
    m = env.monitor()
    n = 20000
    # Each iteration forks and execs true: fork, exec and exit events.
    script = f"i=0; while [ $i -lt {n} ]; do /bin/true; i=$((i+1)); done; echo storm-done; sleep 60"
    before = m.metrics()
    cid = env.run_container(env.bundle(["/bin/sh", "-c", script]), "storm")
    t0 = time.time()
    assert harness.wait_for(lambda: "storm-done" in env.container_output(cid), 300, 0.5), "storm did not finish"
    elapsed = time.time() - t0
    time.sleep(1.0)
    after = m.metrics()

    def d(name, **kw):
        return metric(after, name, **kw) - metric(before, name, **kw)
    forks, execs, exits = (d("ward_monitor_events_total", type=t) for t in ("fork", "exec", "exit"))
    lost, overruns = d("ward_monitor_events_lost_total"), d("ward_monitor_netlink_overruns_total")
    cpu = d("process_cpu_seconds_total")
    total = d("ward_monitor_events_total")
    # Honest accounting: what was received plus what the kernel says was dropped covers the storm.
    assert forks + lost >= n, (forks, lost)
    assert execs + lost >= n
    if overruns:
        assert lost > 0
    per_k = cpu / (total / 1000.0)
    report = (f"fork storm: {n} processes in {elapsed:.1f} s; events received {total:.0f} (fork {forks:.0f}, "
              f"exec {execs:.0f}, exit {exits:.0f}), lost {lost:.0f}, overruns {overruns:.0f}; monitor CPU "
              f"{cpu:.3f} s = {per_k * 1000:.2f} ms per 1000 events; RSS "
              f"{metric(after, 'process_resident_memory_bytes') / 1e6:.1f} MB")
    print(report)
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".build", "fork-storm.txt"), "w") as f:
        f.write(report + "\n")
    # Every short-lived /bin/true belongs to the container: none is left tracked.
    env.rt.run("kill", cid, "KILL", check=True)
    assert harness.wait_for(lambda: metric(m.metrics(), "ward_monitor_processes_tracked") == 0, 10)


def test_a_small_netlink_buffer_loses_events_and_says_so(env):
    m = env.monitor(extra=["--netlink-rcvbuf", "4096"])
    n = 3000
    script = f"i=0; while [ $i -lt {n} ]; do /bin/true & /bin/true & /bin/true; i=$((i+1)); done; wait; echo storm-done; sleep 60"
    before = m.metrics()
    cid = env.run_container(env.bundle(["/bin/sh", "-c", script]), "tiny")
    assert harness.wait_for(lambda: "storm-done" in env.container_output(cid), 300, 0.5), "storm did not finish"
    time.sleep(1.0)
    after = m.metrics()

    def d(name, **kw):
        return metric(after, name, **kw) - metric(before, name, **kw)
    forks, lost, overruns = d("ward_monitor_events_total", type="fork"), d("ward_monitor_events_lost_total"), \
        d("ward_monitor_netlink_overruns_total")
    print(f"tiny buffer: forks received {forks:.0f}, lost {lost:.0f}, overruns {overruns:.0f} for {3 * n} processes")
    assert overruns > 0 and lost > 0
    assert forks + lost >= 3 * n
    env.rt.run("kill", cid, "KILL", check=True)
