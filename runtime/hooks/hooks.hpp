// The OCI hook runner (runtime-spec config.md "POSIX-platform Hooks").
#pragma once

#include <span>
#include <string_view>

#include "base/error.hpp"
#include "model/config.hpp"

namespace ward::hooks {

// Runs each hook in order: fork + execve(path, args, env exactly as given),
// the container state JSON on stdin, stdout and stderr captured, SIGKILL after
// `timeout` seconds. Stops at the first failure with
// `<phase> hook #<i> "<path>": exit status 1: <stderr>` (or "killed by signal
// 9", "timed out after 2s"). Safe in the container init before exec: no
// threads, reaps only its own child, changes no process-wide state.
Result<> run(std::span<const model::Hook> hooks, std::string_view state_json,
             std::string_view phase);

}  // namespace ward::hooks
