// Reading each runtime-spec 1.2 object into the model. One read() overload
// per model struct; cross-field rules live in validate.cpp.
#include <charconv>
#include <filesystem>
#include <set>

#include "base/log.hpp"
#include "model/capabilities.hpp"
#include "model/names.hpp"
#include "model/rlimits.hpp"
#include "spec/internal.hpp"

namespace ward::spec {

using namespace ward::model;

Result<void> read(const Node& n, IdMapping& out);
Result<void> read(const Node& n, Namespace& out);
Result<void> read(const Node& n, Mount& out);
Result<void> read(const Node& n, Rlimit& out);
Result<void> read(const Node& n, Capabilities& out);
Result<void> read(const Node& n, User& out);
Result<void> read(const Node& n, ConsoleSize& out);
Result<void> read(const Node& n, Scheduler& out);
Result<void> read(const Node& n, IoPriority& out);
Result<void> read(const Node& n, ExecCpuAffinity& out);
Result<void> read(const Node& n, Process& out);
Result<void> read(const Node& n, Hook& out);
Result<void> read(const Node& n, Hooks& out);
Result<void> read(const Node& n, Root& out);
Result<void> read(const Node& n, Device& out);
Result<void> read(const Node& n, DeviceRule& out);
Result<void> read(const Node& n, Memory& out);
Result<void> read(const Node& n, Cpu& out);
Result<void> read(const Node& n, Pids& out);
Result<void> read(const Node& n, WeightDevice& out);
Result<void> read(const Node& n, ThrottleDevice& out);
Result<void> read(const Node& n, BlockIo& out);
Result<void> read(const Node& n, HugepageLimit& out);
Result<void> read(const Node& n, NetworkPriority& out);
Result<void> read(const Node& n, Network& out);
Result<void> read(const Node& n, Rdma& out);
Result<void> read(const Node& n, Resources& out);
Result<void> read(const Node& n, SeccompArg& out);
Result<void> read(const Node& n, SeccompSyscall& out);
Result<void> read(const Node& n, Seccomp& out);
Result<void> read(const Node& n, IntelRdt& out);
Result<void> read(const Node& n, Personality& out);
Result<void> read(const Node& n, TimeOffset& out);
Result<void> read(const Node& n, Linux& out);

namespace {

// Look the string at `n` up in a sorted name table; unknown names fail as
// `unknown <what> "<name>"`.
template <class Table>
auto read_name(const Node& n, const Table& table, std::string_view what)
    -> Result<std::remove_cvref_t<decltype(table[0].value)>> {
  auto s = n.str();
  if (!s) return std::unexpected(std::move(s.error()));
  auto v = model::lookup(table, *s);
  if (!v) return n.fail("unknown {} \"{}\"", what, *s);
  return *v;
}

// A required string member resolved through a name table.
template <class Table, class V>
Result<void> req_name(const Node& n, std::string_view key, const Table& table,
                      std::string_view what, V& out, std::string* name = nullptr) {
  std::string s;
  WARD_TRY(n.req(key, s));
  auto v = read_name(n.field(key), table, what);
  if (!v) return std::unexpected(std::move(v.error()));
  out = *v;
  if (name) *name = std::move(s);
  return {};
}

Result<void> require_absolute(const Node& n, const std::string& path) {
  if (path.empty() || path[0] != '/') return n.fail("\"{}\" is not an absolute path", path);
  return {};
}

// An optional string member that must be an absolute path when given.
Result<void> opt_abs_path(const Node& n, std::string_view key, std::string& out) {
  WARD_TRY(n.opt(key, out));
  if (n.has(key) && !out.empty()) WARD_TRY(require_absolute(n.field(key), out));
  return {};
}

// A list of absolute paths (maskedPaths, readonlyPaths).
Result<void> read_abs_paths(const Node& n, std::string_view key, std::vector<std::string>& out) {
  WARD_TRY(n.opt(key, out));
  for (std::size_t i = 0; i < out.size(); ++i)
    WARD_TRY(require_absolute(n.field(key).index(i), out[i]));
  return {};
}

// A CPU list as in cpuset(7) "List format": "0-3,7". Empty means unset.
bool valid_cpu_list(std::string_view s) {
  if (s.empty()) return true;
  auto number = [](std::string_view t, unsigned& v) {
    auto r = std::from_chars(t.data(), t.data() + t.size(), v);
    return !t.empty() && r.ec == std::errc() && r.ptr == t.data() + t.size();
  };
  while (true) {
    auto comma = s.find(',');
    std::string_view item = s.substr(0, comma);
    auto dash = item.find('-');
    unsigned lo = 0, hi = 0;
    if (dash == std::string_view::npos) {
      if (!number(item, lo)) return false;
    } else if (!number(item.substr(0, dash), lo) || !number(item.substr(dash + 1), hi) || lo > hi) {
      return false;
    }
    if (comma == std::string_view::npos) return true;
    s.remove_prefix(comma + 1);
  }
}

// major/minor of a device rule: absent or -1 mean "any" (runc treats -1 as
// the wildcard "*").
Result<void> read_rule_number(const Node& n, std::string_view key, std::optional<int64_t>& out) {
  if (!n.has(key)) return {};
  int64_t v = 0;
  WARD_TRY(read(n.field(key), v));
  if (v < -1) return n.field(key).fail("value {} is out of range (-1 or >= 0)", v);
  // The kernel compares 32-bit numbers (bpf_cgroup_dev_ctx, devices.allow).
  if (v > std::numeric_limits<uint32_t>::max())
    return n.field(key).fail("value {} is out of range [-1, {}]", v, std::numeric_limits<uint32_t>::max());
  if (v >= 0) out = v;
  return {};
}

// Linux's dev_t (include/linux/kdev_t.h): a 12-bit major and a 20-bit minor.
// mknod(2) takes a 32-bit encoding, so a larger number would silently name
// another device (2^32+1 becomes 1).
constexpr int64_t kMaxMajor = (1 << 12) - 1;
constexpr int64_t kMaxMinor = (1 << 20) - 1;

// A device number member already read into `v`: fail unless 0 <= v <= max.
Result<void> check_dev_number(const Node& n, std::string_view key, int64_t v, int64_t max) {
  if (v < 0 || v > max)
    return n.field(key).fail("value {} is out of range [0, {}] for a device {}", v, max, key);
  return {};
}

// (uid_t)-1 and (gid_t)-1 mean "leave unchanged" to setresuid(2) and chown(2),
// so they can never be a process's or a file's id.
Result<void> check_id(const Node& n, uint32_t v) {
  if (v == std::numeric_limits<uint32_t>::max())
    return n.fail("value {} is not a valid id (it means \"unchanged\" to the kernel)", v);
  return {};
}

// An optional cgroup byte count where -1 means unlimited (runc's convention);
// the kernel rejects any other negative value.
Result<void> check_limit(const Node& n, std::string_view key, const std::optional<int64_t>& v) {
  if (v && *v < -1) return n.field(key).fail("value {} is out of range (-1 for unlimited, or >= 0)", *v);
  return {};
}

// A string ward hands on as a path or writes into state.json (JSON text),
// which must therefore be UTF-8 (RFC 8259 section 8.1).
bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    if (len == 0 || i + len > s.size()) return false;
    uint32_t cp = len == 1 ? c : c & (0x7f >> len);
    for (std::size_t k = 1; k < len; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc >> 6) != 0x2) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    // Overlong forms, surrogates and values beyond U+10FFFF are not UTF-8.
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += len;
  }
  return true;
}

}  // namespace

