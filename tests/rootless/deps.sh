#!/bin/bash
# Install what tests/rootless/run needs on a Debian 12 host: uidmap (newuidmap/newgidmap, the
# setuid helpers that map a user's subordinate ids), podman (rootless podman with ward as its
# runtime; brings conmon), passwd (useradd/userdel for the throwaway user), util-linux
# (runuser), busybox-static for the rootfs and image, pytest, and runc (the same tests pass with
# WARD_RUNTIME=/usr/bin/runc). Idempotent.
set -euo pipefail

pkgs=(
	uidmap          # newuidmap / newgidmap
	podman          # rootless podman --runtime ward
	passwd          # useradd / userdel
	util-linux      # runuser
	busybox-static  # rootfs of the bundle and of the imported image
	python3-pytest  # the suite
	runc            # reference runtime
)

exec "$(dirname "$0")/../../.ci/apt-install" "${pkgs[@]}"
