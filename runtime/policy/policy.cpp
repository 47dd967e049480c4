// Policy files: parsing, defaults per level, the built-in policies.
#include "policy/policy.hpp"

#include <algorithm>

#include "model/capabilities.hpp"
#include "base/embedded.hpp"

namespace ward::policy {
namespace {

using nlohmann::json;

struct LevelName {
  Level level;
  const char* name;
};
constexpr LevelName kLevels[] = {{Level::privileged, "privileged"},
                                 {Level::baseline, "baseline"},
                                 {Level::restricted, "restricted"},
                                 {Level::ward_restricted, "ward-restricted"}};
struct ModeName {
  Mode mode;
  const char* name;
};
constexpr ModeName kModes[] = {
    {Mode::enforce, "enforce"}, {Mode::audit, "audit"}, {Mode::warn, "warn"}, {Mode::harden, "harden"}};

// runtime-spec / containerd defaults (procMount Default).
const std::vector<std::string> kMaskedPaths = {
    "/proc/acpi",       "/proc/asound",      "/proc/kcore",       "/proc/keys",    "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"};
const std::vector<std::string> kReadonlyPaths = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                                                 "/proc/sysrq-trigger"};
// ward-restricted's default deniedSyscalls: namespace and mount escapes,
// kernel keyring, eBPF, userfaultfd (race widening), perf, ptrace and
// cross-process memory access, module and kexec loading, raw I/O ports.
const std::vector<std::string> kDeniedSyscalls = {"add_key",
                                                  "bpf",
                                                  "delete_module",
                                                  "finit_module",
                                                  "fsconfig",
                                                  "fsmount",
                                                  "fsopen",
                                                  "fspick",
                                                  "init_module",
                                                  "ioperm",
                                                  "iopl",
                                                  "kexec_file_load",
                                                  "kexec_load",
                                                  "keyctl",
                                                  "mount",
                                                  "mount_setattr",
                                                  "move_mount",
                                                  "open_by_handle_at",
                                                  "open_tree",
                                                  "perf_event_open",
                                                  "pivot_root",
                                                  "process_vm_readv",
                                                  "process_vm_writev",
                                                  "ptrace",
                                                  "reboot",
                                                  "request_key",
                                                  "setns",
                                                  "swapoff",
                                                  "swapon",
                                                  "umount2",
                                                  "unshare",
                                                  "userfaultfd"};
const std::vector<std::string> kHostPaths = {"/var/lib/kubelet/pods", "/var/lib/containerd",
                                             "/run/containerd"};

Result<std::vector<std::string>> string_list(const json& j, const std::string& key, std::string_view label,
                                             const std::string& path) {
  std::vector<std::string> out;
  if (!j.is_array()) return fail("{}: {}: must be an array of strings", label, path);
  for (size_t i = 0; i < j.size(); ++i) {
    if (!j[i].is_string()) return fail("{}: {}[{}]: must be a string", label, path, i);
    out.push_back(j[i].get<std::string>());
  }
  (void)key;
  return out;
}

}  // namespace

const char* level_name(Level l) {
  for (const auto& e : kLevels)
    if (e.level == l) return e.name;
  return "?";
}
const char* mode_name(Mode m) {
  for (const auto& e : kModes)
    if (e.mode == m) return e.name;
  return "?";
}

