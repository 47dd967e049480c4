"""A real Prometheus scrapes the monitor; the alert rules of docs/deploy pass promtool."""

import json
import os
import subprocess
import time
import urllib.request

import yaml

import harness
from conftest import KUBE, free_port, http_get

DEPLOY = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                      "docs", "deploy", "monitor")


def test_promtool_checks_and_unit_tests_the_deploy_rules():
    p = subprocess.run(["promtool", "check", "rules", "alerts.rules.yml"], cwd=DEPLOY, capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "2 rules found" in p.stdout
    p = subprocess.run(["promtool", "test", "rules", "alerts.test.yml"], cwd=DEPLOY, capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr


def test_deploy_manifests_agree():
    rules = yaml.safe_load(open(os.path.join(DEPLOY, "alerts.rules.yml")))
    pr = yaml.safe_load(open(os.path.join(DEPLOY, "prometheusrule.yaml")))
    assert pr["kind"] == "PrometheusRule" and pr["spec"] == rules
    alerts = {r["alert"]: r for g in rules["groups"] for r in g["rules"]}
    esc = alerts["ContainerPrivilegeEscalation"]
    assert (esc["expr"], esc["for"], esc["labels"]["severity"]) == ("container_privilege_escalation > 0", "1m", "critical")
    assert "ShellInContainer" in alerts
    svc = yaml.safe_load(open(os.path.join(DEPLOY, "service.yaml")))
    assert svc["metadata"]["labels"]["app"] == "runtime-security"
    assert [p["name"] for p in svc["spec"]["ports"]] == ["metrics"]
    sm = yaml.safe_load(open(os.path.join(DEPLOY, "servicemonitor.yaml")))
    assert sm["spec"]["selector"]["matchLabels"] == {"app": "runtime-security"}
    assert sm["spec"]["endpoints"][0]["port"] == "metrics" and sm["spec"]["endpoints"][0]["interval"] == "30s"
    ds = [d for d in yaml.safe_load_all(open(os.path.join(DEPLOY, "daemonset.yaml"))) if d["kind"] == "DaemonSet"][0]
    c = ds["spec"]["template"]["spec"]["containers"][0]
    assert c["command"][1] == "monitor" and c["ports"][0]["name"] == "metrics"
    assert ds["spec"]["template"]["metadata"]["labels"]["app"] == "runtime-security"


def test_prometheus_scrapes_the_monitor_and_fires_the_escalation_alert(env):
    m = env.monitor()
    # The deploy rule with for: 0s, so the test need not wait a minute.
    rules = yaml.safe_load(open(os.path.join(DEPLOY, "alerts.rules.yml")))
    for g in rules["groups"]:
        for r in g["rules"]:
            r["for"] = "0s"
    rules_file = os.path.join(env.dir, "rules.yml")
    with open(rules_file, "w") as f:
        yaml.safe_dump(rules, f)
    port = free_port()
    cfg = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
           "rule_files": [rules_file],
           "scrape_configs": [{"job_name": "ward-monitor", "static_configs": [{"targets": [f"127.0.0.1:{m.port}"]}]}]}
    cfg_file = os.path.join(env.dir, "prometheus.yml")
    with open(cfg_file, "w") as f:
        yaml.safe_dump(cfg, f)
    log = open(os.path.join(env.dir, "prometheus.log"), "w")
    prom = subprocess.Popen(["prometheus", f"--config.file={cfg_file}", f"--storage.tsdb.path={env.dir}/tsdb",
                             f"--web.listen-address=127.0.0.1:{port}"], stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    api = f"http://127.0.0.1:{port}/api/v1"
    try:
        def up():
            try:
                j = json.loads(http_get(api + "/query?query=up", timeout=2)[1])
                return [r for r in j["data"]["result"] if r["value"][1] == "1"]
            except OSError:
                return None
        assert harness.wait_for(up, 60, 0.5), "prometheus never scraped the monitor"

        def firing():
            j = json.loads(http_get(api + "/alerts")[1])
            return [a for a in j["data"]["alerts"] if a["labels"]["alertname"] == "ContainerPrivilegeEscalation"
                    and a["state"] == "firing"]
        time.sleep(2)
        assert firing() == []  # nothing has escalated yet
        cid = env.run_container(env.bundle(["/spawn", "300", "/suid"], uid=1000, nnp=False, annotations=KUBE), "prom")
        a = harness.wait_for(firing, 30, 0.5)
        assert a, "ContainerPrivilegeEscalation never fired"
        assert a[0]["labels"]["container_id"] == cid
        assert (a[0]["labels"]["pod"], a[0]["labels"]["namespace"], a[0]["labels"]["container"]) == ("web-1", "prod", "nginx")
        assert a[0]["labels"]["severity"] == "critical"
    finally:
        prom.terminate()
        try:
            prom.wait(timeout=20)
        except subprocess.TimeoutExpired:
            prom.kill()
            prom.wait()
        log.close()