Result<void> read(const Node& n, IdMapping& out) {
  WARD_TRY(n.expect_object());
  WARD_TRY(n.req("containerID", out.container_id));
  WARD_TRY(n.req("hostID", out.host_id));
  WARD_TRY(n.req("size", out.size));
  // user_namespaces(7): a zero-length range is rejected by the kernel.
  if (out.size == 0) return n.field("size").fail("must be greater than zero");
  // The range must fit in the 32-bit id space on both sides.
  constexpr uint64_t kIds = uint64_t{1} << 32;
  if (uint64_t{out.container_id} + out.size > kIds)
    return n.field("size").fail("containerID {} + size {} is beyond the last id {}", out.container_id, out.size,
                                kIds - 1);
  if (uint64_t{out.host_id} + out.size > kIds)
    return n.field("size").fail("hostID {} + size {} is beyond the last id {}", out.host_id, out.size, kIds - 1);
  return {};
}

Result<void> read(const Node& n, Namespace& out) {
  WARD_TRY(n.expect_object());
  WARD_TRY(req_name(n, "type", kNamespaceTypes, "namespace type", out.type));
  return opt_abs_path(n, "path", out.path);
}

Result<void> read(const Node& n, Mount& out) {
  WARD_TRY(n.expect_object());
  WARD_TRY(n.req("destination", out.destination));
  if (out.destination.empty()) return n.field("destination").fail("must not be empty");
  if (out.destination[0] != '/') {
    // config.md "Mounts": relative destinations are deprecated and MUST be
    // read as relative to "/"; runc 1.1 accepts them with a warning.
    log::warn("{}: {}: mount destination \"{}\" is not absolute; using \"/{}\"", n.label(),
              n.field("destination").path(), out.destination, out.destination);
    out.destination.insert(0, "/");
  }
  WARD_TRY(n.opt("type", out.type));
  WARD_TRY(n.opt("source", out.source));
  WARD_TRY(n.opt("options", out.options));
  WARD_TRY(n.opt("uidMappings", out.uid_mappings));
  WARD_TRY(n.opt("gidMappings", out.gid_mappings));
  // config.md "Mounts": idmapped mounts need both maps (mount_setattr(2)
  // takes one user namespace carrying both).
  if (out.uid_mappings.empty() != out.gid_mappings.empty())
    return n.fail("uidMappings and gidMappings must be given together");
  return {};
}

