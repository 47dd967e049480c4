"""linux.seccomp in real containers: every action observed from inside (ERRNO with its errnoRet,
KILL/KILL_THREAD/KILL_PROCESS, TRAP, LOG, NOTIFY answered by a listener in this process),
argument filters with every operator, and ward's default profile (profiles/seccomp/default.json)
running ordinary work while refusing mount, unshare, kexec_load, bpf, ptrace and keyctl.
The container's process is tests/integration/helpers/sysprobe.c, which prints one line per
syscall it makes; see that file for its actions. Developed against runc 1.1.5."""

import array
import ctypes
import json
import os
import select
import socket
import struct
import threading

import pytest

import confinement_lib as cl
from conftest import REPO, probe_report

DEFAULT_PROFILE = os.path.join(REPO, "profiles", "seccomp", "default.json")


@pytest.fixture(scope="session")
def sysprobe(session):
    return cl.build_sysprobe(os.path.join(session["base"], "helpers"))


def sys_bundle(env, sysprobe, args, seccomp=None, name=None):
    b = env.bundle(["/sysprobe", *args], name=name)
    cl.add_sysprobe(b, sysprobe)
    if seccomp is not None:
        b.config["linux"]["seccomp"] = seccomp
    return b


def mkdir_rule(action, **kw):
    r = {"names": ["mkdir", "mkdirat"], "action": action}
    r.update(kw)
    return r


# --- actions -------------------------------------------------------------------------------

def test_no_filter_baseline(env, sysprobe):
    """Without linux.seccomp the helper's calls behave as the kernel says (read-only root)."""
    b = sys_bundle(env, sysprobe, ["mkdir", "/x", "getppid"])
    rc, out, err = cl.run_fg(env, b)
    assert rc == 0, err
    assert cl.result(out, "mkdir") == (-1, cl.EROFS)
    assert cl.result(out, "getppid")[0] == 0  # pid 1's parent is outside the pid namespace


def test_filter_mode_reported(env):
    b = env.bundle(["/probe"])
    b.config["linux"]["seccomp"] = cl.seccomp(syscalls=[mkdir_rule("SCMP_ACT_ERRNO")])
    rc, out, err = cl.run_fg(env, b)
    assert rc == 0, err
    assert str(probe_report(out)["status"]["Seccomp"]) == "2"


def test_errno_default_eperm(env, sysprobe):
    b = sys_bundle(env, sysprobe, ["mkdir", "/x", "getppid"],
                   cl.seccomp(syscalls=[mkdir_rule("SCMP_ACT_ERRNO")]))
    rc, out, err = cl.run_fg(env, b)
    assert rc == 0, err
    assert cl.result(out, "mkdir") == (-1, cl.EPERM)
    assert cl.result(out, "getppid") == (0, 0)


@pytest.mark.parametrize("errno_ret", [cl.EACCES, cl.EXDEV, 200])
def test_errno_ret(env, sysprobe, errno_ret):
    b = sys_bundle(env, sysprobe, ["mkdir", "/x"],
                   cl.seccomp(syscalls=[mkdir_rule("SCMP_ACT_ERRNO", errnoRet=errno_ret)]))
    rc, out, err = cl.run_fg(env, b)
    assert rc == 0, err
    assert cl.result(out, "mkdir") == (-1, errno_ret)


def test_default_errno_ret(env, sysprobe):
    """defaultAction ERRNO with defaultErrnoRet: an unlisted syscall gets that errno."""
    prof = cl.load_json(DEFAULT_PROFILE)
    prof["defaultErrnoRet"] = cl.EXDEV
    b = sys_bundle(env, sysprobe, ["kexec_load", "getppid"], prof)
    rc, out, err = cl.run_fg(env, b)
    assert rc == 0, err
    assert cl.result(out, "kexec_load") == (-1, cl.EXDEV)
    assert cl.result(out, "getppid") == (0, 0)


def test_default_action_errno_with_allowlist(env, sysprobe):
    """defaultAction ERRNO (EPERM) denies what the list does not name."""
    prof = cl.load_json(DEFAULT_PROFILE)
    for s in prof["syscalls"]:
        s["names"] = [n for n in s["names"] if n != "getppid"]
    b = sys_bundle(env, sysprobe, ["getppid", "mkdir", "/x"], prof)
    rc, out, err = cl.run_fg(env, b)
    assert rc == 0, err
    assert cl.result(out, "getppid") == (-1, cl.EPERM)
    assert cl.result(out, "mkdir") == (-1, cl.EROFS)


