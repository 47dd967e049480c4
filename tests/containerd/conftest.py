"""Fixtures for the containerd tests: a private containerd (its own config, root, state and
socket under a temp dir, no CNI, CRI plugin with a `restricted` runtime handler) whose runc
shims call the runtime under test (WARD_RUNTIME, default build/ward), plus images built from
local files. Everything the session creates is removed at the end and checked to be gone."""

import glob
import json
import os
import pty
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

import images

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "conformance", "lib"))
from harness import cgroup_dirs, cgroup_hierarchies  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CGROUP_ROOT = "/sys/fs/cgroup"
CTR_NS = "ward-ctr"      # containerd namespace for the ctr tests
CRI_NS = "k8s.io"        # the namespace the CRI plugin always uses
HANDLER = "restricted"   # the RuntimeClass handler name under test
# The same runtime selected through the name ward-restricted (ward's policy "restricted",
# docs/deploy): test_cri_policy.py. Kept apart from HANDLER, whose pods run as root.
POLICY_HANDLER = "restricted-policy"
BUSYBOX_IMAGE = "localhost/ward-test/busybox:1"
PAUSE_IMAGE = "localhost/ward-test/pause:1"
CMD_TIMEOUT = 60

CONFIG = """\
version = 2
root = "{base}/root"
state = "{base}/state"
disabled_plugins = [
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
]

[grpc]
  address = "{sock}"

[ttrpc]
  address = "{sock}.ttrpc"

[debug]
  level = "debug"

[plugins."io.containerd.internal.v1.opt"]
  path = "{base}/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{pause_image}"
  disable_apparmor = true
  # This host lacks CAP_SYS_RESOURCE: without this the sandbox's oom_score_adj of -998
  # cannot be written and every RunPodSandbox fails.
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"

  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{base}/cni/bin"
    conf_dir = "{base}/cni/conf"

  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"

    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "{binary}"
        Root = "{default_root}"

    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.{handler}]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.{handler}.options]
        BinaryName = "{binary}"
        Root = "{handler_root}"

    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.{policy_handler}]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.{policy_handler}.options]
        BinaryName = "{policy_binary}"
        Root = "{policy_root}"
"""

# A CNI plugin that configures nothing and reports eth0 (or lo) with an address, so that pods
# with a network namespace of their own can run without real networking.
STUB_CNI = """#!/bin/sh
conf=$(cat)
v=$(printf '%s' "$conf" | sed -n 's/.*"cniVersion" *: *"\\([^"]*\\)".*/\\1/p' | head -n1)
case "$CNI_COMMAND" in
ADD)
    if [ "$CNI_IFNAME" = lo ]; then ip=127.0.0.1/8; else ip=10.88.77.2/24; fi
    printf '{"cniVersion":"%s","interfaces":[{"name":"%s","sandbox":"%s"}],"ips":[{"version":"4","address":"%s","interface":0}]}' "$v" "$CNI_IFNAME" "$CNI_NETNS" "$ip" ;;
VERSION)
    printf '{"cniVersion":"0.4.0","supportedVersions":["0.3.0","0.3.1","0.4.0"]}' ;;
esac
exit 0
"""


def runtime_under_test():
    binary = os.environ.get("WARD_RUNTIME") or os.path.join(REPO, "build", "ward")
    binary = os.path.abspath(binary)
    if not os.access(binary, os.X_OK):
        raise RuntimeError(f"runtime under test {binary!r} is not executable "
                           "(build ward or set WARD_RUNTIME)")
    return binary


# ---------------------------------------------------------------------------------------------
# cgroups


def cgroup_v1(controller):
    """The v1 hierarchy root for `controller`, or None on a pure cgroup v2 host."""
    p = os.path.join(CGROUP_ROOT, controller)
    return p if os.path.isdir(p) and os.path.exists(os.path.join(p, "tasks")) else None


