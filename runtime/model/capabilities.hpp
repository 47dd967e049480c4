// The Linux capabilities ward knows, by name and number (capability.h).
#pragma once

#include <optional>
#include <span>
#include <string_view>

#include "model/name_table.hpp"

namespace ward::model {

// "CAP_CHOWN" -> 0.
using CapName = NameValue<int>;

// Highest capability number ward knows (CAP_CHECKPOINT_RESTORE).
inline constexpr int kCapLastKnown = 40;

// Every known capability, sorted by name.
inline constexpr std::array<CapName, kCapLastKnown + 1> kCapabilities{{
    {"CAP_AUDIT_CONTROL", 30},    {"CAP_AUDIT_READ", 37},     {"CAP_AUDIT_WRITE", 29},
    {"CAP_BLOCK_SUSPEND", 36},    {"CAP_BPF", 39},            {"CAP_CHECKPOINT_RESTORE", 40},
    {"CAP_CHOWN", 0},             {"CAP_DAC_OVERRIDE", 1},    {"CAP_DAC_READ_SEARCH", 2},
    {"CAP_FOWNER", 3},            {"CAP_FSETID", 4},          {"CAP_IPC_LOCK", 14},
    {"CAP_IPC_OWNER", 15},        {"CAP_KILL", 5},            {"CAP_LEASE", 28},
    {"CAP_LINUX_IMMUTABLE", 9},   {"CAP_MAC_ADMIN", 33},      {"CAP_MAC_OVERRIDE", 32},
    {"CAP_MKNOD", 27},            {"CAP_NET_ADMIN", 12},      {"CAP_NET_BIND_SERVICE", 10},
    {"CAP_NET_BROADCAST", 11},    {"CAP_NET_RAW", 13},        {"CAP_PERFMON", 38},
    {"CAP_SETFCAP", 31},          {"CAP_SETGID", 6},          {"CAP_SETPCAP", 8},
    {"CAP_SETUID", 7},            {"CAP_SYSLOG", 34},         {"CAP_SYS_ADMIN", 21},
    {"CAP_SYS_BOOT", 22},         {"CAP_SYS_CHROOT", 18},     {"CAP_SYS_MODULE", 16},
    {"CAP_SYS_NICE", 23},         {"CAP_SYS_PACCT", 20},      {"CAP_SYS_PTRACE", 19},
    {"CAP_SYS_RAWIO", 17},        {"CAP_SYS_RESOURCE", 24},   {"CAP_SYS_TIME", 25},
    {"CAP_SYS_TTY_CONFIG", 26},   {"CAP_WAKE_ALARM", 35},
}};
static_assert(sorted_by_name(kCapabilities));

// The number of capability `name` ("CAP_SYS_ADMIN" -> 21), or nullopt when unknown.
std::optional<int> capability_from_name(std::string_view name);
// The canonical name of capability number `value`, or "" when unknown.
std::string_view capability_name(int value);
// All known capabilities, sorted by name (for `ward features`).
std::span<const CapName> all_capabilities();

}  // namespace ward::model
