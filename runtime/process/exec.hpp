// The child of `ward exec`: joins a running container and execs a process.
#pragma once

#include <vector>

#include "model/config.hpp"
#include "seccomp/seccomp.hpp"
#include "security/process.hpp"

namespace ward::process {

inline constexpr std::string_view kPty = "PTY";

// Prepared by the parent before fork: namespace fds are opened from
// /proc/<init>/ns/* while /proc is still the host's.
struct ExecArgs {
  const model::Process* proc = nullptr;
  int sync_fd = -1;
  std::vector<std::pair<model::NamespaceType, int>> ns_fds;  // joined in order, user first
  const seccomp::Program* seccomp = nullptr;
  int preserve_fds = 0;
  bool apparmor_enabled = false;
  security::HostFacts host;  // measured by `ward exec` through the host's /proc
};

// Runs in the forked child; never returns. Waits for GO (the parent has put it
// in the container's cgroup), joins the namespaces, sends PTY{master fd} when
// the process has a terminal, then execs. Errors go to the parent as ERROR.
[[noreturn]] void exec_init(const ExecArgs& a);

}  // namespace ward::process
