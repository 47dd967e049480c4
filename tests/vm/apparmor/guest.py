"""AppArmor checks, run as root inside the ward-vm guest (Debian kernel, AppArmor enabled) by
tests/vm/apparmor/run. Loads profiles/apparmor/ward-default, then runs containers with the
runtime in WARD_RUNTIME and checks what their process observes. Prints one line per check
("ok NAME" / "FAIL NAME: why") and exits 1 if any failed, 2 if it cannot run at all."""

import json
import os
import shutil
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(REPO, "conformance", "lib"))
import bundle as bundlelib  # noqa: E402

PROFILE_FILE = os.path.join(REPO, "profiles", "apparmor", "ward-default")
PROFILE = "ward-default"
RUNTIME = os.environ.get("WARD_RUNTIME", os.path.join(REPO, "build", "ward"))
PREFIX = "/ward-vm-apparmor"

failures = []


def check(name, cond, why=""):
    print(("ok " if cond else "FAIL ") + name + ("" if cond else ": " + why), flush=True)
    if not cond:
        failures.append(name)


def sh(*argv):
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


def apparmor_enabled():
    try:
        return open("/sys/module/apparmor/parameters/enabled").read().startswith("Y")
    except OSError:
        return False


BASE = tempfile.mkdtemp(prefix="aa-", dir="/tmp")
STATE = os.path.join(BASE, "state")
n = 0