Result<void> read(const Node& n, Rlimit& out) {
  WARD_TRY(n.expect_object());
  WARD_TRY(req_name(n, "type", kRlimits, "rlimit type", out.resource, &out.type));
  WARD_TRY(n.req("soft", out.soft));
  WARD_TRY(n.req("hard", out.hard));
  // setrlimit(2) fails with EINVAL when soft exceeds hard.
  if (out.soft > out.hard)
    return n.fail("soft limit {} is greater than hard limit {}", out.soft, out.hard);
  return {};
}

Result<void> read(const Node& n, Capabilities& out) {
  WARD_TRY(n.expect_object());
  auto set = [&](std::string_view key, std::vector<Capability>& caps) -> Result<void> {
    if (!n.has(key)) return {};
    return n.field(key).each([&](const Node& e, std::size_t) -> Result<void> {
      auto v = read_name(e, kCapabilities, "capability");
      if (!v) return std::unexpected(std::move(v.error()));
      caps.push_back({*v, std::string(capability_name(*v))});
      return {};
    });
  };
  WARD_TRY(set("bounding", out.bounding));
  WARD_TRY(set("effective", out.effective));
  WARD_TRY(set("inheritable", out.inheritable));
  WARD_TRY(set("permitted", out.permitted));
  return set("ambient", out.ambient);
}

Result<void> read(const Node& n, User& out) {
  WARD_TRY(n.expect_object());
  WARD_TRY(n.req("uid", out.uid));
  WARD_TRY(check_id(n.field("uid"), out.uid));
  WARD_TRY(n.req("gid", out.gid));
  WARD_TRY(check_id(n.field("gid"), out.gid));
  WARD_TRY(n.opt("umask", out.umask));
  if (out.umask && *out.umask > 0777)
    return n.field("umask").fail("value {:#o} is out of range [0, 0777]", *out.umask);
  WARD_TRY(n.opt("additionalGids", out.additional_gids));
  for (std::size_t i = 0; i < out.additional_gids.size(); ++i)
    WARD_TRY(check_id(n.field("additionalGids").index(i), out.additional_gids[i]));
  return n.opt("username", out.username);
}

Result<void> read(const Node& n, ConsoleSize& out) {
  WARD_TRY(n.expect_object());
  WARD_TRY(n.req("height", out.height));
  return n.req("width", out.width);
}

Result<void> read(const Node& n, Scheduler& out) {
  WARD_TRY(n.expect_object());
  WARD_TRY(req_name(n, "policy", kSchedPolicies, "scheduler policy", out.policy, &out.policy_name));
  WARD_TRY(n.opt("nice", out.nice));
  WARD_TRY(n.opt("priority", out.priority));
  WARD_TRY(n.opt("runtime", out.runtime));
  WARD_TRY(n.opt("deadline", out.deadline));
  WARD_TRY(n.opt("period", out.period));
  if (n.has("flags")) {
    WARD_TRY(n.field("flags").each([&](const Node& e, std::size_t) -> Result<void> {
      auto v = read_name(e, kSchedFlags, "scheduler flag");
      if (!v) return std::unexpected(std::move(v.error()));
      out.flags.push_back(e.json().get<std::string>());
      out.flags_value |= *v;
      return {};
    }));
  }
  // sched_setattr(2): nice is -20..19; a static priority only means something
  // for the real-time policies; runtime/deadline/period only for DEADLINE.
  if (out.nice < -20 || out.nice > 19)
    return n.field("nice").fail("value {} is out of range [-20, 19]", out.nice);
  bool realtime = out.policy_name == "SCHED_FIFO" || out.policy_name == "SCHED_RR";
  if (realtime && (out.priority < 1 || out.priority > 99))
    return n.fail("priority {} is out of range [1, 99] for {}", out.priority, out.policy_name);
  if (!realtime && out.priority != 0)
    return n.fail("priority is only allowed for SCHED_FIFO and SCHED_RR, not {}", out.policy_name);
  if (out.policy_name != "SCHED_DEADLINE" && (out.runtime || out.deadline || out.period))
    return n.fail("runtime, deadline and period are only allowed for SCHED_DEADLINE");
  return {};
}

