"""runc-compatible behaviour of the command line (issue 15): what a runc user or a client built
for runc (containerd's shim, conmon) observes must be the same under ward. Every test here
passes against runc 1.1.5 (WARD_RUNTIME=/usr/sbin/runc) except those marked ward_only, which
check ward's own wording or a point where the runtime-spec overrides runc."""

import json
import os
import subprocess
import threading
import time

import pytest

import harness
from cgv1_lib import CG, make_ctrs, read, sh, wait_for
from conftest import one_line_error


@pytest.fixture
def ctrs(env):
    yield from make_ctrs(env)


@pytest.fixture
def running(ctrs):
    return ctrs(sh("exec sleep 600"), name="run").start()


# ---- kill ----------------------------------------------------------------------------------

def test_kill_signal_0_probes_liveness(running, env):
    """Item 24: `kill ID 0` sends nothing and succeeds while the container runs."""
    r = env.rt.run("kill", running.id, "0")
    assert r.returncode == 0, r.stderr
    assert running.status() == "running"
    assert env.rt.run("kill", running.id, "KILL").returncode == 0
    wait_for(lambda: running.status() == "stopped", 10)
    r = env.rt.run("kill", running.id, "0")
    assert r.returncode != 0, "signal 0 to a stopped container must fail"


# ---- exec ----------------------------------------------------------------------------------

def test_exec_own_failures_exit_255(running, env):
    """Item 19: exec's own failures exit 255, the process's status passes through unchanged."""
    assert running.exec(running.id, "/bin/sh", "-c", "exit 1").returncode == 1
    assert running.exec(running.id, "/bin/sh", "-c", "exit 255").returncode == 255
    for args in ([running.id, "/no/such/binary"],
                 ["no-such-container", "/bin/true"],
                 ["--pid-file", "/nonexistent-dir/x.pid", running.id, "/bin/true"]):
        r = running.exec(*args)
        assert r.returncode == 255, (args, r.returncode, r.stderr)
    assert env.rt.run("pause", running.id).returncode == 0
    r = running.exec(running.id, "/bin/true")
    assert r.returncode == 255
    assert "cannot exec in a paused container" in r.stderr
    assert env.rt.run("resume", running.id).returncode == 0


def test_exec_stopped_container_exit_255(ctrs, env):
    c = ctrs(["/bin/true"], name="done").start()
    wait_for(lambda: c.status() == "stopped", 10)
    r = c.exec(c.id, "/bin/true")
    assert r.returncode == 255
    assert "cannot exec in a stopped container" in r.stderr


def test_exec_ignore_paused_runs_after_resume(running, env):
    """Item 20: --ignore-paused execs into a paused container; the process runs once resumed."""
    assert env.rt.run("pause", running.id).returncode == 0
    p = env.rt.popen("exec", "--ignore-paused", running.id, "/bin/echo", "ran", text=True)
    time.sleep(1.0)
    assert p.poll() is None, "the exec'd process must stay frozen while the container is paused"
    assert env.rt.run("resume", running.id).returncode == 0
    out, err = p.communicate(timeout=20)
    assert p.returncode == 0, err
    assert out.strip() == "ran"


def cgroup_lines(text):
    out = {}
    for line in text.splitlines():
        _, ctrls, path = line.split(":", 2)
        for c in ctrls.split(","):
            out[c] = path
    return out


def test_exec_cgroup_sub_cgroups(running, env):
    """Item 20: --cgroup ctrl:path (repeatable, comma lists) joins existing sub-cgroups."""
    base = running.cgpath
    for ctrl in ("memory", "pids"):
        os.mkdir(os.path.join(running.cgdir(ctrl), "sub"))
    r = running.exec("--cgroup", "memory:sub", running.id, "/bin/cat", "/proc/self/cgroup")
    assert r.returncode == 0, r.stderr
    cg = cgroup_lines(r.stdout)
    assert cg["memory"] == base + "/sub" and cg["pids"] == base
    r = running.exec("--cgroup", "memory:sub", "--cgroup", "pids:sub", running.id,
                     "/bin/cat", "/proc/self/cgroup")
    assert r.returncode == 0, r.stderr
    cg = cgroup_lines(r.stdout)
    assert cg["memory"] == base + "/sub" and cg["pids"] == base + "/sub"
    r = running.exec("--cgroup", "memory,pids:sub", running.id, "/bin/cat", "/proc/self/cgroup")
    assert r.returncode == 0, r.stderr
    cg = cgroup_lines(r.stdout)
    assert cg["memory"] == base + "/sub" and cg["pids"] == base + "/sub"


