#!/bin/sh
# Runs inside the ward-vm guest (tests/vm/ward-vm -- tests/vm/smoke.sh) and
# checks what the cgroup v2 and AppArmor tests rely on: a cgroup2-only
# /sys/fs/cgroup with nsdelegate and the controllers enabled in the root's
# subtree_control, AppArmor enabled, and /tmp as the guest's own tmpfs.
cg=/sys/fs/cgroup
# It writes to the cgroup tree: never on a host (whose cgroup mounts are not ours).
if [ "${WARD_VM:-}" != 1 ]; then
	echo "smoke.sh: runs only in the VM: tests/vm/ward-vm -- tests/vm/smoke.sh" >&2
	exit 2
fi
fail=0
bad() { echo "FAIL: $*"; fail=1; }

echo "kernel: $(uname -r)"
echo "cgroup.controllers: $(cat $cg/cgroup.controllers)"
echo "cgroup.subtree_control: $(cat $cg/cgroup.subtree_control)"

if [ "$(stat -f -c %T $cg)" != cgroup2fs ]; then
	echo "FAIL: $cg is not cgroup2"
	exit 1
fi
# cgroup2 only: no cgroup v1 hierarchy mounted anywhere.
if awk '$3 == "cgroup" { found = 1 } END { exit !found }' /proc/mounts; then
	bad "a cgroup v1 hierarchy is mounted"
fi
grep -q "^cgroup2 $cg cgroup2 .*nsdelegate" /proc/mounts || bad "$cg lacks nsdelegate"
for c in memory pids cpu io cpuset hugetlb; do
	grep -qw "$c" $cg/cgroup.controllers || bad "controller $c not available"
	grep -qw "$c" $cg/cgroup.subtree_control || bad "controller $c not enabled in subtree_control"
done

[ -d /sys/kernel/security/apparmor ] || bad "no /sys/kernel/security/apparmor"
[ "$(cat /sys/module/apparmor/parameters/enabled 2>/dev/null)" = Y ] || bad "AppArmor is not enabled"
echo "lsm: $(cat /sys/kernel/security/lsm 2>/dev/null)"

[ "$(stat -f -c %T /tmp)" = tmpfs ] || bad "/tmp is not a tmpfs"
[ -c /dev/null ] && [ -d /dev/pts ] && [ -d /dev/mqueue ] || bad "/dev is incomplete"
[ "$(stat -f -c %T /sys/fs/bpf)" = bpf_fs ] || bad "/sys/fs/bpf is not bpffs"

# A child cgroup with limits can be made and used.
t=$cg/ward-vm-smoke.$$
if mkdir $t; then
	echo 64M >$t/memory.max && echo 16 >$t/pids.max || bad "cannot set limits in a child cgroup"
	sh -c "echo \$\$ >$t/cgroup.procs && grep -q '^0::/ward-vm-smoke' /proc/self/cgroup" ||
		bad "cannot move a process into a child cgroup"
	rmdir $t || bad "cannot remove $t"
else
	bad "cannot create a child cgroup"
fi

if [ $fail = 0 ]; then echo "smoke: OK"; else echo "smoke: FAILED"; fi
exit $fail
