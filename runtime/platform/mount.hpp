// Thin wrappers over the mount syscalls; errors name the call and its paths.
// All run in the calling process's mount namespace; callers hold CAP_SYS_ADMIN
// over it (container init, before exec).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/error.hpp"

namespace ward::platform {

// mount(2). An empty `fstype`/`data` passes NULL.
Result<> mount(std::string_view source, std::string_view target, std::string_view fstype,
               unsigned long flags, std::string_view data = {});

// mount_setattr(2) on the mount at `fd` (AT_EMPTY_PATH), its whole subtree when
// `recursive`. Fails with ENOSYS on kernels before 5.12.
Result<> mount_setattr_fd(int fd, uint64_t attr_set, uint64_t attr_clr, bool recursive);

// umount2(2).
Result<> umount(std::string_view target, int flags);

// pivot_root(2) (no glibc wrapper).
Result<> pivot_root(std::string_view new_root, std::string_view put_old);

// MS_* flags a MS_REMOUNT must keep for the mount holding `fd`: RDONLY, NOSUID,
// NODEV, NOEXEC, NOSYMFOLLOW and the atime mode, from fstatvfs(3). A remount that
// drops a flag locked by a less privileged user namespace fails with EPERM
// (mount_namespaces(7)).
Result<unsigned long> locked_mount_flags(int fd);

}  // namespace ward::platform