def cgroup_v2_root():
    if os.path.exists(os.path.join(CGROUP_ROOT, "cgroup.controllers")):
        return CGROUP_ROOT
    return None


def remove_cgroup_tree(cg_path):
    """rmdir's `cg_path` and everything below it in every hierarchy; returns what stays."""
    left = []
    for d in cgroup_dirs(cg_path):
        for sub, _, _ in sorted(os.walk(d), key=lambda t: -len(t[0])):
            try:
                os.rmdir(sub)
            except OSError:
                left.append(sub)
    return left


def read(path):
    with open(path) as f:
        return f.read().strip()


# ---------------------------------------------------------------------------------------------
# processes


def wait_until(pred, timeout=10.0, interval=0.05):
    deadline = time.time() + timeout
    while True:
        v = pred()
        if v or time.time() > deadline:
            return v
        time.sleep(interval)


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


def shims_of(sock, ident=None):
    """Pids of containerd-shim-runc-v2 processes our containerd (at `sock`) started, optionally
    only those for container/sandbox `ident`."""
    out = []
    for d in glob.glob("/proc/[0-9]*"):
        args = [a.decode(errors="replace") for a in cmdline(d[6:])]
        if not args or not args[0].endswith("containerd-shim-runc-v2"):
            continue
        if "-address" not in args or args[args.index("-address") + 1] != sock:
            continue
        if ident is not None and ("-id" not in args or args[args.index("-id") + 1] != ident):
            continue
        out.append(int(d[6:]))
    return out


def run_in_pty(argv, timeout=CMD_TIMEOUT, input_data=None):
    """Runs `argv` with a fresh pty as its controlling terminal and stdio (what `script` does),
    returns (exit status, output with \\r removed)."""
    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    out = b""
    deadline = time.time() + timeout
    if input_data:
        os.write(fd, input_data)
    try:
        while time.time() < deadline:
            r, _, _ = select.select([fd], [], [], 0.2)
            if r:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
            else:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    # drain what is still buffered
                    try:
                        while select.select([fd], [], [], 0.1)[0]:
                            chunk = os.read(fd, 65536)
                            if not chunk:
                                break
                            out += chunk
                    except OSError:
                        pass
                    os.close(fd)
                    return os.waitstatus_to_exitcode(status), out.decode(errors="replace").replace("\r", "")
        else:
            os.kill(pid, signal.SIGKILL)
    finally:
        try:
            os.close(fd)
        except OSError:
            pass
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), out.decode(errors="replace").replace("\r", "")


# ---------------------------------------------------------------------------------------------
# the private containerd


