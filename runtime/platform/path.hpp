// Path resolution confined to a root directory (the container's rootfs).
// Every lookup treats `root_fd` as "/": absolute symlinks and ".." never leave
// it (the CVE-2021-30465 family). Uses openat2(RESOLVE_IN_ROOT) and falls back
// to a component walk with O_NOFOLLOW when the kernel lacks openat2.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"
#include "base/fd.hpp"

namespace ward::platform {

// Lexically split `path` into components, dropping "" and "." but keeping "..".
std::vector<std::string> path_components(std::string_view path);

// "/proc/self/fd/N": the magic link to hand to mount(2) so that the kernel
// operates on the already-resolved object and not on a re-walk of a string.
std::string proc_fd_path(int fd);

// Open `path` (absolute or relative; both mean relative to `root_fd`) inside
// the root with open(2) `flags` (O_CLOEXEC is always added). Symlinks are
// followed but clamped to the root; magic links (/proc/PID/fd/..) are refused.
Result<UniqueFd> open_in_root(int root_fd, std::string_view path, int flags, mode_t mode = 0);

// Create every missing directory of `path` inside the root (mode before
// umask) and return an O_PATH|O_DIRECTORY fd of the last one. Dangling symlinks
// on the way are followed inside the root and their targets created. Fails with
// ENOTDIR when an existing component is not a directory.
Result<UniqueFd> mkdir_all_in_root(int root_fd, std::string_view path, mode_t mode);

// Ensure `path` exists inside the root, creating its parent directories (0755)
// and an empty regular file with `mode` when it is missing; return an O_PATH fd
// of whatever is there (it may be an existing non-regular file).
Result<UniqueFd> create_file_in_root(int root_fd, std::string_view path, mode_t mode);

// Testing hook: force the non-openat2 fallback walk (process-wide).
void force_path_walk_fallback(bool on);

}  // namespace ward::platform