Result<Policy> parse_policy(std::string_view text, std::string_view label) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    return fail("{}: invalid JSON: {}", label, e.what());
  }
  if (!j.is_object()) return fail("{}: a policy must be a JSON object", label);
  static const char* known[] = {"name",
                                "level",
                                "mode",
                                "allowedHostPaths",
                                "allowedDevices",
                                "allowedCapabilities",
                                "allowedSysctls",
                                "deniedSyscalls",
                                "maskedPaths",
                                "readonlyPaths",
                                "apparmorProfile",
                                "exemptions"};
  for (const auto& [k, v] : j.items()) {
    if (std::find(std::begin(known), std::end(known), k) == std::end(known))
      return fail("{}: {}: unknown field", label, k);
  }
  Policy p;
  if (!j.contains("level") || !j["level"].is_string()) return fail("{}: level: required, a string", label);
  auto lv = j["level"].get<std::string>();
  auto li = std::find_if(std::begin(kLevels), std::end(kLevels), [&](const auto& e) { return lv == e.name; });
  if (li == std::end(kLevels))
    return fail("{}: level: unknown level \"{}\" (privileged, baseline, restricted, ward-restricted)", label,
                lv);
  p.level = li->level;
  p.name = lv;
  if (j.contains("name")) {
    if (!j["name"].is_string() || j["name"].get<std::string>().empty())
      return fail("{}: name: must be a non-empty string", label);
    p.name = j["name"].get<std::string>();
  }
  if (j.contains("mode")) {
    if (!j["mode"].is_string()) return fail("{}: mode: must be a string", label);
    auto mv = j["mode"].get<std::string>();
    auto mi = std::find_if(std::begin(kModes), std::end(kModes), [&](const auto& e) { return mv == e.name; });
    if (mi == std::end(kModes))
      return fail("{}: mode: unknown mode \"{}\" (enforce, audit, warn, harden)", label, mv);
    p.mode = mi->mode;
  }
  p.allowed_host_paths = kHostPaths;
  p.masked_paths = kMaskedPaths;
  p.readonly_paths = kReadonlyPaths;
  p.exempt_container_types = {"sandbox"};
  if (p.level == Level::ward_restricted) p.denied_syscalls = kDeniedSyscalls;
  auto list = [&](const char* key, std::vector<std::string>& out) -> Result<> {
    if (!j.contains(key)) return {};
    auto l = string_list(j[key], key, label, key);
    if (!l) return std::unexpected(l.error());
    out = std::move(*l);
    return {};
  };
  WARD_TRY(list("allowedHostPaths", p.allowed_host_paths));
  WARD_TRY(list("allowedDevices", p.allowed_devices));
  WARD_TRY(list("allowedCapabilities", p.allowed_capabilities));
  WARD_TRY(list("allowedSysctls", p.allowed_sysctls));
  WARD_TRY(list("deniedSyscalls", p.denied_syscalls));
  WARD_TRY(list("maskedPaths", p.masked_paths));
  WARD_TRY(list("readonlyPaths", p.readonly_paths));
  for (size_t i = 0; i < p.allowed_host_paths.size(); ++i) {
    const auto& h = p.allowed_host_paths[i];
    if (h.empty() || h[0] != '/' || h.find("/../") != std::string::npos || h.ends_with("/.."))
      return fail("{}: allowedHostPaths[{}]: \"{}\" must be an absolute path without \"..\"", label, i, h);
  }
  for (size_t i = 0; i < p.allowed_capabilities.size(); ++i) {
    const auto& c = p.allowed_capabilities[i];
    bool known_cap = false;
    for (const auto& e : model::kCapabilities) known_cap = known_cap || c == e.name;
    if (!known_cap) return fail("{}: allowedCapabilities[{}]: unknown capability \"{}\"", label, i, c);
  }
  if (j.contains("apparmorProfile")) {
    if (!j["apparmorProfile"].is_string()) return fail("{}: apparmorProfile: must be a string", label);
    p.apparmor_profile = j["apparmorProfile"].get<std::string>();
  }
  if (j.contains("exemptions")) {
    const auto& e = j["exemptions"];
    if (!e.is_object()) return fail("{}: exemptions: must be an object", label);
    for (const auto& [k, v] : e.items()) {
      std::string path = "exemptions." + k;
      if (k == "containerTypes") {
        auto l = string_list(v, k, label, path);
        if (!l) return std::unexpected(l.error());
        p.exempt_container_types = std::move(*l);
      } else if (k == "namespaces") {
        auto l = string_list(v, k, label, path);
        if (!l) return std::unexpected(l.error());
        p.exempt_namespaces = std::move(*l);
      } else {
        return fail("{}: {}: unknown field", label, path);
      }
    }
  }
  return p;
}

json to_json(const Policy& p) {
  return json{
      {"name", p.name},
      {"level", level_name(p.level)},
      {"mode", mode_name(p.mode)},
      {"allowedHostPaths", p.allowed_host_paths},
      {"allowedDevices", p.allowed_devices},
      {"allowedCapabilities", p.allowed_capabilities},
      {"allowedSysctls", p.allowed_sysctls},
      {"deniedSyscalls", p.denied_syscalls},
      {"maskedPaths", p.masked_paths},
      {"readonlyPaths", p.readonly_paths},
      {"apparmorProfile", p.apparmor_profile},
      {"exemptions", {{"containerTypes", p.exempt_container_types}, {"namespaces", p.exempt_namespaces}}}};
}

std::vector<std::string> builtin_names() {
  return {"privileged", "baseline", "restricted", "ward-restricted"};
}

std::optional<Policy> builtin(std::string_view name) {
  if (name == "privileged") {
    Policy p;
    p.name = "privileged";
    p.level = Level::privileged;
    return p;
  }
  for (std::string_view n : {"baseline", "restricted", "ward-restricted"}) {
    if (name != n) continue;
    std::string path = "profiles/policy/" + std::string(n) + ".json";
    auto text = embedded_file(path);
    auto p = parse_policy(text, path);
    if (!p) return std::nullopt;  // a broken embedded file fails the unit tests
    return *p;
  }
  return std::nullopt;
}

std::string_view default_seccomp_json() {
  return embedded_file("profiles/seccomp/default.json");
}

}  // namespace ward::policy
