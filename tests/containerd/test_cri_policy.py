"""ward's policy through the CRI, as kubelet drives a pod whose RuntimeClass handler runs
ward as `ward-restricted` (docs/deploy): a pod that meets Pod Security "restricted" runs, and
each of the usual ways out is refused with ward's one-line message in the CRI error, while the
same pods under the default handler (the same binary as plain `ward`) are not affected. The
pause container is exempt from the container-level rules."""

import os

import pytest

from conftest import BUSYBOX_IMAGE, CRI_NS, POLICY_HANDLER, wait_until
from test_cri import Pod, SERVE


# What kubelet sends for procMount Default (it fills these in, not containerd).
MASKED = ["/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
          "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware"]
READONLY = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]


class PolicyPod(Pod):
    """A pod with its own network namespace (stub CNI) and a securityContext meeting PSS
    restricted unless a case changes it."""

    def __init__(self, ctrd, cri, handler, host_network=False, host_pid=False, sysctls=None,
                 privileged=False):
        super().__init__(ctrd, cri, handler)
        pb = self.pb
        self.ns = pb.NamespaceOption(network=pb.NODE if host_network else pb.POD,
                                     pid=pb.NODE if host_pid else pb.CONTAINER, ipc=pb.POD)
        sc = self.config.linux.security_context
        sc.namespace_options.CopyFrom(self.ns)
        sc.privileged = privileged
        sc.seccomp.CopyFrom(pb.SecurityProfile(profile_type=pb.SecurityProfile.RuntimeDefault))
        if not host_network:
            self.config.hostname = "ward-policy"
        for k, v in (sysctls or {}).items():
            self.config.linux.sysctls[k] = v

    @property
    def runtime_root(self):
        if self.handler == POLICY_HANDLER:
            return os.path.join(self.ctrd.policy_root, CRI_NS)
        return super().runtime_root

    def create_secured(self, name, uid=1000, add_caps=(), no_new_privs=True,
                       seccomp="RuntimeDefault", mounts=(), privileged=False):
        pb = self.pb
        sc = pb.LinuxContainerSecurityContext(
            namespace_options=self.ns, no_new_privs=no_new_privs, privileged=privileged,
            masked_paths=[] if privileged else MASKED, readonly_paths=[] if privileged else READONLY,
            capabilities=pb.Capability(drop_capabilities=["ALL"], add_capabilities=list(add_caps)),
            seccomp=pb.SecurityProfile(profile_type=getattr(pb.SecurityProfile, seccomp)))
        if uid is not None:
            sc.run_as_user.value = uid
        cfg = pb.ContainerConfig(
            metadata=pb.ContainerMetadata(name=name), image=pb.ImageSpec(image=BUSYBOX_IMAGE),
            command=["/bin/sh", "-c", SERVE], log_path=f"{name}/0.log",
            mounts=[pb.Mount(container_path=c, host_path=h, readonly=True) for c, h in mounts],
            linux=pb.LinuxContainerConfig(security_context=sc))
        cid = self.cri.rt.CreateContainer(
            pb.CreateContainerRequest(pod_sandbox_id=self.id, config=cfg,
                                      sandbox_config=self.config), timeout=60).container_id
        self.containers.append(cid)
        return cid

    def start_container(self, cid):
        self.cri.rt.StartContainer(self.pb.StartContainerRequest(container_id=cid), timeout=60)


@pytest.fixture
def policy_pods(ctrd, cri):
    """Like `pods`, for PolicyPods: each is torn down and checked for leftovers."""
    made = []

    def factory(handler, **kw):
        p = PolicyPod(ctrd, cri, handler, **kw)
        made.append(p)
        return p

    yield factory
    for p in made:
        p.teardown()
    left = []
    for p in made:
        wait_until(lambda: not p.leftovers(), timeout=5)
        left += p.leftovers()
    assert not left, f"left behind after removing the pods: {left}"


def run_pod(policy_pods, handler, pod_kw=None, ctr_kw=None):
    """RunPodSandbox, CreateContainer, StartContainer; returns (pod, cid) or raises RpcError."""
    pod = policy_pods(handler, **(pod_kw or {}))
    pod.run()
    cid = pod.create_secured("app", **(ctr_kw or {}))
    pod.start_container(cid)
    return pod, cid


