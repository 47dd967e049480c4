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

exec "$(dirname "$0")/../../.ci/apt-install" "${pkgs[@]}"