@pytest.mark.parametrize("action", ["SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD",
                                    "SCMP_ACT_KILL_PROCESS"])
def test_kill_single_thread(env, sysprobe, action):
    """The killed process dies of SIGSYS: `run` exits 128+31, nothing after the call runs."""
    b = sys_bundle(env, sysprobe, ["mark", "before", "mkdir", "/x", "mark", "after"],
                   cl.seccomp(syscalls=[mkdir_rule(action)]))
    rc, out, err = cl.run_fg(env, b)
    assert rc == 128 + cl.SIGSYS, (rc, out, err)
    assert "mark before" in out and "after" not in out and "mkdir " not in out


@pytest.mark.parametrize("action,survives", [("SCMP_ACT_KILL", True),
                                             ("SCMP_ACT_KILL_THREAD", True),
                                             ("SCMP_ACT_KILL_PROCESS", False)])
def test_kill_in_thread(env, sysprobe, action, survives):
    """KILL (= KILL_THREAD) ends only the calling thread; KILL_PROCESS ends the process."""
    b = sys_bundle(env, sysprobe, ["thread-mkdir", "/x", "mark", "after"],
                   cl.seccomp(syscalls=[mkdir_rule(action)]))
    rc, out, err = cl.run_fg(env, b)
    assert "thread-mkdir " not in out
    if survives:
        assert rc == 0, (rc, out, err)
        assert "joined 0 0" in out and "mark after" in out
    else:
        assert rc == 128 + cl.SIGSYS, (rc, out, err)
        assert "joined" not in out


def test_sigsys_deliverable_at_exec(env):
    """A TRAP can only be handled if SIGSYS is neither blocked nor ignored when the process
    starts (the kernel forces a blocked or ignored SIGSYS to kill). runc starts the process with
    an empty signal mask, as execve(2) callers normally do."""
    b = env.bundle(["/bin/grep", "^Sig[BI]", "/proc/self/status"])
    cl.add_applets(b, "grep")
    rc, out, err = cl.run_fg_bounded(env, b)
    assert rc == 0, err
    st = dict(l.split(":\t") for l in out.splitlines())
    assert int(st["SigBlk"], 16) == 0, f"signals blocked at exec: SigBlk {st['SigBlk']}"
    assert not int(st["SigIgn"], 16) >> (cl.SIGSYS - 1) & 1, f"SIGSYS ignored: {st['SigIgn']}"


def test_trap_unhandled(env, sysprobe):
    b = sys_bundle(env, sysprobe, ["mark", "before", "mkdir", "/x", "mark", "after"],
                   cl.seccomp(syscalls=[mkdir_rule("SCMP_ACT_TRAP")]))
    rc, out, err = cl.run_fg(env, b)
    assert rc == 128 + cl.SIGSYS, (rc, out, err)
    assert "mark before" in out and "after" not in out


def test_trap_handled(env, sysprobe):
    """SIGSYS is delivered with si_code SYS_SECCOMP (1) and the syscall number; the syscall
    itself does not run (the kernel leaves the syscall number in the return register, so the
    real syscall's EROFS is absent) and the process goes on."""
    b = sys_bundle(env, sysprobe, ["sigsys-handler", "mkdir", "/x", "mark", "after"],
                   cl.seccomp(syscalls=[mkdir_rule("SCMP_ACT_TRAP")]))
    rc, out, err = cl.run_fg(env, b)
    assert rc == 0, (rc, out, err)
    sig = [l.split() for l in out.splitlines() if l.startswith("SIGSYS ")]
    assert sig and sig[0][1] == "1" and sig[0][2] == "83", out  # SYS_SECCOMP, __NR_mkdir
    assert int(sig[0][3]) == 0xC000003E  # AUDIT_ARCH_X86_64
    assert cl.result(out, "mkdir")[1] != cl.EROFS
    assert "mark after" in out


def test_log_allows(env, sysprobe):
    b = sys_bundle(env, sysprobe, ["mkdir", "/tmp/x", "getppid"],
                   cl.seccomp(syscalls=[mkdir_rule("SCMP_ACT_LOG"),
                                        {"names": ["getppid"], "action": "SCMP_ACT_LOG"}]))
    b.config["root"]["readonly"] = False
    rc, out, err = cl.run_fg(env, b)
    assert rc == 0, err
    assert cl.result(out, "mkdir") == (0, 0)
    assert cl.result(out, "getppid") == (0, 0)
    assert os.path.isdir(os.path.join(b.rootfs, "tmp", "x"))


