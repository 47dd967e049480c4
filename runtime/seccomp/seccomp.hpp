// Seccomp: compile linux.seccomp into a classic-BPF program with libseccomp
// (in the parent, before clone), install it without libseccomp or allocation
// (in the child, last before execve), and hand the notify fd to the agent.
#pragma once

#include <linux/filter.h>
#include <linux/seccomp.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"
#include "model/config.hpp"

namespace ward::seccomp {

// A compiled filter, ready for seccomp(2). Built by compile(); load() reads it
// without allocating, so it can run between clone and execve.
struct Program {
  std::vector<sock_filter> bpf;
  unsigned flags = 0;        // SECCOMP_FILTER_FLAG_* for seccomp(2), NEW_LISTENER excluded
  bool uses_notify = false;  // some rule uses SCMP_ACT_NOTIFY
};

// Compile `cfg` with libseccomp and export the BPF. Syscall names unknown to
// libseccomp are skipped (log::debug). Fails on invalid actions, errnoRet on a
// non-ERRNO/TRACE action, unknown architectures or flags, flags the kernel lacks.
Result<Program> compile(const model::Seccomp& cfg);

// compile(), through a cache of compiled programs in `<state_root>/@seccomp-cache`
// (not a valid container id, so `list` never sees it): a profile seen before costs
// no libseccomp work. An entry is keyed by the SHA-256 of the profile's content,
// ward's cache format and version, libseccomp's version, the native architecture
// and the kernel (uname release, version, machine, which decide the flags and
// actions it has). It is used only when the directory and the file belong to this
// user and are writable by nobody else, the file has one link, it holds the full
// key (compared byte for byte), its SHA-256 checksum matches and its BPF is well
// formed; otherwise it is recompiled. Entries are written to a temporary name and
// renamed into place, so concurrent creates never see a partial one. A cache that
// cannot be read or written only costs the compile; errors are compile()'s.
Result<Program> compile(const model::Seccomp& cfg, const std::string& state_root);

// The cache key's text for `cfg` on this host (see compile(cfg, state_root)).
std::string cache_key(const model::Seccomp& cfg);

// True when `bpf` is a program the kernel's seccomp checker would accept in shape:
// 1..BPF_MAXINSNS instructions of the classic-BPF subset seccomp allows, aligned
// loads inside struct seccomp_data, every jump inside the program, ending in RET.
bool well_formed(std::span<const sock_filter> bpf);

// Install `prog` on the calling thread with seccomp(SECCOMP_SET_MODE_FILTER).
// Returns the notify listener fd (O_CLOEXEC) when prog.uses_notify, else -1.
// No allocation. Needs no_new_privs or CAP_SYS_ADMIN; fails with the errno.
Result<int> load(const Program& prog);

// The runtime-spec containerProcessState message for the agent:
// {ociVersion, fds:["seccompFd"], pid, metadata, state}, where `state_json` is
// the container's state object. Fails with EINVAL if `state_json` is not JSON.
Result<std::string> process_state_json(std::string_view oci_version, int pid,
                                       std::string_view metadata, std::string_view state_json);

// Connect to the seccomp agent's AF_UNIX stream socket at `listener_path` and
// send `process_state_json` (runtime-spec containerProcessState) in one message
// with `notify_fd` as SCM_RIGHTS. Runs in the runtime process, not the container.
Result<> send_to_listener(const std::string& listener_path, std::string_view process_state_json,
                          int notify_fd);

// Run classic-BPF `prog` on `data` in user space, as the kernel would, and
// return the SECCOMP_RET_* value (action | data). A malformed program or an
// out-of-range load yields SECCOMP_RET_KILL_PROCESS.
uint32_t evaluate(std::span<const sock_filter> prog, const seccomp_data& data);

// Names for `ward features`, filtered by what this libseccomp and kernel support.
std::vector<std::string> supported_actions();       // "SCMP_ACT_ALLOW", ...
std::vector<std::string> supported_operators();     // "SCMP_CMP_EQ", ...
std::vector<std::string> supported_architectures(); // "SCMP_ARCH_X86_64", ...
std::vector<std::string> supported_flags();         // "SECCOMP_FILTER_FLAG_LOG", ...

}  // namespace ward::seccomp
