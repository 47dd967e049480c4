// Process confinement applied in the container init (or exec) child after the
// rootfs is final and before execve: rlimits, scheduling, identity and
// capabilities, no_new_privs, LSM labels, and inherited fd hygiene.
// Every function here runs in a single-threaded child, as root in the
// container's user namespace, and changes only the calling process.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

#include "base/error.hpp"
#include "base/fd.hpp"
#include "platform/procfs.hpp"
#include "model/config.hpp"

namespace ward::security {

// Before the uid switch: rlimits, oom_score_adj (when set), personality (when
// given; it lives in linux.personality, not in process), scheduler, I/O
// priority, umask (0022 when unset, as runc) and the initial exec CPU affinity.
// Fails on the first setting the kernel refuses, naming it.
Result<> apply_process_attrs(const model::Process& p,
                             const std::optional<model::Personality>& personality = std::nullopt);

// personality(2) with domain LINUX or LINUX32 plus the named flags
// ("ADDR_NO_RANDOMIZE", ...). Unknown domain or flag fails before any change.
Result<> apply_personality(const model::Personality& personality);

// The CPUs of a cpuset-style list ("0-3,7"), sorted and unique. Fails on
// malformed text or a reversed range.
Result<std::vector<unsigned>> parse_cpu_list(std::string_view list);

// sched_setaffinity(0) to the CPUs of `list` (see parse_cpu_list).
Result<> apply_cpu_affinity(std::string_view list);

// The five capability sets to install, as bit masks over capability numbers.
struct CapState {
  uint64_t bounding = 0, effective = 0, permitted = 0, inheritable = 0, ambient = 0;
  // Names the running kernel does not know (value > last_cap); skipped.
  std::vector<std::string> unknown;
  // Ambient names dropped because they are not both permitted and
  // inheritable (the kernel refuses to raise them; runc drops them too).
  std::vector<std::string> ambient_dropped;
};

// Pure: the sets to install for `caps` on a kernel whose highest capability is
// `last_cap`. Absent capabilities mean all sets empty (runc 1.1 drops every
// capability then). Fails when effective is not a subset of permitted.
Result<CapState> compute_cap_state(const std::optional<model::Capabilities>& caps, int last_cap);

// The highest capability number of the running kernel
// (/proc/sys/kernel/cap_last_cap, else libcap's cap_max_bits() - 1).
int kernel_last_cap();

// Facts about the host the identity step depends on, measured by the runtime
// outside the container (the container's /proc can be faked by the image: a
// low cap_last_cap would keep high bounding capabilities, a "deny" setgroups
// would keep the runtime's supplementary groups).
struct HostFacts {
  int last_cap = 40;               // /proc/sys/kernel/cap_last_cap of the host
  bool setgroups_allowed = true;   // /proc/<pid>/setgroups of the target user namespace
  bool selinux = false;            // selinux_enabled() of the host (the container's sysfs hides selinuxfs)
};
// Measure HostFacts through the host's /proc: cap_last_cap, and setgroups of
// the user namespace `pid` is in (0: this process). Call before pivot_root or
// setns into the container's mount namespace.
HostFacts measure_host_facts(pid_t pid = 0);

// Switch to p.user and install exactly p.capabilities: drop the bounding set,
// PR_SET_KEEPCAPS, setgroups (skipped where host.setgroups_allowed is false),
// setresgid, setresuid, capset, then ambient raise. Needs CAP_SETUID,
// CAP_SETGID and CAP_SETPCAP; fails naming the step that the kernel refused.
Result<> apply_identity(const model::Process& p, const HostFacts& host);

// Hand fds 0-2 (a pty or pipes) to `uid` before the uid switch, as runc's
// fixStdioPermissions: fchown(uid, unchanged gid), /dev/null skipped, and an
// fd the kernel will not give away (EINVAL, EPERM, EROFS) left as it is.
Result<> fix_stdio_ownership(uid_t uid);

// prctl(PR_SET_NO_NEW_PRIVS) when p.no_new_privileges is set.
Result<> apply_no_new_privs(const model::Process& p);

// True when the host runs AppArmor (securityfs entry present and the module
// parameter "enabled" is Y), the same test runc uses.
bool apparmor_enabled();

// aa_change_onexec(p.apparmor_profile) when a profile is set. Fails when
// AppArmor is not enabled, as runc 1.1 does.
// `host_enabled` is apparmor_enabled() measured before pivot_root: the
// container cannot see securityfs.
Result<> apply_apparmor(const model::Process& p, bool host_enabled);

// True when selinuxfs is mounted on /sys/fs/selinux (enforcing or permissive).
bool selinux_enabled();

// Write p.selinux_label to /proc/thread-self/attr/exec when a label is set.
// Fails when SELinux is not enabled, as runc 1.1 does. `host_enabled` is
// HostFacts::selinux, measured by the runtime on the host: after pivot_root
// the container's fresh sysfs has no selinuxfs, so it cannot be asked there.
Result<> apply_selinux(const model::Process& p, bool host_enabled);

// Mark every fd >= first_unpreserved close-on-exec, so only 0-2 and the
// preserved fds reach the container (CVE-2024-21626). Uses
// close_range(CLOSE_RANGE_CLOEXEC) and falls back to walking /proc/self/fd.
Result<> mark_fds_cloexec(int first_unpreserved);

// Close every fd >= 3 except 3 .. 3+preserve_fds-1 and those in `keep`
// (CVE-2024-21626): run first thing in a child cloned from the runtime, so a
// directory fd the runtime held (state dir, cgroup dir) cannot become the
// container's way out. close_range(2), with a /proc/self/fd walk fallback.
Result<> close_fds_except(int preserve_fds, std::span<const int> keep);

namespace detail {
// The /proc/self/fd walk used when close_range is unavailable (for tests).
Result<> mark_fds_cloexec_procfs(int first_unpreserved);
}  // namespace detail

}  // namespace ward::security
