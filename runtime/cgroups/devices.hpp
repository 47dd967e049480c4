// The device allowlist (linux.resources.devices): a pure translation into a
// BPF_PROG_TYPE_CGROUP_DEVICE program (cgroup v2) or devices.allow/deny
// lines (v1), plus a user-space interpreter so the program itself is tested.
#pragma once

#include <linux/bpf.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/error.hpp"
#include "model/config.hpp"

namespace ward::cgroups {

// runc's devices that every container may use (mknod of any c/b device,
// null, zero, full, random, urandom, tty, ptmx, pts/*, net/tun).
std::vector<model::DeviceRule> default_device_rules();
// `user` followed by default_device_rules(), as runc orders them.
std::vector<model::DeviceRule> effective_device_rules(const std::vector<model::DeviceRule>& user);

// Reference semantics: rules apply in order; a full wildcard ("a", any
// major/minor, "rwm") resets the default, otherwise the last rule matching
// each requested access bit decides. Default allow when no rule resets it.
bool device_allowed(const std::vector<model::DeviceRule>& rules, char type, uint32_t major,
                    uint32_t minor, std::string_view access);

// Compile `rules` into a cgroup device program with the semantics above.
// Fails on a bad type, access string or out-of-range number.
Result<std::vector<bpf_insn>> device_program(const std::vector<model::DeviceRule>& rules);

// Run a device program in user space on one request (type 'c' or 'b',
// access a non-empty subset of "rwm"): 1 allow, 0 deny. Fails on an
// instruction the compiler never emits or a jump out of range.
Result<int> run_device_program(const std::vector<bpf_insn>& prog, char type, uint32_t major,
                               uint32_t minor, std::string_view access);

// cgroup v1 writes in order: {"devices.allow"|"devices.deny", "c 1:3 rwm"}.
Result<std::vector<std::pair<std::string, std::string>>> v1_device_lines(
    const std::vector<model::DeviceRule>& rules);

// Load `prog` and attach it to the cgroup2 directory `cgroup_fd`
// (BPF_F_ALLOW_MULTI). Needs CAP_SYS_ADMIN / CAP_BPF.
Result<> attach_device_program(int cgroup_fd, const std::vector<bpf_insn>& prog);

}  // namespace ward::cgroups
