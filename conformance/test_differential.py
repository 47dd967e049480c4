"""Differential conformance: each test configures one bundle; the `diff` fixture runs it under
the runtime under test and under runc and requires equal normalized observations."""

import json
import os
import re

import pytest

import bundle as bundlelib

ALL_CAPS = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
    "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN",
    "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON",
    "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
]
# CAP_SYS_RESOURCE is left out: this host's bounding set lacks it, so no runtime can grant it.


def set_caps(cfg, **sets):
    cfg["process"]["capabilities"] = {k: list(v) for k, v in sets.items()}


def add_mount(cfg, **m):
    cfg["mounts"].append(m)


# ---- process -------------------------------------------------------------------------------

def test_default(diff):
    diff.check()


def test_exit_status(diff):
    diff.check(args=["/probe", "exit", "7"], expect_rc=7)


def test_user_uid_gid_groups_umask(diff):
    def conf(cfg, ctx):
        cfg["process"]["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [10, 2000, 5],
                                  "umask": 0o077}
    diff.check(conf)


def test_user_umask_only(diff):
    def conf(cfg, ctx):
        cfg["process"]["user"]["umask"] = 0o027
    diff.check(conf)


def test_env_and_cwd(diff):
    def conf(cfg, ctx):
        cfg["process"]["env"] += ["FOO=bar", "EMPTY=", "WITH_EQ=a=b", "HOME=/root"]
        cfg["process"]["cwd"] = "/work/sub"
    diff.check(conf)


def test_cwd_missing_is_created(diff):
    def conf(cfg, ctx):
        cfg["root"]["readonly"] = False
        cfg["process"]["cwd"] = "/does/not/exist"
        cfg["process"]["user"] = {"uid": 1000, "gid": 1000}

    def extra(ctx):
        st = os.stat(os.path.join(ctx.bundle.rootfs, "does/not/exist"))
        return {"mode": oct(st.st_mode), "uid": st.st_uid, "gid": st.st_gid}
    diff.check(conf, extra=extra)


def test_rlimits(diff):
    def conf(cfg, ctx):
        cfg["process"]["rlimits"] = [
            {"type": "RLIMIT_NOFILE", "soft": 512, "hard": 4096},
            {"type": "RLIMIT_CORE", "soft": 0, "hard": 1 << 20},
            {"type": "RLIMIT_NPROC", "soft": 300, "hard": 400},
            {"type": "RLIMIT_STACK", "soft": 4 << 20, "hard": 16 << 20},
            {"type": "RLIMIT_MEMLOCK", "soft": 1 << 16, "hard": 1 << 16},
            {"type": "RLIMIT_CPU", "soft": 100, "hard": 200},
            {"type": "RLIMIT_MSGQUEUE", "soft": 8192, "hard": 8192},
        ]
    diff.check(conf)


def test_caps_empty(diff):
    def conf(cfg, ctx):
        set_caps(cfg, bounding=[], effective=[], permitted=[], inheritable=[], ambient=[])
    diff.check(conf)


def test_caps_full(diff):
    def conf(cfg, ctx):
        set_caps(cfg, **{k: ALL_CAPS for k in ("bounding", "effective", "permitted",
                                               "inheritable")})
        cfg["process"]["noNewPrivileges"] = False
    diff.check(conf)


def test_caps_partial_sets(diff):
    def conf(cfg, ctx):
        set_caps(cfg, bounding=["CAP_CHOWN", "CAP_KILL", "CAP_SETUID", "CAP_SYS_ADMIN"],
                 permitted=["CAP_CHOWN", "CAP_KILL", "CAP_SETUID"],
                 effective=["CAP_CHOWN"], inheritable=["CAP_KILL"])
    diff.check(conf)


def test_caps_nonroot_ambient(diff):
    def conf(cfg, ctx):
        cfg["process"]["user"] = {"uid": 1000, "gid": 1000}
        caps = ["CAP_NET_BIND_SERVICE", "CAP_NET_RAW"]
        set_caps(cfg, bounding=caps + ["CAP_CHOWN"], effective=caps, permitted=caps,
                 inheritable=caps, ambient=caps)
    diff.check(conf)


def test_no_new_privileges_off(diff):
    def conf(cfg, ctx):
        cfg["process"]["noNewPrivileges"] = False
    diff.check(conf)


