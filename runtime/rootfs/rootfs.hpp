// The container's root filesystem, set up by the container's init process
// (single-threaded, inside its new mount namespace, root in its user
// namespace) in the order prepare -> pivot -> [bind_console] -> finalize.
#pragma once

#include <string>

#include "base/error.hpp"
#include "model/config.hpp"

namespace ward::rootfs {

struct Options {
  bool no_pivot = false;    // --no-pivot: MS_MOVE + chroot instead of pivot_root
  bool new_userns = false;  // mknod is not permitted: bind host device nodes instead
  bool terminal = false;    // process.terminal: /dev/console is bound later
  bool selinux = false;     // SELinux enabled: label new filesystems with linux.mountLabel
};

// Before pivot: make "/" rslave (or linux.rootfsPropagation), bind the rootfs
// onto itself, perform config.mounts in order, create default and linux.devices
// nodes and the /dev symlinks. Every destination is resolved inside the rootfs.
Result<> prepare(const model::Config& cfg, const Options& opt);

// pivot_root(2) into cfg.root.path (or MS_MOVE + chroot when opt.no_pivot),
// detach the old root and chdir("/").
Result<> pivot(const model::Config& cfg, const Options& opt);

// After pivot, before finalize (masked paths): bind the pty peer `slave_fd`
// onto /dev/console with open_tree + move_mount (no path names the source).
// /dev/console is never followed: a symlink or other non-file the image put
// there is replaced by an empty regular file first; a directory fails.
Result<> bind_console(int slave_fd);

// After pivot: write linux.sysctl, apply readonlyPaths and maskedPaths (missing
// ones skipped), remount "/" read-only when root.readonly, and apply
// linux.rootfsPropagation to "/".
Result<> finalize(const model::Config& cfg, const Options& opt);

}  // namespace ward::rootfs
