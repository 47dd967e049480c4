#include "rootfs/mountinfo.hpp"

#include <algorithm>

namespace ward::rootfs {

namespace {

std::string unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '3') {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t i = 0;
  for (;;) {
    size_t j = s.find(sep, i);
    out.push_back(s.substr(i, j == std::string_view::npos ? std::string_view::npos : j - i));
    if (j == std::string_view::npos) break;
    i = j + 1;
  }
  return out;
}

bool path_has_prefix(std::string_view path, std::string_view prefix) {
  if (prefix == "/") return path.starts_with('/');
  return path.starts_with(prefix) && (path.size() == prefix.size() || path[prefix.size()] == '/');
}

}  // namespace

std::vector<MountInfo> parse_mountinfo(std::string_view text) {
  std::vector<MountInfo> out;
  for (auto line : split(text, '\n')) {
    if (line.empty()) continue;
    std::vector<std::string_view> f;
    for (auto w : split(line, ' '))
      if (!w.empty()) f.push_back(w);
    // id parent maj:min root mountpoint options [optional...] - fstype source super
    auto dash = std::find(f.begin(), f.end(), std::string_view("-"));
    if (f.size() < 6 || dash == f.end() || f.end() - dash < 3) continue;
    MountInfo m;
    m.root = unescape(f[3]);
    m.mountpoint = unescape(f[4]);
    m.fstype = unescape(dash[1]);
    m.source = unescape(dash[2]);
    if (f.end() - dash >= 4) m.super_options = unescape(dash[3]);
    out.push_back(std::move(m));
  }
  return out;
}

std::vector<CgroupLine> parse_proc_cgroup(std::string_view text) {
  std::vector<CgroupLine> out;
  for (auto line : split(text, '\n')) {
    size_t a = line.find(':');
    if (a == std::string_view::npos) continue;
    size_t b = line.find(':', a + 1);
    if (b == std::string_view::npos) continue;
    out.push_back({std::string(line.substr(0, a)), std::string(line.substr(a + 1, b - a - 1)),
                   std::string(line.substr(b + 1))});
  }
  return out;
}

const MountInfo* containing_mount(const std::vector<MountInfo>& mounts, std::string_view path) {
  const MountInfo* best = nullptr;
  // Later lines are mounted on top of earlier ones at the same point.
  for (const auto& m : mounts)
    if (path_has_prefix(path, m.mountpoint) &&
        (!best || m.mountpoint.size() >= best->mountpoint.size()))
      best = &m;
  return best;
}

std::string host_cgroup_dir(const MountInfo& m, const std::vector<CgroupLine>& cgroups) {
  const CgroupLine* line = nullptr;
  if (m.fstype == "cgroup2") {
    for (const auto& c : cgroups)
      if (c.id == "0" && c.controllers.empty()) line = &c;
  } else {
    auto opts = split(m.super_options, ',');
    for (const auto& c : cgroups) {
      if (c.controllers.empty()) continue;
      bool all = true;
      for (auto ctl : split(c.controllers, ','))
        all = all && std::find(opts.begin(), opts.end(), ctl) != opts.end();
      if (all) {
        line = &c;
        break;
      }
    }
  }
  if (!line) return {};
  std::string rel = line->path;
  if (m.root != "/" && path_has_prefix(rel, m.root)) rel = rel.substr(m.root.size());
  if (rel == "/") rel.clear();
  return m.mountpoint + rel;
}

}  // namespace ward::rootfs
