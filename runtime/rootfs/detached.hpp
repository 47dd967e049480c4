// Detached mounts (the new mount API, Linux 5.2+): a mount is prepared as an
// fd (open_tree OPEN_TREE_CLONE, fsopen/fsmount), its attributes set with
// mount_setattr(2), and attached with move_mount(2) onto an fd that was
// resolved once inside the root. No path is walked twice, and /proc need not
// be mounted (/proc/self/fd/N is not used). Each call fails with ENOSYS on a
// kernel without the syscall, for the caller's mount(2) fallback.
#pragma once

#include <cstdint>
#include <string>

#include "base/error.hpp"
#include "base/fd.hpp"

namespace ward::rootfs::detached {

// open_tree(dirfd, path, OPEN_TREE_CLONE): a private copy of the mount at
// `path` (the object at `dirfd` itself when `path` is empty), with its whole
// subtree when `recursive`. The copy is detached until move_onto().
Result<UniqueFd> clone(int dirfd, const std::string& path, bool recursive);

// mount_setattr(2) on the mount at `fd` (AT_EMPTY_PATH): set/clear MOUNT_ATTR_*,
// and the propagation type when `propagation` (MS_SHARED, MS_SLAVE,
// MS_PRIVATE, MS_UNBINDABLE) is non-zero; the whole subtree when `recursive`.
Result<> setattr(int fd, uint64_t attr_set, uint64_t attr_clr, uint64_t propagation, bool recursive);

// move_mount(2) of the detached (or attached) mount `mnt_fd` onto the object
// `target_fd` refers to (both AT_EMPTY_PATH).
Result<> move_onto(int mnt_fd, int target_fd);

// A fresh filesystem of `fstype` (fsopen, FSCONFIG_SET_STRING for each
// "key=value" / "flag" of comma-separated `data`, fsmount with `attrs`).
Result<UniqueFd> fresh(const std::string& fstype, const std::string& data, uint64_t attrs);

// MS_* mount(2) flags as MOUNT_ATTR_* bits (RDONLY, NOSUID, NODEV, NOEXEC,
// NODIRATIME, NOSYMFOLLOW and the atime mode).
uint64_t attrs_of_flags(unsigned long ms_flags);

}  // namespace ward::rootfs::detached
