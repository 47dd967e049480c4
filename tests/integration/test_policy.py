"""ward's own security policy (--policy, ward-NAME): a violation is refused at create before
anything exists, audit and warn run and record, harden's changes are seen inside the
container, exec is held to the decision stored with the container, and `ward policy
check|show`. The messages are ward's own wording."""

import copy
import json
import os
import time

import harness

import pytest

from conftest import REPO, one_line_error, probe_report

pytestmark = pytest.mark.ward_only

with open(os.path.join(REPO, "profiles", "seccomp", "default.json")) as f:
    DEFAULT_SECCOMP = json.load(f)
NBS = ["CAP_NET_BIND_SERVICE"]
SLEEP = ["/probe", "sleep", "1000"]


def restricted_bundle(env, args=("/probe",)):
    """A bundle that meets PSS restricted: non-root, only CAP_NET_BIND_SERVICE, noNewPrivileges,
    ward's default seccomp profile, its own namespaces, default masked/read-only paths."""
    b = env.bundle(args)
    p = b.config["process"]
    p["user"] = {"uid": 1000, "gid": 1000}
    p["capabilities"] = {k: list(NBS) for k in ("bounding", "effective", "permitted", "ambient")}
    p["noNewPrivileges"] = True
    b.config["linux"]["seccomp"] = copy.deepcopy(DEFAULT_SECCOMP)
    return b


def status(rep, key):
    return rep["status"][key]


def test_conforming_container_runs_and_state_records_allow(env):
    b = restricted_bundle(env).write()
    rc, out, err = env.detached("--policy", "restricted", "run", "--bundle", b.path, env.cid())
    assert rc == 0, err
    rep = probe_report(out)
    assert rep["uid"] == 1000
    assert status(rep, "Seccomp") == "2"
    assert status(rep, "NoNewPrivs") == "1"


def _root(c):
    c["process"]["user"] = {"uid": 0, "gid": 0}


def _cap(c):
    c["process"]["capabilities"]["bounding"].append("CAP_SYS_ADMIN")


def _nnp(c):
    c["process"]["noNewPrivileges"] = False


def _seccomp(c):
    del c["linux"]["seccomp"]


def _unconfined(c):
    c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW"}


def _hostnet(c):
    c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "network"]


def _hostpid_path(c):
    for n in c["linux"]["namespaces"]:
        if n["type"] == "pid":
            n["path"] = f"/proc/{os.getpid()}/ns/pid"  # this test's, i.e. the host's


def _hostpath(c):
    c["mounts"].append({"destination": "/host-etc", "type": "bind", "source": "/etc",
                        "options": ["rbind", "ro"]})


def _sysctl(c):
    c["linux"]["sysctl"] = {"kernel.msgmax": "8192"}


def _masked(c):
    c["linux"]["maskedPaths"] = []


def _device(c):
    c["linux"]["devices"] = [{"path": "/dev/sda-x", "type": "b", "major": 8, "minor": 0}]


def _alldevs(c):
    c["linux"]["resources"]["devices"] = [{"allow": True, "access": "rwm"}]


