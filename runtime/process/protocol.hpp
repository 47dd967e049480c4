// The parent <-> container-init protocol over a SOCK_SEQPACKET socketpair.
//
//   ward create (parent)                      container init (child of clone3)
//   ───────────────────                      ────────────────────────────────
//   clone3(CLONE_NEW*) ───────────────────▶  blocks reading the sync socket
//   write uid_map/gid_map, join cgroups
//   prestart + createRuntime hooks
//   send GO{state json} ──────────────────▶  setns(paths), unshare(cgroup), hostname
//                                            rootfs::prepare, createContainer hooks,
//                                            pivot_root, console, rootfs::finalize,
//                                            cwd, exec lookup, rlimits & attrs
//                          ◀──────────────── READY [+ pty master fd]  (or ERROR{msg})
//   console socket / state.json / pid file
//   send ACK ─────────────────────────────▶  accept() on <state>/exec.sock   [created]
//   exit 0
//
//   ward start ── connect(exec.sock), "1" ─▶  fds, seccomp, apparmor, uid/gid +
//                                            caps, nnp, startContainer hooks, execve
//              ◀── EXECING{hook budget}, [SECCOMP{fd number} ── pidfd_getfd, ACK ─▶],
//                  startContainer hooks (under the filter, as the user),
//                  then EOF (exec done) or ERROR{msg}; EOF before EXECING
//                  or a dead init (pidfd) is a failure
//   poststart hooks                                                          [running]
//
// Messages are text: a keyword line, then an optional payload. Every failure in
// the child is sent once as ERROR and printed once by the parent.
#pragma once

#include <string>
#include <string_view>

#include "base/error.hpp"

namespace ward::process {

inline constexpr std::string_view kGo = "GO";
inline constexpr std::string_view kReady = "READY";
inline constexpr std::string_view kAck = "ACK";
inline constexpr std::string_view kError = "ERROR";
// SECCOMP{N}: the seccomp notify listener will be the init's fd N once the
// filter is loaded. The runtime side takes it with pidfd_getfd(2) (nothing the
// init would have to send after loading a filter that may trap sendmsg),
// hands it to the agent at linux.seccomp.listenerPath, and answers ACK; the
// init waits for that ACK so the fd is still open when it is taken.
inline constexpr std::string_view kSeccompFd = "SECCOMP";
// The positive "about to execve" message, sent before the first seccomp
// filter goes in (or right before execve without one). EOF without it is a
// failure: the init died or was killed before it got there. With
// startContainer hooks (run after it, under the filter) its payload is the
// time they may take in ms, -1 when a hook has no timeout, and a second,
// bare EXECING follows once they are done (only then is EOF success).
inline constexpr std::string_view kExecing = "EXECING";

// Split "KEYWORD\npayload" into its two parts.
inline std::pair<std::string_view, std::string_view> split_message(std::string_view m) {
  size_t nl = m.find('\n');
  if (nl == std::string_view::npos) return {m, {}};
  return {m.substr(0, nl), m.substr(nl + 1)};
}

}  // namespace ward::process
