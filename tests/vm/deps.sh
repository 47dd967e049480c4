#!/bin/bash
# Install what tests/vm/ward-vm needs on a Debian 12 host: qemu (TCG), Debian's
# own kernel (6.1, pure cgroup v2, AppArmor on) and its modules, busybox-static
# for the initramfs, and the tools that extract the kernel and pack the image.
# Idempotent: when everything is present it only runs dpkg-query and exits.
set -euo pipefail

pkgs=(
	qemu-system-x86   # qemu-system-x86_64 with TCG and virtio-9p
	linux-image-amd64 # /boot/vmlinuz-<kver> and /lib/modules/<kver>
	busybox-static    # /bin/busybox for the initramfs init
	kmod              # modprobe --show-depends for module load order
	cpio              # packs the initramfs
	xz-utils zstd gzip # decompress vmlinuz payload and .ko.xz modules
	binutils          # readelf: check the PVH ELF note of vmlinux
	coreutils util-linux
)

exec "$(dirname "$0")/../../.ci/apt-install" "${pkgs[@]}"
