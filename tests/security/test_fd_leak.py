"""CVE-2024-21626 class: a directory fd the runtime held open on the host must not become the
container's way out. The init is cloned from `create`, not exec'd, so everything `create` had
open (the state directory, the cgroup directory) is inherited unless the init closes it; a
`process.cwd` of /proc/self/fd/N then starts the process in that host directory, outside the
container's root, and `../../..` reaches the host's /."""

import os

import pytest

from conftest import probe_report

FDS = range(3, 11)


def host_only_entries(rootfs):
    return set(os.listdir("/")) - set(os.listdir(rootfs))


@pytest.mark.parametrize("fd", FDS)
def test_cwd_proc_self_fd_cannot_reach_host_root(rt, fd):
    b = rt.bundle(args=["/bin/sh", "-c", "ls -a ../../../ ../../../../ ../../../../../; "
                        "cat ../../../etc/hostname ../../../../etc/hostname"])
    b.config["process"]["cwd"] = f"/proc/self/fd/{fd}"
    b.write()
    p = rt.rt.run("run", "--bundle", b.path, rt.cid())
    leaked = host_only_entries(b.rootfs) & set(p.stdout.split())
    assert not leaked, (f"cwd /proc/self/fd/{fd}: the container listed the host's root "
                        f"(rc {p.returncode}, saw {sorted(leaked)})")
    with open("/etc/hostname") as f:
        host = f.read().strip()
    assert host not in p.stdout.split(), "the container read the host's /etc/hostname"
    if rt.kind == "ward":
        # Refused before the process starts, with a line naming the cwd.
        assert p.returncode != 0 and "cwd" in p.stderr, p.stderr


def test_created_init_holds_only_its_keep_list(rt):
    """While created, the init holds no directory
    (state dir, cgroup dir, bundle) a later exec'd process could fchdir into."""
    b = rt.bundle(args=["/bin/true"]).write()
    cid = rt.cid()
    rc, _, err = rt.detached("create", "--bundle", b.path, cid)
    assert rc == 0, err
    try:
        pid = rt.rt.state(cid)["pid"]
        dirs = []
        for name in os.listdir(f"/proc/{pid}/fd"):
            target = os.readlink(f"/proc/{pid}/fd/{name}")
            try:
                is_dir = os.path.isdir(f"/proc/{pid}/fd/{name}")
            except OSError:
                is_dir = False
            if int(name) > 2 and is_dir:
                dirs.append(f"{name} -> {target}")
        assert not dirs, f"the created init still holds host directories: {dirs}"
    finally:
        rt.rt.run("delete", "--force", cid)


def fd_targets(report):
    return {int(k): v for k, v in report["fds"].items()}


@pytest.mark.parametrize("preserve", [0, 2])
def test_container_process_sees_only_stdio_and_preserved_fds(env, preserve):
    b = env.bundle(args=["/probe"])
    b.write()
    extra = []
    opened = []
    for _ in range(preserve):
        r, w = os.pipe()
        opened += [r, w]
    # preserved fds must be 3.. in the runtime's table: dup them there
    pass_fds = []
    for i, fd in enumerate(opened[:preserve]):
        os.dup2(fd, 3 + i + 20)
        pass_fds.append(3 + i + 20)
    import subprocess
    argv = env.rt.argv("run", "--preserve-fds", str(preserve), "--bundle", b.path, env.cid())
    # shift the fds to 3..3+preserve-1 in the child
    pre = "".join(f"exec {3 + i}<&{fd}; " for i, fd in enumerate(pass_fds))
    p = subprocess.run(["/bin/bash", "-c", pre + 'exec "$@"', "x", *argv], pass_fds=pass_fds,
                       capture_output=True, text=True, timeout=30, env=env.rt.env(),
                       stdin=subprocess.DEVNULL)
    for fd in opened + pass_fds:
        os.close(fd)
    assert p.returncode == 0, p.stderr
    fds = fd_targets(probe_report(p.stdout))
    assert sorted(fds) == list(range(0, 3 + preserve)), f"fds in the container: {fds}"


def test_exec_process_sees_only_stdio(env):
    b = env.bundle(args=["/bin/sleep", "30"]).write()
    cid = env.cid()
    rc, _, err = env.detached("run", "-d", "--bundle", b.path, cid)
    assert rc == 0, err
    try:
        p = env.rt.run("exec", cid, "/probe")
        assert p.returncode == 0, p.stderr
        fds = fd_targets(probe_report(p.stdout))
        assert sorted(fds) == [0, 1, 2], f"fds in the exec'd process: {fds}"
        p = env.rt.run("exec", "--cwd", "/proc/self/fd/3", cid, "/bin/ls", "../../../")
        assert not (host_only_entries(b.rootfs) & set(p.stdout.split())), p.stdout
    finally:
        env.rt.run("delete", "--force", cid)