VIOLATIONS = {
    "root": (_root, "policy restricted: process.user.uid: runs as uid 0; restricted requires a non-root user"),
    "cap-sys-admin": (_cap, "policy restricted: process.capabilities.bounding[1]: adds CAP_SYS_ADMIN; restricted allows only CAP_NET_BIND_SERVICE"),
    "privilege-escalation": (_nnp, "policy restricted: process.noNewPrivileges: is false; restricted requires noNewPrivileges (allowPrivilegeEscalation: false)"),
    "no-seccomp": (_seccomp, "policy restricted: linux.seccomp: not set (Unconfined); restricted requires a seccomp profile (RuntimeDefault or Localhost)"),
    "seccomp-allow": (_unconfined, "policy restricted: linux.seccomp.defaultAction: is SCMP_ACT_ALLOW; restricted requires a seccomp profile whose default action is not SCMP_ACT_ALLOW"),
    "host-network": (_hostnet, "policy restricted: linux.namespaces: no network namespace, so it shares the host's; restricted requires its own or the pod's network namespace"),
    "host-pid-by-path": (_hostpid_path, "policy restricted: linux.namespaces[0].path: joins the host's pid namespace (\"/proc/%d/ns/pid\"); restricted requires its own or the pod's pid namespace" % os.getpid()),
    "host-path": (_hostpath, "policy restricted: mounts[7].source: bind-mounts host path /etc; restricted allows bind mounts only from /var/lib/kubelet/pods, /var/lib/containerd, /run/containerd"),
    "unsafe-sysctl": (_sysctl, "policy restricted: linux.sysctl[\"kernel.msgmax\"]: is not a safe sysctl; restricted allows only the Pod Security safe sysctls and the policy's allowedSysctls"),
    "unmasked-proc": (_masked, "policy restricted: linux.maskedPaths: does not mask /proc/acpi, /proc/asound, /proc/kcore, /proc/keys, /proc/latency_stats, /proc/timer_list, /proc/timer_stats, /proc/sched_debug, /sys/firmware, /proc/scsi; restricted requires the default masked paths (procMount Default)"),
    "host-device": (_device, "policy restricted: linux.devices[0]: host device /dev/sda-x (8:0); restricted allows only the default devices and the policy's allowedDevices"),
    "all-devices": (_alldevs, "policy restricted: linux.resources.devices[0]: allows rwm access to every device; restricted allows only the default devices and the policy's allowedDevices"),
}


@pytest.mark.parametrize("cmd", ["create", "run"])
@pytest.mark.parametrize("name", list(VIOLATIONS))
def test_violation_refused_before_anything_exists(env, name, cmd):
    mutate, msg = VIOLATIONS[name]
    b = restricted_bundle(env, SLEEP)
    mutate(b.config)
    b.write()
    cid = env.cid()
    rc, _, err = env.detached("--policy", "restricted", cmd, "--bundle", b.path, cid)
    assert rc == 1
    assert one_line_error(err) == "ward: " + msg
    assert not os.path.exists(os.path.join(env.rt.root, cid))
    # Without the policy the same bundle is created (the env fixture checks nothing is left).
    if name not in ("host-pid-by-path", "host-device", "unsafe-sysctl"):
        rc, _, err = env.detached("create", "--bundle", b.path, cid)
        assert rc == 0, err
        assert env.rt.run("delete", "--force", cid).returncode == 0


def test_refusal_goes_to_the_json_log_as_one_error(env):
    b = restricted_bundle(env)
    _root(b.config)
    b.write()
    log = env.path("log.json")
    rc, _, _ = env.detached("--log", log, "--log-format", "json", "--policy", "restricted",
                            "create", "--bundle", b.path, env.cid())
    assert rc == 1
    lines = [json.loads(l) for l in open(log) if l.strip()]
    errors = [l for l in lines if l["level"] == "error"]
    assert [e["msg"] for e in errors] == [VIOLATIONS["root"][1]]