@pytest.mark.parametrize("arg", ["memory:../escape", "memory:nosub", "bogus:sub", "a:b:c",
                                 "sub-missing-everywhere"])
def test_exec_cgroup_refused(running, env, arg):
    r = running.exec("--cgroup", arg, running.id, "/bin/true")
    assert r.returncode == 255, (r.returncode, r.stderr)
    assert not os.path.exists(os.path.join(running.cgdir("memory"), "..", "escape"))
    # the container is unharmed and its cgroup holds only its init
    assert running.status() == "running"
    assert len(running.procs("memory")) == 1


# ---- ps ------------------------------------------------------------------------------------

def test_ps_passes_options_after_id_to_ps(running, env):
    """Item 25: `ps ID -e -x` runs ps(1) with `-e -x` (no `--` needed)."""
    r = env.rt.run("ps", running.id, "-e", "-x")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split()[:2] == ["PID", "TTY"], lines[0]
    assert len(lines) == 2 and "sleep 600" in lines[1]
    r = env.rt.run("ps", running.id, "-o", "pid,comm")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["PID", "COMMAND", str(running.pid()), "sleep"]


# ---- --log ---------------------------------------------------------------------------------

@pytest.mark.parametrize("log", ["/nonexistent-dir/x.log", "invalid:/path"])
def test_log_that_cannot_be_opened_fails(running, env, log):
    """Item 13: a --log that cannot be opened is an error, whatever the command."""
    r = subprocess.run([env.rt.binary, "--root", env.rt.root, "--log", log, "state", running.id],
                       capture_output=True, text=True, cwd=env.dir, timeout=30)
    assert r.returncode != 0
    assert "no such file or directory" in r.stderr.lower()
    assert not os.path.exists(os.path.join(env.dir, "invalid:"))


# ---- hooks ---------------------------------------------------------------------------------

def hook_sh(script):
    return {"path": "/bin/sh", "args": ["sh", "-c", script]}


def test_hooks_run_in_bundle_dir(ctrs, env):
    """Item 23: prestart, createRuntime and poststart run in the bundle directory."""
    c = ctrs(sh("exec sleep 600"), name="hooks")
    out = env.path("hookout")
    os.makedirs(out)
    c.config["hooks"] = {
        ph: [hook_sh(f"pwd > {out}/{ph}.cwd")] for ph in ("prestart", "createRuntime", "poststart")
    }
    c.start()
    for ph in ("prestart", "createRuntime", "poststart"):
        assert wait_for(lambda: read(f"{out}/{ph}.cwd", "").strip(), 10) == c.b.path, ph


@pytest.mark.ward_only
def test_poststop_failures_warn_and_the_rest_run_in_bundle_dir(ctrs, env):
    """Item 3 (and 23): a failing poststop hook is a warning and the later ones still run
    (runtime-spec config.md; runc 1.1.5 stops at the first failure); poststop runs in the
    bundle directory for `delete` as for `run` (runc 1.1.5: only for `run`)."""
    c = ctrs(["/bin/true"], name="poststop")
    out = env.path("poststop-out")
    os.makedirs(out)
    c.config["hooks"] = {"poststop": [hook_sh(f"pwd > {out}/first; exit 1"),
                                      hook_sh(f"pwd > {out}/second"),
                                      hook_sh("exit 7"),
                                      hook_sh(f"echo ran > {out}/fourth")]}
    c.start()
    wait_for(lambda: c.status() == "stopped", 10)
    r = env.rt.run("delete", c.id)
    assert r.returncode == 0, r.stderr
    assert c.state() is None
    assert read(f"{out}/first").strip() == c.b.path
    assert read(f"{out}/second").strip() == c.b.path
    assert read(f"{out}/fourth").strip() == "ran"
    warnings = [l for l in r.stderr.splitlines() if l.strip()]
    assert len(warnings) == 2 and "poststop hook #0" in warnings[0] and "poststop hook #2" in warnings[1]


@pytest.mark.ward_only
def test_hooks_before_start_see_status_created(ctrs, env):
    """Item 16: runtime-spec 1.2 puts prestart/createRuntime/createContainer after lifecycle
    step 2, so they see "created" (runc 1.1 says "creating"; conformance/DIFFERENCES.md)."""
    c = ctrs(["/bin/true"], name="hookstate")
    out = env.path("hookstate-out")
    os.makedirs(out)
    c.config["hooks"] = {ph: [hook_sh(f"cat > {out}/{ph}.json")]
                         for ph in ("prestart", "createRuntime", "createContainer", "poststart",
                                    "poststop")}
    c.start()
    wait_for(lambda: c.status() == "stopped", 10)
    assert env.rt.run("delete", c.id).returncode == 0
    status = {ph: json.loads(read(f"{out}/{ph}.json"))["status"]
              for ph in ("prestart", "createRuntime", "createContainer", "poststart", "poststop")}
    assert status == {"prestart": "created", "createRuntime": "created",
                      "createContainer": "created", "poststart": "running", "poststop": "stopped"}