Result<void> read(const Node& n, IoPriority& out) {
  WARD_TRY(n.expect_object());
  WARD_TRY(req_name(n, "class", kIoprioClasses, "I/O priority class", out.io_class, &out.class_name));
  WARD_TRY(n.opt("priority", out.priority));
  // ioprio_set(2): levels 0 (highest) to 7 for the RT and BE classes.
  if (out.priority < 0 || out.priority > 7)
    return n.field("priority").fail("value {} is out of range [0, 7]", out.priority);
  return {};
}

Result<void> read(const Node& n, ExecCpuAffinity& out) {
  WARD_TRY(n.expect_object());
  WARD_TRY(n.opt("initial", out.initial));
  WARD_TRY(n.opt("final", out.final));
  if (!valid_cpu_list(out.initial))
    return n.field("initial").fail("invalid CPU list \"{}\"", out.initial);
  if (!valid_cpu_list(out.final)) return n.field("final").fail("invalid CPU list \"{}\"", out.final);
  return {};
}

Result<void> read(const Node& n, Process& out) {
  WARD_TRY(n.expect_object());
  WARD_TRY(n.opt("terminal", out.terminal));
  WARD_TRY(n.opt("consoleSize", out.console_size));
  WARD_TRY(n.req("user", out.user));
  // config.md "Process": args needs at least one entry on POSIX platforms.
  WARD_TRY(n.req("args", out.args));
  if (out.args.empty()) return n.field("args").fail("must contain at least one entry");
  WARD_TRY(n.opt("commandLine", out.command_line));
  WARD_TRY(n.opt("env", out.env));
  // As runc (populateProcessEnvironment): KEY=value, a non-empty key, no NUL.
  for (std::size_t i = 0; i < out.env.size(); ++i) {
    const std::string& e = out.env[i];
    auto eq = e.find('=');
    Node at = n.field("env").index(i);
    if (eq == std::string::npos) return at.fail("invalid environment variable \"{}\": missing '='", e);
    if (eq == 0) return at.fail("invalid environment variable \"{}\": name cannot be empty", e);
    if (e.find('\0') != std::string::npos)
      return at.fail("invalid environment variable: contains a NUL byte");
  }
  WARD_TRY(n.req("cwd", out.cwd));
  WARD_TRY(require_absolute(n.field("cwd"), out.cwd));
  WARD_TRY(n.opt("capabilities", out.capabilities));
  if (n.has("rlimits")) {
    WARD_TRY(n.opt("rlimits", out.rlimits));
    // config.md "POSIX process": each rlimit type MUST be unique.
    std::set<int> seen;
    for (std::size_t i = 0; i < out.rlimits.size(); ++i)
      if (!seen.insert(out.rlimits[i].resource).second)
        return n.field("rlimits").index(i).field("type").fail("duplicate rlimit type \"{}\"",
                                                              out.rlimits[i].type);
  }
  WARD_TRY(n.opt("noNewPrivileges", out.no_new_privileges));
  WARD_TRY(n.opt("apparmorProfile", out.apparmor_profile));
  WARD_TRY(n.opt("oomScoreAdj", out.oom_score_adj));
  // proc(5) /proc/pid/oom_score_adj accepts -1000..1000.
  if (out.oom_score_adj && (*out.oom_score_adj < -1000 || *out.oom_score_adj > 1000))
    return n.field("oomScoreAdj").fail("value {} is out of range [-1000, 1000]", *out.oom_score_adj);
  WARD_TRY(n.opt("selinuxLabel", out.selinux_label));
  WARD_TRY(n.opt("scheduler", out.scheduler));
  WARD_TRY(n.opt("ioPriority", out.io_priority));
  return n.opt("execCPUAffinity", out.exec_cpu_affinity);
}

Result<void> read(const Node& n, Hook& out) {
  WARD_TRY(n.expect_object());
  WARD_TRY(n.req("path", out.path));
  WARD_TRY(require_absolute(n.field("path"), out.path));
  WARD_TRY(n.opt("args", out.args));
  WARD_TRY(n.opt("env", out.env));
  WARD_TRY(n.opt("timeout", out.timeout));
  if (out.timeout && *out.timeout <= 0)
    return n.field("timeout").fail("must be greater than zero, got {}", *out.timeout);
  return {};
}

Result<void> read(const Node& n, Hooks& out) {
  WARD_TRY(n.expect_object());
  WARD_TRY(n.opt("prestart", out.prestart));
  WARD_TRY(n.opt("createRuntime", out.create_runtime));
  WARD_TRY(n.opt("createContainer", out.create_container));
  WARD_TRY(n.opt("startContainer", out.start_container));
  WARD_TRY(n.opt("poststart", out.poststart));
  return n.opt("poststop", out.poststop);
}

