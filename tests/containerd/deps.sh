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

exec "$(dirname "$0")/../../.ci/apt-install" "${pkgs[@]}"
