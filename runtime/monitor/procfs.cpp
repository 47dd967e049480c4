// Parsers for what the monitor reads from /proc and state.json. Pure.
#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <sstream>

#include "model/capabilities.hpp"
#include "monitor/monitor.hpp"

namespace ward::monitor {

std::optional<Creds> parse_status(const std::string& text) {
  Creds c;
  bool uid = false, gid = false;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = line.substr(0, colon), val = line.substr(colon + 1);
    std::istringstream v(val);
    if (key == "Name") {
      auto b = val.find_first_not_of(" \t");
      c.name = b == std::string::npos ? "" : val.substr(b);
    } else if (key == "PPid") {
      v >> c.ppid;
    } else if (key == "Uid") {
      uid = static_cast<bool>(v >> c.uid >> c.euid);
    } else if (key == "Gid") {
      gid = static_cast<bool>(v >> c.gid >> c.egid);
    } else if (key == "CapEff") {
      std::string hex;
      v >> hex;
      c.cap_eff = std::strtoull(hex.c_str(), nullptr, 16);
    }
  }
  if (!uid || !gid) return std::nullopt;
  return c;
}

std::vector<std::string> parse_proc_cgroup(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    auto a = line.find(':');
    if (a == std::string::npos) continue;
    auto b = line.find(':', a + 1);
    if (b == std::string::npos) continue;
    std::string p = line.substr(b + 1);
    if (!p.empty() && std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
  }
  return out;
}

std::vector<std::string> container_cgroup_paths(const nlohmann::json& cg) {
  std::vector<std::string> out;
  auto add = [&](const std::string& dir, const std::string& mount) {
    if (dir.empty() || mount.empty() || !dir.starts_with(mount)) return;
    // The root of a hierarchy holds every host process: never a container's.
    if (dir.size() <= mount.size() + 1 || dir[mount.size()] != '/') return;
    std::string rel(dir, mount.size());
    if (std::find(out.begin(), out.end(), rel) == out.end()) out.push_back(rel);
  };
  if (!cg.is_object()) return out;
  try {
    if (cg.contains("v1_dirs") && cg["v1_dirs"].is_object() && cg.contains("v1_mounts")) {
      for (auto it = cg["v1_dirs"].begin(); it != cg["v1_dirs"].end(); ++it) {
        auto m = cg["v1_mounts"].find(it.key());
        if (m != cg["v1_mounts"].end() && it->is_string() && m->is_string())
          add(it->get<std::string>(), m->get<std::string>());
      }
    }
    if (cg.contains("unified_dir") && cg["unified_dir"].is_string() && cg.contains("unified_path") &&
        cg["unified_path"].is_string())
      add(cg["unified_dir"].get<std::string>(), cg["unified_path"].get<std::string>());
  } catch (const std::exception&) {
  }
  return out;
}

std::string cap_names(uint64_t mask) {
  std::string out;
  for (int b = 0; b < 64; ++b) {
    if (!(mask & (1ull << b))) continue;
    if (!out.empty()) out.push_back(',');
    auto n = model::capability_name(b);
    out += n.empty() ? std::to_string(b) : std::string(n);
  }
  return out;
}

uint64_t cap_mask(const std::vector<std::string>& names) {
  uint64_t m = 0;
  for (const auto& n : names)
    if (auto v = model::capability_from_name(n)) m |= 1ull << *v;
  return m;
}

int64_t parse_rfc3339_ns(const std::string& t) {
  // 2026-01-02T03:04:05[.fraction]Z (UTC, as ward writes it).
  struct tm tm{};
  const char* rest = ::strptime(t.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!rest) return 0;
  int64_t ns = 0;
  if (*rest == '.') {
    ++rest;
    int digits = 0;
    while (*rest >= '0' && *rest <= '9') {
      if (digits < 9) {
        ns = ns * 10 + (*rest - '0');
        ++digits;
      }
      ++rest;
    }
    while (digits++ < 9) ns *= 10;
  }
  if (*rest != 'Z') return 0;
  return static_cast<int64_t>(::timegm(&tm)) * 1000000000 + ns;
}

}  // namespace ward::monitor
