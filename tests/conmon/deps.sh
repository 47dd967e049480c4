#!/bin/bash
# Install what tests/conmon/run needs on a Debian 12 host: conmon (the monitor podman and
# CRI-O start for each container), pytest, busybox-static and gcc for the test bundles
# (conformance/lib/bundle.py copies /bin/busybox and builds its probe statically), and runc
# as the reference runtime the same tests are checked against.
# Idempotent: when everything is present it only runs dpkg-query and exits.
set -euo pipefail

pkgs=(
	conmon          # the monitor under which the runtime is driven
	python3-pytest  # the suite
	busybox-static  # rootfs of the test bundles
	gcc libc6-dev   # the static probe in conformance/lib/bundle.py
	runc            # reference runtime (WARD_RUNTIME=/usr/bin/runc)
)

missing=()
for p in "${pkgs[@]}"; do
	st=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
	[[ $st == ii* ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
	exit 0
fi

if ((EUID != 0)); then
	echo "deps.sh: need root to install: ${missing[*]}" >&2
	exit 1
fi

echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt_opts=(-y -q --no-install-recommends -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
if ! apt-get install "${apt_opts[@]}" "${missing[@]}"; then
	apt-get update -q
	apt-get install "${apt_opts[@]}" "${missing[@]}"
fi