Result<void> read(const Node& n, Root& out) {
  WARD_TRY(n.expect_object());
  WARD_TRY(n.req("path", out.path));
  if (out.path.empty()) return n.field("path").fail("must not be empty");
  return n.opt("readonly", out.readonly);
}

Result<void> read(const Node& n, Device& out) {
  WARD_TRY(n.expect_object());
  std::string type;
  WARD_TRY(n.req("type", type));
  if (type != "c" && type != "b" && type != "u" && type != "p")
    return n.field("type").fail("invalid device type \"{}\" (want c, b, u or p)", type);
  out.type = type[0];
  WARD_TRY(n.req("path", out.path));
  WARD_TRY(require_absolute(n.field("path"), out.path));
  // config-linux.md "Devices": major/minor are REQUIRED unless type is p.
  if (out.type == 'p') {
    WARD_TRY(n.opt("major", out.major));
    WARD_TRY(n.opt("minor", out.minor));
  } else {
    WARD_TRY(n.req("major", out.major));
    WARD_TRY(n.req("minor", out.minor));
  }
  WARD_TRY(check_dev_number(n, "major", out.major, kMaxMajor));
  WARD_TRY(check_dev_number(n, "minor", out.minor, kMaxMinor));
  WARD_TRY(n.opt("fileMode", out.file_mode));
  // mknod(2) takes permission bits only (the type comes from "type").
  if (out.file_mode && *out.file_mode > 07777)
    return n.field("fileMode").fail("value {:#o} is out of range [0, 07777]", *out.file_mode);
  WARD_TRY(n.opt("uid", out.uid));
  if (out.uid) WARD_TRY(check_id(n.field("uid"), *out.uid));
  WARD_TRY(n.opt("gid", out.gid));
  if (out.gid) WARD_TRY(check_id(n.field("gid"), *out.gid));
  return {};
}

Result<void> read(const Node& n, DeviceRule& out) {
  WARD_TRY(n.expect_object());
  WARD_TRY(n.req("allow", out.allow));
  std::string type = "a";
  WARD_TRY(n.opt("type", type));
  // runc reads an empty type as "a" (all devices).
  if (type.empty()) type = "a";
  if (type != "a" && type != "c" && type != "b")
    return n.field("type").fail("invalid device rule type \"{}\" (want a, c or b)", type);
  out.type = type[0];
  WARD_TRY(read_rule_number(n, "major", out.major));
  WARD_TRY(read_rule_number(n, "minor", out.minor));
  WARD_TRY(n.opt("access", out.access));
  for (std::size_t i = 0; i < out.access.size(); ++i) {
    char c = out.access[i];
    if ((c != 'r' && c != 'w' && c != 'm') || out.access.find(c) != i)
      return n.field("access").fail("invalid device access \"{}\" (want a subset of \"rwm\")",
                                    out.access);
  }
  return {};
}

Result<void> read(const Node& n, Memory& out) {
  WARD_TRY(n.expect_object());
  WARD_TRY(n.opt("limit", out.limit));
  WARD_TRY(check_limit(n, "limit", out.limit));
  WARD_TRY(n.opt("reservation", out.reservation));
  WARD_TRY(check_limit(n, "reservation", out.reservation));
  WARD_TRY(n.opt("swap", out.swap));
  WARD_TRY(check_limit(n, "swap", out.swap));
  WARD_TRY(n.opt("kernel", out.kernel));
  WARD_TRY(check_limit(n, "kernel", out.kernel));
  WARD_TRY(n.opt("kernelTCP", out.kernel_tcp));
  WARD_TRY(check_limit(n, "kernelTCP", out.kernel_tcp));
  WARD_TRY(n.opt("swappiness", out.swappiness));
  // Docker writes -1 ("unset") through a uint64, which arrives as 2^64-1;
  // runc treats that as unset too. memory.swappiness takes 0..100.
  if (out.swappiness == std::numeric_limits<uint64_t>::max()) out.swappiness.reset();
  if (out.swappiness && *out.swappiness > 100)
    return n.field("swappiness").fail("value {} is out of range [0, 100]", *out.swappiness);
  WARD_TRY(n.opt("disableOOMKiller", out.disable_oom_killer));
  WARD_TRY(n.opt("useHierarchy", out.use_hierarchy));
  return n.opt("checkBeforeUpdate", out.check_before_update);
}

Result<void> read(const Node& n, Cpu& out) {
  WARD_TRY(n.expect_object());
  WARD_TRY(n.opt("shares", out.shares));
  WARD_TRY(n.opt("quota", out.quota));
  WARD_TRY(n.opt("burst", out.burst));
  WARD_TRY(n.opt("period", out.period));
  WARD_TRY(n.opt("realtimeRuntime", out.realtime_runtime));
  WARD_TRY(n.opt("realtimePeriod", out.realtime_period));
  WARD_TRY(n.opt("cpus", out.cpus));
  WARD_TRY(n.opt("mems", out.mems));
  return n.opt("idle", out.idle);
}

