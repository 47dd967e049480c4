"""Turns a probe's JSON report into a form comparable between runtimes: inode numbers, pids,
peer-group ids, bundle and cgroup paths are replaced by stable placeholders."""

import os
import re

NS_RE = re.compile(r"^(\w+):\[(\d+)\]$")


def host_namespaces():
    out = {}
    for n in os.listdir("/proc/self/ns"):
        out[os.readlink("/proc/self/ns/" + n)] = "host"
    return out


def _ns(value, known):
    if value in known:
        return known[value]
    if NS_RE.match(value or ""):
        return "new"
    return value


def _subst(s, subst):
    for k, v in subst:
        if k and isinstance(s, str):
            s = s.replace(k, v)
    return s


def parse_mountinfo_line(line, subst):
    f = line.split(" ")
    sep = f.index("-")
    optional = []
    for o in f[6:sep]:
        optional.append(re.sub(r":\d+$", "", o))
    return {
        "root": _subst(f[3], subst),
        "mountpoint": _subst(f[4], subst),
        "opts": f[5],
        "propagation": sorted(optional),
        "fstype": f[sep + 1],
        "source": _subst(f[sep + 2], subst),
        "superopts": f[sep + 3] if len(f) > sep + 3 else "",
    }


def _fd_target(t, subst):
    t = re.sub(r"^(pipe|socket|anon_inode):\[?.*$", r"\1", t)
    t = re.sub(r"^/dev/pts/\d+$", "/dev/pts/N", t)
    return _subst(t, subst)


def normalize(report, known_ns=None, subst=(), marker=None):
    """Returns a normalized copy of a probe report.

    known_ns: {"net:[4026...]": "host", ...} labels for namespace ids (others become "new").
    subst: [(text, placeholder)] applied to paths (bundle dir, cgroupsPath, ...).
    """
    known = dict(known_ns or host_namespaces())
    r = dict(report)
    r["pid"] = 1 if r.get("pid") == 1 else "<pid>"
    r["ppid"] = 0 if r.get("ppid") == 0 else "<ppid>"
    r["ns"] = {k: _ns(v, known) for k, v in report.get("ns", {}).items()}
    if marker:
        r["env"] = [e for e in report.get("env", []) if e != "WARD_TEST_MARK=" + marker]
    r["mountinfo"] = [parse_mountinfo_line(l, subst) for l in report.get("mountinfo", [])]
    r["cgroup"] = [_subst(l, subst) for l in report.get("cgroup", [])]
    r["fds"] = {k: _fd_target(v, subst) for k, v in report.get("fds", {}).items()}
    r["cwd"] = _subst(report.get("cwd"), subst)
    return r


def _short(v, n=160):
    r = repr(v)
    return r if len(r) <= n else r[:n] + "..."


def diff(a, b, path=""):
    """Lists the differences between two JSON-like values as 'path: a != b' strings."""
    out = []
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=str):
            p = f"{path}.{k}" if path else str(k)
            if k not in a:
                out.append(f"{p}: missing under test, reference has {_short(b[k])}")
            elif k not in b:
                out.append(f"{p}: only under test: {_short(a[k])}")
            else:
                out += diff(a[k], b[k], p)
    elif isinstance(a, list) and isinstance(b, list) and a != b:
        if len(a) == len(b):
            for i, (x, y) in enumerate(zip(a, b)):
                out += diff(x, y, f"{path}[{i}]")
        else:
            out.append(f"{path}: list differs\n    under test: {a!r}\n    reference:  {b!r}")
    elif a != b:
        out.append(f"{path}: under test {a!r} != reference {b!r}")
    return out


def drop_path(obj, dotted):
    """Deletes the value at a dotted path (e.g. 'status.CapBnd') if present. A key may itself
    contain dots ('extra.poststart.json.status' reaches extra['poststart.json']['status'])."""
    parts = dotted.split(".")

    def walk(o, i):
        if not isinstance(o, dict):
            return
        for j in range(len(parts), i, -1):
            key = ".".join(parts[i:j])
            if key in o:
                if j == len(parts):
                    o.pop(key, None)
                else:
                    walk(o[key], j)
                return

    walk(obj, 0)