def test_oom_score_adj(diff):
    with open("/proc/self/oom_score_adj") as f:
        cur = int(f.read())
    # lowering needs CAP_SYS_RESOURCE, which this host lacks: only raise it
    value = max(cur, 0) + 123

    def conf(cfg, ctx):
        cfg["process"]["oomScoreAdj"] = value
    diff.check(conf)


def test_hostname_domainname(diff):
    def conf(cfg, ctx):
        cfg["hostname"] = "probe-host"
        cfg["domainname"] = "probe.example"
    diff.check(conf)


def test_seccomp_errno(diff):
    def conf(cfg, ctx):
        cfg["root"]["readonly"] = False
        cfg["linux"]["seccomp"] = {
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
                          "errnoRet": 1}],
        }
    diff.check(conf, args=["/probe", "exec", "/bin/mkdir", "/tmp/newdir"])


# ---- namespaces ----------------------------------------------------------------------------

def test_ns_host_except_mount(diff):
    def conf(cfg, ctx):
        ctx.bundle.set_namespaces(["mount"])
        del cfg["hostname"]
        # without a netns runc bind-mounts... nothing special; sysfs needs the host netns: fine
    diff.check(conf)


@pytest.mark.parametrize("ns", ["pid", "network", "ipc", "uts", "cgroup"])
def test_ns_single(diff, ns):
    def conf(cfg, ctx):
        ctx.bundle.set_namespaces(["mount", ns])
        if ns != "uts":
            del cfg["hostname"]
    diff.check(conf)


