#!/usr/bin/env python3
"""Side-by-side cost of ward, crun, runc and the kernel's floor, in one run. Started by bench.sh,
which puts this process, and so every runtime, in the same private mount namespace (the wrapper
crun needs on this hybrid host, paid by no runtime's measured tree) with the state roots on a
tmpfs, as /run is on a real host.

Every figure comes from bench/harness.c (wait4 rusage of the whole process tree): median user+sys
CPU, median wall, median peak RSS, median minor page faults. Runs are interleaved in chunks so
that drift on the shared machine hits every runtime alike; compare the ratios.

Measured, each for the plain bundle, with profiles/seccomp/default.json and with a user
namespace: `run` of /bin/true; create + start + delete as containerd's shim drives it (pid file,
subreaper reaping the init, delete --force); `exec --process --detach --pid-file` of /bin/true
into a running container. Then 100 `run`s, 20 at a time; and `list` and `state` with 1,000
running containers in the root. The floor is unshare(1) of the same namespaces + chroot(8) +
exec of /bin/true, with no runtime."""

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "conformance", "lib"))
import bundle  # noqa: E402

VARIANTS = ["base", "seccomp", "userns"]
KINDS = ["run", "cycle", "exec"]
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


def sh(*argv, check=True):
    # Output goes to files, not pipes: a created container inherits the runtime's stdio and
    # would hold a pipe open.
    with open(os.devnull, "w") as out, open(os.devnull, "w") as err:
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: exit {r.returncode}")
    return r


