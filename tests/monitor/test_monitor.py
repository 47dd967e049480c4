"""ward monitor with a real monitor process: what it raises (audit records and metrics) for
shells, setuid escalation, and what it leaves alone."""

import os
import shutil
import subprocess
import time

import harness
from conftest import KUBE, metric, parse_metrics, read_records

SHELL = "Terminal shell in container"
ESC = "Privilege escalation"


def test_exec_shell_raises_terminal_shell_once_with_pod_names(env):
    m = env.monitor()
    cid = env.run_container(env.bundle(["sleep", "60"], annotations=KUBE), "shellx")
    # The shell outlives its exec event (it forks sleep, then echoes): the connector's events
    # carry only pids, so a process is judged by what /proc shows when its event is read.
    p = env.rt.run("exec", cid, "sh", "-c", "echo in; sleep 1; echo out")
    assert p.returncode == 0 and p.stdout == "in\nout\n"
    a = m.wait_alerts(1, rule=SHELL)
    time.sleep(0.5)
    a = m.alerts(rule=SHELL)
    assert len(a) == 1, a
    assert a[0]["container_id"] == cid and a[0]["priority"] == "WARNING"
    assert (a[0]["pod"], a[0]["namespace"], a[0]["container"]) == ("web-1", "prod", "nginx")
    assert "via_exec=true" in a[0]["output"] and "cmdline=sh -c echo in; sleep 1; echo out" in a[0]["output"]
    assert metric(m.metrics(), "ward_alerts_total", rule=SHELL, priority="WARNING") == 1
    assert m.alerts(rule=ESC) == []


def test_workload_shell_raises_terminal_shell_once(env):
    m = env.monitor()
    cid = env.run_container(env.bundle(["/spawn", "300", "/bin/sh", "-c", "echo w; sleep 1; echo x"], annotations=KUBE),
                            "shellw")
    assert harness.wait_for(lambda: "spawned exit 0" in env.container_output(cid), 10), env.container_output(cid)
    time.sleep(0.3)
    a = m.alerts(rule=SHELL)
    assert len(a) == 1, a
    assert a[0]["container_id"] == cid and a[0]["pod"] == "web-1"
    assert "via_exec=false" in a[0]["output"] and "parent=spawn" in a[0]["output"]


def test_setuid_root_binary_by_uid_1000_raises_privilege_escalation(env):
    m = env.monitor()
    cid = env.run_container(env.bundle(["/spawn", "300", "/suid"], uid=1000, nnp=False, annotations=KUBE), "esc")
    assert harness.wait_for(lambda: "spawned exit 0" in env.container_output(cid), 10), env.container_output(cid)
    out = env.container_output(cid)
    assert "uid=1000 euid=0" in out  # the escalation really happened
    a = m.wait_alerts(1, rule=ESC)
    # The kernel reports the exec's credential change as a uid event (commit_creds) before the
    # exec event itself: one process, one alert.
    assert len(a) == 1, a
    assert a[0]["container_id"] == cid and a[0]["priority"] == "CRITICAL" and a[0]["evt_type"] in ("uid", "exec"), a
    assert "euid=1000->0" in a[0]["output"] and "setuid_exe=true" in a[0]["output"]
    ms = m.metrics()
    assert metric(ms, "container_privilege_escalation", container_id=cid, pod="web-1", namespace="prod",
                  container="nginx") == 1
    assert metric(ms, "ward_alerts_total", rule=ESC, priority="CRITICAL") == 1


def test_with_no_new_privileges_the_same_attempt_raises_nothing(env):
    m = env.monitor()
    cid = env.run_container(env.bundle(["/spawn", "300", "/suid"], uid=1000, nnp=True, annotations=KUBE), "nnp")
    assert harness.wait_for(lambda: "spawned exit" in env.container_output(cid), 10)
    out = env.container_output(cid)
    assert "uid=1000 euid=1000" in out and "setuid(0): refused" in out
    # The monitor was watching this container: a shell in it is seen.
    env.rt.run("exec", cid, "sh", "-c", "echo; sleep 0.5; echo", check=True)
    assert m.wait_alerts(1, rule=SHELL, container_id=cid)
    assert m.alerts(rule=ESC) == []
    assert metric(m.metrics(), "container_privilege_escalation", container_id=cid) == 0


def test_nothing_fires_for_processes_outside_ward_containers(env):
    m = env.monitor()
    # A container exists, so the monitor has something to map to.
    cid = env.run_container(env.bundle(["sleep", "60"]), "host")
    host_suid = os.path.join(env.dir, "suid")
    shutil.copy2(os.path.join(os.path.dirname(__file__), ".build", "suid"), host_suid)
    os.chown(host_suid, 0, 0)
    os.chmod(host_suid, 0o4755)
    os.chmod(env.dir, 0o755)
    p = subprocess.run(["setpriv", "--reuid=1000", "--regid=1000", "--clear-groups", host_suid],
                       capture_output=True, text=True, timeout=10)
    assert "euid=0" in p.stdout and "setuid(0): ok" in p.stdout, p.stdout + p.stderr
    subprocess.run(["sh", "-c", "echo host; sleep 0.5; echo"], check=True, capture_output=True)
    subprocess.run(["bash", "-c", "true; sleep 0.3"], check=True, capture_output=True)
    # Liveness: the same kinds of process inside the container are seen.
    env.rt.run("exec", cid, "sh", "-c", "echo; sleep 0.5; echo", check=True)
    assert m.wait_alerts(1, rule=SHELL)
    time.sleep(0.3)
    assert [a["container_id"] for a in m.alerts()] == [cid]


