// The container's root filesystem, set up by the container's init process
// (single-threaded, inside its new mount namespace, root in its user
// namespace) in the order prepare -> pivot -> [bind_console] -> finalize.
#pragma once

#include <string>
#include <vector>

#include "base/error.hpp"
#include "base/fd.hpp"
#include "model/config.hpp"

namespace ward::rootfs {

struct Options {
  bool no_pivot = false;    // --no-pivot: MS_MOVE + chroot instead of pivot_root
  bool new_userns = false;  // mknod is not permitted: bind host device nodes instead
  bool terminal = false;    // process.terminal: /dev/console is bound later
  bool selinux = false;     // SELinux enabled: label new filesystems with linux.mountLabel
  // MountSources::raw(): per config.mounts index, the detached copy of a bind
  // source opened by the parent, or -1 (bound by path in the init). The init
  // must keep these fds open until prepare(), which closes them.
  std::vector<int> source_fds;
};

// Bind sources opened once, on the host side, as host root, before clone3 (so
// before any user namespace exists): for each bind in config.mounts a detached
// copy of the source (open_tree OPEN_TREE_CLONE, recursive for rbind), with
// the propagation prepare() gives "/". The init attaches exactly that object
// (move_mount onto the destination fd): the path is never walked again, and a
// source the user namespace could not reach (a root-owned 0700 directory)
// binds as under runc. -1 entries are bound by path in the init: non-binds;
// every entry on a kernel without open_tree (< 5.2); and, with a new user
// namespace, binds whose host mount has ro/nosuid/nodev/noexec or, for rbind,
// submounts: a copy made here would not carry the locks (mount_namespaces(7))
// that forbid the container's root to clear those flags or uncover what the
// submounts hide, which it gets when bound from its own namespace's copy.
struct MountSources {
  std::vector<UniqueFd> fds;
  std::vector<std::string> real_paths;  // realpath of each opened source ("" for -1)
  std::vector<int> raw() const;
};
Result<MountSources> open_mount_sources(const model::Config& cfg, bool new_userns);

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