@pytest.mark.parametrize("mode", ["audit", "warn"])
def test_audit_and_warn_run_and_record(env, mode):
    pol = env.path(f"{mode}.json")
    with open(pol, "w") as f:
        json.dump({"name": f"restricted-{mode}", "level": "restricted", "mode": mode}, f)
    b = restricted_bundle(env, SLEEP)
    _root(b.config)
    _nnp(b.config)
    b.write()
    cid = env.cid()
    log = env.path("log.json")
    rc, _, err = env.detached("--log", log, "--log-format", "json", "--policy", pol, "create",
                              "--bundle", b.path, cid)
    assert rc == 0, err
    try:
        lines = [json.loads(l) for l in open(log) if l.strip()]
        want_level = "warning" if mode == "warn" else "info"
        got = [(l["level"], l["msg"]) for l in lines if "policy restricted-" in l["msg"]]
        assert got == [
            (want_level, f"policy restricted-{mode}: process.noNewPrivileges: is false; restricted "
                         f"requires noNewPrivileges (allowPrivilegeEscalation: false) ({mode}: the "
                         "container runs anyway)"),
            (want_level, f"policy restricted-{mode}: process.user.uid: runs as uid 0; restricted "
                         f"requires a non-root user ({mode}: the container runs anyway)")], lines
        st = env.rt.state(cid)
        assert st["status"] == "created"
        p = st["policy"]
        assert p["policy"] == f"restricted-{mode}" and p["mode"] == mode
        assert p["decision"] == "audit"
        assert [(v["rule"], v["path"]) for v in p["violations"]] == [
            ("no-new-privileges", "process.noNewPrivileges"), ("non-root", "process.user.uid")]
    finally:
        env.rt.run("delete", "--force", cid)


def test_harden_changes_are_seen_inside_the_container(env):
    b = restricted_bundle(env)
    p = b.config["process"]
    _seccomp(b.config)
    _nnp(b.config)
    p["capabilities"] = {k: ["CAP_NET_BIND_SERVICE", "CAP_SYS_ADMIN", "CAP_NET_RAW"]
                         for k in ("bounding", "effective", "permitted", "inheritable", "ambient")}
    b.config["linux"]["maskedPaths"] = ["/proc/kcore"]
    pol = env.path("harden.json")
    with open(pol, "w") as f:
        json.dump({"name": "hardened", "level": "restricted", "mode": "harden"}, f)
    b.write()
    # Unhardened, the probe sees what the config asked for.
    rc, out, err = env.detached("run", "--bundle", b.path, env.cid())
    assert rc == 0, err
    rep = probe_report(out)
    assert (status(rep, "Seccomp"), status(rep, "NoNewPrivs")) == ("0", "0")
    assert int(status(rep, "CapEff"), 16) == (1 << 10) | (1 << 21) | (1 << 13)
    cid = env.cid()
    rc, out, err = env.detached("--policy", pol, "run", "--keep", "--bundle", b.path, cid)
    assert rc == 0, err
    try:
        rep = probe_report(out)
        assert status(rep, "Seccomp") == "2"
        assert status(rep, "NoNewPrivs") == "1"
        for k in ("CapEff", "CapPrm", "CapBnd", "CapAmb", "CapInh"):
            assert int(status(rep, k), 16) == 1 << 10, (k, rep["status"])
        st = env.rt.state(cid)
        assert st["policy"]["decision"] == "hardened"
        changes = {(c["rule"], c["path"]) for c in st["policy"]["changes"]}
        assert {("seccomp", "linux.seccomp"), ("no-new-privileges", "process.noNewPrivileges"),
                ("masked-paths", "linux.maskedPaths"),
                ("capabilities", "process.capabilities.bounding")} <= changes
    finally:
        env.rt.run("delete", "--force", cid)


def test_harden_still_refuses_what_it_cannot_fix(env):
    b = restricted_bundle(env)
    _root(b.config)
    b.write()
    pol = env.path("harden.json")
    with open(pol, "w") as f:
        json.dump({"level": "restricted", "mode": "harden"}, f)
    cid = env.cid()
    rc, _, err = env.detached("--policy", pol, "create", "--bundle", b.path, cid)
    assert rc == 1
    assert one_line_error(err) == "ward: " + VIOLATIONS["root"][1]