Result<void> read(const Node& n, Pids& out) {
  WARD_TRY(n.expect_object());
  return n.opt("limit", out.limit);
}

Result<void> read(const Node& n, WeightDevice& out) {
  WARD_TRY(n.expect_object());
  WARD_TRY(n.req("major", out.major));
  WARD_TRY(check_dev_number(n, "major", out.major, kMaxMajor));
  WARD_TRY(n.req("minor", out.minor));
  WARD_TRY(check_dev_number(n, "minor", out.minor, kMaxMinor));
  WARD_TRY(n.opt("weight", out.weight));
  return n.opt("leafWeight", out.leaf_weight);
}

Result<void> read(const Node& n, ThrottleDevice& out) {
  WARD_TRY(n.expect_object());
  WARD_TRY(n.req("major", out.major));
  WARD_TRY(check_dev_number(n, "major", out.major, kMaxMajor));
  WARD_TRY(n.req("minor", out.minor));
  WARD_TRY(check_dev_number(n, "minor", out.minor, kMaxMinor));
  return n.req("rate", out.rate);
}

Result<void> read(const Node& n, BlockIo& out) {
  WARD_TRY(n.expect_object());
  WARD_TRY(n.opt("weight", out.weight));
  WARD_TRY(n.opt("leafWeight", out.leaf_weight));
  WARD_TRY(n.opt("weightDevice", out.weight_device));
  WARD_TRY(n.opt("throttleReadBpsDevice", out.throttle_read_bps_device));
  WARD_TRY(n.opt("throttleWriteBpsDevice", out.throttle_write_bps_device));
  WARD_TRY(n.opt("throttleReadIOPSDevice", out.throttle_read_iops_device));
  return n.opt("throttleWriteIOPSDevice", out.throttle_write_iops_device);
}

Result<void> read(const Node& n, HugepageLimit& out) {
  WARD_TRY(n.expect_object());
  WARD_TRY(n.req("pageSize", out.page_size));
  // The size names the hugetlb control files (hugetlb.<size>.limit_in_bytes):
  // digits and a KB/MB/GB/TB/PB unit, as the kernel writes them.
  const std::string& ps = out.page_size;
  std::size_t digits = 0;
  while (digits < ps.size() && ps[digits] >= '0' && ps[digits] <= '9') ++digits;
  std::string_view unit = std::string_view(ps).substr(digits);
  if (digits == 0 || ps[0] == '0' ||
      (unit != "KB" && unit != "MB" && unit != "GB" && unit != "TB" && unit != "PB"))
    return n.field("pageSize").fail("invalid hugepage size \"{}\" (expected e.g. \"2MB\", \"1GB\")", ps);
  return n.req("limit", out.limit);
}

Result<void> read(const Node& n, NetworkPriority& out) {
  WARD_TRY(n.expect_object());
  WARD_TRY(n.req("name", out.name));
  return n.req("priority", out.priority);
}

Result<void> read(const Node& n, Network& out) {
  WARD_TRY(n.expect_object());
  WARD_TRY(n.opt("classID", out.class_id));
  return n.opt("priorities", out.priorities);
}

Result<void> read(const Node& n, Rdma& out) {
  WARD_TRY(n.expect_object());
  WARD_TRY(n.opt("hcaHandles", out.hca_handles));
  return n.opt("hcaObjects", out.hca_objects);
}

Result<void> read(const Node& n, Resources& out) {
  WARD_TRY(n.expect_object());
  WARD_TRY(n.opt("devices", out.devices));
  WARD_TRY(n.opt("memory", out.memory));
  WARD_TRY(n.opt("cpu", out.cpu));
  WARD_TRY(n.opt("pids", out.pids));
  WARD_TRY(n.opt("blockIO", out.block_io));
  WARD_TRY(n.opt("hugepageLimits", out.hugepage_limits));
  WARD_TRY(n.opt("network", out.network));
  WARD_TRY(n.opt("rdma", out.rdma));
  WARD_TRY(n.opt("unified", out.unified));
  // config-linux.md "Unified": keys are cgroup v2 file names of the form
  // <controller>.<file>; a slash would escape the container's cgroup.
  if (n.has("unified")) {
    for (const auto& [k, v] : out.unified) {
      Node e = n.field("unified");
      if (k.find('/') != std::string::npos || k == "." || k == "..")
        return e.fail("key \"{}\" must be a file name (no slashes)", k);
      if (k.find('.') == std::string::npos || k.front() == '.')
        return e.fail("key \"{}\" must be of the form <controller>.<file>", k);
    }
  }
  return {};
}

