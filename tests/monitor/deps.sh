#!/bin/bash
# Install what tests/monitor/run needs on a Debian 12 host: Prometheus (its server is
# scraped by the tests, promtool checks the exposition and the deploy rules), pytest and
# PyYAML, busybox-static and gcc for the bundles and the static helpers, setpriv.
# Idempotent: when everything is present it only runs dpkg-query and exits.
set -euo pipefail

pkgs=(
	prometheus      # the server the tests start on loopback, and promtool
	python3-pytest python3-yaml
	busybox-static  # rootfs of the test bundles
	gcc libc6-dev   # static probe and helpers
	util-linux      # setpriv (host processes as uid 1000)
)

exec "$(dirname "$0")/../../.ci/apt-install" "${pkgs[@]}"
