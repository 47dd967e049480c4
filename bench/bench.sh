#!/bin/bash
# ward against crun, runc and the kernel's floor, side by side in one run: run, create+start+
# delete and exec of /bin/true (plain, with profiles/seccomp/default.json, with a user
# namespace), 100 containers 20 at a time, list/state with 1,000 containers. See bench.py.
#
# usage: bench/bench.sh [--short] [-n N] [--write bench/RESULTS.md] [RUNTIME[=PATH]...]
#   RUNTIME defaults to ward crun runc; ward is $WARD_RUNTIME or build/ward. --short is what CI
#   runs (2 runs per cell, no timing assertion): it fails only when a runtime cannot do a step.
#
# Every runtime runs under the same wrapper: this script starts one private mount namespace in
# which /sys/fs/cgroup/unified/cgroup.controllers is masked by an empty file (crun 1.8.1 refuses
# this hybrid cgroup host otherwise) and the state roots live on a tmpfs (as /run does on a real
# host; here /run is on disk). The wrapper is set up once, outside every measured process tree.
# The host's mounts are never touched.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" = 0 ] || { echo "bench: needs root" >&2; exit 2; }

work=$(mktemp -d /tmp/ward-bench.XXXXXX)
token=$(basename "$work" | tr -dc 'a-zA-Z0-9')
prefix=/ward-test-perf/bench-$token
cleanup() {
    for h in /sys/fs/cgroup/*/ /sys/fs/cgroup/; do
        [ -d "$h/ward-test-perf/bench-$token" ] || continue
        find "$h/ward-test-perf/bench-$token" -depth -type d -exec rmdir {} \; 2>/dev/null || true
        rmdir "$h/ward-test-perf" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# The parent of every container's cgroup exists beforehand, as kubepods does on a node, so
# that no runtime pays for making (or, as ward does for parents it made, removing) it.
for h in /sys/fs/cgroup/*/ /sys/fs/cgroup/; do
    [ -f "$h/cgroup.procs" ] && mkdir -p "$h/ward-test-perf/bench-$token"
done
# the container's root user (host uid 100000 with a user namespace) must reach the rootfs
chmod 0755 "$work"
mkdir -p "$work/state"
: > "$work/empty"

rc=0
unshare -m --propagation private /bin/sh -c '
    set -e
    work=$1; shift
    if [ -f /sys/fs/cgroup/unified/cgroup.controllers ]; then
        mount --bind "$work/empty" /sys/fs/cgroup/unified/cgroup.controllers
    fi
    mount -t tmpfs -o mode=0700 bench-state "$work/state"
    exec /usr/bin/python3 "$@"' \
    sh "$work" "$here/bench.py" --work "$work" --state "$work/state" --prefix "$prefix" "$@" || rc=$?
exit $rc