def test_detached_exec_record_is_completed_with_its_exit_status(env):
    m = env.monitor()
    cid = env.run_container(env.bundle(["sleep", "60"]), "detach")
    env.rt.run("exec", "-d", cid, "sh", "-c", "sleep 0.5; exit 3", check=True)
    rec = harness.wait_for(lambda: [r for r in read_records(env.audit_log) if r["event"] == "exec_exit"], 10)
    assert rec and rec[0]["container_id"] == cid and rec[0]["exit_status"] == 3, rec
    assert rec[0]["source"] == "monitor"
    ex = [r for r in read_records(env.audit_log) if r["event"] == "exec"]
    assert len(ex) == 1 and ex[0]["outcome"] == "ok" and ex[0]["process"]["args"] == ["sh", "-c", "sleep 0.5; exit 3"]
    assert metric(m.metrics(), "ward_lifecycle_events_total", event="exec", outcome="ok") == 1


def test_metrics_count_containers_and_lifecycle_events_and_pass_promtool(env):
    m = env.monitor()
    cid = env.run_container(env.bundle(["sleep", "60"], annotations=KUBE), "met")
    env.rt.run("pause", cid, check=True)
    time.sleep(0.2)
    ms = m.metrics()
    assert metric(ms, "ward_containers", status="paused") == 1
    env.rt.run("resume", cid, check=True)
    assert env.rt.run("kill", cid, "NOSIG").returncode != 0
    env.rt.run("kill", cid, "KILL", check=True)
    harness.wait_for(lambda: env.rt.state(cid)["status"] == "stopped", 5)
    time.sleep(1.0)
    ms = m.metrics()
    assert metric(ms, "ward_containers", status="stopped") == 1
    for ev in ("create", "start", "pause", "resume", "kill"):
        assert metric(ms, "ward_lifecycle_events_total", event=ev, outcome="ok") == 1, ev
    assert metric(ms, "ward_lifecycle_events_total", event="kill", outcome="error") == 1
    assert metric(ms, "process_resident_memory_bytes") > 0
    assert metric(ms, "ward_monitor_events_total", type="exec") > 0
    text = m.metrics_text()
    p = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    assert m.stop() == 0  # SIGTERM ends it cleanly


def test_bad_rules_file_is_refused_at_startup_naming_the_path(env, session, tmp_path):
    rules = tmp_path / "rules.json"
    rules.write_text('{"rules":[{"rule":"x","priority":"LOUD","output":"","condition":{"field":"proc.name","op":"exists"}}]}')
    p = subprocess.run([session["binary"], "monitor", "--listen", "127.0.0.1:1", "--root", env.root,
                        "--audit-log", env.audit_log, "--rules", str(rules)], capture_output=True, text=True, timeout=10)
    assert p.returncode != 0
    assert p.stderr.strip().splitlines() == [
        f'ward: monitor: rules {rules}: $.rules[0].priority: unknown priority "LOUD"'] or \
        p.stderr.strip().endswith(f'rules {rules}: $.rules[0].priority: unknown priority "LOUD"'), p.stderr


def test_custom_rules_file_replaces_the_built_ins(env, tmp_path):
    rules = tmp_path / "rules.json"
    rules.write_text('{"rules":[{"rule":"cat in container","priority":"NOTICE","output":"cat by %proc.pname in %container.id",'
                     '"condition":{"all":[{"field":"evt.type","value":"exec"},{"field":"container.id","op":"exists"},'
                     '{"field":"proc.name","value":"cat"}]}}]}')
    m = env.monitor(rules=str(rules))
    cid = env.run_container(env.bundle(["sleep", "60"]), "custom")
    # cat waits on its stdin until the test closes it: alive when its exec event is read.
    p = env.rt.popen("exec", cid, "cat", stdin=subprocess.PIPE)
    a = m.wait_alerts(1, rule="cat in container")
    p.stdin.close()
    assert p.wait(timeout=10) == 0
    a = m.wait_alerts(1, rule="cat in container")
    assert a and a[0]["priority"] == "NOTICE" and a[0]["output"].startswith("cat by ")
    assert m.alerts(rule=SHELL) == []


def test_ptrace_attach_to_a_container_process_raises_ptrace_in_container(env):
    m = env.monitor()
    cid = env.run_container(env.bundle(["sleep", "60"], annotations=KUBE), "ptr")
    pid = env.rt.state(cid)["pid"]
    # PTRACE_SEIZE from a host process; it detaches by exiting.
    code = ("import ctypes,sys; libc=ctypes.CDLL(None, use_errno=True); "
            "libc.ptrace.argtypes=[ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]; "
            f"r=libc.ptrace(0x4206, {pid}, None, None); sys.exit(0 if r == 0 else ctypes.get_errno())")
    p = subprocess.run(["python3", "-c", code], capture_output=True, text=True, timeout=10)
    assert p.returncode == 0, p
    a = m.wait_alerts(1, rule="ptrace in container")
    assert a and a[0]["container_id"] == cid and a[0]["pod"] == "web-1" and "tracer=python3" in a[0]["output"], a


def test_exec_of_a_binary_written_after_create_raises_binary_not_in_image(env):
    m = env.monitor()
    b = env.bundle(["sleep", "60"])
    cid = env.run_container(b, "drift")
    env.rt.run("exec", cid, "/bin/sh", "-c", "echo image; sleep 0.5; echo", check=True)
    time.sleep(0.5)
    assert m.alerts(rule="Binary not in image executed") == []  # the image's own shell
    shutil.copy2("/bin/busybox", os.path.join(b.rootfs, "tmp", "busybox"))  # keeps its old mtime
    env.rt.run("exec", cid, "/tmp/busybox", "sleep", "0.5", check=True)
    a = m.wait_alerts(1, rule="Binary not in image executed")
    assert a and a[0]["container_id"] == cid and "exe=/tmp/busybox" in a[0]["output"], a
