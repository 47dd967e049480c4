"""Runs an OCI runtime binary the way runc's CLI is driven and finds what a run left behind
(state entries, cgroup directories, mounts, processes). Shared by conformance/ and
tests/integration/."""

import glob
import json
import os
import signal
import subprocess
import time

CGROUP_ROOT = "/sys/fs/cgroup"
RUN_TIMEOUT = 30


def runtime_under_test():
    """The binary from WARD_RUNTIME (default build/ward); raises a clear error if missing."""
    default = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))), "build", "ward")
    path = os.environ.get("WARD_RUNTIME", default)
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise RuntimeError(f"runtime under test {path!r} does not exist or is not executable "
                           f"(set WARD_RUNTIME=/path/to/runtime)")
    return path


def reference_runtime():
    path = os.environ.get("WARD_REFERENCE", "/usr/bin/runc")
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise RuntimeError(f"reference runtime {path!r} does not exist (set WARD_REFERENCE)")
    return path


def version_line(binary):
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10)
        return (out.stdout.strip().splitlines() or [""])[0]
    except Exception:
        return ""


class Runtime:
    """One runtime binary with its own --root state directory."""

    def __init__(self, binary, root, marker, extra_global=()):
        self.binary = binary
        self.root = root
        self.marker = marker
        self.extra_global = list(extra_global)
        os.makedirs(root, exist_ok=True)

    def argv(self, *args):
        return [self.binary, "--root", self.root, *self.extra_global, *args]

    def env(self):
        env = dict(os.environ)
        # Processes spawned for a test carry this marker so that leftovers can be found by it.
        env["WARD_TEST_MARK"] = self.marker
        return env

    def run(self, *args, input=None, timeout=RUN_TIMEOUT, check=False, stdin=None, **kw):
        """Runs `binary --root R args...`; returns CompletedProcess with text stdout/stderr."""
        if stdin is None and input is None:
            stdin = subprocess.DEVNULL
        p = subprocess.run(self.argv(*args), input=input, stdin=stdin, capture_output=True,
                           text=True, timeout=timeout, env=self.env(), **kw)
        if check and p.returncode != 0:
            raise AssertionError(f"{' '.join(self.argv(*args))} exited {p.returncode}: "
                                 f"{p.stderr.strip()}")
        return p

    def popen(self, *args, **kw):
        kw.setdefault("stdin", subprocess.DEVNULL)
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.PIPE)
        return subprocess.Popen(self.argv(*args), env=self.env(), **kw)

    def state(self, cid):
        p = self.run("state", cid)
        if p.returncode != 0:
            return None
        return json.loads(p.stdout)



def wait_for(pred, timeout, step=0.05):
    """Polls pred() until it returns something true or `timeout` s pass; returns the last value."""
    deadline = time.time() + timeout
    while True:
        v = pred()
        if v or time.time() > deadline:
            return v
        time.sleep(step)


def read(path, default=None):
    """The text of `path`; `default` instead when it cannot be read (raises if default is None)."""
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        if default is None:
            raise
        return default


def kv(text):
    """Parses 'key value' lines (cpu.stat, memory.events, memory.oom_control...) into a dict of ints."""
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                out[parts[0]] = int(parts[1])
            except ValueError:
                pass
    return out


def cgroup_hierarchies():
    """Every mounted cgroup hierarchy root under /sys/fs/cgroup (v1 controllers and unified)."""
    roots = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            if fields[sep + 1] in ("cgroup", "cgroup2") and fields[4].startswith(CGROUP_ROOT):
                roots.append(fields[4])
    return sorted(set(roots))


def cgroup_dirs(cg_path):
    """Existing directories for absolute cgroup path `cg_path` in any hierarchy."""
    rel = cg_path.strip("/")
    return [os.path.join(h, rel) for h in cgroup_hierarchies()
            if os.path.isdir(os.path.join(h, rel))]


def mounts_referencing(path):
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            if path in line:
                out.append(line.strip())
    return out


def marked_processes(marker):
    """Pids (other than ours) whose environment carries the session marker."""
    needle = ("WARD_TEST_MARK=" + marker).encode()
    pids = []
    me = os.getpid()
    for d in glob.glob("/proc/[0-9]*"):
        pid = int(d[6:])
        if pid == me:
            continue
        try:
            with open(d + "/environ", "rb") as f:
                env = f.read()
        except OSError:
            continue
        if needle in env:
            try:
                with open(d + "/stat") as f:
                    st = f.read()
                if st[st.rindex(")") + 2] == "Z":
                    continue  # a zombie we have not reaped yet is not a leak of the runtime
            except (OSError, ValueError):
                continue
            pids.append(pid)
    return pids


def leftovers(marker, state_roots=(), cg_paths=(), paths=(), wait=2.0):
    """Describes what is left behind; waits up to `wait` s for things that go away by themselves."""
    deadline = time.time() + wait
    while True:
        found = []
        for r in state_roots:
            if os.path.isdir(r):
                # @seccomp-cache: ward's cache of compiled seccomp programs, not a container
                found += [f"state entry {os.path.join(r, e)}" for e in os.listdir(r)
                          if e != "@seccomp-cache"]
        for cg in cg_paths:
            found += [f"cgroup dir {d}" for d in cgroup_dirs(cg)]
        for p in paths:
            found += [f"mount {m}" for m in mounts_referencing(p)]
        found += [f"process {pid} ({_comm(pid)})" for pid in marked_processes(marker)]
        if not found or time.time() > deadline:
            return found
        time.sleep(0.05)


def _comm(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


def cleanup(marker, state_roots=(), cg_paths=(), paths=(), runtimes=()):
    """Best effort removal of leftovers so that one failure does not cascade into others."""
    for rt in runtimes:
        if os.path.isdir(rt.root):
            for cid in os.listdir(rt.root):
                if cid == "@seccomp-cache":
                    continue
                try:
                    rt.run("delete", "--force", cid, timeout=10)
                except Exception:
                    pass
    for pid in marked_processes(marker):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    time.sleep(0.05)
    for p in paths:
        for m in reversed(mounts_referencing(p)):
            mp = m.split()[4]
            subprocess.run(["umount", "-l", mp], capture_output=True)
    for cg in cg_paths:
        for d in sorted(cgroup_dirs(cg), key=len, reverse=True):
            for sub, _, _ in sorted(os.walk(d), key=lambda t: -len(t[0])):
                try:
                    os.rmdir(sub)
                except OSError:
                    pass
    for r in state_roots:
        if os.path.isdir(r):
            for e in os.listdir(r):
                subprocess.run(["rm", "-rf", os.path.join(r, e)])


def remove_cgroup_prefix(prefix):
    """Removes the suite's own (now empty) prefix directories; returns those that stay."""
    left = []
    for d in cgroup_dirs(prefix):
        for sub, _, _ in sorted(os.walk(d), key=lambda t: -len(t[0])):
            try:
                os.rmdir(sub)
            except OSError:
                left.append(sub)
    return left