def test_allow_overrides_errno_default(env, sysprobe):
    """An explicit ALLOW for a syscall wins over a broader ERRNO default."""
    prof = cl.load_json(DEFAULT_PROFILE)
    prof["syscalls"].append({"names": ["unshare"], "action": "SCMP_ACT_ALLOW"})
    b = sys_bundle(env, sysprobe, ["unshare", "bpf"], prof)
    rc, out, err = cl.run_fg(env, b)
    assert rc == 0, err
    assert cl.result(out, "unshare") == (0, 0)
    assert cl.result(out, "bpf") == (-1, cl.EPERM)


# Syscalls added to x86_64 after Linux 5.2 (pidfd_send_signal, 424, and later): a profile
# without them is one written before clone3 (435) and faccessat2 (439) existed.
SINCE_5_3 = {
    "pidfd_send_signal", "io_uring_setup", "io_uring_enter", "io_uring_register", "open_tree",
    "move_mount", "fsopen", "fsconfig", "fsmount", "fspick", "pidfd_open", "clone3",
    "close_range", "openat2", "pidfd_getfd", "faccessat2", "process_madvise", "epoll_pwait2",
    "mount_setattr", "quotactl_fd", "landlock_create_ruleset", "landlock_add_rule",
    "landlock_restrict_self", "memfd_secret", "process_mrelease", "futex_waitv",
    "set_mempolicy_home_node", "cachestat", "fchmodat2", "map_shadow_stack", "futex_wake",
    "futex_wait", "futex_requeue", "statmount", "listmount", "lsm_get_self_attr",
    "lsm_set_self_attr", "lsm_list_modules", "mseal", "setxattrat", "getxattrat",
    "listxattrat", "removexattrat", "open_tree_attr"}


def test_newer_syscalls_enosys_so_glibc_falls_back(env, sysprobe):
    """A deny-by-default profile older than clone3 and faccessat2 (issue 15, item 15): those
    syscalls get ENOSYS, not the default errno (runc's patchbpf stub), so glibc falls back to
    clone and to its faccessat emulation: a thread starts and faccessat(AT_EACCESS) works.
    Older syscalls the profile leaves out keep the default EPERM."""
    prof = cl.load_json(DEFAULT_PROFILE)
    for s in prof["syscalls"]:
        s["names"] = [n for n in s["names"] if n not in SINCE_5_3]
    prof["syscalls"] = [s for s in prof["syscalls"] if s["names"]]
    b = sys_bundle(env, sysprobe, ["thread", "faccessat-eaccess", "/sysprobe",
                                   "syscall", "435", "syscall", "439", "syscall", "1000",
                                   "kexec_load", "getppid"], prof)
    rc, out, err = cl.run_fg(env, b)
    assert rc == 0, (rc, out, err)
    assert cl.result(out, "thread") == (0, 0), out
    assert cl.result(out, "faccessat-eaccess") == (0, 0), out
    for i in range(3):  # clone3, faccessat2, a number no kernel has yet
        assert cl.result(out, "syscall", i) == (-1, cl.ENOSYS), out
    assert cl.result(out, "kexec_load") == (-1, cl.EPERM), out
    assert cl.result(out, "getppid") == (0, 0), out


def test_newer_syscalls_keep_an_enosys_default(env, sysprobe):
    """defaultErrnoRet ENOSYS already says 'unknown syscall': every unlisted call gets it."""
    prof = cl.load_json(DEFAULT_PROFILE)
    prof["defaultErrnoRet"] = cl.ENOSYS
    b = sys_bundle(env, sysprobe, ["kexec_load", "syscall", "1000"], prof)
    rc, out, err = cl.run_fg(env, b)
    assert rc == 0, (rc, out, err)
    assert cl.result(out, "kexec_load") == (-1, cl.ENOSYS), out
    assert cl.result(out, "syscall") == (-1, cl.ENOSYS), out


# --- NOTIFY --------------------------------------------------------------------------------

