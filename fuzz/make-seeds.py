#!/usr/bin/env python3
"""Write the hand-made part of the seed corpus: runc-style default specs and
variants that reach every branch of the config pipeline (fuzz/README.md).
Usage: fuzz/make-seeds.py  (writes fuzz/corpus/config/seed-*.json and
fuzz/corpus/state/seed-*.json; idempotent)."""
import copy, json, os

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(here)

base = {
    "ociVersion": "1.0.2",
    "process": {
        "terminal": False, "user": {"uid": 0, "gid": 0, "additionalGids": [5], "umask": 18},
        "args": ["sh"], "env": ["PATH=/usr/bin:/bin", "TERM=xterm"], "cwd": "/",
        "capabilities": {k: ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
                         for k in ("bounding", "effective", "permitted", "ambient")},
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
        "noNewPrivileges": True,
    },
    "root": {"path": "rootfs", "readonly": True},
    "hostname": "runc",
    "mounts": [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
        {"destination": "/data", "type": "bind", "source": "data", "options": ["rbind", "rprivate", "ro", "nosymfollow"]},
    ],
    "linux": {
        "resources": {"devices": [{"allow": False, "access": "rwm"},
                                  {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rw"}]},
        "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount", "cgroup")],
        "maskedPaths": ["/proc/kcore", "/sys/firmware"],
        "readonlyPaths": ["/proc/sys", "/proc/sysrq-trigger"],
    },
}

def variant(**linux):
    c = copy.deepcopy(base)
    c["linux"].update(linux)
    return c

seeds = {"default": base}
with open(os.path.join(root, "profiles/seccomp/default.json")) as f:
    seeds["seccomp-default"] = variant(seccomp=json.load(f))
seeds["seccomp-args"] = variant(seccomp={
    "defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"], "flags": ["SECCOMP_FILTER_FLAG_LOG"],
    "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
                  "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_NE"},
                           {"index": 1, "value": 255, "valueTwo": 1, "op": "SCMP_CMP_MASKED_EQ"}]},
                 {"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}],
    "listenerPath": "/run/agent.sock", "listenerMetadata": "x"})
seeds["resources"] = variant(resources={
    "devices": [{"allow": True, "type": "b", "major": 8, "access": "r"}, {"allow": False, "type": "a"}],
    "memory": {"limit": 536870912, "reservation": 1, "swap": 536870912, "swappiness": 10, "disableOOMKiller": False},
    "cpu": {"shares": 1024, "quota": 100000, "period": 100000, "cpus": "0-1,3", "mems": "0", "idle": 0},
    "pids": {"limit": 32},
    "blockIO": {"weight": 10, "weightDevice": [{"major": 8, "minor": 0, "weight": 500}],
                "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 600}]},
    "hugepageLimits": [{"pageSize": "2MB", "limit": 209715200}],
    "network": {"classID": 1048577, "priorities": [{"name": "eth0", "priority": 500}]},
    "rdma": {"mlx5_1": {"hcaHandles": 3, "hcaObjects": 10000}},
    "unified": {"memory.high": "max"}})
seeds["userns"] = variant(namespaces=[{"type": t} for t in ("pid", "user", "mount", "uts", "time")],
                          uidMappings=[{"containerID": 0, "hostID": 100000, "size": 65536}],
                          gidMappings=[{"containerID": 0, "hostID": 100000, "size": 65536}],
                          timeOffsets={"monotonic": {"secs": 10, "nanosecs": 5}},
                          devices=[{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229,
                                    "fileMode": 438, "uid": 0, "gid": 0}],
                          sysctl={"kernel.shmmax": "1"}, personality={"domain": "LINUX32"},
                          rootfsPropagation="rslave", cgroupsPath="/ward-fuzz/x")
seeds["intelrdt"] = variant(intelRdt={"closID": "g", "l3CacheSchema": "L3:0=ff", "enableCMT": True})
seeds["idmap"] = copy.deepcopy(base)
seeds["idmap"]["mounts"].append({"destination": "/m", "type": "bind", "source": "/tmp",
                                 "options": ["bind", "idmap"],
                                 "uidMappings": [{"containerID": 0, "hostID": 1, "size": 1}],
                                 "gidMappings": [{"containerID": 0, "hostID": 1, "size": 1}]})
p = copy.deepcopy(base)
p["process"].update({"scheduler": {"policy": "SCHED_FIFO", "priority": 10, "flags": ["SCHED_FLAG_RESET_ON_FORK"]},
                     "ioPriority": {"class": "IOPRIO_CLASS_RT", "priority": 1},
                     "execCPUAffinity": {"initial": "0", "final": "0-1"}, "oomScoreAdj": -10,
                     "consoleSize": {"height": 10, "width": 20}, "terminal": True, "apparmorProfile": "x",
                     "selinuxLabel": "system_u:system_r:container_t:s0"})
p["hooks"] = {k: [{"path": "/bin/true", "args": ["true"], "env": ["A=1"], "timeout": 5}]
              for k in ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")}
p["annotations"] = {"org.example": "v"}
p["domainname"] = "d"
seeds["process-hooks"] = p

os.makedirs(os.path.join(here, "corpus/config"), exist_ok=True)
for name, c in seeds.items():
    with open(os.path.join(here, f"corpus/config/seed-{name}.json"), "w") as f:
        json.dump(c, f, indent=1)
        f.write("\n")

state = {"ociVersion": "1.0.2", "id": "fz", "pid": 4242, "startTime": 123456, "bundle": "/b", "rootfs": "/b/rootfs",
         "created": "2026-01-01T00:00:00.000000000Z", "owner": "", "annotations": {"a": "b"}, "started": True,
         "cgroup": {"mode": "hybrid", "path": "/ward/fz", "paths": {"memory": "/sys/fs/cgroup/memory/ward/fz"}},
         "hooks": {"poststop": [{"path": "/bin/true"}]}, "pidNamespace": True}
os.makedirs(os.path.join(here, "corpus/state"), exist_ok=True)
with open(os.path.join(here, "corpus/state/seed-full.json"), "w") as f:
    json.dump(state, f)
old = dict(state, config=json.dumps(base))
with open(os.path.join(here, "corpus/state/seed-old-config.json"), "w") as f:
    json.dump(old, f)