class Bench:
    def __init__(self, args):
        self.a = args
        self.work = args.work
        self.state = args.state
        self.prefix = args.prefix
        self.harness = os.path.join(self.work, "harness")
        self.log = open(os.path.join(self.work, "runtime.log"), "a")
        self.rts = {}  # name -> binary
        for spec in args.runtimes:
            name, _, path = spec.partition("=")
            if not path:
                path = os.environ.get("WARD_RUNTIME", os.path.join(REPO, "build", "ward")) \
                    if name == "ward" else shutil.which(name) or ""
            if path and os.access(path, os.X_OK):
                self.rts[name] = os.path.abspath(path)
            else:
                print(f"bench: skipping {name} (no binary {path!r})", file=sys.stderr)
        self.results = {}  # (kind, variant) -> name -> [samples]
        self.extra = {}

    # --- setup ----------------------------------------------------------------------------
    def setup(self):
        subprocess.run(["gcc", "-static", "-O2", "-Wall", "-o", self.harness,
                        os.path.join(HERE, "harness.c")], check=True)
        self.rootfs = os.path.join(self.work, "rootfs")
        bundle.make_rootfs(self.rootfs)
        with open(os.path.join(REPO, "profiles", "seccomp", "default.json")) as f:
            self.profile = json.load(f)

    def config(self, rt, variant, purpose, args):
        cfg = bundle.base_config(f"{self.prefix}/{rt}-{variant}-{purpose}", args=args)
        cfg["root"]["path"] = self.rootfs
        if variant == "seccomp":
            cfg["linux"]["seccomp"] = self.profile
        elif variant == "userns":
            cfg["linux"]["namespaces"].append({"type": "user"})
            m = [{"containerID": 0, "hostID": 100000, "size": 65536}]
            cfg["linux"]["uidMappings"] = m
            cfg["linux"]["gidMappings"] = m
            # cgroup v1 hierarchies cannot be mounted from a user namespace
            cfg["mounts"] = [x for x in cfg["mounts"] if x["destination"] != "/sys/fs/cgroup"]
            cfg["root"]["readonly"] = False
        elif variant == "light":  # the 1,000-container population: no network namespace
            cfg["linux"]["namespaces"] = [n for n in cfg["linux"]["namespaces"]
                                          if n["type"] != "network"]
        return cfg

    def bundle(self, rt, variant, purpose, args):
        d = os.path.join(self.work, "bundles", rt, variant, purpose)
        os.makedirs(d, exist_ok=True)
        cfg = self.config(rt, variant, purpose, args)
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(cfg, f)
        return d, cfg

    def root(self, rt):
        r = os.path.join(self.state, rt)
        os.makedirs(r, exist_ok=True)
        return r

    # --- measuring ------------------------------------------------------------------------
    def harness_run(self, argv):
        r = subprocess.run([self.harness, *argv], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=self.log, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"harness {' '.join(argv)}: exit {r.returncode}")
        return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]

    def floor_argv(self, variant):
        ns = ["--mount", "--pid", "--net", "--ipc", "--uts", "--fork"]
        if variant == "userns":
            # one mapped id, written by unshare itself (wider maps need newuidmap and subuids)
            ns += ["--user", "--map-root-user"]
        return [shutil.which("unshare"), *ns, shutil.which("chroot"), self.rootfs, "/bin/true"]

    def argv_for(self, name, kind, variant, chunk, count):
        prefix = f"b{chunk}-{kind}-{variant}"
        if name == "floor":
            return ["run", str(count), prefix, "--", *self.floor_argv(variant)]
        rt, root = self.rts[name], self.root(name)
        if kind == "run":
            b, _ = self.bundle(name, variant, "true", ["/bin/true"])
            return ["run", str(count), prefix, "--", rt, "--root", root, "run", "--bundle", b,
                    "@ID@"]
        if kind == "cycle":
            b, _ = self.bundle(name, variant, "true", ["/bin/true"])
            return ["cycle", str(count), prefix, rt, root, b]
        if kind == "exec":
            cid, proc = self.exec_targets[(name, variant)]
            d = os.path.join(self.work, "exec", name, variant)
            os.makedirs(d, exist_ok=True)
            return ["exec", str(count), rt, root, cid, proc, d]
        raise ValueError(kind)

    def start_exec_target(self, name, variant):
        b, cfg = self.bundle(name, variant, "sleep", ["/bin/sleep", "1000000"])
        cid = f"target-{variant}"
        rt, root = self.rts[name], self.root(name)
        sh(rt, "--root", root, "create", "--bundle", b, cid)
        sh(rt, "--root", root, "start", cid)
        proc = dict(cfg["process"], args=["/bin/true"])
        path = os.path.join(b, "process.json")
        with open(path, "w") as f:
            json.dump(proc, f)
        return cid, path

    def stop_exec_targets(self):
        for (name, _), (cid, _) in self.exec_targets.items():
            sh(self.rts[name], "--root", self.root(name), "delete", "--force", cid, check=False)

    def measure(self, kind, variant, names):
        n, chunk = self.a.n, self.a.chunk
        out = {name: [] for name in names}
        done, c = 0, 0
        while done < n:
            k = min(chunk, n - done)
            for name in names:
                out[name] += self.harness_run(self.argv_for(name, kind, variant, c, k))
            done += k
            c += 1
        self.results[(kind, variant)] = out
        print(f"bench: {kind:5} {variant:8} " + "  ".join(
            f"{nm} {fmt_ms(med(ok(v), 'cpu_ms'))}" for nm, v in out.items()), file=sys.stderr)

    def parallel(self):
        total, conc = self.a.parallel, self.a.conc
        res = {}
        for name in self.rts:
            d = os.path.join(self.work, "bundles", name, "par")
            for i in range(total):
                b, _ = self.bundle(name, "base", f"par-{i}", ["/bin/true"])
                os.makedirs(d, exist_ok=True)
                link = os.path.join(d, str(i))
                if not os.path.lexists(link):
                    os.symlink(b, link)
        for name, rt in self.rts.items():
            root = self.root(name)
            r = self.harness_run(["parallel", str(total), str(conc), "par", "--", rt, "--root",
                                  root, "run", "--bundle",
                                  os.path.join(self.work, "bundles", name, "par", "@I@"), "@ID@"])
            res[name] = r[0]
            # a failed run may leave its container behind
            for i in range(total):
                if os.path.isdir(os.path.join(root, f"par-{i}")):
                    sh(rt, "--root", root, "delete", "--force", f"par-{i}", check=False)
        self.extra["parallel"] = res
        print("bench: parallel " + "  ".join(
            f"{nm} {r['cpu_ms'] / r['total']:.1f} ms/container, {r['failed']} failed"
            for nm, r in res.items()), file=sys.stderr)

    def listing(self):
        count = self.a.containers
        res = {}
        for name, rt in self.rts.items():
            root = os.path.join(self.state, f"{name}-many")
            os.makedirs(root, exist_ok=True)
            d = os.path.join(self.work, "bundles", name, "pop")
            os.makedirs(d, exist_ok=True)
            for i in range(count):
                b, _ = self.bundle(name, "light", f"pop-{i}", ["/bin/sleep", "1000000"])
                link = os.path.join(d, str(i))
                if not os.path.lexists(link):
                    os.symlink(b, link)
            t0 = time.monotonic()
            made = self.harness_run(["parallel", str(count), "4", "pop", "--", rt, "--root", root,
                                     "run", "--detach", "--bundle", os.path.join(d, "@I@"),
                                     "@ID@"])[0]
            t_made = time.monotonic() - t0
            rows = {}
            n = self.a.n
            for _ in range(2):  # interleave list and state
                for what, argv in (("list", [rt, "--root", root, "list"]),
                                   ("state", [rt, "--root", root, "state", "pop-7"])):
                    rows.setdefault(what, []).extend(
                        self.harness_run(["run", str(max(1, n // 2)), "x", "--", *argv]))
            gone = self.harness_run(["parallel", str(count), "4", "pop", "--", rt, "--root", root,
                                     "delete", "--force", "@ID@"])[0]
            res[name] = {"created": made, "create_s": t_made, "deleted": gone, **rows}
            print(f"bench: list of {count} ({name}): list {fmt_ms(med(ok(rows['list']), 'cpu_ms'))}"
                  f", state {fmt_ms(med(ok(rows['state']), 'cpu_ms'))}, "
                  f"{made['failed']} creates failed", file=sys.stderr)
        self.extra["list"] = res

    def go(self):
        self.setup()
        names = list(self.rts)
        for variant in VARIANTS:
            floor = ["floor"] if variant in ("base", "userns") else []
            self.measure("run", variant, names + floor)
        for variant in VARIANTS:
            self.measure("cycle", variant, names)
        self.exec_targets = {}
        try:
            for variant in VARIANTS:
                for name in names:
                    self.exec_targets[(name, variant)] = self.start_exec_target(name, variant)
            for variant in VARIANTS:
                self.measure("exec", variant, names)
        finally:
            self.stop_exec_targets()
        if self.a.parallel:
            self.parallel()
        if self.a.containers:
            self.listing()

    # --- report ---------------------------------------------------------------------------
    def machine(self):
        cpu = "?"
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        mem = 0
        with open("/proc/meminfo") as f:
            mem = int(f.readline().split()[1]) // 1024 // 1024
        vers = {}
        for name, rt in self.rts.items():
            r = subprocess.run([rt, "--version"], capture_output=True, text=True)
            vers[name] = (r.stdout.splitlines() or ["?"])[0]
        git = ["git", "-C", REPO]
        commit = subprocess.run(git + ["rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True).stdout.strip()
        dirty = subprocess.run(git + ["status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip()
        size = os.path.getsize(self.rts["ward"]) if "ward" in self.rts else 0
        return (f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {platform.node()}: "
                f"{cpu}, {os.cpu_count()} CPUs, {mem} GiB, kernel {platform.release()}, "
                f"load average {os.getloadavg()[0]:.2f} at the end; "
                + "; ".join(f"{k}: {v}" for k, v in vers.items())
                + f"; ward at {commit}{' (modified)' if dirty else ''}, binary {size / 1e6:.2f} MB")

    def report(self):
        n = self.a.n
        lines = [BEGIN, "", f"Measured {self.machine()}.", "",
                 f"{n} runs per cell, interleaved in chunks of {self.a.chunk}. CPU = user+sys of "
                 "the whole process tree (ms, median), wall (ms, median), peak RSS (MB, median), "
                 "minor page faults (median); ratios are ward's CPU over the other's.", "",
                 "| operation | runtime | ok/runs | CPU ms | wall ms | peak RSS MB | minflt | "
                 "ward/that CPU | ward/that RSS |",
                 "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for (kind, variant), per in self.results.items():
            w = per.get("ward")
            for name, rows in per.items():
                good = ok(rows)
                cpu, rss = med(good, "cpu_ms"), med(good, "rss_kb")
                rc = rr = ""
                if w and name != "ward" and cpu and med(ok(w), "cpu_ms"):
                    rc = f"{med(ok(w), 'cpu_ms') / cpu:.2f}x"
                    rr = f"{med(ok(w), 'rss_kb') / rss:.2f}x"
                lines.append(f"| {kind} {variant} | {name} | {len(good)}/{len(rows)} | "
                             f"{fmt_ms(cpu)} | {fmt_ms(med(good, 'wall_ms'))} | "
                             f"{fmt_mb(rss)} | {fmt_int(med(good, 'minflt'))} | {rc} | {rr} |")
        if "parallel" in self.extra:
            lines += ["", f"{self.a.parallel} `run`s of /bin/true, {self.a.conc} at a time:", "",
                      "| runtime | failed | total wall s | CPU ms per container | "
                      "sequential `run` CPU ms (mean) | parallel/sequential |",
                      "| --- | --- | --- | --- | --- | --- |"]
            for name, r in self.extra["parallel"].items():
                per = r["cpu_ms"] / r["total"]
                seq = mean(ok(self.results[("run", "base")][name]), "cpu_ms")
                lines.append(f"| {name} | {r['failed']} | {r['wall_ms'] / 1e3:.2f} | {per:.2f} | "
                             f"{fmt_ms(seq)} | {per / seq:.2f}x |" if seq else
                             f"| {name} | {r['failed']} | {r['wall_ms'] / 1e3:.2f} | {per:.2f} | - | - |")
        if "list" in self.extra:
            count = self.a.containers
            lines += ["", f"`list` and `state` with {count} running containers in the root "
                      "(created with `run --detach`, 4 at a time):", "",
                      "| runtime | creates failed | list CPU ms | list wall ms | state CPU ms | "
                      "state wall ms |", "| --- | --- | --- | --- | --- | --- |"]
            for name, r in self.extra["list"].items():
                lines.append(f"| {name} | {r['created']['failed']} | "
                             f"{fmt_ms(med(ok(r['list']), 'cpu_ms'))} | "
                             f"{fmt_ms(med(ok(r['list']), 'wall_ms'))} | "
                             f"{fmt_ms(med(ok(r['state']), 'cpu_ms'))} | "
                             f"{fmt_ms(med(ok(r['state']), 'wall_ms'))} |")
        lines += ["", "Targets (issue 12):", ""] + [f"- {t}" for t in self.targets()] + ["", END]
        return "\n".join(lines) + "\n"

    def targets(self):
        out = []

        def cpu(kind, variant, name):
            return med(ok(self.results.get((kind, variant), {}).get(name, [])), "cpu_ms")

        def rss(kind, variant, name):
            return med(ok(self.results.get((kind, variant), {}).get(name, [])), "rss_kb")

        def check(label, value, limit, unit="x"):
            if value is None:
                out.append(f"{label}: not measured")
                return
            verdict = "met" if value <= limit else "MISSED"
            out.append(f"{label}: {value:.2f}{unit} (target <= {limit}{unit}): {verdict}")

        def ratio(a, b):
            return a / b if a and b else None

        check("run CPU ward/crun", ratio(cpu("run", "base", "ward"), cpu("run", "base", "crun")), 0.8)
        check("run CPU ward/floor", ratio(cpu("run", "base", "ward"), cpu("run", "base", "floor")), 2)
        check("create+start+delete CPU ward/crun",
              ratio(cpu("cycle", "base", "ward"), cpu("cycle", "base", "crun")), 0.8)
        check("exec CPU ward/crun", ratio(cpu("exec", "base", "ward"), cpu("exec", "base", "crun")), 0.8)
        for kind in KINDS:
            check(f"{kind} with seccomp CPU ward/crun",
                  ratio(cpu(kind, "seccomp", "ward"), cpu(kind, "seccomp", "crun")), 0.6)
        check("run peak RSS ward/crun", ratio(rss("run", "base", "ward"), rss("run", "base", "crun")), 0.8)
        p = self.extra.get("parallel", {}).get("ward")
        if p:
            seq = mean(ok(self.results[("run", "base")]["ward"]), "cpu_ms")
            per = p["cpu_ms"] / p["total"]
            verdict = "met" if p["failed"] == 0 and seq and per <= 1.2 * seq else "MISSED"
            out.append(f"{p['total']} parallel: {p['failed']} failed, {per:.2f} ms CPU per "
                       f"container against {fmt_ms(seq)} sequential ({per / seq:.2f}x, target "
                       f"no failure and <= 1.2x): {verdict}")
        lst = self.extra.get("list", {}).get("ward")
        if lst:
            check(f"list of {self.a.containers} containers, ward CPU",
                  med(ok(lst["list"]), "cpu_ms"), 50, " ms")
        return out


def ok(rows):
    return [r for r in rows if r.get("rc") == 0]


def med(rows, key):
    return statistics.median(r[key] for r in rows) if rows else None


def mean(rows, key):
    return statistics.fmean(r[key] for r in rows) if rows else None


def fmt_ms(v):
    return "-" if v is None else f"{v:.2f}"


def fmt_mb(kb):
    return "-" if kb is None else f"{kb / 1024:.2f}"


def fmt_int(v):
    return "-" if v is None else f"{v:.0f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", required=True)
    ap.add_argument("--state", required=True)
    ap.add_argument("--prefix", required=True, help="absolute cgroupsPath prefix")
    ap.add_argument("-n", type=int, help="runs per cell (30; 2 with --short)")
    ap.add_argument("--chunk", type=int, default=5)
    ap.add_argument("--parallel", type=int, default=100)
    ap.add_argument("--conc", type=int, default=20)
    ap.add_argument("--containers", type=int, default=1000)
    ap.add_argument("--short", action="store_true",
                    help="CI: 2 runs per cell, 10 in parallel 5 at a time, list of 10")
    ap.add_argument("--write", help="replace the generated section of this Markdown file")
    ap.add_argument("runtimes", nargs="*", default=["ward", "crun", "runc"])
    a = ap.parse_args()
    if a.short:
        a.chunk, a.parallel, a.conc, a.containers = 1, 10, 5, 10
    if a.n is None:
        a.n = 2 if a.short else 30
    b = Bench(a)
    if "ward" not in b.rts:
        print("bench: no ward binary", file=sys.stderr)
        return 2
    b.go()
    text = b.report()
    print(text)
    if a.write:
        old = open(a.write).read() if os.path.exists(a.write) else ""
        if BEGIN in old and END in old:
            new = old[:old.index(BEGIN)] + text.rstrip("\n") + old[old.index(END) + len(END):]
        else:
            new = old + ("\n" if old else "") + text
        with open(a.write, "w") as f:
            f.write(new)
    # every cell must have run: a runtime failing every run is a regression worth a red CI
    failed = [f"{k} {v} {nm}" for (k, v), per in b.results.items() for nm, rows in per.items()
              if not ok(rows)]
    failed += [f"parallel {nm}" for nm, r in b.extra.get("parallel", {}).items()
               if nm == "ward" and r["failed"]]
    if failed:
        print("bench: failed: " + ", ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