def test_ns_user_mappings(diff):
    def conf(cfg, ctx):
        ctx.bundle.set_namespaces(["pid", "ipc", "uts", "mount", "user", "network"])
        cfg["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        # sysfs and cgroup v1 are not mountable from a user namespace without extra work
        cfg["mounts"] = [m for m in cfg["mounts"] if m["destination"] != "/sys/fs/cgroup"]
        cfg["root"]["readonly"] = False
    diff.check(conf, args=["/probe", "read", "/proc/self/uid_map", "read",
                           "/proc/self/gid_map", "read", "/proc/self/setgroups"])


def test_ns_time_offsets(diff, features):
    if "time" not in features.get("linux", {}).get("namespaces", []):
        pytest.skip("the reference runtime does not support time namespaces "
                    "(runc 1.1.5 `features` lacks 'time'; added in runc 1.2)")

    def conf(cfg, ctx):
        cfg["linux"]["namespaces"].append({"type": "time"})
        cfg["linux"]["timeOffsets"] = {"monotonic": {"secs": 1000, "nanosecs": 0},
                                       "boottime": {"secs": 2000, "nanosecs": 0}}
    diff.check(conf, args=["/probe", "read", "/proc/self/timens_offsets"])


def test_ns_join_netns_by_path(diff):
    def conf(cfg, ctx):
        h = ctx.helper(["unshare", "--net", "sleep", "60"], "helper")
        for n in cfg["linux"]["namespaces"]:
            if n["type"] == "network":
                n["path"] = f"/proc/{h.pid}/ns/net"
    diff.check(conf)


def test_ns_join_uts_ipc_by_path(diff):
    def conf(cfg, ctx):
        h = ctx.helper(["unshare", "--net", "--uts", "--ipc", "sleep", "60"], "helper")
        del cfg["hostname"]
        for n in cfg["linux"]["namespaces"]:
            if n["type"] in ("uts", "ipc"):
                n["path"] = f"/proc/{h.pid}/ns/{n['type']}"
    diff.check(conf)


def test_ns_network_loopback_up(diff):
    # issue 15 item 11: a new network namespace gets "lo" up (flags 0x9: IFF_UP|IFF_LOOPBACK),
    # as runc and crun do.
    diff.check(args=["/probe", "read", "/sys/class/net/lo/flags", "read",
                     "/sys/class/net/lo/operstate"])


# ---- root, mounts --------------------------------------------------------------------------

def test_root_writable(diff):
    def conf(cfg, ctx):
        cfg["root"]["readonly"] = False
    diff.check(conf, args=["/probe", "write", "/newfile", "data", "write", "/tmp/t"])


def test_root_readonly_write_fails(diff):
    diff.check(args=["/probe", "write", "/newfile", "write", "/tmp/t", "write", "/dev/shm/x"])


def test_mount_bind_ro_and_rbind(diff):
    def conf(cfg, ctx):
        src = os.path.join(ctx.scratch, "src")
        os.makedirs(os.path.join(src, "inner"), exist_ok=True)
        with open(os.path.join(src, "file"), "w") as f:
            f.write("hello")
        add_mount(cfg, destination="/mnt/ro", type="bind", source=src,
                  options=["bind", "ro"])
        add_mount(cfg, destination="/mnt/rbind", type="none", source=src,
                  options=["rbind", "nosuid", "nodev"])
        add_mount(cfg, destination="/mnt/file", type="bind", source=os.path.join(src, "file"),
                  options=["bind", "ro"])
    diff.check(conf, args=["/probe", "read", "/mnt/ro/file", "write", "/mnt/ro/x",
                           "write", "/mnt/rbind/y", "read", "/mnt/file"])


def test_mount_tmpfs_options(diff):
    def conf(cfg, ctx):
        add_mount(cfg, destination="/scratch", type="tmpfs", source="tmpfs",
                  options=["size=1m", "mode=0750", "nosuid", "nodev", "noexec", "uid=1000",
                           "gid=1000"])
        add_mount(cfg, destination="/exec", type="tmpfs", source="tmpfs",
                  options=["size=4m", "mode=1777"])
        cfg["process"]["user"] = {"uid": 1000, "gid": 1000}
    # a written file "x" fails to exec with ENOEXEC on /exec, but EACCES on noexec /scratch
    diff.check(conf, args=["/probe", "write", "/scratch/f", "stat", "/scratch",
                           "exec", "/scratch/f", "write", "/exec/f", "exec", "/exec/f"])


def test_mount_noexec_bind(diff):
    def conf(cfg, ctx):
        add_mount(cfg, destination="/bin2", type="bind", source=os.path.join(ctx.bundle.rootfs,
                                                                              "bin"),
                  options=["bind", "noexec", "ro"])
    diff.check(conf, args=["/probe", "exec", "/bin2/true", "exec", "/bin/true"])


def test_mount_nosymfollow(diff):
    def conf(cfg, ctx):
        src = os.path.join(ctx.scratch, "src")
        os.makedirs(src, exist_ok=True)
        with open(os.path.join(src, "target"), "w") as f:
            f.write("target")
        os.symlink("target", os.path.join(src, "link"))
        add_mount(cfg, destination="/nosym", type="bind", source=src,
                  options=["bind", "nosymfollow"])
    diff.check(conf, args=["/probe", "read", "/nosym/link", "read", "/nosym/target"])


def test_mount_special_filesystems(diff):
    def conf(cfg, ctx):
        ctx.bundle.set_namespaces(["pid", "network", "ipc", "uts", "mount", "cgroup"])
        add_mount(cfg, destination="/proc2", type="proc", source="proc",
                  options=["nosuid", "noexec", "nodev"])
        add_mount(cfg, destination="/sys2", type="sysfs", source="sysfs",
                  options=["nosuid", "noexec", "nodev", "ro"])
        add_mount(cfg, destination="/mq2", type="mqueue", source="mqueue", options=[])
        add_mount(cfg, destination="/pts2", type="devpts", source="devpts",
                  options=["newinstance", "ptmxmode=0600", "mode=0600"])
    diff.check(conf)


def test_mount_no_dev_tmpfs(diff):
    # without a /dev mount the runtime populates the image's own /dev
    def conf(cfg, ctx):
        cfg["root"]["readonly"] = False
        cfg["mounts"] = [m for m in cfg["mounts"] if m["destination"] != "/dev"]
    diff.check(conf)


def test_masked_and_readonly_paths(diff):
    def conf(cfg, ctx):
        cfg["linux"]["maskedPaths"] += ["/proc/cpuinfo", "/etc", "/does/not/exist"]
        cfg["linux"]["readonlyPaths"] += ["/tmp", "/proc/self/does-not-exist"]
        cfg["root"]["readonly"] = False
    diff.check(conf, args=["/probe", "read", "/proc/kcore", "read", "/proc/cpuinfo",
                           "stat", "/etc", "read", "/etc/passwd", "write", "/tmp/x",
                           "write", "/proc/sys/kernel/hostname", "foo"])


def test_linux_devices(diff):
    def conf(cfg, ctx):
        cfg["linux"]["devices"] = [
            {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o666,
             "uid": 0, "gid": 0},
            {"path": "/dev/mydev", "type": "c", "major": 1, "minor": 3, "fileMode": 0o640,
             "uid": 1000, "gid": 2000},
            {"path": "/dev/sub/blk", "type": "b", "major": 7, "minor": 200, "fileMode": 0o600},
        ]
        cfg["linux"]["resources"]["devices"].append(
            {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"})
    diff.check(conf, args=["/probe", "write", "/dev/mydev", "stat", "/dev/sub/blk"])


def test_sysctl(diff):
    def conf(cfg, ctx):
        cfg["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1", "kernel.shmmax": "12345678",
                                  "net.ipv4.ping_group_range": "0 1000"}
    diff.check(conf, args=["/probe", "read", "/proc/sys/net/ipv4/ip_forward", "read",
                           "/proc/sys/kernel/shmmax", "read",
                           "/proc/sys/net/ipv4/ping_group_range"])


@pytest.mark.parametrize("prop", ["private", "slave", "rprivate", "rslave", "shared", "rshared"])
def test_rootfs_propagation(diff, prop):
    def conf(cfg, ctx):
        cfg["linux"]["rootfsPropagation"] = prop
    diff.check(conf)


# ---- hooks ---------------------------------------------------------------------------------

def test_hooks_container_cwd(diff):
    # issue 15 item 23: createContainer hooks run in the container's root (the rootfs path,
    # before pivot_root), startContainer hooks in process.cwd inside it, as runc.
    def conf(cfg, ctx):
        out = ctx.scratch
        cfg["root"]["readonly"] = False
        cfg["process"]["cwd"] = "/work"
        add_mount(cfg, destination="/hookout", type="bind", source=out, options=["rbind"])
        cfg["hooks"] = {
            "createContainer": [{"path": "/bin/sh", "args": ["sh", "-c", f"pwd > {out}/cc.cwd"]}],
            "startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "pwd > /hookout/sc.cwd"]}],
        }

    def extra(ctx):
        res = {}
        for f in ("cc.cwd", "sc.cwd"):
            with open(os.path.join(ctx.scratch, f)) as fh:
                res[f] = fh.read().strip().replace(ctx.bundle.path, "<BUNDLE>")
        return res
    got = diff.check(conf, extra=extra)
    assert got["extra"] == {"cc.cwd": "<BUNDLE>/rootfs", "sc.cwd": "/work"}, got["extra"]


def test_hooks(diff):
    def conf(cfg, ctx):
        out = ctx.scratch

        def host_hook(name):
            return {"path": "/bin/sh",
                    "args": ["sh", "-c",
                             f"cat > {out}/{name}.json; pwd > {out}/{name}.cwd; echo {name} >> {out}/order"],
                    "env": ["HOOK=" + name]}

        def ctr_hook(name):
            # createContainer runs before pivot_root (host paths), startContainer after it
            d = out if name == "createContainer" else "/hookout"
            return {"path": "/bin/sh",
                    "args": ["sh", "-c", f"cat > {d}/{name}.json; echo {name} >> {d}/order"]}
        cfg["root"]["readonly"] = False
        add_mount(cfg, destination="/hookout", type="bind", source=out, options=["rbind"])
        cfg["hooks"] = {
            "prestart": [host_hook("prestart")],
            "createRuntime": [host_hook("createRuntime")],
            "createContainer": [ctr_hook("createContainer")],
            "startContainer": [ctr_hook("startContainer")],
            "poststart": [host_hook("poststart")],
            "poststop": [host_hook("poststop")],
        }
        cfg["annotations"] = {"org.example.key": "value"}

    def extra(ctx):
        res = {}
        for f in sorted(os.listdir(ctx.scratch)):
            with open(os.path.join(ctx.scratch, f)) as fh:
                text = fh.read()
            if f.endswith(".json"):
                st = json.loads(text)
                if isinstance(st.get("pid"), int):
                    st["pid"] = "<pid>" if st["pid"] > 0 else st["pid"]
                st["bundle"] = st.get("bundle", "").replace(ctx.bundle.path, "<BUNDLE>")
                res[f] = st
            elif f.endswith(".cwd"):
                # runc runs the hooks that run in the runtime in the bundle directory
                res[f] = text.strip().replace(ctx.bundle.path, "<BUNDLE>")
            else:
                # poststart runs concurrently with the container: only its presence is fixed
                lines = text.split()
                res[f] = sorted(lines) if "poststart" in lines else lines
        return res
    diff.check(conf, extra=extra)


# ---- rootfs edge cases (issue 15) ----------------------------------------------------------

def test_mount_target_dangling_symlink(diff):
    # issue 15 item 6: the target is created inside the root where the symlink points
    def conf(cfg, ctx):
        etc = os.path.join(ctx.bundle.rootfs, "etc")
        os.symlink("../foo/bar/not/here", os.path.join(etc, "not-existing"))
        os.symlink("../foo/file/not/here", os.path.join(etc, "not-existing-file"))
        src = os.path.join(ctx.scratch, "src")
        os.makedirs(src, exist_ok=True)
        with open(os.path.join(src, "f"), "w") as f:
            f.write("from the host")
        cfg["root"]["readonly"] = False
        add_mount(cfg, destination="/etc/not-existing", type="tmpfs", source="tmpfs",
                  options=["mode=0755"])
        add_mount(cfg, destination="/etc/not-existing-file", type="bind",
                  source=os.path.join(src, "f"), options=["bind"])
    diff.check(conf, args=["/probe", "stat", "/foo/bar/not/here", "read",
                           "/foo/file/not/here"])


def test_mount_bind_onto_root(diff):
    # issue 15 item 7: mounted first, /proc, /sys, /dev and volumes on top; read-only root
    def conf(cfg, ctx):
        other = os.path.join(ctx.scratch, "other-root")
        bundlelib.make_rootfs(other)
        with open(os.path.join(other, "marker"), "w") as f:
            f.write("the bound root")
        vol = os.path.join(ctx.scratch, "vol")
        os.makedirs(vol, exist_ok=True)
        add_mount(cfg, destination="/mnt", type="bind", source=vol, options=["rbind"])
        # listed first: runc 1.1.5 mounts in config order, and a bind onto / listed later
        # covers /proc (it then fails); ward mounts it first wherever it is listed
        # (tests/integration/test_rootfs_edges.py)
        cfg["mounts"].insert(0, {"destination": "/", "type": "bind", "source": other,
                                 "options": ["rbind"]})
    diff.check(conf, args=["/probe", "read", "/marker", "write", "/x", "write", "/mnt/y"])


def test_mount_source_in_closed_dir_with_userns(diff):
    # issue 15 item 9: a source in a root-owned 000 directory is opened as host root
    def conf(cfg, ctx):
        ctx.bundle.set_namespaces(["pid", "ipc", "uts", "mount", "user", "network"])
        cfg["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        cfg["mounts"] = [m for m in cfg["mounts"] if m["destination"] != "/sys/fs/cgroup"]
        cfg["root"]["readonly"] = False
        closed = os.path.join(ctx.scratch, "closed")
        os.makedirs(os.path.join(closed, "dir"), exist_ok=True)
        with open(os.path.join(closed, "file"), "w") as f:
            f.write("secret but shared")
        with open(os.path.join(closed, "dir", "g"), "w") as f:
            f.write("in a dir")
        os.chmod(closed, 0)
        # the image is host root's: the mapped root could not create them
        os.makedirs(os.path.join(ctx.bundle.rootfs, "mnt", "dir"))
        open(os.path.join(ctx.bundle.rootfs, "mnt", "file"), "w").close()
        add_mount(cfg, destination="/mnt/file", type="bind",
                  source=os.path.join(closed, "file"), options=["bind"])
        add_mount(cfg, destination="/mnt/dir", type="bind",
                  source=os.path.join(closed, "dir"), options=["rbind"])
    diff.check(conf, args=["/probe", "read", "/mnt/file", "read", "/mnt/dir/g"])


def test_mount_tmpfs_takes_covered_mode(diff):
    # issue 15 item 10: no mode= -> the mode of the directory it covers
    def conf(cfg, ctx):
        os.chmod(os.path.join(ctx.bundle.rootfs, "work", "sub"), 0o712)
        add_mount(cfg, destination="/work/sub", type="tmpfs", source="tmpfs",
                  options=["size=1m"])
    diff.check(conf, args=["/probe", "stat", "/work/sub"])


def test_mount_cgroup_rw_without_ro(diff):
    # issue 15 item 22: the v1 hierarchies follow the cgroup mount's own ro/rw
    def conf(cfg, ctx):
        for m in cfg["mounts"]:
            if m["type"] == "cgroup":
                m["options"] = [o for o in m["options"] if o != "ro"]
    diff.check(conf)