class Containerd:
    """One private containerd and what it needs; helpers to drive it with ctr and to ask the
    runtime under test about its own state."""

    def __init__(self, binary, base, prefix):
        self.binary = binary
        self.base = base
        self.prefix = prefix                       # cgroup prefix owned by this session
        self.sock = os.path.join(base, "containerd.sock")
        self.config = os.path.join(base, "config.toml")
        self.log = os.path.join(base, "containerd.log")
        self.ctr_root = os.path.join(base, "ctr-runtime-root")      # ctr --runc-root
        self.handler_root = os.path.join(base, "restricted-root")   # CRI handler Root
        self.default_root = os.path.join(base, "default-root")      # CRI default runc Root
        self.policy_root = os.path.join(base, "policy-root")        # POLICY_HANDLER's Root
        self.policy_binary = os.path.join(base, "bin", "ward-restricted")
        self.policy_dir = os.path.join(base, "policy")              # WARD_POLICY_PATH
        self.rootfs = os.path.join(base, "rootfs")
        self.fifo_dir = os.path.join(base, "fifo")                  # ctr's stdio fifos
        self.proc = None
        self.n = 0

    # -- setup ------------------------------------------------------------------------------

    def build_images(self):
        images.build_rootfs(self.rootfs)
        pause_root = os.path.join(self.base, "pause-rootfs")
        for d in ("dev", "proc", "sys", "etc", "tmp"):
            os.makedirs(os.path.join(pause_root, d))
        images.build_pause(os.path.join(HERE, "pause.c"), os.path.join(pause_root, "pause"))
        self.busybox_tar = images.build_image_tar(
            self.rootfs, BUSYBOX_IMAGE, os.path.join(self.base, "busybox.tar"), cmd=["/bin/sh"])
        self.pause_tar = images.build_image_tar(
            pause_root, PAUSE_IMAGE, os.path.join(self.base, "pause.tar"), entrypoint=["/pause"])

    def setup_policy_and_cni(self):
        """ward-restricted -> the runtime under test; its "restricted" policy is the shipped one
        plus this containerd's root and state (where it keeps the pods' hosts, resolv.conf and
        shm files); the stub CNI plugin as the only network."""
        os.makedirs(os.path.dirname(self.policy_binary))
        os.symlink(self.binary, self.policy_binary)
        os.makedirs(self.policy_dir)
        with open(os.path.join(REPO, "profiles", "policy", "restricted.json")) as f:
            pol = json.load(f)
        pol["allowedHostPaths"] += [os.path.join(self.base, "root"), os.path.join(self.base, "state")]
        with open(os.path.join(self.policy_dir, "restricted.json"), "w") as f:
            json.dump(pol, f)
        for d in ("cni/bin", "cni/conf"):
            os.makedirs(os.path.join(self.base, d))
        for name in ("ward-test-cni", "loopback"):
            path = os.path.join(self.base, "cni", "bin", name)
            with open(path, "w") as f:
                f.write(STUB_CNI)
            os.chmod(path, 0o755)
        with open(os.path.join(self.base, "cni", "conf", "10-ward-test.conflist"), "w") as f:
            json.dump({"cniVersion": "0.4.0", "name": "ward-test",
                       "plugins": [{"type": "ward-test-cni"}]}, f)

    def start(self):
        self.setup_policy_and_cni()
        with open(self.config, "w") as f:
            f.write(CONFIG.format(base=self.base, sock=self.sock, binary=self.binary,
                                  pause_image=PAUSE_IMAGE, handler=HANDLER,
                                  handler_root=self.handler_root,
                                  default_root=self.default_root,
                                  policy_handler=POLICY_HANDLER,
                                  policy_binary=self.policy_binary,
                                  policy_root=self.policy_root))
        logf = open(self.log, "w")
        env = dict(os.environ, WARD_POLICY_PATH=self.policy_dir)
        self.proc = subprocess.Popen(["containerd", "--config", self.config],
                                     stdout=logf, stderr=subprocess.STDOUT, env=env,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        logf.close()
        ok = wait_until(lambda: self.proc.poll() is not None or
                        self.ctr("version", check=False, ns=None).returncode == 0, timeout=20)
        if self.proc.poll() is not None or not ok:
            raise RuntimeError(f"containerd did not start; log:\n{self.log_tail()}")
        for tar in (self.busybox_tar, self.pause_tar):
            self.ctr("images", "import", tar, ns=CRI_NS)
        self.ctr("namespaces", "create", CTR_NS, check=False)

    def log_tail(self, n=40):
        try:
            with open(self.log) as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    # -- helpers for tests ------------------------------------------------------------------

    def uid(self, what):
        self.n += 1
        return f"{what}-{self.n}-{secrets.token_hex(3)}"

    def ctr(self, *args, ns=CTR_NS, check=True, timeout=CMD_TIMEOUT, input=None, **kw):
        argv = ["ctr", "-a", self.sock] + (["-n", ns] if ns else []) + list(args)
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                           input=input, stdin=None if input is not None else subprocess.DEVNULL,
                           **kw)
        if check and p.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} failed ({p.returncode}):\n"
                                 f"stdout: {p.stdout}\nstderr: {p.stderr}")
        return p

    def ctr_run_argv(self, cid, cg, *cmd, detach=False, tty=False, rm=False, extra=()):
        """argv for `ctr run` on the local busybox rootfs with the runtime under test."""
        argv = ["ctr", "-a", self.sock, "-n", CTR_NS, "run"]
        argv += ["--rm"] if rm else []
        argv += ["-d"] if detach else []
        argv += ["-t"] if tty else []
        argv += ["--runc-binary", self.binary, "--runc-root", self.ctr_root, "--cgroup", cg]
        argv += ["--fifo-dir", self.fifo_dir]
        argv += list(extra)
        argv += ["--rootfs", self.rootfs, cid] + list(cmd)
        return argv

    def exec_argv(self, cid, exec_id, *cmd, tty=False, detach=False, extra=()):
        """argv for `ctr task exec` (fifos under the session's directory)."""
        argv = ["ctr", "-a", self.sock, "-n", CTR_NS, "task", "exec", "--fifo-dir",
                self.fifo_dir, "--exec-id", exec_id]
        argv += (["-t"] if tty else []) + (["-d"] if detach else []) + list(extra)
        return argv + [cid] + list(cmd)

    def exec(self, cid, exec_id, *cmd, check=True, detach=False, extra=()):
        argv = self.exec_argv(cid, exec_id, *cmd, detach=detach, extra=extra)
        p = subprocess.run(argv, capture_output=True, text=True, timeout=CMD_TIMEOUT,
                           stdin=subprocess.DEVNULL)
        if check and p.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} failed ({p.returncode}):\n"
                                 f"stdout: {p.stdout}\nstderr: {p.stderr}")
        return p

    def runtime(self, root, *args, check=False):
        """Runs the runtime under test itself with --root `root`."""
        return subprocess.run([self.binary, "--root", root] + list(args), capture_output=True,
                              text=True, timeout=CMD_TIMEOUT, stdin=subprocess.DEVNULL,
                              check=check)

    def runtime_state(self, root, cid):
        p = self.runtime(root, "state", cid)
        if p.returncode != 0:
            return None
        return json.loads(p.stdout)

    def task_status(self, cid, ns=CTR_NS):
        """STATUS column of `ctr task ls` for `cid` (RUNNING, PAUSED, STOPPED, ...) or None."""
        for line in self.ctr("task", "ls", ns=ns).stdout.splitlines()[1:]:
            f = line.split()
            if f and f[0] == cid:
                return f[2]
        return None

    # -- teardown ---------------------------------------------------------------------------

    def force_cleanup(self):
        """Best effort: removes every task and container still known to containerd."""
        if self.proc is None or self.proc.poll() is not None:
            return
        for ns in (CTR_NS, CRI_NS):
            p = self.ctr("task", "ls", "-q", ns=ns, check=False, timeout=20)
            for cid in p.stdout.split():
                self.ctr("task", "kill", "-a", "-s", "SIGKILL", cid, ns=ns, check=False,
                         timeout=20)
                wait_until(lambda: self.task_status(cid, ns) in (None, "STOPPED"), timeout=5)
                self.ctr("task", "rm", "-f", cid, ns=ns, check=False, timeout=20)
            p = self.ctr("container", "ls", "-q", ns=ns, check=False, timeout=20)
            for cid in p.stdout.split():
                self.ctr("container", "rm", cid, ns=ns, check=False, timeout=20)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        # Shims our containerd started outlive it by design; end them by pid.
        for pid in shims_of(self.sock):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass

    def unmount_all(self):
        mps = []
        with open("/proc/self/mountinfo") as f:
            for line in f:
                mp = line.split()[4]
                if mp == self.base or mp.startswith(self.base + "/"):
                    mps.append(mp)
        for mp in sorted(mps, key=len, reverse=True):
            subprocess.run(["umount", "-l", mp], capture_output=True)
        return mps