# ---- list / delete -------------------------------------------------------------------------

def test_list_json_owner_matches_table(running, env):
    """Item 31: `list --format json` names the owner as the table does ("root")."""
    r = env.rt.run("list", "--format", "json")
    assert r.returncode == 0, r.stderr
    (entry,) = [e for e in json.loads(r.stdout) if e["id"] == running.id]
    assert entry["owner"] == "root"
    table = env.rt.run("list").stdout.splitlines()
    (row,) = [l for l in table if l.startswith(running.id + " ")]
    assert row.split()[-1] == "root"


@pytest.mark.ward_only
def test_list_shows_corrupt_state_as_unknown(running, env):
    """Item 18: a container whose state.json cannot be parsed is listed (status unknown) and
    the reason is given on stderr; the others are listed as usual."""
    bad = os.path.join(env.rt.root, "corrupt-one")
    os.makedirs(bad)
    with open(os.path.join(bad, "state.json"), "w") as f:
        f.write('{"id": ')
    try:
        r = env.rt.run("list", "--format", "json")
        assert r.returncode == 0, r.stderr
        got = {e["id"]: e["status"] for e in json.loads(r.stdout)}
        assert got == {running.id: "running", "corrupt-one": "unknown"}
        line = one_line_error(r.stderr)
        assert "corrupt-one" in line and "state.json" in line
        r = env.rt.run("list")
        assert any(l.split()[:3] == ["corrupt-one", "0", "unknown"] for l in r.stdout.splitlines())
    finally:
        assert env.rt.run("delete", "--force", "corrupt-one").returncode == 0
    assert not os.path.exists(bad)


def test_delete_stopped_container_sharing_cgroup_with_running_one(ctrs, env):
    """Item 31: two containers in one cgroupsPath; deleting the stopped one warns, exits 0
    and removes its state, and the running one is untouched."""
    a = ctrs(sh("exec sleep 600"), name="share-a").start()
    b = ctrs(["/bin/true"], name="share-b")
    b.config["linux"]["cgroupsPath"] = a.cgpath
    b.start()
    wait_for(lambda: b.status() == "stopped", 10)
    r = env.rt.run("delete", b.id)
    assert r.returncode == 0, r.stderr
    assert b.state() is None
    assert a.status() == "running"
    assert os.path.isdir(a.cgdir("memory"))


# ---- configs that cannot be applied --------------------------------------------------------

def _bind(opts, **kw):
    return dict({"destination": "/mnt", "type": "bind", "source": "/tmp", "options": opts}, **kw)


UNAPPLIABLE = {
    # item 4: no net_cls/net_prio on this host (cgroup v1 without them, cgroup v2)
    "net-classid": lambda c: c["linux"]["resources"].update(network={"classID": 1048577}),
    "net-priorities": lambda c: c["linux"]["resources"].update(
        network={"priorities": [{"name": "lo", "priority": 1}]}),
    "intel-rdt": lambda c: c["linux"].update(intelRdt={"closID": "w", "l3CacheSchema": "L3:0=f"}),
    "hugepage-size-path": lambda c: c["linux"]["resources"].update(
        hugepageLimits=[{"pageSize": "../2MB", "limit": 2097152}]),
    # item 12
    "sysctl-hostname": lambda c: c["linux"].update(sysctl={"kernel.hostname": "x"}),
    "sysctl-domainname": lambda c: c["linux"].update(sysctl={"kernel.domainname": "x"}),
    # item 4: idmapped mounts (ward refuses them until it implements them)
    "idmap-option": lambda c: c["mounts"].append(_bind(["rbind", "idmap"])),
    "mount-mappings": lambda c: c["mounts"].append(_bind(
        ["rbind"], uidMappings=[{"containerID": 0, "hostID": 1000, "size": 1}],
        gidMappings=[{"containerID": 0, "hostID": 1000, "size": 1}])),
}