def test_exec_is_held_to_the_stored_policy(env):
    b = restricted_bundle(env, SLEEP).write()
    cid = env.cid()
    rc, _, err = env.detached("--policy", "restricted", "run", "-d", "--bundle", b.path, cid)
    assert rc == 0, err
    try:
        st = env.rt.state(cid)
        assert st["policy"]["policy"] == "restricted" and st["policy"]["decision"] == "allow"
        # No --policy on exec: the decision stored with the container applies.
        p = env.rt.run("exec", cid, "/probe")
        assert p.returncode == 0, p.stderr
        assert probe_report(p.stdout)["uid"] == 1000
        p = env.rt.run("exec", "-u", "0", cid, "/probe")
        assert p.returncode == 255  # exec's own failure, as runc
        assert one_line_error(p) == "ward: exec: " + VIOLATIONS["root"][1]
        p = env.rt.run("exec", "--cap", "CAP_SYS_ADMIN", cid, "/probe")
        assert p.returncode == 255
        assert one_line_error(p) == ("ward: exec: policy restricted: process.capabilities.bounding[1]: "
                                     "adds CAP_SYS_ADMIN; restricted allows only CAP_NET_BIND_SERVICE; "
                                     "and 2 more (ward policy check --bundle)")
        proc = env.path("proc.json")
        with open(proc, "w") as f:
            json.dump({"args": ["/probe"], "cwd": "/", "user": {"uid": 1000, "gid": 1000},
                       "noNewPrivileges": False}, f)  # no capabilities: ward gives none
        p = env.rt.run("exec", "--process", proc, cid)
        assert p.returncode == 255
        assert one_line_error(p) == "ward: exec: " + VIOLATIONS["privilege-escalation"][1]
    finally:
        env.rt.run("delete", "--force", cid)


def test_binary_named_ward_restricted_selects_the_policy(env):
    link = env.path("ward-restricted")
    os.symlink(env.rt.binary, link)
    b = restricted_bundle(env)
    _root(b.config)
    b.write()
    cid = env.cid()
    rc, _, err = env.detached("create", "--bundle", b.path, cid)  # plain ward: no policy
    assert rc == 0, err
    env.rt.run("delete", "--force", cid)
    env.rt.binary = link
    try:
        rc, _, err = env.detached("create", "--bundle", b.path, cid)
        assert rc == 1
        assert one_line_error(err) == "ward: " + VIOLATIONS["root"][1]
        feats = json.loads(env.rt.run("features").stdout)["annotations"]
        assert feats["io.github.ward.policy"] == "restricted"
        assert feats["io.github.ward.policy.mode"] == "enforce"
        # An explicit --policy still wins over the name.
        rc, _, err = env.detached("--policy", "privileged", "create", "--bundle", b.path, cid)
        assert rc == 0, err
        assert env.rt.state(cid)["policy"]["policy"] == "privileged"
    finally:
        env.rt.run("delete", "--force", cid)


def test_named_policy_is_looked_up_in_ward_policy_path(env):
    d = env.path("policies")
    os.makedirs(d)
    with open(os.path.join(d, "restricted.json"), "w") as f:
        json.dump({"name": "site-restricted", "level": "restricted", "mode": "enforce"}, f)
    b = restricted_bundle(env)
    _root(b.config)
    b.write()
    os.environ["WARD_POLICY_PATH"] = d
    try:
        rc, _, err = env.detached("--policy", "restricted", "create", "--bundle", b.path, env.cid())
        shown = json.loads(env.rt.run("policy", "show", "restricted").stdout)
    finally:
        del os.environ["WARD_POLICY_PATH"]
    assert rc == 1
    assert one_line_error(err).startswith("ward: policy site-restricted: process.user.uid: ")
    assert shown["name"] == "site-restricted"