@pytest.fixture(scope="session")
def ctrd():
    if os.geteuid() != 0:
        pytest.exit("the containerd tests need root", returncode=2)
    for tool in ("containerd", "ctr", "containerd-shim-runc-v2", "gcc"):
        if shutil.which(tool) is None:
            pytest.exit(f"{tool} not found: run tests/containerd/deps.sh", returncode=2)
    try:
        binary = runtime_under_test()
    except RuntimeError as e:
        pytest.exit(str(e), returncode=2)
    # containerd 1.6's shims always put their sockets in /run/containerd/s; remove what we
    # made there if nothing else uses it.
    run_dirs = [d for d in ("/run/containerd/s", "/run/containerd/fifo",
                                           "/run/containerd") if not os.path.exists(d)]
    token = secrets.token_hex(4)
    base = tempfile.mkdtemp(prefix="ward-ctrd-")
    os.chmod(base, 0o711)
    c = Containerd(binary, base, f"/ward-test/ctrd-{token}")
    try:
        c.build_images()
        c.start()
        yield c
    finally:
        c.force_cleanup()
        c.stop()
        mounts = c.unmount_all()
        if os.environ.get("WARD_KEEP_LOGS"):
            shutil.copy(c.log, os.environ["WARD_KEEP_LOGS"])
        shutil.rmtree(base, ignore_errors=True)
        for d in run_dirs:
            try:
                os.rmdir(d)
            except OSError:
                pass
        left = remove_cgroup_tree(c.prefix)
        for h in cgroup_hierarchies():
            try:
                os.rmdir(os.path.join(h, "ward-test"))
            except OSError:
                pass
    # Mounts containerd itself left (sandbox /dev/shm) only follow from a pod that could not be
    # removed, which that test already reports; cgroups that stay are a leak of their own.
    if mounts:
        print(f"\nunmounted at the end (left by containerd): {mounts}", file=sys.stderr)
    assert not left, f"cgroup directories left under the suite prefix: {left}"


