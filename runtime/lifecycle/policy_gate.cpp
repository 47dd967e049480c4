#include "lifecycle/policy_gate.hpp"

#include <sys/stat.h>

#include <cstdlib>

#include <fmt/ranges.h>

#include "base/log.hpp"
#include "platform/sys.hpp"
#include "security/process.hpp"
#include "spec/spec.hpp"

namespace ward::lifecycle::detail {
namespace {

using model::NamespaceType;

std::optional<policy::NsId> ns_id(const std::string& path) {
  struct stat sb {};
  if (::stat(path.c_str(), &sb) != 0) return std::nullopt;
  return policy::NsId{static_cast<uint64_t>(sb.st_dev), static_cast<uint64_t>(sb.st_ino)};
}

// ward's default seccomp profile as a model, through the same parser as config.json.
Result<model::Seccomp> default_seccomp() {
  std::string text = fmt::format(R"({{"ociVersion":"1.2.0","root":{{"path":"/"}},"linux":{{"seccomp":{}}}}})",
                                 policy::default_seccomp_json());
  auto cfg = spec::parse_config(text, "/", "profiles/seccomp/default.json");
  if (!cfg) return std::unexpected(cfg.error());
  if (!cfg->linux.seccomp) return fail("profiles/seccomp/default.json: not embedded");
  return *cfg->linux.seccomp;
}

// Evaluate (and harden) `cfg`, logging what audit, warn and harden record.
Result<policy::Verdict> judge(const policy::Policy& p, model::Config& cfg, std::string_view what,
                              const Global* g = nullptr) {
  model::Seccomp def;
  // harden uses the default profile only where there is none (parsing it is most of its cost).
  if (p.mode == policy::Mode::harden && !cfg.linux.seccomp) {
    auto d = default_seccomp();
    if (!d) return std::unexpected(d.error());
    def = std::move(*d);
  }
  auto v = policy::apply(p, cfg, host_facts(cfg), def);
  if (g && g->on_policy_decisions) g->on_policy_decisions(v.decisions());
  if (v.refused()) return fail("{}", v.refusal());
  for (const auto* f : v.violations()) {
    if (p.mode == policy::Mode::warn)
      log::warn("{} (warn: {} runs anyway)", f->message, what);
    else
      log::info("{} (audit: {} runs anyway)", f->message, what);
  }
  for (const auto& c : v.changes) log::info("policy {}: {}: hardened: {}", p.name, c.path, c.what);
  return v;
}

}  // namespace

std::vector<std::string> policy_dirs() {
  std::vector<std::string> dirs;
  if (const char* env = ::getenv("WARD_POLICY_PATH")) {
    std::string_view s = env;
    while (!s.empty()) {
      auto c = s.find(':');
      auto d = s.substr(0, c);
      if (!d.empty()) dirs.emplace_back(d);
      if (c == std::string_view::npos) break;
      s.remove_prefix(c + 1);
    }
  }
  dirs.emplace_back("/etc/ward/policy");
  return dirs;
}

Result<policy::Policy> load_policy(std::string_view name_or_file) {
  std::string arg(name_or_file);
  if (arg.empty()) return fail("--policy: empty name");
  bool is_file = arg.find('/') != std::string::npos || arg.ends_with(".json");
  if (is_file) {
    auto text = platform::read_file(arg);
    if (!text) return std::unexpected(text.error().context(fmt::format("policy {}", arg)));
    return policy::parse_policy(*text, arg);
  }
  for (const auto& d : policy_dirs()) {
    std::string path = d + "/" + arg + ".json";
    struct stat sb {};
    if (::stat(path.c_str(), &sb) != 0) continue;
    auto text = platform::read_file(path);
    if (!text) return std::unexpected(text.error().context(fmt::format("policy {}", path)));
    return policy::parse_policy(*text, path);
  }
  if (auto p = policy::builtin(arg)) return *p;
  std::string names;
  for (const auto& n : policy::builtin_names()) names += (names.empty() ? "" : ", ") + n;
  return fail("policy \"{}\": not found in {} nor built in ({})", arg, fmt::join(policy_dirs(), ", "), names);
}

policy::HostFacts host_facts(const model::Config& cfg) {
  policy::HostFacts f;
  for (auto t : {NamespaceType::pid, NamespaceType::network, NamespaceType::ipc, NamespaceType::uts}) {
    for (const char* who : {"1", "self"}) {
      if (auto id = ns_id(fmt::format("/proc/{}/ns/{}", who, model::ns_proc_name(t))))
        f.host_namespaces.push_back({t, *id});
    }
  }
  for (const auto& n : cfg.linux.namespaces) {
    if (n.path.empty()) continue;
    if (auto id = ns_id(n.path)) f.namespace_paths[n.path] = *id;
  }
  for (const auto& m : cfg.mounts) {
    if (m.source.empty() || m.source[0] != '/') continue;
    if (char* r = ::realpath(m.source.c_str(), nullptr)) {
      f.real_paths[m.source] = r;
      ::free(r);
    }
  }
  f.apparmor = security::apparmor_enabled();
  return f;
}

Result<std::optional<nlohmann::json>> policy_create(const Global& g, model::Config& cfg) {
  if (g.policy.empty()) return std::optional<nlohmann::json>{};
  auto p = g.loaded_policy ? Result<policy::Policy>(*g.loaded_policy) : load_policy(g.policy);
  if (!p) return std::unexpected(p.error());
  auto v = judge(*p, cfg, "the container", &g);
  if (!v) return std::unexpected(v.error());
  return std::optional<nlohmann::json>(
      nlohmann::json{{"policy", policy::to_json(*p)}, {"verdict", v->to_json()}});
}

Result<> policy_save(const std::string& state_dir, const std::optional<nlohmann::json>& record) {
  if (!record) return {};
  auto r = platform::write_file_atomic(state_dir + "/policy.json", record->dump(), 0600);
  if (!r) return std::unexpected(r.error().context("store policy decision"));
  return {};
}

Result<> policy_exec(const std::string& state_dir, model::Config& cfg, model::Process& proc) {
  std::string path = state_dir + "/policy.json";
  struct stat sb {};
  if (::stat(path.c_str(), &sb) != 0) return {};
  auto text = platform::read_file(path);
  if (!text) return std::unexpected(text.error().context("policy decision"));
  nlohmann::json rec;
  try {
    rec = nlohmann::json::parse(*text);
  } catch (const std::exception& e) {
    return fail("{}: corrupt policy decision: {}", path, e.what());
  }
  auto p = policy::parse_policy(rec.value("policy", nlohmann::json::object()).dump(), path);
  if (!p) return std::unexpected(p.error());
  // The exec'd process is judged as the container's process would be.
  cfg.process = proc;
  auto v = judge(*p, cfg, "exec");
  if (!v) return std::unexpected(v.error().context("exec"));
  proc = *cfg.process;
  return {};
}

nlohmann::json policy_state(const std::string& state_dir) {
  auto text = platform::read_file(state_dir + "/policy.json");
  if (!text) return nullptr;
  try {
    auto rec = nlohmann::json::parse(*text);
    return rec.value("verdict", nlohmann::json());
  } catch (const std::exception&) {
    return nullptr;
  }
}

void policy_features(const Global& g, nlohmann::json& features) {
  std::string names;
  for (const auto& n : policy::builtin_names()) names += (names.empty() ? "" : ",") + n;
  features["annotations"]["io.github.ward.policy.builtin"] = names;
  if (g.policy.empty()) return;
  if (auto p = load_policy(g.policy)) {
    features["annotations"]["io.github.ward.policy"] = p->name;
    features["annotations"]["io.github.ward.policy.level"] = policy::level_name(p->level);
    features["annotations"]["io.github.ward.policy.mode"] = policy::mode_name(p->mode);
  } else {
    features["annotations"]["io.github.ward.policy"] = g.policy;
    features["annotations"]["io.github.ward.policy.error"] = p.error().what();
  }
}

}  // namespace ward::lifecycle::detail