def test_restricted_pod_runs_under_the_policy(ctrd, cri, policy_pods):
    pb = cri.pb
    pod, cid = run_pod(policy_pods, POLICY_HANDLER)
    st, _ = pod.status(cid)
    assert st.state == pb.CONTAINER_RUNNING
    # The sandbox ran under the policy too, exempt from the container rules as a sandbox.
    sb = ctrd.runtime_state(pod.runtime_root, pod.id)
    assert sb["policy"]["policy"] == "restricted" and sb["policy"]["exemption"] == "container-type sandbox"
    rs = ctrd.runtime_state(pod.runtime_root, cid)
    assert rs["status"] == "running"
    assert rs["policy"]["decision"] == "allow" and "exemption" not in rs["policy"], rs["policy"]
    r = cri.rt.ExecSync(pb.ExecSyncRequest(container_id=cid, cmd=["/bin/cat", "/proc/self/status"],
                                           timeout=30), timeout=60)
    status = dict(l.split(":\t", 1) for l in r.stdout.decode().splitlines() if ":\t" in l)
    assert status["Uid"].split()[0] == "1000"
    assert status["NoNewPrivs"] == "1" and status["Seccomp"] == "2"
    assert int(status["CapEff"], 16) == 0


HOSTPATH = "/tmp/ward-policy-hostpath"  # created by the test, removed after
CASES = {
    "runs-as-root": ({}, {"uid": 0},
                     "policy restricted: process.user.uid: runs as uid 0; restricted requires a non-root user"),
    "host-pid": ({"host_pid": True}, {},
                 "policy restricted: linux.namespaces: no pid namespace, so it shares the host's; "
                 "restricted requires its own or the pod's pid namespace"),
    "host-network": ({"host_network": True}, {},
                     "policy restricted: linux.namespaces: no network namespace, so it shares the host's; "
                     "restricted requires its own or the pod's network namespace"),
    "privileged": ({"privileged": True}, {"privileged": True}, "policy restricted: "),
    "cap-sys-admin": ({}, {"add_caps": ["SYS_ADMIN"]},
                      "adds CAP_SYS_ADMIN; restricted allows only CAP_NET_BIND_SERVICE"),
    "allow-privilege-escalation": ({}, {"no_new_privs": False},
                                   "policy restricted: process.noNewPrivileges: is false; restricted "
                                   "requires noNewPrivileges (allowPrivilegeEscalation: false)"),
    "seccomp-unconfined": ({}, {"seccomp": "Unconfined"},
                           "policy restricted: linux.seccomp: not set (Unconfined); restricted requires "
                           "a seccomp profile (RuntimeDefault or Localhost)"),
    "host-path-volume": ({}, {"mounts": [("/data", HOSTPATH)]},
                         f"bind-mounts host path {HOSTPATH}; restricted allows bind mounts only from "
                         "/var/lib/kubelet/pods, /var/lib/containerd, /run/containerd, "),
    "unsafe-sysctl": ({"sysctls": {"kernel.msgmax": "8192"}}, {},
                      "policy restricted: linux.sysctl[\"kernel.msgmax\"]: is not a safe sysctl; restricted "
                      "allows only the Pod Security safe sysctls and the policy's allowedSysctls"),
}


@pytest.fixture
def hostpath():
    os.makedirs(HOSTPATH, exist_ok=True)
    yield HOSTPATH
    os.rmdir(HOSTPATH)


@pytest.mark.parametrize("case", list(CASES))
def test_violation_refused_with_wards_message(ctrd, cri, policy_pods, hostpath, case):
    pod_kw, ctr_kw, msg = CASES[case]
    made = []

    def factory(handler, **kw):
        made.append(policy_pods(handler, **kw))
        return made[-1]

    with pytest.raises(cri.RpcError) as e:
        run_pod(factory, POLICY_HANDLER, pod_kw, ctr_kw)
    detail = e.value.details()
    assert "OCI runtime create failed" in detail, detail
    assert msg in detail, detail
    # The refused container (or sandbox) left no state: only a running sandbox has some.
    pod = made[0]
    root = os.path.join(ctrd.policy_root, CRI_NS)
    left = set(os.listdir(root)) & set(pod.containers) if os.path.isdir(root) else set()
    assert not left, left


@pytest.mark.parametrize("case", list(CASES))
def test_same_pod_under_default_handler_runs(ctrd, cri, policy_pods, hostpath, case):
    pod_kw, ctr_kw, _ = CASES[case]
    pod, cid = run_pod(policy_pods, "runc", pod_kw, ctr_kw)
    st, _ = pod.status(cid)
    assert st.state == cri.pb.CONTAINER_RUNNING
    rs = ctrd.runtime_state(pod.runtime_root, cid)
    assert rs["status"] == "running" and "policy" not in rs
