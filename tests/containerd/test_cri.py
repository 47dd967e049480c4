"""The CRI v1 API driven as kubelet drives it for a pod with `runtimeClassName: restricted`:
the pod's sandbox and containers must run under the runtime under test, with its state under
the handler's Root, and leave nothing behind after removal."""

import json
import os
import socket

import pytest

from conftest import (BUSYBOX_IMAGE, CRI_NS, HANDLER, PAUSE_IMAGE, cgroup_dirs, cgroup_v1,
                      cgroup_v2_root, read, remove_cgroup_tree, shims_of, wait_until)

SERVE = "echo started; trap 'exit 0' TERM; /bin/sleep 100000 & wait"
MiB = 1 << 20


class Pod:
    """One pod sandbox plus the bookkeeping to check and undo everything it created."""

    def __init__(self, ctrd, cri, handler):
        self.ctrd, self.cri, self.pb = ctrd, cri, cri.pb
        self.handler = handler
        name = ctrd.uid("pod")
        self.cgroup_parent = f"{ctrd.prefix}/{name}"
        self.log_dir = os.path.join(ctrd.base, "pods", name)
        pb = self.pb
        # Host network (NODE): like kubelet for hostNetwork pods, no hostname is set; the
        # runtime would be asked for a hostname without a UTS namespace otherwise.
        self.ns = pb.NamespaceOption(network=pb.NODE, pid=pb.CONTAINER, ipc=pb.POD)
        self.config = pb.PodSandboxConfig(
            metadata=pb.PodSandboxMetadata(name=name, uid=name + "-uid", namespace="default"),
            log_directory=self.log_dir,
            labels={"app": "ward-test"},
            linux=pb.LinuxPodSandboxConfig(
                cgroup_parent=self.cgroup_parent,
                security_context=pb.LinuxSandboxSecurityContext(namespace_options=self.ns)))
        self.id = None
        self.containers = []

    @property
    def runtime_root(self):
        """Where the runtime keeps state for this pod: the handler's Root plus the namespace."""
        root = self.ctrd.handler_root if self.handler == HANDLER else self.ctrd.default_root
        return os.path.join(root, CRI_NS)

    def run(self):
        r = self.cri.rt.RunPodSandbox(
            self.pb.RunPodSandboxRequest(config=self.config, runtime_handler=self.handler),
            timeout=60)
        self.id = r.pod_sandbox_id
        return self.id

    def create(self, name, script, resources=None):
        pb = self.pb
        cfg = pb.ContainerConfig(
            metadata=pb.ContainerMetadata(name=name),
            image=pb.ImageSpec(image=BUSYBOX_IMAGE),
            command=["/bin/sh", "-c", script],
            envs=[pb.KeyValue(key="POD", value="yes")],
            log_path=f"{name}/0.log",
            linux=pb.LinuxContainerConfig(
                resources=resources or pb.LinuxContainerResources(),
                security_context=pb.LinuxContainerSecurityContext(namespace_options=self.ns)))
        cid = self.cri.rt.CreateContainer(
            pb.CreateContainerRequest(pod_sandbox_id=self.id, config=cfg,
                                      sandbox_config=self.config), timeout=60).container_id
        self.containers.append(cid)
        return cid

    def status(self, cid, verbose=False):
        r = self.cri.rt.ContainerStatus(
            self.pb.ContainerStatusRequest(container_id=cid, verbose=verbose), timeout=30)
        info = json.loads(r.info["info"]) if verbose and "info" in r.info else {}
        return r.status, info

    def sandbox_status(self, verbose=False):
        r = self.cri.rt.PodSandboxStatus(
            self.pb.PodSandboxStatusRequest(pod_sandbox_id=self.id, verbose=verbose), timeout=30)
        info = json.loads(r.info["info"]) if verbose and "info" in r.info else {}
        return r.status, info

    def cgroup(self, ident):
        return f"{self.cgroup_parent}/{ident}"

    def teardown(self):
        """As kubelet: stop and remove containers, then stop and remove the sandbox."""
        rt, pb = self.cri.rt, self.pb
        for cid in self.containers:
            try:
                rt.StopContainer(pb.StopContainerRequest(container_id=cid, timeout=0), timeout=30)
                rt.RemoveContainer(pb.RemoveContainerRequest(container_id=cid), timeout=30)
            except self.cri.RpcError:
                pass
        if self.id:
            try:
                rt.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=self.id), timeout=30)
                rt.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=self.id),
                                    timeout=30)
            except self.cri.RpcError:
                pass

    def leftovers(self):
        """What the runtime, the shims and containerd left after the pod was removed."""
        found = []
        ids = [i for i in [self.id] + self.containers if i]
        if os.path.isdir(self.runtime_root):
            found += [f"runtime state {e}" for e in os.listdir(self.runtime_root) if e in ids]
        for i in ids:
            found += [f"cgroup {d}" for d in cgroup_dirs(self.cgroup(i))]
            found += [f"shim pid {p}" for p in shims_of(self.ctrd.sock, i)]
        with open("/proc/self/mountinfo") as f:
            found += [f"mount {line.split()[4]}" for line in f
                      if any(i in line for i in ids)]
        return found


