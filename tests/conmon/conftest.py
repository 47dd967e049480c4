"""Fixtures for the conmon tests: run the runtime under test (WARD_RUNTIME, default build/ward)
under conmon the way podman does, and call the runtime directly for what the engine does itself
(start, state, kill, pause, resume, update, delete --force).

conmon double-forks and its monitor outlives the command that started it. This process makes
itself a child subreaper so that the monitor (and anything else that gets orphaned) is
reparented here, can be waited for by pid and is never left as a zombie of the host's init.
Everything a test creates (state entries, cgroups, processes) is checked to be gone after it."""

import ctypes
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "conformance", "lib"))

import bundle as bundle_lib  # noqa: E402
import harness  # noqa: E402

CONMON = shutil.which("conmon") or "/usr/bin/conmon"
CMD_TIMEOUT = 30

PR_SET_CHILD_SUBREAPER = 36
_libc = ctypes.CDLL(None, use_errno=True)
if _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
    raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def wait_until(pred, timeout=10.0, interval=0.05):
    deadline = time.time() + timeout
    while True:
        v = pred()
        if v or time.time() > deadline:
            return v
        time.sleep(interval)


def read(path):
    with open(path) as f:
        return f.read()


def alive(pid):
    """True while `pid` exists and is not a zombie."""
    try:
        st = read(f"/proc/{pid}/stat")
    except OSError:
        return False
    return st[st.rindex(")") + 2] != "Z"


def reap(pid):
    """Collects `pid` if it is our (possibly adopted) child and has exited; True when gone."""
    try:
        got, _ = os.waitpid(pid, os.WNOHANG)
        if got == pid:
            return True
    except ChildProcessError:
        pass
    return not alive(pid)