def test_ward_restricted_level_needs_limits_and_denies_high_risk_syscalls(env):
    b = restricted_bundle(env)
    b.write()
    rc, _, err = env.detached("--policy", "ward-restricted", "create", "--bundle", b.path, env.cid())
    assert rc == 1
    assert one_line_error(err) == ("ward: policy ward-restricted: linux.resources.memory.limit: not set; "
                                   "ward-restricted requires a memory limit; and 1 more (ward policy check --bundle)")
    b.config["linux"]["resources"]["memory"] = {"limit": 64 << 20}
    b.config["linux"]["resources"]["pids"] = {"limit": 64}
    b.config["linux"]["seccomp"]["syscalls"].append({"names": ["unshare"], "action": "SCMP_ACT_ALLOW"})
    b.write()
    rc, _, err = env.detached("--policy", "ward-restricted", "create", "--bundle", b.path, env.cid())
    assert rc == 1
    assert one_line_error(err) == ("ward: policy ward-restricted: linux.seccomp.syscalls[4].names[0]: allows "
                                   "unshare (SCMP_ACT_ALLOW); ward-restricted requires seccomp to deny the "
                                   "policy's deniedSyscalls")
    # harden removes it from the allow rule: unshare then fails inside the container.
    pol = env.path("wr-harden.json")
    with open(pol, "w") as f:
        json.dump({"level": "ward-restricted", "mode": "harden"}, f)
    rc, out, err = env.detached("--policy", pol, "run", "--bundle", b.path, env.cid())
    assert rc == 0, err
    assert status(probe_report(out), "Seccomp") == "2"


def test_policy_check_and_show(env):
    b = restricted_bundle(env).write()
    p = env.rt.run("policy", "check", "--policy", "restricted", "--bundle", b.path)
    assert p.returncode == 0, p.stdout + p.stderr
    lines = p.stdout.splitlines()
    assert lines[0] == f"policy restricted (level restricted, mode enforce): {b.path}/config.json"
    assert "pass  non-root           process.user.uid" in lines
    assert lines[-1] == "11 rules checked, 0 violations"
    _root(b.config)
    _hostpath(b.config)
    b.write()
    p = env.rt.run("--policy", "restricted", "policy", "check", "--bundle", b.path)
    assert p.returncode == 1
    assert "FAIL  non-root           " + VIOLATIONS["root"][1] in p.stdout.splitlines()
    assert "FAIL  host-paths         " + VIOLATIONS["host-path"][1] in p.stdout.splitlines()
    assert p.stdout.splitlines()[-1] == "11 rules checked, 2 violations"
    show = json.loads(env.rt.run("policy", "show", "ward-restricted").stdout)
    assert show["level"] == "ward-restricted" and show["mode"] == "enforce"
    assert "unshare" in show["deniedSyscalls"] and "bpf" in show["deniedSyscalls"]
    assert show["allowedHostPaths"] == ["/var/lib/kubelet/pods", "/var/lib/containerd", "/run/containerd"]
    p = env.rt.run("policy", "show", "nope")
    assert p.returncode == 1
    assert one_line_error(p).startswith('ward: policy "nope": not found in ')


def test_delete_kills_children_when_the_joined_pid_namespace_is_the_hosts(env):
    """A CRI hostPID pod joins its sandbox's pid namespace by path, and that is the host's:
    children of the init then outlive it, so delete must kill them (found by
    tests/containerd/test_cri_policy.py's host-pid pod under the default handler)."""
    b = env.bundle(["/bin/sh", "-c", "/probe sleep 1000 & wait"])
    for n in b.config["linux"]["namespaces"]:
        if n["type"] == "pid":
            n["path"] = f"/proc/{os.getpid()}/ns/pid"
    b.write()
    cid = env.cid()
    rc, _, err = env.detached("run", "-d", "--bundle", b.path, cid)
    assert rc == 0, err
    st = env.wait_status(cid, "running")
    def procs():
        out = set()
        for d in harness.cgroup_dirs(b.cgroups_path):
            with open(os.path.join(d, "cgroup.procs")) as f:
                out |= set(f.read().split())
        return out

    deadline = time.time() + 5
    while len(procs()) < 2 and time.time() < deadline:
        time.sleep(0.05)
    assert len(procs()) == 2, procs()
    os.kill(st["pid"], 9)
    env.wait_status(cid, "stopped")
    p = env.rt.run("delete", cid)
    assert p.returncode == 0, p.stderr
    assert not harness.cgroup_dirs(b.cgroups_path)
