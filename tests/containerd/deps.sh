#!/bin/bash
# Install what tests/containerd/run needs on a Debian 12 host: containerd 1.6 (with ctr and
# containerd-shim-runc-v2), Python's gRPC runtime and protoc plugin for the CRI client the
# tests generate at run time, pytest, busybox-static for the images built from local files,
# and util-linux's `script` for giving ctr a terminal.
# Idempotent: when everything is present it only runs dpkg-query and exits.
set -euo pipefail

pkgs=(
	containerd          # containerd, ctr, containerd-shim-runc-v2
	python3-grpcio      # grpc runtime for the CRI client
	python3-grpc-tools  # grpc_tools.protoc: CRI stubs generated at test time
	python3-protobuf    # message classes used by the generated stubs
	python3-pytest      # the suite
	busybox-static      # rootfs for the pause and container images
	util-linux          # script(1): a pty for `ctr run --tty`
	coreutils tar
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
