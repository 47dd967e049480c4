// Thin wrappers over the syscalls the lifecycle and process layers use, and
// small file helpers. All fds returned are O_CLOEXEC.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"
#include "base/fd.hpp"

namespace ward::platform {

// Read a whole file (small files: /proc, state, config). Errors name the path.
Result<std::string> read_file(const std::string& path);
// Write `data` to an existing or new file (O_TRUNC), mode 0644 when created.
Result<> write_file(const std::string& path, std::string_view data);
// Write `data` to `path` atomically for readers: a temp file in the same directory, then
// rename. Not durable across a host crash (no fsync): for state of live processes only.
Result<> write_file_atomic(const std::string& path, std::string_view data, mode_t mode = 0644);
// mkdir -p with `mode` for every created component.
Result<> mkdir_all(const std::string& path, mode_t mode);
// rm -rf of a directory tree on one filesystem (does not cross mounts). Missing is fine.
Result<> remove_all(const std::string& path);

// Start time of `pid` in clock ticks since boot (field 22 of /proc/PID/stat),
// or nullopt when the process does not exist or is a zombie.
std::optional<uint64_t> process_start_time(pid_t pid);
// True when `pid` exists, is not a zombie, and started at `start_time`.
bool process_matches(pid_t pid, uint64_t start_time);

// clone3(2) with the given flags; optional cgroup fd (CLONE_INTO_CGROUP).
// Returns 0 in the child, the child's pid in the parent.
Result<pid_t> clone3_fork(uint64_t flags, int cgroup_fd = -1);

// pidfd_open(2). ESRCH when gone.
Result<UniqueFd> pidfd_open(pid_t pid);
// pidfd_getfd(2): a duplicate (O_CLOEXEC) of fd `targetfd` of the process.
Result<UniqueFd> pidfd_getfd(int pidfd, int targetfd);
// pidfd_send_signal(2).
Result<> pidfd_send_signal(int pidfd, int sig);

// Send `data` plus optional fds over a connected AF_UNIX socket (one message).
Result<> send_with_fds(int sock, std::string_view data, std::span<const int> fds);
// Receive one message (up to `max` bytes) and up to 4 fds; an empty string with
// no fds means EOF.
struct Received {
  std::string data;
  std::vector<UniqueFd> fds;
};
Result<Received> recv_with_fds(int sock, size_t max = 65536);

// A path usable with bind/connect for a socket named `name` in directory `dir`
// even when "dir/name" exceeds sun_path: goes through /proc/self/fd/N.
std::string short_socket_path(int dirfd, const std::string& dir, const std::string& name);

}  // namespace ward::platform
