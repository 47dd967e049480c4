#!/bin/bash
# Start-up cost of `RUNTIME run` of /bin/true from a busybox bundle, for several runtimes in
# one invocation: median user+sys CPU time and median peak RSS of the whole process tree
# (wait4 in a small static C parent, see rusage.c), plus the ratios ward/runc and ward/crun.
# CPU time and RSS rather than wall time: wall time swings on these shared 2-core machines.
#
# usage: bench/bench.sh [-n N] [RUNTIME...]
#   RUNTIME is a name (ward, runc, crun) or name=/path/to/binary; default: ward runc crun.
#   ward defaults to $WARD_RUNTIME or build/ward; a runtime that is not installed is skipped.
#   Runs are interleaved in chunks of 5 so that drift on the machine hits every runtime alike.
#
# crun 1.8.1 refuses this hybrid cgroup host unless /sys/fs/cgroup/unified/cgroup.controllers
# is hidden: crun alone runs inside a private mount namespace (unshare -m) where an empty file
# is bind-mounted over it. The host's mounts are never touched.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
py=/usr/bin/python3
n=30
if [ "${1:-}" = "-n" ]; then n=$2; shift 2; fi
[ $# -gt 0 ] || set -- ward runc crun
[ "$(id -u)" = 0 ] || { echo "bench: needs root" >&2; exit 2; }

work=$(mktemp -d /tmp/ward-bench.XXXXXX)
token=$(basename "$work" | tr -dc 'a-zA-Z0-9')
prefix=/ward-test/bench-$token
cleanup() {
    for h in /sys/fs/cgroup/*/; do
        [ -d "$h/ward-test/bench-$token" ] || continue
        find "$h/ward-test/bench-$token" -depth -type d -exec rmdir {} \; 2>/dev/null || true
        rmdir "$h/ward-test" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

names=() bins=()
for spec in "$@"; do
    name=${spec%%=*}
    if [ "$spec" != "$name" ]; then bin=${spec#*=}
    else
        case $name in
            ward) bin=${WARD_RUNTIME:-$repo/build/ward} ;;
            *) bin=$(command -v "$name" || true) ;;
        esac
    fi
    if [ -z "$bin" ] || [ ! -x "$bin" ]; then echo "bench: skipping $name (no binary '$bin')" >&2; continue; fi
    names+=("$name") bins+=("$bin")
done
[ ${#names[@]} -gt 0 ] || { echo "bench: no runtime to measure" >&2; exit 2; }

# one rootfs, one bundle per runtime (its own cgroupsPath), one state root per runtime
$py - "$repo" "$work" "$prefix" "${names[@]}" <<'EOF'
import json, os, sys
repo, work, prefix, names = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
sys.path.insert(0, os.path.join(repo, "conformance", "lib"))
import bundle
rootfs = os.path.join(work, "rootfs")
bundle.make_rootfs(rootfs)
for name in names:
    d = os.path.join(work, "bundle-" + name)
    os.makedirs(d)
    cfg = bundle.base_config(f"{prefix}/{name}", args=["/bin/true"])
    cfg["root"]["path"] = rootfs
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
EOF
: > "$work/empty"
gcc -static -O2 -o "$work/rusage" "$here/rusage.c"

measure() {  # name bin count chunk
    local name=$1 bin=$2 count=$3 chunk=$4
    local args=("$bin" "$work/root-$name" "$work/bundle-$name" "bench-$name-$chunk" "$count")
    mkdir -p "$work/root-$name"
    if [ "$name" = crun ] || [ "$(basename "$bin")" = crun ]; then
        unshare -m --propagation private sh -c \
            'mount --bind "$0" /sys/fs/cgroup/unified/cgroup.controllers && exec "$@"' \
            "$work/empty" "$work/rusage" "${args[@]}"
    else
        "$work/rusage" "${args[@]}"
    fi >> "$work/$name.jsonl"
}

echo "bench: $n runs of /bin/true per runtime: ${names[*]}" >&2
done_n=0 chunk=0
while [ $done_n -lt "$n" ]; do
    c=$(( n - done_n < 5 ? n - done_n : 5 ))
    for i in "${!names[@]}"; do measure "${names[$i]}" "${bins[$i]}" $c $chunk; done
    done_n=$(( done_n + c )) chunk=$(( chunk + 1 ))
done

$py - "$work" "${names[@]}" <<'EOF'
import json, statistics, sys
work, names = sys.argv[1], sys.argv[2:]
res = {}
print(f"{'runtime':8} {'runs':>4} {'failed':>6} {'cpu ms (median)':>16} {'peak RSS MB (median)':>21}")
for n in names:
    rows = [json.loads(l) for l in open(f"{work}/{n}.jsonl")]
    ok = [r for r in rows if r["rc"] == 0]
    if not ok:
        print(f"{n:8} {len(rows):4} {len(rows):6} {'-':>16} {'-':>21}")
        continue
    cpu = statistics.median(r["cpu_ms"] for r in ok)
    rss = statistics.median(r["rss_kb"] for r in ok) / 1024
    res[n] = (cpu, rss)
    print(f"{n:8} {len(rows):4} {len(rows) - len(ok):6} {cpu:16.1f} {rss:21.2f}")
for other in ("runc", "crun"):
    if "ward" in res and other in res:
        print(f"ward/{other}: cpu {res['ward'][0] / res[other][0]:.2f}x, "
              f"peak RSS {res['ward'][1] / res[other][1]:.2f}x")
    elif "ward" in names:
        print(f"ward/{other}: n/a (needs successful runs of both)")
failed = [n for n in names if n not in res]
sys.exit(1 if failed else 0)
EOF
