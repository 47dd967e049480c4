// The process resource limits ward knows (setrlimit(2)), by name.
#pragma once

#include <sys/resource.h>

#include <optional>
#include <span>
#include <string_view>

#include "model/name_table.hpp"

namespace ward::model {

// "RLIMIT_NOFILE" -> RLIMIT_NOFILE.
using RlimitName = NameValue<int>;

// Every known rlimit, sorted by name.
inline constexpr std::array<RlimitName, 16> kRlimits{{
    {"RLIMIT_AS", RLIMIT_AS},
    {"RLIMIT_CORE", RLIMIT_CORE},
    {"RLIMIT_CPU", RLIMIT_CPU},
    {"RLIMIT_DATA", RLIMIT_DATA},
    {"RLIMIT_FSIZE", RLIMIT_FSIZE},
    {"RLIMIT_LOCKS", RLIMIT_LOCKS},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
    {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_NPROC", RLIMIT_NPROC},
    {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
    {"RLIMIT_RTTIME", RLIMIT_RTTIME},
    {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_STACK", RLIMIT_STACK},
}};
static_assert(sorted_by_name(kRlimits));

// The RLIMIT_* value of `name`, or nullopt when unknown.
std::optional<int> rlimit_from_name(std::string_view name);
// All known rlimits, sorted by name (for `ward features`).
std::span<const RlimitName> all_rlimits();

}  // namespace ward::model
