#!/usr/bin/env bash
# What the fuzz suite needs on Debian 12: clang 16 and its libFuzzer/sanitizer runtimes.
set -euo pipefail
exec bash "$(dirname "$0")/../.ci/apt-install" clang-16 libclang-rt-16-dev