class Conmon:
    """One conmon invocation (create or exec) and what it reported."""

    def __init__(self, session, cid, uuid, bundle_dir, exec_spec=None, terminal=False,
                 extra=()):
        self.session = session
        self.cid = cid
        self.uuid = uuid
        d = os.path.join(session.base, "c", uuid)
        os.makedirs(d, exist_ok=True)
        self.dir = d
        self.log_path = os.path.join(d, "ctr.log")
        self.runtime_log = os.path.join(d, "oci-log")
        self.pid_file = os.path.join(d, "pidfile")
        self.conmon_pid_file = os.path.join(d, "conmon.pid")
        # podman creates the persist dir beforehand; conmon exits (silently, its stderr is
        # gone by then) when it cannot write the exit file there.
        self.persist = os.path.join(d, "persist")
        os.makedirs(self.persist, exist_ok=True)
        # conmon names the exit file after the container (-c), so podman gives each exec
        # session an exit dir of its own; containers share the engine's exit dir.
        exit_dir = session.exit_dir
        if exec_spec is not None:
            exit_dir = os.path.join(d, "exit")
            os.makedirs(exit_dir, exist_ok=True)
        self.exit_file = os.path.join(exit_dir, cid)
        # What podman's ConmonOCIRuntime.createOCIContainer / ExecContainer pass.
        self.argv = [CONMON, "--api-version", "1",
                     "-c", cid, "-u", uuid, "-r", session.runtime, "-b", bundle_dir,
                     "-p", self.pid_file, "-n", cid,
                     "--exit-dir", exit_dir,
                     "--persist-dir", self.persist,
                     "--socket-dir-path", session.sock_dir,
                     "-l", "k8s-file:" + self.log_path,
                     "--log-level", "debug",
                     "--conmon-pidfile", self.conmon_pid_file,
                     "--runtime-arg", "--root", "--runtime-arg", session.root,
                     "--runtime-arg", "--log-format=json",
                     "--runtime-arg", "--log", "--runtime-arg=" + self.runtime_log]
        if terminal:
            self.argv.append("-t")
        if exec_spec is not None:
            self.argv += ["--exec", "--exec-process-spec", exec_spec]
        self.argv += list(extra)
        self.rc = None
        self.stderr_path = None
        self.messages = []
        self.monitor_pid = None

    def launch(self, timeout=CMD_TIMEOUT):
        """Starts conmon with a SOCK_SEQPACKET sync pipe on fd 3 (as podman does), waits for the
        launcher to return and for the first sync message; returns that message (a dict)."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        fd = theirs.fileno()

        def child():
            os.dup2(fd, 3)

        env = dict(os.environ, _OCI_SYNCPIPE="3", WARD_TEST_MARK=self.session.marker)
        env.pop("_OCI_STARTPIPE", None)
        # conmon's own stderr goes to a file: its monitor keeps writing there after the
        # launcher returns.
        self.stderr_path = os.path.join(self.dir, "conmon.stderr")
        with open(self.stderr_path, "w") as errf:
            p = subprocess.Popen(self.argv, env=env, preexec_fn=child, pass_fds=(3,),
                                 stdin=subprocess.DEVNULL, stdout=errf, stderr=errf)
        theirs.close()
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        self.rc = p.returncode
        try:
            self.monitor_pid = int(read(self.conmon_pid_file).strip())
        except (OSError, ValueError):
            self.monitor_pid = None
        ours.settimeout(timeout)
        self._sync = ours
        return self.next_message()

    def next_message(self, timeout=CMD_TIMEOUT):
        """The next JSON message on the sync pipe, or None at EOF."""
        self._sync.settimeout(timeout)
        try:
            data = self._sync.recv(65536)
        except (socket.timeout, OSError):
            return None
        if not data:
            return None
        msg = json.loads(data.decode())
        self.messages.append(msg)
        return msg

    @property
    def stderr(self):
        """What conmon (launcher and monitor) wrote on its stderr so far."""
        try:
            return read(self.stderr_path)
        except (OSError, TypeError):
            return ""

    def container_pid(self):
        return int(read(self.pid_file).strip())

    def wait_exit(self, timeout=CMD_TIMEOUT):
        """Waits for conmon to write the exit file and for the monitor to exit; returns the exit
        code it recorded."""
        assert wait_until(lambda: os.path.exists(self.exit_file) and
                          read(self.exit_file).strip() != "", timeout), \
            f"conmon wrote no exit file {self.exit_file}; conmon stderr: {self.stderr!r}"
        if self.monitor_pid:
            assert wait_until(lambda: reap(self.monitor_pid), timeout), \
                f"conmon {self.monitor_pid} still running after the container exited"
        return int(read(self.exit_file).strip())

    def log_lines(self):
        """The k8s-file log as (stream, text) tuples, partial lines joined."""
        out, cur = [], {}
        if not os.path.exists(self.log_path):
            return out
        for line in read(self.log_path).splitlines():
            parts = line.split(" ", 3)
            if len(parts) < 3:
                continue
            stream, tag = parts[1], parts[2]
            text = parts[3] if len(parts) > 3 else ""
            cur[stream] = cur.get(stream, "") + text
            if tag == "F":
                out.append((stream, cur.pop(stream)))
        return out

    def log_text(self):
        return "\n".join(t for _, t in self.log_lines())

    def close(self):
        if getattr(self, "_sync", None):
            self._sync.close()
            self._sync = None
        if self.monitor_pid and not reap(self.monitor_pid):
            try:
                os.kill(self.monitor_pid, signal.SIGKILL)
            except OSError:
                pass
            wait_until(lambda: reap(self.monitor_pid), 5)


class Session:
    def __init__(self, base, runtime):
        self.base = base
        self.runtime = runtime
        self.token = secrets.token_hex(3)
        self.marker = "conmon-" + self.token
        self.root = os.path.join(base, "root")
        self.exit_dir = os.path.join(base, "exits")
        self.sock_dir = os.path.join(base, "s")
        self.cg_prefix = f"/ward-conmon-{self.token}"
        for d in (self.root, self.exit_dir, self.sock_dir):
            os.makedirs(d, exist_ok=True)
        self.rt = harness.Runtime(runtime, self.root, self.marker)
        self.n = 0
        self.conmons = []
        self.cg_paths = []

    def new_id(self, what):
        self.n += 1
        return f"{what}-{self.token}-{self.n}"

    def bundle(self, cid, args, terminal=False):
        cg = f"{self.cg_prefix}/{cid}"
        self.cg_paths.append(cg)
        b = bundle_lib.Bundle(os.path.join(self.base, "b", cid), cg, args=args,
                              marker=self.marker)
        b.config["process"]["terminal"] = terminal
        return b

    def conmon(self, cid, bundle_dir, uuid=None, **kw):
        c = Conmon(self, cid, uuid or cid, bundle_dir, **kw)
        self.conmons.append(c)
        return c

    def call(self, *args, check=True, **kw):
        """The runtime called directly, as the engine does: BIN --root R args..."""
        return self.rt.run(*args, check=check, **kw)

    def state(self, cid):
        return self.rt.state(cid)

    def leftovers(self):
        found = harness.leftovers(self.marker, state_roots=[self.root],
                                  cg_paths=self.cg_paths, wait=3.0)
        found += [f"conmon {c.monitor_pid} ({c.cid})" for c in self.conmons
                  if c.monitor_pid and not wait_until(lambda: reap(c.monitor_pid), 3)]
        return found

    def cleanup(self):
        for c in self.conmons:
            c.close()
        harness.cleanup(self.marker, state_roots=[self.root], cg_paths=self.cg_paths,
                        runtimes=[self.rt])
        self.conmons = []


@pytest.fixture(scope="session")
def runtime():
    return harness.runtime_under_test()


@pytest.fixture(scope="session")
def base_dir():
    # Short: conmon's attach socket path must fit in sockaddr_un.
    d = tempfile.mkdtemp(prefix="wcm-", dir="/tmp")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def session(runtime, base_dir):
    """A fresh state root, exit dir and cgroup prefix per test; asserts nothing is left."""
    s = Session(tempfile.mkdtemp(dir=base_dir), runtime)
    yield s
    left = s.leftovers()
    s.cleanup()
    prefix_left = harness.remove_cgroup_prefix(s.cg_prefix)
    assert not left, "left behind after the test:\n  " + "\n  ".join(left)
    assert not prefix_left, f"cgroup prefix not removable: {prefix_left}"