Result<void> read(const Node& n, SeccompArg& out) {
  WARD_TRY(n.expect_object());
  WARD_TRY(n.req("index", out.index));
  // seccomp_data carries six syscall arguments (seccomp(2)).
  if (out.index > 5) return n.field("index").fail("value {} is out of range [0, 5]", out.index);
  WARD_TRY(n.req("value", out.value));
  WARD_TRY(n.opt("valueTwo", out.value_two));
  return req_name(n, "op", kSeccompOps, "seccomp operator", out.op);
}

Result<void> read(const Node& n, SeccompSyscall& out) {
  WARD_TRY(n.expect_object());
  WARD_TRY(n.req("names", out.names));
  if (out.names.empty()) return n.field("names").fail("must contain at least one entry");
  WARD_TRY(req_name(n, "action", kSeccompActions, "seccomp action", out.action));
  WARD_TRY(n.opt("errnoRet", out.errno_ret));
  return n.opt("args", out.args);
}

Result<void> read(const Node& n, Seccomp& out) {
  WARD_TRY(n.expect_object());
  WARD_TRY(req_name(n, "defaultAction", kSeccompActions, "seccomp action", out.default_action));
  WARD_TRY(n.opt("defaultErrnoRet", out.default_errno_ret));
  WARD_TRY(n.opt("architectures", out.architectures));
  for (std::size_t i = 0; i < out.architectures.size(); ++i)
    if (!model::lookup(kSeccompArches, out.architectures[i]))
      return n.field("architectures").index(i).fail("unknown seccomp architecture \"{}\"",
                                                    out.architectures[i]);
  WARD_TRY(n.opt("flags", out.flags));
  for (std::size_t i = 0; i < out.flags.size(); ++i)
    if (!model::lookup(kSeccompFlags, out.flags[i]))
      return n.field("flags").index(i).fail("unknown seccomp flag \"{}\"", out.flags[i]);
  WARD_TRY(n.opt("listenerPath", out.listener_path));
  WARD_TRY(n.opt("listenerMetadata", out.listener_metadata));
  return n.opt("syscalls", out.syscalls);
}

Result<void> read(const Node& n, IntelRdt& out) {
  WARD_TRY(n.expect_object());
  WARD_TRY(n.opt("closID", out.clos_id));
  // The CLOS id names a resctrl directory; runc rejects ".", ".." and "/".
  if (out.clos_id == "." || out.clos_id == ".." || out.clos_id.find('/') != std::string::npos)
    return n.field("closID").fail("invalid CLOS id \"{}\"", out.clos_id);
  WARD_TRY(n.opt("l3CacheSchema", out.l3_cache_schema));
  WARD_TRY(n.opt("memBwSchema", out.mem_bw_schema));
  WARD_TRY(n.opt("enableCMT", out.enable_cmt));
  return n.opt("enableMBM", out.enable_mbm);
}

Result<void> read(const Node& n, Personality& out) {
  WARD_TRY(n.expect_object());
  unsigned long domain = 0;
  WARD_TRY(req_name(n, "domain", kPersonalityDomains, "personality domain", domain, &out.domain));
  return n.opt("flags", out.flags);
}

