// Helpers shared by the lifecycle commands (not part of the public API).
#pragma once

#include <optional>
#include <string>

#include "cgroups/cgroups.hpp"
#include "lifecycle/lifecycle.hpp"
#include "model/config.hpp"
#include "state/state.hpp"

namespace ward::lifecycle::detail {

// --preserve-fds N: fds 3..3+N-1 must be open in the caller (call before
// ward opens fds of its own).
Result<> check_preserved_fds(int n);
// config.json root.path: refused when it resolves to / or through a symlink
// (as runc), before anything is mounted.
Result<> check_rootfs(const std::string& path);
// A bundle for create and restore: its directory (realpath) and its
// config.json parsed, validated and checked against what ward can apply.
struct Bundle {
  std::string dir;
  std::string text;  // config.json as read (kept beside the state)
  model::Config cfg;
};
Result<Bundle> read_bundle(const std::string& dir);
// The container's cgroup manager as persisted in its state.
Result<cgroups::Manager> load_cgroup(const state::ContainerState& st);
// Status now, including the frozen check through the cgroup.
state::Status current_status(const state::ContainerState& st);
// Signal the container's init process, checking its start time first.
Result<> signal_init(const state::ContainerState& st, int sig);
// SIGKILL every process of the container and wait (bounded) until they are gone.
Result<> kill_and_wait(const state::ContainerState& st);
// Remove everything the container left: cgroup, state dir; run poststop hooks.
Result<> destroy(const state::Store& store, const state::ContainerState& st);
// Hooks as persisted in state.json (poststart, poststop).
nlohmann::json hooks_to_json(const std::vector<model::Hook>& hooks);
std::vector<model::Hook> hooks_from_json(const nlohmann::json& a);
// Hand a seccomp notify fd to the agent at the container's
// linux.seccomp.listenerPath, with the runtime-spec containerProcessState.
Result<> send_seccomp_fd(const state::ContainerState& st, int fd, pid_t pid = 0);

// SECCOMP{N} from an init or exec child `pid` (pidfd `pidfd`): take its fd N
// with pidfd_getfd once the filter is in (retrying while it is not, bounded),
// check it is a seccomp listener, hand it to the agent, and ACK on `conn`.
Result<> take_seccomp_fd(const state::ContainerState& st, int conn, int pidfd, pid_t pid,
                         std::string_view payload, pid_t agent_pid = 0);

// How long a child may take from EXECING to execve before the runtime gives up
// (a seccomp rule trapping a syscall the child still makes cannot hang it).
inline constexpr int kExecDeadlineMs = 10000;
// State JSON given to hooks.
std::string hook_state(const state::ContainerState& st, state::Status status);

}  // namespace ward::lifecycle::detail
