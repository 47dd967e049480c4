// Waiting for a process the CLI stays attached to (run, exec): signal
// forwarding and terminal proxying.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include "base/error.hpp"
#include "base/fd.hpp"

namespace ward::lifecycle {

// Every signal that is forwarded to the container process (all but the
// synchronous faults, SIGKILL/SIGSTOP and the job-control stops).
sigset_t forwarded_signals();

// Wait for our child `pid`, forwarding the signals in `fwd` (already blocked
// by the caller) and, when `pty_master` is set, copying between our stdio and
// the pty (raw mode on our terminal, SIGWINCH resizes). Returns the exit
// status, 128+N when killed by signal N.
Result<int> attach_wait(pid_t pid, UniqueFd pty_master, const sigset_t& fwd);

}  // namespace ward::lifecycle