Result<void> read(const Node& n, TimeOffset& out) {
  WARD_TRY(n.expect_object());
  WARD_TRY(n.opt("secs", out.secs));
  WARD_TRY(n.opt("nanosecs", out.nanosecs));
  // time_namespaces(7): /proc/PID/timens_offsets rejects nanoseconds >= 1s.
  if (out.nanosecs >= 1'000'000'000)
    return n.field("nanosecs").fail("value {} is out of range [0, 999999999]", out.nanosecs);
  return {};
}

Result<void> read(const Node& n, Linux& out) {
  WARD_TRY(n.expect_object());
  WARD_TRY(n.opt("namespaces", out.namespaces));
  for (std::size_t i = 0; i < out.namespaces.size(); ++i)
    for (std::size_t j = 0; j < i; ++j)
      if (out.namespaces[i].type == out.namespaces[j].type)
        return n.field("namespaces").index(i).field("type").fail(
            "duplicate namespace type \"{}\"", ns_spec_name(out.namespaces[i].type));
  WARD_TRY(n.opt("uidMappings", out.uid_mappings));
  WARD_TRY(n.opt("gidMappings", out.gid_mappings));
  WARD_TRY(n.opt("timeOffsets", out.time_offsets));
  for (const auto& [clock, offset] : out.time_offsets)
    if (!model::lookup(kTimeOffsetClocks, clock))
      return n.field("timeOffsets").fail("unknown clock \"{}\" (want monotonic or boottime)", clock);
  WARD_TRY(n.opt("devices", out.devices));
  WARD_TRY(n.opt("cgroupsPath", out.cgroups_path));
  WARD_TRY(n.opt("resources", out.resources));
  WARD_TRY(n.opt("rootfsPropagation", out.rootfs_propagation));
  if (!out.rootfs_propagation.empty() && !model::lookup(kRootfsPropagations, out.rootfs_propagation))
    return n.field("rootfsPropagation").fail("unknown propagation \"{}\"", out.rootfs_propagation);
  WARD_TRY(n.opt("seccomp", out.seccomp));
  WARD_TRY(n.opt("sysctl", out.sysctl));
  WARD_TRY(read_abs_paths(n, "maskedPaths", out.masked_paths));
  WARD_TRY(read_abs_paths(n, "readonlyPaths", out.readonly_paths));
  WARD_TRY(n.opt("mountLabel", out.mount_label));
  WARD_TRY(n.opt("intelRdt", out.intel_rdt));
  return n.opt("personality", out.personality);
}

bool supported_oci_version(std::string_view v) {
  // Semantic version MAJOR.MINOR.PATCH, then an optional "-pre" or "+build".
  auto end = v.find_first_of("-+");
  std::string_view core = v.substr(0, end);
  if (end != std::string_view::npos && end + 1 >= v.size()) return false;
  unsigned part[3] = {};
  for (int i = 0; i < 3; ++i) {
    auto dot = core.find('.');
    if ((i < 2) == (dot == std::string_view::npos)) return false;
    std::string_view t = core.substr(0, dot);
    auto r = std::from_chars(t.data(), t.data() + t.size(), part[i]);
    if (t.empty() || r.ec != std::errc() || r.ptr != t.data() + t.size()) return false;
    if (t.size() > 1 && t[0] == '0') return false;
    core.remove_prefix(i < 2 ? dot + 1 : core.size());
  }
  return part[0] == 1 && part[1] <= 3;
}

Result<Config> read_config(const Json& j, std::string_view bundle_dir, std::string_view label) {
  Node n(j, "", label);
  WARD_TRY(n.expect_object());
  Config c;
  WARD_TRY(n.req("ociVersion", c.oci_version));
  if (!supported_oci_version(c.oci_version))
    return n.field("ociVersion").fail("unsupported version \"{}\" (want 1.0.0 to 1.3.x)",
                                      c.oci_version);

  std::error_code ec;
  std::filesystem::path bundle = std::filesystem::absolute(std::string(bundle_dir), ec);
  if (ec) return fail_errno(ec.value(), "{}: bundle \"{}\"", label, bundle_dir);
  bundle = bundle.lexically_normal();
  c.bundle = bundle.string();
  if (c.bundle.size() > 1 && c.bundle.back() == '/') c.bundle.pop_back();
  // state.json records the bundle as a JSON string: bytes that are not UTF-8
  // could not be written there (nor read back as the same path).
  if (!valid_utf8(c.bundle))
    return fail_errno(EINVAL, "{}: bundle {}: the path is not valid UTF-8", label,
                      Json(c.bundle).dump(-1, ' ', true, Json::error_handler_t::replace));

  WARD_TRY(n.req("root", c.root));
  c.root.path = (bundle / c.root.path).lexically_normal().string();
  if (c.root.path.size() > 1 && c.root.path.back() == '/') c.root.path.pop_back();

  WARD_TRY(n.opt("mounts", c.mounts));
  for (auto& m : c.mounts) {
    // runc resolves a relative bind-mount source against the bundle.
    bool bind = std::ranges::any_of(m.options, [](const std::string& o) {
      return o == "bind" || o == "rbind";
    });
    if ((bind || m.type == "bind") && !m.source.empty() && m.source[0] != '/')
      m.source = (bundle / m.source).lexically_normal().string();
  }
  WARD_TRY(n.opt("process", c.process));
  WARD_TRY(n.opt("hostname", c.hostname));
  WARD_TRY(n.opt("domainname", c.domainname));
  WARD_TRY(n.opt("hooks", c.hooks));
  WARD_TRY(n.opt("annotations", c.annotations));
  WARD_TRY(n.opt("linux", c.linux));
  WARD_TRY(validate(c, n));
  return c;
}

Result<Process> read_process(const Json& j, std::string_view label) {
  Process p;
  // As runc's exec --process: a process object without "user" runs as 0:0
  // (config.json's process still requires it).
  if (j.is_object() && !j.contains("user")) {
    Json copy = j;
    copy["user"] = {{"uid", 0}, {"gid", 0}};
    WARD_TRY(read(Node(copy, "", label), p));
    return p;
  }
  WARD_TRY(read(Node(j, "", label), p));
  return p;
}

Result<Resources> read_resources(const Json& j, std::string_view label) {
  Resources r;
  WARD_TRY(read(Node(j, "", label), r));
  return r;
}

}  // namespace ward::spec
