"""checkpoint/restore checks, run as root inside the ward-vm guest (Debian's 6.1 kernel, on which
criu 3.17 works; the host's kernel defeats it) by tests/vm/criu/run, against WARD_RUNTIME
(default build/ward; /usr/bin/runc is the reference). Each container counts in a shell variable
and writes the count to /count in its rootfs: a restored container that went on from its memory
shows a number above the one it had at checkpoint time, a restarted one would start at 1.
Prints one line per check ("ok NAME" / "FAIL NAME: why"), then "N passed, N failed"; exits 1 if
any failed, 2 if it cannot run at all."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(REPO, "conformance", "lib"))
import bundle as bundlelib  # noqa: E402

RUNTIME = os.environ.get("WARD_RUNTIME", os.path.join(REPO, "build", "ward"))
PREFIX = "/ward-vm-criu"
COUNTER = "i=0; while :; do i=$((i+1)); echo $i > /count; sleep 0.1; done"

passed, failures = 0, []


def check(name, cond, why=""):
    global passed
    print(("ok " if cond else "FAIL ") + name + ("" if cond else ": " + str(why)), flush=True)
    if cond:
        passed += 1
    else:
        failures.append(name)
    return cond


BASE = tempfile.mkdtemp(prefix="criu-", dir="/tmp")
STATE = os.path.join(BASE, "state")
n_files = 0


def rt(*args, timeout=120):
    return subprocess.run([RUNTIME, "--root", STATE, *args], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout)


def rt_files(*args, timeout=120):
    """rt() with stdio on files: a restored container keeps the stdio of `restore` (criu's
    --inherit-fd), so pipes would never reach EOF. criu checks that a file it inherits has
    the mode of the one dumped (0644, as `run -d` had), hence plain files, not TemporaryFile
    (0600). Returns (rc, stderr text)."""
    global n_files
    n_files += 1
    base = os.path.join(BASE, f"rt{n_files}")
    with open(os.devnull) as null, open(base + ".out", "w+") as out, \
            open(base + ".err", "w+") as err:
        r = subprocess.run([RUNTIME, "--root", STATE, *args], stdin=null, stdout=out,
                           stderr=err, timeout=timeout)
        err.seek(0)
        return subprocess.CompletedProcess(r.args, r.returncode, "", err.read())


def state(cid):
    r = rt("state", cid)
    return json.loads(r.stdout) if r.returncode == 0 else None


def counter_bundle(name):
    b = bundlelib.Bundle(os.path.join(BASE, name), f"{PREFIX}/{name}",
                         args=["/bin/sh", "-c", COUNTER])
    b.config["root"]["readonly"] = False
    b.write()
    return b


def count(b):
    try:
        return int(open(os.path.join(b.rootfs, "count")).read().strip() or 0)
    except (OSError, ValueError):
        return 0


def wait_count(b, above, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        c = count(b)
        if c > above:
            return c
        time.sleep(0.1)
    return count(b)


def cgroup_dir(name):
    return f"/sys/fs/cgroup{PREFIX}/{name}"


def start(b, cid):
    # The container inherits the stdio of `run -d`: a file, not a pipe this script would wait
    # on (criu dumps it as an external file and restore hands it back with --inherit-fd).
    with open(os.path.join(BASE, cid + ".err"), "w+") as err:
        r = subprocess.run([RUNTIME, "--root", STATE, "run", "-d", "--bundle", b.path, cid],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                           timeout=60)
        if r.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"run {cid}: {err.read().strip()}")
    wait_count(b, 3)


def cleanup(cid):
    rt("delete", "--force", cid)


def one_line_error(r):
    lines = [l for l in r.stderr.strip().splitlines() if l.strip()]
    return r.returncode != 0 and len(lines) == 1, f"rc={r.returncode} stderr={r.stderr!r}"


def test_counter_continues():
    b = counter_bundle("c1")
    start(b, "c1")
    img = os.path.join(BASE, "img1")
    t0 = time.time()
    r = rt("checkpoint", "--image-path", img, "c1")
    dump_s = time.time() - t0
    if not check("checkpoint exits 0", r.returncode == 0, r.stderr.strip()):
        return cleanup("c1")
    print(f"   (checkpoint took {dump_s:.2f} s)")
    at_dump = count(b)
    check("after checkpoint the container is gone (state fails)", state("c1") is None,
          rt("state", "c1").stdout)
    check("after checkpoint its cgroup is gone", not os.path.exists(cgroup_dir("c1")))
    time.sleep(0.6)
    check("after checkpoint the counter stopped", count(b) == at_dump, f"{at_dump} -> {count(b)}")
    check("the image holds inventory.img and descriptors.json",
          os.path.exists(os.path.join(img, "inventory.img"))
          and os.path.exists(os.path.join(img, "descriptors.json")))

    pidfile = os.path.join(BASE, "c1.pid")
    t0 = time.time()
    r = rt_files("restore", "--detach", "--bundle", b.path, "--image-path", img, "--pid-file", pidfile,
           "c1")
    restore_s = time.time() - t0
    if not check("restore --detach exits 0", r.returncode == 0, r.stderr.strip()):
        return cleanup("c1")
    print(f"   (restore took {restore_s:.2f} s)")
    first = count(b)
    later = wait_count(b, at_dump + 3)
    print(f"   (counter: {at_dump} at checkpoint, {first} right after restore, then {later})")
    check("the restored counter continues from where it stopped (not from 0)",
          first >= at_dump and later > at_dump + 3, f"at checkpoint {at_dump}, then {first}, {later}")
    st = state("c1")
    check("state says running after restore", st is not None and st["status"] == "running", st)
    pid = st["pid"] if st else 0
    check("--pid-file holds the restored pid", open(pidfile).read().strip() == str(pid),
          f"{open(pidfile).read()!r} vs {pid}")
    cg = open(f"/proc/{pid}/cgroup").read().strip() if pid else ""
    check("the restored process is in the container's cgroup", cg == f"0::{PREFIX}/c1", cg)
    r = rt("kill", "c1", "KILL")
    check("kill works after restore", r.returncode == 0, r.stderr.strip())
    end = time.time() + 10
    while time.time() < end and (state("c1") or {}).get("status") != "stopped":
        time.sleep(0.1)
    check("the killed container is stopped", (state("c1") or {}).get("status") == "stopped",
          state("c1"))
    r = rt("delete", "c1")
    check("delete works after restore", r.returncode == 0 and state("c1") is None, r.stderr.strip())
    check("delete removed the restored cgroup", not os.path.exists(cgroup_dir("c1")))
    cleanup("c1")


def test_leave_running():
    b = counter_bundle("c2")
    start(b, "c2")
    img = os.path.join(BASE, "img2")
    r = rt("checkpoint", "--leave-running", "--image-path", img, "c2")
    check("checkpoint --leave-running exits 0", r.returncode == 0, r.stderr.strip())
    st = state("c2")
    check("--leave-running: still running", st is not None and st["status"] == "running", st)
    c = count(b)
    check("--leave-running: the counter goes on", wait_count(b, c + 3, 10) > c + 3)
    check("--leave-running: an image was written", os.path.exists(os.path.join(img, "inventory.img")))
    cleanup("c2")


def test_pre_dump():
    b = counter_bundle("c3")
    start(b, "c3")
    pre = os.path.join(BASE, "img3", "pre")
    full = os.path.join(BASE, "img3", "full")
    r = rt("checkpoint", "--pre-dump", "--image-path", pre, "c3")
    check("checkpoint --pre-dump exits 0 and leaves it running",
          r.returncode == 0 and (state("c3") or {}).get("status") == "running", r.stderr.strip())
    r = rt("checkpoint", "--image-path", full, "--parent-path", "../pre", "c3")
    check("checkpoint --parent-path on the pre-dump exits 0", r.returncode == 0, r.stderr.strip())
    at_dump = count(b)
    r = rt_files("restore", "-d", "--bundle", b.path, "--image-path", full, "c3")
    check("restore of an incremental checkpoint exits 0", r.returncode == 0, r.stderr.strip())
    check("the counter continues after an incremental checkpoint",
          count(b) >= at_dump and wait_count(b, at_dump + 2) > at_dump + 2,
          f"{at_dump} -> {count(b)}")
    cleanup("c3")


def test_bad_image_path():
    b = counter_bundle("c4")
    start(b, "c4")
    r = rt("checkpoint", "--image-path", "/etc/hostname/img", "c4")
    ok, why = one_line_error(r)
    check("checkpoint with a bad --image-path: a one-line error", ok, why)
    check("the error names the path", "/etc/hostname/img" in r.stderr, r.stderr.strip())
    st = state("c4")
    check("after the bad --image-path the container still runs",
          st is not None and st["status"] == "running")
    cleanup("c4")

    missing = os.path.join(BASE, "no-such-image")
    r = rt_files("restore", "-d", "--bundle", b.path, "--image-path", missing, "c4")
    ok, why = one_line_error(r)
    check("restore from a missing --image-path: a one-line error", ok, why)
    check("restore failure leaves no state, cgroup or image dir",
          state("c4") is None and not os.path.exists(os.path.join(STATE, "c4"))
          and not os.path.exists(cgroup_dir("c4")) and not os.path.exists(missing))
    r = rt("checkpoint", "--manage-cgroups-mode", "bogus", "--image-path",
           os.path.join(BASE, "img5"), "c4")
    ok, why = one_line_error(r)
    check("checkpoint with a bad --manage-cgroups-mode: a one-line error",
          ok and not os.path.exists(os.path.join(BASE, "img5")), why)


def test_restore_attached():
    """restore without --detach waits like `run`: the container's exit status, then gone."""
    b = counter_bundle("c5")
    start(b, "c5")
    img = os.path.join(BASE, "img5a")
    r = rt("checkpoint", "--image-path", img, "c5")
    if not check("checkpoint (for the attached restore) exits 0", r.returncode == 0, r.stderr.strip()):
        return cleanup("c5")
    at_dump = count(b)
    with open(os.devnull) as null, open(os.path.join(BASE, "c5.rout"), "w+") as out:
        p = subprocess.Popen([RUNTIME, "--root", STATE, "restore", "--bundle", b.path,
                              "--image-path", img, "c5"], stdin=null, stdout=out, stderr=out)
        end = time.time() + 60
        while time.time() < end and (state("c5") or {}).get("status") != "running":
            time.sleep(0.1)
        later = wait_count(b, at_dump + 2)
        check("attached restore: running and counting on", later > at_dump + 2, f"{at_dump} -> {later}")
        rt("kill", "c5", "KILL")
        try:
            rc = p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            rc = None
        out.seek(0)
        check("attached restore returns the container's status (137 for SIGKILL)", rc == 137,
              f"rc={rc} output={out.read()!r}")
    check("attached restore deleted the container afterwards",
          state("c5") is None and not os.path.exists(cgroup_dir("c5")))
    cleanup("c5")


def main():
    if os.geteuid() != 0 or os.environ.get("WARD_VM") != "1":
        print("criu suite: runs as root in the ward-vm guest only", file=sys.stderr)
        return 2
    chk = subprocess.run(["criu", "check"], capture_output=True, text=True)
    if chk.returncode != 0:
        print(f"criu suite: `criu check` fails in the guest: {chk.stdout}{chk.stderr}", file=sys.stderr)
        return 2
    # The features document must say checkpoint works here (and the host run says it does not).
    feats = json.loads(subprocess.run([RUNTIME, "features"], capture_output=True, text=True).stdout)
    ann = feats.get("annotations", {})
    if "runc" not in os.path.basename(RUNTIME):
        check("features: checkpoint/restore available in the guest",
              ann.get("io.github.ward.checkpoint") == "true", ann)
    for t in (test_counter_continues, test_leave_running, test_pre_dump, test_bad_image_path,
              test_restore_attached):
        try:
            t()
        except Exception as e:  # a crash of one test is a failure, the rest still run
            check(t.__name__, False, repr(e))
    print(f"{passed} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
