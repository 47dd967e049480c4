"""The audit trail through the CLI: one record per lifecycle command, fail closed when required."""

import json
import os
import stat
import subprocess

from conftest import KUBE, read_records


def test_lifecycle_records_carry_process_pod_and_outcome(env):
    b = env.bundle(["sleep", "60"], uid=1000, annotations=KUBE)
    b.config["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": ["read", "write", "exit", "exit_group", "nanosleep", "clock_nanosleep", "rt_sigreturn",
                   "brk", "mmap", "munmap", "arch_prctl", "execve", "getpid", "rt_sigaction", "rt_sigprocmask",
                   "futex", "set_tid_address", "getuid", "geteuid", "newfstatat", "close", "openat", "fcntl",
                   "mprotect", "set_robust_list", "prlimit64", "getppid", "ioctl", "wait4", "clone",
                   "exit", "fstat", "setpgid", "getpgrp", "dup2", "getcwd", "chdir", "stat", "lstat",
                   "sigaltstack", "gettid", "tgkill", "kill", "readlink", "uname", "sysinfo"],
         "action": "SCMP_ACT_ALLOW"}]}
    b.write()
    cid = env.run_container(b, "rec")
    env.rt.run("exec", "--user", "1000:1000", cid, "true")
    env.rt.run("kill", cid, "KILL", check=True)
    env.rt.run("delete", "--force", cid, check=True)
    assert env.rt.run("start", "nope").returncode != 0
    recs = read_records(env.audit_log)
    ev = [r["event"] for r in recs]
    assert ev == ["create", "start", "exec", "exec_exit", "kill", "delete", "start"], ev
    c = recs[0]
    assert c["container_id"] == cid and c["bundle"] == b.path and c["pid"] > 0 and c["outcome"] == "ok"
    assert (c["pod"], c["namespace"], c["container"]) == ("web-1", "prod", "nginx")
    p = c["process"]
    assert p["args"] == ["sleep", "60"] and p["uid"] == 1000 and p["cwd"] == "/" and p["tty"] is False
    assert p["seccomp"] == "SCMP_ACT_ERRNO" and p["noNewPrivileges"] is True and p["apparmor"] == ""
    assert p["capabilities"]["bounding"] == ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    x = recs[2]
    assert x["outcome"] == "started" and x["process"]["args"] == ["true"] and x["process"]["uid"] == 1000
    assert recs[3]["exit_status"] is not None
    assert recs[4]["signal"] == "KILL"
    assert recs[6]["container_id"] == "nope" and recs[6]["outcome"] == 'container "nope" does not exist'


def test_unwritable_audit_log_fails_closed_when_required_and_warns_otherwise(env, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    bad_log = str(blocker / "audit.log")  # a path under a regular file: never writable
    b = env.bundle(["sleep", "60"])
    base = [env.s["binary"], "--root", env.root, "--audit-log", bad_log]
    cfg = tmp_path / "audit.json"
    cfg.write_text(json.dumps({"required": True}))
    p = subprocess.run(base + ["create", "-b", b.path, "fc"], capture_output=True, text=True, timeout=30,
                       env=dict(os.environ, WARD_AUDIT_CONFIG=str(cfg)), stdin=subprocess.DEVNULL)
    assert p.returncode != 0
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "audit required, refusing the command" in lines[0] and bad_log in lines[0], p.stderr
    assert not os.path.exists(os.path.join(env.root, "fc"))  # nothing was created
    # Not required: the command runs and one warning names the log.
    err = tmp_path / "err"
    with open(err, "w") as e:  # the created container keeps create's stderr open
        p = subprocess.run(base + ["create", "-b", b.path, "fw"], stdout=subprocess.DEVNULL, stderr=e,
                           timeout=30, env=dict(os.environ, WARD_AUDIT_CONFIG=str(tmp_path / "none.json")),
                           stdin=subprocess.DEVNULL)
    text = err.read_text()
    assert p.returncode == 0, text
    assert len(text.strip().splitlines()) == 1 and "audit" in text and bad_log in text, text
    env.rt.run("delete", "--force", "fw", check=True)


def test_policy_decisions_reach_the_audit_record(env):
    # A root process under --policy restricted is refused at create; the
    # record names the decision, the rule and the JSON path.
    bad = env.bundle(["sleep", "60"], uid=0)
    bad.write()
    p = env.rt.run("--policy", "restricted", "create", "-b", bad.path, "denied")
    assert p.returncode != 0 and p.stderr.startswith("ward: policy restricted: "), p.stderr
    recs = read_records(env.audit_log)
    deny = recs[-1]
    assert deny["event"] == "create" and deny["container_id"] == "denied" and deny["outcome"] != "ok"
    assert deny["decision"] == "deny" and deny["policy"] == "restricted" and deny["mode"] == "enforce", deny
    assert any(d["rule"] and d["path"] == "process.user.uid" for d in deny["decisions"]), deny


def test_quarantine_is_audited(env, tmp_path):
    b = env.bundle(["sleep", "60"], uid=1000)
    b.write()
    cid = env.run_container(b, "q")
    dump = str(tmp_path / "dump")
    p = env.rt.run("quarantine", "--dump", dump, cid)
    assert p.returncode == 0, p.stderr
    env.rt.run("delete", "--force", cid, check=True)
    recs = [r for r in read_records(env.audit_log) if r["event"] == "quarantine"]
    assert len(recs) == 1 and recs[0]["container_id"] == cid and recs[0]["outcome"] == "ok", recs


def test_enforcing_policy_fails_closed_on_an_unwritable_audit_log(env, tmp_path):
    # No required flag anywhere: selecting an enforcing policy is what makes
    # the audit log mandatory; a policy in audit mode only warns.
    blocker = tmp_path / "file"
    blocker.write_text("")
    bad_log = str(blocker / "audit.log")
    b = env.bundle(["sleep", "60"], uid=1000)
    b.write()
    base = [env.s["binary"], "--root", env.root, "--audit-log", bad_log]
    envv = dict(os.environ, WARD_AUDIT_CONFIG=str(tmp_path / "none.json"))
    p = subprocess.run(base + ["--policy", "restricted", "create", "-b", b.path, "pe"], capture_output=True,
                       text=True, timeout=30, env=envv, stdin=subprocess.DEVNULL)
    assert p.returncode != 0
    assert "audit required, refusing the command" in p.stderr and bad_log in p.stderr, p.stderr
    assert not os.path.exists(os.path.join(env.root, "pe"))
    pol = tmp_path / "audit-mode.json"
    pol.write_text(json.dumps({"name": "restricted-audit", "level": "restricted", "mode": "audit"}))
    err = tmp_path / "err"
    with open(err, "w") as e:
        p = subprocess.run(base + ["--policy", str(pol), "create", "-b", b.path, "pa"], stdout=subprocess.DEVNULL,
                           stderr=e, timeout=30, env=envv, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, err.read_text()
    assert "audit required" not in err.read_text()
    env.rt.run("delete", "--force", "pa", check=True)
