#!/bin/bash
# Packages of the checkpoint/restore suite: Debian's criu, and iptables (criu locks a container's
# network namespace with iptables-restore while it dumps). Idempotent; the VM's own packages
# come from tests/vm/deps.sh.
set -euo pipefail
need=()
command -v criu >/dev/null || need+=(criu)
command -v iptables-restore >/dev/null || need+=(iptables)
if ((${#need[@]})); then
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" >&2
fi
"$(dirname "$0")/../deps.sh"