# struct seccomp_notif (80 bytes) and seccomp_notif_resp (24 bytes), <linux/seccomp.h>
NOTIF_RECV = 0xC0502100   # _IOWR('!', 0, struct seccomp_notif)
NOTIF_SEND = 0xC0182101   # _IOWR('!', 1, struct seccomp_notif_resp)
USER_NOTIF_FLAG_CONTINUE = 1
NR_MKDIR, NR_GETPPID = 83, 110

_libc = ctypes.CDLL(None, use_errno=True)


class Listener:
    """A seccomp agent: accepts one connection at `path`, reads the container process state
    JSON and the notify fd (SCM_RIGHTS), then answers notifications: getppid -> 4242, the
    first mkdir -> EXDEV, later ones CONTINUE (the real syscall runs)."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(1)
        self.state = None
        self.nfds = 0
        self.notes = []   # (syscall nr, pid)
        self.error = None
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _ioctl(self, fd, req, buf):
        r = _libc.ioctl(fd, ctypes.c_ulong(req), buf)
        if r < 0:
            raise OSError(ctypes.get_errno(), f"ioctl {req:#x}")

    def _serve(self):
        try:
            self.sock.settimeout(20)
            conn, _ = self.sock.accept()
            fds = array.array("i")
            data, anc, _, _ = conn.recvmsg(1 << 16, socket.CMSG_SPACE(16 * fds.itemsize))
            for level, typ, cdata in anc:
                if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                    fds.frombytes(cdata[:len(cdata) - len(cdata) % fds.itemsize])
            conn.close()
            self.state = json.loads(data)
            self.nfds = len(fds)
            nfd = fds[0]
            for extra in fds[1:]:
                os.close(extra)
            mkdirs = 0
            while not self.stop.is_set():
                r, _, _ = select.select([nfd], [], [], 0.1)
                if not r:
                    continue
                req = ctypes.create_string_buffer(80)
                try:
                    self._ioctl(nfd, NOTIF_RECV, req)
                except OSError as e:
                    if e.errno == 2:   # ENOENT: the target died before we read it
                        continue
                    break              # the filter is gone (process exited)
                nid, pid, _flags, nr = struct.unpack_from("=QIIi", req.raw)
                self.notes.append((nr, pid))
                val = err = flags = 0
                if nr == NR_GETPPID:
                    val = 4242
                elif nr == NR_MKDIR and mkdirs == 0:
                    mkdirs += 1
                    err = -cl.EXDEV
                else:
                    flags = USER_NOTIF_FLAG_CONTINUE
                resp = ctypes.create_string_buffer(struct.pack("=QqiI", nid, val, err, flags), 24)
                try:
                    self._ioctl(nfd, NOTIF_SEND, resp)
                except OSError as e:
                    if e.errno != 2:
                        raise
            os.close(nfd)
        except Exception as e:  # reported by the test
            self.error = e

    def close(self):
        self.stop.set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes an accept() that never got a client
        except OSError:
            pass
        self.thread.join(10)
        self.sock.close()


def test_notify_answered_by_listener(env, sysprobe):
    sock = env.path("agent.sock")
    listener = Listener(sock)
    try:
        b = sys_bundle(env, sysprobe, ["getppid", "mkdir", "/x", "mkdir", "/y", "mark", "end"],
                       cl.seccomp(syscalls=[{"names": ["getppid", "mkdir"],
                                             "action": "SCMP_ACT_NOTIFY"}],
                                  listenerPath=sock, listenerMetadata="ward-test-meta"))
        cid = env.cid()
        rc, out, err = cl.run_fg(env, b, cid)
    finally:
        listener.close()
    assert rc == 0, (rc, out, err)
    assert listener.state is not None, \
        f"the runtime never sent the state and notify fd to listenerPath; container saw {out!r}"
    assert listener.error is None, repr(listener.error)
    assert cl.result(out, "getppid") == (4242, 0)
    assert cl.result(out, "mkdir", 0) == (-1, cl.EXDEV)     # answered with an error
    assert cl.result(out, "mkdir", 1) == (-1, cl.EROFS)     # CONTINUE: the real syscall ran
    assert [n for n, _ in listener.notes] == [NR_GETPPID, NR_MKDIR, NR_MKDIR]
    st = listener.state
    assert st is not None and listener.nfds == 1
    assert st["fds"] == ["seccompFd"]
    assert st["metadata"] == "ward-test-meta"
    assert st["ociVersion"]
    assert st["state"]["id"] == cid
    assert os.path.realpath(st["state"]["bundle"]) == os.path.realpath(b.path)
    assert st["pid"] == st["state"]["pid"] > 0
    assert all(pid == st["pid"] for _, pid in listener.notes)


def test_notify_without_listener_path_rejected(env, sysprobe):
    """SCMP_ACT_NOTIFY with no listenerPath cannot work: create fails and leaves nothing."""
    b = sys_bundle(env, sysprobe, ["getppid"],
                   cl.seccomp(syscalls=[{"names": ["getppid"], "action": "SCMP_ACT_NOTIFY"}]))
    rc, out, err = cl.run_fg(env, b)
    assert rc != 0
    assert "getppid" not in out


# --- argument filters ----------------------------------------------------------------------

# getppid ignores its arguments, but the filter sees the registers: a clean way to try each op.
OPS = {
    "SCMP_CMP_NE": ({"value": 5}, {3, 7, 12}),
    "SCMP_CMP_LT": ({"value": 5}, {3}),
    "SCMP_CMP_LE": ({"value": 5}, {3, 5}),
    "SCMP_CMP_EQ": ({"value": 5}, {5}),
    "SCMP_CMP_GE": ({"value": 5}, {5, 7, 12}),
    "SCMP_CMP_GT": ({"value": 5}, {7, 12}),
    "SCMP_CMP_MASKED_EQ": ({"value": 6, "valueTwo": 4}, {5, 12}),  # arg & 6 == 4
}


@pytest.mark.parametrize("op", sorted(OPS))
def test_arg_operator(env, sysprobe, op):
    vals, denied = OPS[op]
    arg = {"index": 0, "op": op, **vals}
    calls = [3, 5, 7, 12]
    args = []
    for v in calls:
        args += ["getppid", str(v)]
    b = sys_bundle(env, sysprobe, args, cl.seccomp(syscalls=[{
        "names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": cl.EXDEV,
        "args": [arg]}]))
    rc, out, err = cl.run_fg(env, b)
    assert rc == 0, err
    got = {v for i, v in enumerate(calls) if cl.result(out, "getppid", i) == (-1, cl.EXDEV)}
    assert got == denied, out
    for i, v in enumerate(calls):
        if v not in denied:
            assert cl.result(out, "getppid", i) == (0, 0)


def test_arg_socket_family(env, sysprobe):
    """socket(AF_INET) denied with a chosen errno, AF_UNIX and AF_INET6 allowed."""
    b = sys_bundle(env, sysprobe, ["socket", "2", "1", "socket", "1", "1", "socket", "10", "1"],
                   cl.seccomp(syscalls=[{"names": ["socket"], "action": "SCMP_ACT_ERRNO",
                                         "errnoRet": cl.EAFNOSUPPORT,
                                         "args": [{"index": 0, "value": 2,
                                                   "op": "SCMP_CMP_EQ"}]}]))
    rc, out, err = cl.run_fg(env, b)
    assert rc == 0, err
    assert cl.result(out, "socket", 0) == (-1, cl.EAFNOSUPPORT)
    assert cl.result(out, "socket", 1)[0] >= 0
    assert cl.result(out, "socket", 2)[0] >= 0


def test_arg_masked_and_two_args(env, sysprobe):
    """Two args in one rule must both match (AND); MASKED_EQ ignores SOCK_CLOEXEC in the type."""
    sock_cloexec = 0o2000000
    rule = {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": cl.EACCES,
            "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                     {"index": 1, "value": 0xF, "valueTwo": 2, "op": "SCMP_CMP_MASKED_EQ"}]}
    calls = [(1, 2 | sock_cloexec), (1, 2), (1, 1 | sock_cloexec), (2, 2)]
    args = []
    for fam, typ in calls:
        args += ["socket", str(fam), str(typ)]
    b = sys_bundle(env, sysprobe, args, cl.seccomp(syscalls=[rule]))
    rc, out, err = cl.run_fg(env, b)
    assert rc == 0, err
    assert cl.result(out, "socket", 0) == (-1, cl.EACCES)  # AF_UNIX, DGRAM|CLOEXEC
    assert cl.result(out, "socket", 1) == (-1, cl.EACCES)  # AF_UNIX, DGRAM
    assert cl.result(out, "socket", 2)[0] >= 0             # AF_UNIX, STREAM|CLOEXEC
    assert cl.result(out, "socket", 3)[0] >= 0             # AF_INET, DGRAM


# --- the default profile -------------------------------------------------------------------

DANGEROUS = ["mount", "unshare", "kexec_load", "bpf", "ptrace", "keyctl"]


def all_caps(b):
    caps = cl.host_caps()
    b.config["process"]["capabilities"] = {k: list(caps) for k in
                                           ("bounding", "effective", "permitted", "inheritable")}


def test_default_profile_refuses_dangerous(env, sysprobe):
    """With every capability the host allows, the kernel would let these through (the control
    run shows their natural results); under the default profile each fails with EPERM."""
    b0 = sys_bundle(env, sysprobe, DANGEROUS, name="control")
    all_caps(b0)
    rc, out0, err = cl.run_fg(env, b0)
    assert rc == 0, err
    for n in DANGEROUS:
        assert cl.result(out0, n)[1] != cl.EPERM, f"{n} is refused even without seccomp: {out0}"
    b = sys_bundle(env, sysprobe, DANGEROUS, cl.load_json(DEFAULT_PROFILE), name="profile")
    all_caps(b)
    rc, out, err = cl.run_fg(env, b)
    assert rc == 0, err
    for n in DANGEROUS:
        assert cl.result(out, n) == (-1, cl.EPERM), f"{n}: {out}"


def test_default_profile_usual_syscalls(env, sysprobe):
    b = sys_bundle(env, sysprobe, ["usual", "getppid"], cl.load_json(DEFAULT_PROFILE))
    b.config["root"]["readonly"] = False
    rc, out, err = cl.run_fg(env, b)
    assert rc == 0, (rc, out, err)
    assert cl.result(out, "usual") == (0, 0), out


def test_default_profile_shell_session(env):
    script = ("set -e; mkdir -p /tmp/d/e; echo hello > /tmp/d/f; cat /tmp/d/f | wc -c; "
              "ls /tmp/d | grep -c . ; head -c 3 /tmp/d/f; echo; rm -r /tmp/d/e; "
              "ls -l /tmp/d | tail -n 1 | grep -q f; rm -rf /tmp/d; test ! -e /tmp/d; "
              "sleep 0.1 & wait; id -u; echo done")
    b = env.bundle(["/bin/sh", "-c", script])
    cl.add_applets(b, "rm", "test")
    b.config["linux"]["seccomp"] = cl.load_json(DEFAULT_PROFILE)
    b.config["root"]["readonly"] = False
    rc, out, err = cl.run_fg_bounded(env, b)
    assert rc == 0, (rc, out, err)
    assert out.split() == ["6", "2", "hel", "0", "done"], out


def test_default_profile_personality_args(env, sysprobe):
    """personality: the query (0xffffffff) and PER_LINUX are allowed, ADDR_NO_RANDOMIZE is not."""
    b = sys_bundle(env, sysprobe, ["personality", "0xffffffff", "personality", "0",
                                   "personality", "0x0040000"], cl.load_json(DEFAULT_PROFILE))
    rc, out, err = cl.run_fg(env, b)
    assert rc == 0, err
    assert cl.result(out, "personality", 0) == (0, 0)
    assert cl.result(out, "personality", 1) == (0, 0)
    assert cl.result(out, "personality", 2) == (-1, cl.EPERM)


@pytest.mark.parametrize("nnp", [True, False], ids=["nnp", "no-nnp"])
def test_start_container_hook_runs_under_the_filter(env, nnp):
    """issue 15 item 27: startContainer hooks run under the container's seccomp filter (runc
    1.1.5 too: the hook is killed by SIGSYS), so an image's hook binary is not less confined
    than the process. The hook execs mkdir, which the profile traps."""
    b = env.bundle(["/bin/true"])
    b.config["root"]["readonly"] = False
    b.config["process"]["noNewPrivileges"] = nnp
    b.config["linux"]["seccomp"] = {
        "defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_TRAP"}]}
    b.config["hooks"] = {"startContainer": [{"path": "/bin/mkdir", "args": ["mkdir", "/hookdir"],
                                             "timeout": 5}]}
    b.write()
    p = env.rt.run("run", "--bundle", b.path, env.cid())
    assert p.returncode != 0, "the startContainer hook's mkdir was not trapped"
    assert not os.path.exists(os.path.join(b.rootfs, "hookdir")), "the hook ran unconfined"
    if env.s["version"].startswith("ward"):
        assert "startContainer" in p.stderr and "signal 31" in p.stderr, p.stderr