@pytest.fixture
def pods(ctrd, cri):
    made = []

    def make(handler=HANDLER):
        p = Pod(ctrd, cri, handler)
        made.append(p)
        return p

    yield make
    for p in made:
        p.teardown()
    left = []
    for p in made:
        wait_until(lambda: not p.leftovers(), timeout=5)
        left += p.leftovers()
        # kubelet owns the pod-level cgroup parent; it must be empty now.
        left += remove_cgroup_tree(p.cgroup_parent)
    assert not left, f"left behind after removing the pods: {left}"


def cgroup_file(cg, v1_controller, v1_file, v2_file):
    v1 = cgroup_v1(v1_controller)
    if v1:
        return read(os.path.join(v1, cg.strip("/"), v1_file))
    return read(os.path.join(cgroup_v2_root(), cg.strip("/"), v2_file))


def limits(cg):
    """(cpu shares or weight, memory limit, cpu quota/period) as the host's cgroups show them."""
    if cgroup_v1("cpu"):
        return (int(cgroup_file(cg, "cpu", "cpu.shares", None)),
                int(cgroup_file(cg, "memory", "memory.limit_in_bytes", None)),
                (int(cgroup_file(cg, "cpu", "cpu.cfs_quota_us", None)),
                 int(cgroup_file(cg, "cpu", "cpu.cfs_period_us", None))))
    quota, period = cgroup_file(cg, None, None, "cpu.max").split()
    return (int(cgroup_file(cg, None, None, "cpu.weight")),
            int(cgroup_file(cg, None, None, "memory.max")),
            (-1 if quota == "max" else int(quota), int(period)))


def shares_as_seen(shares):
    """cpu.shares on v1; the cpu.weight runc-compatible runtimes derive from it on v2."""
    if cgroup_v1("cpu"):
        return shares
    return 1 + ((shares - 2) * 9999) // 262142


def test_version_and_local_images(cri):
    v = cri.rt.Version(cri.pb.VersionRequest(version="v1"), timeout=10)
    assert v.runtime_name == "containerd" and v.runtime_api_version == "v1"
    for ref in (BUSYBOX_IMAGE, PAUSE_IMAGE):
        st = cri.img.ImageStatus(cri.pb.ImageStatusRequest(image=cri.pb.ImageSpec(image=ref)),
                                 timeout=10)
        assert ref in st.image.repo_tags, f"{ref} not imported: {st}"