@pytest.fixture(scope="session")
def cri(ctrd):
    """CRI v1 stubs generated now from cri.proto with grpc_tools.protoc, connected to the
    private containerd."""
    try:
        import grpc
        from grpc_tools import protoc
    except ImportError as e:
        pytest.exit(f"python3-grpcio / python3-grpc-tools missing ({e}): run deps.sh",
                    returncode=2)
    gen = os.path.join(ctrd.base, "cri-gen")
    os.makedirs(gen)
    rc = protoc.main(["protoc", f"-I{HERE}", f"--python_out={gen}", f"--grpc_python_out={gen}",
                      os.path.join(HERE, "cri.proto")])
    assert rc == 0, "grpc_tools.protoc failed on cri.proto"
    sys.path.insert(0, gen)
    try:
        import cri_pb2
        import cri_pb2_grpc
    finally:
        sys.path.remove(gen)
    channel = grpc.insecure_channel("unix://" + ctrd.sock)

    class Client:
        pb = cri_pb2
        rt = cri_pb2_grpc.RuntimeServiceStub(channel)
        img = cri_pb2_grpc.ImageServiceStub(channel)
        RpcError = grpc.RpcError

    ok = wait_until(lambda: _cri_ready(Client), timeout=20)
    assert ok, f"CRI plugin not serving; containerd log:\n{ctrd.log_tail()}"
    yield Client
    channel.close()


def _cri_ready(c):
    try:
        c.rt.Version(c.pb.VersionRequest(version="v1"), timeout=5)
        return True
    except c.RpcError:
        return False


def pytest_report_header(config):
    try:
        b = runtime_under_test()
        v = subprocess.run([b, "--version"], capture_output=True, text=True).stdout
        return f"runtime under test: {b} ({v.splitlines()[0] if v else '?'})"
    except Exception as e:  # noqa: BLE001
        return f"runtime under test: unavailable ({e})"
