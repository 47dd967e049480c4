"""Shared by test_seccomp.py and test_confinement.py: the static sysprobe helper (built once per
session), bundles that carry it, running a container in the foreground, and capability tables."""

import json
import os
import shutil
import subprocess
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
SYSPROBE_SRC = os.path.join(HERE, "helpers", "sysprobe.c")

_lock = threading.Lock()
_built = {}

SIGSYS = 31
EPERM, ENOENT, ESRCH, EXDEV, EACCES, EINVAL, ENOSYS, EROFS = 1, 2, 3, 18, 13, 22, 38, 30
EOPNOTSUPP, EAFNOSUPPORT = 95, 97

# Linux capability numbers (include/uapi/linux/capability.h), 0 .. 40.
CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
        "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
        "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
        "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
        "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
        "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
        "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
        "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
        "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE"]
CAP_NUM = {n: i for i, n in enumerate(CAPS)}


def cap_mask(names):
    m = 0
    for n in names:
        m |= 1 << CAP_NUM[n]
    return m


def host_caps():
    """Capability names in this (test) process's bounding set: all a container can be given.
    On the test hosts this is every capability except CAP_SYS_RESOURCE."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("CapBnd:"):
                m = int(line.split()[1], 16)
    last = int(open("/proc/sys/kernel/cap_last_cap").read())
    return [n for i, n in enumerate(CAPS) if i <= last and m >> i & 1]


def status_caps(report):
    """{'CapInh': int, ...} from a probe report (values are hex strings in /proc/self/status)."""
    out = {}
    for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        v = report["status"][k]
        out[k] = int(v, 16) if isinstance(v, str) else int(v)
    return out


def build_sysprobe(outdir):
    """Compiles helpers/sysprobe.c statically into `outdir` (once per directory)."""
    with _lock:
        if outdir in _built:
            return _built[outdir]
        os.makedirs(outdir, exist_ok=True)
        out = os.path.join(outdir, "sysprobe")
        subprocess.run(["gcc", "-static", "-O2", "-Wall", "-pthread", "-o", out, SYSPROBE_SRC],
                       check=True)
        _built[outdir] = out
        return out


def add_sysprobe(bundle, sysprobe):
    """Copies the helper to /sysprobe in the bundle's rootfs."""
    shutil.copy2(sysprobe, os.path.join(bundle.rootfs, "sysprobe"))


def add_applets(bundle, *names):
    """More busybox applets than conformance/lib/bundle.py links (rm, wc, ...)."""
    for n in names:
        p = os.path.join(bundle.rootfs, "bin", n)
        if not os.path.lexists(p):
            os.symlink("busybox", p)


def run_fg(env, bundle, cid=None):
    """`run` in the foreground; returns (exit status, stdout, stderr)."""
    bundle.write()
    return env.detached("run", "--bundle", bundle.path, cid or env.cid())


def run_fg_bounded(env, bundle, timeout=15):
    """`run` in the foreground that fails the test (instead of erroring out) if the container
    hangs: the container is force-deleted and the runtime ended, then AssertionError."""
    bundle.write()
    cid = env.cid()
    out, err = env.path(f"{cid}.out"), env.path(f"{cid}.err")
    with open(out, "w") as o, open(err, "w") as e:
        p = subprocess.Popen(env.rt.argv("run", "--bundle", bundle.path, cid),
                             stdin=subprocess.DEVNULL, stdout=o, stderr=e, env=env.rt.env())
        try:
            rc = p.wait(timeout)
        except subprocess.TimeoutExpired:
            env.rt.run("delete", "--force", cid, timeout=10)
            p.kill()
            p.wait()
            rc = None
    with open(out) as o, open(err) as e:
        o, e = o.read(), e.read()
    if rc is None:
        raise AssertionError(f"container hung for {timeout}s; stdout so far {o!r}, stderr {e!r}")
    return rc, o, e


def results(stdout):
    """Parses sysprobe lines "NAME RET ERRNO [...]" into a list of (name, ret, errno)."""
    out = []
    for line in stdout.splitlines():
        f = line.split()
        if len(f) >= 3 and f[1].lstrip("-").isdigit() and f[2].lstrip("-").isdigit():
            out.append((f[0], int(f[1]), int(f[2])))
    return out


def result(stdout, name, nth=0):
    """(ret, errno) of the nth call named `name`; AssertionError if absent."""
    got = [(r, e) for n, r, e in results(stdout) if n == name]
    assert len(got) > nth, f"no result #{nth} for {name!r} in {stdout!r}"
    return got[nth]


def seccomp(default="SCMP_ACT_ALLOW", syscalls=(), **extra):
    s = {"defaultAction": default, "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86",
                                                     "SCMP_ARCH_X32"],
         "syscalls": list(syscalls)}
    s.update(extra)
    return s


def load_json(path):
    with open(path) as f:
        return json.load(f)