def test_pod_lifecycle_with_restricted_handler(ctrd, cri, pods):
    pb, rt = cri.pb, cri.rt
    pod = pods()

    # RunPodSandbox with the handler: the pause process runs under the runtime under test,
    # with its state under the handler's Root/<namespace>.
    sid = pod.run()
    st, info = pod.sandbox_status(verbose=True)
    assert st.state == pb.SANDBOX_READY
    assert st.runtime_handler == HANDLER
    assert info.get("runtimeHandler") == HANDLER, info.keys()
    opts = info.get("runtimeOptions") or {}
    assert opts.get("binary_name") == ctrd.binary, opts
    assert opts.get("root") == ctrd.handler_root, opts
    spec = info["runtimeSpec"]
    assert not spec.get("hostname"), "a host-network sandbox must not get a hostname"
    ns_types = {n["type"] for n in spec["linux"]["namespaces"]}
    assert "network" not in ns_types and "uts" not in ns_types, ns_types
    assert os.path.isdir(os.path.join(pod.runtime_root, sid))
    assert not os.path.exists(os.path.join(ctrd.default_root, CRI_NS, sid))
    rs = ctrd.runtime_state(pod.runtime_root, sid)
    assert rs and rs["status"] == "running" and rs["pid"] == info["pid"], rs

    # CreateContainer + StartContainer with initial limits.
    res = pb.LinuxContainerResources(cpu_shares=512, memory_limit_in_bytes=64 * MiB)
    cid = pod.create("app", SERVE, res)
    # (containerd 1.6's CRI creates the runtime container only at StartContainer.)
    rt.StartContainer(pb.StartContainerRequest(container_id=cid), timeout=60)
    cst, cinfo = pod.status(cid, verbose=True)
    assert cst.state == pb.CONTAINER_RUNNING
    rs = ctrd.runtime_state(pod.runtime_root, cid)
    assert rs["status"] == "running" and rs["pid"] == cinfo["pid"], (rs, cinfo.get("pid"))
    with open(f"/proc/{cinfo['pid']}/cgroup") as f:
        assert {line.rstrip("\n").split(":", 2)[2] for line in f} == {pod.cgroup(cid)}
    assert limits(pod.cgroup(cid))[:2] == (shares_as_seen(512), 64 * MiB)

    # ExecSync: output, error output and exit status come back; host network means the
    # host's UTS namespace, so the pod sees the host's hostname.
    r = rt.ExecSync(pb.ExecSyncRequest(
        container_id=cid, timeout=30,
        cmd=["/bin/sh", "-c", 'echo "out $POD"; echo err >&2; /bin/hostname; exit 3']),
        timeout=60)
    assert r.exit_code == 3
    assert r.stdout.decode().split("\n")[:2] == ["out yes", socket.gethostname()], r.stdout
    assert r.stderr == b"err\n"
    r = rt.ExecSync(pb.ExecSyncRequest(container_id=cid, cmd=["/bin/cat", "/proc/1/cmdline"],
                                       timeout=30), timeout=60)
    assert r.exit_code == 0 and r.stdout.startswith(b"/bin/sh\0-c\0"), r.stdout

    # UpdateContainerResources: the new limits land in the container's cgroup on the host.
    new = pb.LinuxContainerResources(cpu_shares=256, memory_limit_in_bytes=32 * MiB,
                                     cpu_period=100000, cpu_quota=50000)
    rt.UpdateContainerResources(pb.UpdateContainerResourcesRequest(container_id=cid, linux=new),
                                timeout=60)
    assert limits(pod.cgroup(cid)) == (shares_as_seen(256), 32 * MiB, (50000, 100000))
    cst, _ = pod.status(cid)
    assert cst.resources.linux.memory_limit_in_bytes == 32 * MiB
    assert cst.resources.linux.cpu_shares == 256

    # The container's stdout reached its CRI log.
    log = os.path.join(pod.log_dir, "app", "0.log")
    assert wait_until(lambda: os.path.exists(log) and "stdout F started" in open(log).read(),
                      timeout=5), log

    # StopContainer: SIGTERM, the init exits 0 well before the grace period ends.
    rt.StopContainer(pb.StopContainerRequest(container_id=cid, timeout=20), timeout=60)
    cst, _ = pod.status(cid)
    assert cst.state == pb.CONTAINER_EXITED and cst.exit_code == 0, cst
    assert (cst.finished_at - cst.started_at) / 1e9 < 15
    assert not os.path.exists(os.path.join(pod.runtime_root, cid))
    assert wait_until(lambda: not cgroup_dirs(pod.cgroup(cid)), timeout=3)
    rt.RemoveContainer(pb.RemoveContainerRequest(container_id=cid), timeout=60)
    with pytest.raises(cri.RpcError):
        pod.status(cid)
    pod.containers.remove(cid)

    # StopPodSandbox, RemovePodSandbox: nothing of the pod remains.
    rt.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=sid), timeout=60)
    st, _ = pod.sandbox_status()
    assert st.state == pb.SANDBOX_NOTREADY
    assert not os.path.exists(os.path.join(pod.runtime_root, sid))
    rt.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=sid), timeout=60)
    assert wait_until(lambda: not pod.leftovers(), timeout=5), pod.leftovers()
    # ward's cache of compiled seccomp programs may stay; no container state may
    assert [e for e in os.listdir(pod.runtime_root) if e != "@seccomp-cache"] == []


def test_container_exit_code_and_restart_in_same_pod(ctrd, cri, pods):
    pb, rt = cri.pb, cri.rt
    pod = pods()
    pod.run()
    first = pod.create("job", "echo job; exit 5")
    rt.StartContainer(pb.StartContainerRequest(container_id=first), timeout=60)
    assert wait_until(lambda: pod.status(first)[0].state == pb.CONTAINER_EXITED, timeout=15)
    cst, _ = pod.status(first)
    assert cst.exit_code == 5 and cst.finished_at > 0, cst
    assert not os.path.exists(os.path.join(pod.runtime_root, first))
    rt.RemoveContainer(pb.RemoveContainerRequest(container_id=first), timeout=60)
    pod.containers.remove(first)
    # kubelet's restart: a new attempt in the same sandbox.
    second = pod.create("job2", SERVE)
    rt.StartContainer(pb.StartContainerRequest(container_id=second), timeout=60)
    assert pod.status(second)[0].state == pb.CONTAINER_RUNNING
    assert sorted(e for e in os.listdir(pod.runtime_root) if e != "@seccomp-cache") == \
        sorted([pod.id, second])


def test_default_handler_also_uses_runtime_under_test(ctrd, cri, pods):
    pod = pods(handler="")
    sid = pod.run()
    st, info = pod.sandbox_status(verbose=True)
    assert st.state == cri.pb.SANDBOX_READY
    assert (info.get("runtimeOptions") or {}).get("binary_name") == ctrd.binary
    assert os.path.isdir(os.path.join(ctrd.default_root, CRI_NS, sid))
    assert not os.path.exists(os.path.join(ctrd.handler_root, CRI_NS, sid))
