// The other OCI/kernel name tables of the model: namespace types, seccomp
// actions/operators/architectures/flags, scheduler policies and flags, I/O
// priority classes, personality domains, rootfs propagation. Sorted by name.
#pragma once

#include <sys/mount.h>

#include <cstdint>
#include <string_view>

#include "model/config.hpp"
#include "model/name_table.hpp"

namespace ward::model {

// linux.namespaces[].type (runtime-spec config-linux.md "Namespaces").
inline constexpr std::array<NameValue<NamespaceType>, 8> kNamespaceTypes{{
    {"cgroup", NamespaceType::cgroup},
    {"ipc", NamespaceType::ipc},
    {"mount", NamespaceType::mount},
    {"network", NamespaceType::network},
    {"pid", NamespaceType::pid},
    {"time", NamespaceType::time},
    {"user", NamespaceType::user},
    {"uts", NamespaceType::uts},
}};
static_assert(sorted_by_name(kNamespaceTypes));

// linux.seccomp defaultAction / syscalls[].action.
inline constexpr std::array<NameValue<SeccompAction>, 9> kSeccompActions{{
    {"SCMP_ACT_ALLOW", SeccompAction::allow},
    {"SCMP_ACT_ERRNO", SeccompAction::errno_},
    {"SCMP_ACT_KILL", SeccompAction::kill},
    {"SCMP_ACT_KILL_PROCESS", SeccompAction::kill_process},
    {"SCMP_ACT_KILL_THREAD", SeccompAction::kill_thread},
    {"SCMP_ACT_LOG", SeccompAction::log},
    {"SCMP_ACT_NOTIFY", SeccompAction::notify},
    {"SCMP_ACT_TRACE", SeccompAction::trace},
    {"SCMP_ACT_TRAP", SeccompAction::trap},
}};
static_assert(sorted_by_name(kSeccompActions));

// linux.seccomp syscalls[].args[].op.
inline constexpr std::array<NameValue<SeccompOp>, 7> kSeccompOps{{
    {"SCMP_CMP_EQ", SeccompOp::equal_to},
    {"SCMP_CMP_GE", SeccompOp::greater_equal},
    {"SCMP_CMP_GT", SeccompOp::greater_than},
    {"SCMP_CMP_LE", SeccompOp::less_equal},
    {"SCMP_CMP_LT", SeccompOp::less_than},
    {"SCMP_CMP_MASKED_EQ", SeccompOp::masked_equal},
    {"SCMP_CMP_NE", SeccompOp::not_equal},
}};
static_assert(sorted_by_name(kSeccompOps));

// linux.seccomp.architectures (libseccomp names; the value is unused).
inline constexpr std::array<NameValue<bool>, 23> kSeccompArches{{
    {"SCMP_ARCH_AARCH64", true},    {"SCMP_ARCH_ARM", true},       {"SCMP_ARCH_LOONGARCH64", true},
    {"SCMP_ARCH_M68K", true},       {"SCMP_ARCH_MIPS", true},      {"SCMP_ARCH_MIPS64", true},
    {"SCMP_ARCH_MIPS64N32", true},  {"SCMP_ARCH_MIPSEL", true},    {"SCMP_ARCH_MIPSEL64", true},
    {"SCMP_ARCH_MIPSEL64N32", true}, {"SCMP_ARCH_PARISC", true},   {"SCMP_ARCH_PARISC64", true},
    {"SCMP_ARCH_PPC", true},        {"SCMP_ARCH_PPC64", true},     {"SCMP_ARCH_PPC64LE", true},
    {"SCMP_ARCH_RISCV64", true},    {"SCMP_ARCH_S390", true},      {"SCMP_ARCH_S390X", true},
    {"SCMP_ARCH_SH", true},         {"SCMP_ARCH_SHEB", true},      {"SCMP_ARCH_X32", true},
    {"SCMP_ARCH_X86", true},        {"SCMP_ARCH_X86_64", true},
}};
static_assert(sorted_by_name(kSeccompArches));

// linux.seccomp.flags -> SECCOMP_FILTER_FLAG_* bit (seccomp(2)).
inline constexpr std::array<NameValue<uint32_t>, 4> kSeccompFlags{{
    {"SECCOMP_FILTER_FLAG_LOG", 1u << 1},
    {"SECCOMP_FILTER_FLAG_SPEC_ALLOW", 1u << 2},
    {"SECCOMP_FILTER_FLAG_TSYNC", 1u << 0},
    {"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", 1u << 5},
}};
static_assert(sorted_by_name(kSeccompFlags));

// process.scheduler.policy -> SCHED_* (sched(7)).
inline constexpr std::array<NameValue<int>, 7> kSchedPolicies{{
    {"SCHED_BATCH", 3}, {"SCHED_DEADLINE", 6}, {"SCHED_FIFO", 1}, {"SCHED_IDLE", 5},
    {"SCHED_ISO", 4},   {"SCHED_OTHER", 0},    {"SCHED_RR", 2},
}};
static_assert(sorted_by_name(kSchedPolicies));

// process.scheduler.flags -> SCHED_FLAG_* bit (sched_setattr(2)).
inline constexpr std::array<NameValue<uint64_t>, 7> kSchedFlags{{
    {"SCHED_FLAG_DL_OVERRUN", 0x04},
    {"SCHED_FLAG_KEEP_PARAMS", 0x10},
    {"SCHED_FLAG_KEEP_POLICY", 0x08},
    {"SCHED_FLAG_RECLAIM", 0x02},
    {"SCHED_FLAG_RESET_ON_FORK", 0x01},
    {"SCHED_FLAG_UTIL_CLAMP_MAX", 0x40},
    {"SCHED_FLAG_UTIL_CLAMP_MIN", 0x20},
}};
static_assert(sorted_by_name(kSchedFlags));

// process.ioPriority.class -> IOPRIO_CLASS_* (ioprio_set(2)).
inline constexpr std::array<NameValue<int>, 3> kIoprioClasses{{
    {"IOPRIO_CLASS_BE", 2},
    {"IOPRIO_CLASS_IDLE", 3},
    {"IOPRIO_CLASS_RT", 1},
}};
static_assert(sorted_by_name(kIoprioClasses));

// linux.personality.domain -> PER_* (personality(2)).
inline constexpr std::array<NameValue<unsigned long>, 2> kPersonalityDomains{{
    {"LINUX", 0x0000},
    {"LINUX32", 0x0008},
}};
static_assert(sorted_by_name(kPersonalityDomains));

// linux.rootfsPropagation -> mount(2) propagation flags.
inline constexpr std::array<NameValue<unsigned long>, 8> kRootfsPropagations{{
    {"private", MS_PRIVATE},
    {"rprivate", MS_PRIVATE | MS_REC},
    {"rshared", MS_SHARED | MS_REC},
    {"rslave", MS_SLAVE | MS_REC},
    {"runbindable", MS_UNBINDABLE | MS_REC},
    {"shared", MS_SHARED},
    {"slave", MS_SLAVE},
    {"unbindable", MS_UNBINDABLE},
}};
static_assert(sorted_by_name(kRootfsPropagations));

// linux.timeOffsets keys (time_namespaces(7) clocks).
inline constexpr std::array<NameValue<int>, 2> kTimeOffsetClocks{{
    {"boottime", 7},   // CLOCK_BOOTTIME
    {"monotonic", 1},  // CLOCK_MONOTONIC
}};
static_assert(sorted_by_name(kTimeOffsetClocks));

// OCI name of a seccomp action ("SCMP_ACT_ERRNO").
inline std::string_view seccomp_action_name(SeccompAction a) { return name_of(kSeccompActions, a); }
// OCI name of a seccomp operator ("SCMP_CMP_EQ").
inline std::string_view seccomp_op_name(SeccompOp o) { return name_of(kSeccompOps, o); }

}  // namespace ward::model