@pytest.mark.parametrize("case", sorted(UNAPPLIABLE))
@pytest.mark.parametrize("cmd", ["create", "run"])
def test_config_that_cannot_be_applied_creates_nothing(env, case, cmd):
    """runtime.md: a property the runtime cannot apply MUST be an error and no container is
    created (the env fixture checks that no state, cgroup, mount or process is left)."""
    if case.startswith("net-") and any(os.path.isdir(os.path.join(CG, c)) for c in
                                       ("net_cls", "net_prio", "net_cls,net_prio")):
        pytest.skip("this host has net_cls/net_prio")
    if case.startswith(("idmap", "mount-mappings")) and not env.s["version"].startswith("ward"):
        pytest.skip("runc 1.1.5 predates idmapped mounts")
    if case == "sysctl-domainname" and not env.s["version"].startswith("ward"):
        pytest.skip("runc 1.1.5 predates the domainname field and allows kernel.domainname")
    b = env.bundle(["/bin/true"])
    UNAPPLIABLE[case](b.config)
    b.write()
    cid = env.cid()
    rc, _, err = env.detached(cmd, "--bundle", b.path, cid)
    assert rc != 0, f"{case}: {cmd} succeeded"
    assert err.strip()
    assert env.rt.state(cid) is None


# ---- spec / exec --process -----------------------------------------------------------------

def test_spec_cgroup_namespace_only_on_cgroup_v2(env):
    """Item 30: `spec` adds a cgroup namespace only where /sys/fs/cgroup is cgroup2."""
    d = env.path("spec")
    os.makedirs(d)
    r = subprocess.run([env.rt.binary, "spec"], cwd=d, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    with open(os.path.join(d, "config.json")) as f:
        types = [n["type"] for n in json.load(f)["linux"]["namespaces"]]
    unified = os.path.exists("/sys/fs/cgroup/cgroup.controllers")
    assert ("cgroup" in types) == unified, types
    assert {"pid", "network", "ipc", "uts", "mount"} <= set(types)


def test_exec_process_file_without_user_runs_as_root(running, env):
    """Item 28: a process.json without "user" runs as 0:0."""
    pf = env.path("process.json")
    with open(pf, "w") as f:
        json.dump({"args": ["/bin/id"], "cwd": "/", "env": ["PATH=/bin"]}, f)
    r = running.exec("--process", pf, running.id)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[:2] == ["uid=0(root)", "gid=0(root)"]


# ---- update --------------------------------------------------------------------------------

def test_update_memory_minus_one_lifts_memory_and_swap(ctrs, env):
    """Item 29: on cgroup v1 with a swap limit set, `update --memory -1` lifts both limits."""
    c = ctrs(sh("exec sleep 600"), name="mem")
    if not os.path.exists(os.path.join(CG, "memory", "memory.memsw.limit_in_bytes")):
        pytest.skip("no cgroup v1 memory controller with swap accounting")
    c.resources["memory"] = {"limit": 64 << 20, "swap": 128 << 20}
    c.start()
    assert int(c.cg("memory", "memory.memsw.limit_in_bytes")) == 128 << 20
    r = env.rt.run("update", "--memory", "-1", c.id)
    assert r.returncode == 0, r.stderr
    unlimited = int(read(os.path.join(CG, "memory", "memory.limit_in_bytes")))
    assert int(c.cg("memory", "memory.limit_in_bytes")) == unlimited
    assert int(c.cg("memory", "memory.memsw.limit_in_bytes")) == unlimited


# ---- frozen cgroup -------------------------------------------------------------------------

@pytest.mark.parametrize("cmd", ["create", "run"])
def test_create_in_a_frozen_cgroup_fails_at_once(env, cmd):
    """Item 21: a cgroupsPath that exists and is frozen makes create fail at once with runc's
    message, leaving no state and no process (the frozen cgroup itself was not ours)."""
    b = env.bundle(["/bin/true"])
    b.write()
    freezer = os.path.join(CG, "freezer", b.cgroups_path.lstrip("/"))
    if not os.path.isdir(os.path.join(CG, "freezer")):
        pytest.skip("no cgroup v1 freezer on this host")
    os.makedirs(freezer)
    try:
        with open(os.path.join(freezer, "freezer.state"), "w") as f:
            f.write("FROZEN")
        assert wait_for(lambda: read(os.path.join(freezer, "freezer.state")).strip() == "FROZEN", 5)
        cid = env.cid()
        t0 = time.time()
        rc, _, err = env.detached(cmd, "--bundle", b.path, cid)
        assert rc != 0
        assert time.time() - t0 < 10
        assert "container's cgroup unexpectedly frozen" in err
        assert env.rt.state(cid) is None
    finally:
        if os.path.isdir(freezer):
            with open(os.path.join(freezer, "freezer.state"), "w") as f:
                f.write("THAWED")
            os.rmdir(freezer)
