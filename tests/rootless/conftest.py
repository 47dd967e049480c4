"""Fixtures for the rootless tests: a throwaway user with subordinate ids (created with useradd,
removed with userdel afterwards), a world-readable copy of the runtime under test, and a helper
that runs commands as that user through runuser with its own HOME and XDG_RUNTIME_DIR."""

import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

RUN_TIMEOUT = 120


def pytest_configure(config):
    config.addinivalue_line("markers", "ward_only: checks ward's own wording; skipped unless "
                                       "the runtime's --version starts with 'ward'")


def _subid_lines(name):
    out = {}
    for f in ("/etc/subuid", "/etc/subgid"):
        with open(f) as fh:
            out[f] = [l.strip() for l in fh if l.split(":")[0] == name]
    return out


def _free_subid_start():
    end = 100000
    for f in ("/etc/subuid", "/etc/subgid"):
        with open(f) as fh:
            for l in fh:
                p = l.strip().split(":")
                if len(p) == 3 and p[1].isdigit() and p[2].isdigit():
                    end = max(end, int(p[1]) + int(p[2]))
    return end


def alive(pid):
    """True while `pid` runs (a zombie has finished)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def user_pids(uid, subid_start=None, subid_count=0):
    """Processes owned by the test user or by one of its subordinate uids."""
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            st = os.stat(f"/proc/{d}")
        except OSError:
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    continue  # dead, waiting for its parent (pid 1 here) to reap it
        except (OSError, IndexError):
            continue
        if st.st_uid == uid:
            pids.append(int(d))
        elif subid_start is not None and subid_start <= st.st_uid < subid_start + subid_count:
            # Another suite's container may use the same host ids: count only processes in a
            # user namespace that maps the test user's own uid (one it created).
            try:
                with open(f"/proc/{d}/uid_map") as f:
                    if any(l.split()[1:2] == [str(uid)] for l in f):
                        pids.append(int(d))
            except OSError:
                pass
    return pids


class User:
    def __init__(self, base, runtime):
        self.name = "wardrl" + secrets.token_hex(4)
        start = _free_subid_start()
        self.subid_start, self.subid_count = start, 65536
        subprocess.run(["useradd", "--no-create-home", "--home-dir", os.path.join(base, "home"),
                        "--shell", "/bin/sh", self.name], check=True)
        # useradd adds subordinate ids for a regular user (SUB_UID_MIN in login.defs); make the
        # range ours either way so the test knows it.
        subprocess.run(["usermod", "--del-subuids", "1-4294967294", "--del-subgids", "1-4294967294",
                        self.name], check=False, capture_output=True)
        subprocess.run(["usermod", "--add-subuids", f"{start}-{start + self.subid_count - 1}",
                        "--add-subgids", f"{start}-{start + self.subid_count - 1}", self.name], check=True)
        pw = pwd.getpwnam(self.name)
        self.uid, self.gid = pw.pw_uid, pw.pw_gid
        self.base = base
        self.home = os.path.join(base, "home")
        self.xdg = os.path.join(base, "xdg")
        for d in (self.home, self.xdg):
            os.makedirs(d)
            os.chown(d, self.uid, self.gid)
        os.chmod(self.xdg, 0o700)
        self.runtime = runtime
        self.runtime_name = "ward" if os.path.basename(runtime).startswith("ward") else os.path.basename(runtime)

    def env(self):
        return ["env", "-i", f"HOME={self.home}", f"XDG_RUNTIME_DIR={self.xdg}", f"USER={self.name}",
                f"LOGNAME={self.name}", "PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"]

    def run(self, *argv, cwd=None, input=None, timeout=RUN_TIMEOUT, detached=False):
        """Runs argv as the user; returns the CompletedProcess (text). `detached`: for commands
        whose children keep stdio open (run -d): stdio go to files, read once it returns."""
        if detached:
            out, err = os.path.join(self.base, "out"), os.path.join(self.base, "err")
            with open(out, "w") as o, open(err, "w") as e:
                p = subprocess.run(["runuser", "-u", self.name, "--", *self.env(), *argv], cwd=cwd,
                                   stdin=subprocess.DEVNULL, stdout=o, stderr=e, timeout=timeout)
            with open(out) as o, open(err) as e:
                return subprocess.CompletedProcess(p.args, p.returncode, o.read(), e.read())
        return subprocess.run(["runuser", "-u", self.name, "--", *self.env(), *argv], cwd=cwd,
                              input=input, capture_output=True, text=True, timeout=timeout,
                              stdin=None if input is not None else subprocess.DEVNULL)

    def ward(self, *args, **kw):
        return self.run(self.runtime, *args, **kw)

    def mkdir(self, *p, mode=0o755):
        d = os.path.join(self.base, *p)
        os.makedirs(d, exist_ok=True)
        os.chown(d, self.uid, self.gid)
        os.chmod(d, mode)
        return d

    def pids(self):
        return user_pids(self.uid, self.subid_start, self.subid_count)

    def remove(self):
        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        deadline = time.time() + 5
        while self.pids() and time.time() < deadline:
            time.sleep(0.05)
        subprocess.run(["userdel", self.name], check=False, capture_output=True)
        # userdel removes the subordinate ids too; make sure.
        for f in ("/etc/subuid", "/etc/subgid"):
            with open(f) as fh:
                keep = [l for l in fh if l.split(":")[0] != self.name]
            with open(f, "w") as fh:
                fh.writelines(keep)


@pytest.fixture(scope="session")
def runtime_binary():
    if os.geteuid() != 0:
        pytest.exit("the rootless tests need root (to create a test user)", returncode=2)
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return os.environ.get("WARD_RUNTIME", os.path.join(repo, "build", "ward"))


@pytest.fixture(scope="session")
def version(runtime_binary):
    return subprocess.run([runtime_binary, "--version"], capture_output=True, text=True).stdout


@pytest.fixture(autouse=True)
def _ward_only(request, version):
    if request.node.get_closest_marker("ward_only") and not version.startswith("ward"):
        pytest.skip(f"ward-specific wording; runtime under test is {version.splitlines()[:1]}")


@pytest.fixture
def user(runtime_binary):
    base = tempfile.mkdtemp(prefix="ward-rootless-")
    os.chmod(base, 0o755)
    # A copy the user can execute, whatever the permissions above the build directory.
    rt = os.path.join(base, os.path.basename(runtime_binary))
    shutil.copy2(runtime_binary, rt)
    os.chmod(rt, 0o755)
    u = User(base, rt)
    try:
        yield u
    finally:
        left = u.pids()
        u.remove()
        name = u.name
        shutil.rmtree(base, ignore_errors=True)
        with open("/etc/passwd") as fh:
            assert not any(l.startswith(name + ":") for l in fh), "test user left in /etc/passwd"
        assert not _subid_lines(name)["/etc/subuid"], "test user left in /etc/subuid"
        assert not left, f"processes of the test user left: {left}"


def busybox_rootfs(user, *p):
    root = user.mkdir(*p)
    os.makedirs(os.path.join(root, "bin"), exist_ok=True)
    shutil.copy2("/bin/busybox", os.path.join(root, "bin", "busybox"))
    for c in ("sh", "cat", "id", "touch", "ls", "sleep", "echo", "stat"):
        os.symlink("busybox", os.path.join(root, "bin", c))
    for d in ("proc", "dev", "sys", "tmp", "share"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    subprocess.run(["chown", "-R", f"{user.uid}:{user.gid}", root], check=True)
    return root


def one_line_error(stderr):
    lines = [l for l in stderr.splitlines() if l.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}: {stderr!r}"
    return lines[0]
