// The OCI hook runner (runtime-spec config.md "POSIX-platform Hooks").
#pragma once

#include <span>
#include <string_view>
#include <vector>

#include "base/error.hpp"
#include "model/config.hpp"

namespace ward::hooks {

// Runs each hook in order: fork + execve(path, args, env exactly as given),
// the container state JSON on stdin, stdout and stderr captured, SIGKILL after
// `timeout` seconds. Stops at the first failure with
// `<phase> hook #<i> "<path>": exit status 1: <stderr>` (or "killed by signal
// 9", "timed out after 2s"). Safe in the container init before exec: no
// threads, reaps only its own child, changes no process-wide state.
// `cwd`, when not empty, is the hook's working directory (runc runs
// prestart, createRuntime, poststart and poststop in the bundle directory);
// empty keeps the caller's.
Result<> run(std::span<const model::Hook> hooks, std::string_view state_json,
             std::string_view phase, std::string_view cwd = {});

// As run(), but every hook runs even after one failed (runtime-spec:
// poststop failures are warnings and the remaining hooks still run).
// Returns one error per failed hook, in order; empty when all succeeded.
std::vector<Error> run_all(std::span<const model::Hook> hooks, std::string_view state_json,
                           std::string_view phase, std::string_view cwd = {});

}  // namespace ward::hooks