def container(script, profile=None, caps=None):
    """Runs /bin/sh -c SCRIPT in a fresh bundle; returns (rc, stdout, stderr)."""
    global n
    n += 1
    b = bundlelib.Bundle(os.path.join(BASE, f"b{n}"), f"{PREFIX}/c{n}", args=["/bin/sh", "-c",
                                                                               script])
    for a in ("printf", "rm"):
        if not os.path.lexists(os.path.join(b.rootfs, "bin", a)):
            os.symlink("busybox", os.path.join(b.rootfs, "bin", a))
    os.makedirs(os.path.join(b.rootfs, "mnt"), exist_ok=True)
    cfg = b.config
    # Leave /proc/sys and /proc/sysrq-trigger writable by the mount table, so that what stops a
    # write below is the AppArmor profile, not a read-only bind.
    cfg["linux"]["readonlyPaths"] = ["/proc/bus", "/proc/fs", "/proc/irq"]
    cfg["root"]["readonly"] = False  # /tmp in the rootfs: ordinary writes stay allowed
    if profile is not None:
        cfg["process"]["apparmorProfile"] = profile
    if caps is not None:
        cfg["process"]["capabilities"] = {k: list(caps) for k in
                                          ("bounding", "effective", "permitted")}
    b.write()
    p = subprocess.run([RUNTIME, "--root", STATE, "run", "--bundle", b.path, f"aa{n}"],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    subprocess.run([RUNTIME, "--root", STATE, "delete", "--force", f"aa{n}"],
                   capture_output=True)
    return p.returncode, p.stdout, p.stderr


# In the container: print the label, then try each denied action and print its outcome.
PROBE = r"""
echo "current=$(cat /proc/self/attr/current)"
echo "aacurrent=$(cat /proc/self/attr/apparmor/current 2>/dev/null)"
if printf h > /proc/sysrq-trigger 2>/dev/null; then echo sysrq=ok; else echo sysrq=denied; fi
if mount -t tmpfs none /mnt 2>/dev/null; then echo mount=ok; umount /mnt; else echo mount=denied; fi
v=$(cat /proc/sys/kernel/printk_ratelimit)
if echo "$v" > /proc/sys/kernel/printk_ratelimit 2>/dev/null; then echo printk=ok; else echo printk=denied; fi
v=$(cat /proc/sys/kernel/shmmni)
if echo "$v" > /proc/sys/kernel/shmmni 2>/dev/null; then echo shmmni=ok; else echo shmmni=denied; fi
if echo 0 > /proc/self/oom_score_adj 2>/dev/null; then echo oom=ok; else echo oom=denied; fi
if echo hi > /tmp/f 2>/dev/null && cat /tmp/f >/dev/null; then echo tmp=ok; else echo tmp=denied; fi
echo done
"""
CAPS = ["CAP_SYS_ADMIN", "CAP_KILL", "CAP_AUDIT_WRITE", "CAP_NET_BIND_SERVICE", "CAP_DAC_OVERRIDE"]


def outcomes(out):
    return dict(l.split("=", 1) for l in out.splitlines() if "=" in l)


def main():
    if os.environ.get("WARD_VM") != "1" or os.geteuid() != 0:
        print("guest.py runs as root inside tests/vm/ward-vm", file=sys.stderr)
        return 2
    if not apparmor_enabled():
        print("AppArmor is not enabled in this kernel", file=sys.stderr)
        return 2
    if not (os.path.isfile(RUNTIME) and os.access(RUNTIME, os.X_OK)):
        print(f"runtime {RUNTIME} not found", file=sys.stderr)
        return 2
    print(f"runtime: {RUNTIME}", flush=True)
    bundlelib.build_probe()

    # 1. The profile parses and loads; the kernel lists it in enforce mode.
    p = sh("apparmor_parser", "-Q", "-K", PROFILE_FILE)
    check("profile parses (apparmor_parser -Q)", p.returncode == 0, p.stderr.strip())
    p = sh("apparmor_parser", "-r", "-W", PROFILE_FILE)
    check("profile loads (apparmor_parser -r -W)", p.returncode == 0, p.stderr.strip())
    profiles = open("/sys/kernel/security/apparmor/profiles").read()
    check("profile listed in enforce mode", f"{PROFILE} (enforce)" in profiles, profiles)

    # 2. Control: the same container without a profile can do everything tried below, so
    #    the denials under the profile are the profile's doing.
    rc, out, err = container(PROBE, caps=CAPS)
    o = outcomes(out)
    check("unconfined control runs", rc == 0 and "done" in out,
          f"rc={rc} out={out!r} err={err!r}")
    check("unconfined control label", o.get("current", "").startswith("unconfined"), repr(o))
    for k in ("sysrq", "mount", "printk", "shmmni", "oom", "tmp"):
        check(f"unconfined control {k} allowed", o.get(k) == "ok", repr(o))

    # 3. Confined by ward-default.
    rc, out, err = container(PROBE, profile=PROFILE, caps=CAPS)
    o = outcomes(out)
    check("confined container runs", rc == 0 and "done" in out, f"rc={rc} out={out!r} err={err!r}")
    check("attr/current names the profile", o.get("current") == f"{PROFILE} (enforce)", repr(o))
    check("attr/apparmor/current names the profile",
          o.get("aacurrent") in ("", f"{PROFILE} (enforce)"), repr(o))
    for k in ("sysrq", "mount", "printk"):
        check(f"confined: {k} denied", o.get(k) == "denied", repr(o))
    for k in ("shmmni", "oom", "tmp"):
        check(f"confined: {k} still allowed", o.get(k) == "ok", repr(o))

    # 4. Exec'd children inherit the profile.
    rc, out, err = container("sh -c 'cat /proc/self/attr/current'", profile=PROFILE)
    check("child process inherits the profile", rc == 0 and out.strip() == f"{PROFILE} (enforce)",
          f"rc={rc} out={out!r} err={err!r}")

    # 5. A profile that is not loaded: the container must not start (and not run unconfined).
    rc, out, err = container("echo RAN", profile="ward-not-loaded")
    check("unloaded profile: start fails", rc != 0 and "RAN" not in out,
          f"rc={rc} out={out!r} err={err!r}")
    check("unloaded profile: error says why",
          "apparmor" in err.lower() or "ward-not-loaded" in err, repr(err))
    check("unloaded profile: error does not claim AppArmor is off", "not enabled" not in err,
          repr(err))
    print("error for an unloaded profile: " + (err.strip().splitlines() or [""])[-1], flush=True)
    left = os.listdir(STATE) if os.path.isdir(STATE) else []
    check("nothing left in the state dir", not left, repr(left))

    # 6. Unload the profile again (the guest is discarded anyway; this checks -R works too).
    p = sh("apparmor_parser", "-R", PROFILE_FILE)
    check("profile unloads (apparmor_parser -R)", p.returncode == 0, p.stderr.strip())

    shutil.rmtree(BASE, ignore_errors=True)
    print(f"apparmor: {'FAIL' if failures else 'PASS'} ({len(failures)} failed)", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
